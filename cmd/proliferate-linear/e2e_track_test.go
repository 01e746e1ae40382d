package main

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/bot/fakeslack"
	"github.com/proliferate/proliferate-linear/linear"
	"github.com/proliferate/proliferate-linear/linear/fakelinear"
	"github.com/proliferate/proliferate-linear/linear/webhook"
)

const linearHookSecret = "linear-webhook-signing-secret"

// trackWorld is a world with Linear webhooks pointed at the bot.
func trackWorld(t *testing.T, dbURL string, extra map[string]string) (*world, context.Context) {
	t.Helper()
	env := map[string]string{"LINEAR_WEBHOOK_SECRET": linearHookSecret}
	for k, v := range extra {
		env[k] = v
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	w, err := startWorld(ctx, dbURL, testLogger(t), testPace, func(_ *world, e map[string]string) { maps.Copy(e, env) })
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(w.Close)
	w.Linear.SetWebhook("http://"+w.Main.Addr()+"/webhooks/linear", []byte(linearHookSecret))
	return w, ctx
}

// postAlert sends payload and waits for its Slack message; it returns the
// message ts.
func postAlert(t *testing.T, ctx context.Context, w *world, payload map[string]any) string {
	t.Helper()
	before := len(w.Slack.Messages(demoChannel))
	if status, body, err := w.sendAlert(ctx, payload); err != nil || status != http.StatusAccepted {
		t.Fatalf("alert: %d %s %v", status, body, err)
	}
	var ts string
	if err := w.Slack.Wait(ctx, func() bool {
		ms := w.Slack.Messages(demoChannel)
		if len(ms) > before {
			ts = ms[len(ms)-1].TS
		}
		return ts != ""
	}); err != nil {
		t.Fatalf("alert message: %v", err)
	}
	return ts
}

// seedLinearIssue files an issue straight in the fake Linear, as someone
// working in Linear would.
func seedLinearIssue(t *testing.T, w *world, title string) alert.Issue {
	t.Helper()
	lc := linear.New(w.Linear.URL(), &http.Client{Transport: &linear.APIKeyTransport{Key: fakelinear.APIKey}}, nil)
	is, err := lc.CreateIssue(context.Background(), alert.IssueRequest{ID: uuid.NewString(), TeamID: fakelinear.TeamEngID,
		Title: title, Description: "filed in Linear", Attachment: alert.Attachment{URL: "https://elsewhere.example/" + uuid.NewString(), Title: "x"}})
	if err != nil {
		t.Fatal(err)
	}
	return is
}

func waitView(t *testing.T, ctx context.Context, w *world, callbackID string, after int) fakeslack.View {
	t.Helper()
	var v fakeslack.View
	if err := w.Slack.Wait(ctx, func() bool {
		vs := w.Slack.Views()
		for _, x := range vs[min(after, len(vs)):] {
			if x.CallbackID == callbackID && x.Open {
				v = x
				return true
			}
		}
		return false
	}); err != nil {
		t.Fatalf("waiting for the %s modal: %v", callbackID, err)
	}
	return v
}

func threadTexts(w *world, ts string) string {
	var b strings.Builder
	for _, m := range w.Slack.Thread(demoChannel, ts) {
		b.WriteString(m.Text + "\n")
	}
	return b.String()
}

// TestE2ELinkExisting links errors to existing issues by URL, identifier
// and search through the real modal, and checks every bad input comes back
// inline with nothing changed.
func TestE2ELinkExisting(t *testing.T) {
	t.Parallel()
	for name, dbURL := range databaseURLs(t) {
		t.Run(name, func(t *testing.T) {
			w, ctx := trackWorld(t, dbURL(t), nil)
			target := seedLinearIssue(t, w, "Checkout form crashes on submit")

			open := func(t *testing.T, errorID string) (string, fakeslack.View) {
				ts := postAlert(t, ctx, w, alertFor(errorID))
				n := len(w.Slack.Views())
				if _, err := w.Slack.ClickButton(ctx, demoUser, demoChannel, ts, "link_issue"); err != nil {
					t.Fatalf("click Link existing: %v", err)
				}
				return ts, waitView(t, ctx, w, "link_issue", n)
			}

			bad := []struct{ name, input, wantErr string }{
				{"malformed", "not an issue", "doesn't look like a Linear issue"},
				{"unknown", "ENG-999", "No issue ENG-999"},
				{"other workspace", "https://linear.app/globex/issue/" + target.Identifier, "another Linear workspace"},
			}
			for i, b := range bad {
				t.Run("bad input "+b.name, func(t *testing.T) {
					errorID := "prl_bad_" + string(rune('a'+i))
					ts, v := open(t, errorID)
					if err := w.Slack.SetInput(v.ID, "issue_ref", fakeslack.InputValue{Value: b.input}); err != nil {
						t.Fatal(err)
					}
					if _, err := w.Slack.SubmitView(ctx, demoUser, v.ID); err != nil {
						t.Fatalf("submit: %v", err)
					}
					got, _ := w.Slack.View(v.ID)
					if !got.Open || !strings.Contains(got.Errors["issue_ref"], b.wantErr) {
						t.Errorf("inline errors = %v (open %v), want %q on issue_ref", got.Errors, got.Open, b.wantErr)
					}
					if _, err := w.Main.Service.Link(ctx, errorID); err == nil {
						t.Errorf("a refused link was stored")
					}
					if th := threadTexts(w, ts); th != "" {
						t.Errorf("a refused link wrote in the thread: %q", th)
					}
				})
			}

			good := []struct {
				name  string
				input func(t *testing.T, v fakeslack.View)
			}{
				{"by url", func(t *testing.T, v fakeslack.View) {
					_ = w.Slack.SetInput(v.ID, "issue_ref", fakeslack.InputValue{Value: "<" + target.URL + "?focus=1|" + target.Identifier + ">"})
				}},
				{"by identifier", func(t *testing.T, v fakeslack.View) {
					_ = w.Slack.SetInput(v.ID, "issue_ref", fakeslack.InputValue{Value: strings.ToLower(target.Identifier)})
				}},
				{"by search", func(t *testing.T, v fakeslack.View) {
					ack, err := w.Slack.Suggest(ctx, demoUser, v.ID, "issue_search", "checkout crashes")
					if err != nil {
						t.Fatalf("suggest: %v", err)
					}
					if !bytes.Contains(ack.Payload, []byte(target.Identifier)) {
						t.Fatalf("search options %s lack %s", ack.Payload, target.Identifier)
					}
					if _, err := w.Slack.SelectOption(ctx, demoUser, v.ID, "issue_search", target.ID); err != nil {
						t.Fatalf("pick: %v", err)
					}
				}},
			}
			for i, g := range good {
				t.Run(g.name, func(t *testing.T) {
					errorID := "prl_good_" + string(rune('a'+i))
					ts, v := open(t, errorID)
					g.input(t, v)
					if _, err := w.Slack.SubmitView(ctx, demoUser, v.ID); err != nil {
						t.Fatalf("submit: %v", err)
					}
					if err := w.Slack.Wait(ctx, func() bool { return strings.Contains(threadTexts(w, ts), target.Identifier) }); err != nil {
						t.Fatalf("no thread reply: %v", err)
					}
					th := threadTexts(w, ts)
					if !strings.Contains(th, "Linked") || strings.Contains(th, "Created") {
						t.Errorf("thread = %q, want it to say linked, never created", th)
					}
					link, err := w.Main.Service.Link(ctx, errorID)
					if err != nil || link.IssueID != target.ID || link.Kind != alert.LinkLinked {
						t.Errorf("link = %+v, %v", link, err)
					}
					var attached bool
					for _, at := range w.Linear.Attachments(target.ID) {
						attached = attached || at.URL == alertFor(errorID)["url"]
					}
					if !attached {
						t.Errorf("the error is not attached to %s in Linear", target.Identifier)
					}
					if err := w.Slack.Wait(ctx, func() bool {
						m, _ := w.Slack.Message(demoChannel, ts)
						return strings.Contains(string(m.Blocks), target.Identifier)
					}); err != nil {
						t.Errorf("the alert message does not show %s", target.Identifier)
					}
				})
			}
			if n := len(w.Linear.Issues()); n != 1 {
				t.Errorf("Linear has %d issues; linking must create none", n)
			}
		})
	}
}

// TestE2EStatusByWebhook moves the issue in Linear: the signed webhook
// updates the alert and notes the transition; forged, stale and replayed
// deliveries change nothing.
func TestE2EStatusByWebhook(t *testing.T) {
	t.Parallel()
	for name, dbURL := range databaseURLs(t) {
		t.Run(name, func(t *testing.T) {
			w, ctx := trackWorld(t, dbURL(t), map[string]string{"LINEAR_POLL_INTERVAL": "0"})
			res := createThenMove(t, ctx, w, "In Progress")
			if err := w.Slack.Wait(ctx, func() bool {
				m, _ := w.Slack.Message(demoChannel, res.AlertTS)
				return strings.Contains(string(m.Blocks), "In Progress") && strings.Contains(threadTexts(w, res.AlertTS), "moved to *In Progress*")
			}); err != nil {
				t.Fatalf("the webhook did not update the alert and thread: %v", err)
			}

			hooks := w.Linear.Webhooks()
			last := hooks[len(hooks)-1]
			before, _ := w.Main.Service.Link(ctx, "prl_9f2c1a")
			msgBefore, _ := w.Slack.Message(demoChannel, res.AlertTS)
			threadBefore := len(w.Slack.Thread(demoChannel, res.AlertTS))

			// A body that says Done, forged, stale, or replayed.
			var body map[string]any
			_ = json.Unmarshal(last.Body, &body)
			data := body["data"].(map[string]any)
			data["state"] = map[string]any{"id": "x", "name": "Done", "type": "completed"}
			forged, _ := json.Marshal(body)
			body["webhookTimestamp"] = time.Now().Add(-5 * time.Minute).UnixMilli()
			stale, _ := json.Marshal(body)
			staleHeader := webhook.SignedHeader([]byte(linearHookSecret), stale, uuid.NewString(), "Issue")

			cases := []struct {
				name   string
				header http.Header
				body   []byte
				want   int
			}{
				{"bad signature", last.Header, forged, http.StatusUnauthorized},
				{"old timestamp", staleHeader, stale, http.StatusBadRequest},
				{"replayed delivery", last.Header, last.Body, http.StatusOK},
			}
			for _, c := range cases {
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+w.Main.Addr()+"/webhooks/linear", bytes.NewReader(c.body))
				req.Header = c.header.Clone()
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != c.want {
					t.Errorf("%s: status %d, want %d", c.name, resp.StatusCode, c.want)
				}
			}
			// A delivery answered 200 is a job before its answer: once the
			// queue is idle, a wrongly accepted one has been applied.
			if err := w.Slack.Wait(ctx, func() bool {
				st, err := w.Main.DB.QueueStats(ctx)
				return err == nil && st.Queued == 0 && st.Running == 0
			}); err != nil {
				t.Fatalf("the job queue never went idle: %v", err)
			}
			after, _ := w.Main.Service.Link(ctx, "prl_9f2c1a")
			msgAfter, _ := w.Slack.Message(demoChannel, res.AlertTS)
			if after.StateName != before.StateName || !after.UpdatedAt.Equal(before.UpdatedAt) {
				t.Errorf("link changed from %s to %s", before.StateName, after.StateName)
			}
			if msgAfter.Edits != msgBefore.Edits || len(w.Slack.Thread(demoChannel, res.AlertTS)) != threadBefore {
				t.Errorf("Slack changed after rejected deliveries")
			}
		})
	}
}

