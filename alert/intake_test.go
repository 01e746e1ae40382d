package alert_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/store/storetest"
)

// statusReply is one PostStatus call.
type statusReply struct {
	alertID  int64
	threadTS string
	linked   bool
}

func (p *recordingPoster) PostStatus(_ context.Context, a alert.Alert, link *alert.IssueLink, threadTS string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.err(); err != nil {
		return err
	}
	p.status = append(p.status, statusReply{a.ID, threadTS, link != nil})
	return nil
}

// TestAcceptFromSlack: the first Proliferate message of an error makes the
// alert, whose message goes in that message's thread; a redelivered event
// changes nothing; a later message folds into the alert (updated in place)
// and gets a status reply in its own thread, keeping what the first knew.
func TestAcceptFromSlack(t *testing.T) {
	t.Parallel()
	for _, dc := range storetest.Dialects(t) {
		t.Run(dc.Name, func(t *testing.T) {
			ctx := context.Background()
			db := dc.Open(t)
			db.SetUpdateGap(0) // folding, not its pace (TestRepeatUpdatesPaced).
			svc := alert.NewService(db, nil, nil)
			p := &recordingPoster{}
			d := newDispatcher(t, db, p)

			first := alert.Alert{ErrorID: "prl_1", Channel: "C1", ThreadTS: "1700000100.000100",
				URL: "https://app.proliferate.com/projects/web/issues/prl_1", ErrorType: "TypeError",
				ErrorMessage: "boom", Environment: "production", EventCount: 3}
			a, fresh, err := svc.AcceptFromSlack(ctx, "Ev1", first)
			if err != nil || !fresh || a.ThreadTS != first.ThreadTS || a.Thread() != first.ThreadTS {
				t.Fatalf("AcceptFromSlack = %+v, %v, %v", a, fresh, err)
			}
			if _, fresh, err := svc.AcceptFromSlack(ctx, "Ev1", first); err != nil || fresh {
				t.Fatalf("the same event again: fresh %v, %v", fresh, err)
			}
			if n, err := d.RunOnce(ctx); err != nil || n != 1 {
				t.Fatalf("RunOnce = %d, %v", n, err)
			}
			if len(p.posts) != 1 || p.posts[0].ThreadTS != first.ThreadTS {
				t.Fatalf("posts = %+v, want one in the thread of %s", p.posts, first.ThreadTS)
			}

			later := alert.Alert{ErrorID: "prl_1", Channel: "C1", ThreadTS: "1700000200.000100",
				URL: first.URL, ErrorMessage: "boom", EventCount: 40, Trigger: alert.TriggerSpike}
			b, fresh, err := svc.AcceptFromSlack(ctx, "Ev2", later)
			if err != nil || !fresh {
				t.Fatalf("later message: %v, %v", fresh, err)
			}
			if b.ID != a.ID || b.Occurrences != 2 || b.ThreadTS != first.ThreadTS || b.EventCount != 40 ||
				b.ErrorType != "TypeError" || b.Environment != "production" {
				t.Errorf("folded alert = %+v: want the first's thread and type, the later's count", b)
			}
			// The update and the status reply share the alert's serial key:
			// they run one after the other.
			ran := 0
			for range 5 {
				n, err := d.RunOnce(ctx)
				if err != nil {
					t.Fatal(err)
				}
				ran += n
				if n == 0 {
					break
				}
			}
			if ran != 2 {
				t.Fatalf("ran %d jobs, want the update and the status reply", ran)
			}
			if len(p.posts) != 1 || len(p.updates) != 1 {
				t.Errorf("posts %d, updates %d; want the first message updated in place", len(p.posts), len(p.updates))
			}
			if got := p.status; len(got) != 1 || got[0].threadTS != later.ThreadTS || got[0].alertID != a.ID || got[0].linked {
				t.Errorf("status replies = %+v, want one under %s", got, later.ThreadTS)
			}

			// A webhook alert of the same error and channel folds into the
			// same alert and keeps its thread.
			w, err := svc.Accept(ctx, alert.Alert{ErrorID: "prl_1", Channel: "C1", URL: first.URL, EventCount: 41})
			if err != nil || w.ID != a.ID || w.ThreadTS != first.ThreadTS {
				t.Errorf("webhook fold = %+v, %v", w, err)
			}
			if _, _, err := svc.AcceptFromSlack(ctx, "", first); err == nil {
				t.Error("an empty event id was accepted")
			}
		})
	}
}

// TestIntakeCallsNoLinear: accepting alerts of new errors, from the
// webhook and from Slack messages, asks Linear nothing (it used to start a
// background lookup per new error, so a burst of alerts was a burst of
// Linear requests); whether Linear already tracks the error is asked when
// someone opens the create modal.
func TestIntakeCallsNoLinear(t *testing.T) {
	t.Parallel()
	for _, dc := range storetest.Dialects(t) {
		t.Run(dc.Name, func(t *testing.T) {
			h := newHarness(t, dc)
			before := h.fl.CountRequests("")
			for i := range 20 {
				id := fmt.Sprintf("prl_new_%d", i)
				h.accept(t, id)
				if _, _, err := h.svc.AcceptFromSlack(context.Background(), "Ev"+id, alert.Alert{
					ErrorID: id + "_slack", Channel: "C2", ThreadTS: fmt.Sprintf("1700000000.%06d", i),
					URL: errorURL(id + "_slack"), ErrorType: "TypeError", ErrorMessage: "boom",
				}); err != nil {
					t.Fatal(err)
				}
			}
			if n := h.fl.CountRequests("") - before; n != 0 {
				t.Errorf("%d Linear requests while accepting 40 new alerts, want none", n)
			}
		})
	}
}
