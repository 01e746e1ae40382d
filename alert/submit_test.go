package alert_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/alert/issueref"
	"github.com/proliferate/proliferate-linear/linear/fakelinear"
	"github.com/proliferate/proliferate-linear/store"
	"github.com/proliferate/proliferate-linear/store/storetest"
)

// reports records what a Reporter was told, in order.
type reports struct {
	mu  sync.Mutex
	out []alert.Outcome
	sub []alert.Submission
}

func (r *reports) Report(_ context.Context, sub alert.Submission, o alert.Outcome) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.out = append(r.out, o)
	r.sub = append(r.sub, sub)
	return nil
}

func (r *reports) states() []alert.OutcomeState {
	r.mu.Lock()
	defer r.mu.Unlock()
	var s []alert.OutcomeState
	for _, o := range r.out {
		s = append(s, o.State)
	}
	return s
}

func (r *reports) last() alert.Outcome {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.out) == 0 {
		return alert.Outcome{}
	}
	return r.out[len(r.out)-1]
}

// slackRecorder is the Poster of a replica: it records thread notes.
type slackRecorder struct {
	mu    sync.Mutex
	notes []alert.Note
}

func (p *slackRecorder) PostAlert(context.Context, alert.Alert, *alert.IssueLink) (string, error) {
	return "1700000000.000100", nil
}
func (p *slackRecorder) UpdateAlert(context.Context, alert.Alert, *alert.IssueLink) error { return nil }
func (p *slackRecorder) PostNote(_ context.Context, _ alert.Alert, n alert.Note) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.notes = append(p.notes, n)
	return nil
}

func (p *slackRecorder) PostStatus(context.Context, alert.Alert, *alert.IssueLink, string) error {
	return nil
}

func (p *slackRecorder) thread() []alert.Note {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]alert.Note(nil), p.notes...)
}

// replica is one process of the bot on the shared store: its own service,
// work engine and Slack side. A replica that is never drained stands for
// one that died right after it acked a submission.
type replica struct {
	svc   *alert.Service
	d     *alert.Dispatcher
	told  *reports
	slack *slackRecorder
}

func (h *harness) replica(t *testing.T) *replica {
	t.Helper()
	svc := alert.NewService(h.db, h.linear, storetest.Logger(t))
	svc.RetryBase = 10 * time.Millisecond
	svc.LinkWait = time.Second // a create in flight elsewhere answers well within it.
	// An auto filing or a note that ran before the alert's message was
	// posted looks again soon, not a second or two later.
	svc.MessageWait = 10 * time.Millisecond
	r := &replica{svc: svc, told: &reports{}, slack: &slackRecorder{}}
	svc.Reporter = r.told
	r.d = alert.NewDispatcher(h.db, r.slack, storetest.Logger(t))
	r.d.ChannelGap = 0
	r.d.MessageWait = 10 * time.Millisecond
	svc.MaxAttempts = r.d.MaxAttempts
	for _, k := range alert.SubmissionKinds {
		r.d.Handle(k, svc.RunSubmission)
	}
	return r
}

// drain runs r's engine until no job is queued or running.
func (r *replica) drain(t *testing.T, db *store.DB) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		n, err := r.d.RunOnce(ctx)
		if err != nil {
			t.Fatalf("run jobs: %v", err)
		}
		if n > 0 {
			continue
		}
		// Another replica may finish a job between QueueStats' two reads.
		if st, err := db.QueueStats(ctx); err == nil && st.Queued == 0 && st.Running == 0 {
			return
		}
		time.Sleep(5 * time.Millisecond) // a retry is due in a few ms; nothing to wait on but the clock.
	}
	t.Fatal("the job queue did not drain")
}

// posted accepts an alert and lets r post its message, so notes have a
// thread to go to.
func (h *harness) posted(t *testing.T, r *replica, errorID string) alert.Alert {
	t.Helper()
	a := h.accept(t, errorID)
	r.drain(t, h.db)
	a, err := h.db.Alert(context.Background(), a.ID)
	if err != nil || a.MessageTS == "" {
		t.Fatalf("alert not posted: %+v %v", a, err)
	}
	return a
}

