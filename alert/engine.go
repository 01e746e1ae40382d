package alert

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// This file is the work engine: one durable queue for everything the bot
// promised after answering 202 or acking (Slack messages and notes here,
// submissions and webhook deliveries registered by others), one retry
// policy, leases renewed while a job runs and released on shutdown.
//
// Why our own engine and not riverqueue/river: river is a fine queue and
// can run on database/sql (riverdatabasesql, poll-only with lib/pq), but
// its SQLite driver (riversqlite) is in early testing with little real use,
// and the embedded SQLite default must keep the same guarantees as
// PostgreSQL in one static binary. It would also bring its own schema,
// migrations and worker model next to ours, and two of our needs are not
// river's: a serial key (one alert's message is posted by one job at a time
// across replicas) and a per-channel pace shared through the database. The
// engine below is a few hundred lines on the existing jobs table and runs
// the same SQL on both stores; it does what we need and no more (no cron,
// no priorities, no LISTEN/NOTIFY: Wake covers the local process, Poll the
// others).

// JobHandler runs one job of a kind. What it returns decides what happens
// next, the retry policy written once for every kind (see Dispatcher):
//
//   - nil: done, the job is deleted;
//   - Temporary(err, d): retry after d (Slack's or Linear's Retry-After),
//     or with backoff when d is 0; counts an attempt;
//   - Permanent(err): give up now, the job is dead with err as its reason;
//   - Postpone(err, d): the job could not start (its channel is held, what
//     it follows has not finished); back in d, no attempt counted;
//   - any other error: retry with backoff; counts an attempt.
//
// After MaxAttempts attempts a job is dead whatever it returned. ctx is
// cancelled when the job's lease is lost or shutdown's grace ran out.
type JobHandler func(ctx context.Context, j Job) error

// DispatcherStore is what the Dispatcher needs of the database: the core's
// store (alerts, for the Slack jobs), the queue and the channel pace.
type DispatcherStore interface {
	Store
	JobQueue
	ChannelPacer
}

// Dispatcher drains the durable job queue. It claims due jobs with a lease
// renewed while they run (so a crashed replica's jobs come back when it
// ends, and a live one's never do), runs each with its kind's handler,
// applies the retry policy, and on shutdown gives running jobs a grace
// period and hands back the rest at once. Its own handlers post alerts and
// thread notes to Slack, spaced per channel across replicas.
type Dispatcher struct {
	store  DispatcherStore
	poster Poster
	log    *slog.Logger

	// Workers bounds the jobs running at once (a job waiting for its
	// channel's turn is not running); Batch is how many one claim takes.
	Workers int
	Batch   int
	// Lease is how long a claimed job is ours without a renewal; it is
	// renewed every Lease/4 while the job runs.
	Lease time.Duration
	// Poll is how often an idle dispatcher looks for due jobs; Wake cuts it short.
	Poll time.Duration
	// WakeGap is the least time between the end of one claim and a claim
	// prompted by a Wake or a finished job: the prompts that arrive
	// while a claim runs or within WakeGap of its end are folded into one
	// claim, due WakeGap after it, which takes a batch. (A busy intake
	// wakes the dispatcher once per new alert; without it the dispatcher
	// would claim once per alert.) A wake after a quiet spell claims at
	// once; none is lost. 0 claims at every prompt.
	WakeGap time.Duration
	// MaxAttempts bounds the attempts of every job, whatever its errors.
	MaxAttempts int
	// Backoff, when set, is the wait before the next attempt of a job
	// whose last one failed without saying when to try again (tests: a
	// short one); nil is 1 s, 2 s, 4 s … capped at 5 minutes, jittered.
	Backoff func(attempts int) time.Duration
	// MaxAge bounds how long a job may keep being postponed.
	MaxAge time.Duration
	// Grace is how long running jobs may finish after shutdown begins
	// before their context is cancelled and they are handed back.
	Grace time.Duration
	// ChannelGap is the least time between two messages to one channel:
	// Slack allows about one chat.postMessage per second per channel
	// (https://api.slack.com/methods/chat.postMessage#rate_limiting).
	ChannelGap time.Duration
	// MaxChannelWait is the longest a claimed job waits for its channel's
	// turn; a longer wait (a long Retry-After) returns it to the queue, due
	// when the channel is. A job waiting for its turn does not count
	// against Workers.
	MaxChannelWait time.Duration
	// ClaimAhead is how soon before its channel's next slot a job that
	// posts in a channel is claimed: jobs of a busy channel stay in the
	// queue, where other channels' due jobs pass them, instead of being
	// claimed to wait. (A Retry-After hold up to MaxChannelWait is sat
	// out by the jobs claimed for it, without a worker.)
	ClaimAhead time.Duration
	// MaxLeased bounds the jobs a dispatcher holds at once: running,
	// claimed and waiting for a worker (at most a Batch beyond Workers),
	// or waiting for their channel's turn. 0 means 4 × Workers.
	MaxLeased int
	// MessageWait is how long a thread note or status job whose alert's
	// message is not posted yet is put off before it looks again
	// (NewDispatcher: 2 s); tests make it short.
	MessageWait time.Duration

	// OnJobEnd, when set, is told how each run of a job ended (metrics):
	// its kind, the outcome and how long the handler ran. Set it before Run.
	OnJobEnd func(kind JobKind, outcome JobOutcome, ran time.Duration)
	// OnAlertPosted, when set, is told, each time an alert's message is
	// first posted, how long after the alert was accepted that was.
	OnAlertPosted func(sinceAccepted time.Duration)

	owner    string
	handlers map[JobKind]JobHandler
	wake     chan struct{}
	now      func() time.Time

	mu      sync.Mutex
	running map[int64]context.CancelCauseFunc // jobs under lease → cancel.
	// sleeping counts the jobs under lease waiting for their channel's
	// turn, which hold no worker.
	sleeping atomic.Int64
}

