package bot

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/slack-go/slack"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/alert/issueref"
)

var testLinkMeta = linkMeta{AlertID: 42, Channel: "C100", TS: "1700000000.000100"}

func TestLinkModalGolden(t *testing.T) {
	t.Parallel()
	closed := sampleLink()
	closed.StateName, closed.StateType, closed.ClosedAt = "Done", "completed", t0
	tests := []struct {
		name string
		view slack.ModalViewRequest
	}{
		{"modal_link", linkModal(linkForm{Alert: sampleAlert()}, testLinkMeta)},
		{"modal_link_replaces", linkModal(linkForm{Alert: sampleAlert(), Link: &closed}, testLinkMeta)},
		{"modal_link_retry", linkModal(linkForm{
			Alert: sampleAlert(), Error: "No issue ENG-9 in your Linear workspace.", Text: "ENG-9",
		}, testLinkMeta)},
		{"modal_linking", linkingModal(testLinkMeta)},
		{"modal_link_done", linkDoneModal(sampleLink(), testLinkMeta)},
		{"modal_link_error", linkErrorModal(fmt.Errorf("alert 42: %w", alert.ErrNotFound), testLinkMeta)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			golden(t, tt.name, tt.view)
		})
	}
}

func TestLinkModalShape(t *testing.T) {
	t.Parallel()
	v := linkModal(linkForm{Alert: sampleAlert()}, testLinkMeta)
	if v.CallbackID != "link_issue" || v.Title.Text != "Link Linear issue" || v.Submit.Text != "Link" {
		t.Errorf("callback %q, title %q, submit %q", v.CallbackID, v.Title.Text, v.Submit.Text)
	}
	var inputs []string
	for _, blk := range v.Blocks.BlockSet {
		in, ok := blk.(*slack.InputBlock)
		if !ok {
			continue
		}
		if !in.Optional {
			t.Errorf("input %q is required; exactly one of the two is, which the handler checks", in.BlockID)
		}
		switch el := in.Element.(type) {
		case *slack.PlainTextInputBlockElement:
			inputs = append(inputs, fmt.Sprintf("%s/%s/%s/%s", in.BlockID, el.ActionID, el.Type, in.Label.Text))
		case *slack.SelectBlockElement:
			if el.MinQueryLength == nil || *el.MinQueryLength != 2 {
				t.Errorf("search min_query_length = %v, want 2", el.MinQueryLength)
			}
			inputs = append(inputs, fmt.Sprintf("%s/%s/%s", in.BlockID, el.ActionID, el.Type))
		}
	}
	want := []string{"issue_ref/issue_ref/plain_text_input/Linear issue", "issue_search/issue_search/external_select"}
	if d := cmp.Diff(want, inputs); d != "" {
		t.Errorf("inputs (-want +got):\n%s", d)
	}
	m, err := decodeLinkMeta(v.PrivateMetadata)
	if err != nil || m != testLinkMeta {
		t.Errorf("private_metadata = %+v, %v; want %+v", m, err, testLinkMeta)
	}
}