func createSub(a alert.Alert, user string) alert.Submission {
	return alert.Submission{
		Kind: alert.JobCreateIssue,
		Create: &alert.CreateRequest{
			CreationID: uuid.NewString(), AlertID: a.ID, TeamID: fakelinear.TeamEngID, AssigneeID: fakelinear.UserBobID,
			Title: "Checkout crashes", Priority: alert.PriorityHigh, SlackUser: user,
		},
		Reply: alert.Reply{User: user, ViewID: "V1", Channel: a.Channel},
	}
}

func createdNotes(notes []alert.Note) int {
	n := 0
	for _, s := range notes {
		if s.Kind == alert.NoteCreated {
			n++
		}
	}
	return n
}

// TestSubmissionSurvivesTheReplicaThatAcked: replica A stores the
// submission (what it does before the ack) and dies; replica B finishes it:
// one issue as submitted, one thread note, the person told.
func TestSubmissionSurvivesTheReplicaThatAcked(t *testing.T) {
	t.Parallel()
	for _, dc := range storetest.Dialects(t) {
		t.Run(dc.Name, func(t *testing.T) {
			ctx := context.Background()
			h := newHarness(t, dc)
			a, b := h.replica(t), h.replica(t)
			al := h.posted(t, b, "prl_acked")
			sub := createSub(al, "U1")
			if err := a.svc.Submit(ctx, sub); err != nil {
				t.Fatalf("submit: %v", err)
			}
			if n := h.fl.CountRequests("createIssue"); n != 0 {
				t.Fatalf("Submit called Linear (%d createIssue); it must only store", n)
			}
			b.drain(t, h.db)

			issues := h.fl.Issues()
			if len(issues) != 1 {
				t.Fatalf("Linear has %d issues, want 1", len(issues))
			}
			is := issues[0]
			if is.ID != sub.Create.CreationID || is.Title != "Checkout crashes" || is.TeamID != fakelinear.TeamEngID ||
				is.AssigneeID != fakelinear.UserBobID || is.Priority != int(alert.PriorityHigh) {
				t.Errorf("issue = %+v, want the submitted one with the creation id", is)
			}
			if got := b.told.states(); len(got) != 1 || got[0] != alert.OutcomeDone || b.told.last().Link.Identifier != is.Identifier {
				t.Errorf("told %v (%+v), want done with %s", got, b.told.last(), is.Identifier)
			}
			if got := b.told.sub[0].Reply; got.ViewID != "V1" || got.User != "U1" {
				t.Errorf("reply = %+v, want the submission's view and user", got)
			}
			if n := createdNotes(b.slack.thread()); n != 1 {
				t.Errorf("thread has %d Created notes, want 1: %+v", n, b.slack.thread())
			}
			link, err := h.db.Link(ctx, al.ErrorID)
			if err != nil || link.IssueID != is.ID || link.Kind != alert.LinkCreated || link.CreatedBy != "U1" {
				t.Errorf("link = %+v, %v", link, err)
			}
		})
	}
}

// TestSubmissionLostResponseReconciledOnce: Linear made the issue but its
// answer was lost; the job's next run reads it back by the creation UUID.
func TestSubmissionLostResponseReconciledOnce(t *testing.T) {
	t.Parallel()
	for _, dc := range storetest.Dialects(t) {
		t.Run(dc.Name, func(t *testing.T) {
			ctx := context.Background()
			h := newHarness(t, dc)
			r := h.replica(t)
			al := h.posted(t, r, "prl_lostanswer")
			h.fl.LoseResponseNext("createIssue")
			if err := r.svc.Submit(ctx, createSub(al, "U1")); err != nil {
				t.Fatal(err)
			}
			r.drain(t, h.db)
			if n := len(h.fl.Issues()); n != 1 {
				t.Errorf("Linear has %d issues, want 1", n)
			}
			if got := r.told.states(); len(got) != 2 || got[0] != alert.OutcomeRetrying || got[1] != alert.OutcomeDone {
				t.Errorf("told %v, want [retrying done]", got)
			}
			if n := createdNotes(r.slack.thread()); n != 1 {
				t.Errorf("thread has %d Created notes, want 1", n)
			}
		})
	}
}

