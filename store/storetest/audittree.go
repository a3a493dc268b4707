package storetest

import (
	"errors"
	"fmt"
	"testing"

	"github.com/vindex-nl/vindex/store"
)

// treeOf returns s as a store.AuditTree, or skips the test.
func treeOf(t *testing.T, s store.Store) store.AuditTree {
	t.Helper()
	at, ok := s.(store.AuditTree)
	if !ok {
		t.Skip("the store keeps no audit tree")
	}
	return at
}

// seal seals entries from+1 to to with made-up roots (root i is {i}), the
// tree state "state-to" and, if cp, a checkpoint.
func seal(from, to uint64, cp bool) store.AuditSeal {
	s := store.AuditSeal{From: from, Tree: fmt.Appendf(nil, "state-%d", to)}
	for i := from + 1; i <= to; i++ {
		s.Roots = append(s.Roots, [32]byte{byte(i)})
	}
	if cp {
		s.Checkpoint = store.AuditCheckpoint{Size: to, At: t0, Text: fmt.Appendf(nil, "checkpoint %d\n", to)}
	}
	return s
}

// testAuditTree: seals continue one another, never past the durable
// entries; roots and checkpoints read back in order, also after a reopen.
func testAuditTree(t *testing.T, open Opener) {
	s := openStore(t, open)
	at := treeOf(t, s)
	if st, err := at.AuditTree(ctx); err != nil || st.Size != 0 || st.Tree != nil {
		t.Fatalf("a new store's tree: %+v %v", st, err)
	}
	for range 5 {
		if err := s.AppendAudit(ctx, auditEntry("ggd", store.AuditLookup)); err != nil {
			t.Fatal(err)
		}
	}
	if err := at.SealAudit(ctx, seal(0, 6, false)); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("sealing past the durable entries: %v", err)
	}
	if err := at.SealAudit(ctx, seal(0, 3, true)); err != nil {
		t.Fatal(err)
	}
	for name, bad := range map[string]store.AuditSeal{
		"not continuing":       seal(2, 4, false),
		"again from the start": seal(0, 3, false),
	} {
		if err := at.SealAudit(ctx, bad); !errors.Is(err, store.ErrConflict) {
			t.Errorf("%s: %v, want ErrConflict", name, err)
		}
	}
	wrong := seal(3, 5, true)
	wrong.Checkpoint.Size = 4
	if err := at.SealAudit(ctx, wrong); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("a checkpoint not at the seal's end: %v", err)
	}
	if err := at.SealAudit(ctx, seal(3, 5, true)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	checkSealedTree(t, open)
}

// checkSealedTree reopens the store testAuditTree sealed and reads its
// tree back.
func checkSealedTree(t *testing.T, open Opener) {
	s := openStore(t, open)
	at := treeOf(t, s)
	st, err := at.AuditTree(ctx)
	if err != nil || st.Size != 5 || string(st.Tree) != "state-5" || st.Latest.Size != 5 || string(st.Latest.Text) != "checkpoint 5\n" {
		t.Fatalf("after reopen: %+v %v", st, err)
	}
	roots, err := at.AuditRoots(ctx, 1, 10)
	if err != nil || len(roots) != 4 || roots[0].Seq != 2 || roots[0].Root != [32]byte{2} || roots[3].Seq != 5 {
		t.Fatalf("roots after 1: %+v %v", roots, err)
	}
	cps, err := at.AuditCheckpoints(ctx, 0, 10)
	if err != nil || len(cps) != 2 || cps[0].Size != 3 || cps[1].Size != 5 || string(cps[1].Text) != "checkpoint 5\n" || !cps[1].At.Equal(t0) {
		t.Fatalf("checkpoints: %+v %v", cps, err)
	}
	if cps, err := at.AuditCheckpoints(ctx, 3, 1); err != nil || len(cps) != 1 || cps[0].Size != 5 {
		t.Fatalf("checkpoints after 3: %+v %v", cps, err)
	}
}

