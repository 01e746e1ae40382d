package alert_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/store"
	"github.com/proliferate/proliferate-linear/store/storetest"
)

// recordingPoster is a Poster that records what it is asked and fails on
// cue. (The real one, bot.Bot, is tested against the fake Slack.)
type recordingPoster struct {
	mu      sync.Mutex
	posts   []alert.Alert
	updates []alert.Alert
	notes   []alert.Note
	status  []statusReply // PostStatus calls (intake_test.go)
	fail    []error       // returned, in order, by the next calls
	next    int
}

func (p *recordingPoster) err() error {
	if len(p.fail) == 0 {
		return nil
	}
	err := p.fail[0]
	p.fail = p.fail[1:]
	return err
}

func (p *recordingPoster) PostAlert(_ context.Context, a alert.Alert, _ *alert.IssueLink) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.err(); err != nil {
		return "", err
	}
	p.posts = append(p.posts, a)
	p.next++
	return fmt.Sprintf("1700000000.%06d", p.next), nil
}

func (p *recordingPoster) UpdateAlert(_ context.Context, a alert.Alert, _ *alert.IssueLink) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.err(); err != nil {
		return err
	}
	p.updates = append(p.updates, a)
	return nil
}

func (p *recordingPoster) PostNote(_ context.Context, _ alert.Alert, n alert.Note) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.err(); err != nil {
		return err
	}
	p.notes = append(p.notes, n)
	return nil
}

// storeClock moves a store's clock on, so jobs retried with a backoff
// become due without waiting; with d set, the dispatcher's clock too, so
// the due times it writes are on the same clock as the store's claims.
type storeClock struct {
	db     *store.DB
	d      *alert.Dispatcher
	offset time.Duration
}

func (c *storeClock) skip(d time.Duration) {
	c.offset += d
	off := c.offset
	now := func() time.Time { return time.Now().Add(off) }
	c.db.SetClock(now)
	if c.d != nil {
		c.d.SetClock(now)
	}
}

func newDispatcher(t *testing.T, db *store.DB, p alert.Poster) *alert.Dispatcher {
	d := alert.NewDispatcher(db, p, storetest.Logger(t))
	d.ChannelGap, d.Lease = 0, 10*time.Second
	return d
}

