package alert_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/alert/issueref"
	"github.com/proliferate/proliferate-linear/linear"
	"github.com/proliferate/proliferate-linear/linear/fakelinear"
	"github.com/proliferate/proliferate-linear/store"
	"github.com/proliferate/proliferate-linear/store/storetest"
)

// harness is the core wired to a real store and the real Linear client
// talking to the fake Linear.
type harness struct {
	db     *store.DB
	fl     *fakelinear.Server
	linear *linear.Client
	svc    *alert.Service
}

func newHarness(t *testing.T, dc storetest.Case) *harness {
	t.Helper()
	fl := fakelinear.New(fakelinear.WithSeed())
	t.Cleanup(fl.Close)
	lc := linear.New(fl.URL(), &http.Client{Timeout: 10 * time.Second,
		Transport: &linear.APIKeyTransport{Key: fakelinear.APIKey}}, nil)
	db := dc.Open(t)
	// A repeat's update is due at once, not 10 s later, so draining the
	// queue after a repeat does not wait out alert.DefaultUpdateGap (the
	// gap itself: TestRepeatUpdatesPaced).
	db.SetUpdateGap(0)
	svc := alert.NewService(db, lc, storetest.Logger(t))
	svc.LinkWait = time.Second // a create in flight elsewhere answers well within it.
	return &harness{db: db, fl: fl, linear: lc, svc: svc}
}

// errorURL is the error's page in Proliferate; each error has its own, as
// the background duplicate lookup goes by it.
func errorURL(errorID string) string { return "https://app.proliferate.dev/acme/web/issues/" + errorID }

func (h *harness) accept(t *testing.T, errorID string) alert.Alert {
	t.Helper()
	a, err := h.svc.Accept(context.Background(), alert.Alert{
		ErrorID: errorID, Channel: "C1", URL: errorURL(errorID), ErrorType: "TypeError", ErrorMessage: "boom",
		EventCount: 3, UsersAffected: 1,
	})
	if err != nil {
		t.Fatalf("accept: %v", err)
	}
	return a
}

// seedIssue creates an issue in the fake Linear through the real client.
func (h *harness) seedIssue(t *testing.T, title, attachmentURL string) alert.Issue {
	t.Helper()
	is, err := h.linear.CreateIssue(context.Background(), alert.IssueRequest{
		ID: uuid.NewString(), TeamID: fakelinear.TeamEngID, Title: title, Description: "seeded",
		Attachment: alert.Attachment{URL: attachmentURL, Title: "seed"},
	})
	if err != nil {
		t.Fatalf("seed issue: %v", err)
	}
	return is
}

