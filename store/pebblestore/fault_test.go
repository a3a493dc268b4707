package pebblestore_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"

	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/internal/tmpfs"
	"github.com/vindex-nl/vindex/store"
	"github.com/vindex-nl/vindex/store/pebblestore"
	"github.com/vindex-nl/vindex/store/storetest"
)

var faultAt = time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)

func putOne(s *pebblestore.Store, n int) error {
	y := storetest.Youth(7, n)
	return s.Update(ctx, []pseudonym.Pseudonym{y}, func(tx store.Tx) error {
		tx.Put(storetest.Reg(y, "ggd", faultAt))
		tx.Append(store.Event{Type: store.EventNoMatch, At: faultAt, Recipient: "ggd"})
		return nil
	})
}

func present(t *testing.T, s *pebblestore.Store, n int) bool {
	t.Helper()
	y := storetest.Youth(7, n)
	found := false
	err := s.View(ctx, []pseudonym.Pseudonym{y}, func(r store.Reader) error {
		found = len(r.Registrations()) == 1
		return nil
	})
	if err != nil {
		t.Fatalf("reading youth %d: %v", n, err)
	}
	return found
}

// A write to the write-ahead log fails (errorfs): the update in flight and
// every one after it get store.ErrUnavailable — an error, not a panic or a
// hang —, the store serves no reads from a memtable that may hold what is
// not durable, and once opened again every acknowledged update is there.
// The failing store is never closed (its Pebble cannot be), so it runs in
// a child process, as a server would, and the parent reopens the directory.
func TestWALWriteFailure(t *testing.T) {
	if dir := os.Getenv("VINDEX_WAL_FAULT_CHILD"); dir != "" {
		walFaultChild(dir)
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestWALWriteFailure$", "-test.v")
	cmd.Env = append(os.Environ(), "VINDEX_WAL_FAULT_CHILD="+dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v\n%s\n%s", err, out, stderr.String())
	}
	acked := map[int]bool{}
	var failed, after, health, view string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.SplitN(sc.Text(), " ", 2)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "ack":
			n, _ := strconv.Atoi(f[1])
			acked[n] = true
		case "failed":
			failed = f[1]
		case "after":
			after = f[1]
		case "health":
			health = f[1]
		case "view":
			view = f[1]
		}
	}
	for name, v := range map[string]string{"failed": failed, "after": after, "health": health, "view": view} {
		if !strings.Contains(v, "store: unavailable") {
			t.Errorf("%s: %q, want store: unavailable\nchild output:\n%s\n%s", name, v, out, stderr.String())
		}
	}
	if bytes.Contains(out, []byte("panic:")) || bytes.Contains(stderr.Bytes(), []byte("goroutine ")) {
		t.Errorf("the child panicked:\n%s\n%s", out, stderr.String())
	}
	if len(acked) < 50 {
		t.Fatalf("only %d updates acknowledged before the fault", len(acked))
	}
	s := reopenWithAll(t, dir, &pebblestore.Options{Logger: quiet()}, acked)
	if err := putOne(s, 100000); err != nil {
		t.Errorf("the reopened store takes no writes: %v", err)
	}
	t.Logf("%d acknowledged updates before the fault, all present after reopening", len(acked))
}

// walFaultChild writes from 8 goroutines, turns on errors for writes to the
// WAL after 60 acknowledged updates, and reports what it saw on stdout.
func walFaultChild(dir string) {
	var on atomic.Bool
	inj := errorfs.InjectorFunc(func(op errorfs.Op) error {
		if on.Load() && strings.HasSuffix(op.Path, ".log") &&
			(op.Kind == errorfs.OpFileWrite || op.Kind == errorfs.OpFileWriteAt || op.Kind == errorfs.OpFileSync || op.Kind == errorfs.OpFileSyncData) {
			return errorfs.ErrInjected
		}
		return nil
	})
	s, err := pebblestore.Open(dir, &pebblestore.Options{FS: errorfs.Wrap(vfs.Default, inj), Logger: quiet()})
	if err != nil {
		fmt.Println("open", err)
		os.Exit(1)
	}
	var (
		mu    sync.Mutex
		next  int
		acks  int
		first error
		wg    sync.WaitGroup
	)
	done := make(chan struct{})
	go func() {
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			fmt.Println("hang")
			os.Exit(2)
		}
	}()
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				n := next
				next++
				mu.Unlock()
				if n >= 400 {
					return
				}
				err := putOne(s, n)
				mu.Lock()
				if err == nil {
					fmt.Println("ack", n)
					acks++
					if acks == 60 {
						on.Store(true)
					}
				} else if first == nil {
					first = err
					fmt.Println("failed", err)
				}
				mu.Unlock()
				if err != nil {
					return
				}
			}
		}()
	}
	wg.Wait()
	close(done)
	fmt.Println("after", putOne(s, 1000))
	fmt.Println("health", s.Health())
	fmt.Println("view", s.View(ctx, []pseudonym.Pseudonym{storetest.Youth(7, 0)}, func(store.Reader) error { return nil }))
	if !errors.Is(s.Check(ctx), store.ErrUnavailable) {
		fmt.Println("check not unavailable")
	}
	os.Exit(0) // without Close, as a server would exit
}

