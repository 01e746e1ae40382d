package bot

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/bot/fakeslack"
)

// Issues already in the fake Linear, for linking.
const (
	eng7ID = "8f2b6a3c-1d4e-4f5a-9b6c-7d8e9f0a1b2c"
	eng8ID = "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
)

func seedIssues(h *harness) {
	h.tracker.addIssue(alert.Issue{
		ID: eng7ID, Identifier: "ENG-7", Title: "Checkout crash <on> submit", URL: "https://linear.app/acme/issue/ENG-7/checkout-crash",
		StateName: "Todo", StateType: "unstarted", TeamID: "team-eng", TeamKey: "ENG", AssigneeName: "Grace Hopper",
	})
	h.tracker.addIssue(alert.Issue{
		ID: eng8ID, Identifier: "ENG-8", Title: "Checkout is slow", URL: "https://linear.app/acme/issue/ENG-8/checkout-is-slow",
		StateName: "Backlog", StateType: "backlog", TeamID: "team-eng", TeamKey: "ENG",
	})
}

// openLinkModal clicks "Link existing" and waits for the modal.
func (h *harness) openLinkModal(t *testing.T) fakeslack.View {
	t.Helper()
	if _, err := h.fs.ClickButton(t.Context(), "U1", "C100", h.ts, actionLinkIssue); err != nil {
		t.Fatalf("click Link existing: %v", err)
	}
	return h.waitView(t, `"issue_ref"`, `"issue_search"`)
}

// deliver runs the service's queued Slack jobs (thread notes, message
// refreshes) through the real dispatcher into the fake Slack.
func (h *harness) deliver(t *testing.T) {
	t.Helper()
	d := alert.NewDispatcher(h.store, h.bot, nil)
	d.ChannelGap = 0
	for _, k := range alert.SubmissionKinds {
		d.Handle(k, h.svc.RunSubmission)
	}
	for {
		n, err := d.RunOnce(t.Context())
		if err != nil {
			t.Fatalf("dispatch: %v", err)
		}
		if n == 0 {
			return
		}
	}
}

func (h *harness) threadTexts(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, m := range h.fs.Thread("C100", h.ts) {
		if m.TS != h.ts {
			out = append(out, m.Text)
		}
	}
	return out
}

func responseAction(t *testing.T, ack fakeslack.Ack) string {
	t.Helper()
	var r struct {
		ResponseAction string `json:"response_action"`
	}
	if len(ack.Payload) > 0 {
		if err := json.Unmarshal(ack.Payload, &r); err != nil {
			t.Fatalf("ack payload: %v", err)
		}
	}
	return r.ResponseAction
}

