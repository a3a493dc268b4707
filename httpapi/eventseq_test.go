package httpapi_test

import (
	"net/http"
	"testing"

	"github.com/vindex-nl/vindex/httpapi"
)

// Each institution's events are numbered in a sequence of its own: the
// next an institution polls with does not move when others get events, so
// it learns nothing of how many they got.
func TestEventSeqPerInstitution(t *testing.T) {
	e := newEnv(t)
	if r := e.do(byToken(school), "POST", "/v1/registrations", report(t, 1, "signal")); r.status != http.StatusCreated {
		t.Fatalf("school: %d %s", r.status, r.body)
	}
	mine := decodeAs[httpapi.EventsResponse](t, e.do(byToken(school), "GET", "/v1/events", nil))
	if len(mine.Events) != 1 || mine.Events[0].Seq != 1 || mine.Next != 1 {
		t.Fatalf("school's first events: %+v", mine)
	}

	// GGD gets events of its own.
	for youth := 2; youth <= 4; youth++ {
		if r := e.do(byToken(ggd), "POST", "/v1/registrations", report(t, youth, "involvement")); r.status != http.StatusCreated {
			t.Fatalf("ggd: %d %s", r.status, r.body)
		}
	}
	theirs := decodeAs[httpapi.EventsResponse](t, e.do(byToken(ggd), "GET", "/v1/events", nil))
	if len(theirs.Events) == 0 {
		t.Fatal("ggd has no events")
	}
	for i, ev := range theirs.Events {
		if ev.Seq != uint64(i+1) {
			t.Fatalf("ggd's event %d has seq %d, want %d", i, ev.Seq, i+1)
		}
	}

	// The school's place does not move, and its next event is its 2.
	again := decodeAs[httpapi.EventsResponse](t, e.do(byToken(school), "GET", "/v1/events?after="+itoa(mine.Next), nil))
	if len(again.Events) != 0 || again.Next != mine.Next {
		t.Fatalf("school after ggd's events: %+v, want none and next %d", again, mine.Next)
	}
	if r := e.do(byCert(wij), "POST", "/v1/registrations", report(t, 1, "involvement")); r.status != http.StatusCreated {
		t.Fatalf("wij: %d %s", r.status, r.body)
	}
	match := decodeAs[httpapi.EventsResponse](t, e.do(byToken(school), "GET", "/v1/events?after="+itoa(mine.Next), nil))
	if len(match.Events) != 1 || match.Events[0].Type != "match" || match.Events[0].Seq != 2 || match.Next != 2 {
		t.Fatalf("school's match: %+v, want its event 2", match)
	}
}
