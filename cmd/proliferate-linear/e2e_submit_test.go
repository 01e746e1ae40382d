package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/bot/fakeslack"
	"github.com/proliferate/proliferate-linear/linear/fakelinear"
)

// filledCreateModal clicks Create Linear Issue on the alert at ts and
// waits for the modal to offer the default team's members; it picks Bob.
func filledCreateModal(t *testing.T, ctx context.Context, w *world, ts string) fakeslack.View {
	t.Helper()
	n := len(w.Slack.Views())
	if _, err := w.Slack.ClickButton(ctx, demoUser, demoChannel, ts, "create_issue"); err != nil {
		t.Fatal(err)
	}
	v := waitView(t, ctx, w, "create_issue", n)
	if err := w.Slack.Wait(ctx, func() bool {
		cur, _ := w.Slack.View(v.ID)
		return len(elementOptions(cur.Blocks, "assignee")) > 0
	}); err != nil {
		t.Fatalf("the modal never offered assignees: %v", err)
	}
	if _, err := w.Slack.SelectOption(ctx, demoUser, v.ID, "assignee", fakelinear.UserBobID); err != nil {
		t.Fatal(err)
	}
	return v
}

// crash leaves the world's Main as kill -9 would: its database goes first,
// so nothing it does afterwards (record an answer, hand a job back, renew a
// lease) reaches the store; then its goroutines are stopped, giving jobs
// under way no grace (kill -9 gives none; the store is gone anyway). The
// Grace is written before the stop that Run waits for, so Run reads it
// after.
func crash(w *world) {
	_ = w.Main.DB.Close()
	w.Main.Dispatcher.Grace = 0
	w.stop()
	<-w.done
	w.stop = nil
}

// startReplica starts another Main on the world's database and fakes: the
// process that comes back after the crash.
func startReplica(t *testing.T, ctx context.Context, w *world) *Main {
	t.Helper()
	m := NewMain(w.Main.Config, testLogger(t))
	if err := m.Open(ctx); err != nil {
		t.Fatal(err)
	}
	// As for the world's Main: without it, a repeat this replica accepts
	// queues its update 10 s later, which a test waiting for an empty
	// queue then waits out, and its retries and polls keep production's
	// seconds.
	w.applyPace(m)
	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan error, 1)
	go func() { done <- m.Run(runCtx) }()
	t.Cleanup(func() { stop(); <-done; m.Close() })
	return m
}

