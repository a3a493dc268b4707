package httpapi

import (
	"math"
	"time"

	"golang.org/x/time/rate"

	"github.com/vindex-nl/vindex/rules"
)

// limiter holds a token bucket per institution and rate class, sized by the
// covenant (rules.Covenant.RateLimit). The buckets are made when the
// Handler is, one for each of the covenant's institutions and classes, and
// the map is only read afterwards: nothing a client sends makes it grow.
type limiter struct {
	buckets map[bucket]*rate.Limiter
}

type bucket struct {
	institution string
	class       rules.RateClass
}

func newLimiter(cov *rules.Covenant) *limiter {
	l := &limiter{buckets: map[bucket]*rate.Limiter{}}
	for _, inst := range cov.Institutions {
		for _, class := range rules.RateClasses() {
			r := cov.RateLimit(inst.ID, class)
			l.buckets[bucket{inst.ID, class}] = rate.NewLimiter(rate.Limit(r.PerSecond), r.Burst)
		}
	}
	return l
}

// wait reports how long institution must wait before a call of class is
// allowed at now: 0 if it is allowed now, and then its token is taken. A
// refused call takes no token. An institution the covenant does not have
// is not limited here (authentication knows only the covenant's, and the
// matcher refuses any other).
func (l *limiter) wait(institution string, class rules.RateClass, now time.Time) time.Duration {
	b, ok := l.buckets[bucket{institution, class}]
	if !ok {
		return 0
	}
	r := b.ReserveN(now, 1)
	if !r.OK() {
		return time.Hour // never allowed: a burst below 1, which the covenant refuses
	}
	d := r.DelayFrom(now)
	if d > 0 {
		r.CancelAt(now)
	}
	return d
}

// retryAfter is d in whole seconds for a Retry-After header: rounded up,
// at least 1.
func retryAfter(d time.Duration) int {
	s := int(math.Ceil(d.Seconds()))
	return max(s, 1)
}
