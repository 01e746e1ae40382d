package alert

import (
	"sync/atomic"
	"testing"
	"time"
)

// TestWakesOneTimerForABurst: a burst of put-back jobs keeps at most
// maxWakes due times on one timer, wakes once for the ones due together,
// and nothing after stop.
func TestWakesOneTimerForABurst(t *testing.T) {
	t.Parallel()
	var fired atomic.Int64
	w := wakes{fire: func() { fired.Add(1) }}
	base := time.Now().Add(50 * time.Millisecond)
	for i := range 1000 {
		w.add(base.Add(time.Duration(i%3) * time.Microsecond)) // three due times, a thousand jobs
	}
	for i := range 2 * maxWakes {
		w.add(base.Add(time.Hour + time.Duration(i)*time.Second))
	}
	w.mu.Lock()
	kept := len(w.pending)
	w.mu.Unlock()
	if kept != maxWakes {
		t.Errorf("%d wakes kept, want at most %d", kept, maxWakes)
	}
	deadline := time.Now().Add(5 * time.Second)
	for fired.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond) // polling the counter; nothing to wait on.
	}
	if n := fired.Load(); n < 1 || n > 3 {
		t.Errorf("%d wakes for three due times, want one to three", n)
	}
	w.stop()
	w.add(time.Now())
	w.mu.Lock()
	left := len(w.pending)
	w.mu.Unlock()
	if left != 0 {
		t.Errorf("%d wakes pending after stop, want none", left)
	}
}
