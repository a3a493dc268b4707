package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vindex-nl/vindex/examples"
	"github.com/vindex-nl/vindex/notify"
	"github.com/vindex-nl/vindex/rules"
)

// The token file of vindex bench and the webhooks file: comments and blank
// lines skipped, each bad line reported with the file and line number.
func TestLineFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	toks, err := readTokens(write("tokens.txt", "# comment\n\nwij-groningen vx_a\ntoken ggd-groningen vx_b\n"))
	if err != nil || len(toks) != 2 || toks["wij-groningen"] != "vx_a" || toks["ggd-groningen"] != "vx_b" {
		t.Fatalf("tokens: %v %v", toks, err)
	}
	if _, err := readTokens(write("bad-tokens.txt", "# comment\nwij-groningen\n")); err == nil || !strings.Contains(err.Error(), "bad-tokens.txt:2:") {
		t.Fatalf("a bad token line: %v", err)
	}

	cov, err := rules.Load(bytes.NewReader(examples.CovenantGroningen), "covenant.yaml")
	if err != nil {
		t.Fatal(err)
	}
	secret := notify.NewWebhookSecret().Text()
	hooks := func(body string) (map[string]*notify.Hook, error) {
		return loadWebhooks(config{Webhooks: write("hooks.txt", body)}, cov)
	}
	got, err := hooks("# institution URL secret\n\nwij-groningen https://client.example/vx " + secret + "\n")
	if err != nil || len(got) != 1 || got["wij-groningen"] == nil {
		t.Fatalf("webhooks: %v %v", got, err)
	}
	for body, want := range map[string]string{
		"\nwij-groningen https://client.example/vx\n":                                                        "hooks.txt:2: want institution-id URL",
		"nobody https://client.example/vx " + secret + "\n":                                                  `hooks.txt:1: "nobody" is not an institution`,
		"wij-groningen http://client.example/vx " + secret + "\n":                                            "hooks.txt:1: notify: a webhook URL must be https://",
		"wij-groningen https://a.example/ " + secret + "\nwij-groningen https://b.example/ " + secret + "\n": "hooks.txt:2: a second webhook for wij-groningen",
	} {
		if _, err := hooks(body); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", body, err, want)
		}
	}
}
