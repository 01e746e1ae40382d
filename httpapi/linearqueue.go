package httpapi

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"sync"
	"time"

	"github.com/proliferate/proliferate-linear/linear/webhook"
)

// Defaults of the Linear delivery workers.
const (
	// DefaultLinearWorkers applies deliveries in parallel for different
	// issues. Applying one is a few database writes (the Slack updates go
	// through the durable job queue), so a handful keeps up with any
	// workspace.
	DefaultLinearWorkers = 4
	// DefaultLinearQueue bounds the deliveries accepted but not yet applied.
	// A burst beyond it (a bulk edit of hundreds of issues) is answered 503
	// and Linear retries it with backoff, rather than this replica holding
	// an unbounded backlog in memory.
	DefaultLinearQueue = 256
)

// applyTimeout bounds one attempt at applying a delivery.
const applyTimeout = 30 * time.Second

// applyAttempts is how often the worker tries a delivery before it counts
// one failure in the store (DeliveryFailed) and leaves the rest to Recover.
const applyAttempts = 3

// markTimeout bounds MarkDeliveryApplied and DeliveryFailed. They run
// after the answer, so Linear's 5 s do not apply.
const markTimeout = 10 * time.Second

// Errors accept returns.
var (
	errQueueFull = errors.New("linear delivery queue is full")
	errClosed    = errors.New("linear delivery queue is closed")
)

// linearHook verifies Linear deliveries and applies them after the answer,
// in a bounded pool.
//
// Accepted data is never lost. Linear waits only 5 s for the 200, so a
// delivery is recorded (deduped) together with its verified body, queued
// in memory, answered 200, and applied afterwards; once applied it is
// marked so in the store. A crash (or a Close that runs out of time)
// between the 200 and the apply leaves the stored delivery unapplied, and
// Recover, on this replica after a restart or on any other, replays it
// from the body. A delivery is recorded only when a queue slot is already
// reserved for it (a full queue answers 503 with nothing recorded, so
// Linear's retry is fresh), and Close drains the queue on a graceful
// shutdown, so a replay is the exception.
type linearHook struct {
	verifier webhook.Verifier
	records  DeliveryRecorder
	issues   IssueChanger
	revoked  Revoker
	org      OrganizationSource
	now      func() time.Time
	log      *slog.Logger
	backoff  time.Duration // first retry delay; doubled per attempt.

	// mu orders accept against close: accept holds it shared while it
	// reserves a slot and sends, close holds it exclusively while it
	// closes the job channels, so nothing is sent on a closed channel.
	mu     sync.RWMutex
	closed bool
	shards []*shard

	base context.Context // cancelled when Close gives up waiting.
	stop context.CancelFunc
	done chan struct{} // closed when every worker has returned.

	// inflight holds the ids of deliveries this replica accepted and has
	// not finished with, so Recover leaves a slow one (a long queue, a
	// retry in backoff) to its worker instead of applying it beside it.
	flightMu sync.Mutex
	inflight map[string]struct{}
	// recovering keeps Recover passes from overlapping.
	recovering sync.Mutex
}

// shard is one worker's queue. Jobs with one key always land in the same
// shard, so they are applied in the order they arrived.
type shard struct {
	// slots counts jobs reserved or queued but not yet taken by the
	// worker; its capacity is the shard's share of the queue. A slot is
	// reserved before the delivery is recorded, so a recorded delivery
	// always has room in jobs.
	slots chan struct{}
	jobs  chan linearJob
}

func newLinearHook(cfg Config, deps Deps, now func() time.Time, log *slog.Logger) *linearHook {
	workers := cfg.LinearWebhookWorkers
	if workers <= 0 {
		workers = DefaultLinearWorkers
	}
	queue := cfg.LinearWebhookQueue
	if queue <= 0 {
		queue = DefaultLinearQueue
	}
	perShard := max((queue+workers-1)/workers, 1)
	base, stop := context.WithCancel(context.Background())
	h := &linearHook{
		verifier: webhook.Verifier{Secret: []byte(cfg.LinearWebhookSecret), Now: now},
		records:  deps.Deliveries,
		issues:   deps.Issues,
		revoked:  deps.Revoked,
		org:      deps.Organization,
		now:      now,
		log:      log,
		backoff:  200 * time.Millisecond,
		base:     base,
		stop:     stop,
		done:     make(chan struct{}),
		inflight: map[string]struct{}{},
	}
	var wg sync.WaitGroup
	for range workers {
		sh := &shard{slots: make(chan struct{}, perShard), jobs: make(chan linearJob, perShard)}
		h.shards = append(h.shards, sh)
		wg.Go(func() { h.work(sh) })
	}
	go func() {
		wg.Wait()
		close(h.done)
	}()
	return h
}

// accept reserves room for j, records its delivery with its body and
// queues it. fresh is false, and nothing is queued, when the delivery was
// recorded before. On errQueueFull and errClosed nothing is recorded.
func (h *linearHook) accept(ctx context.Context, j linearJob) (fresh bool, err error) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.closed {
		return false, errClosed
	}
	sh := h.shardFor(j.key())
	select {
	case sh.slots <- struct{}{}:
	default:
		return false, errQueueFull
	}
	d := webhook.Delivery{ID: j.delivery, Subject: j.key(), Body: j.body, ReceivedAt: h.now().UTC()}
	fresh, err = h.records.RecordDelivery(ctx, d)
	if err != nil || !fresh {
		<-sh.slots
		if err != nil {
			return false, fmt.Errorf("record delivery %s: %w", j.delivery, err)
		}
		return false, nil
	}
	h.flying(j.delivery, true)
	sh.jobs <- j // never blocks: the slot reserved above is room in jobs.
	return true, nil
}

