package faults

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// burstPromise is how soon after the restart every alert of a kill -9'd
// burst must be in Slack (issue 8's promise).
const burstPromise = 10 * time.Second

// TestKillMidBurst: 2,000 alerts (four per channel, over 500 channels) are
// sent by 16 senders that retry as Proliferate does (on a refused
// connection or a 5xx, until a 202). When half of them have been accepted
// the only replica is killed with SIGKILL and started again at once on the
// same store, while the rest of the burst keeps coming. Promise: every
// accepted alert is posted exactly once, and all of them (those accepted
// after the restart too) within 10 s of the restart, although the dead
// replica's jobs were leased to it and some of its posts reached Slack
// unrecorded. Not parallel: its figure is a time.
func TestKillMidBurst(t *testing.T) {
	forEachStore(t, func(t *testing.T, dbURL string) {
		n := burstSize()
		w := newWorld(t, dbURL, (n+alertsPerChannel-1)/alertsPerChannel)
		alerts := burstIDs(w, n)
		first := w.start("replica", nil)
		var cur atomic.Pointer[replica]
		cur.Store(first)
		addr := func() string { return cur.Load().addr }

		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		start := time.Now()
		var (
			accepted  atomic.Int64
			retried   atomic.Int64
			half      = make(chan struct{})
			halfOnce  sync.Once
			next      atomic.Int64
			wg        sync.WaitGroup
			errMu     sync.Mutex
			sendErr   error
			killAfter = int64(n / 2)
		)
		for range 16 {
			wg.Go(func() {
				for {
					i := int(next.Add(1)) - 1
					if i >= len(alerts) {
						return
					}
					attempts, err := w.sendUntilAccepted(ctx, addr, alerts[i])
					if err != nil {
						errMu.Lock()
						sendErr = errors.Join(sendErr, err)
						errMu.Unlock()
						return
					}
					if attempts > 1 {
						retried.Add(1)
					}
					if accepted.Add(1) >= killAfter {
						halfOnce.Do(func() { close(half) })
					}
				}
			})
		}
		select {
		case <-half:
		case <-ctx.Done():
			t.Fatalf("only %d of %d alerts accepted before the kill was due", accepted.Load(), killAfter)
		}
		first.kill()
		killedAt := time.Now()
		acceptedAtKill := accepted.Load()
		postedAtKill := w.Slack.CallCount("chat.postMessage")
		second := w.start("replica (restarted)", nil)
		cur.Store(second)
		restart := second.started
		wg.Wait()
		lastAccepted := time.Now()
		if sendErr != nil {
			t.Fatalf("burst: %v", sendErr)
		}

		res := w.observe(alerts, time.Until(restart.Add(45*time.Second)))
		lost := len(res.missing)
		took := res.last.Sub(restart)
		adopted := second.logs.count("adopted the message an earlier attempt posted")
		t.Logf("kill -9 mid-burst (%s): %d alerts over %d channels, %d accepted in the %s before the kill (%d posted by then), %d retried by the sender; "+
			"%d accepted, %d posted, %d duplicated, %d lost; %d messages the dead replica posted unrecorded were adopted; "+
			"restarted %s after the kill, last accepted %s and all posted %s after the restart (promise: %s)",
			storeName(dbURL), n, len(w.channels), acceptedAtKill, secs(killedAt.Sub(start)), postedAtKill, retried.Load(),
			accepted.Load(), res.posted, res.duplicated, lost, adopted,
			ms(restart.Sub(killedAt)), secs(lastAccepted.Sub(restart)), secs(took), secs(burstPromise))
		if int(accepted.Load()) != n {
			t.Errorf("%d of %d alerts accepted", accepted.Load(), n)
		}
		if lost > 0 {
			t.Errorf("%d accepted alerts never posted, e.g. %v", lost, res.missing[:min(5, lost)])
		}
		if res.duplicated > 0 {
			t.Errorf("%d duplicate Slack messages (each alert must be posted exactly once)", res.duplicated)
		}
		if lost == 0 && took > burstPromise {
			t.Errorf("last alert posted %s after the restart, promise is %s", secs(took), secs(burstPromise))
		}
	})
}

// storeName names the store of a DATABASE_URL for figures.
func storeName(dbURL string) string {
	if strings.HasPrefix(dbURL, "sqlite:") {
		return "SQLite"
	}
	return "PostgreSQL"
}
