package httpapi

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/store/storetest"
)

// discardPoster is a Poster for a dispatcher that only applies deliveries
// here; the alert messages they refresh are alert's and bot's tests.
type discardPoster struct{}

func (discardPoster) PostAlert(context.Context, alert.Alert, *alert.IssueLink) (string, error) {
	return "1.0", nil
}
func (discardPoster) UpdateAlert(context.Context, alert.Alert, *alert.IssueLink) error { return nil }
func (discardPoster) PostNote(context.Context, alert.Alert, alert.Note) error          { return nil }
func (discardPoster) PostStatus(context.Context, alert.Alert, *alert.IssueLink, string) error {
	return nil
}

// TestLinearWebhookStoredBeforeTheAnswer runs the real core on both
// stores: by the time Linear has its 200 the delivery is a job in the
// database, so a process killed right after the answer loses nothing:
// another one (a second connection to the database, its own service and
// dispatcher) applies it. A repeat of the delivery id, after the apply too,
// is a duplicate and changes nothing.
func TestLinearWebhookStoredBeforeTheAnswer(t *testing.T) {
	t.Parallel()
	for _, dc := range storetest.Dialects(t) {
		t.Run(dc.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			url := dc.URL(t)
			db := storetest.OpenURL(t, url)
			if err := db.SaveLink(ctx, alert.IssueLink{ErrorID: "E-1", IssueID: issueUUID, Identifier: "ENG-42",
				StateName: "Todo", StateType: "unstarted", CreatedBy: "U1", Kind: alert.LinkCreated}); err != nil {
				t.Fatal(err)
			}
			svc := alert.NewService(db, nil, storetest.Logger(t))
			lh := newLinearHarness(t, func(_ *Config, d *Deps) { d.Deliveries = svc })
			body := issueDelivery(t, issueUUID, "completed", testNow, func(_, d map[string]any) { d["completedAt"] = "2025-03-04T05:00:00Z" })
			for i, want := range []string{statusAccepted, statusDuplicate} {
				if resp := lh.postSignedLinear(t, body, deliveryID(1)); resp.status != http.StatusOK || resp.body["status"] != want {
					t.Fatalf("post %d: %d %v, want 200 %s", i+1, resp.status, resp.body, want)
				}
			}
			jobs, err := db.ListJobs(ctx, false, 100)
			if err != nil {
				t.Fatal(err)
			}
			if len(jobs) != 1 || jobs[0].Kind != alert.JobLinearDelivery || jobs[0].Status != alert.JobQueued {
				t.Fatalf("stored jobs = %+v, want one queued delivery", jobs)
			}

			// This process is gone; another one applies the delivery.
			other := storetest.OpenURL(t, url)
			svc2 := alert.NewService(other, nil, storetest.Logger(t))
			d := alert.NewDispatcher(other, discardPoster{}, storetest.Logger(t))
			d.Handle(alert.JobLinearDelivery, svc2.ApplyDelivery)
			if n, err := d.RunOnce(ctx); err != nil || n != 1 {
				t.Fatalf("RunOnce = %d, %v", n, err)
			}
			l, err := other.Link(ctx, "E-1")
			if err != nil {
				t.Fatal(err)
			}
			if closed := time.Date(2025, 3, 4, 5, 0, 0, 0, time.UTC); l.StateType != "completed" || !l.ClosedAt.Equal(closed) {
				t.Errorf("link = %+v, want completed, closed at %v", l, closed)
			}
			if resp := lh.postSignedLinear(t, body, deliveryID(1)); resp.body["status"] != statusDuplicate {
				t.Errorf("a repeat after the apply: %d %v, want duplicate", resp.status, resp.body)
			}
			if jobs, err := other.ListJobs(ctx, false, 100); err != nil || len(jobs) != 0 {
				t.Errorf("jobs after the apply and the repeat = %+v, %v; want none", jobs, err)
			}
		})
	}
}
