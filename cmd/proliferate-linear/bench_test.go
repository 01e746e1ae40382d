package main

import (
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
