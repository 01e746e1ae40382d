package main

import (
	"net/http"
	"strings"
	"testing"
)

// TestAlertWithNULIsPosted sends, through the real signed webhook, an
// alert whose message and stack hold NUL characters (JSON's \u0000): it is
// accepted (202, not a 503 for ever on PostgreSQL) and posted to Slack.
func TestAlertWithNULIsPosted(t *testing.T) {
	t.Parallel()
	for name, dbURL := range databaseURLs(t) {
		t.Run(name, func(t *testing.T) {
			w, ctx := startTestWorld(t, dbURL(t))
			p := alertFor("prl_nul")
			p["exception"] = map[string]any{"type": "Error\x00", "message": "bad \x00 byte", "stack": "at f\x00"}
			status, body, err := w.sendAlert(ctx, p)
			if err != nil || status != http.StatusAccepted {
				t.Fatalf("alert = %d %s %v, want 202", status, body, err)
			}
			if err := w.Slack.Wait(ctx, func() bool {
				for _, m := range w.Slack.Messages(demoChannel) {
					if strings.Contains(string(m.Blocks), "bad \uFFFD byte") {
						return true
					}
				}
				return false
			}); err != nil {
				t.Fatalf("the alert was not posted: %v", err)
			}
		})
	}
}
