package alert

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"
)

// Dispatcher drains the durable job queue into Slack. It claims due jobs
// with a lease (so a crashed replica's jobs come back), spaces messages per
// channel to stay under Slack's posting rate, honours Retry-After, and
// retries with backoff until MaxAttempts, then buries the job for an
// operator. All retrying of Slack calls happens here and nowhere else.
type Dispatcher struct {
	store  Store
	poster Poster
	log    *slog.Logger

	// Batch is how many jobs one claim takes; Lease how long they are ours.
	Batch int
	Lease time.Duration
	// Poll is how often an idle dispatcher looks for due jobs; Wake cuts it short.
	Poll time.Duration
	// MaxAttempts bounds retries of a job that keeps failing.
	MaxAttempts int
	// ChannelGap is the least time between two messages to one channel:
	// Slack allows about one chat.postMessage per second per channel
	// (https://api.slack.com/methods/chat.postMessage#rate_limiting).
	ChannelGap time.Duration

	wake chan struct{}
	now  func() time.Time

	mu   sync.Mutex
	next map[string]time.Time // channel → earliest time of its next message
}

// defaultLease must outlast the longest delivery, or another replica takes
// the job over and posts it twice: the wait for a channel's turn (at most a
// quarter of the lease, see waitTurn) plus one Slack call (bot's HTTP client
// gives up after 30 s) is 60 s, half the lease.
const defaultLease = 2 * time.Minute

// NewDispatcher builds a Dispatcher with production defaults.
func NewDispatcher(store Store, poster Poster, log *slog.Logger) *Dispatcher {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Dispatcher{
		store: store, poster: poster, log: log,
		Batch: 16, Lease: defaultLease, Poll: time.Second, MaxAttempts: 10, ChannelGap: time.Second,
		wake: make(chan struct{}, 1), now: time.Now, next: map[string]time.Time{},
	}
}

// Wake tells the dispatcher new jobs are queued. It never blocks.
func (d *Dispatcher) Wake() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run drains the queue until ctx is done. Jobs in flight when ctx ends are
// left to their lease and picked up again after a restart.
func (d *Dispatcher) Run(ctx context.Context) error {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-d.wake:
		}
		n, err := d.RunOnce(ctx)
		if err != nil && ctx.Err() == nil {
			d.log.ErrorContext(ctx, "job queue", "err", err)
		}
		wait := d.Poll
		if n == d.Batch {
			wait = 0 // more may be due right now.
		}
		t.Reset(wait)
	}
}

// RunOnce claims one batch of due jobs and runs them, several channels at
// once but one message at a time per channel. It returns how many it ran.
func (d *Dispatcher) RunOnce(ctx context.Context) (int, error) {
	jobs, err := d.store.ClaimJobs(ctx, d.Batch, d.Lease)
	if err != nil {
		return 0, fmt.Errorf("claim jobs: %w", err)
	}
	var wg sync.WaitGroup
	for _, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.runJob(ctx, j)
		}()
	}
	wg.Wait()
	return len(jobs), nil
}

