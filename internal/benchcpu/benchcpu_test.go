package benchcpu

import (
	"crypto/sha256"
	"testing"
	"time"
)

// TestElapsedCountsWork: CPU spent between Start and Elapsed is counted,
// and a sleep is not.
func TestElapsedCountsWork(t *testing.T) {
	c := Start()
	time.Sleep(50 * time.Millisecond)
	slept := c.Elapsed()
	if slept > 40*time.Millisecond {
		t.Errorf("a 50 ms sleep cost %v of CPU", slept)
	}
	c = Start()
	until := time.Now().Add(100 * time.Millisecond)
	var sum [32]byte
	for time.Now().Before(until) {
		sum = sha256.Sum256(sum[:])
	}
	if busy := c.Elapsed(); busy < 50*time.Millisecond {
		t.Errorf("100 ms of hashing counted as %v of CPU", busy)
	}
}
