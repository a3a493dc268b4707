package matcher_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/matcher"
	"github.com/vindex-nl/vindex/store"
)

// BenchmarkHotYouth: the operations of finding 3 of the hardening review
// on a youth with an ended history of 0 or 20,000 registrations (written
// into the store directly, as years of reports and ends would leave them):
// a lookup by an institution not involved, and a refresh by one that is.
// Their cost must not grow with the history: compare the sub-benchmarks
// (benchstat -col /history).
func BenchmarkHotYouth(b *testing.B) {
	for _, history := range []int{0, 20000} {
		b.Run(fmt.Sprintf("history=%d", history), func(b *testing.B) {
			e := benchEnv(b)
			r := e.involvement(b, 1)
			e.register(b, wij, r)
			addHistory(b, e, 1, history)
			b.Run("op=uninvolved-lookup", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := e.m.Lookup(ctx, matcher.Actor{Institution: school}, r.Youth); !errors.Is(err, matcher.ErrNotInvolved) {
						b.Fatal(err)
					}
				}
			})
			b.Run("op=refresh", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					e.register(b, wij, r)
				}
			})
		})
	}
}

// addHistory stores n ended registrations of youth k by the GGD.
func addHistory(b *testing.B, e *env, k, n int) {
	b.Helper()
	set, err := e.ps.Youth(bsnFor(b, k))
	if err != nil {
		b.Fatal(err)
	}
	const batch = 1000
	for done := 0; done < n; done += batch {
		err := e.store.Update(ctx, set.All, func(tx store.Tx) error {
			for i := done; i < min(done+batch, n); i++ {
				at := start.Add(-time.Duration(n-i) * time.Minute)
				tx.Put(store.Registration{
					ID: store.NewID(), Youth: set.Primary, Institution: ggd, Kind: store.KindInvolvement,
					Municipality: "GM0014", Contact: store.Contact{Name: "A. Jansen", Phone: "+31 50 000 0000", Email: "prof@example.org"},
					CreatedAt: at, UpdatedAt: at, EndsOn: start.AddDate(2, 0, 0),
					EndedAt: at.Add(time.Second), EndReason: store.EndedByInstitution, PurgeOn: start.AddDate(5, 0, 0),
				})
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}
