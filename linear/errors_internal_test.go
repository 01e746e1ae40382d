package linear

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/proliferate/proliferate-linear/alert"
)

func TestRetryAfter(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	ms := func(d time.Duration) string { return strconv.FormatInt(now.Add(d).UnixMilli(), 10) }
	tests := []struct {
		name   string
		header map[string]string
		want   time.Duration
	}{
		{name: "no headers", want: 0},
		{name: "retry-after seconds", header: map[string]string{"Retry-After": "7"}, want: 7 * time.Second},
		{name: "retry-after date", header: map[string]string{"Retry-After": now.Add(time.Minute).UTC().Format(http.TimeFormat)}, want: time.Minute},
		{name: "requests reset in ms", header: map[string]string{"X-RateLimit-Requests-Reset": ms(90 * time.Second)}, want: 90 * time.Second},
		{name: "requests reset in seconds", header: map[string]string{"X-RateLimit-Requests-Reset": strconv.FormatInt(now.Add(30*time.Second).Unix(), 10)}, want: 30 * time.Second},
		{name: "requests not exhausted", header: map[string]string{"X-RateLimit-Requests-Remaining": "12", "X-RateLimit-Requests-Reset": ms(time.Minute)}, want: 0},
		{name: "complexity exhausted", header: map[string]string{
			"X-RateLimit-Requests-Remaining": "12", "X-RateLimit-Requests-Reset": ms(time.Minute),
			"X-RateLimit-Complexity-Remaining": "0", "X-RateLimit-Complexity-Reset": ms(5 * time.Minute),
		}, want: 5 * time.Minute},
		{name: "later of the two", header: map[string]string{"Retry-After": "10", "X-RateLimit-Requests-Reset": ms(20 * time.Second)}, want: 20 * time.Second},
		{name: "reset in the past", header: map[string]string{"X-RateLimit-Requests-Reset": ms(-time.Minute)}, want: 0},
		{name: "capped", header: map[string]string{"Retry-After": "86400"}, want: time.Hour},
		{name: "garbage", header: map[string]string{"Retry-After": "soon", "X-RateLimit-Requests-Reset": "x"}, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for k, v := range tt.header {
				h.Set(k, v)
			}
			if got := retryAfter(h, now); got != tt.want {
				t.Errorf("retryAfter = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseIssueRef(t *testing.T) {
	tests := []struct {
		in     string
		want   string
		wantOK bool
	}{
		{in: "ENG-123", want: "ENG-123", wantOK: true},
		{in: " eng-7 ", want: "ENG-7", wantOK: true},
		{in: "5C1F6A3E-0000-4000-8000-0000000000E1", want: "5c1f6a3e-0000-4000-8000-0000000000e1", wantOK: true},
		{in: "https://linear.app/acme/issue/OPS-42/some-slug", want: "OPS-42", wantOK: true},
		{in: "<https://linear.app/acme/issue/OPS-42/some-slug|OPS-42>", want: "OPS-42", wantOK: true},
		{in: "https://linear.app/acme/team/OPS/active"},
		{in: "ENG"},
		{in: ""},
		{in: "javascript:alert(1)"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := parseIssueRef(tt.in)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("parseIssueRef(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestClassifyTokenSourceRefusalIsNotTemporary(t *testing.T) {
	for _, sentinel := range []error{alert.ErrUnauthorized, alert.ErrNotConnected} {
		t.Run(sentinel.Error(), func(t *testing.T) {
			in := fmt.Errorf("oauth2: token source: %w", sentinel)
			err := classify(context.Background(), "listTeams", in, &respMeta{}, time.Now())
			if !errors.Is(err, sentinel) {
				t.Fatalf("classify = %v, want it to wrap %v", err, sentinel)
			}
			var tmp *alert.TemporaryError
			if errors.As(err, &tmp) || errors.Is(err, alert.ErrUnavailable) {
				t.Errorf("classify = %v: a refused token source must not look temporary", err)
			}
		})
	}
}