func (d *Dispatcher) runJob(ctx context.Context, j Job) {
	log := d.log.With("job_id", j.ID, "kind", j.Kind, "alert_id", j.AlertID, "attempt", j.Attempts+1)
	a, err := d.store.Alert(ctx, j.AlertID)
	if err == nil {
		log = log.With("channel", a.Channel, "error_id", a.ErrorID)
		err = d.deliver(ctx, j, a)
	} else {
		err = fmt.Errorf("alert %d: %w", j.AlertID, err)
	}
	if ctx.Err() != nil {
		return // shutting down: the lease hands the job to whoever runs next.
	}
	switch {
	case err == nil:
		if ferr := d.store.FinishJob(ctx, j.ID); ferr != nil {
			log.ErrorContext(ctx, "finish job", "err", ferr)
		}
		return
	case errors.Is(err, ErrNotFound):
		log.WarnContext(ctx, "job dropped: its alert is gone", "err", err)
		_ = d.store.FinishJob(ctx, j.ID)
		return
	}
	var tmp *TemporaryError
	temporary := errors.As(err, &tmp)
	if !temporary && j.Attempts+1 >= d.MaxAttempts {
		log.ErrorContext(ctx, "job failed for good", "err", err)
		if berr := d.store.BuryJob(ctx, j.ID, err.Error()); berr != nil {
			log.ErrorContext(ctx, "bury job", "err", berr)
		}
		return
	}
	delay := backoff(j.Attempts)
	if temporary && tmp.After > delay {
		delay = tmp.After
	}
	if temporary && tmp.After > 0 {
		// Slack asked us to wait: hold the whole channel, not just this job.
		d.hold(a.Channel, delay)
	}
	log.WarnContext(ctx, "job will be retried", "err", err, "in", delay)
	if rerr := d.store.RetryJob(ctx, j.ID, d.now().Add(delay), err.Error()); rerr != nil {
		log.ErrorContext(ctx, "retry job", "err", rerr)
	}
}

// errChannelBusy: the channel's turn is too far off to wait for.
var errChannelBusy = errors.New("slack channel rate limit in force")

// backoff is 1s, 2s, 4s … capped at 5 minutes, with ±20% jitter so a burst
// of failures does not retry in lockstep.
func backoff(attempts int) time.Duration {
	d := time.Second << min(attempts, 9)
	d = min(d, 5*time.Minute)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

func (d *Dispatcher) deliver(ctx context.Context, j Job, a Alert) error {
	switch j.Kind {
	case JobRenderAlert:
		var link *IssueLink
		if l, err := d.store.Link(ctx, a.ErrorID); err == nil {
			link = &l
		} else if !errors.Is(err, ErrNotFound) {
			return fmt.Errorf("link of %s: %w", a.ErrorID, err)
		}
		if err := d.waitTurn(ctx, a.Channel); err != nil {
			return err
		}
		if a.MessageTS != "" {
			return d.poster.UpdateAlert(ctx, a, link)
		}
		ts, err := d.poster.PostAlert(ctx, a, link)
		if err != nil {
			return err
		}
		if err := d.store.SetAlertMessage(ctx, a.ID, ts); err != nil {
			// The message is out but we cannot remember it. The retry
			// may post a second message: a duplicate beats a lost alert.
			return fmt.Errorf("record message ts %s: %w", ts, err)
		}
		return nil
	case JobThreadNote:
		if a.MessageTS == "" {
			// The alert's message is not posted yet (its render job is
			// queued or retrying): come back shortly.
			return Temporary(errors.New("alert message not posted yet"), 2*time.Second)
		}
		if err := d.waitTurn(ctx, a.Channel); err != nil {
			return err
		}
		return d.poster.PostThread(ctx, a.Channel, a.MessageTS, j.Text)
	}
	return fmt.Errorf("unknown job kind %q: %w", j.Kind, ErrInvalid)
}

// waitTurn blocks until channel may receive its next message. A wait
// longer than a quarter of the lease (Slack asked for a long Retry-After)
// is not sat out holding the job: it goes back to the queue, due when the
// channel is, so another replica cannot take it over mid-wait and post it
// twice.
func (d *Dispatcher) waitTurn(ctx context.Context, channel string) error {
	d.mu.Lock()
	now := d.now()
	at := d.next[channel]
	if at.Before(now) {
		at = now
	}
	wait := at.Sub(now)
	if wait > d.Lease/4 {
		d.mu.Unlock()
		return Temporary(fmt.Errorf("channel %s is held for %s: %w", channel, wait, errChannelBusy), wait)
	}
	d.next[channel] = at.Add(d.ChannelGap)
	d.mu.Unlock()
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// hold keeps channel quiet for delay, after Slack answered 429.
func (d *Dispatcher) hold(channel string, delay time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if until := d.now().Add(delay); d.next[channel].Before(until) {
		d.next[channel] = until
	}
}
