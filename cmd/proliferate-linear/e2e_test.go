package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/bot/fakeslack"
	"github.com/proliferate/proliferate-linear/linear/fakelinear"
	"github.com/proliferate/proliferate-linear/store/storetest"
)

// testLogger writes the bot's logs to the test log, shown on failure.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tlogWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tlogWriter struct{ t *testing.T }

func (w tlogWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// databaseURLs gives the DATABASE_URL of every store the end-to-end tests
// run on: the embedded SQLite always, PostgreSQL when configured. Each is
// migrated already (storetest's MigratedURL: migrating SQLite from scratch
// under the race detector costs up to a second); the bot's start still runs
// Migrate, which finds nothing to do.
func databaseURLs(t *testing.T) map[string]func(t *testing.T) string {
	out := map[string]func(t *testing.T) string{}
	for _, dc := range storetest.Dialects(t) {
		out[dc.Name] = func(t *testing.T) string {
			u := dc.MigratedURL(t)
			if dc.Name == "sqlite" {
				u = "sqlite:" + u
			}
			return u
		}
	}
	return out
}

// testChannelGap stands in for Slack's one message a second per channel
// in tests that do not test the pace (the alert package's do), so a
// thread note does not wait a second behind its alert's message;
// testUpdateGap for the 10 s between updates of a repeated alert (alert's
// TestRepeatUpdatesPaced and the bench's storm row test that one);
// testRetryGap for the job engine's 1 s, 2 s … between attempts of a
// failing job (alert's TestEngineRetryPolicy tests those); testPoll for
// the engine's idle look for work each second, which is what finds a job
// whose lease ran out when its replica died (each look is a claim: more
// often would cost the tests more CPU than they wait).
const (
	testChannelGap = 10 * time.Millisecond
	testUpdateGap  = 200 * time.Millisecond
	testRetryGap   = 100 * time.Millisecond
	testPoll       = testUpdateGap
)

// testPace is the startWorld configure function that sets them all.
func testPace(w *world, _ map[string]string) {
	w.channelGap, w.updateGap, w.retryGap, w.poll = testChannelGap, testUpdateGap, testRetryGap, testPoll
}

// startTestWorld starts a world on databaseURL, or with "" on a migrated
// SQLite file of the test's own.
func startTestWorld(t *testing.T, databaseURL string) (*world, context.Context) {
	t.Helper()
	if databaseURL == "" {
		databaseURL = "sqlite:" + storetest.SQLiteMigratedURL(t)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	w, err := startWorld(ctx, databaseURL, testLogger(t), testPace)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(w.Close)
	return w, ctx
}

// TestEndToEnd runs the real Main, with the real slack-go and genqlient
// clients, against the fakes: alert in, Create Linear Issue, team and
// assignee, submit, thread reply, alert updated, link recorded; then a
// duplicated submission and a repeat alert, which must change nothing in
// Linear.
func TestEndToEnd(t *testing.T) {
	t.Parallel()
	for name, dbURL := range databaseURLs(t) {
		t.Run(name, func(t *testing.T) {
			w, ctx := startTestWorld(t, dbURL(t))
			res, err := walkAlert(ctx, w, demoAlert(), io.Discard)
			if err != nil {
				t.Fatalf("walk: %v", err)
			}

			// Linear: one issue, pre-filled, assigned, with its attachment,
			// made in one request.
			issues := w.Linear.Issues()
			if len(issues) != 1 {
				t.Fatalf("Linear has %d issues, want 1", len(issues))
			}
			is := issues[0]
			if want := "TypeError: Cannot read properties of undefined (reading 'id')"; is.Title != want {
				t.Errorf("title = %q, want %q", is.Title, want)
			}
			for _, want := range []string{alert.AutoCreatedSentence, "CheckoutForm.render (src/checkout/Form.tsx:88:31)",
				"production", "web@2.14.0", "**Users affected:** 37", "https://app.proliferate.dev/acme/web/issues/prl_9f2c1a"} {
				if !strings.Contains(is.Description, want) {
					t.Errorf("description lacks %q", want)
				}
			}
			if is.AssigneeID != fakelinear.UserBobID || is.TeamID != fakelinear.TeamEngID {
				t.Errorf("assignee/team = %s/%s, want bob/ENG", is.AssigneeID, is.TeamID)
			}
			atts := w.Linear.Attachments(is.ID)
			if len(atts) != 1 || atts[0].URL != "https://app.proliferate.dev/acme/web/issues/prl_9f2c1a" {
				t.Errorf("attachments = %+v, want one pointing at the error", atts)
			} else if md, _ := json.Marshal(atts[0].Metadata); !strings.Contains(string(md), res.AlertTS) {
				t.Errorf("attachment metadata %s lacks the Slack thread ts %s", md, res.AlertTS)
			}
			// The way back to Slack: the thread's permalink, in the
			// description and the attachment.
			permalink := "https://fake.slack.com/archives/" + demoChannel + "/p" + strings.ReplaceAll(res.AlertTS, ".", "")
			if !strings.Contains(is.Description, "[Discussion in Slack]("+permalink+")") {
				t.Errorf("description lacks the Slack thread %s:\n%s", permalink, is.Description)
			}
			if len(atts) == 1 && atts[0].Metadata["slackThreadUrl"] != permalink {
				t.Errorf("attachment slackThreadUrl = %v, want %s", atts[0].Metadata["slackThreadUrl"], permalink)
			}
			// One request from submit to issue: the document with
			// issueCreate and attachmentCreate. The look for an issue that
			// already carries the error was made before the submit.
			if res.CreateRequests != 1 || res.CreateDocuments != 1 {
				var ops []string
				for _, r := range w.Linear.Requests() {
					ops = append(ops, r.OperationName)
				}
				t.Errorf("Linear requests to create = %d (%d create documents), want 1 (1); all requests: %v", res.CreateRequests, res.CreateDocuments, ops)
			}

			// A personal API key may not act as someone else in Linear.
			for _, r := range w.Linear.Requests() {
				if in, _ := r.Variables["issue"].(map[string]any); r.OperationName == "createIssue" && in["createAsUser"] != nil {
					t.Errorf("createAsUser sent with a personal API key: %v", in["createAsUser"])
				}
			}

			// Slack: the thread has the URL; the alert shows the issue, its
			// status and assignee instead of the create button.
			th := w.Slack.Thread(demoChannel, res.AlertTS)
			if len(th) != 1 || !strings.Contains(th[0].Text, is.URL) || !strings.Contains(th[0].Text, is.Identifier) {
				t.Errorf("thread = %+v, want one reply with %s and its URL", th, is.Identifier)
			}
			msg, _ := w.Slack.Message(demoChannel, res.AlertTS)
			blocks := string(msg.Blocks)
			for _, want := range []string{is.Identifier, is.State.Name, "Bob Builder"} {
				if !strings.Contains(blocks, want) {
					t.Errorf("alert message lacks %q: %s", want, blocks)
				}
			}
			if slicesContains(buttonTexts(msg.Blocks), "Create Linear Issue") {
				t.Errorf("alert message still offers Create Linear Issue: %v", buttonTexts(msg.Blocks))
			}

			// The link is recorded.
			link, err := w.Main.Service.Link(ctx, "prl_9f2c1a")
			if err != nil || link.Identifier != is.Identifier || link.Kind != alert.LinkCreated || link.CreatedBy != demoUser {
				t.Errorf("stored link = %+v, %v", link, err)
			}

			// Slack delivers the same submission again: still one issue.
			if _, err := w.Slack.Redeliver(ctx, res.SubmitEnvelope); err != nil {
				t.Fatalf("redeliver submission: %v", err)
			}
			// The error comes back: the same message is updated, no new one.
			again := demoAlert()
			again["event_count"], again["users_affected"] = 301, 52
			if status, body, err := w.sendAlert(ctx, again); err != nil || status != 202 {
				t.Fatalf("repeat alert: %d %s %v", status, body, err)
			}
			if err := w.Slack.Wait(ctx, func() bool {
				m, _ := w.Slack.Message(demoChannel, res.AlertTS)
				return strings.Contains(string(m.Blocks), "301")
			}); err != nil {
				t.Fatalf("the repeat alert did not update the message: %v", err)
			}
			if n := len(w.Slack.Messages(demoChannel)); n != 1 {
				t.Errorf("channel has %d alert messages, want 1", n)
			}
			msg, _ = w.Slack.Message(demoChannel, res.AlertTS)
			if !strings.Contains(string(msg.Blocks), is.Identifier) || slicesContains(buttonTexts(msg.Blocks), "Create Linear Issue") {
				t.Errorf("repeat alert for a tracked error must show %s, not offer a new issue: %s", is.Identifier, msg.Blocks)
			}
			if n := len(w.Linear.Issues()); n != 1 {
				t.Errorf("Linear has %d issues after a duplicate submission, want 1", n)
			}

			for i, d := range res.Acks {
				if d <= 0 || d >= 3*time.Second {
					t.Errorf("ack %d took %v; Slack allows 3s", i, d)
				}
			}
			t.Logf("figures: acks %v, click→views.open %v, Linear requests per create %d", roundAll(res.Acks), round(res.ClickToOpen), res.CreateRequests)
		})
	}
}

// TestDoubleClickCreatesOneIssue opens two modals for one alert (two
// clicks before anything was created) and submits both at once: Linear must
// get one issue, and the second modal must say the error is tracked.
func TestDoubleClickCreatesOneIssue(t *testing.T) {
	t.Parallel()
	for name, dbURL := range databaseURLs(t) {
		t.Run(name, func(t *testing.T) {
			w, ctx := startTestWorld(t, dbURL(t))
			if status, body, err := w.sendAlert(ctx, demoAlert()); err != nil || status != 202 {
				t.Fatalf("alert: %d %s %v", status, body, err)
			}
			var ts string
			if err := w.Slack.Wait(ctx, func() bool {
				ms := w.Slack.Messages(demoChannel)
				if len(ms) > 0 {
					ts = ms[0].TS
				}
				return ts != ""
			}); err != nil {
				t.Fatal(err)
			}
			for range 2 {
				if _, err := w.Slack.ClickButton(ctx, demoUser, demoChannel, ts, "create_issue"); err != nil {
					t.Fatalf("click: %v", err)
				}
			}
			var views []fakeslack.View
			if err := w.Slack.Wait(ctx, func() bool {
				views = views[:0]
				for _, v := range w.Slack.Views() {
					if v.CallbackID == "create_issue" && len(elementOptions(v.Blocks, "assignee")) > 0 {
						views = append(views, v)
					}
				}
				return len(views) == 2
			}); err != nil {
				t.Fatalf("want two filled modals: %v", err)
			}
			var wg sync.WaitGroup
			errs := make([]error, 2)
			for i, v := range views {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, errs[i] = w.Slack.SubmitView(ctx, demoUser, v.ID)
				}()
			}
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				t.Fatalf("submit: %v", err)
			}
			if err := w.Slack.Wait(ctx, func() bool { return len(w.Slack.Thread(demoChannel, ts)) > 0 }); err != nil {
				t.Fatal(err)
			}
			// Both modals settle: one on the created issue, one on "already tracked".
			if err := waitViewsShow(ctx, w, views, "ENG-1"); err != nil {
				t.Errorf("both modals should end up naming ENG-1: %v", err)
			}
			if n := len(w.Linear.Issues()); n != 1 {
				t.Errorf("Linear has %d issues, want 1", n)
			}
			if n := len(w.Slack.Thread(demoChannel, ts)); n != 1 {
				t.Errorf("thread has %d replies, want 1", n)
			}
		})
	}
}

