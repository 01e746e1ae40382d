package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/httpapi"
	"github.com/proliferate/proliferate-linear/linear/fakelinear"
)

// saveRules stores routing rules (in rule syntax) through the service, as
// `/proliferate-linear rules add` does, checked against the fake Linear.
func saveRules(t *testing.T, ctx context.Context, m *Main, rules ...string) {
	t.Helper()
	var rs []alert.Rule
	for _, s := range rules {
		r, err := alert.ParseRule(s)
		if err != nil {
			t.Fatalf("ParseRule(%q): %v", s, err)
		}
		rs = append(rs, r)
	}
	if _, err := m.Service.SaveRules(ctx, rs, alert.AnyVersion); err != nil {
		t.Fatalf("SaveRules: %v", err)
	}
}

// sendAlertTo posts a signed alert to the webhook at addr (a replica's).
func sendAlertTo(ctx context.Context, w *world, addr string, payload any) (int, error) {
	body, err := json.Marshal(payload)
	if err != nil {
		return 0, err
	}
	ts, sig := httpapi.SignAlert(w.Secret, time.Now(), body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/api/v1/alerts", bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Proliferate-Timestamp", ts)
	req.Header.Set("X-Proliferate-Signature", sig)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	return resp.StatusCode, nil
}

// twoReplicas starts a second Main on w's database and fakes, and waits
// until both hold a Socket Mode connection.
func twoReplicas(t *testing.T, ctx context.Context, w *world) *Main {
	t.Helper()
	second := startReplica(t, ctx, w)
	if err := w.Slack.WaitConnections(ctx, 2); err != nil {
		t.Fatal(err)
	}
	return second
}

// TestE2ECreateInTeamOnce: the alert a rule routes to ENG offers "Create
// in ENG"; the button is double clicked and the first click delivered
// again, the three payloads spread over two replicas. Linear gets one
// issueCreate with the rule's team, assignee, priority, labels and
// project; the thread says
// once who filed it and by which rule; the alert shows the issue instead
// of the buttons.
func TestE2ECreateInTeamOnce(t *testing.T) {
	t.Parallel()
	for name, dbURL := range databaseURLs(t) {
		t.Run(name, func(t *testing.T) {
			w, ctx := trackWorld(t, dbURL(t), nil)
			saveRules(t, ctx, w.Main, "env=staging -> team=OPS", `env=production type=Type* -> team=ENG priority=high assignee=bob@acme.test labels=timeout,backend project="Q3 Reliability"`)
			twoReplicas(t, ctx, w)

			ts := postAlert(t, ctx, w, demoAlert())
			msg, _ := w.Slack.Message(demoChannel, ts)
			if got := buttonTexts(msg.Blocks); !slicesContains(got, "Create in ENG") || !slicesContains(got, "Create Linear Issue") {
				t.Fatalf("alert buttons = %v, want Create in ENG beside Create Linear Issue", got)
			}

			var (
				wg   sync.WaitGroup
				acks = make([]string, 2)
			)
			for i := range 2 {
				wg.Go(func() {
					ack, err := w.Slack.ClickButton(ctx, demoUser, demoChannel, ts, "create_routed")
					if err != nil {
						t.Error(err)
						return
					}
					acks[i] = ack.EnvelopeID
				})
			}
			wg.Wait()
			if _, err := w.Slack.Redeliver(ctx, acks[0]); err != nil {
				t.Fatal(err)
			}
			if err := w.Slack.Wait(ctx, func() bool { return strings.Contains(threadTexts(w, ts), "ENG-1") }); err != nil {
				t.Fatalf("the thread never named the issue: %v", err)
			}
			if err := w.Slack.Wait(ctx, func() bool {
				m, _ := w.Slack.Message(demoChannel, ts)
				return strings.Contains(string(m.Blocks), "ENG-1")
			}); err != nil {
				t.Fatalf("the alert message never showed ENG-1: %v", err)
			}
			waitQueueEmpty(t, ctx, w.Main)

			issues := w.Linear.Issues()
			if len(issues) != 1 || w.Linear.CountRequests("createIssue") != 1 {
				t.Fatalf("Linear has %d issues from %d createIssue documents, want 1 from 1", len(issues), w.Linear.CountRequests("createIssue"))
			}
			is := issues[0]
			if is.TeamID != fakelinear.TeamEngID || is.AssigneeID != fakelinear.UserBobID || is.Priority != int(alert.PriorityHigh) {
				t.Errorf("issue team/assignee/priority = %s/%s/%d, want the rule's ENG/bob/high", is.TeamID, is.AssigneeID, is.Priority)
			}
			if len(is.LabelIDs) != 2 || is.ProjectID == "" {
				t.Errorf("issue labels %v, project %q; want the rule's two labels and its project", is.LabelIDs, is.ProjectID)
			}
			if !strings.HasPrefix(is.Title, "TypeError") {
				t.Errorf("title = %q, want the alert's", is.Title)
			}
			th := w.Slack.Thread(demoChannel, ts)
			if len(th) != 1 || !strings.Contains(th[0].Text, "<@"+demoUser+"> filed") || !strings.Contains(th[0].Text, "(rule 2)") {
				t.Errorf("thread = %+v, want one note saying who filed ENG-1 by rule 2", th)
			}
			msg, _ = w.Slack.Message(demoChannel, ts)
			if got := buttonTexts(msg.Blocks); slicesContains(got, "Create in ENG") || slicesContains(got, "Create Linear Issue") {
				t.Errorf("tracked alert still offers %v", got)
			}
			for _, e := range w.Slack.Ephemerals() {
				t.Errorf("unexpected ephemeral to the clicker: %q", e.Text)
			}
			link, err := w.Main.Service.Link(ctx, "prl_9f2c1a")
			if err != nil || link.Identifier != "ENG-1" || link.CreatedBy != demoUser || link.Kind != alert.LinkCreated {
				t.Errorf("link = %+v, %v", link, err)
			}
			conns := map[int]bool{}
			for _, e := range w.Slack.Envelopes() {
				if e.Type == "interactive" {
					conns[e.Conn] = true
				}
			}
			if len(conns) < 2 {
				t.Errorf("the clicks went to one connection; the test did not exercise two replicas")
			}
		})
	}
}