// TestE2ESubmitSurvivesACrash: the process that acked a create submission
// dies, once just after the ack (its job was waiting on Linear's duplicate
// check) and once while Linear's answer to issueCreate was on its way (the
// issue exists, nothing recorded it). The process that comes back finishes
// the submission: the issue exists once, the thread says so once, the
// modal shows it, and the link is recorded as created by the person.
func TestE2ESubmitSurvivesACrash(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		// op is the Linear operation whose answer the crash cuts off; ""
		// crashes right after the ack, wherever the job has got to.
		op string
		// maxCreates bounds the createIssue documents Linear gets in all:
		// after a lost answer, the job's retry reads the issue back (a
		// second document), unless the reconciler found it first by its
		// UUID.
		maxCreates int
	}{
		{"just after the ack", "", 2},
		{"while Linear answers issueCreate", "createIssue", 2},
	}
	for name, dbURL := range databaseURLs(t) {
		for _, tc := range cases {
			t.Run(name+"/"+tc.name, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				w, err := startWorld(ctx, dbURL(t), testLogger(t), testPace, func(w *world, _ map[string]string) {
					// kill -9 leaves the job under lease; a short one brings it
					// back quickly (production: alert.DefaultLease).
					w.onOpen = func(m *Main) { m.Dispatcher.Lease = time.Second }
				})
				if err != nil {
					t.Fatal(err)
				}
				defer w.Close()
				ts := postAlert(t, ctx, w, demoAlert())
				v := filledCreateModal(t, ctx, w, ts)

				release := func() {}
				if tc.op != "" {
					release = w.Linear.HoldAnswerNext(tc.op)
				}
				defer release()
				ack, err := w.Slack.SubmitView(ctx, demoUser, v.ID)
				if err != nil {
					t.Fatal(err)
				}
				if ra := responseAction(ack.Payload); ra != "update" || !strings.Contains(string(ack.Payload), "Creating issue") {
					t.Fatalf("ack %s, want the modal updated to Creating issue…", ack.Payload)
				}
				if err := w.Slack.Wait(ctx, func() bool { return tc.op == "" || w.Linear.CountRequests(tc.op) > 0 }); err != nil {
					t.Fatalf("the job never reached Linear's %s: %v", tc.op, err)
				}
				crash(w)
				// The creates the dead process sent: the restart adds one at
				// most (none sent: exactly one; one in flight: its retry).
				sent := w.Linear.CountRequests("createIssue")
				release() // the answer arrives at a dead process.
				if tc.op == "createIssue" && len(w.Linear.Issues()) != 1 {
					t.Fatalf("Linear has %d issues at the crash, want the one made", len(w.Linear.Issues()))
				}

				m := startReplica(t, ctx, w)
				if err := w.Slack.Wait(ctx, func() bool { return strings.Contains(threadTexts(w, ts), "ENG-1") }); err != nil {
					t.Fatalf("the thread never named the issue: %v", err)
				}
				if err := w.Slack.Wait(ctx, func() bool {
					cur, _ := w.Slack.View(v.ID)
					return strings.Contains(string(cur.Blocks), "Created") && strings.Contains(string(cur.Blocks), "ENG-1")
				}); err != nil {
					cur, _ := w.Slack.View(v.ID)
					t.Errorf("the modal does not show the issue: %s", cur.Blocks)
				}
				link, err := m.Service.Link(ctx, "prl_9f2c1a")
				if err != nil || link.Identifier != "ENG-1" || link.Kind != alert.LinkCreated || link.CreatedBy != demoUser {
					t.Errorf("link = %+v, %v", link, err)
				}
				if err := w.Slack.Wait(ctx, func() bool {
					msg, _ := w.Slack.Message(demoChannel, ts)
					return strings.Contains(string(msg.Blocks), "ENG-1")
				}); err != nil {
					t.Errorf("the alert message never showed ENG-1: %v", err)
				}
				if n := len(w.Linear.Issues()); n != 1 {
					t.Errorf("Linear has %d issues, want 1", n)
				}
				if n := w.Linear.CountRequests("createIssue"); n < 1 || n > tc.maxCreates || n > sent+1 {
					t.Errorf("createIssue documents = %d (%d sent before the crash), want 1 to %d and at most one after the restart",
						n, sent, tc.maxCreates)
				}
				if n := len(w.Slack.Thread(demoChannel, ts)); n != 1 {
					t.Errorf("thread has %d replies, want 1: %s", n, threadTexts(w, ts))
				}
			})
		}
	}
}

// TestE2ESubmitWhileLinearIsDown: Linear refuses issueCreate for a while.
// The modal says Linear is not answering and that the request is kept;
// once Linear is back the issue is created once and the modal shows it.
func TestE2ESubmitWhileLinearIsDown(t *testing.T) {
	t.Parallel()
	for name, dbURL := range databaseURLs(t) {
		t.Run(name, func(t *testing.T) {
			w, ctx := startTestWorld(t, dbURL(t))
			ts := postAlert(t, ctx, w, demoAlert())
			v := filledCreateModal(t, ctx, w, ts)
			w.Linear.FailNext("createIssue", 2, fakelinear.ServerError)
			if _, err := w.Slack.SubmitView(ctx, demoUser, v.ID); err != nil {
				t.Fatal(err)
			}
			sawRetrying := false
			if err := w.Slack.Wait(ctx, func() bool {
				cur, _ := w.Slack.View(v.ID)
				b := string(cur.Blocks)
				if strings.Contains(b, "Linear is not answering") && strings.Contains(b, "we keep trying until") {
					sawRetrying = true
				}
				return strings.Contains(b, "Created") && strings.Contains(b, "ENG-1")
			}); err != nil {
				cur, _ := w.Slack.View(v.ID)
				t.Fatalf("the modal never showed the issue: %s", cur.Blocks)
			}
			if !sawRetrying {
				t.Error("the modal never told the user Linear was not answering")
			}
			if err := w.Slack.Wait(ctx, func() bool { return strings.Contains(threadTexts(w, ts), "ENG-1") }); err != nil {
				t.Fatal(err)
			}
			if n := len(w.Linear.Issues()); n != 1 {
				t.Errorf("Linear has %d issues, want 1", n)
			}
			if n := len(w.Slack.Thread(demoChannel, ts)); n != 1 {
				t.Errorf("thread has %d replies, want 1", n)
			}
		})
	}
}