// testAuditCut: a cut destroys the entries, roots, youth index keys and
// checkpoints below it, keeps its own checkpoint and state, and refuses to
// go back.
func testAuditCut(t *testing.T, open Opener) {
	s := openStore(t, open)
	at := treeOf(t, s)
	for range 6 {
		if err := s.AppendAudit(ctx, auditEntry("ggd", store.AuditLookup)); err != nil {
			t.Fatal(err)
		}
	}
	for _, sl := range []store.AuditSeal{seal(0, 2, true), seal(2, 4, true), seal(4, 6, true)} {
		if err := at.SealAudit(ctx, sl); err != nil {
			t.Fatal(err)
		}
	}
	cp4 := seal(2, 4, true).Checkpoint
	for name, bad := range map[string]store.AuditCut{
		"no checkpoint there":  {Size: 3, Tree: []byte("x"), Checkpoint: store.AuditCheckpoint{Size: 3, Text: []byte("c")}},
		"another checkpoint":   {Size: 4, Tree: []byte("x"), Checkpoint: store.AuditCheckpoint{Size: 4, Text: []byte("forged")}},
		"past the sealed tree": {Size: 7, Tree: []byte("x"), Checkpoint: store.AuditCheckpoint{Size: 7, Text: []byte("c")}},
	} {
		if err := at.CutAudit(ctx, bad); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	cut := store.AuditCut{Size: 4, Tree: []byte("state-4"), Checkpoint: cp4}
	if err := at.CutAudit(ctx, cut); err != nil {
		t.Fatal(err)
	}
	if got := AuditAll(t, s); len(got) != 2 || got[0].Seq != 5 {
		t.Fatalf("entries after the cut: %+v", got)
	}
	// The youth index goes with the entries.
	if of, err := s.AuditEntriesOf(ctx, Youth(9, 1), 0, 10); err != nil || len(of) != 2 || of[0].Seq != 5 {
		t.Fatalf("the youth's entries after the cut: %+v %v", of, err)
	}
	if roots, err := at.AuditRoots(ctx, 0, 10); err != nil || len(roots) != 2 || roots[0].Seq != 5 {
		t.Fatalf("roots after the cut: %+v %v", roots, err)
	}
	if cps, err := at.AuditCheckpoints(ctx, 0, 10); err != nil || len(cps) != 2 || cps[0].Size != 4 {
		t.Fatalf("checkpoints after the cut: %+v %v", cps, err)
	}
	if err := at.CutAudit(ctx, store.AuditCut{Size: 2, Tree: []byte("x"), Checkpoint: seal(0, 2, true).Checkpoint}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("a cut below the cut: %v", err)
	}
}

// testAuditCutAll: after a cut of every entry and a reopen, the numbers go
// on after the cut.
func testAuditCutAll(t *testing.T, open Opener) {
	s := openStore(t, open)
	at := treeOf(t, s)
	for range 6 {
		if err := s.AppendAudit(ctx, auditEntry("ggd", store.AuditLookup)); err != nil {
			t.Fatal(err)
		}
	}
	for _, sl := range []store.AuditSeal{seal(0, 4, true), seal(4, 6, true)} {
		if err := at.SealAudit(ctx, sl); err != nil {
			t.Fatal(err)
		}
	}
	if err := at.CutAudit(ctx, store.AuditCut{Size: 6, Tree: []byte("state-6"), Checkpoint: seal(4, 6, true).Checkpoint}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openStore(t, open)
	at = treeOf(t, s)
	st, err := at.AuditTree(ctx)
	if err != nil || st.Cut.Size != 6 || string(st.Cut.Tree) != "state-6" || st.Cut.Checkpoint.Size != 6 || st.Size != 6 {
		t.Fatalf("tree after the whole cut and a reopen: %+v %v", st, err)
	}
	if err := s.AppendAudit(ctx, auditEntry("ggd", store.AuditLookup)); err != nil {
		t.Fatal(err)
	}
	if got := AuditAll(t, s); len(got) != 1 || got[0].Seq != 7 {
		t.Fatalf("after a whole cut the numbers go on: %+v", got)
	}
}