func TestLinkExisting(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		enter func(t *testing.T, h *harness, viewID string)
	}{
		{"by url", func(t *testing.T, h *harness, viewID string) {
			setText(t, h, viewID, "https://linear.app/acme/issue/ENG-7/checkout-crash?foo=1#comment")
		}},
		{"by slack-wrapped url", func(t *testing.T, h *harness, viewID string) {
			setText(t, h, viewID, "<https://linear.app/acme/issue/ENG-7|ENG-7>")
		}},
		{"by identifier", func(t *testing.T, h *harness, viewID string) { setText(t, h, viewID, " eng-7 ") }},
		{"by uuid", func(t *testing.T, h *harness, viewID string) { setText(t, h, viewID, eng7ID) }},
		{"by search", func(t *testing.T, h *harness, viewID string) {
			ctx := t.Context()
			ack, err := h.fs.Suggest(ctx, "U1", viewID, actionIssueSearch, "checkout")
			if err != nil {
				t.Fatalf("suggest: %v", err)
			}
			var got suggestionResponse
			if err := json.Unmarshal(ack.Payload, &got); err != nil {
				t.Fatal(err)
			}
			var texts []string
			for _, o := range got.Options {
				texts = append(texts, o.Text.Text)
			}
			if len(texts) != 2 || texts[0] != "ENG-7 · Checkout crash <on> submit" || texts[1] != "ENG-8 · Checkout is slow" {
				t.Errorf("options = %q", texts)
			}
			if ack.Latency > defaultAckBudget {
				t.Errorf("suggestion acked after %v", ack.Latency)
			}
			t.Logf("block_suggestion acked after %v (debounce %v included)", ack.Latency, h.bot.debounce)
			if _, err := h.fs.SelectOption(ctx, "U1", viewID, actionIssueSearch, eng7ID); err != nil {
				t.Fatalf("pick: %v", err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := startHarness(t, "")
			seedIssues(h)
			v := h.openLinkModal(t)
			for _, m := range []string{"Teams", "Issue", "Workspace", "SearchIssues", "Attach"} {
				if n := h.tracker.Calls(m); n != 0 {
					t.Errorf("Linear %s called %d times before the modal opened", m, n)
				}
			}
			tt.enter(t, h, v.ID)
			ack, err := h.fs.SubmitView(t.Context(), "U1", v.ID)
			if err != nil {
				t.Fatalf("submit: %v", err)
			}
			if ra := responseAction(t, ack); ra != "update" {
				t.Fatalf("response_action = %q, want update; ack %s", ra, ack.Payload)
			}
			if ack.Latency > defaultAckBudget {
				t.Errorf("submission acked after %v; the budget is %v", ack.Latency, defaultAckBudget)
			}
			t.Logf("link submission acked after %v (Linear checked before the ack)", ack.Latency)
			// The fake's blocks are JSON, where & reads \u0026: the title
			// reached Slack escaped as "&lt;on&gt;".
			done := h.waitView(t, "Linked", "ENG-7", `Checkout crash \u0026lt;on\u0026gt; submit`, "Todo", "Grace Hopper", "Open in Linear")
			if len(done.Errors) != 0 {
				t.Errorf("errors on success: %v", done.Errors)
			}

			l, err := h.store.Link(t.Context(), "err-1")
			if err != nil || l.IssueID != eng7ID || l.Kind != alert.LinkLinked || l.CreatedBy != "U1" {
				t.Errorf("link = %+v, %v", l, err)
			}
			atts := h.tracker.Attachments(eng7ID)
			if len(atts) != 1 || atts[0].URL != sampleAlert().URL {
				t.Errorf("attachments on ENG-7 = %+v, want one to the error", atts)
			}
			if n := h.tracker.Calls("CreateIssue"); n != 0 {
				t.Errorf("CreateIssue called %d times while linking", n)
			}

			h.deliver(t)
			notes := h.threadTexts(t)
			if len(notes) != 1 || !strings.Contains(notes[0], "Linked Linear issue") || strings.Contains(strings.ToLower(notes[0]), "created") {
				t.Errorf("thread = %q, want one note that says linked, never created", notes)
			}
			msg, _ := h.fs.Message("C100", h.ts)
			if !strings.Contains(string(msg.Blocks), "Open ENG-7") || strings.Contains(string(msg.Blocks), `"create_issue"`) {
				t.Errorf("alert message not refreshed with the link: %s", msg.Blocks)
			}
		})
	}
}

func setText(t *testing.T, h *harness, viewID, text string) {
	t.Helper()
	if err := h.fs.SetInput(viewID, actionIssueRef, fakeslack.InputValue{Value: text}); err != nil {
		t.Fatalf("type %q: %v", text, err)
	}
}

// TestLinkExistingInlineErrors: every bad input comes back under the input
// it was typed in, the modal stays open, nothing is linked.
func TestLinkExistingInlineErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		text      string
		pick      bool             // pick the ENG-7 search result too.
		methodErr map[string]error // Linear failures.
		wantBlock string
		wantMsg   string
	}{
		{"malformed", "the checkout bug", false, nil, blockIssueRef, "That doesn't look like a Linear issue."},
		{"not linear", "https://github.com/acme/app/issues/7", false, nil, blockIssueRef, "That link isn't to Linear."},
		{"linear but not an issue", "https://linear.app/acme/project/checkout", false, nil, blockIssueRef, "That Linear link isn't to an issue."},
		{"nothing entered", "", false, nil, blockIssueRef, msgLinkNothing},
		{"both entered", "ENG-7", true, nil, blockIssueRef, msgLinkBoth},
		{"unknown issue", "ENG-999", false, nil, blockIssueRef, "No issue ENG-999 in your Linear workspace."},
		{"unknown issue by url", "https://linear.app/acme/issue/ENG-999/x", false, nil, blockIssueRef, "No issue ENG-999 in your Linear workspace."},
		{"another workspace", "https://linear.app/globex/issue/ENG-7/checkout-crash", false, nil, blockIssueRef,
			"That issue is in another Linear workspace (globex)."},
		{"token expired", "ENG-7", false, map[string]error{"Issue": alert.ErrUnauthorized}, blockIssueRef,
			alert.UserMessage(alert.ErrUnauthorized)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := startHarness(t, "")
			seedIssues(h)
			for m, err := range tt.methodErr {
				h.tracker.setMethodErr(m, err)
			}
			v := h.openLinkModal(t)
			ctx := t.Context()
			if tt.text != "" {
				setText(t, h, v.ID, tt.text)
			}
			if tt.pick {
				if _, err := h.fs.Suggest(ctx, "U1", v.ID, actionIssueSearch, "ENG-7"); err != nil {
					t.Fatal(err)
				}
				if _, err := h.fs.SelectOption(ctx, "U1", v.ID, actionIssueSearch, eng7ID); err != nil {
					t.Fatal(err)
				}
			}
			ack, err := h.fs.SubmitView(ctx, "U1", v.ID)
			if err != nil {
				t.Fatalf("submit: %v", err)
			}
			if ra := responseAction(t, ack); ra != "errors" {
				t.Fatalf("response_action = %q, want errors; ack %s", ra, ack.Payload)
			}
			got, _ := h.fs.View(v.ID)
			if !got.Open {
				t.Error("modal closed on an error")
			}
			if msg := got.Errors[tt.wantBlock]; !strings.Contains(msg, tt.wantMsg) {
				t.Errorf("error under %s = %q, want %q (all: %v)", tt.wantBlock, msg, tt.wantMsg, got.Errors)
			}
			if strings.Contains(got.Errors[tt.wantBlock], "globex.") || strings.Contains(got.Errors[tt.wantBlock], "pq:") {
				t.Errorf("error leaks detail: %q", got.Errors[tt.wantBlock])
			}
			if _, err := h.store.Link(ctx, "err-1"); err == nil {
				t.Error("a link was recorded for a refused input")
			}
		})
	}
}