// Defaults. The lease is short because it is renewed (every Lease/4, one
// UPDATE for all of a replica's running jobs): a kill -9'd replica's jobs
// come back within DefaultLease, so a restart (or another replica) posts
// them within seconds, while a live replica keeps its jobs through three
// missed renewals (3 s of a stalled database).
const (
	DefaultLease = 4 * time.Second
	// DefaultWakeGap bounds the claims prompted by wakes to about 100 a
	// second, whatever the intake's rate, and delays a post by at most
	// that much (its channel's 1 s spacing is far longer).
	DefaultWakeGap = 10 * time.Millisecond
	// noteRetry is how soon a thread note looks again for its alert's
	// message (Dispatcher.MessageWait).
	noteRetry = 2 * time.Second
)

// JobOutcome is how one run of a job ended, for OnJobEnd.
type JobOutcome string

// Job outcomes: done (deleted), retried (an attempt counted), postponed
// (no attempt counted: its turn has not come), dead (buried for an
// operator), handed back at shutdown, or lost to another worker.
const (
	JobDone       JobOutcome = "done"
	JobRetried    JobOutcome = "retried"
	JobPostponed  JobOutcome = "postponed"
	JobBuried     JobOutcome = "dead"
	JobHandedBack JobOutcome = "handed_back"
	JobLeaseLost  JobOutcome = "lease_lost"
)

// errLeaseLost: another worker holds the job now; leave it alone.
var errLeaseLost = errors.New("job lease lost")

// errStopping: shutdown began while the job waited; hand it back.
var errStopping = errors.New("dispatcher is shutting down")

// NewDispatcher builds a Dispatcher with production defaults and the
// handlers of the core's own kinds (JobRenderAlert, JobThreadNote).
func NewDispatcher(store DispatcherStore, poster Poster, log *slog.Logger) *Dispatcher {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := &Dispatcher{
		store: store, poster: poster, log: log,
		Workers: 16, Batch: 16, Lease: DefaultLease, Poll: time.Second, WakeGap: DefaultWakeGap, MaxAttempts: 10,
		MaxAge: 24 * time.Hour, Grace: 5 * time.Second, ChannelGap: time.Second, MaxChannelWait: 10 * time.Second,
		ClaimAhead: time.Second, MessageWait: noteRetry,
		owner:    uuid.NewString(),
		handlers: map[JobKind]JobHandler{},
		wake:     make(chan struct{}, 1), now: time.Now,
		running: map[int64]context.CancelCauseFunc{},
	}
	d.Handle(JobRenderAlert, d.renderAlert)
	d.Handle(JobThreadNote, d.threadNote)
	d.Handle(JobThreadStatus, d.threadStatus) // intake.go
	return d
}

