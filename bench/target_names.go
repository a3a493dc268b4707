package bench

import "github.com/vindex-nl/vindex/bench/target"

// The vocabulary bench shares with its targets is defined in bench/target,
// below bench and the targets alike; bench names the types and constants
// its own API uses.
type (
	// Target is target.Target.
	Target = target.Target
	// Outcome is target.Outcome.
	Outcome = target.Outcome
	// Youth is target.Youth.
	Youth = target.Youth
	// RegistrationIDs is target.RegistrationIDs.
	RegistrationIDs[ID any] = target.RegistrationIDs[ID]
)

// The outcomes (see target.Outcome).
const (
	Registered  = target.Registered
	NewMatch    = target.NewMatch
	Refreshed   = target.Refreshed
	Viewed      = target.Viewed
	NotInvolved = target.NotInvolved
	Ended       = target.Ended
	Skipped     = target.Skipped
)
