package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	vclient "github.com/vindex-nl/vindex/client"
	"github.com/vindex-nl/vindex/crypto/keys"
	"github.com/vindex-nl/vindex/crypto/keys/insecurelocalkek"
	"github.com/vindex-nl/vindex/crypto/oprf"
	"github.com/vindex-nl/vindex/examples"
	"github.com/vindex-nl/vindex/identity"
	"github.com/vindex-nl/vindex/internal/testkeys"
	"github.com/vindex-nl/vindex/keyholder"
	"github.com/vindex-nl/vindex/matcher"
)

// familyCovenant writes the example covenant with address matching on,
// excluding the addresses lines (one per line) from excluded.txt, and,
// if elements is not "", naming that file as the addresses' elements.
// It returns the covenant's path.
func familyCovenant(t *testing.T, dir, lines, elements string) string {
	t.Helper()
	family := "family:\n  address_matching: true\n  excluded_addresses: excluded.txt\n"
	if elements != "" {
		family += "  excluded_address_elements: " + elements + "\n"
	}
	text := strings.Replace(string(examples.CovenantGroningen), "family:\n  address_matching: false\n", family, 1)
	if !strings.Contains(text, family) {
		t.Fatal("the example covenant's family section is not as expected")
	}
	writeFile(t, dir, "excluded.txt", lines)
	return writeFile(t, dir, "covenant.yaml", text)
}

