package alert_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/store"
	"github.com/proliferate/proliferate-linear/store/storetest"
)

// claimCounter counts the claims a dispatcher makes of a real store.
type claimCounter struct {
	*store.DB
	claims atomic.Int64
}

func (c *claimCounter) ClaimPacedJobs(ctx context.Context, owner string, limit int, lease time.Duration, pace alert.ClaimPace) ([]alert.Job, error) {
	c.claims.Add(1)
	return c.DB.ClaimPacedJobs(ctx, owner, limit, lease, pace)
}

// TestWakesCoalesce: a burst of jobs, each queued with its own Wake (as the
// intake wakes the dispatcher once per new alert), is claimed in a few
// claims, at most one per WakeGap, not one per wake; and no wake is lost:
// with a poll of an hour, every job still runs within seconds.
func TestWakesCoalesce(t *testing.T) {
	t.Parallel()
	for _, dc := range storetest.Dialects(t) {
		t.Run(dc.Name, func(t *testing.T) {
			db := dc.Open(t)
			cs := &claimCounter{DB: db}
			d := alert.NewDispatcher(cs, &recordingPoster{}, storetest.Logger(t))
			d.ChannelGap, d.Lease, d.Poll = 0, 10*time.Second, time.Hour
			d.WakeGap = 50 * time.Millisecond
			const n = 40
			var mu sync.Mutex
			ran := map[string]int{}
			d.Handle("burst", func(_ context.Context, j alert.Job) error {
				mu.Lock()
				defer mu.Unlock()
				ran[j.Payload]++
				return nil
			})
			ranAll := func() bool {
				mu.Lock()
				defer mu.Unlock()
				return len(ran) == n
			}
			runDispatcher(t, d)
			waitUntil(t, 10*time.Second, "the first claim", func() bool { return cs.claims.Load() >= 1 })

			before := cs.claims.Load()
			start := time.Now()
			for i := range n {
				if err := db.Enqueue(context.Background(), alert.Job{Kind: "burst", Payload: string(rune('a'+i%26)) + string(rune('0'+i/26))}); err != nil {
					t.Fatal(err)
				}
				d.Wake()
			}
			waitUntil(t, 10*time.Second, "every job of the burst to run", ranAll)
			elapsed := time.Since(start)
			claims := cs.claims.Load() - before
			// One claim per WakeGap at most, plus the one a wake after the
			// gap starts at once, plus one for a claim cut in two.
			if limit := 2 + int64(elapsed/d.WakeGap); claims > limit {
				t.Errorf("%d wakes in %v made %d claims, want at most %d (one per %v)", n, elapsed, claims, limit, d.WakeGap)
			}
			mu.Lock()
			defer mu.Unlock()
			for p, k := range ran {
				if k != 1 {
					t.Errorf("job %q ran %d times, want once", p, k)
				}
			}
		})
	}
}

// waitUntil polls cond until it holds or the deadline passes.
func waitUntil(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestPutBackJobsRunWhenDue: a job the dispatcher retries, postpones or
// backs off from runs again when it falls due, not at the next poll (an
// hour here): the claim its end prompts finds when it is due, and the
// dispatcher sleeps until then. (Three at once: one may fall due while a
// claim runs, which must not be missed.)
func TestPutBackJobsRunWhenDue(t *testing.T) {
	t.Parallel()
	const after = 50 * time.Millisecond
	fails := map[string]func(attempt int) error{
		"retry":    func(int) error { return alert.Temporary(errors.New("slack is busy"), after) },
		"postpone": func(int) error { return alert.Postpone(errors.New("not posted yet"), after) },
		"backoff":  func(int) error { return errors.New("linear is down") },
	}
	for _, dc := range storetest.Dialects(t) {
		t.Run(dc.Name, func(t *testing.T) {
			db := dc.Open(t)
			d := alert.NewDispatcher(db, &recordingPoster{}, storetest.Logger(t))
			d.ChannelGap, d.Lease, d.Poll = 0, 10*time.Second, time.Hour
			d.Backoff = func(int) time.Duration { return after }
			var mu sync.Mutex
			attempts := map[string]int{}
			d.Handle("flaky", func(_ context.Context, j alert.Job) error {
				mu.Lock()
				defer mu.Unlock()
				attempts[j.Payload]++
				if attempts[j.Payload] == 1 {
					return fails[j.Payload](1)
				}
				return nil
			})
			runDispatcher(t, d)
			for name := range fails {
				if err := db.Enqueue(context.Background(), alert.Job{Kind: "flaky", Payload: name}); err != nil {
					t.Fatal(err)
				}
			}
			d.Wake()
			waitUntil(t, 10*time.Second, "every put-back job to run again", func() bool {
				mu.Lock()
				defer mu.Unlock()
				for name := range fails {
					if attempts[name] < 2 {
						return false
					}
				}
				return true
			})
		})
	}
}

// runDispatcher runs d until t ends, and fails t if Run fails.
func runDispatcher(t *testing.T, d *alert.Dispatcher) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

// TestQueuedForLaterRunsWhenDue: a job queued to run later by someone else
// (another replica's retry, a repeat's paced update) runs when it falls
// due, not at the next poll (an hour here): an idle dispatcher sleeps
// until the queue's next due time.
func TestQueuedForLaterRunsWhenDue(t *testing.T) {
	t.Parallel()
	for _, dc := range storetest.Dialects(t) {
		t.Run(dc.Name, func(t *testing.T) {
			db := dc.Open(t)
			d := alert.NewDispatcher(db, &recordingPoster{}, storetest.Logger(t))
			d.ChannelGap, d.Lease, d.Poll = 0, 10*time.Second, time.Hour
			var ran atomic.Int64
			d.Handle("later", func(context.Context, alert.Job) error { ran.Add(1); return nil })
			runDispatcher(t, d)
			// Queued as another replica would: no Wake for this dispatcher.
			if err := db.Enqueue(context.Background(), alert.Job{Kind: "later", RunAt: time.Now().Add(300 * time.Millisecond)}); err != nil {
				t.Fatal(err)
			}
			d.Wake() // a claim that finds nothing due yet, as an idle poll would
			waitUntil(t, 10*time.Second, "the job queued for later to run", func() bool { return ran.Load() == 1 })
		})
	}
}
