package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/vindex-nl/vindex/audit"
)

const auditUsage = `Usage: vindex audit verify|prove SEQ|extract [flags]

The audit log records every access to and change of the index (who, with
which credential, what, on which registration, about which youth by a
reference of its own, and the outcome). vindex serve seals its entries into
an RFC 6962 Merkle tree and signs a checkpoint of the tree every
audit_checkpoint_interval (GET /v1/audit/checkpoint serves the newest).
These commands read the store, so run them with the server stopped, or on
a copy of the data directory (a backup).

  verify     recompute the tree over every entry and check it against each
             entry's kept root and every checkpoint: the store's, and each
             --checkpoint FILE (one kept by a witness or an auditor, or a
             copy of audit_checkpoint_file taken earlier). It names the first
             entry changed, removed, reordered or inserted, a log shorter
             than a checkpoint, or a checkpoint not signed by the log's key
             (and, for --checkpoint files, by every --witness). Exit status
             1 when the log does not verify.
  prove SEQ  print, as JSON, the RFC 6962 inclusion proof of entry SEQ in
             the tree of the newest checkpoint: the entry's canonical
             encoding, its leaf index, the tree size, the proof's hashes and
             the signed checkpoint. Anyone with the log's public key can
             check it without the rest of the log.
  extract    who accessed one youth (read from standard input, never the
             command line): every entry that names the youth; see
             vindex audit extract --help

Flags of verify and prove:
  --key FILE         the log's public key (vindex keys init writes it;
                     default: the deployment's, --audit-key with .pub for .key,
                     on the same disk as the log: an auditor uses a copy
                     kept elsewhere, and checkpoints a witness kept)
  --checkpoint FILE  verify: a checkpoint kept elsewhere (repeatable)
  --witness FILE     verify: a witness's public key that must have signed
                     every --checkpoint (repeatable)

And the settings of vindex serve for the data directory (--data, --config,
--dev, --audit-key, --deployment).
`

// auditCmd runs vindex audit: the verb in args[0], on the rest.
func auditCmd(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return printUsage(stderr, auditUsage, args)
	}
	switch args[0] {
	case "extract":
		return auditExtract(args[1:], stdin, stdout, stderr)
	case "verify":
		return auditVerify(args[1:], stdout, stderr)
	case "prove":
		return auditProve(args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "vindex audit: unknown command %q\n\n%s", args[0], auditUsage)
	return errUsage
}

// repeated is a flag that may be given more than once.
type repeated []string

func (r *repeated) String() string     { return strings.Join(*r, ",") }
func (r *repeated) Set(v string) error { *r = append(*r, v); return nil }

// auditFlags are the flags of verify and prove.
type auditFlags struct {
	key                    string
	checkpoints, witnesses repeated
}

// openAuditStore parses the settings and opens the store for reading the
// audit log, and the log's verifier.
func openAuditStore(name string, args []string, af *auditFlags) (backend, note.Verifier, string, error) {
	c, _, err := loadConfig("audit "+name, auditUsage, args, func(fs *flag.FlagSet) {
		fs.StringVar(&af.key, "key", "", "the log's public key `file`; default: --audit-key with .pub for .key")
		fs.Var(&af.checkpoints, "checkpoint", "verify: a checkpoint `file` kept elsewhere (repeatable)")
		fs.Var(&af.witnesses, "witness", "verify: a witness's public key `file` every --checkpoint must be signed by (repeatable)")
	})
	if err != nil {
		return nil, nil, "", err
	}
	if err := checkDataDir(c.Data); err != nil {
		return nil, nil, "", err
	}
	if af.key == "" {
		af.key = auditKeyOf(c).pub
	}
	vkey, err := readVerifierKey(af.key)
	if err != nil {
		return nil, nil, "", err
	}
	v, err := audit.NewVerifier(vkey)
	if err != nil {
		return nil, nil, "", fmt.Errorf("%s: %w", af.key, err)
	}
	if !exists(c.storeDir()) {
		return nil, nil, "", fmt.Errorf("no store in %s", c.Data)
	}
	st, err := openStore(c, toolUse)
	if err != nil {
		return nil, nil, "", fmt.Errorf("the store is not available (is a server running? run this on a stopped server or a copy): %w", err)
	}
	return st, v, v.Name(), nil
}

