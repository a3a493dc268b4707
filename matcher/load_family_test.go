package matcher_test

import (
	"errors"
	"testing"

	"github.com/vindex-nl/vindex/matcher"
	"github.com/vindex-nl/vindex/store/pebblestore"
)

// TestLoadReadsNoChangedFamilyIndex: in a store that holds two siblings
// (reported with their parent over the API), a bulk load's refresh of one
// rewrites its family index entries; another institution's report of the
// other reads the family index by range, which the load cannot answer:
// that report fails with ErrLoadRead (vindex import then says to import
// row by row), where without a load both succeed.
func TestLoadReadsNoChangedFamilyIndex(t *testing.T) {
	for _, load := range []bool{false, true} {
		e := newFamilyEnv(t, nil)
		parent := bsnFor(t, 5000)
		e.reportChild(t, wij, 1, parent)
		e.reportChild(t, wij, 2, parent)
		var l *pebblestore.Loader
		if load {
			var err error
			if l, err = e.store.Load(pebblestore.LoadOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := e.m.Register(ctx, matcher.Actor{Institution: wij}, e.involvement(t, 1)); err != nil {
			t.Fatalf("load=%v: refresh: %v", load, err)
		}
		_, err := e.m.Register(ctx, matcher.Actor{Institution: ggd}, e.involvement(t, 2))
		switch {
		case !load && err != nil:
			t.Fatalf("without a load: %v", err)
		case load && !errors.Is(err, pebblestore.ErrLoadRead):
			t.Fatalf("in a load: %v, want ErrLoadRead", err)
		}
		if l != nil {
			l.Abort()
		}
	}
}
