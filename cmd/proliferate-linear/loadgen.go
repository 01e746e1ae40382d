package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/proliferate/proliferate-linear/bot/fakeslack"
	"github.com/proliferate/proliferate-linear/httpapi"
)

// This file drives a world (demo.go) the way load does: many alerts, many
// clicks and submits at once. The bench command, the benchmarks and the
// load tests share it.

// msgRef is an alert message in Slack.
type msgRef struct{ Channel, TS string }

// alertFor is demoAlert for another Proliferate issue.
func alertFor(errorID string) map[string]any {
	p := demoAlert()
	p["issue_id"] = errorID
	p["url"] = "https://app.proliferate.dev/acme/web/issues/" + errorID
	return p
}

// loadChannels numbers the channels postAlerts makes.
var loadChannels atomic.Int64

// postAlerts sends n alerts of new errors, each to a channel of its own,
// and waits for their messages. One channel each keeps the preparation
// from waiting on Slack's pace of one message a second per channel.
func postAlerts(ctx context.Context, w *world, n int, tag string) ([]msgRef, error) {
	refs := make([]msgRef, n)
	for i := range n {
		ch := fmt.Sprintf("C0LOAD%06d", loadChannels.Add(1))
		w.Slack.AddChannel(ch, "load")
		p := alertFor(fmt.Sprintf("prl_load_%s_%d", tag, i))
		p["channel"] = ch
		if status, body, err := w.sendAlert(ctx, p); err != nil || status != http.StatusAccepted {
			return nil, fmt.Errorf("alert: %d %s %v", status, body, err)
		}
		refs[i].Channel = ch
	}
	for i := range refs {
		if err := w.Slack.Wait(ctx, func() bool {
			if ms := w.Slack.Messages(refs[i].Channel); len(ms) > 0 {
				refs[i].TS = ms[0].TS
			}
			return refs[i].TS != ""
		}); err != nil {
			return nil, fmt.Errorf("alert message in %s: %w", refs[i].Channel, err)
		}
	}
	return refs, nil
}

// prepareLoad posts n alerts and opens (and fills) a create modal for
// each, with Linear fast so teams and members are cached.
func prepareLoad(ctx context.Context, w *world, n int, tag string) ([]fakeslack.View, []msgRef, error) {
	refs, err := postAlerts(ctx, w, n, tag)
	if err != nil {
		return nil, nil, err
	}
	seen := map[string]bool{}
	for _, v := range w.Slack.Views() {
		seen[v.ID] = true
	}
	for _, r := range refs {
		if _, err := w.Slack.ClickButton(ctx, demoUser, r.Channel, r.TS, "create_issue"); err != nil {
			return nil, nil, err
		}
	}
	var views []fakeslack.View
	err = w.Slack.Wait(ctx, func() bool {
		views = views[:0]
		for _, v := range w.Slack.Views() {
			if !seen[v.ID] && v.CallbackID == "create_issue" && len(elementOptions(v.Blocks, "assignee")) > 0 {
				views = append(views, v)
			}
		}
		return len(views) == n
	})
	return views, refs, err
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

// clickBurstAcks clicks Create Linear Issue n times at once, spread over
// the alert messages, and returns, per click, the time from its envelope
// to the views.open that used its trigger_id (as the fake recorded them)
// and each click's ack latency.
func clickBurstAcks(ctx context.Context, w *world, msgs []msgRef, n int) ([]time.Duration, []time.Duration, error) {
	before := len(w.Slack.TriggerLatencies())
	var wg sync.WaitGroup
	errs := make([]error, n)
	acks := make([]time.Duration, n)
	for i := range n {
		wg.Go(func() {
			var a fakeslack.Ack
			m := msgs[i%len(msgs)]
			a, errs[i] = w.Slack.ClickButton(ctx, demoUser, m.Channel, m.TS, "create_issue")
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

// intakeRun is what sendAlerts measured.
type intakeRun struct {
	Elapsed time.Duration
	// Latencies holds each alert's time from sending to the 202.
	Latencies []time.Duration
	// CPU is the CPU time this process used meanwhile (the bot, the fakes
	// and the load generator), -1 where unknown.
	CPU time.Duration
}

// PerSecond is alerts answered 202 per second.
func (r intakeRun) PerSecond() float64 { return float64(len(r.Latencies)) / r.Elapsed.Seconds() }

// sendAlerts sends n signed alerts from workers connections at once,
// alert i being payload(i), and fails unless every one is answered 202.

// The bodies are encoded before the clock starts: encoding them is the
// sender's work, which here shares the bot's CPUs (each is still signed
// as it is sent, so its timestamp is current).
func sendAlerts(ctx context.Context, w *world, n, workers int, payload func(i int) map[string]any) (intakeRun, error) {
	bodies := make([][]byte, n)
	for i := range n {
		b, err := json.Marshal(payload(i))
		if err != nil {
			return intakeRun{}, err
		}
		bodies[i] = b
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers, MaxConnsPerHost: workers}}
	defer client.CloseIdleConnections()
	url := "http://" + w.Main.Addr() + "/api/v1/alerts"
	lat := make([]time.Duration, n)
	errs := make([]error, workers)
	var next atomic.Int64
	var wg sync.WaitGroup
	cpu0 := processCPU()
	start := time.Now()
	for k := range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				body := bodies[i]
				t0 := time.Now()
				ts, sig := httpapi.SignAlert(w.Secret, t0, body)
				req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
				if err != nil {
					errs[k] = err
					return
				}
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set(httpapi.TimestampHeader, ts)
				req.Header.Set(httpapi.SignatureHeader, sig)
				resp, err := client.Do(req)
				if err != nil {
					errs[k] = err
					return
				}
				out, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusAccepted {
					errs[k] = fmt.Errorf("alert %d: %d %s", i, resp.StatusCode, out)
					return
				}
				lat[i] = time.Since(t0)
			}
		})
	}
	wg.Wait()
	run := intakeRun{Elapsed: time.Since(start), Latencies: lat, CPU: -1}
	if cpu0 >= 0 {
		run.CPU = processCPU() - cpu0
	}
	return run, errors.Join(errs...)
}

func p99(ds []time.Duration) time.Duration { return percentile(ds, 99) }

// percentile is the p-th percentile of ds (nearest rank), 0 for none.
func percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*p/100)]
}
