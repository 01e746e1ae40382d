package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkAlertIntake measures alerts accepted per second through the real
// HTTP handler into the embedded store (signature check, validation,
// commit with its Slack job), with 50 distinct errors so repeats fold.
//
//	go test -run '^$' -bench AlertIntake ./cmd/proliferate-linear
func BenchmarkAlertIntake(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	w, err := startWorld(ctx, "", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	var n atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			p := alertFor(fmt.Sprintf("prl_bench_%d", i%50))
			status, body, err := w.sendAlert(ctx, p)
			if err != nil || status != http.StatusAccepted {
				b.Errorf("alert: %d %s %v", status, body, err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "alerts/s")
}

// BenchmarkClickToModal measures the time from a click on Create Linear
// Issue to views.open, and the ack latency, through Socket Mode.
//
//	go test -run '^$' -bench ClickToModal ./cmd/proliferate-linear
func BenchmarkClickToModal(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	w, err := startWorld(ctx, "", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	if status, _, err := w.sendAlert(ctx, demoAlert()); err != nil || status != http.StatusAccepted {
		b.Fatal(status, err)
	}
	var ts string
	_ = w.Slack.Wait(ctx, func() bool {
		if ms := w.Slack.Messages(demoChannel); len(ms) > 0 {
			ts = ms[0].TS
		}
		return ts != ""
	})
	var ack time.Duration
	b.ResetTimer()
	for range b.N {
		a, err := w.Slack.ClickButton(ctx, demoUser, demoChannel, ts, "create_issue")
		if err != nil {
			b.Fatal(err)
		}
		ack += a.Latency
	}
	b.StopTimer()
	opens := w.Slack.TriggerLatencies()
	var open time.Duration
	for _, d := range opens {
		open += d
	}
	b.ReportMetric(float64(ack.Microseconds())/float64(b.N), "µs-ack")
	if len(opens) > 0 {
		b.ReportMetric(float64(open.Microseconds())/float64(len(opens)), "µs-click-to-views.open")
	}
}

// BenchmarkClickBurst measures click → views.open p99 for 200 clicks at
// once, idle and while 16 creates wait on a Linear taking 2 s per request.
// One iteration is one burst (use -benchtime=1x; a loaded round waits for
// its creates to finish).
//
//	go test -run '^$' -bench ClickBurst -benchtime=1x ./cmd/proliferate-linear
func BenchmarkClickBurst(b *testing.B) {
	const creates, clicks = 16, 200
	for _, loaded := range []bool{false, true} {
		name := "idle"
		if loaded {
			name = "16_creates_on_2s_linear"
		}
		b.Run(name, func(b *testing.B) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			w, err := startWorld(ctx, "", slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err != nil {
				b.Fatal(err)
			}
			defer w.Close()
			var all, acks []time.Duration
			for i := range b.N {
				b.StopTimer()
				w.Linear.SetLatency(0)
				views, msgs, err := prepareLoad(ctx, w, creates, fmt.Sprintf("%s%d", name, i))
				if err != nil {
					b.Fatal(err)
				}
				if loaded {
					w.Linear.SetLatency(2 * time.Second)
					if err := submitAll(ctx, w, views); err != nil {
						b.Fatal(err)
					}
					if err := w.Slack.Wait(ctx, func() bool { return w.Linear.InFlight() > 0 }); err != nil {
						b.Fatal(err)
					}
				}
				b.StartTimer()
				lat, ack, err := clickBurstAcks(ctx, w, msgs, clicks)
				if err != nil {
					b.Fatal(err)
				}
				all, acks = append(all, lat...), append(acks, ack...)
				b.StopTimer()
				if loaded {
					want := (i + 1) * creates
					if err := w.Slack.Wait(ctx, func() bool { return len(w.Linear.Issues()) >= want }); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(p99(all).Milliseconds()), "ms-p99-click-to-views.open")
			b.ReportMetric(float64(p99(acks).Milliseconds()), "ms-p99-ack")
			b.ReportMetric(float64(len(all))/float64(b.N), "modals/burst")
		})
	}
}

// BenchmarkSubmitToReply runs the bench command's submit rows alone: one
// submit, then 16 at once, with Linear taking 1 s per request (the
// reference), each alert in a channel of its own; it prints the rows (time
// from the submit to the "Created" reply in the thread, and Linear
// requests per create) and reports them.
//
//	go test -run '^$' -bench SubmitToReply -benchtime=1x ./cmd/proliferate-linear
func BenchmarkSubmitToReply(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for range b.N {
		bn := &bench{scale: fullScale, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
		if err := bn.submit(ctx, ""); err != nil {
			b.Fatal(err)
		}
		var out bytes.Buffer
		bn.print(&out)
		b.Logf("\n%s", out.String())
	}
}