// TestNewAttemptSettlesACreationCutOffInFlight: a replica died while
// Linear's answer to issueCreate was on its way (the issue exists, nothing
// recorded it, its creation is pending). A new attempt by someone else is
// not told "already being created": the lost issue is found by its UUID,
// recorded and announced, and the new attempt is shown that issue.
func TestNewAttemptSettlesACreationCutOffInFlight(t *testing.T) {
	t.Parallel()
	for _, dc := range storetest.Dialects(t) {
		t.Run(dc.Name, func(t *testing.T) {
			ctx := context.Background()
			h := newHarness(t, dc)
			dead, r := h.replica(t), h.replica(t)
			al := h.posted(t, r, "prl_inflight")
			first := createSub(al, "U1")
			h.fl.LoseResponseNext("createIssue")
			if _, err := dead.svc.CreateIssue(ctx, *first.Create); err == nil {
				t.Fatal("the cut-off create should fail")
			}
			if _, err := h.db.PendingCreation(ctx, al.ErrorID); err != nil {
				t.Fatalf("the cut-off creation should be pending: %v", err)
			}

			again := createSub(al, "U2")
			if err := r.svc.Submit(ctx, again); err != nil {
				t.Fatal(err)
			}
			r.drain(t, h.db)
			if n := len(h.fl.Issues()); n != 1 {
				t.Fatalf("Linear has %d issues, want 1", n)
			}
			o := r.told.last()
			if o.State != alert.OutcomeTracked || o.Link.IssueID != first.Create.CreationID {
				t.Errorf("new attempt told %+v, want tracked by the first attempt's issue", o)
			}
			notes := r.slack.thread()
			if createdNotes(notes) != 1 || notes[0].SlackUser != "U1" {
				t.Errorf("thread = %+v, want one Created note by U1", notes)
			}
			link, err := h.db.Link(ctx, al.ErrorID)
			if err != nil || link.Kind != alert.LinkCreated || link.CreatedBy != "U1" {
				t.Errorf("link = %+v, %v; want created by U1", link, err)
			}
		})
	}
}

// TestDoubleSubmitOneIssue: one modal submitted twice (Slack redelivers,
// or two clicks on Create) is one intent: one issue, one note.
func TestDoubleSubmitOneIssue(t *testing.T) {
	t.Parallel()
	for _, dc := range storetest.Dialects(t) {
		t.Run(dc.Name, func(t *testing.T) {
			ctx := context.Background()
			h := newHarness(t, dc)
			a, b := h.replica(t), h.replica(t)
			al := h.posted(t, a, "prl_double")
			sub := createSub(al, "U1")
			for _, r := range []*replica{a, b} {
				if err := r.svc.Submit(ctx, sub); err != nil {
					t.Fatal(err)
				}
			}
			var wg sync.WaitGroup
			for _, r := range []*replica{a, b} {
				wg.Go(func() { r.drain(t, h.db) })
			}
			wg.Wait()
			if n := len(h.fl.Issues()); n != 1 {
				t.Errorf("Linear has %d issues, want 1", n)
			}
			if n := createdNotes(append(a.slack.thread(), b.slack.thread()...)); n != 1 {
				t.Errorf("%d Created notes, want 1", n)
			}
		})
	}
}

// TestSubmissionWhileLinearIsDown: Linear fails every request for a while.
// The person is told it keeps trying and until when; once Linear is back
// the issue is created once.
func TestSubmissionWhileLinearIsDown(t *testing.T) {
	t.Parallel()
	for _, dc := range storetest.Dialects(t) {
		t.Run(dc.Name, func(t *testing.T) {
			ctx := context.Background()
			h := newHarness(t, dc)
			r := h.replica(t)
			al := h.posted(t, r, "prl_down")
			h.fl.FailNext("createIssue", 3, fakelinear.ServerError)
			before := time.Now()
			if err := r.svc.Submit(ctx, createSub(al, "U1")); err != nil {
				t.Fatal(err)
			}
			r.drain(t, h.db)
			got := r.told.states()
			want := []alert.OutcomeState{alert.OutcomeRetrying, alert.OutcomeRetrying, alert.OutcomeRetrying, alert.OutcomeDone}
			if strings.Join(statesText(got), ",") != strings.Join(statesText(want), ",") {
				t.Errorf("told %v, want %v", got, want)
			}
			first := r.told.out[0]
			if !errors.Is(first.Err, alert.ErrUnavailable) || first.Until.Before(before.Add(alert.DefaultPatience-time.Second)) || first.Attempt != 1 {
				t.Errorf("first report %+v, want unavailable, attempt 1, until ~%s from now", first, alert.DefaultPatience)
			}
			if n := len(h.fl.Issues()); n != 1 {
				t.Errorf("Linear has %d issues, want 1", n)
			}
			if n := createdNotes(r.slack.thread()); n != 1 {
				t.Errorf("%d Created notes, want 1", n)
			}
		})
	}
}

