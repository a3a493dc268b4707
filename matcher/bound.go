package matcher

import (
	"context"
	"log/slog"
	"slices"
	"time"

	"github.com/vindex-nl/vindex/crypto/pseudonym"
	"github.com/vindex-nl/vindex/store"
)

// What keeps one youth from being turned into an amplifier: an institution
// that registers and ends the same youth over and over makes no history
// (a report soon after its own end revives the registration it ended) and
// no flood of events (each recipient is told at most EventsPerHour events
// about one youth in an hour, and the rest in one summary when the hour is
// over). The store keeps the youth's ended registrations apart from its
// live state, so whatever history a youth has costs its operations
// nothing.

// Defaults of Config.RefreshWindow and Config.EventsPerHour.
const (
	DefaultRefreshWindow = 24 * time.Hour
	DefaultEventsPerHour = 10
)

// noticeHour is the period over which a recipient's events about one youth
// are counted.
const noticeHour = time.Hour

// noteEnd remembers that r's institution ended r itself, so that its next
// report within the refresh window revives r.
func (y *youth) noteEnd(r store.Registration) {
	if y.m.refreshWindow <= 0 {
		return
	}
	y.kase.Ends = slices.DeleteFunc(y.kase.Ends, func(e store.RecentEnd) bool { return e.Institution == r.Institution })
	y.kase.Ends = append(y.kase.Ends, store.RecentEnd{Institution: r.Institution, Registration: r.ID, At: y.now})
}

// revivable returns, made live again under the youth's current
// pseudonym, the registration that institution ended itself within the
// refresh window; nil if there is none.
func (y *youth) revivable(institution string) *store.Registration {
	i := slices.IndexFunc(y.kase.Ends, func(e store.RecentEnd) bool { return e.Institution == institution })
	if i < 0 {
		return nil
	}
	e := y.kase.Ends[i]
	y.kase.Ends = slices.Delete(y.kase.Ends, i, i+1)
	if !y.now.Before(e.At.Add(y.m.refreshWindow)) {
		return nil
	}
	r := y.byID(e.Registration)
	if r == nil || r.IsLive() || (r.EndReason != store.EndedByInstitution && r.EndReason != store.EndedOther) || r.Institution != institution {
		return nil
	}
	reg := *r
	reg.EndedAt, reg.EndReason, reg.PurgeOn = time.Time{}, store.Live, time.Time{}
	reg.Youth = y.kase.Youth
	return &reg
}

// announceReturn tells the other live institutions that reg, which they
// were told had ended, is live again: a match event, as when it first
// joined.
func (y *youth) announceReturn(reg store.Registration) {
	for _, r := range y.live {
		if r.Institution != reg.Institution {
			y.emit(store.Event{Type: store.EventMatch, Recipient: r.Institution, Registration: r.ID, Urgent: reg.Urgent,
				Others: y.others(r.Institution), Subject: reg.Institution})
		}
	}
}

// boundEvents sends the summaries of the events held back from recipients
// whose hour is over, lets this update's events through while their
// recipient's hour allows, and holds back the rest. An event that tells a
// recipient its own registration ended or went is never held: each
// registration ends once.
func (y *youth) boundEvents() {
	var out []store.Event
	kept := y.kase.Notices[:0]
	for _, n := range y.kase.Notices {
		if y.now.Before(n.Since.Add(noticeHour)) {
			kept = append(kept, n)
			continue
		}
		if own := y.liveOf(n.Recipient); n.Held > 0 && own != nil {
			out = append(out, store.Event{Type: store.EventSummary, At: y.now, Recipient: n.Recipient, Registration: own.ID,
				Urgent: n.Urgent, Others: y.others(n.Recipient), Coordinator: y.kase.Coordinator, Rule: y.kase.Rule, Collapsed: n.Held})
		}
	}
	y.kase.Notices = kept
	limit := y.m.eventsPerHour
	for _, e := range y.events {
		// A family event may be about another youth's registration: it
		// counts against this youth's report all the same.
		if limit <= 0 || !familyEvent(e) && !slices.ContainsFunc(y.live, func(r store.Registration) bool { return r.ID == e.Registration }) {
			out = append(out, e)
			continue
		}
		n := y.notice(e.Recipient)
		if n.Sent < limit {
			n.Sent++
			out = append(out, e)
			continue
		}
		if y.liveOf(e.Recipient) == nil {
			continue // not involved with this youth: nothing to sum up for it
		}
		n.Held++
		n.Urgent = n.Urgent || e.Urgent
	}
	y.events = out
	// A recipient no longer involved was told so; what it was held back
	// is no longer its to know. (One that was never involved keeps the
	// count of the family events it was told, for the rest of its hour.)
	y.kase.Notices = slices.DeleteFunc(y.kase.Notices, func(n store.Notice) bool { return y.liveOf(n.Recipient) == nil && n.Held > 0 })
}