// flying adds id to or removes it from the deliveries in flight here.
func (h *linearHook) flying(id string, on bool) {
	h.flightMu.Lock()
	defer h.flightMu.Unlock()
	if on {
		h.inflight[id] = struct{}{}
	} else {
		delete(h.inflight, id)
	}
}

// inFlight reports whether this replica is still working on delivery id.
func (h *linearHook) inFlight(id string) bool {
	h.flightMu.Lock()
	defer h.flightMu.Unlock()
	_, ok := h.inflight[id]
	return ok
}

func (h *linearHook) shardFor(key string) *shard {
	f := fnv.New32a()
	_, _ = f.Write([]byte(key))
	return h.shards[int(f.Sum32()%uint32(len(h.shards)))]
}

// work applies one shard's jobs until its channel is closed and drained.
func (h *linearHook) work(sh *shard) {
	for j := range sh.jobs {
		<-sh.slots
		h.apply(j)
	}
}

// apply runs j, retrying a failure (a database blip) a few times with
// backoff, then records the outcome in the store: applied, or one failed
// attempt that Recover retries later. Once Close has given up waiting,
// the rest are left unapplied in the store, for Recover after the
// restart.
func (h *linearHook) apply(j linearJob) {
	defer h.flying(j.delivery, false)
	delay := h.backoff
	for attempt := 1; ; attempt++ {
		if h.base.Err() != nil {
			h.log.Warn("linear delivery left for recovery at shutdown", "delivery", j.delivery, "key", j.key())
			return
		}
		ctx, cancel := context.WithTimeout(h.base, applyTimeout)
		err := h.run(ctx, j)
		cancel()
		if err == nil {
			h.markApplied(j.delivery, j.key())
			return
		}
		if h.base.Err() != nil {
			continue // cancelled by Close: not the delivery's fault.
		}
		if attempt >= applyAttempts {
			h.failed(j.delivery, j.key(), attempt, err)
			return
		}
		h.log.Warn("apply linear delivery, will retry", "delivery", j.delivery, "key", j.key(), "attempt", attempt, "err", err)
		select {
		case <-time.After(delay):
		case <-h.base.Done():
		}
		delay *= 2
	}
}

// markApplied records that delivery id (of key) was applied. Should that
// fail, the delivery stays unapplied in the store and Recover applies it
// again later, which is harmless: applying is idempotent (IssueChanged
// sets the issue's state as the delivery carries it and changes nothing
// when it is already shown; a repeated Revoked finds nothing left to
// forget).
func (h *linearHook) markApplied(id, key string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(h.base), markTimeout)
	defer cancel()
	if err := h.records.MarkDeliveryApplied(ctx, id); err != nil {
		h.log.Warn("mark linear delivery applied; it will be replayed", "delivery", id, "key", key, "err", err)
	}
}

// failed records a failed apply of delivery id (of key) in the store, which gives the
// delivery up after a number of them; until then Recover retries it.
func (h *linearHook) failed(id, key string, attempts int, cause error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(h.base), markTimeout)
	defer cancel()
	gaveUp, err := h.records.DeliveryFailed(ctx, id, cause.Error())
	switch {
	case err != nil:
		h.log.Error("apply linear delivery; recording the failure failed too, it will be replayed",
			"delivery", id, "key", key, "attempts", attempts, "err", cause, "record_err", err)
	case gaveUp:
		h.log.Error("apply linear delivery: given up", "delivery", id, "key", key, "err", cause)
	default:
		h.log.Warn("apply linear delivery failed; recovery will retry it", "delivery", id, "key", key,
			"attempts", attempts, "err", cause)
	}
}

func (h *linearHook) run(ctx context.Context, j linearJob) error {
	if j.issue != nil {
		if err := h.issues.IssueChanged(ctx, *j.issue); err != nil {
			return fmt.Errorf("issue %s changed: %w", j.issue.ID, err)
		}
		h.log.InfoContext(ctx, "linear delivery applied", "delivery", j.delivery, "issue", j.issue.Identifier,
			"state", j.issue.StateName)
		return nil
	}
	if err := h.revoked.Revoked(ctx, j.revokedOrg); err != nil {
		return fmt.Errorf("workspace %s revoked: %w", j.revokedOrg, err)
	}
	h.log.InfoContext(ctx, "linear access revoked", "delivery", j.delivery, "org", j.revokedOrg)
	return nil
}

// close stops accepting, then waits for the queue to drain or ctx to end.
func (h *linearHook) close(ctx context.Context) error {
	h.mu.Lock()
	if !h.closed {
		h.closed = true
		for _, sh := range h.shards {
			close(sh.jobs)
		}
	}
	h.mu.Unlock()
	select {
	case <-h.done:
		h.stop()
		return nil
	case <-ctx.Done():
	}
	left := 0
	for _, sh := range h.shards {
		left += len(sh.jobs)
	}
	h.stop() // the workers leave what is left to Recover and return.
	return fmt.Errorf("linear webhook: %d accepted deliveries not applied yet (stored; Recover replays them): %w", left, ctx.Err())
}