func statesText(s []alert.OutcomeState) []string {
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = string(x)
	}
	return out
}

// TestSubmissionGivesUp: Linear stays down past the patience: the person
// is told it stopped, the job is dead with its reason, and a later attempt
// (Linear back) still makes exactly one issue.
func TestSubmissionGivesUp(t *testing.T) {
	t.Parallel()
	for _, dc := range storetest.Dialects(t) {
		t.Run(dc.Name, func(t *testing.T) {
			ctx := context.Background()
			h := newHarness(t, dc)
			r := h.replica(t)
			r.svc.Patience = 100 * time.Millisecond
			al := h.posted(t, r, "prl_gone")
			h.fl.FailNext("", 1000, fakelinear.ServerError)
			if err := r.svc.Submit(ctx, createSub(al, "U1")); err != nil {
				t.Fatal(err)
			}
			r.drain(t, h.db)
			if o := r.told.last(); o.State != alert.OutcomeFailed || !o.GaveUp {
				t.Errorf("last report %+v, want failed, gave up", o)
			}
			if st, _ := h.db.QueueStats(ctx); st.Dead != 1 {
				t.Errorf("dead jobs = %d, want 1 (gave up, kept for an operator)", st.Dead)
			}
			if n := len(h.fl.Issues()); n != 0 {
				t.Errorf("Linear has %d issues, want 0", n)
			}
		})
	}
}

// TestSubmissionPermanentError: Linear refuses the team: the person is
// told what to do, the job ends (no retry), and the error is free for
// another try.
func TestSubmissionPermanentError(t *testing.T) {
	t.Parallel()
	for _, dc := range storetest.Dialects(t) {
		t.Run(dc.Name, func(t *testing.T) {
			ctx := context.Background()
			h := newHarness(t, dc)
			r := h.replica(t)
			al := h.posted(t, r, "prl_badteam")
			h.fl.FailNext("createIssue", 1, fakelinear.InvalidInput)
			if err := r.svc.Submit(ctx, createSub(al, "U1")); err != nil {
				t.Fatal(err)
			}
			r.drain(t, h.db)
			if got := r.told.states(); len(got) != 1 || got[0] != alert.OutcomeFailed || !errors.Is(r.told.last().Err, alert.ErrInvalidInput) {
				t.Errorf("told %v (%v), want one failure: invalid team or assignee", got, r.told.last().Err)
			}
			if st, _ := h.db.QueueStats(ctx); st.Dead != 0 || st.Queued != 0 {
				t.Errorf("queue %+v, want empty: the person was told, nothing for an operator", st)
			}
			if _, err := h.db.PendingCreation(ctx, al.ErrorID); !errors.Is(err, alert.ErrNotFound) {
				t.Errorf("pending creation after a refusal: %v, want none", err)
			}
			if err := r.svc.Submit(ctx, createSub(al, "U1")); err != nil {
				t.Fatal(err)
			}
			r.drain(t, h.db)
			if o := r.told.last(); o.State != alert.OutcomeDone || len(h.fl.Issues()) != 1 {
				t.Errorf("second try told %+v; issues %d", o, len(h.fl.Issues()))
			}
		})
	}
}