// waitViewsShow waits until every one of views shows text.
func waitViewsShow(ctx context.Context, w *world, views []fakeslack.View, text string) error {
	return w.Slack.Wait(ctx, func() bool {
		for _, v := range views {
			cur, _ := w.Slack.View(v.ID)
			if !strings.Contains(string(cur.Blocks), text) {
				return false
			}
		}
		return true
	})
}

func slicesContains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// TestModalOpensWhileLinearIsSlow gives every Linear request 2 s of
// latency: reading teams and members would outlive the 3 s trigger_id, so
// the modal opens only because views.open never waits on Linear; it then
// fills in. Its one timing, views.open within the trigger's 3 s while
// Linear takes 2 s, does not need the CPU to itself: most of the test is
// waiting on the slow Linear.
func TestModalOpensWhileLinearIsSlow(t *testing.T) {
	t.Parallel()
	w, ctx := startTestWorld(t, "")
	ts := postAlert(t, ctx, w, demoAlert())
	w.Linear.SetLatency(2 * time.Second)
	n := len(w.Slack.Views())
	if _, err := w.Slack.ClickButton(ctx, demoUser, demoChannel, ts, "create_issue"); err != nil {
		t.Fatal(err)
	}
	v := waitView(t, ctx, w, "create_issue", n)
	if err := w.Slack.Wait(ctx, func() bool {
		cur, _ := w.Slack.View(v.ID)
		return len(elementOptions(cur.Blocks, "assignee")) > 0
	}); err != nil {
		t.Fatalf("the modal never filled in: %v", err)
	}
	lat := w.Slack.TriggerLatencies()
	t.Logf("click → views.open with Linear at 2 s per request: %v", round(lat[len(lat)-1]))
}
