package main

import (
	"context"
	"testing"
	"time"
)

// clickBurst clicks Create Linear Issue n times at once, spread over the
// alerts, and returns, per click, the time from its envelope to the
// views.open that used its trigger_id, as the fake recorded them.
func clickBurst(ctx context.Context, w *world, msgs []msgRef, n int) ([]time.Duration, error) {
	lat, _, err := clickBurstAcks(ctx, w, msgs, n)
	return lat, err
}

// TestModalsOpenUnderLoad: 200 clicks at once while 16 creates wait on a
// Linear that holds every request until the burst is over. Every click opens its modal within
// Slack's 3 s (as the fake measured from each click's envelope to the
// views.open with its trigger_id), while the creates are still at Linear;
// afterwards every create finishes. Under the race detector the burst is
// 40 clicks: the detector's tenfold CPU cost, not the bot, would miss 3 s.
func TestModalsOpenUnderLoad(t *testing.T) {
	const creates = 16
	clicks := 200
	if raceEnabled {
		clicks = 40
	}
	w, ctx := startTestWorld(t, "")
	views, msgs, err := prepareLoad(ctx, w, creates, "t")
	if err != nil {
		t.Fatal(err)
	}
	release := w.Linear.Hold()
	defer release()
	if err := submitAll(ctx, w, views); err != nil {
		t.Fatal(err)
	}
	if err := w.Slack.Wait(ctx, func() bool { return w.Linear.InFlight() > 0 }); err != nil {
		t.Fatalf("the creates never reached Linear: %v", err)
	}
	lat, err := clickBurst(ctx, w, msgs, clicks)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(w.Linear.Issues()); n >= creates {
		t.Fatalf("all %d creates finished before the modals opened; the load was not there", n)
	}
	if len(lat) != clicks {
		t.Errorf("%d views.open for %d clicks", len(lat), clicks)
	}
	late := 0
	for _, d := range lat {
		if d >= 3*time.Second {
			late++
		}
	}
	if late > 0 {
		t.Errorf("%d of %d modals opened after Slack's 3 s (p99 %v)", late, clicks, p99(lat))
	}
	if un := w.Slack.Unacked(); len(un) != 0 {
		t.Errorf("%d envelopes not acked in time", len(un))
	}
	t.Logf("click → views.open p99 %v with %d creates waiting on Linear", p99(lat), creates)
	release() // the creates may finish now.
	if err := w.Slack.Wait(ctx, func() bool { return len(w.Linear.Issues()) == creates }); err != nil {
		t.Errorf("Linear has %d of %d issues: %v", len(w.Linear.Issues()), creates, err)
	}
}
