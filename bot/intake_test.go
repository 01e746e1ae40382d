package bot

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/proliferate/proliferate-linear/alert"
)

// realEvent reads an event_callback from testdata/events (copied from
// /work/shared/real-payloads, see its SOURCES.md) and applies edit to its
// inner event, so the tests start from a shape Slack really sends.
func realEvent(t *testing.T, file string, edit func(ev map[string]any)) eventCallback {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "events", file))
	if err != nil {
		t.Fatal(err)
	}
	var outer map[string]any
	if err := json.Unmarshal(raw, &outer); err != nil {
		t.Fatal(err)
	}
	if p, ok := outer["payload"].(map[string]any); ok { // a whole Socket Mode envelope
		outer = p
	}
	ev := outer["event"].(map[string]any)
	if edit != nil {
		edit(ev)
	}
	raw, _ = json.Marshal(outer)
	var cb eventCallback
	if err := json.Unmarshal(raw, &cb); err != nil {
		t.Fatal(err)
	}
	return cb
}

func testBot(t *testing.T, bots ...string) *Bot {
	t.Helper()
	b, err := New(Config{BotToken: "xoxb-test", ProliferateBotIDs: bots, SelfBotID: "B0SELF"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const prlURL = "https://app.proliferate.com/projects/web/issues/prl_9f2c1a"

// TestRecognise runs real message payloads, edited to carry or lack a
// Proliferate link, through the recognition rules.
func TestRecognise(t *testing.T) {
	t.Parallel()
	withLink := func(text string) func(map[string]any) {
		return func(ev map[string]any) { ev["text"] = text }
	}
	tests := []struct {
		name string
		file string
		bots []string
		edit func(map[string]any)
		skip string // "" = recognised
	}{
		{"app with bot_profile, link in text", "slack_events_api_message_bot_profile_boltpy.json", nil,
			withLink("New issue: TypeError: boom <" + prlURL + "|View>"), ""},
		{"listed by bot id", "slack_events_api_message_bot_profile_boltpy.json", []string{"B999"}, withLink(prlURL), ""},
		{"listed by app id", "slack_events_api_message_bot_profile_boltpy.json", []string{"A222"}, withLink(prlURL), ""},
		{"unlisted bot", "slack_events_api_message_bot_profile_boltpy.json", []string{"B0PROLIF"}, withLink(prlURL), skipUnlisted},
		{"classic bot_message", "slack_events_api_message_subtype_bot_message_boltpy.json", nil, withLink(prlURL), ""},
		{"classic bot unlisted", "slack_events_api_message_subtype_bot_message_boltpy.json", []string{"A222"}, withLink(prlURL), skipUnlisted},
		{"no link", "slack_events_api_message_bot_profile_boltpy.json", nil, nil, skipNoLink},
		{"link to another host", "slack_events_api_message_bot_profile_boltpy.json", nil,
			withLink("https://evil.example/projects/web/issues/prl_1"), skipNoLink},
		{"a person", "slack_socket_events_api_message_envelope_pysdk.json", nil, withLink(prlURL), skipPerson},
		{"thread reply", "slack_events_api_message_bot_profile_boltpy.json", nil, func(ev map[string]any) {
			ev["text"], ev["thread_ts"] = prlURL, "1610261000.000100"
		}, skipReply},
		{"thread parent (thread_ts = ts)", "slack_events_api_message_bot_profile_boltpy.json", nil, func(ev map[string]any) {
			ev["text"], ev["thread_ts"] = prlURL, ev["ts"]
		}, ""},
		{"message_changed", "slack_events_api_message_bot_profile_boltpy.json", nil, func(ev map[string]any) {
			ev["subtype"], ev["message"] = "message_changed", map[string]any{"text": prlURL, "bot_id": "B999"}
		}, skipSubtype},
		{"message_deleted", "slack_events_api_message_bot_profile_boltpy.json", nil, func(ev map[string]any) {
			ev["subtype"], ev["text"] = "message_deleted", prlURL
		}, skipSubtype},
		{"channel_join", "slack_socket_events_api_message_envelope_pysdk.json", nil, func(ev map[string]any) {
			ev["subtype"], ev["text"] = "channel_join", "<@U222> has joined the channel"
		}, skipSubtype},
		{"own message by bot id", "slack_events_api_message_bot_profile_boltpy.json", nil, func(ev map[string]any) {
			ev["text"], ev["bot_id"] = prlURL, "B0SELF"
		}, skipSelf},
		{"own message by app id", "slack_events_api_message_bot_profile_boltpy.json", nil, func(ev map[string]any) {
			ev["text"] = prlURL
			ev["bot_profile"].(map[string]any)["app_id"] = "A111" // the envelope's api_app_id
		}, skipSelf},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := testBot(t, tt.bots...)
			cb := realEvent(t, tt.file, tt.edit)
			var m messageEvent
			if err := json.Unmarshal(cb.Event, &m); err != nil {
				t.Fatal(err)
			}
			a, skip := b.recognise(m, cb.APIAppID)
			if skip != tt.skip {
				t.Fatalf("skip = %q, want %q", skip, tt.skip)
			}
			if skip == "" && (a.ErrorID != "prl_9f2c1a" || a.Channel != "C111" || a.ThreadTS != m.TS || a.URL != prlURL) {
				t.Errorf("alert = %+v", a)
			}
		})
	}
}

// TestReadAlert reads the facts from the shapes a Proliferate message may
// take; whatever the shape, the link keys the alert.
func TestReadAlert(t *testing.T) {
	t.Parallel()
	ts := "1700000000.000100"
	base := alert.Alert{ErrorID: "prl_9f2c1a", Channel: "C1", ThreadTS: ts, URL: prlURL, Project: "web",
		LastSeen: time.Unix(1700000000, 100000).UTC()}
	with := func(edit func(*alert.Alert)) alert.Alert { a := base; edit(&a); return a }
	tests := []struct {
		name         string
		text         string
		blocks, atts string
		want         alert.Alert
	}{
		{
			name: "text with key lines",
			text: ":rotating_light: *New issue in web*: TypeError: Cannot read properties of undefined (reading 'id')\n" +
				"*Users affected:* 37 · *Environment:* production\nRelease: web@2.14.0\nEvents: 1,204\n<" + prlURL + "|View in Proliferate>",
			want: with(func(a *alert.Alert) {
				a.ErrorType, a.ErrorMessage = "TypeError", "Cannot read properties of undefined (reading 'id')"
				a.UsersAffected, a.Environment, a.Release, a.EventCount = 37, "production", "web@2.14.0", 1204
				a.Trigger = alert.TriggerNewIssue
			}),
		},
		{
			name: "blocks: header, fields, button url",
			text: "TypeError in web",
			blocks: `[{"type":"header","text":{"type":"plain_text","text":"Regression: RangeError: Invalid array length"}},
				{"type":"section","fields":[{"type":"mrkdwn","text":"*Users*\n12"},{"type":"mrkdwn","text":"*Env*\nstaging"},
				{"type":"mrkdwn","text":"*Release*\n1.4.0"},{"type":"mrkdwn","text":"*Events*\n99"}]},
				{"type":"actions","elements":[{"type":"button","text":{"type":"plain_text","text":"Open"},"url":"` + prlURL + `?ref=slack"}]}]`,
			want: with(func(a *alert.Alert) {
				a.ErrorType, a.ErrorMessage = "RangeError", "Invalid array length"
				a.UsersAffected, a.Environment, a.Release, a.EventCount = 12, "staging", "1.4.0", 99
				a.Trigger = alert.TriggerRegression
			}),
		},
		{
			name: "legacy attachment with fields",
			atts: `[{"fallback":"ZeroDivisionError","color":"danger","title":"ZeroDivisionError: division by zero","title_link":"` + prlURL + `",
				"fields":[{"title":"Users affected","value":"5","short":true},{"title":"Environment","value":"prod","short":true}]}]`,
			want: with(func(a *alert.Alert) {
				a.ErrorType, a.ErrorMessage = "ZeroDivisionError", "division by zero"
				a.UsersAffected, a.Environment = 5, "prod"
			}),
		},
		{
			name: "nothing but the link",
			text: "<" + prlURL + ">",
			want: base,
		},
		{
			name: "unknown block type still gives its text",
			blocks: `[{"type":"future_block","payload":{"text":"Spike: Error: upstream timed out"}},
				{"type":"rich_text","elements":[{"type":"rich_text_section","elements":[{"type":"link","url":"` + prlURL + `"}]}]}]`,
			want: with(func(a *alert.Alert) {
				a.ErrorType, a.ErrorMessage = "Error", "upstream timed out"
				a.Trigger = alert.TriggerSpike
			}),
		},
		{
			name: "mrkdwn and entities in the message are plain text",
			text: "*ValueError*: `x &lt; 0` &amp; <@U123>\n" + prlURL,
			want: with(func(a *alert.Alert) { a.ErrorType, a.ErrorMessage = "ValueError", "x < 0 & @U123" }),
		},
	}
	linker := newIssueLinker(DefaultProliferateURL)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			texts := messageTexts(tt.text, json.RawMessage(tt.blocks), json.RawMessage(tt.atts))
			link, ok := linker.find(texts)
			if !ok {
				t.Fatalf("no link in %q", texts)
			}
			got := linker.readAlert(link, "C1", ts, texts)
			if d := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); d != "" {
				t.Errorf("alert (-want +got):\n%s", d)
			}
		})
	}
}

