package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/store"
)

func TestSaveLink(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, db *store.DB, clk *fakeClock) {
		ctx := context.Background()
		a := accept(t, db, newAlert("E-link", "C1"))
		if _, err := db.ClaimJobs(ctx, "test", 10, time.Hour); err != nil { // the accept's render job is running.
			t.Fatal(err)
		}
		linked := link("E-link", "issue-1", "PRO-1")
		linked.Kind = alert.LinkLinked

		moved := link("E-link", "issue-9", "OPS-9")
		moved.Kind, moved.TeamKey, moved.AssigneeID, moved.AssigneeName = alert.LinkLinked, "OPS", "user-7", "Ada"

		done := linked
		done.StateName, done.StateType = "Done", "completed"

		tests := []struct {
			name string
			save alert.IssueLink
			jobs []alert.Job
			// want is the stored link; its times are offsets from t0.
			want             alert.IssueLink
			created, updated time.Duration
			wantJobs         int
		}{
			{name: "insert", save: linked, jobs: []alert.Job{alert.RenderJob(a.ID)}, want: linked, created: time.Minute, updated: time.Minute, wantJobs: 2},
			{name: "a status update keeps created_at", save: done, jobs: []alert.Job{alert.RenderJob(a.ID)}, want: done, created: time.Minute, updated: 2 * time.Minute, wantJobs: 2},
			{name: "a move to another issue replaces the link", save: moved, jobs: []alert.Job{alert.NoteJob(a.ID, alert.Note{Kind: alert.NoteText, Text: "moved"})}, want: moved, created: 3 * time.Minute, updated: 3 * time.Minute, wantJobs: 3},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				clk.Advance(time.Minute)
				if err := db.SaveLink(ctx, tt.save, tt.jobs...); err != nil {
					t.Fatal(err)
				}
				got, err := db.Link(ctx, "E-link")
				if err != nil {
					t.Fatal(err)
				}
				want := tt.want
				want.CreatedAt, want.UpdatedAt = ms(t0.Add(tt.created)), ms(t0.Add(tt.updated))
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("Link (-want +got):\n%s", diff)
				}
				if n := len(store.AllJobs(t, db)); n != tt.wantJobs {
					t.Errorf("%d jobs, want %d (a queued render folds)", n, tt.wantJobs)
				}
			})
		}

		byIssue, err := db.LinksByIssue(ctx, "issue-9")
		if err != nil {
			t.Fatal(err)
		}
		if len(byIssue) != 1 || byIssue[0].ErrorID != "E-link" {
			t.Errorf("LinksByIssue(issue-9) = %+v, want the link of E-link", byIssue)
		}
	})
}

func TestLinkErrors(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, db *store.DB, _ *fakeClock) {
		ctx := context.Background()
		tests := []struct {
			name string
			call func() error
			want error
		}{
			{"no link", func() error { _, err := db.Link(ctx, "E-none"); return err }, alert.ErrNotFound},
			{"link without issue", func() error { return db.SaveLink(ctx, alert.IssueLink{ErrorID: "E1"}) }, alert.ErrInvalid},
			{"link without error", func() error { return db.SaveLink(ctx, alert.IssueLink{IssueID: "i"}) }, alert.ErrInvalid},
			{"link with a job of a missing alert", func() error {
				return db.SaveLink(ctx, link("E-orphan", "issue-1", "PRO-1"), alert.RenderJob(31337))
			}, alert.ErrNotFound},
			{"and that link was not saved", func() error { _, err := db.Link(ctx, "E-orphan"); return err }, alert.ErrNotFound},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) { wantErr(t, tt.name, tt.call(), tt.want) })
		}
	})
}

