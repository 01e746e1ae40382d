package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/proliferate/proliferate-linear/httpapi"
	"github.com/proliferate/proliferate-linear/linear/fakelinear"
)

// scrape reads /metrics the way Prometheus does.
func scrape(t *testing.T, ctx context.Context, w *world) map[string]*dto.MetricFamily {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+w.Main.Addr()+metricsPath, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics = %d", resp.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("/metrics is not the Prometheus text format: %v", err)
	}
	return fams
}

// value sums the samples of family name whose labels include want (a
// histogram's sample count), and says whether there was any.
func value(fams map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	f, ok := fams[name]
	if !ok {
		return 0, false
	}
	sum, found := 0.0, false
next:
	for _, m := range f.Metric {
		labels := map[string]string{}
		for _, l := range m.Label {
			labels[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if labels[k] != v {
				continue next
			}
		}
		found = true
		switch {
		case m.Counter != nil:
			sum += m.Counter.GetValue()
		case m.Gauge != nil:
			sum += m.Gauge.GetValue()
		case m.Histogram != nil:
			sum += float64(m.Histogram.GetSampleCount())
		}
	}
	return sum, found
}

type expect struct {
	name   string
	labels map[string]string
	want   float64
}

func check(t *testing.T, fams map[string]*dto.MetricFamily, exps []expect) {
	t.Helper()
	for _, e := range exps {
		got, ok := value(fams, e.name, e.labels)
		if !ok {
			t.Errorf("%s%v: not exported", e.name, e.labels)
		} else if got != e.want {
			t.Errorf("%s%v = %v, want %v", e.name, e.labels, got, e.want)
		}
	}
}

func l(kv ...string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// TestMetricsAfterAlertToIssue runs the real Main through the alert →
// Create Linear Issue loop against the fakes (Slack rate-limits the first
// post once), a repeat of the alert and a forged one, then scrapes
// /metrics and finds each metric with the value the loop implies: the
// Slack, Linear and Socket Mode counts equal to what the fakes themselves
// recorded, one create job done, one issueCreate document, one alert
// posted, an empty queue of every kind.
func TestMetricsAfterAlertToIssue(t *testing.T) {
	t.Parallel()
	for name, dbURL := range databaseURLs(t) {
		t.Run(name, func(t *testing.T) { testMetricsLoop(t, dbURL(t)) })
	}
}

func testMetricsLoop(t *testing.T, dbURL string) {
	w, ctx := startTestWorld(t, dbURL)
	w.Slack.RateLimit("chat.postMessage", 1, time.Second)
	res, err := walkAlert(ctx, w, demoAlert(), io.Discard)
	if err != nil {
		t.Fatalf("walk: %v", err)
	}
	// The same error again: folded into its message.
	if status, body, err := w.sendAlert(ctx, demoAlert()); err != nil || status != http.StatusAccepted {
		t.Fatalf("repeat alert: %d %s %v", status, body, err)
	}
	// A forged alert: refused.
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+w.Main.Addr()+"/api/v1/alerts", strings.NewReader(`{"issue_id":"x","url":"https://x"}`))
	ts, _ := httpapi.SignAlert("wrong-secret-0123456789", time.Now(), []byte(`{}`))
	req.Header.Set("X-Proliferate-Timestamp", ts)
	req.Header.Set("X-Proliferate-Signature", "v1=00")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("forged alert: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	// Let the queue finish the repeat's update.
	if err := w.Slack.Wait(ctx, func() bool {
		s, err := w.Main.DB.QueueStats(ctx)
		return err == nil && s.Queued == 0 && s.Running == 0
	}); err != nil {
		t.Fatalf("queue never drained: %v", err)
	}

	// Linear may still be asked something in the background (the Home,
	// the poller): take a scrape between two equal counts of the fake. A
	// job's run is counted just after its row leaves the queue, so the
	// scrape also waits (briefly) until the render jobs' runs have caught
	// up with the message's edits; the checks below still say if not.
	var fams map[string]*dto.MetricFamily
	var linearRequests int
	for range 100 {
		before := w.Linear.CountRequests("")
		fams = scrape(t, ctx, w)
		renders, _ := value(fams, "proliferate_linear_job_runs_total", l("kind", "render_alert", "outcome", "done"))
		if linearRequests = w.Linear.CountRequests(""); linearRequests == before && renders == float64(1+editsOf(w, res.AlertTS)) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}

	exps := []expect{
		{"proliferate_linear_build_info", l("version", version), 1},
		// HTTP and the webhook.
		{"proliferate_linear_http_requests_total", l("route", "/api/v1/alerts", "method", "POST", "code", "202"), 2},
		{"proliferate_linear_http_requests_total", l("route", "/api/v1/alerts", "method", "POST", "code", "401"), 1},
		{"proliferate_linear_http_request_duration_seconds", l("route", "/api/v1/alerts"), 3},
		{"proliferate_linear_webhook_alerts_total", l("outcome", "accepted"), 1},
		{"proliferate_linear_webhook_alerts_total", l("outcome", "folded"), 1},
		{"proliferate_linear_webhook_alerts_total", l("outcome", "rejected"), 1},
		// The work engine: drained, nothing dead; the 429 cost the render
		// job one retry; one create job ran once; one alert was posted.
		{"proliferate_linear_jobs", nil, 0},
		{"proliferate_linear_jobs_attempts", nil, 0},
		{"proliferate_linear_oldest_job_age_seconds", nil, 0},
		{"proliferate_linear_queue_stats_up", nil, 1},
		{"proliferate_linear_job_runs_total", l("kind", "render_alert", "outcome", "retried"), 1},
		{"proliferate_linear_job_runs_total", l("kind", "create_issue", "outcome", "done"), 1},
		{"proliferate_linear_job_runs_total", l("kind", "create_issue"), 1},
		{"proliferate_linear_jobs", l("state", "dead"), 0},
		{"proliferate_linear_job_run_duration_seconds", l("kind", "create_issue"), 1},
		{"proliferate_linear_alert_post_delay_seconds", nil, 1},
		// Socket Mode.
		{"proliferate_linear_socket_mode_connected", nil, 1},
		{"proliferate_linear_socket_mode_connections_total", nil, 1},
		{"proliferate_linear_socket_mode_reconnects_total", l("reason", "lost"), 0},
		{"proliferate_linear_socket_mode_reconnects_total", l("reason", "disconnect"), 0},
		// Slack: the one 429.
		{"proliferate_linear_slack_rate_limited_total", l("method", "chat.postMessage"), 1},
		{"proliferate_linear_slack_requests_total", l("method", "chat.postMessage", "code", "429"), 1},
		// Linear: one issueCreate document, every request counted, no error.
		{"proliferate_linear_linear_requests_total", l("operation", "createIssue", "class", "ok"), 1},
		{"proliferate_linear_linear_requests_total", l("operation", "issuesForURL", "class", "ok"), float64(w.Linear.CountRequests("issuesForURL"))},
		{"proliferate_linear_linear_requests_total", l("class", "ok"), float64(linearRequests)},
		{"proliferate_linear_linear_requests_total", nil, float64(linearRequests)},
		{"proliferate_linear_linear_request_duration_seconds", l("operation", "createIssue"), 1},
		{"proliferate_linear_linear_ratelimit_remaining", l("kind", "requests"), 4999},
		{"proliferate_linear_linear_ratelimit_remaining", l("kind", "complexity"), 2999000},
		// OAuth is off: no refresh, no reconnect gauge.
		{"proliferate_linear_linear_oauth_refreshes_total", nil, 0},
	}
	// Every kind the dispatcher runs is there in every state.
	for _, k := range w.Main.Dispatcher.Kinds() {
		for _, st := range jobStates {
			exps = append(exps, expect{"proliferate_linear_jobs", l("kind", string(k), "state", string(st)), 0})
		}
	}
	// Every Web API call the fake answered 200 was counted.
	posts := 0
	for _, method := range []string{"chat.postMessage", "chat.update", "views.open", "views.update"} {
		n := 0
		for _, c := range w.Slack.Calls(method) {
			if c.Status == http.StatusOK {
				n++
			}
		}
		if n == 0 {
			t.Fatalf("the loop made no %s call", method)
		}
		if method == "chat.postMessage" {
			posts = n
		}
		exps = append(exps, expect{"proliferate_linear_slack_requests_total", l("method", method, "code", "200"), float64(n)})
	}
	// Each message the bot posted (the alert, its thread notes) is one job
	// done; every envelope Slack saw acked was measured.
	exps = append(exps, expect{"proliferate_linear_job_runs_total", l("kind", "render_alert", "outcome", "done"), float64(1 + editsOf(w, res.AlertTS))})
	exps = append(exps, expect{"proliferate_linear_job_runs_total", l("kind", "thread_note", "outcome", "done"), float64(posts - 1)})
	acked := map[string]int{}
	for _, e := range w.Slack.Envelopes() {
		if e.Acked {
			acked[e.Type]++
		}
	}
	if acked["interactive"] < 3 {
		t.Errorf("the fake saw %d interactive envelopes acked, want the click, the team pick and the submit", acked["interactive"])
	}
	for typ, n := range acked {
		exps = append(exps, expect{"proliferate_linear_socket_mode_ack_duration_seconds", l("type", typ), float64(n)})
	}
	check(t, fams, exps)
	if v, _ := value(fams, "proliferate_linear_job_runs_total", l("outcome", "dead")); v != 0 {
		t.Errorf("%v job runs ended dead, want none", v)
	}
	if _, ok := value(fams, "proliferate_linear_linear_oauth_needs_reconnect", nil); ok {
		t.Errorf("linear_oauth_needs_reconnect exported without OAuth")
	}

	// A refusal from Linear is counted by its class, and the exhausted
	// rate limit shows.
	w.Linear.FailNext("searchIssues", 1, fakelinear.RateLimited)
	if _, err := w.Main.apiKey.SearchIssues(ctx, "checkout", 5); err == nil {
		t.Fatal("the rate-limited search succeeded")
	}
	check(t, scrape(t, ctx, w), []expect{
		{"proliferate_linear_linear_requests_total", l("operation", "searchIssues", "class", "ratelimited"), 1},
		{"proliferate_linear_linear_ratelimit_remaining", l("kind", "requests"), 0},
	})
	// A dropped websocket: one reconnect.
	w.Slack.DropConnections()
	if err := w.Slack.Wait(ctx, func() bool { return w.Main.Bot.SocketConnections() == 2 && w.Main.Bot.Connected() }); err != nil {
		t.Fatalf("no reconnect: %v", err)
	}
	check(t, scrape(t, ctx, w), []expect{
		{"proliferate_linear_socket_mode_connections_total", nil, 2},
		{"proliferate_linear_socket_mode_reconnects_total", l("reason", "lost"), 1},
		{"proliferate_linear_socket_mode_connected", nil, 1},
	})
	if t.Failed() {
		var b bytes.Buffer
		for name := range fams {
			if strings.HasPrefix(name, "proliferate_linear_") {
				fmt.Fprintln(&b, name)
			}
		}
		t.Logf("exported: %s", b.String())
	}
}

// editsOf is how many times the alert message at ts was edited.
func editsOf(w *world, ts string) int {
	m, _ := w.Slack.Message(demoChannel, ts)
	return m.Edits
}

func TestRouteOf(t *testing.T) {
	for path, want := range map[string]string{
		"/api/v1/alerts":                               "/api/v1/alerts",
		"/api/v1/errors/prl_1/links":                   "/api/v1/errors/{issue_id}/links",
		"/api/v1/integrations/linear/teams/t1/members": "/api/v1/integrations/linear/teams/{id}/members",
		"/api/v1/integrations/linear/callback/confirm": "/api/v1/integrations/linear/callback/confirm",
		"/wp-login.php":                                "other",
		"/metrics":                                     "/metrics",
	} {
		if got := routeOf(path); got != want {
			t.Errorf("routeOf(%q) = %q, want %q", path, got, want)
		}
	}
}
