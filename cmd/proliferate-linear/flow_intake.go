package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/proliferate/proliferate-linear/bot/fakeslack"
)

// proliferateBot is Proliferate's own Slack app in the demo world: it posts
// its alerts into the alert channel, where the bot reads them.
var proliferateBot = fakeslack.Bot{BotID: "B0PROLIF", AppID: "A0PROLIF", UserID: "U0PROLIF", Name: "Proliferate"}

// demoSlackIssue is the Proliferate issue the demo's Slack message links.
const demoSlackIssue = "prl_7e1d04"

// proliferateIssueURL is the page of Proliferate issue id, under the
// default PROLIFERATE_URL.
func proliferateIssueURL(id string) string {
	return "https://app.proliferate.com/projects/web/issues/" + id
}

// proliferatePost is a Proliferate-style alert message: a header with the
// error, fields with the facts, a button to the issue page, and the plain
// text Slack shows in notifications.
func proliferatePost(issueID, headline string, users, events int) fakeslack.Post {
	u := proliferateIssueURL(issueID)
	blocks, _ := json.Marshal([]any{
		map[string]any{"type": "header", "text": map[string]any{"type": "plain_text", "text": headline}},
		map[string]any{"type": "section", "fields": []any{
			map[string]any{"type": "mrkdwn", "text": fmt.Sprintf("*Users affected*\n%d", users)},
			map[string]any{"type": "mrkdwn", "text": fmt.Sprintf("*Events*\n%d", events)},
			map[string]any{"type": "mrkdwn", "text": "*Environment*\nproduction"},
			map[string]any{"type": "mrkdwn", "text": "*Release*\nweb@2.15.1"},
		}},
		map[string]any{"type": "actions", "elements": []any{map[string]any{"type": "button", "action_id": "open",
			"text": map[string]any{"type": "plain_text", "text": "View in Proliferate"}, "url": u}}},
	})
	return fakeslack.Post{Text: headline + " <" + u + "|View in Proliferate>", Blocks: blocks}
}

// walkProliferateMessage plays the loop from Proliferate's own Slack
// message: Proliferate posts its alert, the bot replies in its thread with
// the buttons, and a person creates the issue from that reply. It narrates
// to out.
func walkProliferateMessage(ctx context.Context, w *world, issueID string, out io.Writer) (flowResult, error) {
	var res flowResult
	say := func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) }

	headline := "New issue: RangeError: Maximum call stack size exceeded"
	ts, ack, err := w.Slack.PostAsBot(ctx, demoChannel, proliferateBot, proliferatePost(issueID, headline, 12, 48))
	if err != nil {
		return res, fmt.Errorf("proliferate posts: %w", err)
	}
	res.ProliferateTS, res.EventEnvelope = ts, ack.EnvelopeID
	res.Acks = append(res.Acks, ack.Latency)
	say("1. Proliferate  → posts in #alerts ts=%s: %q (message event acked in %s)", ts, headline, round(ack.Latency))

	var reply fakeslack.Message
	if err := w.Slack.Wait(ctx, func() bool {
		for _, m := range w.Slack.Thread(demoChannel, ts) {
			if len(buttonTexts(m.Blocks)) > 0 {
				reply = m
				return true
			}
		}
		return false
	}); err != nil {
		return res, fmt.Errorf("waiting for the bot's reply in Proliferate's thread: %w", err)
	}
	res.AlertTS = reply.TS
	res.Buttons = buttonTexts(reply.Blocks)
	say("2. Slack        ← chat.postMessage in its thread ts=%s: %q", reply.TS, reply.Text)
	say("                  buttons: %s", strings.Join(res.Buttons, " | "))
	if !slices.Contains(res.Buttons, "Create Linear Issue") {
		return res, fmt.Errorf("the reply offers %v, not Create Linear Issue", res.Buttons)
	}
	if err := walkCreate(ctx, w, &res, reply, ts, say); err != nil {
		return res, err
	}
	return res, nil
}