func TestLinkInputRef(t *testing.T) {
	t.Parallel()
	const uuid = "8f2b6a3c-1d4e-4f5a-9b6c-7d8e9f0a1b2c"
	tests := []struct {
		name      string
		in        linkInput
		wantRef   issueref.Ref
		wantBlock string
		wantMsg   string // a substring; "" for success.
	}{
		{"url", linkInput{Text: "https://linear.app/acme/issue/ENG-7/checkout-crash"}, issueref.Ref{Identifier: "ENG-7", WorkspaceURLKey: "acme"}, blockIssueRef, ""},
		{"slack-wrapped url", linkInput{Text: "<https://linear.app/acme/issue/ENG-7|ENG-7>"}, issueref.Ref{Identifier: "ENG-7", WorkspaceURLKey: "acme"}, blockIssueRef, ""},
		{"lower-case identifier", linkInput{Text: "eng-7"}, issueref.Ref{Identifier: "ENG-7"}, blockIssueRef, ""},
		{"search pick", linkInput{Picked: uuid}, issueref.Ref{UUID: uuid}, blockIssueSearch, ""},
		{"nothing", linkInput{}, issueref.Ref{}, blockIssueRef, "or search for it below"},
		{"both", linkInput{Text: "ENG-7", Picked: uuid}, issueref.Ref{}, blockIssueRef, "only one"},
		{"malformed", linkInput{Text: "the checkout bug"}, issueref.Ref{}, blockIssueRef, "doesn't look like a Linear issue"},
		{"not linear", linkInput{Text: "https://github.com/acme/app/issues/7"}, issueref.Ref{}, blockIssueRef, "isn't to Linear"},
		{"notice picked", linkInput{Picked: noticeBusy}, issueref.Ref{}, blockIssueSearch, "Pick an issue"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ref, block, msg := tt.in.ref()
			if block != tt.wantBlock {
				t.Errorf("block = %q, want %q", block, tt.wantBlock)
			}
			if (msg == "") != (tt.wantMsg == "") || !strings.Contains(msg, tt.wantMsg) {
				t.Errorf("msg = %q, want it to contain %q", msg, tt.wantMsg)
			}
			if d := cmp.Diff(tt.wantRef, ref); d != "" {
				t.Errorf("ref (-want +got):\n%s", d)
			}
		})
	}
}

