package pebblestore

import (
	"bytes"
	"cmp"
	"testing"

	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/store"
)

// FuzzKeys: the store's key encodings round-trip, keep their order (the
// expiry index by day, then youth, then ID; an outbox by sequence number
// within one recipient), and never let one recipient's outbox run into
// another's.
func FuzzKeys(f *testing.F) {
	f.Add(uint32(20000), uint32(20001), []byte("a"), []byte("b"), uint64(1), uint64(2), "ggd", "ggd-groningen", "k1")
	f.Add(uint32(0), uint32(0), []byte{}, []byte{0xff}, uint64(0), ^uint64(0), "", "a", "")
	f.Add(^uint32(0), uint32(7), bytes.Repeat([]byte{1}, 40), []byte{1}, uint64(1<<40), uint64(255), "x\x00y", "x", "\xff")
	f.Fuzz(func(t *testing.T, day1, day2 uint32, s1, s2 []byte, seq1, seq2 uint64, inst1, inst2, idem string) {
		var p1, p2 pseudonym.Pseudonym
		copy(p1.Sum[:], s1)
		copy(p2.Sum[:], s2)
		p1.KeyID, p2.KeyID = day1%3, day2%3
		var id1, id2 store.ID
		copy(id1[:], s2)
		copy(id2[:], s1)

		// Day index: round trip and order.
		k1, k2 := dayIndexKey(prefixExpiry, day1, p1, id1), dayIndexKey(prefixExpiry, day2, p2, id2)
		d, p, id, ok := parseDayIndexKey(k1)
		if !ok || d != day1 || p != p1 || id != id1 {
			t.Fatalf("day index round trip: %d %v %v %v", d, p, id, ok)
		}
		want := cmp.Or(cmp.Compare(day1, day2), cmp.Compare(p1.KeyID, p2.KeyID), bytes.Compare(p1.Sum[:], p2.Sum[:]), bytes.Compare(id1[:], id2[:]))
		if got := bytes.Compare(k1, k2); got != want {
			t.Fatalf("day index order %d, want %d", got, want)
		}

		// Outbox: round trip, order within a recipient, no interleaving.
		r1, r2 := recipientKey(inst1, seq1), recipientKey(inst1, seq2)
		prefix, seq, ok := splitRecipientKey(r1)
		if !ok || seq != seq1 || !bytes.Equal(prefix, recipientPrefix(inst1)) {
			t.Fatalf("recipient key round trip: %x %d %v", prefix, seq, ok)
		}
		if got := bytes.Compare(r1, r2); got != cmp.Compare(seq1, seq2) {
			t.Fatalf("outbox order %d for %d, %d", got, seq1, seq2)
		}
		if inst1 != inst2 {
			lo, hi := recipientPrefix(inst2), prefixEnd(recipientPrefix(inst2))
			if bytes.Compare(r1, lo) >= 0 && (hi == nil || bytes.Compare(r1, hi) < 0) {
				t.Fatalf("%q's event falls in %q's outbox", inst1, inst2)
			}
		}

		// Idempotency indexes: round trip, for a record under a hash and
		// for one an older store keeps under the key in the clear.
		old := appendLenString(appendLenString([]byte{prefixIdempotency}, inst1), idem)
		for _, ik := range [][]byte{idempotencyKey(p1), old} {
			dd, back, ok := splitIdemDayKey(idemDayKey(day1, ik))
			if !ok || dd != day1 || !bytes.Equal(back, ik) {
				t.Fatalf("idempotency day index round trip: %d %x %v", dd, back, ok)
			}
			back, ok = splitIdemRegKey(idemRegKey(id1, ik))
			if !ok || !bytes.Equal(back, ik) || !bytes.HasPrefix(idemRegKey(id1, ik), idemRegPrefix(id1)) {
				t.Fatalf("idempotency registration index round trip: %x %v", back, ok)
			}
		}
		if p1 != p2 && bytes.Equal(idempotencyKey(p1), idempotencyKey(p2)) {
			t.Fatal("two hashes share an idempotency record")
		}
	})
}
