package store_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/store"
)

// TestAcceptSlackAlertOncePerEvent: of eight replicas handling the same
// event_id at once exactly one stores the alert and queues its jobs; the
// others change nothing.
func TestAcceptSlackAlertOncePerEvent(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, db *store.DB, _ *fakeClock) {
		ctx := context.Background()
		a := newAlert("prl_1", "C1")
		a.ThreadTS = "1700000000.000100"
		var wg sync.WaitGroup
		var mu sync.Mutex
		fresh := 0
		for range 8 {
			wg.Go(func() {
				_, ok, err := db.AcceptSlackAlert(ctx, "Ev1", a, func(alert.Alert) []alert.Job { return nil })
				if err != nil {
					t.Error(err)
				}
				if ok {
					mu.Lock()
					fresh++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if fresh != 1 {
			t.Errorf("%d replicas handled the event, want 1", fresh)
		}
		got, _ := db.AlertsByError(ctx, "prl_1")
		if len(got) != 1 || got[0].Occurrences != 1 || got[0].ThreadTS != a.ThreadTS {
			t.Errorf("alerts = %+v, want one with thread %s", got, a.ThreadTS)
		}
		if n := store.QueryString(t, db, "SELECT COUNT(*) FROM jobs"); n != "1" {
			t.Errorf("%s jobs queued, want the one render job", n)
		}
	})
}

// TestAcceptSlackAlertFold: a later message keeps what it does not show
// and the alert's thread; the jobs more returns are queued with the render.
func TestAcceptSlackAlertFold(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, db *store.DB, clk *fakeClock) {
		ctx := context.Background()
		first := accept(t, db, newAlert("prl_2", "C1")) // from the webhook: no thread.
		clk.Advance(time.Minute)
		msg := alert.Alert{ErrorID: "prl_2", Channel: "C1", ThreadTS: "1700000000.000200", ErrorMessage: "newer text",
			EventCount: 99, LastSeen: t0.Add(time.Minute)}
		var seen alert.Alert
		got, fresh, err := db.AcceptSlackAlert(ctx, "Ev2", msg, func(s alert.Alert) []alert.Job {
			seen = s
			return []alert.Job{alert.StatusJob(s.ID, msg.ThreadTS)}
		})
		if err != nil || !fresh {
			t.Fatalf("AcceptSlackAlert: %v, %v", fresh, err)
		}
		if got.ID != first.ID || got.ThreadTS != "" || got.Occurrences != 2 || got.EventCount != 99 ||
			got.ErrorMessage != "newer text" || got.Stack != first.Stack || got.Environment != first.Environment ||
			got.ErrorType != first.ErrorType || got.UsersAffected != first.UsersAffected {
			t.Errorf("folded = %+v\nfirst = %+v", got, first)
		}
		if seen.ID != got.ID || seen.Occurrences != 2 {
			t.Errorf("more saw %+v", seen)
		}
		if n := store.QueryString(t, db, "SELECT COUNT(*) FROM jobs WHERE kind = 'thread_status' AND payload = ?", msg.ThreadTS); n != "1" {
			t.Errorf("%s status jobs, want 1", n)
		}
		if _, _, err := db.AcceptSlackAlert(ctx, "", msg, nil); err == nil {
			t.Error("an empty event id was accepted")
		}
	})
}

// TestPruneSlackEvents: a pruned event_id is handled again (Slack stopped
// retrying it long before).
func TestPruneSlackEvents(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, db *store.DB, clk *fakeClock) {
		ctx := context.Background()
		a := newAlert("prl_3", "C1")
		a.ThreadTS = "1.1"
		if _, ok, err := db.AcceptSlackAlert(ctx, "EvOld", a, nil); err != nil || !ok {
			t.Fatal(ok, err)
		}
		clk.Advance(store.SlackEventRetention + time.Hour)
		if _, ok, err := db.AcceptSlackAlert(ctx, "EvNew", a, nil); err != nil || !ok {
			t.Fatal(ok, err)
		}
		n, err := db.PruneSlackEvents(ctx, clk.Now().Add(-store.SlackEventRetention))
		if err != nil || n != 1 {
			t.Fatalf("PruneSlackEvents = %d, %v; want 1", n, err)
		}
		if _, ok, _ := db.AcceptSlackAlert(ctx, "EvNew", a, nil); ok {
			t.Error("a recent event id was forgotten")
		}
		if _, ok, _ := db.AcceptSlackAlert(ctx, "EvOld", a, nil); !ok {
			t.Error("a pruned event id is still remembered")
		}
	})
}
