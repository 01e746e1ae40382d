package faults

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"
)

// TestSlackRetryAfter: Slack answers the first chat.postMessage calls in a
// channel 429 with Retry-After: 2. Promise: no alert dropped, and no call
// to the channel before the wait Slack asked for is over — also from jobs
// that were already waiting for the channel's turn.
func TestSlackRetryAfter(t *testing.T) {
	t.Parallel()
	const (
		alerts     = 5
		limited    = 3
		retryAfter = 2 * time.Second
	)
	forEachStore(t, func(t *testing.T, dbURL string) {
		t.Parallel()
		w := newWorld(t, dbURL, 1)
		ch := w.channels[0]
		r := w.start("replica", nil)
		w.Slack.RateLimit("chat.postMessage", limited, retryAfter)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		start := time.Now()
		var payloads []map[string]any
		for i := range alerts {
			p := alertPayload(fmt.Sprintf("limited-%d", i), ch)
			payloads = append(payloads, p)
			if status, err := w.send(ctx, r.addr, p); err != nil || status != http.StatusAccepted {
				t.Fatalf("alert %d: %d %v", i, status, err)
			}
		}
		res := w.observe(payloads, 45*time.Second)

		// Every call must come after the end of every wait Slack asked for
		// before it. The fake stamps a call when it arrives, before it
		// answers, so the bot's wait cannot have started earlier.
		calls := w.Slack.Calls("chat.postMessage")
		var waitUntil time.Time
		early, throttled := 0, 0
		var worst time.Duration
		for _, c := range calls {
			if c.At.Before(waitUntil) {
				early++
				worst = max(worst, waitUntil.Sub(c.At))
			}
			if c.Status == http.StatusTooManyRequests {
				throttled++
				waitUntil = c.At.Add(retryAfter)
			}
		}
		t.Logf("Slack 429 + Retry-After %s on the first %d posts: %d alerts, %d posted, %d dropped, %d duplicated, %d calls before the wait was over (worst %s early), all posted %s after the first alert",
			secs(retryAfter), throttled, alerts, res.posted, len(res.missing), res.duplicated, early, secs(worst), secs(res.last.Sub(start)))
		if throttled != limited {
			t.Errorf("%d calls answered 429, want %d", throttled, limited)
		}
		if len(res.missing) > 0 {
			t.Errorf("alerts dropped: %v", res.missing)
		}
		if res.duplicated > 0 {
			t.Errorf("%d duplicate messages", res.duplicated)
		}
		if early > 0 {
			t.Errorf("%d chat.postMessage calls went out before Slack's Retry-After was over (worst %s early)", early, secs(worst))
		}
	})
}
