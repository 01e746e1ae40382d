package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/store/storetest"
)

// acceptModes are the ways an accept reaches the database: without more
// jobs (PostgreSQL's one statement), and with a more that adds none (the
// transaction, as with an auto rule). On SQLite both go through group
// commit.
var acceptModes = []struct {
	name string
	more []func(alert.Alert) []alert.Job
}{
	{"plain", nil},
	{"with more", []func(alert.Alert) []alert.Job{func(alert.Alert) []alert.Job { return nil }}},
}

// TestAcceptAlertIntakeJobs: whatever the dialect and the path, an accept
// stores the row it returns and queues exactly alert.IntakeJob: the render
// job of a new alert, nothing more while it is queued, and once the message
// is posted a repeat job due a gap later that further repeats fold into.
func TestAcceptAlertIntakeJobs(t *testing.T) {
	t.Parallel()
	const gap = 7 * time.Second
	for _, dc := range storetest.Dialects(t) {
		for _, mode := range acceptModes {
			t.Run(dc.Name+"/"+mode.name, func(t *testing.T) {
				t.Parallel()
				ctx := context.Background()
				db := dc.Open(t)
				clk := &fakeClock{now: t0}
				db.SetClock(clk.Now)
				db.SetUpdateGap(gap)
				var want []alert.Job
				acceptAndCheck := func(a alert.Alert) alert.Alert {
					t.Helper()
					got, err := db.AcceptAlert(ctx, a, mode.more...)
					if err != nil {
						t.Fatal(err)
					}
					read, err := db.Alert(ctx, got.Alert.ID)
					if err != nil {
						t.Fatal(err)
					}
					if diff := cmp.Diff(read, got.Alert); diff != "" {
						t.Fatalf("returned alert differs from the stored row (-stored +returned):\n%s", diff)
					}
					return got.Alert
				}
				checkJobs := func(when string) {
					t.Helper()
					got := storetest.JobsOfKind(t, db, alert.JobRenderAlert)
					if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(alert.Job{}, "ID"), cmpopts.EquateEmpty()); diff != "" {
						t.Fatalf("render jobs %s (-want +got):\n%s", when, diff)
					}
				}
				// intake is the job alert.IntakeJob gives, as the queue holds it.
				intake := func(a alert.Alert) alert.Job {
					now := ms(clk.Now())
					j := alert.IntakeJob(a, now, gap)
					j.Status = alert.JobQueued
					if j.RunAt.IsZero() {
						j.RunAt = now
					}
					j.CreatedAt = now
					return j
				}

				first := acceptAndCheck(newAlert("E1", "C1"))
				want = append(want, intake(first))
				checkJobs("after a new alert")

				clk.Advance(time.Second)
				acceptAndCheck(newAlert("E1", "C1"))
				checkJobs("after a repeat while the render job is queued")

				claimed, err := db.ClaimJobs(ctx, "test", 10, time.Minute)
				if err != nil || len(claimed) != 1 {
					t.Fatalf("claim = %+v, %v", claimed, err)
				}
				if err := db.SetAlertMessage(ctx, first.ID, "1712345678.000100"); err != nil {
					t.Fatal(err)
				}
				if err := db.FinishJob(ctx, claimed[0].ID); err != nil {
					t.Fatal(err)
				}
				clk.Advance(time.Minute)
				posted := acceptAndCheck(newAlert("E1", "C1"))
				if posted.MessageTS == "" || posted.Occurrences != 3 {
					t.Fatalf("repeat of a posted alert = %+v", posted)
				}
				want = []alert.Job{intake(posted)}
				checkJobs("after a repeat of the posted alert")

				clk.Advance(time.Second)
				acceptAndCheck(newAlert("E1", "C1"))
				checkJobs("after another repeat (folded, due time kept)")
			})
		}
	}
}

// TestAcceptAlertReturnsLink: an accept returns the error's link as its
// transaction saw it, nil when there is none, on every path and in a
// group-commit batch of several errors, some linked and some not.
func TestAcceptAlertReturnsLink(t *testing.T) {
	t.Parallel()
	for _, dc := range storetest.Dialects(t) {
		for _, mode := range acceptModes {
			t.Run(dc.Name+"/"+mode.name, func(t *testing.T) {
				t.Parallel()
				ctx := context.Background()
				db := dc.Open(t)
				db.SetClock((&fakeClock{now: t0}).Now)
				got, err := db.AcceptAlert(ctx, newAlert("E-none", "C1"), mode.more...)
				if err != nil || got.Link != nil {
					t.Fatalf("accept of an unlinked error: link %+v, %v", got.Link, err)
				}

				const n = 12
				want := map[string]*alert.IssueLink{}
				for i := range n {
					if i%3 == 0 {
						continue
					}
					errorID := fmt.Sprintf("E-%d", i)
					l := alert.IssueLink{ErrorID: errorID, IssueID: "iss-" + errorID, Identifier: fmt.Sprintf("ENG-%d", i),
						Title: "Checkout fails", URL: "https://linear.app/acme/issue/ENG-1", StateName: "Done",
						StateType: "completed", TeamID: "team-1", TeamKey: "ENG", AssigneeID: "u-1",
						AssigneeName: "Ada", CreatedBy: "U1", Kind: alert.LinkCreated,
						ClosedAt: ms(t0.Add(-time.Hour)), CreatedAt: ms(t0.Add(-2 * time.Hour)), UpdatedAt: ms(t0.Add(-time.Hour))}
					if i%2 == 0 {
						l.StateType, l.StateName, l.ClosedAt = "started", "In Progress", time.Time{}
						l.RegressedAt = ms(t0.Add(-30 * time.Minute))
					}
					if err := db.SaveLink(ctx, l); err != nil {
						t.Fatal(err)
					}
					stored, err := db.Link(ctx, errorID)
					if err != nil {
						t.Fatal(err)
					}
					want[errorID] = &stored
				}
				var wg sync.WaitGroup
				links := make([]*alert.IssueLink, n)
				errs := make([]error, n)
				for i := range n {
					wg.Go(func() {
						var acc alert.Accepted
						acc, errs[i] = db.AcceptAlert(ctx, newAlert(fmt.Sprintf("E-%d", i), "C1"), mode.more...)
						links[i] = acc.Link
					})
				}
				wg.Wait()
				for i := range n {
					errorID := fmt.Sprintf("E-%d", i)
					if errs[i] != nil {
						t.Fatalf("accept %s: %v", errorID, errs[i])
					}
					if diff := cmp.Diff(want[errorID], links[i]); diff != "" {
						t.Errorf("link returned with %s (-want +got):\n%s", errorID, diff)
					}
				}
			})
		}
	}
}
