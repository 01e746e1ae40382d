package store_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/store"
)

const staleAfter = 2 * time.Minute

func pending(id, errorID string, alertID int64) alert.Creation {
	return alert.Creation{ID: id, ErrorID: errorID, AlertID: alertID, SlackUser: "U123", Status: alert.CreationPending}
}

func TestBeginCreation(t *testing.T) {
	t.Parallel()
	first, second := uuid.NewString(), uuid.NewString()
	tests := []struct {
		name string
		// setup runs before the call under test, with the first creation
		// already begun at t0.
		setup   func(t *testing.T, db *store.DB, clk *fakeClock)
		id      string
		wantErr error
		want    alert.Creation // zero: do not compare.
	}{
		{
			name: "a retry of the same intent gets it back unchanged",
			setup: func(t *testing.T, _ *store.DB, clk *fakeClock) {
				clk.Advance(time.Hour) // even when stale: it is the same intent.
			},
			id:   first,
			want: alert.Creation{ID: first, ErrorID: "E-c", SlackUser: "U123", Status: alert.CreationPending, CreatedAt: ms(t0), UpdatedAt: ms(t0)},
		},
		{
			name: "the id is matched case-insensitively",
			id:   strings.ToUpper(first),
			want: alert.Creation{ID: first, ErrorID: "E-c", SlackUser: "U123", Status: alert.CreationPending, CreatedAt: ms(t0), UpdatedAt: ms(t0)},
		},
		{
			name:    "another intent while one is pending conflicts",
			setup:   func(t *testing.T, _ *store.DB, clk *fakeClock) { clk.Advance(staleAfter - time.Second) },
			id:      second,
			wantErr: alert.ErrConflict,
		},
		{
			name:  "another intent replaces a stale pending one",
			setup: func(t *testing.T, _ *store.DB, clk *fakeClock) { clk.Advance(staleAfter) },
			id:    second,
			want:  alert.Creation{ID: second, ErrorID: "E-c", SlackUser: "U123", Status: alert.CreationPending, CreatedAt: ms(t0.Add(staleAfter)), UpdatedAt: ms(t0.Add(staleAfter))},
		},
		{
			name: "another intent after an abandon goes ahead",
			setup: func(t *testing.T, db *store.DB, _ *fakeClock) {
				if err := db.AbandonCreation(context.Background(), first); err != nil {
					t.Fatal(err)
				}
			},
			id:   second,
			want: alert.Creation{ID: second, ErrorID: "E-c", SlackUser: "U123", Status: alert.CreationPending, CreatedAt: ms(t0), UpdatedAt: ms(t0)},
		},
		{
			name: "a done creation does not block (the core checks the link)",
			setup: func(t *testing.T, db *store.DB, _ *fakeClock) {
				if err := db.CompleteCreation(context.Background(), first, link("E-c", "issue-1", "PRO-1")); err != nil {
					t.Fatal(err)
				}
			},
			id:   second,
			want: alert.Creation{ID: second, ErrorID: "E-c", SlackUser: "U123", Status: alert.CreationPending, CreatedAt: ms(t0), UpdatedAt: ms(t0)},
		},
		{name: "an id that is not a uuid is invalid", id: "not-a-uuid", wantErr: alert.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			each(t, func(t *testing.T, db *store.DB, clk *fakeClock) {
				ctx := context.Background()
				a := accept(t, db, newAlert("E-c", "C1"))
				if _, err := db.BeginCreation(ctx, pending(first, "E-c", a.ID), staleAfter); err != nil {
					t.Fatal(err)
				}
				if tt.setup != nil {
					tt.setup(t, db, clk)
				}
				got, err := db.BeginCreation(ctx, pending(tt.id, "E-c", a.ID), staleAfter)
				wantErr(t, "BeginCreation", err, tt.wantErr)
				if want := tt.want; want.ID != "" {
					want.AlertID = a.ID
					if diff := cmp.Diff(want, got); diff != "" {
						t.Errorf("BeginCreation (-want +got):\n%s", diff)
					}
				}
			})
		})
	}
}

func TestBeginCreationUnknownAlert(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, db *store.DB, _ *fakeClock) {
		_, err := db.BeginCreation(context.Background(), pending(uuid.NewString(), "E-x", 4242), staleAfter)
		wantErr(t, "BeginCreation", err, alert.ErrNotFound)
	})
}

// TestBeginCreationRace begins many intents for one error at once: exactly
// one wins, the others conflict; a retry racing with itself is not a
// conflict.
func TestBeginCreationRace(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, db *store.DB, _ *fakeClock) {
		ctx := context.Background()
		a := accept(t, db, newAlert("E-race", "C1"))
		shared := uuid.NewString()
		const n = 16
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				id := uuid.NewString()
				if i < n/2 {
					id = shared
				}
				_, errs[i] = db.BeginCreation(ctx, pending(id, "E-race", a.ID), staleAfter)
			})
		}
		wg.Wait()
		var ok, conflicts, sharedOK int
		for i, err := range errs {
			switch {
			case err == nil:
				ok++
				if i < n/2 {
					sharedOK++
				}
			case errors.Is(err, alert.ErrConflict):
				conflicts++
			default:
				t.Errorf("BeginCreation %d: %v", i, err)
			}
		}
		// Either the shared intent won (all its copies succeed) or one
		// lone intent won.
		if !(sharedOK == n/2 && ok == n/2) && !(sharedOK == 0 && ok == 1) {
			t.Errorf("ok=%d (shared %d) conflicts=%d: want exactly one intent to win", ok, sharedOK, conflicts)
		}
	})
}

