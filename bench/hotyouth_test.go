package bench_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/bench"
	"github.com/vindex-nl/vindex/bench/target"
)

// The hotyouth workload, small, in process: the attacker's cycles all
// happen, both phases run normal traffic, the hot lookups are answered (as
// not involved), and the victim's events about the hot youth are read. Not
// a timing test: the figures are only checked to be there and sane.
func TestHotYouthWorkload(t *testing.T) {
	c := bench.Config{Workload: bench.HotYouth, Ops: 1200, Concurrency: 8, Seed: 4,
		Hot: bench.Hot{Ended: 200, Phase: time.Second, Rate: 20}}
	r := mustRun(t, inProcess(t), c)
	h := r.Hot
	if h == nil {
		t.Fatal("no hot-youth figures")
	}
	var regs int64
	for _, n := range h.Prepare {
		regs += n
	}
	if h.Ended != 200 || regs != 200 || len(h.PrepareErrors) != 0 || h.PrepareSeconds <= 0 {
		t.Errorf("preparation: %d ended, registrations %v, errors %v, %.2f s; want 200 cycles", h.Ended, h.Prepare, h.PrepareErrors, h.PrepareSeconds)
	}
	if h.Without <= 0 || h.With <= 0 || h.Ratio <= 0 || r.Ops == 0 || r.Failed() != 0 {
		t.Errorf("phases: %.0f and %.0f ops/s, ratio %.3f, %d ops, errors %v", h.Without, h.With, h.Ratio, r.Ops, r.Errors)
	}
	if h.Lookups == 0 || len(h.LookupErrors) != 0 || h.Latency.P50 <= 0 || h.Latency.Max < h.Latency.P50 {
		t.Errorf("hot lookups: %d answered, errors %v, latency %+v", h.Lookups, h.LookupErrors, h.Latency)
	}
	if r.Outcomes["not_involved"] == 0 || r.Outcomes["ended"] == 0 {
		t.Errorf("normal traffic outcomes %v, want the mixed workload's", r.Outcomes)
	}
	var sum int64
	for _, n := range h.VictimEventTypes {
		sum += n
	}
	if h.VictimEvents < 1 || sum != h.VictimEvents || h.VictimEventTypes["match"] < 1 {
		t.Errorf("victim's events: %d, by type %v; want at least the match", h.VictimEvents, h.VictimEventTypes)
	}
	md := bench.NewReport(r).Markdown()
	for _, want := range []string{"Workload **hotyouth**", "Hot youth on vindex", "lookups/s of the hot youth", "holds "} {
		if !strings.Contains(md, want) {
			t.Errorf("report.md lacks %q:\n%s", want, md)
		}
	}
	// Never a BSN or birth date, the hot youth's (index Youths) included.
	js, err := json.Marshal(bench.NewReport(r))
	if err != nil {
		t.Fatal(err)
	}
	all := md + string(js)
	pop := target.NewYouths(c.Seed)
	pop.Grow(r.Config.Youths + 1)
	for i := range r.Config.Youths + 1 {
		if strings.Contains(all, pop.Digits(i)) || strings.Contains(all, pop.BirthDate(i).RevealDate().Format("2006-01-02")) {
			t.Fatalf("the report holds youth %d's BSN or birth date", i)
		}
	}
}

// Against a target without an outbox to read (the SQLite baseline) the
// victim's events are reported as not read, and the rest still runs.
func TestHotYouthWithoutEvents(t *testing.T) {
	r := mustRun(t, sqlite(t), bench.Config{Workload: bench.HotYouth, Ops: 400, Concurrency: 4, Seed: 2,
		Hot: bench.Hot{Ended: 20, Phase: 300 * time.Millisecond, Rate: 20}})
	if h := r.Hot; h == nil || h.VictimEvents != -1 || h.Ended != 20 || h.Without <= 0 || h.With <= 0 {
		t.Fatalf("sqlite hot youth: %+v", r.Hot)
	}
	if md := bench.NewReport(r).Markdown(); !strings.Contains(md, "not read") {
		t.Errorf("report.md does not say the events were not read:\n%s", md)
	}
}

// A target that never ends the attacker's registration fails the
// preparation after 100 cycles in a row, with the reason.
func TestHotYouthPreparationFails(t *testing.T) {
	_, err := bench.Run(ctx, &slow{}, bench.Config{Workload: bench.HotYouth, Ops: 100, Hot: bench.Hot{Ended: 500}}, nil)
	if err == nil || !strings.Contains(err.Error(), "100 register-and-end cycles failed in a row") {
		t.Fatalf("err = %v", err)
	}
}

func TestHotYouthConfigErrors(t *testing.T) {
	for _, c := range []bench.Config{
		{Workload: bench.Mixed, Ops: 10, Hot: bench.Hot{Ended: 5}},
		{Workload: bench.HotYouth, Ops: 10, Hot: bench.Hot{Ended: -1}},
		{Workload: bench.HotYouth, Ops: 10, Hot: bench.Hot{Rate: 1e6}},
		{Workload: bench.HotYouth, Ops: 10, Rate: 100},
		{Workload: bench.HotYouth, Ops: 10, Youths: target.MaxYouths},
	} {
		if _, err := bench.Run(ctx, &slow{}, c, nil); err == nil || !strings.HasPrefix(err.Error(), "bench: ") {
			t.Errorf("%+v: err = %v, want a bench: error", c, err)
		}
	}
}