// TestIssueLinker: the link is found bare, in <url|label>, under a base
// with another case or a path, and not under another base.
func TestIssueLinker(t *testing.T) {
	t.Parallel()
	tests := []struct {
		base, text, want string
	}{
		{"https://app.proliferate.com", "see " + prlURL + ".", "prl_9f2c1a."},
		{"https://app.proliferate.com", "<" + prlURL + "|TypeError>", "prl_9f2c1a"},
		{"https://app.proliferate.com", "<https://APP.Proliferate.com/projects/web/issues/abc-123?tab=events|x>", "abc-123"},
		{"https://errors.example.com/prl", "https://errors.example.com/prl/projects/p1/issues/42#top", "42"},
		{"https://errors.example.com/prl", "https://errors.example.com/projects/p1/issues/42", ""},
		{"https://app.proliferate.com", "https://app.proliferate.com.evil.example/projects/p/issues/1", ""},
		{"https://app.proliferate.com", "https://app.proliferate.com/projects//issues/1", ""},
	}
	for _, tt := range tests {
		l := newIssueLinker(tt.base)
		got, ok := l.find([]string{tt.text})
		if tt.want == "" {
			if ok {
				t.Errorf("find(%q) under %s = %+v, want none", tt.text, tt.base, got)
			}
			continue
		}
		if !ok || got.IssueID != tt.want {
			t.Errorf("find(%q) under %s = %+v, %v; want issue %q", tt.text, tt.base, got, ok, tt.want)
		}
	}
}

