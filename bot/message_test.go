package bot

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/slack-go/slack"

	"github.com/proliferate/proliferate-linear/alert"
)

func TestAlertMessageGolden(t *testing.T) {
	t.Parallel()
	link := sampleLink()
	closed := sampleLink()
	closed.StateName, closed.StateType = "Done", "completed"
	closed.ClosedAt = time.Date(2026, 11, 12, 16, 0, 0, 0, time.UTC) // before the alert's last event: a regression.
	closed.UpdatedAt = closed.ClosedAt
	closedQuiet := closed
	closedQuiet.ClosedAt = t1.Add(time.Hour) // closed after: nothing new yet.
	canceled := closed
	canceled.StateName, canceled.StateType = "Won't fix", "canceled"
	canceled.ClosedAt, canceled.RegressedAt = t1.Add(time.Hour), t1.Add(2*time.Hour) // the core saw the error come back.
	folded := sampleAlert()
	folded.Trigger, folded.Occurrences = alert.TriggerSpike, 3
	bare := alert.Alert{ID: 7, ErrorID: "err-7", Channel: "C1", Occurrences: 1}

	tests := []struct {
		name string
		a    alert.Alert
		link *alert.IssueLink
	}{
		{"message_new", sampleAlert(), nil},
		{"message_linked", sampleAlert(), &link},
		{"message_regressed", sampleAlert(), &closed},
		{"message_closed", sampleAlert(), &closedQuiet},
		{"message_regressed_canceled", sampleAlert(), &canceled},
		{"message_folded_spike", folded, nil},
		{"message_bare", bare, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text, blocks := alertMessage(tt.a, tt.link)
			golden(t, tt.name, map[string]any{"text": text, "blocks": blocks})
		})
	}
}

func TestAlertMessageButtons(t *testing.T) {
	t.Parallel()
	link := sampleLink()
	closed := sampleLink()
	closed.StateType, closed.ClosedAt = "canceled", time.Date(2026, 11, 12, 8, 0, 0, 0, time.UTC)
	noDate := closed
	noDate.ClosedAt, noDate.UpdatedAt = time.Time{}, t0
	quiet := closed
	quiet.ClosedAt = t1.Add(time.Minute)
	tests := []struct {
		name     string
		link     *alert.IssueLink
		wantIDs  []string // action_ids of the Linear buttons, in order.
		wantText string
	}{
		{"no link offers create and link", nil, []string{"create_issue", "link_issue"}, ""},
		{"open link hides create behind a confirmation", &link, []string{"open_issue", "create_issue_anyway"},
			"This error is already tracked in ENG-42. Create another issue anyway?"},
		{"canceled link and the error is back", &closed, []string{"reopen_issue", "create_issue", "link_issue"},
			"ENG-42 was canceled on 12 Nov; the error is back."},
		{"closed without a date falls back to updated_at", &noDate, []string{"reopen_issue", "create_issue", "link_issue"},
			"ENG-42 was canceled; the error is back."},
		{"closed after the last event is not a regression", &quiet, []string{"open_issue"}, "ENG-42"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, blocks := alertMessage(sampleAlert(), tt.link)
			js := mustJSON(t, blocks)
			var ids []string
			for _, b := range blocks {
				if ab, ok := b.(*slack.ActionBlock); ok {
					for _, e := range ab.Elements.ElementSet {
						if btn, ok := e.(*slack.ButtonBlockElement); ok && btn.ActionID != actionViewError {
							ids = append(ids, btn.ActionID)
							if btn.URL == "" && btn.Value != "42" {
								t.Errorf("%s button value = %q, want the alert ID", btn.ActionID, btn.Value)
							}
						}
					}
				}
			}
			if d := cmp.Diff(tt.wantIDs, ids); d != "" {
				t.Errorf("buttons (-want +got):\n%s", d)
			}
			if !strings.Contains(js, tt.wantText) {
				t.Errorf("blocks lack %q: %s", tt.wantText, js)
			}
		})
	}
}

