package store_test

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/store"
	"github.com/proliferate/proliferate-linear/store/storetest"
)

// deliveryJob is the job of delivery id moving issue to stateType, as the
// core builds it.
func deliveryJob(t testing.TB, id, issue, stateType string) alert.Job {
	t.Helper()
	j, err := alert.DeliveryJob(alert.LinearDelivery{ID: id, Issue: &alert.Issue{ID: issue, Identifier: "ENG-1", StateType: stateType}})
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// deliveryState is a delivery job's delivery id, issue state and status.
func deliveryState(t *testing.T, j alert.Job) string {
	t.Helper()
	d, err := alert.JobDelivery(j)
	if err != nil {
		t.Fatal(err)
	}
	return d.ID + "/" + d.Issue.StateType + "/" + string(j.Status)
}

func deliveryStates(t *testing.T, db *store.DB) []string {
	t.Helper()
	var out []string
	for _, j := range storetest.JobsOfKind(t, db, alert.JobLinearDelivery) {
		out = append(out, deliveryState(t, j))
	}
	return out
}

func TestRecordDelivery(t *testing.T) {
	t.Parallel()
	first := uuid.NewString()
	tests := []struct {
		name      string
		id        string
		job       func(t testing.TB) alert.Job // the default job when nil.
		wantFresh bool
		wantErr   error
	}{
		{name: "first time is fresh", id: first, wantFresh: true},
		{name: "a repeat is not", id: first},
		{name: "and never is", id: first},
		{name: "another id is fresh", id: uuid.NewString(), wantFresh: true},
		{name: "ids are exact: case matters", id: strings.ToUpper(first), wantFresh: true},
		{name: "empty is invalid", id: "", wantErr: alert.ErrInvalid},
		{name: "blank is invalid", id: "  ", wantErr: alert.ErrInvalid},
		{name: "a huge id is invalid", id: strings.Repeat("x", 201), wantErr: alert.ErrInvalid},
		{name: "a job without a dedupe key is invalid", id: uuid.NewString(), wantErr: alert.ErrInvalid,
			job: func(t testing.TB) alert.Job { return alert.Job{Kind: alert.JobLinearDelivery, Payload: "{}"} }},
	}
	each(t, func(t *testing.T, db *store.DB, _ *fakeClock) {
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				// A job per issue, so no two fold.
				j := deliveryJob(t, tt.id, "issue-"+string(rune('a'+i)), "started")
				if tt.job != nil {
					j = tt.job(t)
				}
				fresh, err := db.RecordDelivery(context.Background(), tt.id, j)
				wantErr(t, "RecordDelivery", err, tt.wantErr)
				if fresh != tt.wantFresh {
					t.Errorf("RecordDelivery(%q) fresh = %v, want %v", tt.id, fresh, tt.wantFresh)
				}
			})
		}
		if got := store.QueryString(t, db, "SELECT COUNT(*) FROM webhook_deliveries"); got != "3" {
			t.Errorf("%s deliveries stored, want 3", got)
		}
		// One job per fresh delivery, none for a repeat or a refusal.
		if got := len(storetest.JobsOfKind(t, db, alert.JobLinearDelivery)); got != 3 {
			t.Errorf("%d jobs queued, want 3", got)
		}
	})
}

// TestRecordDeliveryConcurrent has one delivery arrive at 10 goroutines
// spread over two replicas (two DBs on one database) at once, over many
// rounds: each round exactly one of them gets fresh, and one job is queued.
func TestRecordDeliveryConcurrent(t *testing.T) {
	t.Parallel()
	const goroutines, rounds = 10, 20
	for _, dc := range storetest.Dialects(t) {
		t.Run(dc.Name, func(t *testing.T) {
			t.Parallel()
			url := dc.MigratedURL(t)
			replicas := []*store.DB{storetest.OpenURL(t, url), storetest.OpenURL(t, url)}
			ctx := context.Background()
			for round := range rounds {
				id := uuid.NewString()
				var fresh atomic.Int32
				start := make(chan struct{})
				var wg sync.WaitGroup
				for g := range goroutines {
					db := replicas[g%len(replicas)]
					wg.Go(func() {
						<-start
						ok, err := db.RecordDelivery(ctx, id, deliveryJob(t, id, "issue-"+id, "started"))
						if err != nil {
							t.Errorf("round %d: RecordDelivery: %v", round, err)
							return
						}
						if ok {
							fresh.Add(1)
						}
					})
				}
				close(start)
				wg.Wait()
				if n := fresh.Load(); n != 1 {
					t.Fatalf("round %d: %d of %d calls got fresh, want exactly 1", round, n, goroutines)
				}
			}
			if got := len(storetest.JobsOfKind(t, replicas[0], alert.JobLinearDelivery)); got != rounds {
				t.Errorf("%d jobs queued, want %d (one per delivery)", got, rounds)
			}
		})
	}
}