// TestSubmitRefusesBadInput: nothing is stored for a submission that
// cannot be carried out.
func TestSubmitRefusesBadInput(t *testing.T) {
	t.Parallel()
	dc := storetest.Dialects(t)[0]
	h := newHarness(t, dc)
	r := h.replica(t)
	al := h.accept(t, "prl_bad")
	for name, sub := range map[string]alert.Submission{
		"no creation id": {Kind: alert.JobCreateIssue, Create: &alert.CreateRequest{AlertID: al.ID, TeamID: "T", Title: "x"}},
		"no team":        {Kind: alert.JobCreateIssue, Create: &alert.CreateRequest{CreationID: uuid.NewString(), AlertID: al.ID, Title: "x"}},
		"no request":     {Kind: alert.JobLinkIssue},
		"no alert":       {Kind: alert.JobReopenIssue, Reopen: &alert.ReopenRequest{}},
	} {
		if err := r.svc.Submit(context.Background(), sub); !errors.Is(err, alert.ErrInvalid) {
			t.Errorf("%s: Submit = %v, want ErrInvalid", name, err)
		}
	}
	// Only the alert's own render job is queued.
	if st, _ := h.db.QueueStats(context.Background()); st.Queued != 1 {
		t.Errorf("queued jobs = %d, want 1 (the alert's message)", st.Queued)
	}
}

// TestLinkAndReopenSubmissions: a stored Link existing submission is
// finished by another replica, once; a stored Reopen clicked twice
// comments on the issue once.
func TestLinkAndReopenSubmissions(t *testing.T) {
	t.Parallel()
	for _, dc := range storetest.Dialects(t) {
		t.Run(dc.Name, func(t *testing.T) {
			ctx := context.Background()
			h := newHarness(t, dc)
			a, b := h.replica(t), h.replica(t)
			al := h.posted(t, b, "prl_link")
			is := h.seedIssue(t, "Existing", "https://example.com/other")
			ref, err := issueref.Parse(is.Identifier)
			if err != nil {
				t.Fatal(err)
			}
			link := alert.Submission{Kind: alert.JobLinkIssue, Link: &alert.LinkRequest{AlertID: al.ID, Ref: ref, SlackUser: "U1"},
				Reply: alert.Reply{User: "U1", ViewID: "V2"}}
			if err := a.svc.Submit(ctx, link); err != nil {
				t.Fatal(err)
			}
			b.drain(t, h.db)
			if o := b.told.last(); o.State != alert.OutcomeDone || o.Link.IssueID != is.ID {
				t.Fatalf("link told %+v", o)
			}
			// The same submission run again (a crash before its job was
			// finished) says nothing new in the thread.
			if err := a.svc.Submit(ctx, link); err != nil {
				t.Fatal(err)
			}
			b.drain(t, h.db)
			linked := 0
			for _, n := range b.slack.thread() {
				if n.Kind == alert.NoteLinked {
					linked++
				}
			}
			if linked != 1 {
				t.Errorf("%d Linked notes, want 1: %+v", linked, b.slack.thread())
			}

			if err := h.fl.SetIssueState(is.ID, "Done"); err != nil {
				t.Fatal(err)
			}
			if _, err := b.svc.RefreshLinks(ctx, 10); err != nil {
				t.Fatal(err)
			}
			reopen := alert.Submission{Kind: alert.JobReopenIssue, Reopen: &alert.ReopenRequest{AlertID: al.ID, SlackUser: "U1"},
				Reply: alert.Reply{User: "U1", Channel: al.Channel}}
			for range 2 {
				if err := a.svc.Submit(ctx, reopen); err != nil {
					t.Fatal(err)
				}
			}
			b.drain(t, h.db)
			// And once more after it ran: the issue is open, nothing to do.
			if err := a.svc.Submit(ctx, reopen); err != nil {
				t.Fatal(err)
			}
			b.drain(t, h.db)
			if n := len(h.fl.Comments(is.ID)); n != 1 {
				t.Errorf("issue has %d comments, want 1", n)
			}
			cur, _ := h.fl.Issue(is.ID)
			if cur.State.Type != "started" {
				t.Errorf("issue state %q, want started", cur.State.Type)
			}
		})
	}
}

