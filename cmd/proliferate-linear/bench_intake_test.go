package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/proliferate/proliferate-linear/bot/fakeslack"
)

// BenchmarkProliferateMessage measures the Slack message path next to the
// webhook's: the ack of Proliferate's message event through Socket Mode
// (the bot acks before touching the database), and the time from the post
// to the bot's reply with the buttons in its thread (recognise, store once
// per event_id, queue, post). Each message goes to a channel of its own:
// in one channel the replies are paced at Slack's one message a second,
// which would be all this measured.
//
//	go test -run '^$' -bench ProliferateMessage ./cmd/proliferate-linear
func BenchmarkProliferateMessage(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	w, err := startWorld(ctx, "", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	var ack, reply time.Duration
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		channel := fmt.Sprintf("C0BENCH%06d", i)
		w.Slack.AddChannel(channel, "bench")
		b.StartTimer()
		start := time.Now()
		ts, a, err := w.Slack.PostAsBot(ctx, channel, proliferateBot,
			proliferatePost(fmt.Sprintf("prl_bench_%d", i), "New issue: TypeError: bench", 1, 1))
		if err != nil {
			b.Fatal(err)
		}
		ack += a.Latency
		if err := w.Slack.Wait(ctx, func() bool { return len(w.Slack.Thread(channel, ts)) > 0 }); err != nil {
			b.Fatal(err)
		}
		reply += time.Since(start)
	}
	b.StopTimer()
	b.ReportMetric(float64(ack.Microseconds())/float64(b.N), "µs-ack")
	b.ReportMetric(float64(reply.Microseconds())/float64(b.N), "µs-post-to-reply")
}

// BenchmarkClickToModalSlackMessage is BenchmarkClickToModal on the Slack
// message path: Create Linear Issue on the bot's reply in Proliferate's
// thread, and the Create Linear Issue message shortcut on a person's
// message (which stores the message's alert and reads its permalink and
// author from Slack before views.open).
//
//	go test -run '^$' -bench ClickToModalSlackMessage ./cmd/proliferate-linear
func BenchmarkClickToModalSlackMessage(b *testing.B) {
	for _, path := range []string{"button_in_thread", "shortcut_on_person_message"} {
		b.Run(path, func(b *testing.B) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			w, err := startWorld(ctx, "", slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err != nil {
				b.Fatal(err)
			}
			defer w.Close()
			var target string // the message clicked
			if path == "button_in_thread" {
				ts, _, err := w.Slack.PostAsBot(ctx, demoChannel, proliferateBot, proliferatePost(demoSlackIssue, "New issue: TypeError: x", 1, 1))
				if err != nil {
					b.Fatal(err)
				}
				if err := w.Slack.Wait(ctx, func() bool {
					th := w.Slack.Thread(demoChannel, ts)
					if len(th) > 0 {
						target = th[0].TS
					}
					return target != ""
				}); err != nil {
					b.Fatal(err)
				}
			}
			opensBefore := len(w.Slack.TriggerLatencies())
			var ack time.Duration
			b.ResetTimer()
			for i := range b.N {
				var a fakeslack.Ack
				if path == "button_in_thread" {
					a, err = w.Slack.ClickButton(ctx, demoUser, demoChannel, target, "create_issue")
				} else {
					b.StopTimer()
					ts, _, perr := w.Slack.PostAsUser(ctx, demoUser, demoChannel, fakeslack.Post{Text: fmt.Sprintf("bug report %d", i)})
					if perr != nil {
						b.Fatal(perr)
					}
					b.StartTimer()
					a, err = w.Slack.MessageShortcut(ctx, demoUser, demoChannel, ts, "create_linear_issue")
				}
				if err != nil {
					b.Fatal(err)
				}
				ack += a.Latency
				want := opensBefore + i + 1
				if err := w.Slack.Wait(ctx, func() bool { return len(w.Slack.TriggerLatencies()) >= want }); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			var open time.Duration
			opens := w.Slack.TriggerLatencies()[opensBefore:]
			for _, d := range opens {
				open += d
			}
			b.ReportMetric(float64(ack.Microseconds())/float64(b.N), "µs-ack")
			if len(opens) > 0 {
				b.ReportMetric(float64(open.Microseconds())/float64(len(opens)), "µs-click-to-views.open")
			}
		})
	}
}
