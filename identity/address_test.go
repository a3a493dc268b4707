package identity_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/vindex-nl/vindex/identity"
)

func TestParseAddress(t *testing.T) {
	tests := []struct {
		postcode string
		number   int
		addition string
		want     string
		err      error
	}{
		{"1234AB", 12, "", "1234AB:12:", nil},
		{"1234 ab", 12, "a", "1234AB:12:A", nil},
		{" 9999zz ", 99999, "-bis", "9999ZZ:99999:BIS", nil},
		{"1234AB", 1, "2h", "1234AB:1:2H", nil},
		{"0234AB", 12, "", "", identity.ErrPostcode},
		{"1234A", 12, "", "", identity.ErrPostcode},
		{"1234ABC", 12, "", "", identity.ErrPostcode},
		{"12 34AB", 12, "", "", identity.ErrPostcode},
		{"1234  AB", 12, "", "", identity.ErrPostcode},
		{"12345B", 12, "", "", identity.ErrPostcode},
		{"1234Å", 12, "", "", identity.ErrPostcode},
		{"", 12, "", "", identity.ErrPostcode},
		{"1234AB", 0, "", "", identity.ErrHouseNumber},
		{"1234AB", 100000, "", "", identity.ErrHouseNumber},
		{"1234AB", -3, "", "", identity.ErrHouseNumber},
		{"1234AB", 12, "abcde", "", identity.ErrHouseAddition},
		{"1234AB", 12, "a b", "", identity.ErrHouseAddition},
		{"1234AB", 12, "a/1", "", identity.ErrHouseAddition},
	}
	for _, tt := range tests {
		a, err := identity.ParseAddress(tt.postcode, tt.number, tt.addition)
		if !errors.Is(err, tt.err) {
			t.Errorf("ParseAddress(%q, %d, %q): error %v, want %v", tt.postcode, tt.number, tt.addition, err, tt.err)
			continue
		}
		if got := a.RevealKey(); got != tt.want {
			t.Errorf("ParseAddress(%q, %d, %q) = %q, want %q", tt.postcode, tt.number, tt.addition, got, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), tt.postcode) && tt.postcode != "" {
			t.Errorf("error %q quotes its input", err)
		}
	}
}

func TestParseAddressLine(t *testing.T) {
	tests := []struct {
		in, want string
		err      error
	}{
		{"1234 AB 12", "1234AB:12:", nil},
		{"1234AB 12 a", "1234AB:12:A", nil},
		{"1234 ab 12-A", "1234AB:12:A", nil},
		{"\t1234ab   7  ", "1234AB:7:", nil},
		{"1234 AB", "", identity.ErrAddressLine},
		{"1234 AB 12 A B", "", identity.ErrAddressLine},
		{"1234 AB 12-A B", "", identity.ErrAddressLine},
		{"1234 AB twelve", "", identity.ErrHouseNumber},
		{"1234 AB +12", "", identity.ErrHouseNumber},
		{"1234 AB 12-", "", identity.ErrHouseAddition},
		{"1234 A 12", "", identity.ErrPostcode},
	}
	for _, tt := range tests {
		a, err := identity.ParseAddressLine(tt.in)
		if !errors.Is(err, tt.err) {
			t.Errorf("ParseAddressLine(%q): error %v, want %v", tt.in, err, tt.err)
			continue
		}
		if got := a.RevealKey(); got != tt.want {
			t.Errorf("ParseAddressLine(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	// The same address however written is one value.
	a, _ := identity.ParseAddressLine("1234 ab 12-a")
	b, _ := identity.ParseAddress("1234AB", 12, "A")
	if a != b {
		t.Error("one address written two ways gives two values")
	}
}

func TestAddressRedaction(t *testing.T) {
	a, err := identity.ParseAddress("8437XQ", 97531, "C")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
		out = append(out, fmt.Sprintf(verb, a), fmt.Sprintf(verb, struct{ A identity.Address }{a}))
	}
	out = append(out, a.String(), a.GoString())
	j, _ := json.Marshal(struct{ A identity.Address }{a})
	txt, _ := a.MarshalText()
	out = append(out, string(j), string(txt))
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}})).Info("x", "address", a)
	out = append(out, buf.String())
	for _, s := range out {
		for _, leak := range []string{"8437", "XQ", "97531", "xq"} {
			if strings.Contains(s, leak) {
				t.Errorf("%q shows %q of the address", s, leak)
			}
		}
	}
	if pc, n, add := a.RevealParts(); pc != "8437XQ" || n != 97531 || add != "C" {
		t.Errorf("RevealParts = %q %d %q", pc, n, add)
	}
	if a.IsZero() || !(identity.Address{}).IsZero() {
		t.Error("IsZero")
	}
}

// FuzzParseAddressLine: any line parses or fails with one of the package's
// sentinel errors (whose fixed text quotes nothing); what parses is normalised (one value however
// it was written) and parses again to itself from its parts.
func FuzzParseAddressLine(f *testing.F) {
	for _, s := range []string{"1234 AB 12", "1234ab 12-a", "9712 CP 3 BIS", "0123 AB 1", "1234 AB", "1234 AB 0", "1234 AB 12-", "١٢٣٤ AB 1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := identity.ParseAddressLine(s)
		if err != nil {
			// One of the sentinels itself: its fixed text quotes nothing.
			known := false
			for _, e := range []error{identity.ErrAddressLine, identity.ErrPostcode, identity.ErrHouseNumber, identity.ErrHouseAddition} {
				known = known || err == e
			}
			if !known {
				t.Fatalf("ParseAddressLine(%q): error %v is not one of the package's sentinels", s, err)
			}
			return
		}
		pc, n, add := a.RevealParts()
		if len(pc) != 6 || pc != strings.ToUpper(pc) || n < 1 || n > identity.MaxHouseNumber || len(add) > 4 || add != strings.ToUpper(add) {
			t.Fatalf("ParseAddressLine(%q) = %q %d %q: not normalised", s, pc, n, add)
		}
		again, err := identity.ParseAddress(strings.ToLower(pc[:4]+" "+pc[4:]), n, strings.ToLower(add))
		if err != nil || again != a {
			t.Fatalf("ParseAddressLine(%q): its parts give %v, %v", s, again.RevealKey(), err)
		}
	})
}
