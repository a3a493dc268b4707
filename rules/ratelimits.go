package rules

import "maps"

// RateClass is a class of API calls that share one rate limit per
// institution: each institution has a token bucket for each class, so a
// flood of one kind of call never holds up another kind.
type RateClass string

// The rate classes, and the calls in each (httpapi's route table names a
// class for every authenticated route).
const (
	// RateReports: POST /v1/registrations.
	RateReports RateClass = "reports"
	// RateLookups: POST /v1/lookups, and the informing letter (GET
	// /v1/registrations/{id}/letter).
	RateLookups RateClass = "lookups"
	// RateChanges: ending, closing and removing registrations, recording
	// deaths, and recording whether the parents or the youth were
	// informed (PATCH /v1/registrations/{id}).
	RateChanges RateClass = "changes"
	// RateEvents: GET /v1/events.
	RateEvents RateClass = "events"
)

// RateClasses returns every rate class, in a fixed order.
func RateClasses() []RateClass {
	return []RateClass{RateReports, RateLookups, RateChanges, RateEvents}
}

// Rate is a token bucket: PerSecond calls a second on average, and up to
// Burst at once after a quiet spell.
type Rate struct {
	PerSecond float64
	Burst     int
}

// RateLimits are the rates of each class.
type RateLimits map[RateClass]Rate

// DefaultRateLimits are the rates per institution that hold for a class
// the covenant does not size. They are sized for one institution's client
// system at its busiest, not for people at a screen:
//
//   - reports 50/s, burst 500: a school's or a care provider's system
//     that synchronises its whole caseload (a few thousand youths) after
//     an outage or at the start of a school year is done in minutes; a
//     stolen token cannot report more than 180,000 youths an hour, and
//     vindex_report_rate_ratio shows it long before that.
//   - lookups 20/s, burst 200: a system that looks up the youths on its
//     screen or checks its caseload now and then; a scraper is held to
//     a crawl.
//   - changes 10/s, burst 100: ends, closes, removals and deaths come one
//     at a time from people, or in small batches at a case review.
//   - events 5/s, burst 50: a client polls GET /v1/events every few
//     seconds, and pages through a backlog of 1,000 events at a time.
func DefaultRateLimits() RateLimits {
	return RateLimits{
		RateReports: {PerSecond: 50, Burst: 500},
		RateLookups: {PerSecond: 20, Burst: 200},
		RateChanges: {PerSecond: 10, Burst: 100},
		RateEvents:  {PerSecond: 5, Burst: 50},
	}
}

// Bounds of a rate in the covenant: a rate must let some calls through,
// and one above these is a typing error, not a limit.
const (
	MaxRatePerSecond = 100_000
	MaxRateBurst     = 1_000_000
)

// RateLimit returns the rate of class for institution id: the
// institution's own, else the covenant's, else the default. An unknown
// institution or class has the zero Rate (no call allowed).
func (c *Covenant) RateLimit(id string, class RateClass) Rate {
	inst, ok := c.Institution(id)
	if !ok {
		return Rate{}
	}
	return inst.RateLimits[class]
}

// rawRateLimits is a rate_limits section, of the covenant or of one
// institution.
type rawRateLimits struct {
	Reports *rawRate `yaml:"reports"`
	Lookups *rawRate `yaml:"lookups"`
	Changes *rawRate `yaml:"changes"`
	Events  *rawRate `yaml:"events"`
}

type rawRate struct {
	PerSecond *float64 `yaml:"per_second"`
	Burst     *int     `yaml:"burst"`
}

func (r *rawRateLimits) byClass() map[RateClass]*rawRate {
	return map[RateClass]*rawRate{RateReports: r.Reports, RateLookups: r.Lookups, RateChanges: r.Changes, RateEvents: r.Events}
}

// rateLimits returns base with the sizes raw gives instead (a class may
// give only per_second or only burst); it fails on a size out of bounds.
// where names the section in errors ("rate_limits" or "institution x:
// rate_limits"), and line(key) is the line of a key under it.
func (b *builder) rateLimits(base RateLimits, raw *rawRateLimits, where string, line func(string) int) RateLimits {
	out := maps.Clone(base)
	if raw == nil {
		return out
	}
	given := raw.byClass()
	for _, class := range RateClasses() {
		r := given[class]
		if r == nil {
			continue
		}
		rate := out[class]
		key := string(class)
		if v := r.PerSecond; v != nil {
			if !(*v > 0 && *v <= MaxRatePerSecond) { // NaN too
				b.fail(line(key+".per_second"), "%s.%s.per_second must be above 0 and at most %d", where, class, MaxRatePerSecond)
			}
			rate.PerSecond = *v
		}
		if v := r.Burst; v != nil {
			if *v < 1 || *v > MaxRateBurst {
				b.fail(line(key+".burst"), "%s.%s.burst must be from 1 to %d", where, class, MaxRateBurst)
			}
			rate.Burst = *v
		}
		out[class] = rate
	}
	return out
}
