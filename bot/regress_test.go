package bot

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/bot/fakeslack"
)

// TestRegressionReopen: an alert whose issue was completed says so and
// offers Reopen; Reopen moves the issue back with a comment, and the alert
// and thread follow.
func TestRegressionReopen(t *testing.T) {
	t.Parallel()
	h := startHarness(t, "")
	ctx := t.Context()
	seedIssues(h)
	closedAt := time.Date(2026, 11, 12, 10, 0, 0, 0, time.UTC)
	h.tracker.addIssue(alert.Issue{
		ID: "iss-uuid", Identifier: "ENG-42", Title: "TypeError", URL: "https://linear.app/acme/issue/ENG-42/typeerror",
		StateName: "Done", StateType: "completed", TeamID: "team-eng", TeamKey: "ENG", ClosedAt: closedAt,
	})
	link := sampleLink()
	link.StateName, link.StateType, link.ClosedAt, link.RegressedAt = "Done", "completed", closedAt, t1
	if err := h.store.SaveLink(ctx, link); err != nil {
		t.Fatal(err)
	}
	a, _ := h.store.Alert(ctx, 42)
	if err := h.bot.UpdateAlert(ctx, a, &link); err != nil {
		t.Fatal(err)
	}
	msg, _ := h.fs.Message("C100", h.ts)
	for _, want := range []string{"ENG-42 was completed on 12 Nov; the error is back.", `"reopen_issue"`, "Reopen ENG-42", `"create_issue"`} {
		if !strings.Contains(string(msg.Blocks), want) {
			t.Errorf("regressed message lacks %q", want)
		}
	}

	if _, err := h.fs.ClickButton(ctx, "U1", "C100", h.ts, actionReopen); err != nil {
		t.Fatalf("click Reopen: %v", err)
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := h.fs.Wait(wctx, func() bool { return len(h.tracker.Comments("iss-uuid")) > 0 }); err != nil {
		t.Fatal("Linear never got the reopen")
	}
	if c := h.tracker.Comments("iss-uuid"); len(c) != 1 || !strings.Contains(c[0], "The error is back") {
		t.Errorf("comments = %q", c)
	}
	if err := h.fs.Wait(wctx, func() bool {
		l, err := h.store.Link(ctx, "err-1")
		return err == nil && l.StateType == "started"
	}); err != nil {
		t.Fatal("the link never became started")
	}
	h.deliver(t)
	msg, _ = h.fs.Message("C100", h.ts)
	if strings.Contains(string(msg.Blocks), "the error is back") || !strings.Contains(string(msg.Blocks), "In Progress") {
		t.Errorf("message after reopen: %s", msg.Blocks)
	}
	if notes := h.threadTexts(t); len(notes) != 1 || !strings.Contains(notes[0], "In Progress") {
		t.Errorf("thread = %q, want one note of the move to In Progress", notes)
	}
	if r := h.fs.Responses(); len(r) != 0 {
		t.Errorf("ephemeral replies on success: %+v", r)
	}
}

func TestReopenErrorIsEphemeral(t *testing.T) {
	t.Parallel()
	h := startHarness(t, "")
	ctx := t.Context()
	link := sampleLink()
	link.StateName, link.StateType, link.ClosedAt = "Done", "completed", t0
	h.tracker.addIssue(alert.Issue{ID: link.IssueID, Identifier: link.Identifier, StateName: "Done", StateType: "completed", TeamID: "team-eng"})
	if err := h.store.SaveLink(ctx, link); err != nil {
		t.Fatal(err)
	}
	a, _ := h.store.Alert(ctx, 42)
	if err := h.bot.UpdateAlert(ctx, a, &link); err != nil {
		t.Fatal(err)
	}
	h.tracker.setMethodErr("Reopen", alert.ErrForbidden)
	if _, err := h.fs.ClickButton(ctx, "U1", "C100", h.ts, actionReopen); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	// The reopen ran as a stored job, after the ack: the user is told with
	// chat.postEphemeral in the alert's channel.
	var got []fakeslack.Message
	if err := h.fs.Wait(wctx, func() bool { got = h.fs.Ephemerals(); return len(got) > 0 }); err != nil {
		t.Fatal("no ephemeral reply")
	}
	if got[0].Recipient != "U1" || got[0].Channel != "C100" || !strings.Contains(got[0].Text, "missing a Linear permission") {
		t.Errorf("reply = %+v", got[0])
	}
}

// TestCreateAnyway: an error tracked by an open issue hides Create behind a
// confirmation; confirmed, the modal creates a second issue, which the
// service would otherwise refuse.
func TestCreateAnyway(t *testing.T) {
	t.Parallel()
	h := startHarness(t, "ENG")
	ctx := t.Context()
	if err := h.store.SaveLink(ctx, sampleLink()); err != nil {
		t.Fatal(err)
	}
	a, _ := h.store.Alert(ctx, 42)
	link := sampleLink()
	if err := h.bot.UpdateAlert(ctx, a, &link); err != nil {
		t.Fatal(err)
	}
	msg, _ := h.fs.Message("C100", h.ts)
	if strings.Contains(string(msg.Blocks), `"create_issue"`) || !strings.Contains(string(msg.Blocks), "Create another issue anyway?") {
		t.Fatalf("tracked message: %s", msg.Blocks)
	}
	if _, err := h.fs.ClickButton(ctx, "U1", "C100", h.ts, actionCreateAnyway); err != nil {
		t.Fatalf("click: %v", err)
	}
	v := h.waitView(t, "already tracked in", "Grace Hopper")
	if _, err := h.fs.SubmitView(ctx, "U1", v.ID); err != nil {
		t.Fatalf("submit: %v", err)
	}
	h.waitView(t, "Created", "ENG-1")
	if l, err := h.store.Link(ctx, "err-1"); err != nil || l.Identifier != "ENG-1" {
		t.Errorf("link = %+v, %v; want the new ENG-1", l, err)
	}
	if n := h.tracker.Calls("CreateIssue"); n != 1 {
		t.Errorf("CreateIssue called %d times, want 1", n)
	}
}