// TestAlertMessageEscapes proves alert text cannot ping a channel or make
// a link: every <...> in it reaches Slack escaped, in blocks and fallback.
func TestAlertMessageEscapes(t *testing.T) {
	t.Parallel()
	evil := "<!channel> pay now <https://evil|click> & <@U123> <#C1>"
	a := sampleAlert()
	a.ErrorType, a.ErrorMessage, a.Project, a.Environment, a.Release = evil, evil, evil, evil, evil
	link := sampleLink()
	link.Title, link.AssigneeName, link.StateName, link.Identifier = evil, evil, evil, evil
	regressed := link
	regressed.StateType, regressed.RegressedAt = "completed", t1

	for _, l := range []*alert.IssueLink{nil, &link, &regressed} {
		text, blocks := alertMessage(a, l)
		// mrkdwn is where Slack parses <...>; plain_text (the header) is
		// shown as typed, so only mrkdwn objects and the fallback count.
		texts := []string{text}
		for _, obj := range textObjects(asJSON(t, blocks)) {
			if obj["type"] != "mrkdwn" {
				continue
			}
			if obj["verbatim"] != true {
				t.Errorf("mrkdwn text is not verbatim, Slack would auto-link in it: %v", obj["text"])
			}
			texts = append(texts, obj["text"].(string))
		}
		for _, s := range texts {
			for _, bad := range []string{"<!channel>", "<https://evil", "<@U123>", "<#C1>"} {
				if strings.Contains(s, bad) {
					t.Errorf("mrkdwn text contains %q: %q", bad, s)
				}
			}
		}
		if !strings.Contains(text, "&lt;!channel&gt;") || !strings.Contains(text, "&lt;https://evil|click&gt;") {
			t.Errorf("fallback text not escaped: %q", text)
		}
	}
}

func TestAlertMessageLimits(t *testing.T) {
	t.Parallel()
	a := sampleAlert()
	a.ErrorType = strings.Repeat("E", 400)
	a.ErrorMessage = strings.Repeat("<&>", 5000) // escaping triples its length.
	a.Project = strings.Repeat("p", 5000)
	a.URL = "javascript:alert(1)"
	text, blocks := alertMessage(a, nil)
	if len(blocks) > maxMessageBlocks {
		t.Errorf("%d blocks, Slack allows %d", len(blocks), maxMessageBlocks)
	}
	if n := utf8.RuneCountInString(text); n > maxFallbackText {
		t.Errorf("fallback text has %d runes", n)
	}
	h := blocks[0].(*slack.HeaderBlock)
	if n := utf8.RuneCountInString(h.Text.Text); n != maxHeaderText {
		t.Errorf("header has %d runes, want cut to %d", n, maxHeaderText)
	}
	msg := blocks[1].(*slack.SectionBlock).Text.Text
	if n := utf8.RuneCountInString(msg); n > maxText {
		t.Errorf("message section has %d runes, want ≤ %d", n, maxText)
	}
	if cut := strings.TrimSuffix(msg, "…"); cut == msg || !strings.HasSuffix(cut, ";") {
		t.Errorf("message not cut, or cut inside an entity: ...%q", msg[len(msg)-20:])
	}
	for _, f := range blocks[2].(*slack.SectionBlock).Fields {
		if n := utf8.RuneCountInString(f.Text); n > maxFieldText {
			t.Errorf("field has %d runes, want ≤ %d", n, maxFieldText)
		}
	}
	if js := mustJSON(t, blocks); strings.Contains(js, "javascript:") {
		t.Errorf("unsafe URL became a button: %s", js)
	}
}

func TestMrkdwnWithin(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		n    int
		want string
	}{
		{"short", "a<b", 10, "a&lt;b"},
		{"exact", "a<b", 6, "a&lt;b"},
		{"cut before entity", "ab<c", 6, "ab…"},
		{"cut runes", "héllo wörld", 5, "héll…"},
		{"empty", "", 3, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mrkdwnWithin(tt.in, tt.n); got != tt.want {
				t.Errorf("mrkdwnWithin(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
			}
		})
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// textObjects finds every composition text object ({"type": "mrkdwn"|"plain_text", "text": ...}).
func textObjects(v any) []map[string]any {
	var out []map[string]any
	switch x := v.(type) {
	case map[string]any:
		if typ, _ := x["type"].(string); typ == "mrkdwn" || typ == "plain_text" {
			if _, ok := x["text"].(string); ok {
				out = append(out, x)
			}
		}
		for _, c := range x {
			out = append(out, textObjects(c)...)
		}
	case []any:
		for _, c := range x {
			out = append(out, textObjects(c)...)
		}
	}
	return out
}
