package main

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/proliferate/proliferate-linear/bot/fakeslack"
)

// intakeWorld is the demo world with the links API turned on.
func intakeWorld(t *testing.T, dbURL string) (*world, context.Context) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	w, err := startWorld(ctx, dbURL, testLogger(t), testPace, func(w *world, env map[string]string) {
		env["API_TOKEN"] = apiToken
	})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(w.Close)
	return w, ctx
}

// errorLinks asks GET /api/v1/errors/{id}/links for the identifiers of the
// error's issues.
func errorLinks(t *testing.T, ctx context.Context, w *world, id string) []string {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+w.Main.Addr()+"/api/v1/errors/"+id+"/links", nil)
	req.Header.Set("Authorization", "Bearer "+apiToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Links []struct {
			Identifier string `json:"identifier"`
		} `json:"links"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&body) != nil {
		t.Fatalf("GET links of %s: %d", id, resp.StatusCode)
	}
	var out []string
	for _, l := range body.Links {
		out = append(out, l.Identifier)
	}
	return out
}

// postMessageCallsIn counts the bot's chat.postMessage calls into the
// thread of ts.
func postMessageCallsIn(w *world, ts string) int {
	n := 0
	for _, c := range w.Slack.Calls("chat.postMessage") {
		if c.Params.Get("thread_ts") == ts || strings.Contains(string(c.JSON), `"thread_ts":"`+ts+`"`) {
			n++
		}
	}
	return n
}

// TestEndToEndProliferateMessage runs the real Main against the fakes from
// Proliferate's own Slack message: the bot replies in its thread with both
// buttons, the issue is created from there, the URL lands in that thread
// and the link is recorded; a second message of the same error gets a
// reply naming the issue and no create offer; redelivered events post
// nothing more; messages from an unlisted bot, from a person and without a
// Proliferate link get nothing.
func TestEndToEndProliferateMessage(t *testing.T) {
	t.Parallel()
	for name, dbURL := range databaseURLs(t) {
		t.Run(name, func(t *testing.T) {
			w, ctx := intakeWorld(t, dbURL(t))
			// Slack sends the bot its own posts too (its replies here).
			w.Slack.EchoOwnMessages()
			res, err := walkProliferateMessage(ctx, w, demoSlackIssue, testWriter{t})
			if err != nil {
				t.Fatalf("walk: %v", err)
			}
			if !slices.Contains(res.Buttons, "Create Linear Issue") || !slices.Contains(res.Buttons, "Link existing") {
				t.Errorf("reply buttons = %v, want Create Linear Issue and Link existing", res.Buttons)
			}
			issues := w.Linear.Issues()
			if len(issues) != 1 {
				t.Fatalf("Linear has %d issues, want 1", len(issues))
			}
			is := issues[0]
			if is.Title != "RangeError: Maximum call stack size exceeded" {
				t.Errorf("title = %q", is.Title)
			}
			for _, want := range []string{"**Users affected:** 12", "**Events:** 48", "production", "web@2.15.1",
				proliferateIssueURL(demoSlackIssue),
				// The way back: Proliferate's message, the alert's thread.
				"https://fake.slack.com/archives/" + demoChannel + "/p" + strings.ReplaceAll(res.ProliferateTS, ".", "")} {
				if !strings.Contains(is.Description, want) {
					t.Errorf("description lacks %q:\n%s", want, is.Description)
				}
			}
			// The thread of Proliferate's message: the bot's alert message
			// (now showing the issue) and the issue URL.
			th := w.Slack.Thread(demoChannel, res.ProliferateTS)
			if len(th) != 2 || th[0].TS != res.AlertTS || !strings.Contains(th[1].Text, is.URL) {
				t.Fatalf("thread = %+v, want the alert message then the issue URL", th)
			}
			if n := len(w.Slack.Messages(demoChannel)); n != 1 {
				t.Errorf("channel has %d top-level messages, want only Proliferate's", n)
			}
			if got := errorLinks(t, ctx, w, demoSlackIssue); !slices.Equal(got, []string{is.Identifier}) {
				t.Errorf("links of %s = %v, want [%s]", demoSlackIssue, got, is.Identifier)
			}

			// Slack retries the first message's event: nothing new.
			if _, err := w.Slack.Redeliver(ctx, res.EventEnvelope); err != nil {
				t.Fatal(err)
			}

			// The error spikes: Proliferate posts again. The reply under the
			// new message names the issue and offers nothing to create; the
			// first alert message is updated in place.
			ts2, ack2, err := w.Slack.PostAsBot(ctx, demoChannel, proliferateBot,
				proliferatePost(demoSlackIssue, "Spike: RangeError: Maximum call stack size exceeded", 80, 900))
			if err != nil {
				t.Fatal(err)
			}
			var reply fakeslack.Message
			if err := w.Slack.Wait(ctx, func() bool {
				th := w.Slack.Thread(demoChannel, ts2)
				if len(th) > 0 {
					reply = th[0]
				}
				return len(th) > 0
			}); err != nil {
				t.Fatalf("no reply under the second message: %v", err)
			}
			if !strings.Contains(reply.Text, is.Identifier) || !strings.Contains(reply.Text, is.URL) || len(buttonTexts(reply.Blocks)) > 0 {
				t.Errorf("reply to the second message = %q (buttons %v), want %s and its URL, no buttons", reply.Text, buttonTexts(reply.Blocks), is.Identifier)
			}
			if err := w.Slack.Wait(ctx, func() bool {
				m, _ := w.Slack.Message(demoChannel, res.AlertTS)
				return strings.Contains(string(m.Blocks), "900")
			}); err != nil {
				t.Errorf("the alert message was not updated with the spike's count: %v", err)
			}
			// The same event twice more (a retry, and another): still one reply.
			for range 2 {
				if _, err := w.Slack.Redeliver(ctx, ack2.EnvelopeID); err != nil {
					t.Fatal(err)
				}
			}
			envs := w.Slack.Envelopes()
			if last := envs[len(envs)-1]; last.RetryAttempt != 2 || last.EventID() != envelopeEventID(envs, ack2.EnvelopeID) {
				t.Errorf("last redelivery: retry_attempt %d, event %s", last.RetryAttempt, last.EventID())
			}

			// Nothing for an unlisted bot, a person, or a message without a
			// Proliferate link.
			other := fakeslack.Bot{BotID: "B0OTHER", AppID: "A0OTHER", Name: "other"}
			quiet := map[string]func() (string, error){
				"unlisted bot": func() (string, error) {
					ts, _, err := w.Slack.PostAsBot(ctx, demoChannel, other, proliferatePost("prl_other", "TypeError: x", 1, 1))
					return ts, err
				},
				"person": func() (string, error) {
					ts, _, err := w.Slack.PostAsUser(ctx, demoUser, demoChannel, fakeslack.Post{Text: "is " + proliferateIssueURL("prl_person") + " bad?"})
					return ts, err
				},
				"no link": func() (string, error) {
					ts, _, err := w.Slack.PostAsBot(ctx, demoChannel, proliferateBot, fakeslack.Post{Text: "Weekly digest: 3 new issues"})
					return ts, err
				},
				"thread reply": func() (string, error) {
					ts, _, err := w.Slack.PostAsBot(ctx, demoChannel, proliferateBot, fakeslack.Post{Text: proliferateIssueURL("prl_reply"), ThreadTS: ts2})
					return ts, err
				},
			}
			quietTS := map[string]string{}
			for name, post := range quiet {
				ts, err := post()
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				quietTS[name] = ts
			}
			// A sentinel: messages are routed in order and the quiet ones
			// make no work at all, so once the sentinel is answered they
			// have long been dropped.
			sentinel, _, err := w.Slack.PostAsBot(ctx, demoChannel, proliferateBot, proliferatePost("prl_sentinel", "TypeError: y", 1, 1))
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Slack.Wait(ctx, func() bool { return len(w.Slack.Thread(demoChannel, sentinel)) > 0 }); err != nil {
				t.Fatal(err)
			}
			for name, ts := range quietTS {
				if n := postMessageCallsIn(w, ts); n != 0 {
					t.Errorf("%s: the bot posted %d replies", name, n)
				}
			}
			if n := len(w.Slack.Thread(demoChannel, ts2)); n != 2 { // the status reply and the quiet "thread reply"
				t.Errorf("second message's thread has %d messages, want 2", n)
			}
			if n := postMessageCallsIn(w, ts2); n != 1 {
				t.Errorf("%d bot replies under the second message, want 1", n)
			}
			if n := postMessageCallsIn(w, res.ProliferateTS); n != 2 {
				t.Errorf("%d bot posts in the first thread, want 2 (alert, issue URL)", n)
			}
			if n := len(w.Linear.Issues()); n != 1 {
				t.Errorf("Linear has %d issues, want 1", n)
			}
			if len(w.Slack.Unacked()) != 0 {
				t.Errorf("unacked envelopes: %d", len(w.Slack.Unacked()))
			}
			t.Logf("figures: acks %v, click→views.open %v", roundAll(res.Acks), round(res.ClickToOpen))
		})
	}
}

// echoed reports whether the message ts went to the bot as a message event
// and was acked.
func echoed(w *world, ts string) bool {
	for _, e := range w.Slack.Envelopes() {
		var p struct {
			Event struct {
				TS string `json:"ts"`
			} `json:"event"`
		}
		if e.Type == "events_api" && e.Acked && json.Unmarshal(e.Payload, &p) == nil && p.Event.TS == ts {
			return true
		}
	}
	return false
}

// TestEndToEndOwnMessagesIgnored: with PROLIFERATE_SLACK_BOT_IDS unset
// (any bot or app), the bot's own top-level alert message, which links a
// Proliferate issue and comes back to it as a message event, is not read
// as a Proliferate message: no reply under it, no second occurrence.
func TestEndToEndOwnMessagesIgnored(t *testing.T) {
	t.Parallel()
	for name, dbURL := range databaseURLs(t) {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			t.Cleanup(cancel)
			w, err := startWorld(ctx, dbURL(t), testLogger(t), testPace, func(w *world, env map[string]string) {
				env["PROLIFERATE_SLACK_BOT_IDS"] = ""
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(w.Close)
			w.Slack.EchoOwnMessages()
			hook := demoAlert()
			hook["issue_id"], hook["url"] = "prl_hook", proliferateIssueURL("prl_hook")
			if status, body, err := w.sendAlert(ctx, hook); err != nil || status != http.StatusAccepted {
				t.Fatalf("webhook alert: %d %s %v", status, body, err)
			}
			var hookTS string
			if err := w.Slack.Wait(ctx, func() bool {
				if ms := w.Slack.Messages(demoChannel); len(ms) > 0 {
					hookTS = ms[0].TS
				}
				return hookTS != "" && echoed(w, hookTS)
			}); err != nil {
				t.Fatalf("the alert message never came back as an event: %v", err)
			}
			if !strings.Contains(string(mustMessage(t, w, hookTS).Blocks), proliferateIssueURL("prl_hook")) {
				t.Fatalf("the bot's message does not link the issue, so this proves nothing")
			}
			// Any other app's message is read (the list is unset): once it is
			// answered, the echo (routed before it) has long been dropped.
			other := fakeslack.Bot{BotID: "B0OTHER", AppID: "A0OTHER", Name: "other"}
			sentinel, _, err := w.Slack.PostAsBot(ctx, demoChannel, other, proliferatePost("prl_sentinel", "TypeError: y", 1, 1))
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Slack.Wait(ctx, func() bool { return len(w.Slack.Thread(demoChannel, sentinel)) > 0 }); err != nil {
				t.Fatal(err)
			}
			if n := len(w.Slack.Thread(demoChannel, hookTS)); n != 0 {
				t.Errorf("%d replies under the bot's own message, want 0", n)
			}
			as, err := w.Main.DB.AlertsByError(ctx, "prl_hook")
			if err != nil || len(as) != 1 || as[0].Occurrences != 1 {
				t.Errorf("alerts of prl_hook = %+v, %v; want one, seen once", as, err)
			}
		})
	}
}

func mustMessage(t *testing.T, w *world, ts string) fakeslack.Message {
	t.Helper()
	m, ok := w.Slack.Message(demoChannel, ts)
	if !ok {
		t.Fatalf("no message %s", ts)
	}
	return m
}

func envelopeEventID(envs []fakeslack.Envelope, id string) string {
	for _, e := range envs {
		if e.ID == id {
			return e.EventID()
		}
	}
	return ""
}

// testWriter narrates a walk into the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
