package notify_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/vindex-nl/vindex/notify"
)

// The known-answer vector of the Standard Webhooks reference libraries.
const (
	vectorSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vectorID        = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vectorTimestamp = 1614265330
	vectorBody      = `{"test": 2432232314}`
	vectorSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func vector(t *testing.T) (notify.WebhookSecret, http.Header) {
	t.Helper()
	s, err := notify.ParseWebhookSecret(vectorSecret)
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	notify.SignWebhook(h, s, vectorID, time.Unix(vectorTimestamp, 0), []byte(vectorBody))
	return s, h
}

func TestSignWebhookKnownAnswer(t *testing.T) {
	_, h := vector(t)
	if got := h.Get(notify.HeaderWebhookSignature); got != vectorSignature {
		t.Fatalf("signature %s, want %s", got, vectorSignature)
	}
	if h.Get(notify.HeaderWebhookID) != vectorID || h.Get(notify.HeaderWebhookTimestamp) != "1614265330" {
		t.Fatalf("headers %v", h)
	}
}

func TestVerifyWebhook(t *testing.T) {
	at := time.Unix(vectorTimestamp, 0)
	other := notify.NewWebhookSecret()
	for _, tc := range []struct {
		name   string
		change func(h http.Header, body *string, s *notify.WebhookSecret, now *time.Time)
		want   error
	}{
		{"valid", nil, nil},
		{"valid at the edge of the tolerance", func(_ http.Header, _ *string, _ *notify.WebhookSecret, now *time.Time) {
			*now = at.Add(notify.DefaultTolerance)
		}, nil},
		{"several signatures, one valid", func(h http.Header, _ *string, _ *notify.WebhookSecret, _ *time.Time) {
			h.Set(notify.HeaderWebhookSignature, "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v2,abc "+vectorSignature)
		}, nil},
		{"secret without prefix", func(_ http.Header, _ *string, s *notify.WebhookSecret, _ *time.Time) {
			*s, _ = notify.ParseWebhookSecret(strings.TrimPrefix(vectorSecret, "whsec_"))
		}, nil},
		{"body changed", func(_ http.Header, b *string, _ *notify.WebhookSecret, _ *time.Time) { *b += " " }, notify.ErrWebhookSignature},
		{"id changed", func(h http.Header, _ *string, _ *notify.WebhookSecret, _ *time.Time) {
			h.Set(notify.HeaderWebhookID, "msg_other")
		}, notify.ErrWebhookSignature},
		{"timestamp changed", func(h http.Header, _ *string, _ *notify.WebhookSecret, _ *time.Time) {
			h.Set(notify.HeaderWebhookTimestamp, "1614265331")
		}, notify.ErrWebhookSignature},
		{"other secret", func(_ http.Header, _ *string, s *notify.WebhookSecret, _ *time.Time) { *s = other }, notify.ErrWebhookSignature},
		{"only a v2 signature", func(h http.Header, _ *string, _ *notify.WebhookSecret, _ *time.Time) {
			h.Set(notify.HeaderWebhookSignature, "v2,"+strings.TrimPrefix(vectorSignature, "v1,"))
		}, notify.ErrWebhookSignature},
		{"too old", func(_ http.Header, _ *string, _ *notify.WebhookSecret, now *time.Time) {
			*now = at.Add(notify.DefaultTolerance + time.Second)
		}, notify.ErrWebhookTimestamp},
		{"from the future", func(_ http.Header, _ *string, _ *notify.WebhookSecret, now *time.Time) {
			*now = at.Add(-notify.DefaultTolerance - time.Second)
		}, notify.ErrWebhookTimestamp},
		{"no id", func(h http.Header, _ *string, _ *notify.WebhookSecret, _ *time.Time) { h.Del(notify.HeaderWebhookID) }, notify.ErrWebhookHeaders},
		{"no timestamp", func(h http.Header, _ *string, _ *notify.WebhookSecret, _ *time.Time) {
			h.Del(notify.HeaderWebhookTimestamp)
		}, notify.ErrWebhookHeaders},
		{"no signature", func(h http.Header, _ *string, _ *notify.WebhookSecret, _ *time.Time) {
			h.Del(notify.HeaderWebhookSignature)
		}, notify.ErrWebhookHeaders},
		{"timestamp not a number", func(h http.Header, _ *string, _ *notify.WebhookSecret, _ *time.Time) {
			h.Set(notify.HeaderWebhookTimestamp, "yesterday")
		}, notify.ErrWebhookHeaders},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, h := vector(t)
			body, now := vectorBody, at
			if tc.change != nil {
				tc.change(h, &body, &s, &now)
			}
			id, err := notify.VerifyWebhook(s, h, []byte(body), now, 0)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
			if err == nil && id != h.Get(notify.HeaderWebhookID) {
				t.Fatalf("id %q", id)
			}
			if err != nil && (strings.Contains(err.Error(), "MfKQ9r8") || strings.Contains(err.Error(), "g0hM9")) {
				t.Fatalf("the error quotes a secret or signature: %v", err)
			}
		})
	}
}

func TestWebhookSecret(t *testing.T) {
	s := notify.NewWebhookSecret()
	back, err := notify.ParseWebhookSecret(s.Text())
	if err != nil || back.Text() != s.Text() || !strings.HasPrefix(s.Text(), "whsec_") {
		t.Fatalf("round trip: %v", err)
	}
	if notify.NewWebhookSecret().Text() == s.Text() {
		t.Fatal("two new secrets are equal")
	}
	for _, printed := range []string{fmt.Sprint(s), fmt.Sprintf("%v %+v %#v %s", s, s, s, s)} {
		if strings.Contains(printed, strings.TrimPrefix(s.Text(), "whsec_")) {
			t.Fatalf("a secret printed: %s", printed)
		}
	}
	for _, bad := range []string{"", "whsec_", "whsec_!!!!", "whsec_c2hvcnQ="} {
		if _, err := notify.ParseWebhookSecret(bad); !errors.Is(err, notify.ErrWebhookSecret) {
			t.Errorf("ParseWebhookSecret(%q) = %v", bad, err)
		}
	}
}

// A receiver in a vendor's client system, end to end over HTTP.
func ExampleVerifyWebhook() {
	secret, _ := notify.ParseWebhookSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	seen := map[string]bool{}
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		id, err := notify.VerifyWebhook(secret, r.Header, body, time.Now(), 0)
		if err != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		if !seen[id] { // at-least-once delivery: drop a repeat by its ID
			seen[id] = true
			fmt.Println("received", id, string(body))
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer receiver.Close()

	send := func(s notify.WebhookSecret) int {
		body := []byte(`{"type":"match"}`)
		req, _ := http.NewRequest("POST", receiver.URL, strings.NewReader(string(body)))
		notify.SignWebhook(req.Header, s, "evt_42", time.Now(), body)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	fmt.Println(send(secret))
	fmt.Println(send(secret)) // a retry: delivered again, dropped by ID
	fmt.Println(send(notify.NewWebhookSecret()))
	// Output:
	// received evt_42 {"type":"match"}
	// 204
	// 204
	// 401
}
