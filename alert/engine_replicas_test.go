package alert_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/store"
	"github.com/proliferate/proliferate-linear/store/storetest"
)

// slackCall is one call the engine made to Slack, when it went out.
type slackCall struct {
	Method  string // post, update or thread
	ErrorID string
	At      time.Time
	Err     error
}

// clockPoster is a Poster shared by several dispatchers (replicas) that
// records every call with its time. hook, when set, runs at the start of
// each call and may block it (until its ctx ends) or fail it.
type clockPoster struct {
	mu      sync.Mutex
	calls   []slackCall
	n       int
	started chan string // method:errorID of each call, as it starts
	hook    func(ctx context.Context, method string, a alert.Alert) error
}

func newClockPoster() *clockPoster { return &clockPoster{started: make(chan string, 100)} }

func (p *clockPoster) call(ctx context.Context, method string, a alert.Alert) error {
	at := time.Now()
	p.started <- method + ":" + a.ErrorID
	var err error
	if p.hook != nil {
		err = p.hook(ctx, method, a)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, slackCall{Method: method, ErrorID: a.ErrorID, At: at, Err: err})
	return err
}

func (p *clockPoster) PostAlert(ctx context.Context, a alert.Alert, _ *alert.IssueLink) (string, error) {
	if err := p.call(ctx, "post", a); err != nil {
		return "", err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n++
	return fmt.Sprintf("1700000000.%06d", p.n), nil
}

func (p *clockPoster) UpdateAlert(ctx context.Context, a alert.Alert, _ *alert.IssueLink) error {
	return p.call(ctx, "update", a)
}

func (p *clockPoster) PostNote(ctx context.Context, a alert.Alert, _ alert.Note) error {
	return p.call(ctx, "thread", alert.Alert{Channel: a.Channel, MessageTS: a.Thread()})
}

func (p *clockPoster) PostStatus(ctx context.Context, a alert.Alert, _ *alert.IssueLink, _ string) error {
	return p.call(ctx, "status", a)
}

// made returns the calls that succeeded, by method.
func (p *clockPoster) made(method string) []slackCall {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []slackCall
	for _, c := range p.calls {
		if c.Method == method && c.Err == nil {
			out = append(out, c)
		}
	}
	return out
}

// waitStart waits for the next call to start and returns "method:errorID".
func (p *clockPoster) waitStart(t *testing.T) string {
	t.Helper()
	select {
	case s := <-p.started:
		return s
	case <-time.After(10 * time.Second):
		t.Fatal("no Slack call started within 10 s")
		return ""
	}
}

// replicas opens n stores on one migrated database of dc, each a replica's.
func replicas(t *testing.T, dc storetest.Case, n int) []*store.DB {
	url := dc.MigratedURL(t)
	dbs := make([]*store.DB, n)
	for i := range dbs {
		dbs[i] = storetest.OpenURL(t, url)
	}
	return dbs
}

// signalStore reports each channel slot a dispatcher reserves.
type signalStore struct {
	*store.DB
	reserved chan time.Duration
}

func (s signalStore) ReserveChannelSlot(ctx context.Context, channel string, gap, maxWait time.Duration) (time.Duration, bool, error) {
	wait, ok, err := s.DB.ReserveChannelSlot(ctx, channel, gap, maxWait)
	s.reserved <- wait
	return wait, ok, err
}

// TestTwoReplicasPostOneMessagePerAlert: a repeat of an alert reaches
// replica 2 while replica 1 is still posting the alert's first message.
// Replica 2 must not run the repeat's render job meanwhile (it would read
// an empty ts and post a second message); it updates the message after.
func TestTwoReplicasPostOneMessagePerAlert(t *testing.T) {
	t.Parallel()
	for _, dc := range storetest.Dialects(t) {
		t.Run(dc.Name, func(t *testing.T) {
			ctx := context.Background()
			dbs := replicas(t, dc, 2)
			svc1, svc2 := alert.NewService(dbs[0], nil, nil), alert.NewService(dbs[1], nil, nil)
			p := newClockPoster()
			gate := make(chan struct{})
			var held atomic.Bool
			p.hook = func(ctx context.Context, method string, _ alert.Alert) error {
				if method == "post" && held.CompareAndSwap(false, true) {
					<-gate // the first post hangs until the test lets it go.
				}
				return nil
			}
			d1, d2 := newDispatcher(t, dbs[0], p), newDispatcher(t, dbs[1], p)

			accept(t, svc1, "e1", 1)
			first := make(chan error, 1)
			go func() { _, err := d1.RunOnce(ctx); first <- err }()
			if got := p.waitStart(t); got != "post:e1" {
				t.Fatalf("first call %s, want post:e1", got)
			}
			accept(t, svc2, "e1", 2) // the repeat, at replica 2, mid-post.
			if n, err := d2.RunOnce(ctx); err != nil || n != 0 {
				t.Fatalf("replica 2 ran %d jobs (%v) while replica 1 posted the alert, want 0", n, err)
			}
			close(gate)
			if err := <-first; err != nil {
				t.Fatal(err)
			}
			if n, err := d2.RunOnce(ctx); err != nil || n != 1 {
				t.Fatalf("replica 2 then ran %d jobs (%v), want the repeat's render", n, err)
			}
			if posts, updates := p.made("post"), p.made("update"); len(posts) != 1 || len(updates) != 1 {
				t.Errorf("%d messages posted and %d updated, want one message, updated once", len(posts), len(updates))
			}
		})
	}
}

// TestChannelPaceAcrossReplicas: two replicas posting six alerts to one
// channel keep Slack's pace between them: the i-th message goes out no
// sooner than i gaps after the start.
func TestChannelPaceAcrossReplicas(t *testing.T) {
	t.Parallel()
	for _, dc := range storetest.Dialects(t) {
		t.Run(dc.Name, func(t *testing.T) {
			ctx := context.Background()
			dbs := replicas(t, dc, 2)
			svc := alert.NewService(dbs[0], nil, nil)
			p := newClockPoster()
			const gap = 100 * time.Millisecond
			var ds []*alert.Dispatcher
			for _, db := range dbs {
				d := newDispatcher(t, db, p)
				d.ChannelGap, d.Batch = gap, 3
				ds = append(ds, d)
			}
			for i := range 6 {
				accept(t, svc, fmt.Sprintf("e%d", i), 1)
			}
			start := time.Now()
			var wg sync.WaitGroup
			for _, d := range ds {
				wg.Go(func() {
					if n, err := d.RunOnce(ctx); err != nil || n != 3 {
						t.Errorf("RunOnce = %d, %v; want 3 jobs per replica", n, err)
					}
				})
			}
			wg.Wait()
			posts := p.made("post")
			if len(posts) != 6 {
				t.Fatalf("%d posts, want 6", len(posts))
			}
			times := make([]time.Duration, len(posts))
			for i, c := range posts {
				times[i] = c.At.Sub(start)
			}
			slices.Sort(times)
			for i, at := range times {
				if earliest := time.Duration(i) * gap; at < earliest-time.Millisecond {
					t.Errorf("message %d went out %v after the start, before its turn at %v (all: %v)", i+1, at, earliest, times)
				}
			}
		})
	}
}

// TestRetryAfterVoidsReservedSlots: replica 2's job has reserved the
// channel's next slot and waits for it when Slack answers replica 1 with
// 429 and Retry-After: 2 s. Replica 2 must not call before those seconds
// are over. (The slots are a second apart: replica 2 must reserve its slot
// within a gap of replica 1's, which a loaded machine missed at 300 ms.)
func TestRetryAfterVoidsReservedSlots(t *testing.T) {
	t.Parallel()
	for _, dc := range storetest.Dialects(t) {
		t.Run(dc.Name, func(t *testing.T) {
			t.Parallel() // the dialects' seconds of Retry-After overlap
			ctx := context.Background()
			dbs := replicas(t, dc, 2)
			svc := alert.NewService(dbs[0], nil, nil)
			p := newClockPoster()
			const gap, retryAfter = time.Second, 2 * time.Second
			gate := make(chan struct{})
			var answered time.Time // when Slack said 429
			p.hook = func(_ context.Context, method string, a alert.Alert) error {
				if method == "post" && a.ErrorID == "e1" && answered.IsZero() {
					<-gate
					answered = time.Now()
					return alert.Temporary(errors.New("slack: ratelimited"), retryAfter)
				}
				return nil
			}
			d1 := newDispatcher(t, dbs[0], p)
			s2 := signalStore{DB: dbs[1], reserved: make(chan time.Duration, 10)}
			d2 := alert.NewDispatcher(s2, p, storetest.Logger(t))
			for _, d := range []*alert.Dispatcher{d1, d2} {
				d.Batch, d.ChannelGap, d.Lease = 1, gap, 10*time.Second
			}
			accept(t, svc, "e1", 1)
			accept(t, svc, "e2", 1) // same channel

			var wg sync.WaitGroup
			wg.Go(func() { _, _ = d1.RunOnce(ctx) }) // claims e1, the older job
			if got := p.waitStart(t); got != "post:e1" {
				t.Fatalf("first call %s, want post:e1", got)
			}
			wg.Go(func() { _, _ = d2.RunOnce(ctx) }) // claims e2
			if wait := <-s2.reserved; wait <= 0 {
				t.Fatalf("replica 2 reserved a slot %v away, want one after replica 1's", wait)
			}
			close(gate) // replica 2 sleeps towards its slot; Slack answers 429.
			wg.Wait()

			var e2 []slackCall
			for _, c := range p.made("post") {
				if c.ErrorID == "e2" {
					e2 = append(e2, c)
				}
			}
			if len(e2) != 1 {
				t.Fatalf("e2 posted %d times, want once", len(e2))
			}
			if early := answered.Add(retryAfter).Sub(e2[0].At); early > 0 {
				t.Errorf("replica 2 called Slack %v before the Retry-After was over", early)
			}
		})
	}
}

// TestLeaseRenewedWhileRunning: a job that runs longer than its lease is
// not taken over by another replica while its worker renews the lease; if
// the worker stalls past it, the job comes back and the stalled worker is
// told to stop.
func TestLeaseRenewedWhileRunning(t *testing.T) {
	t.Parallel()
	for _, dc := range storetest.Dialects(t) {
		t.Run(dc.Name, func(t *testing.T) {
			ctx := context.Background()
			db := dc.Open(t)
			clk := &storeClock{db: db}
			svc := alert.NewService(db, nil, nil)
			p := newClockPoster()
			gate := make(chan struct{})
			stopped := make(chan error, 1)
			p.hook = func(ctx context.Context, method string, _ alert.Alert) error {
				if method != "post" || len(p.started) > 0 {
					return nil
				}
				select {
				case <-gate:
					return nil
				case <-ctx.Done():
					stopped <- context.Cause(ctx)
					return ctx.Err()
				}
			}
			d1, d2 := newDispatcher(t, db, p), newDispatcher(t, db, p)
			d1.Lease, d2.Lease = time.Minute, time.Minute
			accept(t, svc, "e1", 1)

			first := make(chan struct{})
			go func() { defer close(first); _, _ = d1.RunOnce(ctx) }()
			p.waitStart(t)
			clk.skip(50 * time.Second)
			d1.RenewLeases(ctx)
			clk.skip(50 * time.Second) // 100 s after the claim, 50 s after the renewal.
			if n, err := d2.RunOnce(ctx); err != nil || n != 0 {
				t.Fatalf("replica 2 took %d jobs (%v) whose lease was renewed, want 0", n, err)
			}

			// Now replica 1 stalls past its lease: replica 2 takes the job
			// and posts; replica 1's renewal finds it lost and stops it.
			clk.skip(2 * time.Minute)
			if n, err := d2.RunOnce(ctx); err != nil || n != 1 {
				t.Fatalf("replica 2 took %d jobs (%v) after the lease ran out, want 1", n, err)
			}
			d1.RenewLeases(ctx)
			select {
			case cause := <-stopped:
				if cause == nil || !strings.Contains(cause.Error(), "lease lost") {
					t.Errorf("stalled worker stopped by %v, want its lost lease", cause)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the stalled worker was not stopped")
			}
			<-first
			if posts := p.made("post"); len(posts) != 1 {
				t.Errorf("%d posts, want 1", len(posts))
			}
		})
	}
}

// TestShutdownHandsJobsBack: on shutdown a job waiting for its channel,
// and one whose call outlives the grace period, go back to the queue due
// at once with no attempt counted, so a restart runs them at once rather
// than after their lease.
func TestShutdownHandsJobsBack(t *testing.T) {
	t.Parallel()
	for _, dc := range storetest.Dialects(t) {
		t.Run(dc.Name, func(t *testing.T) {
			db := dc.Open(t)
			svc := alert.NewService(db, nil, nil)
			p := newClockPoster()
			p.hook = func(ctx context.Context, method string, a alert.Alert) error {
				if a.ErrorID == "slow" {
					<-ctx.Done() // a call that hangs until cancelled
					return ctx.Err()
				}
				return nil
			}
			s := signalStore{DB: db, reserved: make(chan time.Duration, 10)}
			d := alert.NewDispatcher(s, p, storetest.Logger(t))
			d.Grace, d.ChannelGap = 50*time.Millisecond, 0

			ctx, cancel := context.WithCancel(context.Background())
			if err := db.HoldChannel(ctx, "C2", 5*time.Second); err != nil {
				t.Fatal(err)
			}
			slow := accept(t, svc, "slow", 1) // C1: its call hangs.
			waiting, err := svc.Accept(ctx, alert.Alert{ErrorID: "waiting", Channel: "C2", URL: "https://app.proliferate.dev/e/w"})
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- d.Run(ctx) }()
			<-s.reserved
			<-s.reserved
			p.waitStart(t) // the slow call is under way; "waiting" sleeps on C2's hold.
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("Run: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Run did not return after shutdown")
			}
			now := time.Now()
			jobs, err := db.ListJobs(context.Background(), false, 100)
			if err != nil {
				t.Fatal(err)
			}
			handed := map[int64]bool{}
			for _, j := range jobs {
				if j.Status != alert.JobQueued || j.Attempts != 0 || j.RunAt.After(now) {
					t.Errorf("job %d of alert %d = %s, %d attempts, due %v; want queued, due now, no attempt",
						j.ID, j.AlertID, j.Status, j.Attempts, j.RunAt.Sub(now))
				}
				handed[j.AlertID] = true
			}
			if !handed[slow.ID] || !handed[waiting.ID] {
				t.Errorf("handed back jobs of alerts %v, want %d and %d", handed, slow.ID, waiting.ID)
			}
		})
	}
}