// createThenMove walks the demo alert to an issue, then moves the issue to
// state in Linear and waits until its webhooks are delivered.
func createThenMove(t *testing.T, ctx context.Context, w *world, state string) flowResult {
	t.Helper()
	res, err := walkAlert(ctx, w, demoAlert(), nopWriter{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Linear.SetIssueState(res.Identifier, state); err != nil {
		t.Fatal(err)
	}
	w.Linear.WaitWebhooks()
	return res
}

type nopWriter struct{}

func (nopWriter) Write(p []byte) (int, error) { return len(p), nil }

// TestE2EPollerAlone turns webhooks off: the poller alone brings a status
// change through.
func TestE2EPollerAlone(t *testing.T) {
	t.Parallel()
	w, ctx := trackWorld(t, "", map[string]string{"LINEAR_POLL_INTERVAL": "1s"})
	w.Linear.DisableWebhookDelivery(true)
	res, err := walkAlert(ctx, w, demoAlert(), nopWriter{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Linear.SetIssueState(res.Identifier, "Done"); err != nil {
		t.Fatal(err)
	}
	if err := w.Slack.Wait(ctx, func() bool {
		l, _ := w.Main.Service.Link(ctx, "prl_9f2c1a")
		return l.StateType == "completed" && strings.Contains(threadTexts(w, res.AlertTS), "was completed")
	}); err != nil {
		t.Fatalf("the poller did not bring the change: %v", err)
	}
	if n := len(w.Linear.Webhooks()); n != 0 {
		t.Errorf("%d webhooks were delivered; this test is about the poller", n)
	}
}

// TestE2ERegressionOffersReopen closes the issue, sends the error again,
// and reopens it from the alert.
func TestE2ERegressionOffersReopen(t *testing.T) {
	t.Parallel()
	for name, dbURL := range databaseURLs(t) {
		t.Run(name, func(t *testing.T) {
			w, ctx := trackWorld(t, dbURL(t), map[string]string{"LINEAR_POLL_INTERVAL": "0"})
			res := createThenMove(t, ctx, w, "Done")
			if err := w.Slack.Wait(ctx, func() bool {
				l, _ := w.Main.Service.Link(ctx, "prl_9f2c1a")
				return l.Closed()
			}); err != nil {
				t.Fatal(err)
			}
			again := demoAlert()
			again["trigger"] = "regression"
			if status, _, err := w.sendAlert(ctx, again); err != nil || status != http.StatusAccepted {
				t.Fatalf("regression alert: %d %v", status, err)
			}
			reopen := "Reopen " + res.Identifier
			if err := w.Slack.Wait(ctx, func() bool {
				m, _ := w.Slack.Message(demoChannel, res.AlertTS)
				return slicesContains(buttonTexts(m.Blocks), reopen) && strings.Contains(threadTexts(w, res.AlertTS), "the error is back")
			}); err != nil {
				m, _ := w.Slack.Message(demoChannel, res.AlertTS)
				t.Fatalf("want %q and a thread note, got buttons %v: %v", reopen, buttonTexts(m.Blocks), err)
			}
			m, _ := w.Slack.Message(demoChannel, res.AlertTS)
			if !strings.Contains(string(m.Blocks), "was completed") {
				t.Errorf("the alert does not say the issue was completed: %s", m.Blocks)
			}
			if _, err := w.Slack.ClickButton(ctx, demoUser, demoChannel, res.AlertTS, "reopen_issue"); err != nil {
				t.Fatalf("click Reopen: %v", err)
			}
			if err := w.Slack.Wait(ctx, func() bool {
				is, _ := w.Linear.Issue(res.Identifier)
				return is.State.Type == "started" && len(w.Linear.Comments(is.ID)) == 1
			}); err != nil {
				t.Fatalf("Reopen did not move the issue back with a comment: %v", err)
			}
			if err := w.Slack.Wait(ctx, func() bool {
				m, _ := w.Slack.Message(demoChannel, res.AlertTS)
				return !slicesContains(buttonTexts(m.Blocks), reopen) && strings.Contains(string(m.Blocks), "In Progress")
			}); err != nil {
				t.Errorf("the alert did not show the reopened issue: %v", err)
			}
		})
	}
}

// TestE2ETwoReplicasOneIssue runs two replicas on one database, both
// connected to Slack; two people create an issue for one error at the
// same moment, each payload landing on a different replica.
func TestE2ETwoReplicasOneIssue(t *testing.T) {
	t.Parallel()
	for name, dbURL := range databaseURLs(t) {
		t.Run(name, func(t *testing.T) {
			w, ctx := trackWorld(t, dbURL(t), nil)
			second := NewMain(w.Main.Config, testLogger(t))
			if err := second.Open(ctx); err != nil {
				t.Fatal(err)
			}
			defer second.Close()
			w.applyPace(second)
			runCtx, stop := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() { done <- second.Run(runCtx) }()
			defer func() { stop(); <-done }()
			if err := w.Slack.WaitConnections(ctx, 2); err != nil {
				t.Fatal(err)
			}
			w.Slack.AddUser(fakeslack.User{ID: "U0BOB", Name: "bob"})

			ts := postAlert(t, ctx, w, demoAlert())
			var views []fakeslack.View
			for _, u := range []string{demoUser, "U0BOB"} {
				n := len(w.Slack.Views())
				if _, err := w.Slack.ClickButton(ctx, u, demoChannel, ts, "create_issue"); err != nil {
					t.Fatal(err)
				}
				v := waitView(t, ctx, w, "create_issue", n)
				if err := w.Slack.Wait(ctx, func() bool {
					cur, _ := w.Slack.View(v.ID)
					return len(elementOptions(cur.Blocks, "assignee")) > 0
				}); err != nil {
					t.Fatal(err)
				}
				views = append(views, v)
			}
			var wg sync.WaitGroup
			for i, v := range views {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, _ = w.Slack.SubmitView(ctx, []string{demoUser, "U0BOB"}[i], v.ID)
				}()
			}
			wg.Wait()
			if err := waitViewsShow(ctx, w, views, "ENG-1"); err != nil {
				t.Errorf("both modals should name ENG-1: %v", err)
			}
			if n := len(w.Linear.Issues()); n != 1 {
				t.Errorf("Linear has %d issues, want 1", n)
			}
			conns := map[int]bool{}
			for _, e := range w.Slack.Envelopes() {
				conns[e.Conn] = true
			}
			if len(conns) < 2 {
				t.Errorf("every envelope went to one connection; the test did not exercise two replicas")
			}
		})
	}
}