// auditVerify runs vindex audit verify.
func auditVerify(args []string, stdout, stderr io.Writer) error {
	var af auditFlags
	st, v, origin, err := openAuditStore("verify", args, &af)
	if err != nil {
		return err
	}
	defer st.Close()
	var extra [][]byte
	for _, f := range af.checkpoints {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		extra = append(extra, b)
	}
	var witnesses []note.Verifier
	for _, f := range af.witnesses {
		vkey, err := readVerifierKey(f)
		if err != nil {
			return err
		}
		w, err := audit.NewVerifier(vkey)
		if err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		witnesses = append(witnesses, w)
	}
	rep, err := audit.VerifyStore(context.Background(), st, origin, v, extra, witnesses...)
	if err != nil {
		return verifyFailure(err, af)
	}
	fmt.Fprintf(stdout, "audit log %s verified: entries %d to %d against %d checkpoints (the newest of %d entries)\n",
		origin, rep.Cut+1, rep.Cut+rep.Size, rep.Checkpoints, rep.Latest.Size)
	if rep.Cut > 0 {
		fmt.Fprintf(stdout, "entries 1 to %d were destroyed at the end of their retention on %s (entry %d records it); the tree goes on from their checkpoint\n",
			rep.Cut, rep.CutRecord.At.UTC().Format(time.DateOnly), rep.CutRecord.Seq)
	}
	if rep.ExtraBelowCut > 0 {
		fmt.Fprintf(stdout, "%d --checkpoint files lie in the destroyed part, which nothing left can check: they must be older than the retention term on that date\n", rep.ExtraBelowCut)
	}
	if rep.Unsealed > 0 {
		fmt.Fprintf(stdout, "%d entries after them are not sealed yet (the server seals them at its next start)\n", rep.Unsealed)
	}
	return nil
}

// verifyFailure words a failed verification by entry number (the leaf
// index plus one) and checkpoint file.
func verifyFailure(err error, af auditFlags) error {
	var te *audit.TamperError
	var ce *audit.CheckpointError
	switch {
	case errors.As(err, &te):
		n := te.Index + 1
		switch te.Kind {
		case audit.Altered:
			return fmt.Errorf("audit log does not verify: entry %d is not the one logged there (changed or inserted, or entries removed or reordered from there on)", n)
		case audit.Inserted:
			return fmt.Errorf("audit log does not verify: entry %d was inserted", n)
		case audit.Truncated:
			return fmt.Errorf("audit log does not verify: it ends after entry %d, but %d were sealed or signed in a checkpoint", te.Index, te.Checkpoint)
		case audit.Rewritten:
			return fmt.Errorf("audit log does not verify: entries %d to %d were rewritten (with their roots); the checkpoint of %d entries does not match", n, te.Checkpoint, te.Checkpoint)
		}
	case errors.As(err, &ce) && ce.Extra:
		return fmt.Errorf("audit log does not verify: --checkpoint %s: %w", af.checkpoints[ce.Index], ce.Err)
	case errors.As(err, &ce):
		return fmt.Errorf("audit log does not verify: the store's checkpoint %d (by size): %w", ce.Index+1, ce.Err)
	}
	return fmt.Errorf("audit log does not verify: %w", err)
}

// auditProve runs vindex audit prove SEQ.
func auditProve(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") && !isHelp(args[0]) {
		return flagError{cmd: "audit prove", err: errors.New("which entry? vindex audit prove SEQ [flags]")}
	}
	var af auditFlags
	seqArg, rest := args[0], args[1:]
	if isHelp(seqArg) {
		rest = args
	}
	st, v, origin, err := openAuditStore("prove", rest, &af)
	if err != nil {
		return err
	}
	defer st.Close()
	seq, err := strconv.ParseUint(seqArg, 10, 64)
	if err != nil || seq == 0 {
		return flagError{cmd: "audit prove", err: fmt.Errorf("%q is not an entry number (1, 2, …)", seqArg)}
	}
	p, err := audit.ProveStore(context.Background(), st, origin, v, seq)
	if err != nil {
		return err
	}
	out := proofJSON{Seq: p.Seq, LeafIndex: p.Seq - 1, TreeSize: p.Size, Entry: base64.StdEncoding.EncodeToString(p.Entry),
		Checkpoint: string(p.Checkpoint)}
	for _, h := range p.Hashes {
		out.Proof = append(out.Proof, base64.StdEncoding.EncodeToString(h[:]))
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "%s\n", b)
	return err
}

// proofJSON is what vindex audit prove prints.
type proofJSON struct {
	Seq       uint64 `json:"seq"`
	LeafIndex uint64 `json:"leaf_index"`
	TreeSize  uint64 `json:"tree_size"`
	// Entry is the entry's canonical encoding (the leaf), base64.
	Entry string `json:"entry"`
	// Proof are the RFC 6962 inclusion proof's hashes, bottom up, base64.
	Proof      []string `json:"proof"`
	Checkpoint string   `json:"checkpoint"`
}
