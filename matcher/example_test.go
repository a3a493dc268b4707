package matcher_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/vindex-nl/vindex/crypto/clientref"
	"github.com/vindex-nl/vindex/crypto/keys"
	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/identity"
	"github.com/vindex-nl/vindex/matcher"
	"github.com/vindex-nl/vindex/rules"
	"github.com/vindex-nl/vindex/store/pebblestore"
)

// Two institutions report the same youth: the second report makes a match,
// and the covenant assigns a coordinator.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "vindex-example")
	defer os.RemoveAll(dir)

	st, err := pebblestore.Open(filepath.Join(dir, "data"), &pebblestore.Options{Logger: quiet()})
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	keyset, _ := keys.Create() // in production: keys.LoadFile with a Vault key-encryption key
	ps, _ := pseudonym.New(keyset)
	refKeyset, _ := keys.CreateRefKeyset() // likewise wrapped, beside the PRF keyset
	refs, _ := clientref.New(refKeyset)
	cov, err := rules.LoadFile(filepath.Join("..", "examples", "covenant-groningen.yaml"))
	if err != nil {
		log.Fatal(err)
	}
	m, err := matcher.New(matcher.Config{Store: st, Pseudonymiser: ps, ClientRefs: refs, Covenant: cov})
	if err != nil {
		log.Fatal(err)
	}

	bsn, _ := identity.ParseBSN("111222333")
	born, _ := identity.ParseBirthDate("2015-09-01")
	// The verbs take a Youth, not a BSN: its pseudonyms, under every key.
	youth, err := m.YouthByBSN(bsn)
	if err != nil {
		log.Fatal(err)
	}

	// A teacher signals a concern.
	res, _ := m.Register(ctx, matcher.Actor{Institution: "school-example-lyceum"}, matcher.Registration{
		Youth: youth, BirthDate: born, Municipality: "GM0014",
		Kind: matcher.Signal, SignalCode: "S01",
		Contact: matcher.Contact{Name: "M. Bakker", Phone: "050 000 0001"},
	})
	fmt.Println("school: matched:", res.Matched)

	// The WIJ-team registers its involvement with the same youth.
	res, _ = m.Register(ctx, matcher.Actor{Institution: "wij-groningen"}, matcher.Registration{
		Youth: youth, BirthDate: born, Municipality: "GM0014",
		Kind:      matcher.Involvement,
		Contact:   matcher.Contact{Name: "A. Jansen", Email: "a.jansen@wij.example"},
		ClientRef: "WIJ-2026-0042", // WIJ's own dossier number: only WIJ sees it
	})
	fmt.Println("wij: matched:", res.Matched, "your reference:", res.ClientRef)
	for _, p := range res.Involved {
		fmt.Printf("also involved: %s, contact %s, %s\n", p.Name, p.Contact.Name, p.Contact.Phone)
	}
	fmt.Println("coordinator:", res.Coordinator.Institution)
	fmt.Println("bsn prints as:", bsn)
	fmt.Println("youth prints as:", youth)
	// Output:
	// school: matched: false
	// wij: matched: true your reference: WIJ-2026-0042
	// also involved: Voorbeeldlyceum Groningen, contact M. Bakker, 050 000 0001
	// coordinator: wij-groningen
	// bsn prints as: BSN(redacted)
	// youth prints as: Youth(redacted)
}
