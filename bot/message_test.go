package bot

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"github.com/proliferate/proliferate-linear/alert"
)

func TestAlertMessageGolden(t *testing.T) {
	link := sampleLink()
	closed := sampleLink()
	closed.StateName, closed.StateType = "Done", "completed"
	closed.UpdatedAt = t1.Add(-time.Hour) // closed before the alert's last event: a regression.
	closedQuiet := closed
	closedQuiet.UpdatedAt = t1.Add(time.Hour) // closed after: nothing new yet.
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
	link := sampleLink()
	closed := sampleLink()
	closed.StateType, closed.UpdatedAt = "canceled", t0
	tests := []struct {
		name       string
		link       *alert.IssueLink
		wantCreate bool
		wantText   string
	}{
		{"no link offers create", nil, true, ""},
		{"open link replaces create", &link, false, "ENG-42"},
		{"canceled link and the error is back", &closed, true, "ENG-42 was canceled; the error is back"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, blocks := alertMessage(sampleAlert(), tt.link)
			js := mustJSON(t, blocks)
			if got := strings.Contains(js, `"action_id":"create_issue"`); got != tt.wantCreate {
				t.Errorf("create button present = %v, want %v", got, tt.wantCreate)
			}
			if tt.wantCreate && !strings.Contains(js, `"value":"42"`) {
				t.Errorf("create button value is not the alert ID: %s", js)
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
	evil := "<!channel> pay now <https://evil|click> & <@U123> <#C1>"
	a := sampleAlert()
	a.ErrorType, a.ErrorMessage, a.Project, a.Environment, a.Release = evil, evil, evil, evil, evil
	link := sampleLink()
	link.Title, link.AssigneeName, link.StateName = evil, evil, evil

	for _, l := range []*alert.IssueLink{nil, &link} {
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
