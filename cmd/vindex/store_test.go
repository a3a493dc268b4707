package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/store"
	"github.com/vindex-nl/vindex/store/storetest"
)

// openStore opens the store as each use says: the commands that write
// reports refuse them below min_free_disk, the operators' tools do not;
// serve's log gets the store's lines; a second open of a store in use
// fails with no store.
func TestOpenStoreUses(t *testing.T) {
	c := defaults(false)
	c.Data = t.TempDir()
	c.MinFreeDisk = 1 << 62 // more than any disk has
	ctx := context.Background()
	y := storetest.Youth(1, 1)
	var serveLog bytes.Buffer
	for _, tc := range []struct {
		name    string
		use     storeUse
		refused bool
	}{
		{"import", importUse, true},
		{"serve", serveUse(newLogger(&serveLog, "info")), true},
		{"tool", toolUse, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := openStore(c, tc.use)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			if again, err := openStore(c, tc.use); err == nil || again != nil {
				t.Fatalf("a second open of a store in use: %v, %v", again, err)
			}
			err = st.Update(ctx, []pseudonym.Pseudonym{y}, func(tx store.Tx) error {
				tx.Append(store.Event{Type: store.EventNoMatch, Recipient: "ggd"})
				return nil
			})
			if refused := errors.Is(err, store.ErrUnavailable); refused != tc.refused || (err != nil && !refused) {
				t.Fatalf("write below min_free_disk: %v, want refused %v", err, tc.refused)
			}
		})
	}
	if !strings.Contains(serveLog.String(), `"component":"pebblestore"`) {
		t.Errorf("the store's log lines did not reach serve's log: %q", serveLog.String())
	}
}