// waitQueueEmpty waits until no job is queued or running.
func waitQueueEmpty(t *testing.T, ctx context.Context, m *Main) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		st, err := m.DB.QueueStats(ctx)
		if err == nil && st.Queued == 0 && st.Running == 0 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		case <-time.After(20 * time.Millisecond): // polling the store; nothing to wait on.
		}
	}
	t.Fatal("the job queue did not drain")
}

// TestE2EAutoRuleStorm: 300 alerts of one error, spread over two
// replicas' webhooks at once by 16 senders, match an auto rule. The issue
// is filed once (one issueCreate at Linear), the thread says so once, and
// every alert was accepted. The size is not the point (the replicas race
// for the first alerts; the bench's storm row is the big one): 1,000 cost
// 5 s of the race detector's CPU per store and proved nothing more.
func TestE2EAutoRuleStorm(t *testing.T) {
	t.Parallel()
	const storm = 300
	for name, dbURL := range databaseURLs(t) {
		t.Run(name, func(t *testing.T) {
			w, ctx := trackWorld(t, dbURL(t), nil)
			saveRules(t, ctx, w.Main, "type=*Error env=production -> team=OPS priority=urgent auto")
			second := twoReplicas(t, ctx, w)

			addrs := []string{w.Main.Addr(), second.Addr()}
			var (
				next, accepted atomic.Int64
				wg             sync.WaitGroup
			)
			start := time.Now()
			for range 16 {
				wg.Go(func() {
					for {
						i := next.Add(1)
						if i > storm {
							return
						}
						a := demoAlert()
						a["event_count"] = 148 + i
						status, err := sendAlertTo(ctx, w, addrs[i%2], a)
						if err != nil || status != http.StatusAccepted {
							t.Errorf("alert %d: %d %v", i, status, err)
							return
						}
						accepted.Add(1)
					}
				})
			}
			wg.Wait()
			intake := time.Since(start)
			if accepted.Load() != storm {
				t.Fatalf("%d of %d alerts accepted", accepted.Load(), storm)
			}
			var ts string
			if err := w.Slack.Wait(ctx, func() bool {
				ms := w.Slack.Messages(demoChannel)
				if len(ms) == 1 {
					ts = ms[0].TS
				}
				return ts != "" && strings.Contains(threadTexts(w, ts), "automatically")
			}); err != nil {
				t.Fatalf("no thread note of the automatic filing: %v", err)
			}
			waitQueueEmpty(t, ctx, w.Main)

			if n, c := len(w.Linear.Issues()), w.Linear.CountRequests("createIssue"); n != 1 || c != 1 {
				t.Fatalf("Linear has %d issues from %d createIssue documents, want 1 from 1", n, c)
			}
			is := w.Linear.Issues()[0]
			if is.TeamID != fakelinear.TeamOpsID || is.Priority != int(alert.PriorityUrgent) {
				t.Errorf("issue team/priority = %s/%d, want the rule's OPS/urgent", is.TeamID, is.Priority)
			}
			th := w.Slack.Thread(demoChannel, ts)
			if len(th) != 1 || !strings.Contains(th[0].Text, "Filed") || !strings.Contains(th[0].Text, "OPS-1") ||
				!strings.Contains(th[0].Text, "automatically by rule 1") {
				t.Errorf("thread = %+v, want one note: Filed OPS-1 automatically by rule 1", th)
			}
			if n := len(w.Slack.Messages(demoChannel)); n != 1 {
				t.Errorf("channel has %d alert messages, want 1", n)
			}
			link, err := w.Main.Service.Link(ctx, "prl_9f2c1a")
			if err != nil || link.Identifier != "OPS-1" {
				t.Errorf("link = %+v, %v", link, err)
			}
			t.Logf("figures: %d alerts over 2 replicas in %v (%.0f/s); issueCreate documents %d; thread notes %d",
				storm, intake.Round(time.Millisecond), float64(storm)/intake.Seconds(), w.Linear.CountRequests("createIssue"), len(th))
		})
	}
}

