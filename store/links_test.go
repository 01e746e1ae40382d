package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/store"
)

func TestSaveLink(t *testing.T) {
	each(t, func(t *testing.T, db *store.DB, clk *fakeClock) {
		ctx := context.Background()
		a := accept(t, db, newAlert("E-link", "C1"))
		if _, err := db.ClaimJobs(ctx, 10, time.Hour); err != nil { // the accept's render job is running.
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
			{name: "a move to another issue replaces the link", save: moved, jobs: []alert.Job{alert.NoteJob(a.ID, "moved")}, want: moved, created: 3 * time.Minute, updated: 3 * time.Minute, wantJobs: 3},
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
