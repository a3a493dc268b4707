package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/vindex-nl/vindex/audit"
	"github.com/vindex-nl/vindex/httpapi"
	"github.com/vindex-nl/vindex/store"
	"github.com/vindex-nl/vindex/store/pebblestore"
	"github.com/vindex-nl/vindex/store/storetest"
)

// auditServeArgs start a --dev server in dir/d that checkpoints every
// second.
var auditServeArgs = []string{"serve", "--dev", "--data", "d", "--listen", "127.0.0.1:0", "--audit-checkpoint-interval", "1s"}

// runCLIFail runs vindex, which must fail, and returns its standard error.
func runCLIFail(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err == nil {
		t.Fatalf("vindex %v succeeded:\n%s", args, stdout.String())
	}
	return stderr.String()
}

// waitCheckpoint polls GET /v1/audit/checkpoint, without credentials,
// until it covers at least size entries, and returns it.
func waitCheckpoint(t *testing.T, anon *client, origin string, v string, size uint64) ([]byte, audit.Checkpoint) {
	t.Helper()
	verifier, err := audit.NewVerifier(v)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		s, b, err := anon.get("/v1/audit/checkpoint")
		if err == nil && s == 200 {
			c, err := audit.ParseCheckpoint(b, origin, verifier)
			if err != nil {
				t.Fatalf("the served checkpoint: %v\n%s", err, b)
			}
			if c.Size >= size {
				return b, c
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no checkpoint of %d entries: %d %s %v", size, s, b, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// auditEntries reads the audit log of the stopped server's store in dir/d.
func auditEntries(t *testing.T, dir string) []store.AuditEntry {
	t.Helper()
	st, err := pebblestore.Open(filepath.Join(dir, "d", "store"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	return storetest.AuditAll(t, st)
}

// TestAuditLogServed: a running server signs checkpoints of its audit log,
// serves the newest to anyone and writes it to its file; the log of the
// stopped server verifies against them, also against a checkpoint a
// witness cosigned, and every entry has an inclusion proof that checks
// with the public key alone. Key changes are entries of their own.
func TestAuditLogServed(t *testing.T) {
	dir := t.TempDir()
	p := start(t, dir, auditServeArgs...)
	school := devClient(t, dir, "d", p, "school-example-lyceum")
	wij := devClient(t, dir, "d", p, "wij-groningen")
	anon := devClient(t, dir, "d", p, "")
	s, b, err := school.post("/v1/registrations", youthReport(t, 1, "signal"))
	must[httpapi.RegistrationResponse](t, s, b, err, 201)
	if s, b, err := wij.post("/v1/lookups", httpapi.BSNRequest{BSN: validBSN(t, 1)}); err != nil || s != 404 {
		t.Fatalf("uninvolved lookup: %d %s %v", s, b, err)
	}
	vkey := strings.TrimSpace(readFile(t, filepath.Join(dir, "d", "audit.pub")))
	origin := "vindex/vindex/audit"
	// Three key-init entries, the report, the lookup.
	served, cp := waitCheckpoint(t, anon, origin, vkey, 5)
	if file := readFile(t, filepath.Join(dir, "d", "audit-checkpoint")); file != string(served) {
		t.Errorf("the checkpoint file differs from the served checkpoint:\n%s\n%s", file, served)
	}
	witnessSkey, witnessVkey, err := audit.GenerateKey("witness.example/w1")
	if err != nil {
		t.Fatal(err)
	}
	log, _ := audit.NewVerifier(vkey)
	cosigned, err := audit.Cosign(served, origin, log, mustSigner(t, witnessSkey))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "witnessed", string(cosigned))
	writeFile(t, dir, "unwitnessed", string(served))
	writeFile(t, dir, "witness.pub", witnessVkey+"\n")
	p.stop(t)

	out := runCLI(t, dir, "audit", "verify", "--dev", "--data", "d", "--checkpoint", "witnessed", "--witness", "witness.pub")
	if !strings.Contains(out, "verified: entries 1 to 5") {
		t.Errorf("verify: %s", out)
	}
	if msg := runCLIFail(t, dir, "audit", "verify", "--dev", "--data", "d", "--checkpoint", "unwitnessed", "--witness", "witness.pub"); !strings.Contains(msg, "--checkpoint unwitnessed") {
		t.Errorf("a checkpoint the witness did not sign: %s", msg)
	}

	entries := auditEntries(t, dir)
	var verbs []string
	for _, e := range entries {
		verbs = append(verbs, e.Verb.String()+" "+e.Outcome)
	}
	want := []string{"key-init audit", "key-init prf", "key-init refs", "register ok", "lookup not_involved"}
	if !slices.Equal(verbs, want) {
		t.Fatalf("entries %q, want %q", verbs, want)
	}
	for seq := uint64(1); seq <= cp.Size; seq++ {
		var pr proofJSON
		if err := json.Unmarshal([]byte(runCLI(t, dir, "audit", "prove", strconv.FormatUint(seq, 10), "--dev", "--data", "d")), &pr); err != nil {
			t.Fatal(err)
		}
		c, err := audit.ParseCheckpoint([]byte(pr.Checkpoint), origin, log)
		if err != nil {
			t.Fatal(err)
		}
		entry, _ := base64.StdEncoding.DecodeString(pr.Entry)
		var hashes []audit.Hash
		for _, h := range pr.Proof {
			b, _ := base64.StdEncoding.DecodeString(h)
			hashes = append(hashes, audit.Hash(b))
		}
		if err := audit.VerifyInclusion(entry, pr.LeafIndex, pr.TreeSize, hashes, c.Root); err != nil {
			t.Errorf("proof of entry %d: %v", seq, err)
		}
		if e, err := audit.UnmarshalEntry(entry); err != nil || e.Verb != entries[seq-1].Verb {
			t.Errorf("entry %d proved: %+v %v", seq, e, err)
		}
	}

	// A rotation, seen at the next start; nothing new at the one after.
	runCLI(t, dir, "keys", "rotate", "--dev", "--data", "d")
	for range 2 {
		p = start(t, dir, auditServeArgs...)
		p.stop(t)
	}
	entries = auditEntries(t, dir)
	if len(entries) != 6 || entries[5].Verb != store.AuditKeyRotate || !strings.HasPrefix(entries[5].Outcome, "prf:") ||
		entries[5].Institution != "operator" {
		t.Fatalf("after a rotation: %+v", entries[len(entries)-1])
	}
	runCLI(t, dir, "audit", "verify", "--dev", "--data", "d")
}

// TestAuditVerifyNamesTheTamper: the bytes of the stopped server's audit
// log are altered on disk, one way per copy; vindex audit verify fails on
// each and names the place.
func TestAuditVerifyNamesTheTamper(t *testing.T) {
	base := t.TempDir()
	p := start(t, base, auditServeArgs...)
	school := devClient(t, base, "d", p, "school-example-lyceum")
	for n := range 8 {
		s, b, err := school.post("/v1/registrations", youthReport(t, 100+n, "signal"))
		must[httpapi.RegistrationResponse](t, s, b, err, 201)
	}
	p.stop(t) // the last seal: 3 key entries + 8 reports
	runCLI(t, base, "audit", "verify", "--dev", "--data", "d")

	_, otherVkey, _ := audit.GenerateKey("vindex/vindex/audit")
	for _, c := range []struct {
		name   string
		tamper func(t *testing.T, db *pebble.DB)
		args   []string
		want   string
	}{
		{"flipped byte", func(t *testing.T, db *pebble.DB) {
			v := dbGet(t, db, auditKeyBytes(6))
			v[len(v)-1] ^= 1 // the outcome's last letter
			dbSet(t, db, auditKeyBytes(6), v)
		}, nil, "entry 6 is not the one logged there"},
		{"deleted", func(t *testing.T, db *pebble.DB) {
			if err := db.Delete(auditKeyBytes(4), pebble.Sync); err != nil {
				t.Fatal(err)
			}
		}, nil, "entry 4 is not the one logged there"},
		{"swapped", func(t *testing.T, db *pebble.DB) {
			a, b := dbGet(t, db, auditKeyBytes(5)), dbGet(t, db, auditKeyBytes(9))
			dbSet(t, db, auditKeyBytes(5), b)
			dbSet(t, db, auditKeyBytes(9), a)
		}, nil, "entry 5 is not the one logged there"},
		{"truncated", func(t *testing.T, db *pebble.DB) {
			for seq := uint64(9); seq <= 11; seq++ {
				if err := db.Delete(auditKeyBytes(seq), pebble.Sync); err != nil {
					t.Fatal(err)
				}
			}
		}, nil, "it ends after entry 8, but 11 were sealed"},
		{"checkpoint key replaced", func(*testing.T, *pebble.DB) {}, []string{"--key", "other.pub"}, "checkpoint 1 (by size)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.CopyFS(filepath.Join(dir, "d"), os.DirFS(filepath.Join(base, "d"))); err != nil {
				t.Fatal(err)
			}
			os.Chmod(filepath.Join(dir, "d"), 0o700)
			writeFile(t, dir, "other.pub", otherVkey+"\n")
			db, err := pebble.Open(filepath.Join(dir, "d", "store"), &pebble.Options{})
			if err != nil {
				t.Fatal(err)
			}
			c.tamper(t, db)
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			msg := runCLIFail(t, dir, append([]string{"audit", "verify", "--dev", "--data", "d"}, c.args...)...)
			if !strings.Contains(msg, c.want) {
				t.Errorf("verify says %q, want %q", msg, c.want)
			}
		})
	}
}

func auditKeyBytes(seq uint64) []byte {
	return append([]byte{'a'}, byte(seq>>56), byte(seq>>48), byte(seq>>40), byte(seq>>32), byte(seq>>24), byte(seq>>16), byte(seq>>8), byte(seq))
}

func dbGet(t *testing.T, db *pebble.DB, key []byte) []byte {
	t.Helper()
	v, closer, err := db.Get(key)
	if err != nil {
		t.Fatalf("%x: %v", key, err)
	}
	defer closer.Close()
	return bytes.Clone(v)
}

func dbSet(t *testing.T, db *pebble.DB, key, v []byte) {
	t.Helper()
	if err := db.Set(key, v, pebble.Sync); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func mustSigner(t *testing.T, skey string) *audit.Signer {
	t.Helper()
	s, err := audit.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestAuditLogSurvivesKill: registrations and lookups run against the real
// server while it is killed with SIGKILL at random moments. After each
// kill, every answered report has its entry (by registration ID), there
// are at least as many lookup entries as lookups answered, and vindex
// audit verify passes; the next start seals what the dead one left.
// VINDEX_CRASH_ROUNDS sets the rounds (3 by default).
func TestAuditLogSurvivesKill(t *testing.T) {
	rounds := crashRounds(t)
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 2))
	var (
		mu      sync.Mutex
		regs    = map[string]bool{} // registration IDs answered 201
		lookups int                 // lookups answered 200
		next    int
	)
	for round := range rounds {
		p := start(t, dir, auditServeArgs...)
		school := devClient(t, dir, "d", p, "school-example-lyceum")
		var wg sync.WaitGroup
		for range 6 {
			wg.Go(func() {
				for {
					mu.Lock()
					next++
					n := next
					mu.Unlock()
					s, b, err := school.post("/v1/registrations", youthReport(t, n, "signal"))
					if err != nil {
						return
					}
					if s == 201 {
						var r httpapi.RegistrationResponse
						if json.Unmarshal(b, &r) == nil {
							mu.Lock()
							regs[r.ID] = true
							mu.Unlock()
						}
					}
					s, _, err = school.post("/v1/lookups", httpapi.BSNRequest{BSN: validBSN(t, n)})
					if err != nil {
						return
					}
					if s == 200 {
						mu.Lock()
						lookups++
						mu.Unlock()
					}
				}
			})
		}
		time.Sleep(time.Duration(300+rng.IntN(900)) * time.Millisecond)
		p.kill(t)
		wg.Wait()

		entries := auditEntries(t, dir)
		logged, looked := map[string]bool{}, 0
		for _, e := range entries {
			switch {
			case e.Verb == store.AuditRegister && e.Outcome == "ok":
				logged[e.Registration.String()] = true
			case e.Verb == store.AuditLookup && e.Outcome == "ok":
				looked++
			}
		}
		mu.Lock()
		for id := range regs {
			if !logged[id] {
				t.Fatalf("round %d: report %s was answered, its audit entry is missing", round+1, id)
			}
		}
		if looked < lookups {
			t.Fatalf("round %d: %d lookups answered, %d in the audit log", round+1, lookups, looked)
		}
		t.Logf("round %d: %d reports and %d lookups answered, %d entries", round+1, len(regs), lookups, len(entries))
		mu.Unlock()
		runCLI(t, dir, "audit", "verify", "--dev", "--data", "d")
	}
	p := start(t, dir, auditServeArgs...)
	p.stop(t)
	if out := runCLI(t, dir, "audit", "verify", "--dev", "--data", "d"); strings.Contains(out, "not sealed") {
		t.Errorf("after a clean stop every entry is sealed: %s", out)
	}
}