// TestE2EAutoRuleFailsInWords: an auto rule whose filing Linear refuses
// (the team or assignee became invalid since the rule was saved) leaves a
// note in the thread saying why and what to do, once, however many alerts
// follow.
func TestE2EAutoRuleFailsInWords(t *testing.T) {
	t.Parallel()
	for name, dbURL := range databaseURLs(t) {
		t.Run(name, func(t *testing.T) {
			w, ctx := trackWorld(t, dbURL(t), nil)
			saveRules(t, ctx, w.Main, "type=TypeError -> team=OPS auto")
			w.Linear.FailNext("createIssue", 100, fakelinear.InvalidInput)

			ts := postAlert(t, ctx, w, demoAlert())
			if err := w.Slack.Wait(ctx, func() bool { return strings.Contains(threadTexts(w, ts), "could not file") }); err != nil {
				t.Fatalf("no thread note of the failed filing: %v", err)
			}
			for i := range 3 {
				a := demoAlert()
				a["event_count"] = 200 + i
				if status, err := sendAlertTo(ctx, w, w.Main.Addr(), a); err != nil || status != http.StatusAccepted {
					t.Fatalf("repeat alert: %d %v", status, err)
				}
			}
			waitQueueEmpty(t, ctx, w.Main)
			th := w.Slack.Thread(demoChannel, ts)
			if len(th) != 1 {
				t.Fatalf("thread = %+v, want one note", th)
			}
			for _, want := range []string{"Rule 1 could not file", "OPS", "team or assignee is invalid", "Create Linear Issue", "/proliferate-linear rules"} {
				if !strings.Contains(th[0].Text, want) {
					t.Errorf("note %q lacks %q", th[0].Text, want)
				}
			}
			if n := len(w.Linear.Issues()); n != 0 {
				t.Errorf("Linear has %d issues, want none", n)
			}
		})
	}
}