// Handle registers the handler of kind, replacing any. Register every kind
// before Run: a claimed job of a kind without a handler is buried.
func (d *Dispatcher) Handle(kind JobKind, h JobHandler) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.handlers[kind] = h
}

// Kinds returns the job kinds with a handler, sorted.
func (d *Dispatcher) Kinds() []JobKind {
	d.mu.Lock()
	defer d.mu.Unlock()
	kinds := make([]JobKind, 0, len(d.handlers))
	for k := range d.handlers {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	return kinds
}

// Wake tells the dispatcher new jobs are queued. It never blocks.
func (d *Dispatcher) Wake() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// stopKey carries, in a job's context, the channel closed when shutdown
// begins, so waits give the job back at once while calls already under way
// get their grace.
type stopKey struct{}

// stopping returns the shutdown channel of a job's context (nil: never).
func stopping(ctx context.Context) <-chan struct{} {
	ch, _ := ctx.Value(stopKey{}).(chan struct{})
	return ch
}

// Run drains the queue until ctx is done, up to Workers jobs at once.
// Then it stops claiming, lets running jobs finish for Grace, cancels the
// rest and hands them back to the queue, so a restarted process picks
// them up at once rather than after their lease.
func (d *Dispatcher) Run(ctx context.Context) error {
	stop := make(chan struct{})
	work, cancelWork := context.WithCancel(context.WithValue(context.WithoutCancel(ctx), stopKey{}, stop))
	defer cancelWork()
	hbCtx, hbStop := context.WithCancel(work)
	hbDone := make(chan struct{})
	go func() { defer close(hbDone); d.heartbeat(hbCtx) }()

	var jobsWG sync.WaitGroup
	finished := make(chan struct{}, 1)
	sem := make(chan struct{}, max(d.Workers, 1))
	t := time.NewTimer(0)
	defer t.Stop()
	next := time.Now() // when t fires.
	resetTimer := func(wait time.Duration) {
		if !t.Stop() {
			select {
			case <-t.C:
			default:
			}
		}
		t.Reset(wait)
		next = time.Now().Add(wait)
	}
	var claimed time.Time // when the last claim ended.
	for ctx.Err() == nil {
		prompted := false
		select {
		case <-ctx.Done():
			continue
		case <-t.C:
		case <-d.wake:
			prompted = true
		case <-finished:
			prompted = true
		}
		if prompted {
			// Fold a prompt that comes within WakeGap of the last claim
			// into one claim when the gap ends (or sooner, if the timer
			// is due sooner): the wake is kept, by the timer.
			if early := d.WakeGap - time.Since(claimed); early > 0 {
				if at := time.Now().Add(early); at.Before(next) {
					resetTimer(early)
				}
				continue
			}
		}
		// Claim a whole batch once no more than Workers jobs hold or wait
		// for a worker: the next batch is in hand when a worker frees
		// up, and claims (serialised across replicas) stay few and full.
		want := 0
		if d.inFlight()-int(d.sleeping.Load()) <= d.Workers {
			want = min(d.Batch, d.maxLeased()-d.inFlight())
		}
		var jobs []Job
		claimFrom := d.now() // no later than the claim's own now
		if want > 0 {
			var err error
			jobs, err = d.claim(ctx, want)
			claimed = time.Now()
			if err != nil && ctx.Err() == nil {
				d.log.ErrorContext(ctx, "claim jobs", "err", err)
			}
		}
		for _, j := range jobs {
			if d.isRunning(j.ID) {
				// Our own lease ran out (a stalled renewal) and the claim
				// gave the job back to us: it is still running here, and
				// the next renewal keeps it. Never run it twice.
				continue
			}
			jctx, done := d.track(work, j.ID)
			slot := &workerSlot{sem: sem}
			jctx = context.WithValue(jctx, slotKey{}, slot)
			jobsWG.Go(func() {
				defer func() {
					select {
					case finished <- struct{}{}:
					default:
					}
				}()
				if !slot.acquire(jctx) {
					d.unstarted(jctx, done, j)
					return
				}
				defer slot.release()
				d.runJob(jctx, done, j)
			})
		}
		wait := d.Poll
		switch {
		case want > 0 && len(jobs) == want:
			wait = 0 // more may be due right now.
		case want > 0:
			// A job due already (it fell due while the claim ran) waits
			// out WakeGap like a prompt would: a busy intake still makes
			// one claim per gap, not one after another.
			wait = max(d.untilNextDue(ctx, claimFrom, wait), min(d.WakeGap, wait))
		}
		resetTimer(wait)
	}

	// Shutdown: waits for a channel's turn end now (errStopping); calls
	// under way get Grace, then their context is cancelled. Either way the
	// job is handed back, due at once, with no attempt counted.
	close(stop)
	if n := d.inFlight(); n > 0 {
		d.log.Info("job queue stopping", "running", n, "grace", d.Grace)
	}
	grace := time.AfterFunc(d.Grace, cancelWork)
	defer grace.Stop()
	jobsWG.Wait()
	hbStop()
	<-hbDone
	return nil
}

// RunOnce claims one batch of due jobs and runs them to the end, several
// at once. It returns how many it ran. (Tests drive the engine with it;
// Run is the production loop.)
func (d *Dispatcher) RunOnce(ctx context.Context) (int, error) {
	jobs, err := d.claim(ctx, d.Batch)
	if err != nil {
		return 0, fmt.Errorf("claim jobs: %w", err)
	}
	var wg sync.WaitGroup
	for _, j := range jobs {
		jctx, done := d.track(ctx, j.ID)
		wg.Go(func() { d.runJob(jctx, done, j) })
	}
	wg.Wait()
	return len(jobs), nil
}

// claim leases up to limit due jobs, keeping the channels' pace: a job
// that posts in a channel is claimed at most ClaimAhead before the
// channel's next slot, no more of one channel than can go within
// ClaimAhead, and not while Slack holds the channel for longer than
// MaxChannelWait (a shorter hold is sat out by the claimed job, without a
// worker, so it goes first when the hold ends).
func (d *Dispatcher) claim(ctx context.Context, limit int) ([]Job, error) {
	perChannel := limit
	if d.ChannelGap > 0 {
		perChannel = min(limit, 1+int(d.ClaimAhead/d.ChannelGap))
	}
	return d.store.ClaimPacedJobs(ctx, d.owner, limit, d.Lease, ClaimPace{
		Kinds: ChannelKinds, Ahead: d.ClaimAhead, HoldAhead: d.MaxChannelWait, PerChannel: perChannel,
	})
}

func (d *Dispatcher) maxLeased() int {
	if d.MaxLeased > 0 {
		return d.MaxLeased
	}
	return 4 * d.Workers
}

// track records a job under lease and returns its context and the cancel
// to call when it is settled.
func (d *Dispatcher) track(ctx context.Context, id int64) (context.Context, context.CancelCauseFunc) {
	jctx, cancel := context.WithCancelCause(ctx)
	d.mu.Lock()
	d.running[id] = cancel
	d.mu.Unlock()
	return jctx, cancel
}

// untrack forgets a job whose handler returned, before it is settled: once
// settled it may be claimed again, and a claim must then not mistake it
// for one still running here.
func (d *Dispatcher) untrack(id int64) {
	d.mu.Lock()
	delete(d.running, id)
	d.mu.Unlock()
}

// workerSlot is a claimed job's hold on one of the Workers, carried in its
// context; the job lets go of it while it waits for its channel's turn.
type workerSlot struct {
	sem  chan struct{}
	held bool
}

type slotKey struct{}

// acquire waits for a free worker; false if shutdown began or the job's
// lease was lost first.
func (s *workerSlot) acquire(ctx context.Context) bool {
	select {
	case s.sem <- struct{}{}:
		s.held = true
		return true
	case <-stopping(ctx):
		return false
	case <-ctx.Done():
		return false
	}
}

func (s *workerSlot) release() {
	if s.held {
		s.held = false
		<-s.sem
	}
}

// unstarted ends a claimed job that never got a worker: at shutdown it is
// handed back, due at once; if its lease was lost, the new holder has it.
func (d *Dispatcher) unstarted(ctx context.Context, done context.CancelCauseFunc, j Job) {
	defer done(nil)
	d.untrack(j.ID)
	if errors.Is(context.Cause(ctx), errLeaseLost) {
		return
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := d.store.PostponeJob(sctx, j.ID, d.now(), "handed back at shutdown"); err != nil {
		d.log.ErrorContext(sctx, "hand back job", "job_id", j.ID, "err", err)
	}
}

func (d *Dispatcher) isRunning(id int64) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, ok := d.running[id]
	return ok
}

func (d *Dispatcher) inFlight() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.running)
}

