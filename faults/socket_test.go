package faults

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// TestSocketModeReconnect breaks the Socket Mode connection three ways:
// Slack's disconnect frame (refresh_requested), an abrupt close, and an
// abrupt close while apps.connections.open fails a few times. Promise:
// the bot reconnects and the next click is answered (acked, and its modal
// opened within Slack's 3 s). Socket Mode does not touch the store, so this
// runs on SQLite only.
func TestSocketModeReconnect(t *testing.T) {
	t.Parallel()
	w := newWorld(t, dialects(t)[0].url(t), 1)
	r := w.start("replica", nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	msg := w.postOne(ctx, t, r, "socket-1", w.channels[0])

	faults := []struct {
		name  string
		fault func()
	}{
		{"disconnect frame", w.Slack.Disconnect},
		{"abrupt close", w.Slack.DropConnections},
		{"abrupt close, apps.connections.open failing 3 times", func() {
			w.Slack.FailConnectionsOpen(3)
			w.Slack.DropConnections()
		}},
	}
	for _, f := range faults {
		opened := w.openedConnections()
		at := time.Now()
		f.fault()
		if !waitFor(20*time.Second, func() bool { return w.openedConnections() > opened && w.Slack.Connections() > 0 }) {
			t.Errorf("%s: no new Socket Mode connection within 20 s", f.name)
			continue
		}
		reconnected := time.Since(at)
		lat := len(w.Slack.TriggerLatencies())
		v := w.openCreate(ctx, t, userAda, msg)
		open := w.Slack.TriggerLatencies()[lat]
		t.Logf("Socket Mode %s: reconnected after %.0f ms, next click answered (modal %s opened %s after the click)",
			f.name, reconnected.Seconds()*1000, v.ID, fmt.Sprintf("%.0f ms", open.Seconds()*1000))
		if open > 3*time.Second {
			t.Errorf("%s: views.open %s after the click, past Slack's 3 s", f.name, open)
		}
	}
	failed := 0
	for _, c := range w.Slack.Calls("apps.connections.open") {
		if c.Error == "internal_error" {
			failed++
		}
	}
	if failed != 3 {
		t.Errorf("apps.connections.open failed %d times, want the 3 injected", failed)
	}
	if un := w.Slack.Unacked(); len(un) > 0 {
		t.Errorf("%d envelopes never acked", len(un))
	}
}