// TestRecordDeliveryNewerStateWins: deliveries of one issue carry its whole
// state, so a newer one takes the place of an older one still queued
// (also one waiting out a backoff: it is due now, attempts afresh), waits
// behind one running, and comes after a dead one.
func TestRecordDeliveryNewerStateWins(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, db *store.DB, clk *fakeClock) {
		ctx := context.Background()
		record := func(t *testing.T, id, state string) {
			t.Helper()
			if fresh, err := db.RecordDelivery(ctx, id, deliveryJob(t, id, "issue-1", state)); err != nil || !fresh {
				t.Fatalf("RecordDelivery(%s) = %v, %v", id, fresh, err)
			}
		}
		record(t, "d1", "started")
		// d1 fails once and waits out a backoff.
		claimed, err := db.ClaimJobs(ctx, "w", 10, time.Minute)
		if err != nil || len(claimed) != 1 {
			t.Fatalf("ClaimJobs = %v, %v", claimed, err)
		}
		if err := db.RetryJob(ctx, claimed[0].ID, clk.Now().Add(time.Hour), "database is locked"); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Second)
		record(t, "d2", "completed")
		jobs := storetest.JobsOfKind(t, db, alert.JobLinearDelivery)
		if diff := cmp.Diff([]string{"d2/completed/queued"}, deliveryStates(t, db)); diff != "" {
			t.Fatalf("after d2 (-want +got):\n%s", diff)
		}
		if j := jobs[0]; j.ID != claimed[0].ID || j.Attempts != 0 || j.LastError != "" || !j.RunAt.Equal(clk.Now().Truncate(time.Microsecond)) {
			t.Errorf("replaced job = %+v, want job %d due now (%v) with no attempts", j, claimed[0].ID, clk.Now())
		}

		// d2 runs; d3 arrives meanwhile and waits for it.
		running, err := db.ClaimJobs(ctx, "w", 10, time.Minute)
		if err != nil || len(running) != 1 {
			t.Fatalf("ClaimJobs = %v, %v", running, err)
		}
		record(t, "d3", "canceled")
		if got, err := db.ClaimJobs(ctx, "w", 10, time.Minute); err != nil || len(got) != 0 {
			t.Fatalf("claimed %v beside the running job of its issue (err %v)", got, err)
		}
		// d2 fails: its retry folds into d3, the newer state.
		if err := db.RetryJob(ctx, running[0].ID, clk.Now(), "database is locked"); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"d3/canceled/queued"}, deliveryStates(t, db)); diff != "" {
			t.Fatalf("after d2's retry (-want +got):\n%s", diff)
		}

		// d3 dies; d4 is a job of its own.
		running, err = db.ClaimJobs(ctx, "w", 10, time.Minute)
		if err != nil || len(running) != 1 {
			t.Fatalf("ClaimJobs = %v, %v", running, err)
		}
		if err := db.BuryJob(ctx, running[0].ID, "gave up"); err != nil {
			t.Fatal(err)
		}
		record(t, "d4", "started")
		if diff := cmp.Diff([]string{"d3/canceled/dead", "d4/started/queued"}, deliveryStates(t, db)); diff != "" {
			t.Errorf("after d4 (-want +got):\n%s", diff)
		}
	})
}

func TestPruneDeliveries(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, db *store.DB, clk *fakeClock) {
		ctx := context.Background()
		// Received 30 days, 8 days, exactly 7 days and 1 hour before t0+30d.
		offsets := map[string]time.Duration{"older": 0, "old": 22 * 24 * time.Hour, "at-cutoff": 23 * 24 * time.Hour, "recent": 30*24*time.Hour - time.Hour}
		for _, id := range []string{"older", "old", "at-cutoff", "recent"} {
			clk.Advance(offsets[id] - clk.Now().Sub(t0))
			if fresh, err := db.RecordDelivery(ctx, id, deliveryJob(t, id, "issue-"+id, "started")); err != nil || !fresh {
				t.Fatalf("RecordDelivery(%s) = %v, %v", id, fresh, err)
			}
		}
		now := t0.Truncate(time.Microsecond).Add(30 * 24 * time.Hour)
		cutoff := now.Add(-store.DeliveryRetention)
		steps := []struct {
			name   string
			before time.Time
			want   int64
			left   string
		}{
			{name: "deletes what is older than the cutoff", before: cutoff, want: 2, left: "2"},
			{name: "again deletes nothing", before: cutoff, want: 0, left: "2"},
			{name: "a later cutoff takes the rest", before: now, want: 2, left: "0"},
		}
		for _, st := range steps {
			t.Run(st.name, func(t *testing.T) {
				n, err := db.PruneDeliveries(ctx, st.before)
				if err != nil {
					t.Fatal(err)
				}
				if n != st.want {
					t.Errorf("PruneDeliveries = %d, want %d", n, st.want)
				}
				if got := store.QueryString(t, db, "SELECT COUNT(*) FROM webhook_deliveries"); got != st.left {
					t.Errorf("%s deliveries left, want %s", got, st.left)
				}
			})
		}
		t.Run("a pruned id is fresh again", func(t *testing.T) {
			if fresh, err := db.RecordDelivery(ctx, "old", deliveryJob(t, "old", "issue-x", "started")); err != nil || !fresh {
				t.Fatalf("RecordDelivery(old) = %v, %v; want fresh", fresh, err)
			}
		})
	})
}