// heartbeat renews the leases of running jobs every Lease/4 until ctx
// ends. A job whose lease was lost (it ran out during a long stall and
// another worker took it) is cancelled: two workers must not both run it.
func (d *Dispatcher) heartbeat(ctx context.Context) {
	t := time.NewTicker(max(d.Lease/4, time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		d.RenewLeases(ctx)
	}
}

// RenewLeases extends the lease of every running job once. Run calls it
// every Lease/4; it is exported for tests.
func (d *Dispatcher) RenewLeases(ctx context.Context) {
	d.mu.Lock()
	ids := make([]int64, 0, len(d.running))
	for id := range d.running {
		ids = append(ids, id)
	}
	d.mu.Unlock()
	if len(ids) == 0 {
		return
	}
	lost, err := d.store.ExtendLeases(ctx, d.owner, ids, d.Lease)
	if err != nil {
		if ctx.Err() == nil {
			d.log.WarnContext(ctx, "renew job leases", "jobs", len(ids), "err", err)
		}
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, id := range lost {
		if cancel := d.running[id]; cancel != nil {
			d.log.WarnContext(ctx, "job lease lost: another worker has it", "job_id", id)
			cancel(errLeaseLost)
		}
	}
}

// runJob runs j with its handler and applies the retry policy; done
// cancels ctx once the job is settled.
func (d *Dispatcher) runJob(ctx context.Context, done context.CancelCauseFunc, j Job) {
	defer done(nil)
	log := d.log.With("job_id", j.ID, "kind", j.Kind, "attempt", j.Attempts+1)
	if j.AlertID != 0 {
		log = log.With("alert_id", j.AlertID)
	}
	d.mu.Lock()
	h := d.handlers[j.Kind]
	d.mu.Unlock()
	var err error
	start := d.now()
	if h == nil {
		err = Permanent(fmt.Errorf("no handler for job kind %q", j.Kind))
	} else {
		err = d.call(ctx, h, j)
	}
	ran := d.now().Sub(start)
	d.untrack(j.ID)
	// Settle with a context of its own: a job cancelled at shutdown must
	// still be handed back.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	outcome, serr := d.settle(sctx, ctx, log, j, err)
	if serr != nil {
		log.ErrorContext(sctx, "settle job", "err", serr)
	}
	if d.OnJobEnd != nil {
		d.OnJobEnd(j.Kind, outcome, ran)
	}
}

// call runs h, turning a panic into an error so one bad job cannot take
// the process down.
func (d *Dispatcher) call(ctx context.Context, h JobHandler, j Job) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("handler panicked: %v\n%s", r, debug.Stack())
		}
	}()
	return h(ctx, j)
}

