package httpapi

import (
	"context"
	"fmt"
	"time"

	"github.com/proliferate/proliferate-linear/linear/webhook"
)

// RecoverAfter is how old an unapplied delivery must be before Recover
// replays it. A delivery normally applies within a second of its 200; the
// margin keeps Recover off deliveries another replica is still applying
// (this replica's own are skipped whatever their age). Replaying one that
// is in fact still in flight elsewhere is harmless, only wasted work:
// applying is idempotent.
const RecoverAfter = 30 * time.Second

// recoverBatch bounds the deliveries one Recover pass reads. After a crash
// there are at most a queue's worth; the rest wait for the next pass.
const recoverBatch = 100

// Recover replays the Linear deliveries that were recorded (and answered
// 200) more than RecoverAfter ago but never applied, because the process
// that accepted them died first or could not apply them. Each is decoded
// again from its stored body (webhook.Parse: it was verified when it
// arrived) and applied the same way as a fresh one, once per pass: a
// failure is counted in the store, which gives the delivery up after a
// number of them. A delivery superseded by a newer one of the same issue
// or workspace is marked applied without being applied, so an older state
// never overwrites a newer one.
//
// Applying is idempotent, so a replay of a delivery that was applied but
// not yet marked (a crash between the two) changes nothing.
//
// It returns how many deliveries it applied; an error only when the store
// could not be read. A pass already under way makes it return 0 at once.
// Call it at start-up and then every minute or so (RunRecovery does);
// without the Linear webhook configured it does nothing.
func (h *Handler) Recover(ctx context.Context) (int, error) {
	if h.s.linear == nil {
		return 0, nil
	}
	return h.s.linear.recover(ctx)
}

// RunRecovery calls Recover at once and then every interval until ctx is
// done, logging what it did and any error. Run it in its own goroutine;
// it returns when ctx is done.
func (h *Handler) RunRecovery(ctx context.Context, every time.Duration) {
	if h.s.linear == nil {
		return
	}
	if every <= 0 {
		every = time.Minute
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := h.Recover(ctx); err != nil && ctx.Err() == nil {
			h.s.log.ErrorContext(ctx, "recover linear deliveries", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (h *linearHook) recover(ctx context.Context) (int, error) {
	if !h.recovering.TryLock() {
		return 0, nil
	}
	defer h.recovering.Unlock()
	ds, err := h.records.UnappliedDeliveries(ctx, h.now().Add(-RecoverAfter), recoverBatch)
	if err != nil {
		return 0, fmt.Errorf("recover linear deliveries: %w", err)
	}
	applied := 0
	for _, d := range ds {
		if ctx.Err() != nil {
			return applied, nil
		}
		if h.inFlight(d.ID) {
			continue // its worker has it.
		}
		if h.replay(ctx, d) {
			applied++
		}
	}
	if len(ds) > 0 {
		h.log.InfoContext(ctx, "linear deliveries recovered", "read", len(ds), "applied", applied)
	}
	if len(ds) == recoverBatch {
		h.log.WarnContext(ctx, "more linear deliveries to recover; the next pass takes them", "batch", recoverBatch)
	}
	return applied, nil
}

// replay applies one stored delivery and records the outcome; it reports
// whether it applied it.
func (h *linearHook) replay(ctx context.Context, d webhook.Delivery) bool {
	log := h.log.With("delivery", d.ID, "key", d.Subject, "received_at", d.ReceivedAt, "attempts", d.Attempts)
	if d.Superseded {
		log.InfoContext(ctx, "linear delivery superseded by a newer one; not replayed")
		h.markApplied(d.ID, d.Subject)
		return false
	}
	ev, err := webhook.Parse(d.Body)
	if err != nil {
		// It parsed when it arrived; a release with a stricter parser can
		// refuse it now. The store gives it up after a few passes.
		h.failed(d.ID, d.Subject, d.Attempts+1, fmt.Errorf("parse stored body: %w", err))
		return false
	}
	ev.DeliveryID = d.ID
	j, ok := h.jobFor(ev)
	if !ok {
		// Nothing to do any more (no Revoker configured now, say).
		log.InfoContext(ctx, "stored linear delivery needs no action; not replayed", "type", ev.Type, "action", ev.Action)
		h.markApplied(d.ID, d.Subject)
		return false
	}
	actx, cancel := context.WithTimeout(ctx, applyTimeout)
	err = h.run(actx, j)
	cancel()
	switch {
	case err == nil:
		log.InfoContext(ctx, "linear delivery replayed")
		h.markApplied(d.ID, d.Subject)
		return true
	case ctx.Err() != nil:
		return false // stopping: not the delivery's fault, and not counted.
	default:
		h.failed(d.ID, d.Subject, d.Attempts+1, err)
		return false
	}
}
