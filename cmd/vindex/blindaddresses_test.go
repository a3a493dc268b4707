package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/crypto/keys"
	"github.com/vindex-nl/vindex/crypto/keys/insecurelocalkek"
	"github.com/vindex-nl/vindex/crypto/oprf"
	"github.com/vindex-nl/vindex/examples"
	"github.com/vindex-nl/vindex/identity"
	"github.com/vindex-nl/vindex/internal/testkeys"
	"github.com/vindex-nl/vindex/keyholder"
	"github.com/vindex-nl/vindex/matcher"
	"github.com/vindex-nl/vindex/store"
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
// layer ID; covenant check counts them; the index starts with them. The
// matcher the import opens on the deployment (its keysets, its store, the
// covenant and the file) makes no family match for two children reported
// at an excluded address by two institutions, and one for two at another
// address. A list of another length than the covenant's warns in covenant
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
		"wij-groningen,"+ys[0]+",2013-04,GM0014,involvement,A,050-1\n")
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
	p := start(t, dir, serveArgs...)
	p.stop(t)

	// The import's matcher on the deployment: two children at the
	// shelter, reported by two institutions, make no family match; two at
	// a home address do.
	c, _, err := loadConfig("import", importUsage, []string{"--dev", "--data", filepath.Join(dir, "d"), "--covenant", cov}, nil)
	if err != nil {
		t.Fatal(err)
	}
	imp, err := openImport(c, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	b, err := kh.kf.blinder()
	if err != nil {
		t.Fatal(err)
	}
	addrEls, err := b.InputElements(context.Background(), oprf.AddressInput(shelter), oprf.AddressInput(home))
	if err != nil {
		t.Fatal(err)
	}
	youths := kh.elementsOf(t, []string{validBSN(t, 11), validBSN(t, 12), validBSN(t, 13), validBSN(t, 14)})
	for i, r := range []struct {
		inst string
		addr oprf.Element
	}{{"school-example-lyceum", addrEls[0]}, {"wij-groningen", addrEls[0]}, {"school-example-lyceum", addrEls[1]}, {"wij-groningen", addrEls[1]}} {
		var y oprf.Element
		if err := y.UnmarshalText([]byte(youths[i])); err != nil {
			t.Fatal(err)
		}
		who, err := imp.m.YouthByElement(y)
		if err != nil {
			t.Fatal(err)
		}
		reg := matcher.Registration{Youth: who, BornIn: time.Date(2013, 4, 1, 0, 0, 0, 0, time.UTC), Municipality: "GM0014",
			Kind: matcher.Involvement, Contact: matcher.Contact{Name: "A. Jansen", Phone: "050-1234567"}, AddressElement: r.addr}
		if r.inst == "school-example-lyceum" {
			reg.Kind, reg.SignalCode = matcher.Signal, "S01"
		}
		if _, err := imp.m.Register(context.Background(), matcher.Actor{Institution: r.inst}, reg); err != nil {
			t.Fatalf("report %d: %v", i, err)
		}
		family := 0
		for _, e := range eventsOf(t, imp.st) {
			if e.Type == store.EventFamilyMatch {
				family++
			}
		}
		// The second report at the shelter makes none; the second at
		// home tells both institutions.
		if want := map[int]int{0: 0, 1: 0, 2: 0, 3: 2}[i]; family != want {
			t.Fatalf("after report %d: %d family-match events, want %d", i, family, want)
		}
	}
	if err := imp.st.Close(); err != nil {
		t.Fatal(err)
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

// eventsOf reads every event of st.
func eventsOf(t *testing.T, st backend) []store.Event {
	t.Helper()
	evs, err := st.Events(context.Background(), "", 0, 100000)
	if err != nil {
		t.Fatal(err)
	}
	return evs
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
