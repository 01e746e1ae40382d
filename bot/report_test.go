package bot

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/proliferate/proliferate-linear/alert"
)

// TestReport: each outcome of a stored submission reaches the person: in
// the modal while it is open, ephemerally in the alert's channel when it
// was closed (only what they must know: still trying, failed).
func TestReport(t *testing.T) {
	t.Parallel()
	until := time.Date(2026, 12, 4, 21, 0, 0, 0, time.UTC)
	link := sampleLink()
	tests := []struct {
		name      string
		kind      alert.JobKind
		o         alert.Outcome
		closed    bool
		wantView  []string // "" entries skipped; nil: no views.update expected
		wantEphem string   // "" for none
	}{
		{"created", alert.JobCreateIssue, alert.Outcome{State: alert.OutcomeDone, Link: link}, false,
			[]string{"Created", "ENG-42"}, ""},
		{"created, modal closed: the thread says it", alert.JobCreateIssue, alert.Outcome{State: alert.OutcomeDone, Link: link}, true,
			nil, ""},
		{"tracked", alert.JobCreateIssue, alert.Outcome{State: alert.OutcomeTracked, Link: link}, false,
			[]string{"already tracked", "ENG-42"}, ""},
		{"retrying", alert.JobCreateIssue, alert.Outcome{State: alert.OutcomeRetrying, Err: alert.ErrUnavailable, Until: until, Attempt: 1}, false,
			[]string{"Linear is not answering", "we keep trying until", "!date^1796418000^", "nothing will be created twice"}, ""},
		{"retrying, modal closed", alert.JobCreateIssue, alert.Outcome{State: alert.OutcomeRetrying, Err: alert.ErrRateLimited, Until: until, Attempt: 1}, true,
			nil, "rate limit was reached"},
		{"retrying again, modal closed: told once", alert.JobCreateIssue, alert.Outcome{State: alert.OutcomeRetrying, Err: alert.ErrUnavailable, Until: until, Attempt: 2}, true,
			nil, ""},
		{"refused: the form comes back", alert.JobCreateIssue, alert.Outcome{State: alert.OutcomeFailed, Err: alert.ErrInvalidInput}, false,
			[]string{"team or assignee is invalid", `"block_id":"team"`}, ""},
		{"gave up, modal closed", alert.JobCreateIssue, alert.Outcome{State: alert.OutcomeFailed, Err: alert.ErrUnavailable, GaveUp: true}, true,
			nil, "Linear was unavailable for too long"},
		{"link refused", alert.JobLinkIssue, alert.Outcome{State: alert.OutcomeFailed, Err: fmt.Errorf("read: %w", alert.ErrNotFound)}, false,
			[]string{"No issue ENG-7 in your Linear workspace.", `"issue_ref"`}, ""},
		{"reopen failed", alert.JobReopenIssue, alert.Outcome{State: alert.OutcomeFailed, Err: alert.ErrForbidden}, false,
			nil, "Could not reopen the issue. Linear refused"},
		{"reopened: nothing to say", alert.JobReopenIssue, alert.Outcome{State: alert.OutcomeDone, Link: link}, false,
			nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := startHarness(t, "")
			h.bot.teams.put("", sampleTeams())
			ctx := context.Background()
			viewID := "V-closed"
			if !tt.closed {
				viewID = h.openModal(t)
			}
			sub := alert.Submission{Kind: tt.kind, Reply: alert.Reply{User: "U1", ViewID: viewID, Channel: "C100"}, SubmittedAt: time.Now()}
			switch tt.kind {
			case alert.JobCreateIssue:
				req := submission{TeamID: "team-eng", Title: "T"}.request(testMeta, "U1")
				sub.Create = &req
				p, _ := json.Marshal(createReply{Meta: testMeta, Values: submission{TeamID: "team-eng", Title: "T"}})
				sub.Reply.Private = string(p)
			case alert.JobLinkIssue:
				sub.Link = &alert.LinkRequest{AlertID: 42, SlackUser: "U1"}
				sub.Link.Ref.Identifier = "ENG-7"
			case alert.JobReopenIssue:
				sub.Reopen = &alert.ReopenRequest{AlertID: 42, SlackUser: "U1"}
				sub.Reply.ViewID = ""
			}
			before := len(h.fs.Calls("views.update"))
			if err := h.bot.Report(ctx, sub, tt.o); err != nil {
				t.Fatalf("Report: %v", err)
			}
			if tt.wantView != nil {
				v, _ := h.fs.View(viewID)
				for _, w := range tt.wantView {
					if !strings.Contains(string(v.Blocks), w) {
						t.Errorf("modal lacks %q: %s", w, v.Blocks)
					}
				}
			} else if !tt.closed && sub.Reply.ViewID != "" && len(h.fs.Calls("views.update")) != before {
				t.Errorf("views.update called, want none")
			}
			eph := h.fs.Ephemerals()
			switch {
			case tt.wantEphem == "" && len(eph) != 0:
				t.Errorf("ephemeral %q, want none", eph[0].Text)
			case tt.wantEphem != "" && (len(eph) != 1 || !strings.Contains(eph[0].Text, tt.wantEphem) || eph[0].Recipient != "U1"):
				t.Errorf("ephemerals %+v, want one to U1 with %q", eph, tt.wantEphem)
			}
		})
	}
}

// openModal opens an open create modal in the fake and returns its id.
func (h *harness) openModal(t *testing.T) string {
	t.Helper()
	if _, err := h.fs.ClickButton(t.Context(), "U1", "C100", h.ts, actionCreateIssue); err != nil {
		t.Fatal(err)
	}
	return h.waitView(t, `"block_id":"team"`).ID
}

// TestOutcomeAfterItsAck: a stored submission may run (on another replica)
// before Slack has the ack that shows "Linking…"; its outcome then waits
// out the floor from the submission, so that the ack, applied when it
// arrives, cannot overwrite it.
func TestOutcomeAfterItsAck(t *testing.T) {
	t.Parallel()
	h := startHarness(t, "", withJobsBeforeAck())
	seedIssues(h)
	v := h.openLinkModal(t)
	setText(t, h, v.ID, "ENG-7")
	if _, err := h.fs.SubmitView(t.Context(), "U1", v.ID); err != nil {
		t.Fatalf("submit: %v", err)
	}
	h.waitView(t, "Linked", "ENG-7")
	envs := h.fs.Envelopes()
	sub := envs[len(envs)-1]
	if !strings.Contains(string(sub.Payload), `"type":"view_submission"`) {
		t.Fatalf("last envelope is not the submission: %s", sub.Payload)
	}
	ups := h.fs.Calls("views.update")
	if len(ups) != 1 {
		t.Fatalf("%d views.update calls, want the outcome's one", len(ups))
	}
	acked := sub.SentAt.Add(sub.Ack.Latency)
	if gap := ups[0].At.Sub(sub.SentAt); gap < defaultMinProgress || !ups[0].At.After(acked) {
		t.Errorf("outcome sent %v after the submission, %v after its ack; want at least %v after it, and after the ack",
			gap, ups[0].At.Sub(acked), defaultMinProgress)
	}
}
