// Package benchcpu reports a benchmark's CPU time per operation: the
// process's user and system time, every goroutine's (a store's flushes and
// compactions included), between Start and Report. A rate says how fast the
// machine ran an operation; the CPU time says what it cost, which is what
// sizing a machine with more or fewer cores needs (docs/benchmarks.md,
// "What bounds each target on this machine").
//
// It reads getrusage(2), so it builds on Unix only, as the benchmarks
// that use it run there.
package benchcpu

import (
	"syscall"
	"testing"
	"time"
)

// Clock is the process's CPU time at Start.
type Clock struct{ start time.Duration }

// Start reads the process's CPU time.
func Start() Clock { return Clock{start: cpuTime()} }

// Elapsed is the process's CPU time since Start.
func (c Clock) Elapsed() time.Duration { return cpuTime() - c.start }

// Report adds the CPU time since Start per operation to b's results, as
// cpu-µs/op.
func (c Clock) Report(b *testing.B) {
	if b.N == 0 {
		return
	}
	b.ReportMetric(float64(c.Elapsed().Microseconds())/float64(b.N), "cpu-µs/op")
}

// cpuTime is the process's user and system time, 0 if unknown.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