// FuzzRecogniseMessage: no message event, however malformed, panics the
// reader, and whatever it recognises is keyed by a linked issue.
//
//	go test -run '^$' -fuzz FuzzRecogniseMessage ./bot
func FuzzRecogniseMessage(f *testing.F) {
	for _, file := range []string{"slack_events_api_message_bot_profile_boltpy.json", "slack_events_api_message_subtype_bot_message_boltpy.json"} {
		raw, _ := os.ReadFile(filepath.Join("testdata", "events", file))
		var outer struct {
			Event json.RawMessage `json:"event"`
		}
		_ = json.Unmarshal(raw, &outer)
		f.Add(string(outer.Event))
	}
	f.Add(`{"type":"message","bot_id":"B1","channel":"C1","ts":"1.2","text":"<` + prlURL + `|x>","blocks":[{"type":"section","fields":[{"text":"*Users*"}]}],"attachments":[{"title":"a","value":"b"}]}`)
	f.Add(`{"type":"message","bot_id":"B1","channel":"C1","ts":"1.2","blocks":[[[[[[{"text":"` + prlURL + `"}]]]]]]}`)
	b, err := New(Config{BotToken: "xoxb-test"}, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, event string) {
		var m messageEvent
		if json.Unmarshal([]byte(event), &m) != nil {
			return
		}
		a, skip := b.recognise(m, "A0SELF")
		if skip == "" && (a.ErrorID == "" || a.Channel != m.Channel || a.ThreadTS != m.TS) {
			t.Errorf("recognised %+v from %s", a, event)
		}
	})
}