// TestLinkNullTimes saves links whose ClosedAt and RegressedAt are set or
// zero, through both writers (SaveLink and CompleteCreation), and reads
// them back through both readers: a zero time is stored as NULL and read
// back as zero, a set one comes back in UTC at microseconds.
func TestLinkNullTimes(t *testing.T) {
	t.Parallel()
	paris := time.FixedZone("CET", 3600)
	closed := time.Date(2025, 11, 12, 17, 4, 5, 123456789, paris)
	regressed := closed.Add(36 * time.Hour)
	tests := []struct {
		name                              string
		closedAt, regressedAt             time.Time
		wantClosedNULL, wantRegressedNULL bool // the columns are NULL.
	}{
		{name: "open: both NULL", wantClosedNULL: true, wantRegressedNULL: true},
		{name: "closed", closedAt: closed, wantRegressedNULL: true},
		{name: "closed and regressed", closedAt: closed, regressedAt: regressed},
		{name: "reopened: both NULL again", wantClosedNULL: true, wantRegressedNULL: true},
	}
	writers := []struct {
		name  string
		write func(t *testing.T, db *store.DB, l alert.IssueLink)
	}{
		{"SaveLink", func(t *testing.T, db *store.DB, l alert.IssueLink) {
			if err := db.SaveLink(context.Background(), l); err != nil {
				t.Fatal(err)
			}
		}},
		{"CompleteCreation", func(t *testing.T, db *store.DB, l alert.IssueLink) {
			ctx := context.Background()
			a := accept(t, db, newAlert(l.ErrorID, "C1"))
			c, err := db.BeginCreation(ctx, pending(uuid.NewString(), l.ErrorID, a.ID), staleAfter)
			if err != nil {
				t.Fatal(err)
			}
			if err := db.CompleteCreation(ctx, c.ID, l); err != nil {
				t.Fatal(err)
			}
		}},
	}
	each(t, func(t *testing.T, db *store.DB, _ *fakeClock) {
		ctx := context.Background()
		for _, w := range writers {
			for i, tt := range tests {
				t.Run(w.name+"/"+tt.name, func(t *testing.T) {
					errorID := w.name + "-" + itoa(int64(i))
					l := link(errorID, "issue-"+errorID, "PRO-7")
					l.ClosedAt, l.RegressedAt = tt.closedAt, tt.regressedAt
					l.CreatedAt, l.UpdatedAt = t0, t0
					w.write(t, db, l)

					want := l
					want.ClosedAt, want.RegressedAt = zeroOrMS(tt.closedAt), zeroOrMS(tt.regressedAt)
					want.CreatedAt, want.UpdatedAt = ms(t0), ms(t0)
					got, err := db.Link(ctx, errorID)
					if err != nil {
						t.Fatal(err)
					}
					byIssue, err := db.LinksByIssue(ctx, l.IssueID)
					if err != nil {
						t.Fatal(err)
					}
					if diff := cmp.Diff([]alert.IssueLink{want, want}, append([]alert.IssueLink{got}, byIssue...)); diff != "" {
						t.Errorf("Link, LinksByIssue (-want +got):\n%s", diff)
					}
					for _, g := range []time.Time{got.ClosedAt, got.RegressedAt} {
						if !g.IsZero() && g.Location() != time.UTC {
							t.Errorf("time %v is not in UTC", g)
						}
					}
					for col, wantNULL := range map[string]bool{"closed_at": tt.wantClosedNULL, "regressed_at": tt.wantRegressedNULL} {
						n := store.QueryString(t, db, "SELECT COUNT(*) FROM issue_links WHERE error_id = ? AND "+col+" IS NULL", errorID)
						if (n == "1") != wantNULL {
							t.Errorf("%s IS NULL: %s rows, want NULL=%v", col, n, wantNULL)
						}
					}
				})
			}
		}
	})
}

// TestSaveLinkClearsTimes moves one link through open, closed, regressed
// and reopened: each save replaces both times, so a reopen clears them.
func TestSaveLinkClearsTimes(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, db *store.DB, clk *fakeClock) {
		ctx := context.Background()
		l := link("E-cycle", "issue-cycle", "PRO-3")
		steps := []struct {
			name                  string
			stateType             string
			closedAt, regressedAt time.Duration // offsets from t0; 0: zero time.
		}{
			{name: "open", stateType: "started"},
			{name: "completed", stateType: "completed", closedAt: time.Hour},
			{name: "the error is back", stateType: "completed", closedAt: time.Hour, regressedAt: 2 * time.Hour},
			{name: "reopened", stateType: "unstarted"},
		}
		for _, st := range steps {
			t.Run(st.name, func(t *testing.T) {
				clk.Advance(time.Minute)
				l.StateType = st.stateType
				l.ClosedAt, l.RegressedAt = offset(st.closedAt), offset(st.regressedAt)
				if err := db.SaveLink(ctx, l); err != nil {
					t.Fatal(err)
				}
				got, err := db.Link(ctx, l.ErrorID)
				if err != nil {
					t.Fatal(err)
				}
				if !got.ClosedAt.Equal(l.ClosedAt) || !got.RegressedAt.Equal(l.RegressedAt) {
					t.Errorf("ClosedAt, RegressedAt = %v, %v; want %v, %v", got.ClosedAt, got.RegressedAt, l.ClosedAt, l.RegressedAt)
				}
				if got.Closed() != !l.ClosedAt.IsZero() {
					t.Errorf("Closed() = %v with ClosedAt %v", got.Closed(), got.ClosedAt)
				}
			})
		}
	})
}

// offset is t0+d at microseconds, or the zero time for 0.
func offset(d time.Duration) time.Time {
	if d == 0 {
		return time.Time{}
	}
	return ms(t0.Add(d))
}

// zeroOrMS is t as stored, keeping the zero time zero.
func zeroOrMS(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return ms(t)
}

func TestAddLinkNeverOverwrites(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, db *store.DB, _ *fakeClock) {
		ctx := context.Background()
		a := accept(t, db, newAlert("E-add", "C1"))
		if _, err := db.ClaimJobs(ctx, "test", 10, time.Hour); err != nil { // take the accept's render job.
			t.Fatal(err)
		}
		first := link("E-add", "issue-1", "PRO-1")
		first.StateType = "started"
		if err := db.AddLink(ctx, first); err != nil {
			t.Fatalf("AddLink: %v", err)
		}
		second := link("E-add", "issue-2", "PRO-2")
		second.StateType = "backlog"
		if err := db.AddLink(ctx, second, alert.NoteJob(a.ID, alert.Note{Kind: alert.NoteText, Text: "never queued"})); !errors.Is(err, alert.ErrConflict) {
			t.Fatalf("AddLink over an existing link = %v, want ErrConflict", err)
		}
		got, err := db.Link(ctx, "E-add")
		if err != nil || got.IssueID != "issue-1" || got.StateType != "started" {
			t.Errorf("link = %+v, %v; want the first one untouched", got, err)
		}
		jobs, err := db.ClaimJobs(ctx, "test", 10, time.Hour)
		if err != nil || len(jobs) != 0 {
			t.Errorf("a refused AddLink queued %d jobs (%v)", len(jobs), err)
		}
	})
}