// TestLinkAttachRefusedAfterTheAck: the issue exists (checked before the
// ack) but Linear refuses the attachment when the stored submission runs:
// the form comes back with the reason, and nothing is linked.
func TestLinkAttachRefusedAfterTheAck(t *testing.T) {
	t.Parallel()
	h := startHarness(t, "")
	seedIssues(h)
	h.tracker.setMethodErr("Attach", alert.ErrForbidden)
	v := h.openLinkModal(t)
	setText(t, h, v.ID, "ENG-7")
	ack, err := h.fs.SubmitView(t.Context(), "U1", v.ID)
	if err != nil {
		t.Fatal(err)
	}
	if ra := responseAction(t, ack); ra != "update" {
		t.Fatalf("ack = %s, want an update to Linking…", ack.Payload)
	}
	h.waitView(t, "missing a Linear permission", `"issue_ref"`, "ENG-7")
	if _, err := h.store.Link(t.Context(), "err-1"); err == nil {
		t.Error("linked although Linear refused the attachment")
	}
}

// TestLinkExistingSlowLinear: when Linear outlives the ack budget the
// modal says "Linking…" and the outcome follows with views.update.
func TestLinkExistingSlowLinear(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		text string
		want []string
	}{
		{"success follows", "ENG-7", []string{"Linked", "ENG-7"}},
		{"failure brings the form back", "ENG-999", []string{"No issue ENG-999 in your Linear workspace.", `"issue_ref"`, "ENG-999"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := startHarness(t, "")
			seedIssues(h)
			h.bot.linkBudget = 100 * time.Millisecond
			h.tracker.slow = make(chan struct{})
			v := h.openLinkModal(t)
			setText(t, h, v.ID, tt.text)
			ack, err := h.fs.SubmitView(t.Context(), "U1", v.ID)
			if err != nil {
				t.Fatalf("submit: %v", err)
			}
			if ra := responseAction(t, ack); ra != "update" || !strings.Contains(string(ack.Payload), "Linking") {
				t.Fatalf("ack = %s, want an update to Linking…", ack.Payload)
			}
			if ack.Latency > time.Second {
				t.Errorf("ack took %v with a 100 ms budget", ack.Latency)
			}
			close(h.tracker.slow)
			h.waitView(t, tt.want...)
		})
	}
}

