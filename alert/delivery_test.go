package alert_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/store"
	"github.com/proliferate/proliferate-linear/store/storetest"
)

// deliveryReplica is one process's core: its service and dispatcher, with
// the delivery kind registered as main does.
type deliveryReplica struct {
	db   *store.DB
	clk  *storeClock
	svc  *alert.Service
	d    *alert.Dispatcher
	post *recordingPoster
}

func newDeliveryReplica(t *testing.T, db *store.DB, rev alert.Revoker) *deliveryReplica {
	t.Helper()
	r := &deliveryReplica{db: db, clk: &storeClock{db: db}, post: &recordingPoster{}}
	r.svc = alert.NewService(db, nil, storetest.Logger(t))
	r.svc.Revoker = rev
	r.d = newDispatcher(t, db, r.post)
	r.d.Handle(alert.JobLinearDelivery, r.svc.ApplyDelivery)
	r.clk.d = r.d
	return r
}

func (r *deliveryReplica) runOnce(t *testing.T) int {
	t.Helper()
	n, err := r.d.RunOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// issueState is delivery id's issue-1 in state stateType.
func issueState(id, stateType string) alert.LinearDelivery {
	name := map[string]string{"started": "In Progress", "completed": "Done"}[stateType]
	return alert.LinearDelivery{ID: id, Issue: &alert.Issue{ID: "issue-1", Identifier: "ENG-1", Title: "TypeError",
		URL: "https://linear.app/acme/issue/ENG-1", StateName: name, StateType: stateType, TeamID: "team-eng", TeamKey: "ENG"}}
}

func mustAccept(t *testing.T, svc *alert.Service, d alert.LinearDelivery, want alert.DeliveryOutcome) {
	t.Helper()
	got, err := svc.AcceptDelivery(context.Background(), d)
	if err != nil || got != want {
		t.Fatalf("AcceptDelivery(%s) = %q, %v; want %q", d.ID, got, err, want)
	}
}

// TestDeliveryAppliedAfterACrash: a delivery is durable once accepted.
// Replica A stores it and "dies" with the job claimed (kill -9 after the
// 200, mid-apply); replica B, on the same database, leaves it alone while
// A's lease lasts, then applies it once: the link shows the new state and
// the alert's message is refreshed. Repeats of the delivery id, at either
// replica, store nothing.
func TestDeliveryAppliedAfterACrash(t *testing.T) {
	t.Parallel()
	for _, dc := range storetest.Dialects(t) {
		t.Run(dc.Name, func(t *testing.T) {
			ctx := context.Background()
			dbs := replicas(t, dc, 2)
			a, b := newDeliveryReplica(t, dbs[0], nil), newDeliveryReplica(t, dbs[1], nil)
			al := accept(t, b.svc, "E-1", 1)
			if err := b.db.SaveLink(ctx, alert.IssueLink{ErrorID: "E-1", IssueID: "issue-1", Identifier: "ENG-1",
				StateName: "Todo", StateType: "unstarted", CreatedBy: "U1", Kind: alert.LinkCreated}); err != nil {
				t.Fatal(err)
			}
			for b.runOnce(t) > 0 { // post the alert's message.
			}

			mustAccept(t, a.svc, issueState("d-1", "completed"), alert.DeliveryAccepted)
			mustAccept(t, a.svc, issueState("d-1", "completed"), alert.DeliveryDuplicate)
			mustAccept(t, b.svc, issueState("d-1", "completed"), alert.DeliveryDuplicate)
			if jobs := storetest.JobsOfKind(t, b.db, alert.JobLinearDelivery); len(jobs) != 1 {
				t.Fatalf("%d delivery jobs stored, want 1", len(jobs))
			}
			// A claims it and dies before applying it.
			if claimed, err := a.db.ClaimJobs(ctx, "replica-a", 10, 10*time.Second); err != nil || len(claimed) != 1 {
				t.Fatalf("A claimed %v, %v", claimed, err)
			}
			if n := b.runOnce(t); n != 0 {
				t.Fatalf("B ran %d jobs while A's lease lasts", n)
			}
			b.clk.skip(11 * time.Second)
			if n := b.runOnce(t); n != 1 {
				t.Fatalf("B ran %d jobs after A's lease ran out, want the delivery", n)
			}
			l, err := b.db.Link(ctx, "E-1")
			if err != nil {
				t.Fatal(err)
			}
			if l.StateType != "completed" || l.StateName != "Done" || l.ClosedAt.IsZero() {
				t.Errorf("link = %+v, want Done (completed) with its closing time", l)
			}
			if jobs := storetest.JobsOfKind(t, b.db, alert.JobLinearDelivery); len(jobs) != 0 {
				t.Errorf("delivery jobs left: %+v", jobs)
			}
			for b.runOnce(t) > 0 {
			}
			b.post.mu.Lock()
			updates, notes := b.post.updates, len(b.post.notes)
			b.post.mu.Unlock()
			if len(updates) != 1 || updates[0].ID != al.ID || notes != 1 {
				t.Errorf("%d updates and %d notes, want alert %d's message updated and one note", len(updates), notes, al.ID)
			}
		})
	}
}

// flakyRevoker fails its first fail calls with err, then forgets.
type flakyRevoker struct {
	mu    sync.Mutex
	fail  int
	err   error
	calls int
	orgs  []string
}

func (r *flakyRevoker) Revoked(_ context.Context, org string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	if r.calls <= r.fail {
		return r.err
	}
	r.orgs = append(r.orgs, org)
	return nil
}

// TestDeliveryRetryPolicy: a failure that may pass (Linear or the store
// unavailable) is retried with the engine's backoff, at most MaxAttempts
// times, then the job is dead with its reason for an operator, who can
// retry it (jobs retry); a refusal that cannot pass is dead at once.
func TestDeliveryRetryPolicy(t *testing.T) {
	t.Parallel()
	for _, dc := range storetest.Dialects(t) {
		t.Run(dc.Name, func(t *testing.T) {
			ctx := context.Background()
			db := dc.Open(t)

			t.Run("temporary failures end dead after MaxAttempts", func(t *testing.T) {
				rev := &flakyRevoker{fail: 1 << 30, err: fmt.Errorf("linear: %w", alert.ErrUnavailable)}
				r := newDeliveryReplica(t, db, rev)
				mustAccept(t, r.svc, alert.LinearDelivery{ID: "rev-1", RevokedOrg: "org-a"}, alert.DeliveryAccepted)
				for range r.d.MaxAttempts + 2 {
					r.runOnce(t)
					// Past the longest backoff (5 min + 20 %), on the clock
					// both the dispatcher and the store read.
					r.clk.skip(6*time.Minute + time.Second)
				}
				if rev.calls != r.d.MaxAttempts {
					t.Errorf("Revoked called %d times, want %d", rev.calls, r.d.MaxAttempts)
				}
				jobs := storetest.JobsOfKind(t, db, alert.JobLinearDelivery)
				if len(jobs) != 1 || jobs[0].Status != alert.JobDead ||
					!strings.Contains(jobs[0].LastError, "gave up after 10 attempts: workspace org-a revoked: linear: ") {
					t.Fatalf("jobs = %+v, want one dead with the reason", jobs)
				}
				// An operator retries it once Linear is back.
				rev.mu.Lock()
				rev.fail = 0
				rev.mu.Unlock()
				if _, err := db.ReviveJob(ctx, jobs[0].ID); err != nil {
					t.Fatal(err)
				}
				if n := r.runOnce(t); n != 1 || len(rev.orgs) != 1 || len(storetest.JobsOfKind(t, db, alert.JobLinearDelivery)) != 0 {
					t.Errorf("after jobs retry: ran %d, revoked %v, jobs %+v", n, rev.orgs, storetest.JobsOfKind(t, db, alert.JobLinearDelivery))
				}
			})

			t.Run("a refusal is dead at once", func(t *testing.T) {
				rev := &flakyRevoker{fail: 1 << 30, err: fmt.Errorf("linear revoked: no organization: %w", alert.ErrNotFound)}
				r := newDeliveryReplica(t, db, rev)
				mustAccept(t, r.svc, alert.LinearDelivery{ID: "rev-2", RevokedOrg: "org-b"}, alert.DeliveryAccepted)
				for range 3 {
					r.runOnce(t)
					r.clk.skip(10 * time.Minute)
				}
				jobs := storetest.JobsOfKind(t, db, alert.JobLinearDelivery)
				if rev.calls != 1 || len(jobs) != 1 || jobs[0].Status != alert.JobDead || jobs[0].Attempts != 1 {
					t.Errorf("Revoked called %d times, jobs %+v; want once, then dead", rev.calls, jobs)
				}
				if err := db.DropJob(ctx, jobs[0].ID); err != nil {
					t.Fatal(err)
				}
			})

			t.Run("a revocation without OAuth is ignored", func(t *testing.T) {
				r := newDeliveryReplica(t, db, nil)
				mustAccept(t, r.svc, alert.LinearDelivery{ID: "rev-3", RevokedOrg: "org-c"}, alert.DeliveryIgnored)
				if jobs := storetest.JobsOfKind(t, db, alert.JobLinearDelivery); len(jobs) != 0 {
					t.Errorf("jobs = %+v, want none", jobs)
				}
			})
		})
	}
}

// TestAcceptDeliveryRefusesBadInput: a delivery that is not exactly an
// issue state or a revocation is refused in words and stores nothing.
func TestAcceptDeliveryRefusesBadInput(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	svc := alert.NewService(db, nil, storetest.Logger(t))
	svc.Revoker = &flakyRevoker{}
	for _, d := range []alert.LinearDelivery{
		{ID: "", Issue: &alert.Issue{ID: "i"}},
		{ID: strings.Repeat("x", 201), Issue: &alert.Issue{ID: "i"}},
		{ID: "both", Issue: &alert.Issue{ID: "i"}, RevokedOrg: "o"},
		{ID: "neither"},
		{ID: "no-issue-id", Issue: &alert.Issue{}},
	} {
		if _, err := svc.AcceptDelivery(context.Background(), d); !errors.Is(err, alert.ErrInvalid) {
			t.Errorf("AcceptDelivery(%+v) = %v, want ErrInvalid", d, err)
		}
	}
	if jobs := storetest.JobsOfKind(t, db, alert.JobLinearDelivery); len(jobs) != 0 {
		t.Errorf("jobs = %+v, want none", jobs)
	}
	// Nothing burnt the ids: the delivery, sent well, is fresh.
	mustAccept(t, svc, issueState("both", "started"), alert.DeliveryAccepted)
}
