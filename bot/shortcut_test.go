package bot

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/bot/fakeslack"
)

// TestShortcutOnProliferateMessage: the create shortcut on a message that
// links a Proliferate issue opens the create modal pre-filled as that
// issue's alert, whoever posted it; the link shortcut opens Link existing.
func TestShortcutOnProliferateMessage(t *testing.T) {
	t.Parallel()
	h := startHarness(t, "")
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	h.fs.AddUser(fakeslack.User{ID: "U1", Name: "ada"})
	ts, _, err := h.fs.PostAsUser(ctx, "U1", "C100", fakeslack.Post{Text: "Seen this? <" + prlURL + "|TypeError: boom>"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.fs.MessageShortcut(ctx, "U1", "C100", ts, shortcutCreate); err != nil {
		t.Fatal(err)
	}
	v := h.waitView(t, "Team")
	var a alert.Alert
	h.store.mu.Lock()
	for _, x := range h.store.alerts {
		if x.ErrorID == "prl_9f2c1a" {
			a = x
		}
	}
	jobs := len(h.store.jobs)
	h.store.mu.Unlock()
	if a.ThreadTS != ts || a.Channel != "C100" || a.URL != prlURL {
		t.Fatalf("alert for the message = %+v", a)
	}
	if !strings.Contains(string(v.Blocks), "View the error in Proliferate") || strings.Contains(string(v.Blocks), "Posted by") {
		t.Errorf("modal is not pre-filled as the alert: %s", v.Blocks)
	}
	if jobs != 0 {
		t.Errorf("the shortcut queued %d jobs; nothing is posted before a create", jobs)
	}
}

// TestRouteShortcut: only the two callback ids, with a trigger and a
// message, are work.
func TestRouteShortcut(t *testing.T) {
	t.Parallel()
	b := testBot(t)
	base := slack.InteractionCallback{Type: slack.InteractionTypeMessageAction, TriggerID: "1.2.x",
		Channel: slack.Channel{GroupConversation: slack.GroupConversation{Conversation: slack.Conversation{ID: "C1"}}}}
	base.Message.Timestamp = "1.2"
	for _, tt := range []struct {
		name, callback string
		edit           func(*slack.InteractionCallback)
		work           bool
	}{
		{"create", shortcutCreate, nil, true},
		{"link", shortcutLink, nil, true},
		{"another app's shortcut", "other", nil, false},
		{"no trigger", shortcutCreate, func(cb *slack.InteractionCallback) { cb.TriggerID = "" }, false},
		{"no message", shortcutCreate, func(cb *slack.InteractionCallback) { cb.Message.Timestamp = "" }, false},
	} {
		cb := base
		cb.CallbackID = tt.callback
		if tt.edit != nil {
			tt.edit(&cb)
		}
		if got := b.routeShortcut(cb) != nil; got != tt.work {
			t.Errorf("%s: work = %v, want %v", tt.name, got, tt.work)
		}
	}
	// The real payload (bolt-python's fixture) parses into a routable shortcut.
	raw := mustRead(t, "testdata/events/slack_message_action_shortcut_boltpy.json")
	var cb slack.InteractionCallback
	if err := json.Unmarshal(raw, &cb); err != nil {
		t.Fatal(err)
	}
	cb.CallbackID = shortcutCreate
	if b.routeShortcut(cb) == nil || cb.Message.Timestamp != "1583636382.000300" || cb.Channel.ID != "C111" {
		t.Errorf("real message_action payload not routed: %+v", cb.Message.Msg)
	}
}

// TestMessageDescriptionWithin: the quote is cut, never the author, link
// or sentence.
func TestMessageDescriptionWithin(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("word ", 2000)
	d := alert.MessageDescription(long, "ada", "https://fake.slack.com/archives/C1/p1", maxDescriptionInput)
	if n := utf8.RuneCountInString(d); n > maxDescriptionInput {
		t.Errorf("description has %d runes, want at most %d", n, maxDescriptionInput)
	}
	for _, want := range []string{"> word", "Posted by ada in Slack: [open the message](https://fake.slack.com/archives/C1/p1)", alert.AutoCreatedSentence} {
		if !strings.Contains(d, want) {
			t.Errorf("description lacks %q", want)
		}
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