func link(errorID, issueID, identifier string) alert.IssueLink {
	return alert.IssueLink{
		ErrorID: errorID, IssueID: issueID, Identifier: identifier, Title: "TypeError: boom",
		URL: "https://linear.app/acme/issue/" + identifier, StateName: "Todo", StateType: "unstarted",
		TeamID: "team-1", TeamKey: "PRO", CreatedBy: "U123", Kind: alert.LinkCreated,
	}
}

func TestCompleteCreation(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, db *store.DB, clk *fakeClock) {
		ctx := context.Background()
		a := accept(t, db, newAlert("E-done", "C1"))
		id := uuid.NewString()
		if _, err := db.BeginCreation(ctx, pending(id, "E-done", a.ID), staleAfter); err != nil {
			t.Fatal(err)
		}
		l := link("E-done", "issue-1", "PRO-1")

		// A job for a missing alert fails the transaction: nothing of it
		// may be left behind.
		err := db.CompleteCreation(ctx, id, l, alert.NoteJob(a.ID, alert.Note{Kind: alert.NoteText, Text: "created"}), alert.RenderJob(999999))
		wantErr(t, "CompleteCreation with a bad job", err, alert.ErrNotFound)
		if _, err := db.Link(ctx, "E-done"); !errors.Is(err, alert.ErrNotFound) {
			t.Errorf("link after failed complete: %v, want ErrNotFound", err)
		}
		if got, err := db.BeginCreation(ctx, pending(id, "E-done", a.ID), staleAfter); err != nil || got.Status != alert.CreationPending {
			t.Errorf("creation after failed complete = %+v, %v; want still pending", got, err)
		}
		if diff := cmp.Diff([]jobView{{alert.JobRenderAlert, a.ID, "render:" + itoa(a.ID), "queued", 0}}, queue(t, db)); diff != "" {
			t.Errorf("queue after failed complete (-want +got):\n%s", diff)
		}

		clk.Advance(time.Second)
		if err := db.CompleteCreation(ctx, id, l, alert.NoteJob(a.ID, alert.Note{Kind: alert.NoteText, Text: "created"}), alert.RenderJob(a.ID)); err != nil {
			t.Fatal(err)
		}
		got, err := db.Link(ctx, "E-done")
		if err != nil {
			t.Fatal(err)
		}
		want := l
		want.CreatedAt, want.UpdatedAt = ms(t0.Add(time.Second)), ms(t0.Add(time.Second))
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("link (-want +got):\n%s", diff)
		}
		c, err := db.BeginCreation(ctx, pending(id, "E-done", a.ID), staleAfter)
		if err != nil || c.Status != alert.CreationDone || c.IssueID != "issue-1" {
			t.Errorf("creation = %+v, %v; want done with issue-1", c, err)
		}
		wantQueue := []jobView{
			{alert.JobRenderAlert, a.ID, "render:" + itoa(a.ID), "queued", 0}, // the render folded.
			{alert.JobThreadNote, a.ID, "", "queued", 0},
		}
		if diff := cmp.Diff(wantQueue, queue(t, db)); diff != "" {
			t.Errorf("queue after complete (-want +got):\n%s", diff)
		}

		tests := []struct {
			name string
			call func() error
			want error
		}{
			{"completing again with the same issue is a no-op", func() error {
				return db.CompleteCreation(ctx, id, l, alert.NoteJob(a.ID, alert.Note{Kind: alert.NoteText, Text: "again"}))
			}, nil},
			{"completing with another issue conflicts", func() error { return db.CompleteCreation(ctx, id, link("E-done", "issue-2", "PRO-2")) }, alert.ErrConflict},
			{"completing with another error's link is invalid", func() error { return db.CompleteCreation(ctx, id, link("E-other", "issue-1", "PRO-1")) }, alert.ErrInvalid},
			{"completing an unknown creation", func() error { return db.CompleteCreation(ctx, uuid.NewString(), l) }, alert.ErrNotFound},
			{"abandoning a done creation conflicts", func() error { return db.AbandonCreation(ctx, id) }, alert.ErrConflict},
			{"abandoning an unknown creation", func() error { return db.AbandonCreation(ctx, uuid.NewString()) }, alert.ErrNotFound},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) { wantErr(t, tt.name, tt.call(), tt.want) })
		}
		if got := len(queue(t, db)); got != 2 {
			t.Errorf("%d jobs queued after the no-op retry, want 2", got)
		}
	})
}
