package main

// Key operations in the audit log. vindex keys init, rotate, retire and
// rewrap change the wrapped key files, and may run while a server holds the
// store; so vindex serve records them, when it starts: it compares the keys
// it unwrapped (their IDs and states, and a hash of each wrapped file) with
// what it recorded last (DIR/keys-audited, which holds no key material) and
// appends an entry for each difference: key-init for a keyset it never saw,
// key-rotate for a new key, key-retire for a key disabled or deleted,
// key-rewrap for a file wrapped anew with its keys unchanged. The entry's
// institution is "operator" and its outcome names the keyset and key
// ("prf:1234567", "refs:89", "audit"); its time is when the server saw the
// change, which is at most one restart after it was made (a key change
// takes effect only at a restart). A blind deployment's key holders' layer
// is recorded as the keyset "keyholder", its generations as its keys: a
// key holder's rotation taken over is key-rotate "keyholder:G", its end
// key-retire "keyholder:G-1".

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vindex-nl/vindex/crypto/keys"
	"github.com/vindex-nl/vindex/store"
)

// keysetState is one keyset as the audit log knows it: its keys and the
// hash of its wrapped file.
type keysetState struct {
	keys map[uint32]string // key ID → "enabled primary", "disabled", …
	file string
}

// keyStates are the keysets by name: "prf", "refs", "audit".
type keyStates map[string]keysetState

// keysAuditedFile is where serve keeps what it last recorded.
func keysAuditedFile(c config) string { return filepath.Join(c.Data, "keys-audited") }

// currentKeyStates describes the keys serve unwrapped.
func currentKeyStates(c config, opened openedKeys) (keyStates, error) {
	prf, refs := keysetFiles(c)
	ak := auditKeyOf(c)
	out := keyStates{}
	for _, ks := range []struct {
		name, path string
		status     []keys.KeyInfo
	}{{"prf", prf.path, opened.prfStatus}, {"refs", refs.path, opened.refStatus}, {"audit", ak.path, nil}} {
		b, err := os.ReadFile(ks.path)
		if err != nil {
			return nil, fmt.Errorf("audit log: %w", err)
		}
		sum := sha256.Sum256(b)
		st := keysetState{keys: map[uint32]string{}, file: hex.EncodeToString(sum[:])}
		for _, k := range ks.status {
			st.keys[k.ID] = k.State.String()
			if k.Primary {
				st.keys[k.ID] += "-primary"
			}
		}
		out[ks.name] = st
	}
	if opened.blind {
		l := opened.layer
		st := keysetState{keys: map[uint32]string{l.Generation: "enabled-primary"}, file: "none"}
		if b, err := os.ReadFile(blindLayerFile(c)); err == nil {
			sum := sha256.Sum256(b)
			st.file = hex.EncodeToString(sum[:])
		}
		if l.Rotating {
			st.keys[l.Generation-1] = "enabled"
		}
		out["keyholder"] = st
	}
	return out, nil
}

// keyEntries returns the audit entries of the changes from was to now, at.
func keyEntries(was, now keyStates, at time.Time) []store.AuditEntry {
	var out []store.AuditEntry
	add := func(verb store.AuditVerb, outcome string) {
		out = append(out, store.AuditEntry{At: at, Institution: "operator", Verb: verb, Outcome: outcome})
	}
	for _, name := range slices.Sorted(maps.Keys(now)) {
		cur := now[name]
		old, seen := was[name]
		if !seen {
			add(store.AuditKeyInit, name)
			continue
		}
		changed, added := false, false
		promoted, hasPromoted := uint32(0), false
		for _, id := range slices.Sorted(maps.Keys(cur.keys)) {
			state, had := old.keys[id]
			key := name + ":" + strconv.FormatUint(uint64(id), 10)
			switch c := cur.keys[id]; {
			case !had:
				add(store.AuditKeyRotate, key)
				changed, added = true, true
			case c == state:
			case !strings.HasPrefix(c, "enabled"):
				add(store.AuditKeyRetire, key)
				changed = true
			case !strings.HasPrefix(state, "enabled"):
				add(store.AuditKeyRotate, key) // enabled again
				changed = true
			default: // the primary moved
				changed = true
				if strings.HasSuffix(c, "primary") {
					promoted, hasPromoted = id, true
				}
			}
		}
		if hasPromoted && !added {
			add(store.AuditKeyRotate, name+":"+strconv.FormatUint(uint64(promoted), 10))
		}
		for _, id := range slices.Sorted(maps.Keys(old.keys)) {
			if _, kept := cur.keys[id]; !kept {
				add(store.AuditKeyRetire, name+":"+strconv.FormatUint(uint64(id), 10))
				changed = true
			}
		}
		if !changed && cur.file != old.file {
			add(store.AuditKeyRewrap, name)
		}
	}
	return out
}

// recordKeyChanges appends an entry for every key change since the last
// start, then keeps the new state. If the entries cannot be appended,
// serve does not start (the log fails closed); if the state cannot be
// kept, the changes are recorded again at the next start.
func recordKeyChanges(ctx context.Context, c config, st store.AuditLog, opened openedKeys) (int, error) {
	now, err := currentKeyStates(c, opened)
	if err != nil {
		return 0, err
	}
	path := keysAuditedFile(c)
	was, err := readKeyStates(path)
	if err != nil {
		return 0, err
	}
	entries := keyEntries(was, now, time.Now())
	if len(entries) == 0 {
		return 0, nil
	}
	if err := st.AppendAudit(ctx, entries...); err != nil {
		return 0, fmt.Errorf("audit log: recording key changes: %w", err)
	}
	return len(entries), keys.WriteFileAtomic(path, now.encode())
}

// encode writes the states as lines "NAME file HASH" and "NAME key ID STATE".
func (s keyStates) encode() []byte {
	var b bytes.Buffer
	b.WriteString("# The keys vindex serve last recorded in the audit log (no key material).\n")
	for _, name := range slices.Sorted(maps.Keys(s)) {
		fmt.Fprintf(&b, "%s file %s\n", name, s[name].file)
		for _, id := range slices.Sorted(maps.Keys(s[name].keys)) {
			fmt.Fprintf(&b, "%s key %d %s\n", name, id, s[name].keys[id])
		}
	}
	return b.Bytes()
}

// readKeyStates reads a file encode wrote; a missing file is no state.
func readKeyStates(path string) (keyStates, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return keyStates{}, nil
	}
	if err != nil {
		return nil, err
	}
	out := keyStates{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		f := strings.Fields(sc.Text())
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		st, ok := out[f[0]]
		if !ok {
			st = keysetState{keys: map[uint32]string{}}
		}
		switch {
		case len(f) == 3 && f[1] == "file":
			st.file = f[2]
		case len(f) == 4 && f[1] == "key":
			id, err := strconv.ParseUint(f[2], 10, 32)
			if err != nil {
				return nil, fmt.Errorf("%s:%d: key ID %q", path, n, f[2])
			}
			st.keys[uint32(id)] = f[3]
		default:
			return nil, fmt.Errorf("%s:%d: not a line vindex serve writes", path, n)
		}
		out[f[0]] = st
	}
	return out, sc.Err()
}