func accept(t *testing.T, svc *alert.Service, errorID string, events int64) alert.Alert {
	t.Helper()
	a, err := svc.Accept(context.Background(), alert.Alert{ErrorID: errorID, Channel: "C1",
		URL: "https://app.proliferate.dev/e/" + errorID, ErrorType: "TypeError", EventCount: events})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// due counts the jobs due now without keeping them.
func due(t *testing.T, db *store.DB) []alert.Job {
	t.Helper()
	jobs, err := db.ClaimJobs(context.Background(), "test", 100, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond) // let the lease lapse so they are due again.
	return jobs
}

func TestDispatcherPostsOnceThenUpdatesFoldedRepeats(t *testing.T) {
	t.Parallel()
	for _, dc := range storetest.Dialects(t) {
		t.Run(dc.Name, func(t *testing.T) {
			ctx := context.Background()
			db := dc.Open(t)
			db.SetUpdateGap(0) // folding, not its pace (TestRepeatUpdatesPaced).
			svc := alert.NewService(db, nil, nil)
			p := &recordingPoster{}
			d := newDispatcher(t, db, p)

			a := accept(t, svc, "e1", 1)
			if n, err := d.RunOnce(ctx); err != nil || n != 1 {
				t.Fatalf("RunOnce = %d, %v", n, err)
			}
			got, _ := db.Alert(ctx, a.ID)
			if len(p.posts) != 1 || got.MessageTS != "1700000000.000001" {
				t.Fatalf("posts %d, ts %q", len(p.posts), got.MessageTS)
			}
			// A storm of 50 repeats folds into one queued render: one update.
			for i := range 50 {
				accept(t, svc, "e1", int64(i+2))
			}
			if n, err := d.RunOnce(ctx); err != nil || n != 1 {
				t.Fatalf("after 50 repeats RunOnce ran %d jobs (%v), want 1", n, err)
			}
			if len(p.posts) != 1 || len(p.updates) != 1 || p.updates[0].EventCount != 51 || p.updates[0].Occurrences != 51 {
				t.Errorf("posts %d updates %d (last %+v), want one post and one update with the latest counts", len(p.posts), len(p.updates), p.updates)
			}
		})
	}
}

// TestRepeatUpdatesPaced: once the alert's message is posted, repeats
// update it a gap later (store.SetUpdateGap), and the repeats of that gap
// fold into the one update, which shows the latest count, so the message
// is right once the storm is over. A person's link is shown at once, storm
// or not.
func TestRepeatUpdatesPaced(t *testing.T) {
	t.Parallel()
	for _, dc := range storetest.Dialects(t) {
		t.Run(dc.Name, func(t *testing.T) {
			ctx := context.Background()
			db := dc.Open(t)
			db.SetUpdateGap(10 * time.Second)
			clock := &storeClock{db: db}
			svc := alert.NewService(db, nil, nil)
			p := &recordingPoster{}
			d := newDispatcher(t, db, p)
			d.ChannelGap = 0
			run := func(want int) {
				t.Helper()
				if n, err := d.RunOnce(ctx); err != nil || n != want {
					t.Fatalf("RunOnce ran %d jobs (%v), want %d", n, err, want)
				}
			}
			a := accept(t, svc, "e1", 1)
			for i := range 5 { // before the post: folded into the post.
				accept(t, svc, "e1", int64(i+2))
			}
			run(1)
			if len(p.posts) != 1 || p.posts[0].Occurrences != 6 {
				t.Fatalf("posts %+v, want one showing 6 occurrences", p.posts)
			}
			for i := range 20 {
				accept(t, svc, "e1", int64(i+7))
			}
			run(0) // due a gap after the first repeat.
			clock.skip(9 * time.Second)
			accept(t, svc, "e1", 27) // folds into the queued update.
			run(0)
			clock.skip(2 * time.Second)
			run(1)
			if len(p.updates) != 1 || p.updates[0].Occurrences != 27 || p.updates[0].EventCount != 27 {
				t.Fatalf("updates %+v, want one, with the 27th occurrence", p.updates)
			}
			accept(t, svc, "e1", 28)
			run(0)
			// A link is rendered at once, storm or not.
			if err := db.SaveLink(ctx, alert.IssueLink{ErrorID: "e1", IssueID: "i1", Identifier: "ENG-1", URL: "https://linear.app/x/issue/ENG-1",
				StateType: "unstarted", CreatedAt: time.Now(), UpdatedAt: time.Now()}, alert.RenderJob(a.ID)); err != nil {
				t.Fatal(err)
			}
			run(1)
			if len(p.updates) != 2 {
				t.Fatalf("%d updates, want the link's at once", len(p.updates))
			}
			clock.skip(11 * time.Second)
			run(1) // the last repeat's update.
			if len(p.updates) != 3 || p.updates[2].Occurrences != 28 {
				t.Errorf("updates %+v, want a last one with the 28th occurrence", p.updates)
			}
			run(0)
		})
	}
}

func TestDispatcherRetries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rateLimited := alert.Temporary(errors.New("slack: 429"), 30*time.Second)
	permanent := errors.New("slack: channel_not_found")

	t.Run("Retry-After is honoured and holds the channel", func(t *testing.T) {
		db := storetest.SQLite(t)
		svc := alert.NewService(db, nil, nil)
		p := &recordingPoster{fail: []error{rateLimited}}
		d := newDispatcher(t, db, p)
		accept(t, svc, "e1", 1)
		if _, err := d.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		accept(t, svc, "e2", 1) // same channel
		if _, err := d.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		if len(p.posts) != 0 {
			t.Errorf("posted %d while Slack said wait", len(p.posts))
		}
		if jobs := due(t, db); len(jobs) != 0 {
			t.Errorf("%d jobs due right after a 30 s Retry-After, want 0", len(jobs))
		}
	})

	t.Run("a long hold returns the job instead of sitting on its lease", func(t *testing.T) {
		db := storetest.SQLite(t)
		svc := alert.NewService(db, nil, nil)
		p := &recordingPoster{fail: []error{rateLimited}}
		d := newDispatcher(t, db, p)
		accept(t, svc, "e1", 1)
		if _, err := d.RunOnce(ctx); err != nil { // 429: channel held 30 s
			t.Fatal(err)
		}
		accept(t, svc, "e2", 1)
		start := time.Now()
		if _, err := d.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		if waited := time.Since(start); waited > 2*time.Second {
			t.Errorf("RunOnce sat %v on a job for a held channel", waited)
		}
		if len(p.posts) != 0 {
			t.Errorf("posted into a held channel")
		}
	})

	t.Run("a permanent failure is buried after MaxAttempts", func(t *testing.T) {
		db := storetest.SQLite(t)
		svc := alert.NewService(db, nil, nil)
		p := &recordingPoster{fail: []error{permanent, permanent, permanent}}
		d := newDispatcher(t, db, p)
		d.MaxAttempts = 3
		clk := &storeClock{db: db}
		a := accept(t, svc, "e1", 1)
		for range 3 {
			if _, err := d.RunOnce(ctx); err != nil {
				t.Fatal(err)
			}
			clk.skip(time.Hour) // the retry's backoff, passed.
		}
		stats, err := db.QueueStats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if stats.Dead != 1 || stats.Queued != 0 {
			t.Errorf("queue %+v, want the job buried", stats)
		}
		if got, _ := db.Alert(ctx, a.ID); got.MessageTS != "" {
			t.Errorf("a failed post recorded ts %q", got.MessageTS)
		}
	})

	t.Run("a thread note waits for its message", func(t *testing.T) {
		db := storetest.SQLite(t)
		p := &recordingPoster{}
		d := newDispatcher(t, db, p)
		svc := alert.NewService(db, nil, nil)
		clk := &storeClock{db: db}
		a := accept(t, svc, "e1", 1)
		created := alert.CreatedNote(alert.IssueLink{Identifier: "ENG-1", URL: "https://linear.app/a/issue/ENG-1"}, "U1")
		if err := db.Enqueue(ctx, alert.NoteJob(a.ID, created)); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			if _, err := d.RunOnce(ctx); err != nil {
				t.Fatal(err)
			}
			clk.skip(time.Minute)
		}
		if len(p.posts) != 1 || len(p.notes) != 1 {
			t.Fatalf("posts %d notes %d, want the message then its note", len(p.posts), len(p.notes))
		}
		if p.notes[0] != created {
			t.Errorf("posted note %+v, want the queued %+v", p.notes[0], created)
		}
	})

	// Jobs queued by a version that stored finished Slack text (no
	// payload) are still posted, their text as it is.
	t.Run("an older text note is posted as it is", func(t *testing.T) {
		db := storetest.SQLite(t)
		p := &recordingPoster{}
		d := newDispatcher(t, db, p)
		svc := alert.NewService(db, nil, nil)
		a := accept(t, svc, "e1", 1)
		if err := db.SetAlertMessage(ctx, a.ID, "1700000000.000100"); err != nil {
			t.Fatal(err)
		}
		old := alert.Job{Kind: alert.JobThreadNote, AlertID: a.ID, Text: ":white_check_mark: Created Linear issue <https://x/ENG-1|ENG-1>: Boom"}
		if err := db.Enqueue(ctx, old); err != nil {
			t.Fatal(err)
		}
		if _, err := d.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		want := alert.Note{Kind: alert.NoteText, Text: old.Text}
		if len(p.notes) != 1 || p.notes[0] != want {
			t.Errorf("notes = %+v, want %+v", p.notes, want)
		}
	})

	t.Run("an unreadable note is buried, not retried", func(t *testing.T) {
		db := storetest.SQLite(t)
		p := &recordingPoster{}
		d := newDispatcher(t, db, p)
		svc := alert.NewService(db, nil, nil)
		a := accept(t, svc, "e1", 1)
		if err := db.Enqueue(ctx, alert.Job{Kind: alert.JobThreadNote, AlertID: a.ID, Payload: "{not json"}); err != nil {
			t.Fatal(err)
		}
		if _, err := d.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		stats, err := db.QueueStats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if stats.Dead != 1 || len(p.notes) != 0 {
			t.Errorf("queue %+v, notes %+v: want the job dead and nothing posted", stats, p.notes)
		}
	})
}