// TestPendingCreationThatLinearNeverSaw: a replica died before its
// issueCreate reached Linear (its creation is pending, Linear has nothing).
// A new attempt soon after waits for it (it may still be on its way) and
// says so; once it cannot be in flight any more, the new attempt takes its
// place and creates the one issue, and the dead attempt's job, should it
// run after all, sends nothing.
func TestPendingCreationThatLinearNeverSaw(t *testing.T) {
	t.Parallel()
	for _, dc := range storetest.Dialects(t) {
		t.Run(dc.Name, func(t *testing.T) {
			ctx := context.Background()
			h := newHarness(t, dc)
			dead, r := h.replica(t), h.replica(t)
			al := h.posted(t, r, "prl_neversaw")
			first := createSub(al, "U1")
			h.fl.FailNext("createIssue", 1, fakelinear.ServerError)
			if _, err := dead.svc.CreateIssue(ctx, *first.Create); !errors.Is(err, alert.ErrUnavailable) {
				t.Fatalf("first attempt: %v, want unavailable", err)
			}

			// Soon after: the first may still be in flight.
			second := createSub(al, "U2")
			if _, err := r.svc.CreateIssue(ctx, *second.Create); !errors.Is(err, alert.ErrConflict) || !alert.Retryable(err) {
				t.Fatalf("second attempt while the first may be in flight: %v, want a temporary conflict", err)
			}

			// Later: nothing of the first can reach Linear any more.
			later := time.Now().Add(3 * time.Minute)
			alert.SetClock(r.svc, func() time.Time { return later })
			link, err := r.svc.CreateIssue(ctx, *second.Create)
			if err != nil || link.IssueID != second.Create.CreationID || link.CreatedBy != "U2" {
				t.Fatalf("second attempt later: %+v, %v; want its own issue", link, err)
			}
			// The dead attempt's retry finds itself replaced and sends nothing.
			sent := h.fl.CountRequests("createIssue")
			var linked *alert.AlreadyLinkedError
			if _, err := dead.svc.CreateIssue(ctx, *first.Create); !errors.As(err, &linked) || linked.Link.IssueID != link.IssueID {
				t.Errorf("the replaced attempt's retry: %v, want already tracked by %s", err, link.Identifier)
			}
			if n := h.fl.CountRequests("createIssue") - sent; n != 0 {
				t.Errorf("the replaced attempt sent %d createIssue, want 0", n)
			}
			if n := len(h.fl.Issues()); n != 1 {
				t.Errorf("Linear has %d issues, want 1", n)
			}
		})
	}
}

// TestReconcileCreations: a replica died while Linear's answer to
// issueCreate was on its way; the reconciler finds the issue by the
// creation's UUID and announces it once, without waiting for the dead
// replica's job; the job, when it runs again, only reports it.
func TestReconcileCreations(t *testing.T) {
	t.Parallel()
	for _, dc := range storetest.Dialects(t) {
		t.Run(dc.Name, func(t *testing.T) {
			ctx := context.Background()
			h := newHarness(t, dc)
			dead, r := h.replica(t), h.replica(t)
			al := h.posted(t, r, "prl_reconcile")
			sub := createSub(al, "U1")
			h.fl.LoseResponseNext("createIssue")
			if _, err := dead.svc.CreateIssue(ctx, *sub.Create); err == nil {
				t.Fatal("the cut-off create should fail")
			}
			if n, err := r.svc.ReconcileCreations(ctx, 5*time.Second); err != nil || n != 0 {
				t.Fatalf("reconciled %d (%v) of a creation touched just now, want 0: its run may be alive", n, err)
			}
			later := time.Now().Add(10 * time.Second)
			alert.SetClock(r.svc, func() time.Time { return later })
			if n, err := r.svc.ReconcileCreations(ctx, 5*time.Second); err != nil || n != 1 {
				t.Fatalf("reconciled %d, %v; want 1", n, err)
			}
			if n, err := r.svc.ReconcileCreations(ctx, 5*time.Second); err != nil || n != 0 {
				t.Errorf("second pass reconciled %d, %v; want 0", n, err)
			}
			// The dead replica's job runs again: it only reports.
			if err := r.svc.Submit(ctx, sub); err != nil {
				t.Fatal(err)
			}
			r.drain(t, h.db)
			if o := r.told.last(); o.State != alert.OutcomeDone || o.Link.IssueID != sub.Create.CreationID {
				t.Errorf("the job told %+v, want done with the reconciled issue", o)
			}
			if n := createdNotes(r.slack.thread()); n != 1 {
				t.Errorf("%d Created notes, want 1", n)
			}
			if n := len(h.fl.Issues()); n != 1 {
				t.Errorf("Linear has %d issues, want 1", n)
			}
			link, err := h.db.Link(ctx, al.ErrorID)
			if err != nil || link.Kind != alert.LinkCreated || link.CreatedBy != "U1" {
				t.Errorf("link = %+v, %v", link, err)
			}
		})
	}
}
