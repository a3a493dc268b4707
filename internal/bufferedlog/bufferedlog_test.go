package bufferedlog

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/internal/canary"
)

func TestFlushing(t *testing.T) {
	var out canary.Log
	l := New(&out, slog.LevelInfo, time.Hour)
	l.Info("request", "route", "POST /v1/registrations")
	if out.String() != "" {
		t.Fatal("an Info line was written at once")
	}
	l.Warn("careful")
	if s := out.String(); !strings.Contains(s, `"msg":"request"`) || !strings.Contains(s, `"msg":"careful"`) {
		t.Fatalf("a warning did not flush: %q", s)
	}
	l.With("k", "v").Info("later")
	l.Debug("hidden")
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if s := out.String(); !strings.Contains(s, `"msg":"later","k":"v"`) || strings.Contains(s, "hidden") {
		t.Fatalf("after Close: %q", s)
	}
	l.Close() // twice is fine

	var timed canary.Log
	l = New(&timed, slog.LevelInfo, 10*time.Millisecond)
	defer l.Close()
	l.Info("tick")
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(timed.String(), "tick") {
		if time.Now().After(deadline) {
			t.Fatal("the interval did not flush")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