// schedule forgets the refresh windows that have passed and sets when the
// youth is to be seen again.
func (y *youth) schedule() {
	y.kase.Ends = slices.DeleteFunc(y.kase.Ends, func(e store.RecentEnd) bool { return !y.now.Before(e.At.Add(y.m.refreshWindow)) })
	y.kase.WakeAt = y.wakeAt()
}

// notice returns the recipient's count for the current hour, starting one
// now if it has none.
func (y *youth) notice(recipient string) *store.Notice {
	for i := range y.kase.Notices {
		if y.kase.Notices[i].Recipient == recipient {
			return &y.kase.Notices[i]
		}
	}
	y.kase.Notices = append(y.kase.Notices, store.Notice{Recipient: recipient, Since: y.now})
	return &y.kase.Notices[len(y.kase.Notices)-1]
}

// wakeAt is when the youth must be seen again without a report: the end
// of the first hour with events held back, of the first refresh window,
// the first inform reminder's day, the day after an open agreement's due
// day, the end of the coordinator's term to accept or the due time of the
// escalation's next step; zero if none.
func (y *youth) wakeAt() time.Time {
	var at time.Time
	earlier := func(t time.Time) {
		if at.IsZero() || t.Before(at) {
			at = t
		}
	}
	for _, n := range y.kase.Notices {
		// Held events are summed up when the hour is over; the count of a
		// recipient not involved with the youth (told of its family) is
		// forgotten then, rather than kept until the youth's next update.
		if n.Held > 0 || y.liveOf(n.Recipient) == nil {
			earlier(n.Since.Add(noticeHour))
		}
	}
	for _, e := range y.kase.Ends {
		earlier(e.At.Add(y.m.refreshWindow))
	}
	y.informWakes(earlier)
	y.agreementWakes(earlier)
	y.coordinationWakes(earlier)
	return at
}

// keepCase reports whether the youth's case record is still needed: a live
// registration, a refresh window or held events.
func (y *youth) keepCase() bool {
	return len(y.live) > 0 || len(y.kase.Ends) > 0 || !y.kase.WakeAt.IsZero()
}

// SendHeld sends, for every youth whose hour is over, the summary of the
// events held back from each recipient (see Config.EventsPerHour), sends
// the inform reminders whose day has come (see Inform), and forgets the
// refresh windows that have passed. It returns how many summaries it
// sent. Run it every minute or so (vindex serve does); it is
// safe to run concurrently with everything else.
func (m *Matcher) SendHeld(ctx context.Context) (int, error) {
	const batch, maxBatches = 256, 1000
	sent := 0
	for range maxBatches {
		now := m.clock()
		due, err := m.store.Wakeups(ctx, now, batch)
		if err != nil {
			return sent, err
		}
		for _, p := range due {
			var y *youth
			err := m.holdingFamily(ctx, []pseudonym.Pseudonym{p}, nil, func(tx store.Tx, held []pseudonym.Pseudonym) error {
				y = m.begin(tx, p, now, m.today(now))
				if err := y.holds(held); err != nil {
					return err
				}
				return y.apply(func(*youth) error { return nil })
			})
			if err = m.committed(y, err); err != nil {
				return sent, err
			}
			for _, e := range y.events {
				if e.Type == store.EventSummary {
					sent++
				}
			}
		}
		if len(due) < batch {
			break
		}
	}
	if sent > 0 {
		m.log.LogAttrs(ctx, slog.LevelInfo, "summaries", slog.Int("sent", sent))
	}
	return sent, nil
}
