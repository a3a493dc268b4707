package audit_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/audit"
)

// FuzzEntry: decoding never panics, and what decodes re-encodes to the
// same bytes (the encoding is canonical).
func FuzzEntry(f *testing.F) {
	f.Add(mustMarshal(f, sampleEntry(1)))
	f.Add(mustMarshal(f, audit.Entry{At: time.Unix(0, 1), Institution: "operator", Verb: audit.KeyInit, Outcome: "ok"}))
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := audit.UnmarshalEntry(b)
		if err != nil {
			return
		}
		again, err := audit.MarshalEntry(e)
		if err != nil {
			t.Fatalf("decoded entry does not encode: %v", err)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("re-encoding differs:\n%x\n%x", again, b)
		}
	})
}