// TestE2EChannelRule: a rule's channel= sends the webhook alerts it
// matches (naming no channel) to that channel; others, and an alert that
// names its own channel, go where they did.
func TestE2EChannelRule(t *testing.T) {
	t.Parallel()
	for name, dbURL := range databaseURLs(t) {
		t.Run(name, func(t *testing.T) {
			w, ctx := trackWorld(t, dbURL(t), nil)
			const billing, own = "C0BILLING", "C0OWN"
			w.Slack.AddChannel(billing, "billing-alerts")
			w.Slack.AddChannel(own, "own")
			saveRules(t, ctx, w.Main, "project=billing -> channel="+billing)

			send := func(id, project, channel string) {
				a := demoAlert()
				a["issue_id"], a["url"], a["project"] = id, "https://app.proliferate.dev/acme/"+project+"/issues/"+id, project
				if channel != "" {
					a["channel"] = channel
				}
				if status, err := sendAlertTo(ctx, w, w.Main.Addr(), a); err != nil || status != http.StatusAccepted {
					t.Fatalf("alert %s: %d %v", id, status, err)
				}
			}
			send("prl_bill", "billing", "")
			send("prl_web", "web", "")
			send("prl_own", "billing", own)
			if err := w.Slack.Wait(ctx, func() bool {
				return len(w.Slack.Messages(billing)) == 1 && len(w.Slack.Messages(demoChannel)) == 1 && len(w.Slack.Messages(own)) == 1
			}); err != nil {
				t.Fatalf("messages: billing %d, default %d, own %d; want 1 each: %v",
					len(w.Slack.Messages(billing)), len(w.Slack.Messages(demoChannel)), len(w.Slack.Messages(own)), err)
			}
			for ch, id := range map[string]string{billing: "prl_bill", demoChannel: "prl_web", own: "prl_own"} {
				if m := w.Slack.Messages(ch)[0]; !strings.Contains(string(m.Blocks), fmt.Sprintf("issues/%s", id)) {
					t.Errorf("%s got %s, want the alert of %s", ch, m.Blocks, id)
				}
			}
		})
	}
}

// TestE2EAutoRuleFromSlackMessage: an alert read from Proliferate's own
// Slack message (posted, then delivered again by Slack) is filed by an auto
// rule once, and the thread of Proliferate's message says so.
func TestE2EAutoRuleFromSlackMessage(t *testing.T) {
	t.Parallel()
	for name, dbURL := range databaseURLs(t) {
		t.Run(name, func(t *testing.T) {
			w, ctx := trackWorld(t, dbURL(t), nil)
			saveRules(t, ctx, w.Main, "type=RangeError env=production -> team=ENG auto")
			ts, ack, err := w.Slack.PostAsBot(ctx, demoChannel, proliferateBot,
				proliferatePost(demoSlackIssue, "New issue: RangeError: Maximum call stack size exceeded", 12, 48))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.Slack.Redeliver(ctx, ack.EnvelopeID); err != nil {
				t.Fatal(err)
			}
			if err := w.Slack.Wait(ctx, func() bool { return strings.Contains(threadTexts(w, ts), "automatically by rule 1") }); err != nil {
				t.Fatalf("thread of Proliferate's message: %q; want the automatic filing: %v", threadTexts(w, ts), err)
			}
			waitQueueEmpty(t, ctx, w.Main)
			if n, c := len(w.Linear.Issues()), w.Linear.CountRequests("createIssue"); n != 1 || c != 1 {
				t.Fatalf("Linear has %d issues from %d createIssue documents, want 1 from 1", n, c)
			}
			var filed int
			for _, m := range w.Slack.Thread(demoChannel, ts) {
				if strings.Contains(m.Text, "automatically") {
					filed++
				}
			}
			if filed != 1 {
				t.Errorf("%d notes of the filing in the thread, want 1: %q", filed, threadTexts(w, ts))
			}
		})
	}
}
