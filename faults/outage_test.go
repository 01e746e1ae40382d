package faults

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestLinearDownDuringSubmit: Linear answers 503 for 10 s, starting just
// before a create is submitted. Promise: the user is told while Linear is
// down (in the modal, ephemerally or in the thread); once Linear is back the
// issue is made exactly once — whether the bot finishes it by itself or the
// user submits the form it gave back — and the thread announces it once.
func TestLinearDownDuringSubmit(t *testing.T) {
	t.Parallel()
	const outage = 10 * time.Second
	forEachStore(t, func(t *testing.T, dbURL string) {
		t.Parallel()
		w := newWorld(t, dbURL, 1)
		r := w.start("replica", nil)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		const errorID = "outage-1"
		msg := w.postOne(ctx, t, r, errorID, w.channels[0])
		v := w.openCreate(ctx, t, userAda, msg)
		w.pickTeam(ctx, t, userAda, v)

		w.Linear.DownFor(outage)
		down := time.Now()
		if _, err := w.Slack.SubmitView(ctx, userAda, v.ID); err != nil {
			t.Fatalf("submit: %v", err)
		}
		acked, _ := w.Slack.View(v.ID) // as the ack left it ("Creating issue…")
		ephemerals, replies := len(w.Slack.Ephemerals()), len(w.Slack.Thread(msg.Channel, msg.TS))
		var told string
		waitFor(time.Until(down.Add(outage)), func() bool {
			if cur, _ := w.Slack.View(v.ID); cur.Hash != acked.Hash {
				told = "modal: " + visibleText(cur.Blocks)
			} else if es := w.Slack.Ephemerals(); len(es) > ephemerals {
				told = "ephemeral: " + es[len(es)-1].Text
			} else if th := w.Slack.Thread(msg.Channel, msg.TS); len(th) > replies {
				told = "thread: " + th[len(th)-1].Text
			}
			return told != ""
		})
		toldAfter := time.Since(down)
		if told == "" {
			t.Errorf("Linear down for %s: the user was told nothing while it was down (the modal still shows %q)", secs(outage), visibleText(acked.Blocks))
		}
		waitFor(outage, func() bool { return !w.Linear.IsDown() })

		// Back up: the user resubmits if the bot gave the form back.
		resubmitted := false
		if cur, ok := w.Slack.View(v.ID); ok && cur.Open && len(elementValues(cur.Blocks, actionTeam)) > 0 {
			if _, err := w.Slack.SubmitView(ctx, userAda, v.ID); err != nil {
				t.Fatalf("resubmit: %v", err)
			}
			resubmitted = true
		}
		var identifier string
		waitFor(20*time.Second, func() bool {
			if is := w.issuesFor(errorID); len(is) > 0 {
				identifier = is[0].Identifier
			}
			return identifier != "" && w.threadMentions(msg, identifier) > 0
		})
		w.settle(2*time.Second, 15*time.Second)
		issues, notes := len(w.issuesFor(errorID)), 0
		if identifier != "" {
			notes = w.threadMentions(msg, identifier)
		}
		t.Logf("Linear down %s during a submit: told after %s (%.80q), resubmitted by the user: %v; afterwards %d issue(s) %s, %d thread note(s), %d requests refused while down",
			secs(outage), secs(toldAfter), told, resubmitted, issues, identifier, notes, w.Linear.DownRequests())
		if issues != 1 {
			t.Errorf("%d issues in Linear for the error, want exactly 1", issues)
		}
		if notes != 1 {
			t.Errorf("%d thread replies name the issue, want exactly 1", notes)
		}
	})
}

// visibleText is the text a user reads in blocks: every "text" string.
func visibleText(blocks json.RawMessage) string {
	var v any
	if json.Unmarshal(blocks, &v) != nil {
		return ""
	}
	var parts []string
	var walk func(any)
	walk = func(x any) {
		switch x := x.(type) {
		case map[string]any:
			for k, e := range x {
				if s, ok := e.(string); ok && k == "text" {
					parts = append(parts, s)
				} else {
					walk(e)
				}
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
	return strings.Join(parts, " ")
}
