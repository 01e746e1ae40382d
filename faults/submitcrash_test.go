package faults

import (
	"context"
	"testing"
	"time"

	"github.com/proliferate/proliferate-linear/bot/fakeslack"
	"github.com/proliferate/proliferate-linear/crashpoint"
)

// submitAfterCrash checks the end of a create that a crash interrupted,
// once the replica is back: the issue exists exactly once and the alert's
// thread names it exactly once. The promise names no time; 45 s leaves room
// for a lease the dead replica held (30 s) to run out, and the figure says
// how long it took.
func (w *world) submitAfterCrash(t *testing.T, scenario, errorID string, msg fakeslack.Message, restart time.Time) {
	t.Helper()
	var identifier string
	waitFor(45*time.Second, func() bool {
		if is := w.issuesFor(errorID); len(is) > 0 {
			identifier = is[0].Identifier
		}
		return identifier != "" && w.threadMentions(msg, identifier) > 0
	})
	announced := "not within 45 s"
	if identifier != "" && w.threadMentions(msg, identifier) > 0 {
		announced = secs(time.Since(restart)) + " after the restart"
	}
	w.settle(2*time.Second, 15*time.Second)
	issues, notes := len(w.issuesFor(errorID)), 0
	if identifier != "" {
		notes = w.threadMentions(msg, identifier)
	}
	t.Logf("kill -9 %s: after the restart %d issue(s) %s, %d thread note(s) naming it, announced %s",
		scenario, issues, identifier, notes, announced)
	if issues != 1 {
		t.Errorf("%d issues in Linear for the error, want exactly 1", issues)
	}
	if notes != 1 {
		t.Errorf("%d thread replies name the issue, want exactly 1 (within 45 s of the restart)", notes)
	}
}

// TestKillAfterSubmitAck: the replica is killed the moment Slack has the
// ack of a create submission (the modal says "Creating issue…"), while the
// work behind it has barely started (Linear takes 300 ms a request). The
// kill comes from outside, on the ack's arrival at Slack: only then is the
// ack a promise the user has seen. Promise: after a restart the issue
// exists once and the thread says so.
func TestKillAfterSubmitAck(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, dbURL string) {
		t.Parallel()
		w := newWorld(t, dbURL, 1)
		r := w.start("replica", nil)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		const errorID = "crash-ack"
		msg := w.postOne(ctx, t, r, errorID, w.channels[0])
		v := w.openCreate(ctx, t, userAda, msg)
		w.pickTeam(ctx, t, userAda, v)

		w.Linear.SetLatency(300 * time.Millisecond)
		if _, err := w.Slack.SubmitView(ctx, userAda, v.ID); err != nil {
			t.Fatalf("submit: %v", err)
		}
		r.kill()
		w.Linear.SetLatency(0)
		r2 := w.start("replica (restarted)", nil)
		w.submitAfterCrash(t, "just after a submit's ack", errorID, msg, r2.started)
	})
}

// TestKillWhileCreateAnswerInFlight: Linear has made the issue and its
// answer has reached the replica, which dies (crash point
// linear.answered.createIssue) before acting on it. Promise: after a
// restart the issue exists once (not twice) and the thread says so.
func TestKillWhileCreateAnswerInFlight(t *testing.T) {
	t.Parallel()
	point := crashpoint.LinearAnswered + ".createIssue"
	forEachStore(t, func(t *testing.T, dbURL string) {
		t.Parallel()
		w := newWorld(t, dbURL, 1)
		r := w.start("replica", map[string]string{crashpoint.Env: point})
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		const errorID = "crash-inflight"
		msg := w.postOne(ctx, t, r, errorID, w.channels[0])
		v := w.openCreate(ctx, t, userAda, msg)
		w.pickTeam(ctx, t, userAda, v)
		// The submission is stored, then acked, while the create job may
		// already be running: a Linear answering at once can kill the
		// replica before its ack is out (CI saw it once). A slow Linear
		// keeps the scenario this test is about: the ack is out, the
		// issue made, its answer lost.
		w.Linear.SetLatency(300 * time.Millisecond)
		if _, err := w.Slack.SubmitView(ctx, userAda, v.ID); err != nil {
			t.Fatalf("submit: %v", err)
		}
		r.waitCrash(t, point, 20*time.Second)
		w.Linear.SetLatency(0)
		if n := len(w.issuesFor(errorID)); n != 1 {
			t.Fatalf("at the crash Linear has %d issues for the error, want the 1 whose answer was lost", n)
		}
		r2 := w.start("replica (restarted)", nil)
		w.submitAfterCrash(t, "while Linear's issueCreate answer was in flight", errorID, msg, r2.started)
	})
}
