package alert_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/store"
	"github.com/proliferate/proliferate-linear/store/storetest"
)

// jobByID returns the stored job id, dead or alive; ok is false once it
// is deleted (done).
func jobByID(t *testing.T, db *store.DB, id int64) (alert.Job, bool) {
	t.Helper()
	jobs, err := db.ListJobs(context.Background(), false, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range jobs {
		if j.ID == id {
			return j, true
		}
	}
	return alert.Job{}, false
}

// enqueueOne queues j and returns its id.
func enqueueOne(t *testing.T, db *store.DB, j alert.Job) int64 {
	t.Helper()
	before, err := db.ListJobs(context.Background(), false, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Enqueue(context.Background(), j); err != nil {
		t.Fatal(err)
	}
	after, err := db.ListJobs(context.Background(), false, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before)+1 {
		t.Fatalf("enqueue added %d jobs", len(after)-len(before))
	}
	return after[len(after)-1].ID
}

// TestEngineRetryPolicy runs a kind registered from outside the core (a
// job about no alert, with a payload) through every outcome of the one
// retry policy.
func TestEngineRetryPolicy(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	tests := []struct {
		name string
		err  error
		// want: gone (done) or the job's status, attempts and due time
		// relative to the run (a window, for backoff's jitter).
		gone           bool
		status         alert.JobStatus
		attempts       int
		dueMin, dueMax time.Duration
		lastErr        string
	}{
		{name: "done", err: nil, gone: true},
		{name: "retry after Retry-After", err: alert.Temporary(boom, 7*time.Second), status: alert.JobQueued, attempts: 1,
			dueMin: 7 * time.Second, dueMax: 7*time.Second + time.Second, lastErr: "boom"},
		{name: "temporary without a time backs off", err: alert.Temporary(boom, 0), status: alert.JobQueued, attempts: 1,
			dueMin: 800 * time.Millisecond, dueMax: 2 * time.Second, lastErr: "boom"},
		{name: "plain error backs off", err: boom, status: alert.JobQueued, attempts: 1,
			dueMin: 800 * time.Millisecond, dueMax: 2 * time.Second, lastErr: "boom"},
		{name: "permanent is dead at once", err: alert.Permanent(boom), status: alert.JobDead, attempts: 1, lastErr: "boom"},
		{name: "postponed counts no attempt", err: alert.Postpone(boom, 3*time.Second), status: alert.JobQueued, attempts: 0,
			dueMin: 3 * time.Second, dueMax: 4 * time.Second, lastErr: "boom"},
	}
	for _, dc := range storetest.Dialects(t) {
		t.Run(dc.Name, func(t *testing.T) {
			ctx := context.Background()
			db := dc.Open(t)
			d := newDispatcher(t, db, &recordingPoster{})
			var mu sync.Mutex
			outcome := map[string]error{}
			var payloads []string
			d.Handle("probe", func(_ context.Context, j alert.Job) error {
				mu.Lock()
				defer mu.Unlock()
				payloads = append(payloads, j.Payload)
				return outcome[j.Payload]
			})
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					mu.Lock()
					outcome[tt.name] = tt.err
					mu.Unlock()
					id := enqueueOne(t, db, alert.Job{Kind: "probe", Payload: tt.name})
					start := time.Now()
					if n, err := d.RunOnce(ctx); err != nil || n != 1 {
						t.Fatalf("RunOnce = %d, %v", n, err)
					}
					j, ok := jobByID(t, db, id)
					if tt.gone {
						if ok {
							t.Fatalf("job %+v still stored after it was done", j)
						}
						return
					}
					if !ok || j.Status != tt.status || j.Attempts != tt.attempts || !strings.Contains(j.LastError, tt.lastErr) {
						t.Fatalf("job = %+v (stored %v), want %s after %d attempts with %q", j, ok, tt.status, tt.attempts, tt.lastErr)
					}
					if tt.status == alert.JobQueued {
						if due := j.RunAt.Sub(start); due < tt.dueMin-10*time.Millisecond || due > tt.dueMax {
							t.Errorf("due in %v, want %v…%v", due, tt.dueMin, tt.dueMax)
						}
					}
					if err := db.DropJob(ctx, id); err != nil {
						t.Fatal(err)
					}
				})
			}
			if len(payloads) != len(tests) {
				t.Errorf("handler saw payloads %q, want one per case", payloads)
			}
		})
	}
}

// TestEngineBoundsEveryKind: temporary errors count against MaxAttempts
// like any other (they used to be exempt, so a job could hold its channel
// for ever); a panic is an attempt, not a crash; an unknown kind is dead.
func TestEngineBoundsEveryKind(t *testing.T) {
	t.Parallel()
	for _, dc := range storetest.Dialects(t) {
		t.Run(dc.Name, func(t *testing.T) {
			ctx := context.Background()
			db := dc.Open(t)
			clk := &storeClock{db: db}
			d := newDispatcher(t, db, &recordingPoster{})
			d.MaxAttempts = 3
			calls := 0
			d.Handle("flaky", func(context.Context, alert.Job) error {
				calls++
				if calls == 2 {
					panic("handler bug")
				}
				return alert.Temporary(errors.New("slack: 429"), time.Second)
			})
			flaky := enqueueOne(t, db, alert.Job{Kind: "flaky"})
			unknown := enqueueOne(t, db, alert.Job{Kind: "nobody_handles_this"})
			for range 5 {
				if _, err := d.RunOnce(ctx); err != nil {
					t.Fatal(err)
				}
				clk.skip(time.Minute)
			}
			if calls != 3 {
				t.Errorf("handler ran %d times, want MaxAttempts = 3", calls)
			}
			j, _ := jobByID(t, db, flaky)
			if j.Status != alert.JobDead || !strings.Contains(j.LastError, "gave up after 3 attempts") {
				t.Errorf("flaky job = %+v, want dead after 3 attempts", j)
			}
			u, _ := jobByID(t, db, unknown)
			if u.Status != alert.JobDead || !strings.Contains(u.LastError, `no handler for job kind "nobody_handles_this"`) {
				t.Errorf("unknown kind = %+v, want dead with the reason", u)
			}
		})
	}
}
