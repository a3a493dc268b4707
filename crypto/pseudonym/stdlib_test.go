package pseudonym_test

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/insecuresecretdataaccess"
	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/mac"
	"github.com/tink-crypto/tink-go/v2/prf"
	"github.com/tink-crypto/tink-go/v2/prf/hmacprf"
	tinkpb "github.com/tink-crypto/tink-go/v2/proto/tink_go_proto"
	"github.com/tink-crypto/tink-go/v2/secretdata"

	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/identity"
)

// rotatedKeyset is a keyset after rotations, as crypto/keys makes them: the
// first key generated is no longer primary, a later one is, one is disabled
// (never computed), and there are keys of 16 bytes (Tink's minimum) and of
// 100 bytes (longer than SHA-256's block, so HMAC hashes it first).
func rotatedKeyset(t testing.TB) (h *keyset.Handle, disabled uint32) {
	t.Helper()
	m := keyset.NewManager()
	first, err := m.Add(prf.HMACSHA256PRFKeyTemplate())
	if err != nil {
		t.Fatal(err)
	}
	if err := m.SetPrimary(first); err != nil {
		t.Fatal(err)
	}
	for _, size := range []int{16, 100} {
		params, err := hmacprf.NewParameters(size, hmacprf.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		raw := make([]byte, size)
		for i := range raw {
			raw[i] = byte(rand.Uint32())
		}
		k, err := hmacprf.NewKey(secretdata.NewBytesFromData(raw, insecuresecretdataaccess.Token{}), params)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.AddKey(k); err != nil {
			t.Fatal(err)
		}
	}
	if disabled, err = m.Add(prf.HMACSHA256PRFKeyTemplate()); err != nil {
		t.Fatal(err)
	}
	if err := m.Disable(disabled); err != nil {
		t.Fatal(err)
	}
	primary, err := m.Add(prf.HMACSHA256PRFKeyTemplate())
	if err != nil {
		t.Fatal(err)
	}
	if err := m.SetPrimary(primary); err != nil {
		t.Fatal(err)
	}
	if h, err = m.Handle(); err != nil {
		t.Fatal(err)
	}
	if h.Len() != 5 {
		t.Fatalf("keyset has %d keys", h.Len())
	}
	return h, disabled
}

// randomBSN returns a random BSN that passes the eleven test.
func randomBSN(t testing.TB, r *rand.Rand) identity.BSN {
	t.Helper()
	for {
		var d [9]int
		sum := 0
		for i := range 8 {
			d[i] = r.IntN(10)
			sum += (9 - i) * d[i]
		}
		if d[8] = sum % 11; d[8] == 10 {
			continue
		}
		var s strings.Builder
		for _, x := range d {
			s.WriteByte(byte('0' + x))
		}
		if b, err := identity.ParseBSN(s.String()); err == nil {
			return b
		}
	}
}

// The standard-library computation gives exactly what Tink's PRF gives, for
// every enabled key of a keyset (primary and not), random domains and values
// of every length up to a few SHA-256 blocks, and random BSNs.
func TestMatchesTinkPRF(t *testing.T) {
	rotated, disabled := rotatedKeyset(t)
	for name, h := range map[string]*keyset.Handle{"fixed": testKeyset(t), "rotated": rotated} {
		t.Run(name, func(t *testing.T) {
			ps, err := pseudonym.New(h)
			if err != nil {
				t.Fatal(err)
			}
			tink, err := prf.NewPRFSet(h)
			if err != nil {
				t.Fatal(err)
			}
			if ps.PrimaryKeyID() != tink.PrimaryID {
				t.Fatalf("primary %d, Tink's %d", ps.PrimaryKeyID(), tink.PrimaryID)
			}
			ids := ps.KeyIDs()
			if len(ids) != len(tink.PRFs) {
				t.Fatalf("keys %v, Tink computes %d", ids, len(tink.PRFs))
			}
			if name == "rotated" && (len(ids) != 4 || ids[0] == ids[1]) {
				t.Fatalf("rotated keyset: keys %v", ids)
			}
			check := func(set pseudonym.Set, input []byte) {
				t.Helper()
				if len(set.All) != len(ids) || set.Primary != set.All[0] {
					t.Fatalf("set of %d, want %d, primary first", len(set.All), len(ids))
				}
				for i, p := range set.All {
					if p.KeyID != ids[i] || p.KeyID == disabled {
						t.Fatalf("pseudonym %d under key %d, want key %d", i, p.KeyID, ids[i])
					}
					want, err := tink.PRFs[p.KeyID].ComputePRF(input, pseudonym.Size)
					if err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(p.Sum[:], want) {
						t.Fatalf("key %d, input of %d bytes: differs from Tink's PRF", p.KeyID, len(input))
					}
				}
			}
			r := rand.New(rand.NewPCG(1, uint64(len(name))))
			const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789-"
			for n := range 2000 {
				d := make([]byte, 1+r.IntN(64))
				for i := range d {
					d[i] = alphabet[r.IntN(len(alphabet))]
				}
				value := make([]byte, 1+n%300) // 1 to 300 bytes: inputs span 1 to 6 blocks
				for i := range value {
					value[i] = byte(r.Uint32())
				}
				set, err := ps.Of(pseudonym.Domain(d), value)
				if err != nil {
					t.Fatal(err)
				}
				check(set, []byte("vindex:v1:"+string(d)+":"+string(value)))
			}
			for range 500 {
				bsn := randomBSN(t, r)
				set, err := ps.Youth(bsn)
				if err != nil {
					t.Fatal(err)
				}
				check(set, []byte("vindex:v1:youth-bsn:"+bsn.RevealDigits()))
			}
		})
	}
}

// The pooled HMAC states are safe to share: goroutines computing at once get
// what Tink computes. Run with -race.
func TestConcurrentMatchesTink(t *testing.T) {
	h, _ := rotatedKeyset(t)
	ps, err := pseudonym.New(h)
	if err != nil {
		t.Fatal(err)
	}
	tink, err := prf.NewPRFSet(h)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 7))
			for range 300 {
				bsn := randomBSN(t, r)
				set, err := ps.Youth(bsn)
				if err != nil {
					errs <- err
					return
				}
				for _, p := range set.All {
					want, _ := tink.PRFs[p.KeyID].ComputePRF([]byte("vindex:v1:youth-bsn:"+bsn.RevealDigits()), pseudonym.Size)
					if !bytes.Equal(p.Sum[:], want) {
						errs <- fmt.Errorf("goroutine %d, key %d: differs from Tink's PRF", g, p.KeyID)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// New refuses a keyset with an enabled key that is not an HMAC-SHA256 PRF
// key, including ones whose 32-byte output Tink's PRF set would give (an
// HMAC-SHA512 or HKDF-SHA256 PRF), and an HMAC-SHA256 MAC key; a disabled
// key of another kind is ignored.
func TestRefusesOtherKeys(t *testing.T) {
	withPrimaryHMAC := func(other *tinkpb.KeyTemplate, enabled bool) func() (*keyset.Handle, error) {
		return func() (*keyset.Handle, error) {
			m := keyset.NewManager()
			id, err := m.Add(prf.HMACSHA256PRFKeyTemplate())
			if err != nil {
				return nil, err
			}
			if err := m.SetPrimary(id); err != nil {
				return nil, err
			}
			oid, err := m.Add(other)
			if err != nil {
				return nil, err
			}
			if !enabled {
				if err := m.Disable(oid); err != nil {
					return nil, err
				}
			}
			return m.Handle()
		}
	}
	only := func(kt *tinkpb.KeyTemplate) func() (*keyset.Handle, error) {
		return func() (*keyset.Handle, error) { return keyset.NewHandle(kt) }
	}
	for _, c := range []struct {
		name   string
		handle func() (*keyset.Handle, error)
		ok     bool
	}{
		{"hmac-sha512-prf", only(prf.HMACSHA512PRFKeyTemplate()), false},
		{"hkdf-sha256-prf", only(prf.HKDFSHA256PRFKeyTemplate()), false},
		{"aes-cmac-prf", only(prf.AESCMACPRFKeyTemplate()), false},
		{"hmac-sha256-mac", only(mac.HMACSHA256Tag256KeyTemplate()), false},
		{"aes256-gcm", only(aead.AES256GCMKeyTemplate()), false},
		{"secondary hmac-sha512-prf", withPrimaryHMAC(prf.HMACSHA512PRFKeyTemplate(), true), false},
		{"secondary hkdf-sha256-prf", withPrimaryHMAC(prf.HKDFSHA256PRFKeyTemplate(), true), false},
		{"disabled hmac-sha512-prf", withPrimaryHMAC(prf.HMACSHA512PRFKeyTemplate(), false), true},
		{"hmac-sha256-prf", only(prf.HMACSHA256PRFKeyTemplate()), true},
	} {
		h, err := c.handle()
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		ps, err := pseudonym.New(h)
		if c.ok {
			if err != nil {
				t.Errorf("%s: refused: %v", c.name, err)
			} else if len(ps.KeyIDs()) != 1 {
				t.Errorf("%s: keys %v, want the one enabled HMAC-SHA256 key", c.name, ps.KeyIDs())
			}
			continue
		}
		if !errors.Is(err, pseudonym.ErrKeyType) || ps != nil {
			t.Errorf("%s: New gave %v, want ErrKeyType", c.name, err)
			continue
		}
		if !strings.Contains(err.Error(), "key ") {
			t.Errorf("%s: error %q does not name the key", c.name, err)
		}
	}
}