// TestSearchSuggestions: the search box is answered within Slack's 3 s
// whatever Linear does, and repeats come from the cache.
func TestSearchSuggestions(t *testing.T) {
	t.Parallel()
	t.Run("cached", func(t *testing.T) {
		t.Parallel()
		h := startHarness(t, "")
		seedIssues(h)
		v := h.openLinkModal(t)
		for range 3 {
			if _, err := h.fs.Suggest(t.Context(), "U1", v.ID, actionIssueSearch, "Checkout "); err != nil {
				t.Fatal(err)
			}
		}
		if n := h.tracker.Calls("SearchIssues"); n != 1 {
			t.Errorf("Linear searched %d times for one query, want 1", n)
		}
	})
	t.Run("slow linear gets a notice in time", func(t *testing.T) {
		t.Parallel()
		h := startHarness(t, "")
		seedIssues(h)
		h.bot.searchBudget = 100 * time.Millisecond
		h.tracker.slow = make(chan struct{})
		defer close(h.tracker.slow)
		v := h.openLinkModal(t)
		ack, err := h.fs.Suggest(t.Context(), "U1", v.ID, actionIssueSearch, "checkout")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(ack.Payload), noticeSlow) || ack.Latency > time.Second {
			t.Errorf("ack after %v: %s, want the slow notice", ack.Latency, ack.Payload)
		}
		// Picking the notice and submitting is an inline error, not a link.
		if _, err := h.fs.SelectOption(t.Context(), "U1", v.ID, actionIssueSearch, noticeSlow); err != nil {
			t.Fatal(err)
		}
		if _, err := h.fs.SubmitView(t.Context(), "U1", v.ID); err != nil {
			t.Fatal(err)
		}
		if got, _ := h.fs.View(v.ID); got.Errors[blockIssueSearch] != msgLinkPick {
			t.Errorf("errors = %v, want %q under the search", got.Errors, msgLinkPick)
		}
	})
	t.Run("rate limited", func(t *testing.T) {
		t.Parallel()
		h := startHarness(t, "")
		h.tracker.setMethodErr("SearchIssues", alert.ErrRateLimited)
		v := h.openLinkModal(t)
		for i, q := range []string{"first", "second"} {
			ack, err := h.fs.Suggest(t.Context(), "U1", v.ID, actionIssueSearch, q)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(ack.Payload), noticeBusy) {
				t.Errorf("query %d: ack %s, want the busy notice", i+1, ack.Payload)
			}
		}
		if n := h.tracker.Calls("SearchIssues"); n != 1 {
			t.Errorf("Linear searched %d times after RATELIMITED, want 1", n)
		}
	})
	t.Run("no results is an empty list", func(t *testing.T) {
		t.Parallel()
		h := startHarness(t, "")
		v := h.openLinkModal(t)
		ack, err := h.fs.Suggest(t.Context(), "U1", v.ID, actionIssueSearch, "zz")
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.TrimSpace(string(ack.Payload)); got != `{"options":[]}` {
			t.Errorf("ack = %s, want {\"options\":[]}", got)
		}
	})
}

// TestSearchDebounce: a query overtaken by a newer one from the same modal
// within the debounce is answered with no options and never reaches
// Linear; the newer one is searched.
func TestSearchDebounce(t *testing.T) {
	t.Parallel()
	h := startHarness(t, "")
	seedIssues(h)
	// Long enough that the second query always arrives within it.
	h.bot.debounce = time.Second
	v := h.openLinkModal(t)
	first := make(chan fakeslack.Ack, 1)
	go func() {
		ack, err := h.fs.Suggest(t.Context(), "U1", v.ID, actionIssueSearch, "checko")
		if err != nil {
			t.Errorf("first suggest: %v", err)
		}
		first <- ack
	}()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := h.fs.Wait(ctx, func() bool {
		h.bot.search.mu.Lock()
		defer h.bot.search.mu.Unlock()
		return len(h.bot.search.latest) > 0
	}); err != nil {
		t.Fatal("the first query never reached its debounce")
	}
	second, err := h.fs.Suggest(t.Context(), "U1", v.ID, actionIssueSearch, "checkout")
	if err != nil {
		t.Fatalf("second suggest: %v", err)
	}
	if got := strings.TrimSpace(string((<-first).Payload)); got != `{"options":[]}` {
		t.Errorf("overtaken query answered %s, want no options", got)
	}
	if !strings.Contains(string(second.Payload), "ENG-7") {
		t.Errorf("newest query answered %s, want ENG-7 among the options", second.Payload)
	}
	if n := h.tracker.Calls("SearchIssues"); n != 1 {
		t.Errorf("Linear searched %d times, want once, for the newest query", n)
	}
}
