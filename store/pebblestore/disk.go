package pebblestore

import (
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/vindex-nl/vindex/store"
)

// diskGuard watches the free space of the store's file system, so that
// writes are refused while it is low, rather than failing half-way when the
// disk is full.
type diskGuard struct {
	dir string
	min int64
	log *slog.Logger
	low atomic.Pointer[error]
	// lastFree is the free space the last check read, for the metrics.
	lastFree atomic.Int64
	quit     chan struct{}
	stopped  sync.WaitGroup
	// free returns the bytes available to the process; a variable for
	// tests.
	free func(dir string) (int64, error)
}

// diskCheckInterval is how often the free space is read.
const diskCheckInterval = 200 * time.Millisecond

func startDiskGuard(dir string, min int64, log *slog.Logger) *diskGuard {
	g := &diskGuard{dir: dir, min: min, log: log, quit: make(chan struct{}), free: freeBytes}
	g.check()
	g.stopped.Add(1)
	go func() {
		defer g.stopped.Done()
		t := time.NewTicker(diskCheckInterval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				g.check()
			case <-g.quit:
				return
			}
		}
	}()
	return g
}

func (g *diskGuard) stop() {
	close(g.quit)
	g.stopped.Wait()
}

// err is the reason writes are refused, or nil.
func (g *diskGuard) err() error {
	if p := g.low.Load(); p != nil {
		return *p
	}
	return nil
}

func (g *diskGuard) check() {
	free, err := g.free(g.dir)
	if err != nil {
		return // keep the last verdict; Pebble reports real I/O errors
	}
	g.lastFree.Store(free)
	was := g.low.Load() != nil
	if free < g.min {
		e := fmt.Errorf("pebblestore: %d MiB free on the data directory's file system, below the minimum of %d MiB; writes are refused until space is freed: %w",
			free>>20, g.min>>20, store.ErrUnavailable)
		g.low.Store(&e)
		if !was {
			g.log.Error("disk space low: writes refused", slog.String("component", "pebblestore"),
				slog.Int64("free_bytes", free), slog.Int64("min_free_bytes", g.min))
		}
		return
	}
	g.low.Store(nil)
	if was {
		g.log.Info("disk space back above the minimum: writes taken again", slog.String("component", "pebblestore"),
			slog.Int64("free_bytes", free))
	}
}

func freeBytes(dir string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return int64(st.Bavail) * st.Bsize, nil
}
