package alert

import (
	"slices"
	"sync"
	"time"
)

// maxWakes bounds the due times a dispatcher keeps a wake for; a job due
// after all of them is found by Poll, as every job of another replica is.
const maxWakes = 64

// wakes wakes a dispatcher when the jobs it put back fall due, with one
// timer for them all: a burst of postponed jobs (a held channel's backlog)
// is one timer and one wake per due time, not a timer per job.
type wakes struct {
	fire func() // the dispatcher's Wake

	mu      sync.Mutex
	timer   *time.Timer
	pending []time.Time // sorted, at most maxWakes
	stopped bool
}

// add asks for a wake at at.
func (w *wakes) add(at time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return
	}
	i, found := slices.BinarySearchFunc(w.pending, at, time.Time.Compare)
	if found || i == maxWakes {
		return // one already due then, or later than all those kept
	}
	w.pending = slices.Insert(w.pending, i, at)
	if len(w.pending) > maxWakes {
		w.pending = w.pending[:maxWakes]
	}
	if i == 0 {
		w.arm()
	}
}

// arm sets the timer for the earliest pending wake. The caller holds mu.
func (w *wakes) arm() {
	d := time.Until(w.pending[0])
	if w.timer == nil {
		w.timer = time.AfterFunc(d, w.fired)
		return
	}
	w.timer.Reset(d)
}

// fired drops the wakes that are due, arms the timer for the next, and
// wakes the dispatcher once for all those due.
func (w *wakes) fired() {
	w.mu.Lock()
	now := time.Now()
	n := 0
	for n < len(w.pending) && !w.pending[n].After(now) {
		n++
	}
	w.pending = slices.Delete(w.pending, 0, n)
	if len(w.pending) > 0 && !w.stopped {
		w.arm()
	}
	w.mu.Unlock()
	if n > 0 {
		w.fire()
	}
}

// start lets add set wakes again (a Run begins).
func (w *wakes) start() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopped = false
}

// stop drops the pending wakes and the timer (Run returns).
func (w *wakes) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopped = true
	w.pending = nil
	if w.timer != nil {
		w.timer.Stop()
	}
}