// keyholderKey unwraps the key of the `vindex keyholder` in dataDir with
// the development KEK.
func keyholderKey(t *testing.T, dataDir string) *oprf.PrivateKey {
	t.Helper()
	kek, err := insecurelocalkek.Load(filepath.Join(dataDir, "dev-kek.json"), nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := keys.LoadSealed(filepath.Join(dataDir, "keyholder.key"), kek, keys.KeyholderAssociatedData("keyholder"))
	if err != nil {
		t.Fatal(err)
	}
	k, err := oprf.ParsePrivateKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func address(t *testing.T, postcode string, number int, addition string) identity.Address {
	t.Helper()
	a, err := identity.ParseAddress(postcode, number, addition)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestCovenantBlindAddresses: a blind deployment whose covenant excludes
// addresses. Its index does not start without their elements (vindex serve
// and vindex import say what to run and where to name the file); `vindex
// covenant blind-addresses` makes them through a real `vindex keyholder
// serve`, and they are the addresses' elements under the key holder's key
// (crypto/oprf.AddressInput, computed in process with the key unwrapped
// from its data directory), in the order of the exclusion file, under its
// layer ID; covenant check counts them; the index starts with them.
// Reported over HTTPS through the Go SDK with the key holder (the home
// address goes as its element), two children at an excluded address
// reported by two institutions make no family match, and two at another
// address make one, for both institutions; an import starts with the file
// too. A list of another length than the covenant's warns in covenant
// check and stops the index again; an hmac index, which never reads the
// file, starts.
func TestCovenantBlindAddresses(t *testing.T) {
	dir := t.TempDir()
	kh := startBlindHolder(t, dir, "1000")
	defer kh.p.stop(t)
	runCLI(t, dir, "keys", "init", "--dev", "--data", "d", "--create-dev-kek", "--pseudonyms", "blind")
	shelter, institution, home := address(t, "9712CP", 1, ""), address(t, "9712CP", 3, "A"), address(t, "9711AB", 20, "")
	cov := familyCovenant(t, dir, "# shelters\n9712 CP 1\n9712CP 3-a\n", "")
	serveArgs := []string{"serve", "--dev", "--data", "d", "--covenant", cov, "--listen", "127.0.0.1:0"}

	// Without the elements neither serve nor import starts, and both say
	// what to do.
	ys := kh.elementsOf(t, []string{validBSN(t, 1)})
	youthCSV := writeFile(t, dir, "youth.csv", "institution,youth,born_in,municipality,kind,contact_name,contact_phone\n"+
		"wij-groningen,"+ys[0]+",2013-04,GM0014,involvement,A. Jansen,050-1234567\n")
	for name, args := range map[string][]string{"serve": serveArgs, "import": {"import", youthCSV, "--dev", "--data", "d", "--covenant", cov}} {
		msg := failing(t, dir, args...)
		for _, w := range []string{"matcher: the covenant's excluded addresses need their elements in a blind deployment: the covenant lists 2",
			"vindex covenant blind-addresses", "excluded_address_elements: FILE"} {
			if !strings.Contains(msg, w) {
				t.Errorf("%s without the elements: %q does not say %q", name, msg, w)
			}
		}
	}

	// blind-addresses needs a covenant, the key holders and a file to
	// write; a key holder whose proof is not of the key given writes
	// nothing.
	out := filepath.Join(dir, "excluded.elements")
	for _, c := range []struct {
		args []string
		want string
	}{
		{append([]string{"covenant", "blind-addresses", "--out", out}, kh.flags...), "--covenant: the covenant file is required"},
		{[]string{"covenant", "blind-addresses", "--covenant", cov, "--out", out}, "--keyholder: the key holders are required"},
		{append([]string{"covenant", "blind-addresses", "--covenant", cov}, kh.flags...), "--out: the elements file is required"},
		{append([]string{"covenant", "blind-addresses", "--covenant", writeFile(t, dir, "nofamily.yaml", string(examples.CovenantGroningen)), "--out", out}, kh.flags...),
			"excludes no addresses"},
		{append(append([]string{"covenant", "blind-addresses", "--covenant", cov, "--out", out}, kh.flags[:5]...), oprf.GenerateKey().Public().String(), kh.flags[6], kh.flags[7]),
			"does not prove the key of --keyholder-public-key"},
	} {
		if msg := runCLIFail(t, dir, c.args...); !strings.Contains(msg, c.want) {
			t.Errorf("%v: %q does not say %q", c.args[2:], msg, c.want)
		}
	}
	if _, err := os.Stat(out); err == nil {
		t.Fatal("a refused blind-addresses wrote the file")
	}

	// The elements, through the key holder.
	said := runCLI(t, dir, append([]string{"covenant", "blind-addresses", "--covenant", cov, "--out", out}, kh.flags...)...)
	pub := kh.kf.publicKeys[0]
	var pk oprf.PublicKey
	if err := pk.UnmarshalText([]byte(pub)); err != nil {
		t.Fatal(err)
	}
	layer := oprf.LayerID(pk)
	for _, w := range []string{"wrote the elements of the 2 excluded addresses of " + filepath.Join(dir, "excluded.txt") + " to " + out + ", under the key holders' keys " + layer,
		"the covenant does not name this file: add to its family section\n  excluded_address_elements: excluded.elements\n"} {
		if !strings.Contains(said, w) {
			t.Errorf("blind-addresses says\n%s\nnot %q", said, w)
		}
	}
	got, err := matcher.ReadExcludedElements(out)
	if err != nil {
		t.Fatal(err)
	}
	key := keyholderKey(t, filepath.Join(dir, "kh"))
	want := testkeys.InputElements(t, []oprf.Input{oprf.AddressInput(shelter), oprf.AddressInput(institution)}, key)
	if got.Key != layer || len(got.Elements) != 2 || !got.Elements[0].Equal(want[0]) || !got.Elements[1].Equal(want[1]) {
		t.Errorf("the file holds %d elements under %q, want the addresses' two in file order under %q", len(got.Elements), got.Key, layer)
	}
	if b, _ := os.ReadFile(out); strings.Contains(strings.ToUpper(string(b)), "9712") {
		t.Fatalf("the elements file holds an address:\n%s", b)
	}

	// Named in the covenant: covenant check counts the elements, and the
	// index starts; blind-addresses writes the file the covenant names by
	// default, and says nothing of naming it.
	cov = familyCovenant(t, dir, "# shelters\n9712 CP 1\n9712CP 3-a\n", "excluded.elements")
	if said := runCLI(t, dir, append([]string{"covenant", "blind-addresses", "--covenant", cov}, kh.flags...)...); strings.Contains(said, "does not name") ||
		!strings.Contains(said, "to "+out) {
		t.Errorf("blind-addresses to the covenant's file says:\n%s", said)
	}
	checked := runCLI(t, dir, "covenant", "check", cov)
	if w := "  family: 2 excluded-address elements (a blind deployment's) in " + out + ", under the key holders' keys " + layer + "\n"; !strings.Contains(checked, w) ||
		strings.Contains(checked, "warning") {
		t.Errorf("covenant check says\n%s\nnot %q", checked, w)
	}

	// Client systems report through the Go SDK with the key holder: each
	// report carries the youth's element and its home address's, never the
	// address. Two children at the shelter, reported by two institutions,
	// make no family match; two at a home address do, for both.
	p := start(t, dir, serveArgs...)
	b, err := kh.kf.blinder()
	if err != nil {
		t.Fatal(err)
	}
	index := devClient(t, dir, "d", p, "")
	tokens := parseTokens(t, p.stdout.String())
	sdk := func(inst string) *vclient.Client {
		return &vclient.Client{BaseURL: index.base, Token: tokens[inst], HTTP: index.http, Blinder: b}
	}
	school, wij := sdk("school-example-lyceum"), sdk("wij-groningen")
	familyMatches := func(c *vclient.Client) int {
		t.Helper()
		evs, err := c.Events(context.Background(), 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range evs.Events {
			if e.Type == "family-match" {
				if e.Reason != "address" {
					t.Errorf("a family match by %q, want address", e.Reason)
				}
				n++
			}
		}
		return n
	}
	for i, r := range []struct {
		c    *vclient.Client
		addr identity.Address
		want int // family-match events of each institution after the report
	}{{school, shelter, 0}, {wij, shelter, 0}, {school, home, 0}, {wij, home, 1}} {
		bsn, err := identity.ParseBSN(validBSN(t, 11+i))
		if err != nil {
			t.Fatal(err)
		}
		born, _ := identity.ParseBirthDate("2013-04-05")
		rep := vclient.Report{BSN: bsn, BirthDate: born, Municipality: "GM0014", Kind: vclient.Involvement,
			Contact: vclient.Contact{Name: "A. Jansen", Phone: "050-1234567"}, Address: &r.addr}
		if r.c == school {
			rep.Kind, rep.Code = vclient.Signal, "S01"
		}
		if _, err := r.c.Register(context.Background(), rep); err != nil {
			t.Fatalf("report %d: %v", i, err)
		}
		if s, w := familyMatches(school), familyMatches(wij); s != r.want || w != r.want {
			t.Fatalf("after report %d: family-match events %d (school) and %d (WIJ), want %d each", i, s, w, r.want)
		}
	}
	p.stop(t)

	// An import starts with the file too.
	if stdout, stderr, code := runImport(t, dir, youthCSV, "--dev", "--data", "d", "--covenant", cov); code != 0 || !strings.Contains(stdout, "imported 1 registrations") {
		t.Fatalf("import with the elements: exit %d\n%s%s", code, stdout, stderr)
	}

	// A third excluded address without new elements: check warns, and the
	// index does not start.
	cov = familyCovenant(t, dir, "# shelters\n9712 CP 1\n9712CP 3-a\n9711 AB 21\n", "excluded.elements")
	checked = runCLI(t, dir, "covenant", "check", cov)
	if w := "  warning: 2 excluded-address elements for 3 excluded addresses"; !strings.Contains(checked, w) {
		t.Errorf("covenant check says\n%s\nnot %q", checked, w)
	}
	if msg := failing(t, dir, serveArgs...); !strings.Contains(msg, "2 elements for 3 addresses") || strings.Contains(msg, "excluded_address_elements: FILE") {
		t.Errorf("serve with elements of another list: %s", msg)
	}
	// An hmac index pseudonymises the addresses itself and reads no
	// elements: the same covenant starts it.
	runCLI(t, dir, "keys", "init", "--dev", "--data", "h", "--create-dev-kek")
	start(t, dir, "serve", "--dev", "--data", "h", "--covenant", cov, "--listen", "127.0.0.1:0").stop(t)
}

// writeElements writes the elements of addrs under keys, as vindex
// covenant blind-addresses would with those key holders, to file.
func writeElements(t *testing.T, file string, addrs []identity.Address, keys ...*oprf.PrivateKey) {
	t.Helper()
	ins := make([]oprf.Input, len(addrs))
	pubs := make([]oprf.PublicKey, len(keys))
	for i, a := range addrs {
		ins[i] = oprf.AddressInput(a)
	}
	for i, k := range keys {
		pubs[i] = k.Public()
	}
	var b strings.Builder
	if err := matcher.WriteExcludedElements(&b, matcher.ExcludedElements{Key: oprf.LayerID(pubs...), Elements: testkeys.InputElements(t, ins, keys...)}); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Dir(file), filepath.Base(file), b.String())
}

// TestBlindAddressesKeyholderRotation: the excluded addresses' elements
// through a key holder's rotation. While the index takes the rotation
// over, it re-keys elements made under the old key and starts; it refuses
// to end the rotation while the file is of the old key (after the end the
// index would not start), and ends it once the file is made anew under
// the new key; then it starts with the new file and refuses the old one.
func TestBlindAddressesKeyholderRotation(t *testing.T) {
	dir := t.TempDir()
	runCLI(t, dir, "keys", "init", "--dev", "--data", "d", "--create-dev-kek", "--pseudonyms", "blind")
	addrs := []identity.Address{address(t, "9712CP", 1, ""), address(t, "9712CP", 3, "A")}
	cov := familyCovenant(t, dir, "9712 CP 1\n9712CP 3-a\n", "excluded.elements")
	file := filepath.Join(dir, "excluded.elements")
	from, to := oprf.GenerateKey(), oprf.GenerateKey()
	writeElements(t, file, addrs, from)
	dev := []string{"--dev", "--data", "d", "--covenant", cov}
	serveArgs := append([]string{"serve", "--listen", "127.0.0.1:0"}, dev...)
	start(t, dir, serveArgs...).stop(t)

	rot, err := keyholder.NewRotation(from, to)
	if err != nil {
		t.Fatal(err)
	}
	rotFile := filepath.Join(dir, "rotation.json")
	if err := keyholder.WriteRotation(rotFile, rot); err != nil {
		t.Fatal(err)
	}
	runCLI(t, dir, append([]string{"keys", "rotate", "--blind", "--keyholder-rotation", rotFile}, dev...)...)
	p := start(t, dir, serveArgs...) // the old key's elements, re-keyed
	waitRekeyed(t, p)
	p.stop(t)
	finish := append([]string{"keys", "rotate", "--blind", "--finish-keyholder-rotation"}, dev...)
	if msg := runCLIFail(t, dir, finish...); !strings.Contains(msg, "the elements of the covenant's excluded addresses ("+file+") are made under key holder key "+oprf.LayerID(from.Public())) ||
		!strings.Contains(msg, "vindex covenant blind-addresses") {
		t.Fatalf("finish with the old key's elements: %s", msg)
	}
	writeElements(t, file, addrs, to)
	runCLI(t, dir, finish...)
	start(t, dir, serveArgs...).stop(t)
	writeElements(t, file, addrs, from)
	if msg := failing(t, dir, serveArgs...); !strings.Contains(msg, "made under key holders' keys this index does not take ("+oprf.LayerID(from.Public())+")") {
		t.Fatalf("serve with the old key's elements after the rotation: %s", msg)
	}
}
