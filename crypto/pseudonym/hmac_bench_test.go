package pseudonym

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding"
	"hash"
	"sync"
	"testing"

	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/prf"
)

// BenchmarkHMAC compares ways of computing one HMAC-SHA256 over a youth's
// input, to show why the Pseudonymiser computes it the way it does:
//
//   - tink: Tink's PRF set, ComputePRF (what New used before);
//   - new-per-call: hmac.New for every call (allocates, pads the key each time);
//   - pool: as the Pseudonymiser does, a pool of clones of an HMAC with its
//     states precomputed (newHMAC), reset after use;
//   - states: HMAC by hand from two SHA-256 states restored with
//     encoding.BinaryUnmarshaler.
//
// pool and states cost the same (two SHA-256 compressions); pool is used
// because it leaves HMAC to crypto/hmac.
func BenchmarkHMAC(b *testing.B) {
	h, err := keyset.NewHandle(prf.HMACSHA256PRFKeyTemplate())
	if err != nil {
		b.Fatal(err)
	}
	e, _ := h.Primary()
	raw, err := hmacSHA256Key(e)
	if err != nil {
		b.Fatal(err)
	}
	in := []byte("vindex:v1:youth-bsn:111222333")
	ref := hmac.New(sha256.New, raw)
	ref.Write(in)
	want := ref.Sum(nil)
	out := new([Size]byte)
	done := func(b *testing.B) {
		if !bytes.Equal(out[:], want) {
			b.Fatal("wrong HMAC")
		}
	}

	b.Run("tink", func(b *testing.B) {
		set, err := prf.NewPRFSet(h)
		if err != nil {
			b.Fatal(err)
		}
		p := set.PRFs[set.PrimaryID]
		b.ReportAllocs()
		for b.Loop() {
			s, _ := p.ComputePRF(in, Size)
			copy(out[:], s)
		}
		done(b)
	})
	b.Run("new-per-call", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			m := hmac.New(sha256.New, raw)
			m.Write(in)
			m.Sum(out[:0])
		}
		done(b)
	})
	b.Run("pool", func(b *testing.B) {
		template, err := newHMAC(bytes.Clone(raw))
		if err != nil {
			b.Fatal(err)
		}
		pool := sync.Pool{New: func() any { c, _ := template.Clone(); return c }}
		b.ReportAllocs()
		for b.Loop() {
			m := pool.Get().(hash.Hash)
			m.Write(in)
			m.Sum(out[:0])
			m.Reset()
			pool.Put(m)
		}
		done(b)
	})
	b.Run("states", func(b *testing.B) {
		var pad [sha256.BlockSize]byte
		state := func(x byte) []byte {
			for i := range pad {
				pad[i] = x
				if i < len(raw) {
					pad[i] ^= raw[i]
				}
			}
			d := sha256.New()
			d.Write(pad[:])
			s, _ := d.(encoding.BinaryMarshaler).MarshalBinary()
			return s
		}
		inner, outer := state(0x36), state(0x5c)
		type scratch struct {
			in, out hash.Hash
			sum     [Size]byte
		}
		pool := sync.Pool{New: func() any { return &scratch{in: sha256.New(), out: sha256.New()} }}
		b.ReportAllocs()
		for b.Loop() {
			s := pool.Get().(*scratch)
			s.in.(encoding.BinaryUnmarshaler).UnmarshalBinary(inner)
			s.in.Write(in)
			s.in.Sum(s.sum[:0])
			s.out.(encoding.BinaryUnmarshaler).UnmarshalBinary(outer)
			s.out.Write(s.sum[:])
			s.out.Sum(out[:0])
			pool.Put(s)
		}
		done(b)
	})
}