// TestDeadRenderBuriesItsNotes: an alert whose message can never be posted
// (temporary errors included, attempts are bounded) does not hold its
// channel: its render job dies, its thread note is buried with a reason,
// and a later alert in the channel is posted.
func TestDeadRenderBuriesItsNotes(t *testing.T) {
	t.Parallel()
	for _, dc := range storetest.Dialects(t) {
		t.Run(dc.Name, func(t *testing.T) {
			ctx := context.Background()
			db := dc.Open(t)
			clk := &storeClock{db: db}
			svc := alert.NewService(db, nil, nil)
			p := newClockPoster()
			p.hook = func(_ context.Context, _ string, a alert.Alert) error {
				if a.ErrorID == "bad" {
					return alert.Temporary(errors.New("slack: 500"), 0)
				}
				return nil
			}
			d := newDispatcher(t, db, p)
			d.MaxAttempts = 3
			bad := accept(t, svc, "bad", 1)
			if err := db.Enqueue(ctx, alert.NoteJob(bad.ID, alert.Note{Kind: alert.NoteText, Text: "created ENG-1"})); err != nil {
				t.Fatal(err)
			}
			accept(t, svc, "later", 1)
			for range 8 {
				if _, err := d.RunOnce(ctx); err != nil {
					t.Fatal(err)
				}
				clk.skip(time.Hour)
			}
			dead, err := db.ListJobs(ctx, true, 100)
			if err != nil {
				t.Fatal(err)
			}
			kinds := map[alert.JobKind]string{}
			for _, j := range dead {
				kinds[j.Kind] = j.LastError
			}
			if !strings.Contains(kinds[alert.JobRenderAlert], "gave up after 3 attempts") {
				t.Errorf("render job: %q, want dead after 3 attempts", kinds[alert.JobRenderAlert])
			}
			if !strings.Contains(kinds[alert.JobThreadNote], "could not be posted") {
				t.Errorf("note job: %q, want buried with its message", kinds[alert.JobThreadNote])
			}
			if len(dead) != 2 {
				t.Errorf("%d dead jobs, want the render and its note", len(dead))
			}
			posts := p.made("post")
			if len(posts) != 1 || posts[0].ErrorID != "later" {
				t.Errorf("posts %+v, want the later alert", posts)
			}
			if threads := p.made("thread"); len(threads) != 0 {
				t.Errorf("a note went out for a message never posted: %+v", threads)
			}
		})
	}
}