// settle is the retry policy, once for every kind. It says how the run
// ended and whether recording that failed.
func (d *Dispatcher) settle(ctx, jobCtx context.Context, log *slog.Logger, j Job, err error) (JobOutcome, error) {
	var (
		perm  *PermanentError
		post  *PostponedError
		tmp   *TemporaryError
		after time.Duration
	)
	switch {
	case errors.Is(context.Cause(jobCtx), errLeaseLost):
		return JobLeaseLost, nil // another worker has it now.
	case err == nil:
		return JobDone, d.store.FinishJob(ctx, j.ID)
	case errors.Is(err, errStopping) || (jobCtx.Err() != nil && ctx.Err() == nil):
		// Shutdown: hand the job back, due now, no attempt counted.
		log.InfoContext(ctx, "job handed back at shutdown", "err", err)
		return JobHandedBack, d.store.PostponeJob(ctx, j.ID, d.now(), "handed back at shutdown")
	case errors.As(err, &perm):
		log.ErrorContext(ctx, "job failed for good", "err", err)
		return JobBuried, d.store.BuryJob(ctx, j.ID, err.Error())
	case errors.As(err, &post):
		if age := d.now().Sub(j.CreatedAt); age > d.MaxAge {
			log.ErrorContext(ctx, "job postponed too long", "err", err, "age", age)
			return JobBuried, d.store.BuryJob(ctx, j.ID, fmt.Sprintf("still waiting after %s: %v", age.Round(time.Second), err))
		}
		log.DebugContext(ctx, "job postponed", "reason", err, "in", post.After)
		return JobPostponed, d.store.PostponeJob(ctx, j.ID, d.now().Add(post.After), err.Error())
	case errors.As(err, &tmp) && tmp.After > 0:
		after = tmp.After
	case d.Backoff != nil:
		after = d.Backoff(j.Attempts)
	default:
		after = backoff(j.Attempts)
	}
	if j.Attempts+1 >= d.MaxAttempts {
		log.ErrorContext(ctx, "job failed for good", "err", err)
		return JobBuried, d.store.BuryJob(ctx, j.ID, fmt.Sprintf("gave up after %d attempts: %v", j.Attempts+1, err))
	}
	log.WarnContext(ctx, "job will be retried", "err", err, "in", after)
	return JobRetried, d.store.RetryJob(ctx, j.ID, d.now().Add(after), err.Error())
}

