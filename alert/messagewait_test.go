package alert_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/store/storetest"
)

// TestNoteRunsOnceItsMessageIsOut: a thread note that put itself back
// because its alert's message was not posted yet runs as soon as the
// message is recorded, not when it would have looked again: with the
// clocks stopped, nothing else makes it due.
func TestNoteRunsOnceItsMessageIsOut(t *testing.T) {
	t.Parallel()
	for _, dc := range storetest.Dialects(t) {
		t.Run(dc.Name, func(t *testing.T) {
			ctx := context.Background()
			db := dc.Open(t)
			var offset atomic.Int64 // how far the stopped clocks were moved on
			t0 := time.Now()
			clock := func() time.Time { return t0.Add(time.Duration(offset.Load())) }
			db.SetClock(clock)
			p := &recordingPoster{fail: []error{errors.New("slack: busy")}}
			d := newDispatcher(t, db, p)
			d.SetClock(clock)
			d.Backoff = func(int) time.Duration { return time.Second }
			svc := alert.NewService(db, nil, nil)
			a := accept(t, svc, "e1", 1)
			created := alert.CreatedNote(alert.IssueLink{Identifier: "ENG-1", URL: "https://linear.app/a/issue/ENG-1"}, "U1")
			if err := db.Enqueue(ctx, alert.NoteJob(a.ID, created)); err != nil {
				t.Fatal(err)
			}
			round := func(what string, want int) {
				t.Helper()
				if n, err := d.RunOnce(ctx); err != nil || n != want {
					t.Fatalf("%s: ran %d jobs (%v), want %d", what, n, err, want)
				}
			}
			round("the post, which fails: again in 1 s", 1)
			round("the note, which finds no message: again in 2 s", 1)
			if len(p.posts) != 0 || len(p.notes) != 0 {
				t.Fatalf("posts %d notes %d, want none yet", len(p.posts), len(p.notes))
			}
			offset.Store(int64(time.Second))
			round("the post, due again", 1)
			if len(p.posts) != 1 {
				t.Fatalf("%d posts, want the message", len(p.posts))
			}
			// Recording the message made the note due, a second before it
			// would have looked again.
			round("the note", 1)
			if len(p.notes) != 1 || p.notes[0] != created {
				t.Errorf("notes %+v, want the queued %+v", p.notes, created)
			}
		})
	}
}