// The disk fills up: below MinFreeBytes the store refuses writes with
// store.ErrUnavailable and writes nothing of them, reads go on, Health
// says why; once space is freed, writes are taken again, and nothing
// acknowledged is lost across a reopen.
func TestDiskFullRefusesWrites(t *testing.T) {
	mnt := tmpfs.Mount(t, "96m")
	dir := filepath.Join(mnt, "store")
	const min = 24 << 20
	s, err := pebblestore.Open(dir, &pebblestore.Options{Logger: quiet(), MinFreeBytes: min, MemTableSize: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { s.Close() }()
	for n := range 100 {
		if err := putOne(s, n); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Health(); err != nil {
		t.Fatalf("Health with space: %v", err)
	}
	tmpfs.Fill(t, filepath.Join(mnt, "ballast"), min-(1<<20))
	time.Sleep(500 * time.Millisecond) // the guard reads the free space every 200 ms
	if err := s.Health(); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Health on a full disk: %v", err)
	}
	err = putOne(s, 100)
	if !errors.Is(err, store.ErrUnavailable) || !strings.Contains(err.Error(), "MiB free") {
		t.Fatalf("update on a full disk: %v", err)
	}
	if present(t, s, 100) {
		t.Fatal("a refused update was written")
	}
	if !present(t, s, 5) {
		t.Fatal("reads stopped on a full disk")
	}
	if err := s.Check(ctx); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Check on a full disk: %v", err)
	}
	if err := os.Remove(filepath.Join(mnt, "ballast")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if err := s.Health(); err != nil {
		t.Fatalf("Health after freeing space: %v", err)
	}
	if err := putOne(s, 100); err != nil {
		t.Fatalf("update after freeing space: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = pebblestore.Open(dir, &pebblestore.Options{Logger: quiet(), MinFreeBytes: min})
	if err != nil {
		t.Fatal(err)
	}
	for n := range 101 {
		if !present(t, s, n) {
			t.Fatalf("update %d lost", n)
		}
	}
}

// Without the guard the disk really fills: Pebble's write fails, the
// store fails stop with store.ErrUnavailable, and after space is freed and
// the store reopened, every acknowledged update is there. (Pebble may
// also die on a failed background write: the child's exit status is not
// judged, only what it acknowledged.)
func TestDiskReallyFull(t *testing.T) {
	if dir := os.Getenv("VINDEX_ENOSPC_CHILD"); dir != "" {
		enospcChild(dir)
		return
	}
	mnt := tmpfs.Mount(t, "48m")
	dir := filepath.Join(mnt, "store")
	cmd := exec.Command(os.Args[0], "-test.run=^TestDiskReallyFull$")
	cmd.Env = append(os.Environ(), "VINDEX_ENOSPC_CHILD="+dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, _ := cmd.Output()
	acked := map[int]bool{}
	sawUnavailable := false
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if n, ok := strings.CutPrefix(line, "ack "); ok {
			k, _ := strconv.Atoi(n)
			acked[k] = true
		}
		if strings.HasPrefix(line, "failed ") && strings.Contains(line, "store: unavailable") {
			sawUnavailable = true
		}
	}
	if len(acked) == 0 {
		t.Fatalf("nothing acknowledged:\n%s\n%s", out, stderr.String())
	}
	t.Logf("%d updates acknowledged before the disk was full; the child saw store: unavailable: %v", len(acked), sawUnavailable)
	if err := os.Remove(filepath.Join(mnt, "ballast")); err != nil {
		t.Fatal(err)
	}
	reopenWithAll(t, dir, &pebblestore.Options{Logger: quiet(), MinFreeBytes: -1}, acked)
}

// reopenWithAll reopens the store in dir after a fault (closed when the
// test ends) and checks that every acknowledged update is there.
func reopenWithAll(t *testing.T, dir string, o *pebblestore.Options, acked map[int]bool) *pebblestore.Store {
	t.Helper()
	s, err := pebblestore.Open(dir, o)
	if err != nil {
		t.Fatalf("reopening after the fault: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	for n := range acked {
		if !present(t, s, n) {
			t.Errorf("acknowledged update %d lost", n)
		}
	}
	return s
}

func enospcChild(dir string) {
	s, err := pebblestore.Open(dir, &pebblestore.Options{Logger: quiet(), MinFreeBytes: -1, MemTableSize: 2 << 20})
	if err != nil {
		fmt.Println("open", err)
		os.Exit(1)
	}
	// Leave 3 MiB free: a few thousand updates of WAL.
	mnt := filepath.Dir(dir)
	if f, err := os.Create(filepath.Join(mnt, "ballast")); err == nil {
		f.Write(make([]byte, max(tmpfs.Free(mnt)-(3<<20), 0)))
		f.Close()
	}
	for n := 0; n < 200000; n++ {
		if err := putOne(s, n); err != nil {
			fmt.Println("failed", err)
			os.Exit(0)
		}
		fmt.Println("ack", n)
	}
	fmt.Println("never full")
	os.Exit(0)
}
