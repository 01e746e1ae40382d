package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/proliferate/proliferate-linear/bot/fakeslack"
)

// prepareLoad posts n alerts and opens (and fills) a create modal for
// each, with Linear fast so teams and members are cached.
func prepareLoad(ctx context.Context, w *world, n int, tag string) ([]fakeslack.View, []string, error) {
	var tss []string
	for i := range n {
		before := len(w.Slack.Messages(demoChannel))
		if status, body, err := w.sendAlert(ctx, alertFor(fmt.Sprintf("prl_load_%s_%d", tag, i))); err != nil || status != 202 {
			return nil, nil, fmt.Errorf("alert: %d %s %v", status, body, err)
		}
		var ts string
		if err := w.Slack.Wait(ctx, func() bool {
			if ms := w.Slack.Messages(demoChannel); len(ms) > before {
				ts = ms[len(ms)-1].TS
			}
			return ts != ""
		}); err != nil {
			return nil, nil, err
		}
		tss = append(tss, ts)
	}
	seen := map[string]bool{}
	for _, v := range w.Slack.Views() {
		seen[v.ID] = true
	}
	for _, ts := range tss {
		if _, err := w.Slack.ClickButton(ctx, demoUser, demoChannel, ts, "create_issue"); err != nil {
			return nil, nil, err
		}
	}
	var views []fakeslack.View
	err := w.Slack.Wait(ctx, func() bool {
		views = views[:0]
		for _, v := range w.Slack.Views() {
			if !seen[v.ID] && v.CallbackID == "create_issue" && len(elementOptions(v.Blocks, "assignee")) > 0 {
				views = append(views, v)
			}
		}
		return len(views) == n
	})
	return views, tss, err
}

// submitAll submits every view at once and waits for the acks.
func submitAll(ctx context.Context, w *world, views []fakeslack.View) error {
	var wg sync.WaitGroup
	errs := make([]error, len(views))
	for i, v := range views {
		wg.Go(func() { _, errs[i] = w.Slack.SubmitView(ctx, demoUser, v.ID) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// clickBurst clicks Create Linear Issue n times at once, spread over the
// alerts, and returns, per click, the time from its envelope to the
// views.open that used its trigger_id, as the fake recorded them.
func clickBurst(ctx context.Context, w *world, tss []string, n int) ([]time.Duration, error) {
	lat, _, err := clickBurstAcks(ctx, w, tss, n)
	return lat, err
}

// clickBurstAcks is clickBurst that also returns each click's ack latency.
func clickBurstAcks(ctx context.Context, w *world, tss []string, n int) ([]time.Duration, []time.Duration, error) {
	before := len(w.Slack.TriggerLatencies())
	var wg sync.WaitGroup
	errs := make([]error, n)
	acks := make([]time.Duration, n)
	for i := range n {
		wg.Go(func() {
			var a fakeslack.Ack
			a, errs[i] = w.Slack.ClickButton(ctx, demoUser, demoChannel, tss[i%len(tss)], "create_issue")
			acks[i] = a.Latency
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, acks, err
	}
	// Every click acked; wait for every views.open (or give up at ctx).
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	err := w.Slack.Wait(wctx, func() bool { return len(w.Slack.TriggerLatencies()) >= before+n })
	lat := w.Slack.TriggerLatencies()[before:]
	if err != nil {
		return lat, acks, fmt.Errorf("%d of %d clicks opened a modal: %w", len(lat), n, err)
	}
	return lat, acks, nil
}

func p99(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*99/100)]
}

// TestModalsOpenUnderLoad: 200 clicks at once while 16 creates wait on a
// Linear that takes 2 s per request. Every click opens its modal within
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
	views, tss, err := prepareLoad(ctx, w, creates, "t")
	if err != nil {
		t.Fatal(err)
	}
	w.Linear.SetLatency(2 * time.Second)
	if err := submitAll(ctx, w, views); err != nil {
		t.Fatal(err)
	}
	if err := w.Slack.Wait(ctx, func() bool { return w.Linear.InFlight() > 0 }); err != nil {
		t.Fatalf("the creates never reached Linear: %v", err)
	}
	lat, err := clickBurst(ctx, w, tss, clicks)
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
	t.Logf("click → views.open p99 %v with %d creates waiting on a 2 s Linear", p99(lat), creates)
	w.Linear.SetLatency(0) // the rest of the creates may finish quickly.
	if err := w.Slack.Wait(ctx, func() bool { return len(w.Linear.Issues()) == creates }); err != nil {
		t.Errorf("Linear has %d of %d issues: %v", len(w.Linear.Issues()), creates, err)
	}
}
