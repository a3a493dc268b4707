package replication

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/vindex-nl/vindex/store"
)

// Config configures a Node. The zero value of each field but URLs, Name
// and EntryOf means its documented default; every node of a cluster must
// have the same Stream, LeaseBucket, StatusBucket, Replicas and LeaseTTL
// (the stream and buckets are created by the first node to start, with
// its settings, and a node whose settings differ refuses to start).
type Config struct {
	// URLs are the NATS servers the node may connect to (nats:// or
	// tls://); the servers the cluster advertises are not used. Given
	// all of a cluster's servers, a node whose server fails reconnects
	// to another; given only its own machine's, it is cut off with it
	// (and, leading, steps down). Required.
	URLs []string
	// TLS, if not nil, is used to connect to the servers (the server's
	// certificate is checked against its RootCAs; a client certificate
	// in it authenticates the node). If nil, the connection is in the
	// clear, for a server on the same machine.
	TLS *tls.Config
	// Name names the node: the leader lease holds it and the node's
	// status is kept under it. Unique in the cluster; letters, digits,
	// '-' and '_' only. Required.
	Name string
	// EntryOf parses a store entry's ID (its position and random ID).
	// Required.
	EntryOf func(entry []byte) (store.EntryID, error)

	// Stream is the JetStream stream holding the log; its one subject is
	// Stream + ".log". Default "VINDEX".
	Stream string
	// Replicas is how many servers hold the stream and the buckets.
	// Default 3.
	Replicas int
	// LeaseBucket is the key-value bucket holding the leader lease.
	// Default "vindex_leader".
	LeaseBucket string
	// StatusBucket is the key-value bucket where each node keeps its
	// applied position. Default "vindex_nodes".
	StatusBucket string
	// LeaseTTL is how long a leader's lease lasts without renewal: the
	// leader renews it every LeaseTTL/4 and steps down once LeaseTTL/2
	// has passed without a renewal; a follower tries to take it every
	// LeaseTTL/4. A leader that dies without stepping down is replaced
	// within about LeaseTTL and a quarter. Default 4s.
	LeaseTTL time.Duration
	// AckTimeout is how long an append waits for the stream's
	// acknowledgement before it fails (and the leader steps down).
	// Default 5s.
	AckTimeout time.Duration
	// StatusInterval is how often the node writes its applied position
	// to the status bucket and reads the stream's last position for the
	// lag metric. Default 2s.
	StatusInterval time.Duration
	// Logger gets a line per election, step-down and failure; never an
	// entry's content. If nil, nothing is logged.
	Logger *slog.Logger
}

// ErrConfig is wrapped by Validate's errors.
var ErrConfig = errors.New("replication: invalid configuration")

func (c *Config) ensureDefaults() {
	if c.Stream == "" {
		c.Stream = "VINDEX"
	}
	if c.Replicas == 0 {
		c.Replicas = 3
	}
	if c.LeaseBucket == "" {
		c.LeaseBucket = "vindex_leader"
	}
	if c.StatusBucket == "" {
		c.StatusBucket = "vindex_nodes"
	}
	if c.LeaseTTL == 0 {
		c.LeaseTTL = 4 * time.Second
	}
	if c.AckTimeout == 0 {
		c.AckTimeout = 5 * time.Second
	}
	if c.StatusInterval == 0 {
		c.StatusInterval = 2 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate says what is wrong with c (after defaults).
func (c Config) Validate() error {
	c.ensureDefaults()
	var errs []error
	if len(c.URLs) == 0 {
		errs = append(errs, errors.New("no NATS URL"))
	}
	if !validName(c.Name) {
		errs = append(errs, fmt.Errorf("node name %q: want letters, digits, '-' and '_'", c.Name))
	}
	if c.EntryOf == nil {
		errs = append(errs, errors.New("no EntryOf"))
	}
	if !validName(c.Stream) || !validName(c.LeaseBucket) || !validName(c.StatusBucket) {
		errs = append(errs, errors.New("stream and bucket names: want letters, digits, '-' and '_'"))
	}
	if c.Replicas < 1 || c.Replicas > 5 {
		errs = append(errs, fmt.Errorf("replicas %d: want 1 to 5", c.Replicas))
	}
	if c.LeaseTTL < 400*time.Millisecond {
		errs = append(errs, fmt.Errorf("lease TTL %v: want at least 400ms", c.LeaseTTL))
	}
	if c.AckTimeout <= 0 || c.StatusInterval <= 0 {
		errs = append(errs, errors.New("ack timeout and status interval must be positive"))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrConfig, errors.Join(errs...))
	}
	return nil
}

func validName(s string) bool {
	return s != "" && len(s) <= 64 && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_')
	}) < 0
}

func (c *Config) subject() string { return c.Stream + ".log" }