// notes drains the job queue and returns the thread notes in it. Jobs of
// one alert are claimed one at a time (their serial key), so it claims
// until nothing is left.
func (h *harness) notes(t *testing.T) []alert.Note {
	t.Helper()
	var notes []alert.Note
	for {
		jobs, err := h.db.ClaimJobs(context.Background(), "test", 1000, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if len(jobs) == 0 {
			return notes
		}
		for _, j := range jobs {
			if j.Kind == alert.JobThreadNote {
				n, err := alert.JobNote(j)
				if err != nil {
					t.Fatalf("job %d: %v", j.ID, err)
				}
				notes = append(notes, n)
			}
			if err := h.db.FinishJob(context.Background(), j.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func mustRef(t *testing.T, s string) issueref.Ref {
	t.Helper()
	r, err := issueref.Parse(s)
	if err != nil {
		t.Fatalf("parse %q: %v", s, err)
	}
	return r
}

func TestLinkExisting(t *testing.T) {
	t.Parallel()
	for _, dc := range storetest.Dialects(t) {
		t.Run(dc.Name, func(t *testing.T) {
			ctx := context.Background()
			tests := []struct {
				name    string
				input   func(is alert.Issue) string
				prevKey string
				wantErr error
			}{
				{"identifier", func(is alert.Issue) string { return strings.ToLower(is.Identifier) }, "", nil},
				{"url", func(is alert.Issue) string { return is.URL }, "", nil},
				{"uuid", func(is alert.Issue) string { return is.ID }, "", nil},
				{"previous workspace url key", func(is alert.Issue) string {
					return "https://linear.app/acme-old/issue/" + is.Identifier
				}, "acme-old", nil},
				{"other workspace", func(is alert.Issue) string {
					return "https://linear.app/globex/issue/" + is.Identifier
				}, "", alert.ErrOtherWorkspace},
				{"unknown issue", func(alert.Issue) string { return "ENG-999" }, "", alert.ErrNotFound},
			}
			for i, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					h := newHarness(t, dc)
					if tt.prevKey != "" {
						h.fl.SetPreviousURLKeys(tt.prevKey)
					}
					is := h.seedIssue(t, "Checkout crashes", "https://elsewhere.example/"+tt.name)
					a := h.accept(t, "prl_link_"+string(rune('a'+i)))
					h.notes(t)

					link, err := h.svc.LinkExisting(ctx, alert.LinkRequest{AlertID: a.ID, Ref: mustRef(t, tt.input(is)), SlackUser: "U1"})
					if tt.wantErr != nil {
						if !errors.Is(err, tt.wantErr) {
							t.Fatalf("LinkExisting = %v, want %v", err, tt.wantErr)
						}
						if _, err := h.svc.Link(ctx, a.ErrorID); !errors.Is(err, alert.ErrNotFound) {
							t.Errorf("a refused link must store nothing, Link = %v", err)
						}
						if len(h.fl.Attachments(is.ID)) != 1 {
							t.Errorf("a refused link must attach nothing in Linear")
						}
						return
					}
					if err != nil {
						t.Fatalf("LinkExisting: %v", err)
					}
					if link.IssueID != is.ID || link.Kind != alert.LinkLinked || link.CreatedBy != "U1" {
						t.Errorf("link = %+v", link)
					}
					var attached bool
					for _, at := range h.fl.Attachments(is.ID) {
						attached = attached || at.URL == a.URL
					}
					if !attached {
						t.Errorf("the error was not attached to %s in Linear", is.Identifier)
					}
					notes := h.notes(t)
					if len(notes) != 1 || notes[0].Kind != alert.NoteLinked {
						t.Errorf("thread notes = %+v, want one saying linked", notes)
					}
					if n := len(h.fl.Issues()); n != 1 {
						t.Errorf("Linear has %d issues, want 1 (linking creates none)", n)
					}
				})
			}
		})
	}
}

func TestIssueChangedIsIdempotentAndNotesTransitions(t *testing.T) {
	t.Parallel()
	for _, dc := range storetest.Dialects(t) {
		t.Run(dc.Name, func(t *testing.T) {
			ctx := context.Background()
			h := newHarness(t, dc)
			is := h.seedIssue(t, "Crash", "https://elsewhere.example/x")
			a := h.accept(t, "prl_state")
			if _, err := h.svc.LinkExisting(ctx, alert.LinkRequest{AlertID: a.ID, Ref: mustRef(t, is.Identifier)}); err != nil {
				t.Fatal(err)
			}
			if err := h.db.SetAlertMessage(ctx, a.ID, "1700000000.000100"); err != nil {
				t.Fatal(err)
			}
			h.notes(t)

			if err := h.fl.SetIssueState(is.Identifier, "In Progress"); err != nil {
				t.Fatal(err)
			}
			cur, err := h.linear.Issue(ctx, is.ID)
			if err != nil {
				t.Fatal(err)
			}
			for range 2 { // webhook and poller both deliver it
				if err := h.svc.IssueChanged(ctx, cur); err != nil {
					t.Fatal(err)
				}
			}
			link, _ := h.svc.Link(ctx, a.ErrorID)
			if link.StateName != "In Progress" || link.StateType != "started" {
				t.Errorf("link state = %s/%s", link.StateName, link.StateType)
			}
			notes := h.notes(t)
			if len(notes) != 1 || notes[0].Kind != alert.NoteStateChanged || notes[0].Issue.StateName != "In Progress" ||
				notes[0].Issue.StateType != "started" || notes[0].Issue.Identifier != is.Identifier {
				t.Errorf("notes = %+v, want one transition note", notes)
			}

			// A title edit refreshes the message but says nothing in the thread.
			if err := h.fl.UpdateIssue(is.ID, func(i *fakelinear.Issue) { i.Title = "Crash in checkout" }); err != nil {
				t.Fatal(err)
			}
			cur, _ = h.linear.Issue(ctx, is.ID)
			if err := h.svc.IssueChanged(ctx, cur); err != nil {
				t.Fatal(err)
			}
			if notes := h.notes(t); len(notes) != 0 {
				t.Errorf("a title edit wrote thread notes %+v", notes)
			}
			if link, _ := h.svc.Link(ctx, a.ErrorID); link.Title != "Crash in checkout" {
				t.Errorf("title = %q", link.Title)
			}
		})
	}
}

func TestRefreshLinksReadsEachBatchInOneRequest(t *testing.T) {
	t.Parallel()
	for _, dc := range storetest.Dialects(t) {
		t.Run(dc.Name, func(t *testing.T) {
			ctx := context.Background()
			h := newHarness(t, dc)
			var idents []string
			for i := range 7 {
				is := h.seedIssue(t, "Crash", "https://elsewhere.example/"+string(rune('a'+i)))
				a := h.accept(t, "prl_poll_"+string(rune('a'+i)))
				if _, err := h.svc.LinkExisting(ctx, alert.LinkRequest{AlertID: a.ID, Ref: mustRef(t, is.Identifier)}); err != nil {
					t.Fatal(err)
				}
				idents = append(idents, is.Identifier)
			}
			for _, id := range idents[:3] {
				if err := h.fl.SetIssueState(id, "Done"); err != nil {
					t.Fatal(err)
				}
			}
			before := h.fl.CountRequests("issuesByID")
			n, err := h.svc.RefreshLinks(ctx, 3)
			if err != nil {
				t.Fatal(err)
			}
			if n != 7 {
				t.Errorf("read %d issues, want 7", n)
			}
			if got := h.fl.CountRequests("issuesByID") - before; got != 3 {
				t.Errorf("%d issuesByID requests for 7 links in batches of 3, want 3", got)
			}
			before = h.fl.CountRequests("issuesByID")
			if n, err := h.svc.RefreshLinks(ctx, 100); err != nil || n != 4 {
				t.Errorf("second pass read %d (%v), want only the 4 still open", n, err)
			}
			if got := h.fl.CountRequests("issuesByID") - before; got != 1 {
				t.Errorf("second pass made %d requests, want 1", got)
			}
		})
	}
}

func TestRegressionReopenAndRecreate(t *testing.T) {
	t.Parallel()
	for _, dc := range storetest.Dialects(t) {
		t.Run(dc.Name, func(t *testing.T) {
			ctx := context.Background()
			h := newHarness(t, dc)
			a := h.accept(t, "prl_regress")
			link, err := h.svc.CreateIssue(ctx, alert.CreateRequest{CreationID: uuid.NewString(), AlertID: a.ID,
				TeamID: fakelinear.TeamEngID, Title: a.Title(), SlackUser: "U1"})
			if err != nil {
				t.Fatal(err)
			}
			if err := h.fl.SetIssueState(link.Identifier, "Done"); err != nil {
				t.Fatal(err)
			}
			cur, _ := h.linear.Issue(ctx, link.IssueID)
			if err := h.svc.IssueChanged(ctx, cur); err != nil {
				t.Fatal(err)
			}
			h.notes(t)

			// The error comes back, twice: one "the error is back" note.
			for range 2 {
				h.accept(t, "prl_regress")
			}
			notes := h.notes(t)
			if len(notes) != 1 || notes[0].Kind != alert.NoteRegressed || notes[0].Issue.StateType != "completed" || notes[0].Issue.ClosedAt.IsZero() {
				t.Errorf("notes = %+v, want one regression note", notes)
			}

			// Reopen moves it back to work with a comment.
			reopened, err := h.svc.Reopen(ctx, a.ID, "U1")
			if err != nil {
				t.Fatalf("Reopen: %v", err)
			}
			if reopened.Closed() || reopened.StateType != "started" {
				t.Errorf("after reopen the link is %s/%s", reopened.StateName, reopened.StateType)
			}
			if cs := h.fl.Comments(link.IssueID); len(cs) != 1 || !strings.Contains(cs[0].Body, "error is back") {
				t.Errorf("comments = %+v", cs)
			}

			// Closed again, and a new issue is created for the regression:
			// it replaces the link.
			if err := h.fl.SetIssueState(link.Identifier, "Canceled"); err != nil {
				t.Fatal(err)
			}
			cur, _ = h.linear.Issue(ctx, link.IssueID)
			_ = h.svc.IssueChanged(ctx, cur)
			again, err := h.svc.CreateIssue(ctx, alert.CreateRequest{CreationID: uuid.NewString(), AlertID: a.ID,
				TeamID: fakelinear.TeamEngID, Title: a.Title()})
			if err != nil {
				t.Fatalf("create after a closed link: %v", err)
			}
			if again.IssueID == link.IssueID || len(h.fl.Issues()) != 2 {
				t.Errorf("want a second issue replacing the link, got %+v", again)
			}
		})
	}
}

func TestCreateLinksAnIssueThatAlreadyCarriesTheError(t *testing.T) {
	t.Parallel()
	for _, dc := range storetest.Dialects(t) {
		t.Run(dc.Name, func(t *testing.T) {
			ctx := context.Background()
			h := newHarness(t, dc)
			existing := h.seedIssue(t, "Filed by hand", errorURL("prl_dup"))
			a := h.accept(t, "prl_dup")
			_, err := h.svc.CreateIssue(ctx, alert.CreateRequest{CreationID: uuid.NewString(), AlertID: a.ID,
				TeamID: fakelinear.TeamEngID, Title: a.Title()})
			var linked *alert.AlreadyLinkedError
			if !errors.As(err, &linked) || linked.Link.IssueID != existing.ID {
				t.Fatalf("CreateIssue = %v, want AlreadyLinkedError for %s", err, existing.Identifier)
			}
			if n := len(h.fl.Issues()); n != 1 {
				t.Errorf("Linear has %d issues, want 1", n)
			}
			// "Create another anyway" does create.
			forced, err := h.svc.CreateIssue(ctx, alert.CreateRequest{CreationID: uuid.NewString(), AlertID: a.ID,
				TeamID: fakelinear.TeamEngID, Title: a.Title(), Force: true})
			if err != nil || forced.IssueID == existing.ID || len(h.fl.Issues()) != 2 {
				t.Errorf("forced create = %+v, %v; issues %d", forced, err, len(h.fl.Issues()))
			}
		})
	}
}

// TestCreateRetryAfterALostResponse: Linear created the issue but its
// answer was lost; the retry of the same intent must end with that issue,
// recorded as created, not as "already tracked".
func TestCreateRetryAfterALostResponse(t *testing.T) {
	t.Parallel()
	for _, dc := range storetest.Dialects(t) {
		t.Run(dc.Name, func(t *testing.T) {
			ctx := context.Background()
			h := newHarness(t, dc)
			a := h.accept(t, "prl_lost")
			req := alert.CreateRequest{CreationID: uuid.NewString(), AlertID: a.ID, TeamID: fakelinear.TeamEngID,
				Title: a.Title(), SlackUser: "U1"}
			h.fl.LoseResponseNext("createIssue")
			if _, err := h.svc.CreateIssue(ctx, req); err == nil {
				t.Fatal("the first attempt should fail: its response was lost")
			}
			link, err := h.svc.CreateIssue(ctx, req)
			if err != nil {
				t.Fatalf("retry: %v", err)
			}
			if link.IssueID != req.CreationID || link.Kind != alert.LinkCreated || link.CreatedBy != "U1" {
				t.Errorf("link = %+v, want the issue made with the creation id, recorded as created", link)
			}
			if n := len(h.fl.Issues()); n != 1 {
				t.Errorf("Linear has %d issues, want 1", n)
			}
		})
	}
}

// TestLateLookupNeverClaimsOwnCreation is the interleaving behind a rare
// failure of TestCreateRetryAfterALostResponse (then with a background
// lookup at accept time), made deterministic: a duplicate check (a create
// modal opening) reads Linear after a create whose answer was lost has
// made its issue. The check must not record that issue as linked from
// Linear; the retry ends with it, as created.
func TestLateLookupNeverClaimsOwnCreation(t *testing.T) {
	t.Parallel()
	for _, dc := range storetest.Dialects(t) {
		t.Run(dc.Name, func(t *testing.T) {
			ctx := context.Background()
			h := newHarness(t, dc)
			now := time.Now()
			alert.SetClock(h.svc, func() time.Time { return now })
			a := h.accept(t, "prl_late")
			req := alert.CreateRequest{CreationID: uuid.NewString(), AlertID: a.ID, TeamID: fakelinear.TeamEngID,
				Title: a.Title(), SlackUser: "U1"}
			h.fl.LoseResponseNext("createIssue")
			if _, err := h.svc.CreateIssue(ctx, req); err == nil {
				t.Fatal("the first attempt should fail: its response was lost")
			}
			// Late: the issue exists in Linear now, and the create's own
			// "none" is too old to spare the check its Linear request.
			now = now.Add(alert.DuplicateCheckTTL + time.Second)
			looks := h.fl.CountRequests("issuesForURL")
			if l, err := h.svc.CheckBeforeCreate(ctx, a.ID); err != nil || l != nil {
				t.Fatalf("check = %+v, %v; want none (the issue is our own creation's)", l, err)
			}
			if n := h.fl.CountRequests("issuesForURL") - looks; n != 1 {
				t.Fatalf("the check made %d duplicate lookups in Linear, want 1", n)
			}
			if l, err := h.svc.Link(ctx, a.ErrorID); !errors.Is(err, alert.ErrNotFound) {
				t.Fatalf("the lookup recorded our own creation's issue: %+v, %v", l, err)
			}
			link, err := h.svc.CreateIssue(ctx, req)
			if err != nil {
				t.Fatalf("retry: %v", err)
			}
			if link.IssueID != req.CreationID || link.Kind != alert.LinkCreated || link.CreatedBy != "U1" {
				t.Errorf("link = %+v, want the issue made with the creation id, recorded as created", link)
			}
		})
	}
}

// linkCounter is the store counting its Link reads.
type linkCounter struct {
	*store.DB
	reads atomic.Int64
}

func (c *linkCounter) Link(ctx context.Context, errorID string) (alert.IssueLink, error) {
	c.reads.Add(1)
	return c.DB.Link(ctx, errorID)
}

// TestAcceptTellsRegressionWithoutReadingTheLink: an accept learns the
// error's link from the store's accept itself, so it reads nothing more,
// and the regression of a closed issue is still noted, once.
func TestAcceptTellsRegressionWithoutReadingTheLink(t *testing.T) {
	for _, dc := range storetest.Dialects(t) {
		t.Run(dc.Name, func(t *testing.T) {
			ctx := context.Background()
			db := &linkCounter{DB: dc.Open(t)}
			svc := alert.NewService(db, nil, storetest.Logger(t))
			in := alert.Alert{ErrorID: "prl_back", Channel: "C1", URL: errorURL("prl_back"), ErrorType: "TypeError"}
			a, err := svc.Accept(ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			if err := db.SaveLink(ctx, alert.IssueLink{ErrorID: "prl_back", IssueID: "iss-1", Identifier: "ENG-1",
				StateName: "Done", StateType: "completed", ClosedAt: time.Now()}); err != nil {
				t.Fatal(err)
			}
			for range 3 {
				if _, err := svc.Accept(ctx, in); err != nil {
					t.Fatal(err)
				}
			}
			if n := db.reads.Load(); n != 0 {
				t.Errorf("%d Link reads for 4 accepts, want 0", n)
			}
			var notes []alert.Note
			for _, j := range storetest.JobsOfKind(t, db.DB, alert.JobThreadNote) {
				n, err := alert.JobNote(j)
				if err != nil || j.AlertID != a.ID {
					t.Fatalf("note job %+v: %v", j, err)
				}
				notes = append(notes, n)
			}
			if len(notes) != 1 || notes[0].Kind != alert.NoteRegressed {
				t.Errorf("notes = %+v, want one regression note", notes)
			}
			if l, err := db.DB.Link(ctx, "prl_back"); err != nil || l.RegressedAt.IsZero() {
				t.Errorf("link after the regression = %+v, %v; want RegressedAt set", l, err)
			}
		})
	}
}
