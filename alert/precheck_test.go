package alert_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/linear/fakelinear"
	"github.com/proliferate/proliferate-linear/store/storetest"
)

// TestCheckBeforeCreateSparesTheSubmitALinearRequest: the duplicate check
// made when the modal opens answers for the submit. A create soon after a
// "none" makes one Linear request (the create document); a check older
// than DuplicateCheckTTL, or one Linear failed, is made again at submit;
// an issue already carrying the error is found at open and the create is
// refused without asking Linear again.
func TestCheckBeforeCreateSparesTheSubmitALinearRequest(t *testing.T) {
	t.Parallel()
	for _, dc := range storetest.Dialects(t) {
		t.Run(dc.Name, func(t *testing.T) {
			ctx := context.Background()
			h := newHarness(t, dc)
			now := time.Now()
			alert.SetClock(h.svc, func() time.Time { return now })
			create := func(a alert.Alert) (alert.IssueLink, int, int) {
				t.Helper()
				before, checks := h.fl.CountRequests(""), h.fl.CountRequests("issuesForURL")
				link, err := h.svc.CreateIssue(ctx, alert.CreateRequest{CreationID: uuid.NewString(), AlertID: a.ID,
					TeamID: fakelinear.TeamEngID, Title: a.Title()})
				if err != nil {
					t.Fatalf("create for %s: %v", a.ErrorID, err)
				}
				return link, h.fl.CountRequests("") - before, h.fl.CountRequests("issuesForURL") - checks
			}
			check := func(a alert.Alert) *alert.IssueLink {
				t.Helper()
				link, err := h.svc.CheckBeforeCreate(ctx, a.ID)
				if err != nil {
					t.Fatalf("check %s: %v", a.ErrorID, err)
				}
				return link
			}

			// Checked at open: the submit asks Linear only to create.
			fresh := h.accept(t, "prl_fresh")
			if l := check(fresh); l != nil {
				t.Fatalf("check of a new error = %+v, want none", l)
			}
			if _, n, looks := create(fresh); n != 1 || looks != 0 {
				t.Errorf("create after the check: %d Linear requests (%d duplicate checks), want 1 (0)", n, looks)
			}

			// Checked too long ago: the submit checks again.
			stale := h.accept(t, "prl_stale")
			if l := check(stale); l != nil {
				t.Fatalf("check = %+v, want none", l)
			}
			now = now.Add(alert.DuplicateCheckTTL + time.Second)
			if _, n, looks := create(stale); n != 2 || looks != 1 {
				t.Errorf("create after a stale check: %d Linear requests (%d duplicate checks), want 2 (1)", n, looks)
			}

			// The check failed (Linear down): the submit checks itself.
			failed := h.accept(t, "prl_failed")
			now = now.Add(alert.DuplicateCheckTTL + time.Second)
			h.fl.FailNext("issuesForURL", 1, fakelinear.ServerError)
			if _, err := h.svc.CheckBeforeCreate(ctx, failed.ID); err == nil {
				t.Fatal("check with Linear failing succeeded")
			}
			if _, n, looks := create(failed); n != 2 || looks != 1 {
				t.Errorf("create after a failed check: %d Linear requests (%d duplicate checks), want 2 (1)", n, looks)
			}

			// Someone filed it by hand: found at open, refused at submit
			// from the store alone.
			existing := h.seedIssue(t, "Filed by hand", errorURL("prl_dup"))
			dup := h.accept(t, "prl_dup")
			if l := check(dup); l == nil || l.IssueID != existing.ID {
				t.Fatalf("check = %+v, want %s", l, existing.Identifier)
			}
			before := h.fl.CountRequests("")
			_, err := h.svc.CreateIssue(ctx, alert.CreateRequest{CreationID: uuid.NewString(), AlertID: dup.ID,
				TeamID: fakelinear.TeamEngID, Title: dup.Title()})
			var linked *alert.AlreadyLinkedError
			if !errors.As(err, &linked) || linked.Link.IssueID != existing.ID {
				t.Errorf("create of a tracked error = %v, want AlreadyLinkedError for %s", err, existing.Identifier)
			}
			if n := h.fl.CountRequests("") - before; n != 0 {
				t.Errorf("refusing a tracked error took %d Linear requests, want 0", n)
			}
			if n := len(h.fl.Issues()); n != 4 {
				t.Errorf("Linear has %d issues, want 4 (three created, one by hand)", n)
			}
		})
	}
}