func TestLinkErrorText(t *testing.T) {
	t.Parallel()
	ident := issueref.Ref{Identifier: "ENG-123"}
	other := issueref.Ref{Identifier: "ENG-123", WorkspaceURLKey: "globex"}
	tests := []struct {
		name string
		err  error
		ref  issueref.Ref
		want string
	}{
		{"unknown identifier", fmt.Errorf("read issue: %w", alert.ErrNotFound), ident, "No issue ENG-123 in your Linear workspace."},
		{"unknown uuid", fmt.Errorf("read issue: %w", alert.ErrNotFound), issueref.Ref{UUID: "x"}, "No such issue in your Linear workspace."},
		{"other workspace", fmt.Errorf("x: %w", alert.ErrOtherWorkspace), other,
			"That issue is in another Linear workspace (globex). Link an issue from the workspace this app is connected to."},
		{"forbidden in words", fmt.Errorf("attach: %w", alert.ErrForbidden), ident, alert.UserMessage(alert.ErrForbidden)},
		{"unknown error hides detail", errors.New("pq: relation does not exist"), ident, alert.UserMessage(errors.New("x"))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := linkErrorText(tt.err, tt.ref); got != tt.want {
				t.Errorf("linkErrorText = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestLinkViewsEscapeLinearText: issue titles, states and assignees are
// typed by people in Linear; in mrkdwn they must not ping or link.
func TestLinkViewsEscapeLinearText(t *testing.T) {
	t.Parallel()
	evil := "<!channel> <https://evil|click> & <@U123>"
	l := sampleLink()
	l.Title, l.StateName, l.AssigneeName, l.Identifier = evil, evil, evil, evil
	l.StateType, l.ClosedAt = "completed", t0
	views := map[string]slack.ModalViewRequest{
		"done":     linkDoneModal(l, testLinkMeta),
		"replaces": linkModal(linkForm{Alert: sampleAlert(), Link: &l, Error: evil, Text: evil}, testLinkMeta),
		"anyway":   createModal(createForm{Alert: sampleAlert(), Link: &l, Force: true, Teams: sampleTeams()}, forceMeta),
	}
	for name, v := range views {
		t.Run(name, func(t *testing.T) {
			for _, obj := range textObjects(asJSON(t, v.Blocks)) {
				s, _ := obj["text"].(string)
				if obj["type"] != "mrkdwn" {
					continue
				}
				for _, bad := range []string{"<!channel>", "<https://evil", "<@U123>"} {
					if strings.Contains(s, bad) {
						t.Errorf("mrkdwn text contains %q: %q", bad, s)
					}
				}
			}
		})
	}
}

func TestIssueOptions(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("ü", 200)
	var many []alert.Issue
	for i := range 30 {
		many = append(many, alert.Issue{ID: fmt.Sprintf("id-%d", i), Identifier: fmt.Sprintf("ENG-%d", i), Title: "t"})
	}
	tests := []struct {
		name     string
		issues   []alert.Issue
		wantN    int
		wantText string
		wantDesc string
	}{
		{"text and description", []alert.Issue{{ID: "a", Identifier: "ENG-1", Title: "Checkout <b>crash</b>", StateName: "Todo", AssigneeName: "Ada"}},
			1, "ENG-1 · Checkout <b>crash</b>", "Todo · Ada"},
		{"long title cut to 75", []alert.Issue{{ID: "a", Identifier: "ENG-1", Title: long}}, 1, "ENG-1 · " + strings.Repeat("ü", 66) + "…", ""},
		{"newlines folded", []alert.Issue{{ID: "a", Identifier: "ENG-1", Title: "a\nb"}}, 1, "ENG-1 · a b", ""},
		{"no id is skipped", []alert.Issue{{Identifier: "ENG-1"}}, 0, "", ""},
		{"at most 20", many, 20, "ENG-0 · t", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := issueOptions(tt.issues)
			if len(opts) != tt.wantN {
				t.Fatalf("%d options, want %d", len(opts), tt.wantN)
			}
			if tt.wantN == 0 {
				return
			}
			if got := opts[0].Text.Text; got != tt.wantText {
				t.Errorf("text = %q, want %q", got, tt.wantText)
			}
			if opts[0].Text.Type != slack.PlainTextType {
				t.Errorf("option text is %s; plain_text shows a title as typed", opts[0].Text.Type)
			}
			desc := ""
			if opts[0].Description != nil {
				desc = opts[0].Description.Text
			}
			if desc != tt.wantDesc {
				t.Errorf("description = %q, want %q", desc, tt.wantDesc)
			}
		})
	}
}

func TestSearcherBudget(t *testing.T) {
	t.Parallel()
	now := t0
	s := newSearcher()
	s.now = func() time.Time { return now }
	allowed := 0
	for range 10 {
		if s.allow() {
			allowed++
		}
	}
	if allowed != searchBurst {
		t.Errorf("burst allowed %d searches, want %d", allowed, searchBurst)
	}
	now = now.Add(time.Minute)
	allowed = 0
	for range 100 {
		if s.allow() {
			allowed++
		}
	}
	if allowed != searchBurst {
		t.Errorf("after a minute %d searches, want the bucket refilled to %d", allowed, searchBurst)
	}
	now = now.Add(time.Minute)
	s.backOff(searchBackoff)
	if s.allow() {
		t.Error("search allowed right after RATELIMITED")
	}
	now = now.Add(searchBackoff + 3*time.Second)
	if !s.allow() {
		t.Error("search still refused after the backoff")
	}
}

func TestSearcherDebounceMarks(t *testing.T) {
	t.Parallel()
	s := newSearcher()
	first := s.mark("V1")
	second := s.mark("V1")
	other := s.mark("V2")
	if !s.superseded("V1", first) {
		t.Error("an overtaken query was not superseded")
	}
	if s.superseded("V1", second) || s.superseded("V2", other) {
		t.Error("the newest query of a view was superseded")
	}
	if n := len(s.latest); n != 0 {
		t.Errorf("%d debounce marks left behind", n)
	}
}

func TestCacheLimit(t *testing.T) {
	t.Parallel()
	c := newCache[string, int](time.Minute)
	c.limit = 3
	for i := range 10 {
		c.put(fmt.Sprint(i), i)
	}
	if n := len(c.m); n != 3 {
		t.Errorf("cache holds %d entries, limit 3", n)
	}
	if v, ok := c.get("9"); !ok || v != 9 {
		t.Errorf("newest entry lost: %v, %v", v, ok)
	}
}
