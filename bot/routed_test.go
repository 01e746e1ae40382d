package bot

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/proliferate/proliferate-linear/alert"
)

// The alert message offers "Create in ENG" (the default team here, no
// rule matching); a click on an alert whose error someone tracked
// meanwhile files nothing and tells the clicker, ephemerally, which issue
// tracks it.
func TestCreateInTeamOnATrackedAlert(t *testing.T) {
	t.Parallel()
	h := startHarness(t, "ENG")
	msg, ok := h.fs.Message("C100", h.ts)
	if !ok || !strings.Contains(string(msg.Blocks), `"Create in ENG"`) || !strings.Contains(string(msg.Blocks), actionCreateRouted) {
		t.Fatalf("alert message lacks the Create in ENG button: %s", msg.Blocks)
	}
	ctx := t.Context()
	if err := h.store.SaveLink(ctx, alert.IssueLink{ErrorID: "err-1", IssueID: "iss-7", Identifier: "ENG-7",
		URL: "https://linear.app/acme/issue/ENG-7", StateType: "started", CreatedBy: "U9", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.fs.ClickButton(ctx, "U1", "C100", h.ts, actionCreateRouted); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := h.fs.Wait(wctx, func() bool {
		for _, r := range h.fs.Responses() {
			if r.User == "U1" && strings.Contains(r.Text, "already tracked in") && strings.Contains(r.Text, "ENG-7") {
				return true
			}
		}
		return false
	}); err != nil {
		t.Fatalf("the clicker was not told the error is tracked: %+v", h.fs.Responses())
	}
	if subs := h.store.takeSubmissions(); len(subs) != 0 {
		t.Errorf("a click on a tracked alert stored %d submissions", len(subs))
	}
	if n := h.tracker.Calls("CreateIssue"); n != 0 {
		t.Errorf("Linear CreateIssue called %d times", n)
	}
}
