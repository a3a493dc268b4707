package bufferedlog

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestFlushing(t *testing.T) {
	var out syncBuf
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

	var timed syncBuf
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
