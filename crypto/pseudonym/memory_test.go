package pseudonym

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/tink-crypto/tink-go/v2/insecuresecretdataaccess"
	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/prf/hmacprf"
	"github.com/tink-crypto/tink-go/v2/secretdata"

	"github.com/vindex-nl/vindex/identity"
)

// What the package doc promises about memory: a Pseudonymiser keeps no copy
// of a key's bytes, nor of the key padded for HMAC, and a pooled scratch
// keeps no input once a computation is done. The test walks everything
// reachable from the Pseudonymiser's templates and from a scratch that went
// through a computation (the standard library's HMAC and SHA-256 state
// included) and looks for any 8 bytes of the key, the padded key or the
// input. A sync.Pool's own storage and closures cannot be walked; the pool
// holds only values of the scratch type walked here.
func TestKeepsNoKeyBytesNorInput(t *testing.T) {
	raw := make([]byte, 32)
	for i := range raw {
		raw[i] = byte(0x80 + 3*i) // no zeros, no window of it in a SHA-256 constant
	}
	params, err := hmacprf.NewParameters(len(raw), hmacprf.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	k, err := hmacprf.NewKey(secretdata.NewBytesFromData(raw, insecuresecretdataaccess.Token{}), params)
	if err != nil {
		t.Fatal(err)
	}
	m := keyset.NewManager()
	id, err := m.AddKey(k)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.SetPrimary(id); err != nil {
		t.Fatal(err)
	}
	h, err := m.Handle()
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(h)
	if err != nil {
		t.Fatal(err)
	}
	bsn, err := identity.ParseBSN("111222333")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Youth(bsn); err != nil {
		t.Fatal(err)
	}

	secrets := map[string][]byte{"key": raw, "input": []byte("youth-bsn:111222333")}
	for name, x := range map[string]byte{"key xor ipad": 0x36, "key xor opad": 0x5c} {
		padded := bytes.Clone(raw)
		for i := range padded {
			padded[i] ^= x
		}
		secrets[name] = padded
	}
	s := p.pool.Get().(*scratch)
	defer p.pool.Put(s)
	var found []string
	w := walker{seen: map[uintptr]bool{}, visit: func(b []byte) {
		for name, secret := range secrets {
			for i := 0; i+8 <= len(secret); i++ {
				if bytes.Contains(b, secret[i:i+8]) {
					found = append(found, name)
					return
				}
			}
		}
	}}
	w.walk(reflect.ValueOf(p.macs))
	w.walk(reflect.ValueOf(s))
	if len(found) > 0 {
		t.Fatalf("the Pseudonymiser's memory holds: %v", found)
	}
	if w.bytes < 2*32 {
		t.Fatalf("walked only %d bytes: the walk does not reach the HMAC states", w.bytes)
	}

	// The walk finds what it looks for: a scratch still holding its input.
	s.in = append(s.in[:0], "vindex:v1:youth-bsn:111222333"...)
	w.walk(reflect.ValueOf(s.in))
	clear(s.in)
	if len(found) != 1 || found[0] != "input" {
		t.Fatalf("the walk did not find a planted input: %v", found)
	}
}

// walker visits every byte array and byte slice reachable from a value,
// unexported fields included.
type walker struct {
	seen  map[uintptr]bool
	visit func([]byte)
	bytes int
}

func (w *walker) walk(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() || w.seen[v.Pointer()] {
			return
		}
		w.seen[v.Pointer()] = true
		w.walk(v.Elem())
	case reflect.Interface:
		if !v.IsNil() {
			w.walk(v.Elem())
		}
	case reflect.Struct:
		for i := range v.NumField() {
			w.walk(v.Field(i))
		}
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			b := make([]byte, v.Len())
			for i := range b {
				b[i] = byte(v.Index(i).Uint())
			}
			if v.Kind() == reflect.Slice {
				// Bytes beyond the length are kept too.
				full := v.Slice3(0, v.Cap(), v.Cap())
				b = make([]byte, full.Len())
				for i := range b {
					b[i] = byte(full.Index(i).Uint())
				}
			}
			w.bytes += len(b)
			w.visit(b)
			return
		}
		for i := range v.Len() {
			w.walk(v.Index(i))
		}
	}
}
