package bot

import (
	"strings"
	"testing"
	"time"
)

// TestFindAlertMessage: the alert's message carries metadata naming it,
// and FindAlertMessage finds it past other messages and history pages, in
// the channel or in the thread the alert lives in, and says why it cannot.
func TestFindAlertMessage(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	b, fs := newFakeBot(t, nil)
	b.findPage = 10
	a := sampleAlert()
	a.MessageTS, a.CreatedAt = "", time.Now()

	if ts, err := b.FindAlertMessage(ctx, a); err != nil || ts != "" {
		t.Fatalf("before posting: FindAlertMessage = %q, %v; want none", ts, err)
	}
	ts, err := b.PostAlert(ctx, a, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m, _ := fs.Message("C100", ts); !strings.Contains(string(m.Metadata), `{"event_type":"proliferate_alert","event_payload":{"alert_id":"42"}}`) {
		t.Fatalf("posted metadata = %s", m.Metadata)
	}
	// More than one page of newer messages, of other alerts.
	for i := range b.findPage + 5 {
		o := a
		o.ID = int64(1000 + i)
		if _, err := b.PostAlert(ctx, o, nil); err != nil {
			t.Fatal(err)
		}
	}
	got, err := b.FindAlertMessage(ctx, a)
	if err != nil || got != ts {
		t.Fatalf("FindAlertMessage = %q, %v; want %q", got, err, ts)
	}
	if n := fs.CallCount("conversations.history"); n != 3 {
		t.Errorf("conversations.history calls = %d, want 3 (none, then two pages)", n)
	}
	for _, c := range fs.Calls("conversations.history") {
		if c.Params.Get("include_all_metadata") != "1" || c.Params.Get("oldest") == "" || c.Params.Get("limit") != "10" {
			t.Errorf("history call params = %v, want include_all_metadata=1, oldest and limit=10", c.Params)
		}
	}

	// An alert in the thread of another message is looked for there.
	th := a
	th.ID, th.ThreadTS = 7, ts
	if got, err := b.FindAlertMessage(ctx, th); err != nil || got != "" {
		t.Fatalf("thread before posting: %q, %v", got, err)
	}
	reply, err := b.PostAlert(ctx, th, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := b.FindAlertMessage(ctx, th); err != nil || got != reply {
		t.Fatalf("thread: FindAlertMessage = %q, %v; want %q", got, err, reply)
	}

	// Messages from before the alert was created are not looked at.
	old := a
	old.CreatedAt = time.Now().Add(time.Hour)
	if got, err := b.FindAlertMessage(ctx, old); err != nil || got != "" {
		t.Errorf("created after every message: %q, %v; want none", got, err)
	}

	fs.FailNext("conversations.history", 1, "not_in_channel")
	if _, err := b.FindAlertMessage(ctx, a); err == nil || !strings.Contains(err.Error(), "invite it") {
		t.Errorf("not_in_channel: err = %v, want the hint", err)
	}

	// A missing scope is named as Slack names it: the history scopes for
	// a history read (in the channel or a thread), chat:write for a post.
	for _, method := range []string{"conversations.history", "conversations.replies"} {
		fs.FailNext(method, 1, "missing_scope")
		alertOf := a
		if method == "conversations.replies" {
			alertOf = th
		}
		_, err := b.FindAlertMessage(ctx, alertOf)
		if err == nil || !strings.Contains(err.Error(), "channels:history or groups:history") || strings.Contains(err.Error(), "chat:write") {
			t.Errorf("%s missing_scope: err = %v, want the history scopes named", method, err)
		}
	}
	fs.FailNext("chat.postMessage", 1, "missing_scope")
	if _, err := b.PostAlert(ctx, a, nil); err == nil || !strings.Contains(err.Error(), "(Slack asks for chat:write)") {
		t.Errorf("chat.postMessage missing_scope: err = %v, want chat:write named", err)
	}
}
