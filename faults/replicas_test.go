package faults

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/proliferate/proliferate-linear/store/storetest"
)

// TestThreeReplicasOneKilled: three replicas share one PostgreSQL; every
// alert is sent to two of them at the same moment (as a retrying sender
// behind a load balancer may), and one replica is killed with SIGKILL
// halfway through. Promise: every alert posted exactly once, by the
// survivors, without waiting for the dead replica. Parallel: its bound,
// posted within 30 s of the kill, is several leases long, and the scenario
// waits for one lease to lapse.
func TestThreeReplicasOneKilled(t *testing.T) {
	t.Parallel()
	dbURL := ""
	for _, d := range dialects(t) {
		if d.name == "postgres" {
			dbURL = d.url(t)
		}
	}
	if dbURL == "" {
		t.Skipf("replicas share a PostgreSQL database: set %s", storetest.EnvDatabaseURL)
	}
	n := burstSize() / 2
	w := newWorld(t, dbURL, (n+alertsPerChannel-1)/alertsPerChannel)
	alerts := burstIDs(w, n)
	reps := []*replica{w.start("replica-1", nil), w.start("replica-2", nil), w.start("replica-3", nil)}
	victim := reps[0]

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var (
		accepted atomic.Int64
		killOnce sync.Once
		killedAt time.Time
		killed   = make(chan struct{})
		next     atomic.Int64
		wg       sync.WaitGroup
		errMu    sync.Mutex
		firstErr error
	)
	for range 16 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(alerts) {
					return
				}
				if err := w.sendToTwo(ctx, reps, i, alerts[i]); err != nil {
					errMu.Lock()
					firstErr = errors.Join(firstErr, err)
					errMu.Unlock()
					return
				}
				if accepted.Add(1) == int64(n/2) {
					killOnce.Do(func() {
						victim.kill()
						killedAt = time.Now()
						close(killed)
					})
				}
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		t.Fatalf("burst: %v", firstErr)
	}
	<-killed
	res := w.observe(alerts, time.Until(killedAt.Add(30*time.Second)))
	t.Logf("three replicas, each alert sent to two at once, one killed at alert %d: %d sent, %d posted, %d missing, %d duplicated, last posted %s after the kill",
		n/2, res.sent, res.posted, len(res.missing), res.duplicated, secs(res.last.Sub(killedAt)))
	if len(res.missing) > 0 {
		t.Errorf("%d accepted alerts not posted within 30 s of the kill, e.g. %v", len(res.missing), res.missing[:min(5, len(res.missing))])
	}
	if res.duplicated > 0 {
		t.Errorf("%d duplicate Slack messages (each alert must be posted exactly once)", res.duplicated)
	}
}

// sendToTwo sends alert i to two replicas at the same moment; it is done
// when either answers 202. If neither does (one of them is dead and the
// other failed), it retries on the live replicas, as a sender would.
func (w *world) sendToTwo(ctx context.Context, reps []*replica, i int, alert map[string]any) error {
	for attempt := 0; ; attempt++ {
		a, b := reps[(i+attempt)%len(reps)], reps[(i+attempt+1)%len(reps)]
		var ok atomic.Bool
		var wg sync.WaitGroup
		for _, r := range []*replica{a, b} {
			wg.Go(func() {
				if status, err := w.send(ctx, r.addr, alert); err == nil && status == http.StatusAccepted {
					ok.Store(true)
				}
			})
		}
		wg.Wait()
		if ok.Load() {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("alert %v never accepted: %w", alert["issue_id"], ctx.Err())
		case <-time.After(25 * time.Millisecond):
		}
	}
}