// nextDuer is what a store tells of the queue's next due time (store.DB
// has it).
type nextDuer interface {
	NextDue(ctx context.Context, after time.Time) (time.Time, bool, error)
}

// untilNextDue is how long an idle dispatcher sleeps: until the next
// queued job falls due, if that is sooner than limit (the poll). A job
// ends with a claim, so a job this dispatcher put back, one another
// replica put back, and a repeat's update the store paced all run when
// due rather than up to a poll later. claimFrom is when the claim before
// began: a job that fell due while it ran comes back as due now (sleep 0),
// while one due before it that it left (its channel or serial key held)
// does not keep the dispatcher spinning.
func (d *Dispatcher) untilNextDue(ctx context.Context, claimFrom time.Time, limit time.Duration) time.Duration {
	q, ok := d.store.(nextDuer)
	if !ok {
		return limit
	}
	at, ok, err := q.NextDue(ctx, claimFrom)
	if err != nil {
		if ctx.Err() == nil {
			d.log.DebugContext(ctx, "next due job", "err", err)
		}
		return limit
	}
	if !ok {
		return limit
	}
	return min(limit, max(at.Sub(d.now()), 0))
}

// backoff is 1s, 2s, 4s … capped at 5 minutes, with ±20% jitter so a burst
// of failures does not retry in lockstep.
func backoff(attempts int) time.Duration {
	d := time.Second << min(attempts, 9)
	d = min(d, 5*time.Minute)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// waitFor sleeps until a job's turn in its channel without holding a
// worker: the dispatcher runs another job meanwhile. The job takes a
// worker again when it wakes.
func (d *Dispatcher) waitFor(ctx context.Context, wait time.Duration) error {
	if wait <= 0 {
		return nil
	}
	slot, _ := ctx.Value(slotKey{}).(*workerSlot)
	d.sleeping.Add(1)
	if slot != nil {
		slot.release()
		d.Wake()
	}
	err := sleep(ctx, wait)
	d.sleeping.Add(-1)
	if err == nil && slot != nil && !slot.acquire(ctx) {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return errStopping
	}
	return err
}

// sleep waits d, or until ctx ends or shutdown begins.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-stopping(ctx):
		return errStopping
	case <-t.C:
		return nil
	}
}
