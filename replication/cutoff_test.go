package replication

import (
	"errors"
	"fmt"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/vindex-nl/vindex/store"
)

// TestClassifyCutOff: a publish that fails because the connection is lost
// is store.ErrCutOff (the leader stops leading with a warning, as in a
// partition); any other failure is not.
func TestClassifyCutOff(t *testing.T) {
	for _, tc := range []struct {
		err    error
		cutOff bool
	}{
		{nats.ErrReconnectBufExceeded, true},
		{fmt.Errorf("publish: %w", nats.ErrDisconnected), true},
		{nats.ErrConnectionClosed, true},
		{nats.ErrConnectionReconnecting, true},
		{nats.ErrNoServers, true},
		{nats.ErrTimeout, false},
		{errors.New("nats: something else"), false},
	} {
		err := classify(7, tc.err)
		if got := errors.Is(err, store.ErrCutOff); got != tc.cutOff {
			t.Errorf("classify(%v) = %v: cut off %v, want %v", tc.err, err, got, tc.cutOff)
		}
		if !errors.Is(err, tc.err) {
			t.Errorf("classify(%v) = %v: lost the cause", tc.err, err)
		}
	}
}
