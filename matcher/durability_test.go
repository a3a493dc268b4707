package matcher_test

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/crypto/keys"
	"github.com/vindex-nl/vindex/crypto/keys/insecurelocalkek"
	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/matcher"
	"github.com/vindex-nl/vindex/store"
)

const crashChildEnv = "VINDEX_TEST_CRASH_CHILD"

// loadTestKeys opens (creating on first use) a PRF keyset in dir, wrapped by
// a development key-encryption key file: the same path vindex takes in
// development.
func loadTestKeys(t testing.TB, dir string) *pseudonym.Pseudonymiser {
	t.Helper()
	kekPath, ksPath := filepath.Join(dir, "kek.json"), filepath.Join(dir, "keyset.wrapped")
	if _, err := os.Stat(kekPath); os.IsNotExist(err) {
		if err := insecurelocalkek.Create(kekPath); err != nil {
			t.Fatal(err)
		}
	}
	kek, err := insecurelocalkek.Load(kekPath, quiet())
	if err != nil {
		t.Fatal(err)
	}
	ad := keys.AssociatedData("crash-test")
	if _, err := os.Stat(ksPath); os.IsNotExist(err) {
		h, err := keys.Create()
		if err != nil {
			t.Fatal(err)
		}
		if err := keys.SaveFile(ksPath, h, kek, ad); err != nil {
			t.Fatal(err)
		}
	}
	h, err := keys.LoadFile(ksPath, kek, ad)
	if err != nil {
		t.Fatal(err)
	}
	ps, err := pseudonym.New(h)
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

// crashChild registers under load until it is killed, printing one line per
// acknowledged registration: "ack <institution> <youth> <id>".
func crashChild(t *testing.T, dir string, from int) {
	ps := loadTestKeys(t, dir)
	e := newEnvWith(t, ps, filepath.Join(dir, "data"), quiet())
	e.clock.Set(time.Now().UTC())
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	var next atomic.Int64
	next.Store(int64(from))
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				n := int(next.Add(1))
				for _, inst := range []string{wij, ggd} {
					res, err := e.m.Register(ctx, matcher.Actor{Institution: inst}, e.involvement(t, n))
					if err != nil {
						fmt.Fprintln(os.Stderr, "register:", err)
						os.Exit(3)
					}
					mu.Lock()
					fmt.Fprintf(out, "ack %s %d %s\n", inst, n, res.ID)
					out.Flush()
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
}

type ack struct {
	inst  string
	youth int
	id    store.ID
}

// A child process registers under load and is killed with SIGKILL at random
// moments; after each kill the store opens cleanly and holds every
// registration the child acknowledged, with its events, and no youth has two
// matches.
func TestDurabilityUnderKill(t *testing.T) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		from, _ := strconv.Atoi(os.Getenv(crashChildEnv + "_FROM"))
		crashChild(t, dir, from)
		return
	}
	if testing.Short() {
		t.Skip("starts child processes")
	}
	rounds := 3
	if s := os.Getenv("VINDEX_CRASH_ROUNDS"); s != "" {
		rounds, _ = strconv.Atoi(s)
	}
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	var acks []ack
	for round := range rounds {
		cmd := exec.Command(os.Args[0], "-test.run=^TestDurabilityUnderKill$", "-test.v=false")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+dir, crashChildEnv+"_FROM="+strconv.Itoa(round*1_000_000))
		cmd.Stderr = os.Stderr
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		killAfter := 100 + rng.IntN(900)
		sc := bufio.NewScanner(stdout)
		got := 0
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) != 4 || f[0] != "ack" {
				continue // the test framework's own lines
			}
			n, err1 := strconv.Atoi(f[2])
			id, err2 := store.ParseID(f[3])
			if err1 != nil || err2 != nil {
				continue // a line cut by the kill
			}
			acks = append(acks, ack{inst: f[1], youth: n, id: id})
			if got++; got == killAfter {
				cmd.Process.Signal(syscall.SIGKILL)
			}
		}
		err = cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
			t.Fatalf("round %d: child ended by itself (%v) after %d acks", round, err, got)
		}
		t.Logf("round %d: killed after %d acknowledged registrations", round, got)
		verifyAcks(t, dir, acks)
	}
}

func verifyAcks(t *testing.T, dir string, acks []ack) {
	t.Helper()
	ps := loadTestKeys(t, dir)
	e := newEnvWith(t, ps, filepath.Join(dir, "data"), quiet())
	defer e.store.Close()
	events := map[string][]store.Event{}
	for _, inst := range []string{wij, ggd} {
		events[inst] = e.events(t, inst)
	}
	eventFor := map[store.ID]bool{}
	matches := map[string]map[store.ID]int{}
	for inst, evs := range events {
		matches[inst] = map[store.ID]int{}
		for _, ev := range evs {
			eventFor[ev.Registration] = true
			if ev.Type == store.EventMatch {
				matches[inst][ev.Registration]++
			}
		}
	}
	for _, a := range acks {
		r, err := e.store.Registration(ctx, a.id)
		if err != nil {
			t.Fatalf("acknowledged registration %s of youth %d by %s lost: %v", a.id, a.youth, a.inst, err)
		}
		if r.Institution != a.inst || !r.IsLive() {
			t.Fatalf("acknowledged registration changed: %+v", r)
		}
		if !eventFor[a.id] {
			t.Fatalf("no event for acknowledged registration %s", a.id)
		}
	}
	for inst, m := range matches {
		for id, n := range m {
			if n > 1 {
				t.Fatalf("%s registration %s has %d match events, want at most 1", inst, id, n)
			}
		}
	}
	// A youth both institutions were acknowledged for is matched, with a
	// coordinator, as seen through the matcher (same keys, same store).
	both := map[int]int{}
	for _, a := range acks {
		both[a.youth]++
	}
	e.clock.Set(time.Now().UTC())
	checked := 0
	for n, k := range both {
		if k < 2 || checked >= 200 {
			continue
		}
		checked++
		v, err := e.m.Lookup(ctx, matcher.Actor{Institution: wij}, e.youth(t, n))
		if err != nil || !v.Matched || v.Coordinator.Institution == "" {
			t.Fatalf("youth %d after the crash: %+v %v", n, v, err)
		}
	}
	if checked == 0 {
		t.Fatal("no youth was acknowledged for both institutions")
	}
}
