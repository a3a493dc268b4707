package audit_test

import (
	"fmt"
	"time"

	"github.com/vindex-nl/vindex/audit"
)

// The life of the log: the service appends each entry and stores it with
// the root after it (and the tree's state) in the write it records, signs
// checkpoints now and then, and an auditor verifies the whole log against
// them and checks one entry by its inclusion proof.
func Example() {
	s, _ := audit.NewSigner(logSkey) // the key is kept wrapped; unwrapped only here
	var (
		tree    audit.Tree
		records []audit.Record
	)
	for i, verb := range []audit.Verb{audit.Register, audit.Lookup, audit.Lookup, audit.End} {
		e := audit.Entry{
			At:          time.Date(2026, 12, 1, 9, 0, i, 0, time.UTC),
			Institution: "school-noord",
			Credential:  "sha256:0123",
			Verb:        verb,
			Outcome:     "ok",
		}
		rec, state, err := tree.Add(e) // rec and state go into the write the entry records
		if err != nil {
			panic(err)
		}
		_ = state
		records = append(records, rec)
	}
	text, _ := s.SignCheckpoint(tree.Size(), tree.Root())

	// The auditor: the log's verifier key, the checkpoint, the records.
	v, _ := audit.NewVerifier(logVkey)
	cp, err := audit.ParseCheckpoint(text, origin, v)
	fmt.Println("checkpoint:", cp.Size, err)
	fmt.Println("verify:", audit.Verify(seq(records), []audit.Checkpoint{cp}))

	records[1].Entry[9] = byte(audit.Refresh) // a lookup rewritten as a refresh
	fmt.Println("verify:", audit.Verify(seq(records), []audit.Checkpoint{cp}))
	// Output:
	// checkpoint: 4 <nil>
	// verify: <nil>
	// verify: audit: entry 1 altered (changed or inserted, or entries removed or reordered from there on)
}
