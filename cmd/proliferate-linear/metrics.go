package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/bot"
	"github.com/proliferate/proliferate-linear/linear"
	"github.com/proliferate/proliferate-linear/linear/oauth"
	"github.com/proliferate/proliferate-linear/store"
)

// metricsPath serves the Prometheus metrics on the HTTP listener. It is
// not one of the Ingress's public routes (deploy/kubernetes/ingress.yaml).
const metricsPath = "/metrics"

// metrics is what /metrics exports. Counters and histograms are fed by
// the HTTP middleware and the instrumented Slack and Linear transports
// built in cmd; queue depth and the Socket Mode connection are read at
// scrape time, so they are never stale. One registry per Main keeps tests
// with several Mains apart.
type metrics struct {
	reg *prometheus.Registry
	// bot is set once Open has built it (scrapes start before: the alert
	// webhook serves while Slack is still being reached).
	bot atomic.Pointer[bot.Bot]
	// ackTap, when set before Run, is told of every ack too (the bench's
	// bot-side ack figures).
	ackTap func(kind string, took time.Duration)

	httpRequests *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec
	alerts       *prometheus.CounterVec
	// The series the handler feeds, resolved once (requestsOf, durationOf).
	requests  sync.Map // requestKey → prometheus.Counter
	durations sync.Map // route → prometheus.Observer
	// alerts' three series.
	alertsAccepted, alertsFolded, alertsRejected prometheus.Counter
	jobRuns                                      *prometheus.CounterVec
	jobDuration                                  *prometheus.HistogramVec
	postDelay                                    prometheus.Histogram
	reconnects                                   *prometheus.CounterVec
	ackDuration                                  *prometheus.HistogramVec
	slackCalls                                   *prometheus.CounterVec
	slack429s                                    *prometheus.CounterVec
	linearReqs                                   *prometheus.CounterVec
	linearDuration                               *prometheus.HistogramVec
	linearLimit                                  *prometheus.GaugeVec
	oauthRefreshes                               *prometheus.CounterVec
}

// latencyBuckets suit calls that take milliseconds to seconds.
var latencyBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

func newMetrics(m *Main) *metrics {
	const ns = "proliferate_linear"
	mt := &metrics{
		reg: prometheus.NewRegistry(),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "http_requests_total",
			Help: "HTTP requests served, by route, method and status code."}, []string{"route", "method", "code"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "http_request_duration_seconds",
			Help:    "HTTP request latency by route.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}}, []string{"route"}),
		alerts: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "webhook_alerts_total",
			Help: "Alerts received on the webhook: accepted (a new alert), folded (a repeat folded into its message) or rejected (4xx/5xx)."}, []string{"outcome"}),
		slackCalls: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "slack_requests_total",
			Help: "Slack Web API calls by method and HTTP status code (0: no answer)."}, []string{"method", "code"}),
		slack429s: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "slack_rate_limited_total",
			Help: "Slack Web API calls answered 429, by method."}, []string{"method"}),
		jobRuns: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "job_runs_total",
			Help: "Runs (attempts) of durable jobs by kind and outcome: done, retried, postponed (no attempt counted), dead, handed_back (shutdown), lease_lost."}, []string{"kind", "outcome"}),
		jobDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "job_run_duration_seconds",
			Help: "How long a job's handler ran, by kind.", Buckets: latencyBuckets}, []string{"kind"}),
		postDelay: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Name: "alert_post_delay_seconds",
			Help:    "From an alert's acceptance (webhook 202 or Slack message) to its message posted in Slack.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300}}),
		reconnects: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "socket_mode_reconnects_total",
			Help: "Socket Mode connections replaced: disconnect (Slack asked) or lost (the connection ended)."}, []string{"reason"}),
		ackDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "socket_mode_ack_duration_seconds",
			Help:    "From reading a Socket Mode envelope to writing its ack (Slack allows 3 s), by envelope type.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 3}}, []string{"type"}),
		linearReqs: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "linear_requests_total",
			Help: "Linear GraphQL requests by operation and outcome: ok, or the error class (Linear's extensions.code in lower case, http_<status>, transport)."}, []string{"operation", "class"}),
		linearDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "linear_request_duration_seconds",
			Help: "Linear GraphQL request latency by operation.", Buckets: latencyBuckets}, []string{"operation"}),
		oauthRefreshes: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "linear_oauth_refreshes_total",
			Help: "Linear OAuth token refreshes by outcome: ok, failed (tried again later), refused (the grant is dead: reconnect)."}, []string{"outcome"}),
		linearLimit: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "linear_ratelimit_remaining",
			Help: "What Linear last said remains of its rate limits (X-RateLimit-{Requests,Complexity}-Remaining)."}, []string{"kind"}),
	}
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "build_info",
		Help: "Always 1; the labels say which build runs."}, []string{"version", "goversion"})
	build.WithLabelValues(version, runtime.Version()).Set(1)
	connected := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Name: "socket_mode_connected",
		Help: "1 while this replica's Socket Mode connection is up."}, func() float64 {
		if b := mt.bot.Load(); b != nil && b.Connected() {
			return 1
		}
		return 0
	})
	connections := prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: ns, Name: "socket_mode_connections_total",
		Help: "Socket Mode connections Slack greeted (hello) since start: 1 plus the reconnects."}, func() float64 {
		if b := mt.bot.Load(); b != nil {
			return float64(b.SocketConnections())
		}
		return 0
	})
	// Series that should read 0 before anything happened.
	for _, r := range []string{"disconnect", "lost"} {
		mt.reconnects.WithLabelValues(r)
	}
	for _, o := range []string{oauth.RefreshOK, oauth.RefreshFailed, oauth.RefreshRefused} {
		mt.oauthRefreshes.WithLabelValues(o)
	}
	mt.alertsAccepted = mt.alerts.WithLabelValues("accepted")
	mt.alertsFolded = mt.alerts.WithLabelValues("folded")
	mt.alertsRejected = mt.alerts.WithLabelValues("rejected")
	mt.reg.MustRegister(connections, mt.httpRequests, mt.httpDuration, mt.alerts, mt.jobRuns, mt.jobDuration, mt.postDelay,
		mt.reconnects, mt.ackDuration, mt.slackCalls, mt.slack429s, mt.linearReqs, mt.linearDuration, mt.linearLimit,
		mt.oauthRefreshes, build, connected, &stateCollector{m: m},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return mt
}

// stateCollector reads, at scrape time, the durable queue (one GROUP BY,
// never a count kept per job) and the Linear OAuth connection's health.
type stateCollector struct{ m *Main }

var (
	jobsDesc = prometheus.NewDesc("proliferate_linear_jobs",
		"Jobs in the durable queue by kind and state (queued, running, dead: buried for an operator).", []string{"kind", "state"}, nil)
	attemptsDesc = prometheus.NewDesc("proliferate_linear_jobs_attempts",
		"Attempts made so far by the jobs in the queue, by kind and state.", []string{"kind", "state"}, nil)
	ageDesc       = prometheus.NewDesc("proliferate_linear_oldest_job_age_seconds", "How long the oldest queued job has been due (0 if none is).", nil, nil)
	upDesc        = prometheus.NewDesc("proliferate_linear_queue_stats_up", "1 if the queue could be read at this scrape.", nil, nil)
	reconnectDesc = prometheus.NewDesc("proliferate_linear_linear_oauth_needs_reconnect",
		"1 while the Linear OAuth connection is marked as needing a reconnect (/proliferate-linear connect); only with OAuth.", nil, nil)
)

func (q *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{jobsDesc, attemptsDesc, ageDesc, upDesc, reconnectDesc} {
		ch <- d
	}
}

// jobStates are the states a stored job can be in.
var jobStates = []alert.JobStatus{alert.JobQueued, alert.JobRunning, alert.JobDead}

func (q *stateCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	q.collectOAuth(ctx, ch)
	if q.m.DB == nil {
		ch <- prometheus.MustNewConstMetric(upDesc, prometheus.GaugeValue, 0)
		return
	}
	s, err := q.m.DB.QueueStats(ctx)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(upDesc, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(upDesc, prometheus.GaugeValue, 1)
	// Every kind the dispatcher runs reads 0 in every state when it has no
	// jobs, so a series never vanishes; kinds only the store knows (an
	// older or newer replica's) appear as they are.
	type key struct {
		kind  alert.JobKind
		state alert.JobStatus
	}
	counts := map[key]store.KindCount{}
	for _, c := range s.ByKind {
		counts[key{c.Kind, c.State}] = c
	}
	if d := q.m.Dispatcher; d != nil {
		for _, k := range d.Kinds() {
			for _, st := range jobStates {
				if _, ok := counts[key{k, st}]; !ok {
					counts[key{k, st}] = store.KindCount{Kind: k, State: st}
				}
			}
		}
	}
	for k, c := range counts {
		ch <- prometheus.MustNewConstMetric(jobsDesc, prometheus.GaugeValue, float64(c.Jobs), string(k.kind), string(k.state))
		ch <- prometheus.MustNewConstMetric(attemptsDesc, prometheus.GaugeValue, float64(c.Attempts), string(k.kind), string(k.state))
	}
	ch <- prometheus.MustNewConstMetric(ageDesc, prometheus.GaugeValue, oldestAge(s, time.Now()))
}

// collectOAuth reports whether the OAuth connection needs a reconnect.
func (q *stateCollector) collectOAuth(ctx context.Context, ch chan<- prometheus.Metric) {
	if q.m.Manager == nil {
		return
	}
	v := 0.0
	c, err := q.m.Manager.Connection(ctx, q.m.SlackTeamID)
	switch {
	case err == nil && c.Status == alert.ConnectionNeedsReconnect:
		v = 1
	case err != nil && !errors.Is(err, alert.ErrNotConnected):
		return // unknown: no sample rather than a wrong one.
	}
	ch <- prometheus.MustNewConstMetric(reconnectDesc, prometheus.GaugeValue, v)
}

// oldestAge is how long the oldest queued job has been due, in seconds.
func oldestAge(s store.QueueStats, now time.Time) float64 {
	if s.OldestDue.IsZero() || s.OldestDue.After(now) {
		return 0
	}
	return now.Sub(s.OldestDue).Seconds()
}

// routes are the HTTP routes by pattern, so the route label stays bounded
// whatever paths clients send.
var routes = []struct{ prefix, route string }{
	{"/api/v1/errors/", "/api/v1/errors/{issue_id}/links"},
	{"/api/v1/integrations/linear/teams/", "/api/v1/integrations/linear/teams/{id}/members"},
}

var exactRoutes = map[string]bool{
	"/api/v1/alerts": true, "/webhooks/linear": true, "/healthz": true, "/readyz": true, metricsPath: true,
	"/api/v1/integrations/linear/connect": true, "/api/v1/integrations/linear/callback": true,
	"/api/v1/integrations/linear/callback/confirm": true, "/api/v1/integrations/linear/callback/cancel": true,
	"/api/v1/integrations/linear/test": true, "/api/v1/integrations/linear/teams": true,
	"/api/v1/integrations/linear/issues": true, "/api/v1/integrations/linear/disconnect": true,
}

func routeOf(path string) string {
	if exactRoutes[path] {
		return path
	}
	for _, r := range routes {
		if strings.HasPrefix(path, r.prefix) {
			return r.route
		}
	}
	return "other"
}

// handler serves /metrics and measures every other request before next.
func (mt *metrics) handler(next http.Handler) http.Handler {
	scrape := promhttp.HandlerFor(mt.reg, promhttp.HandlerOpts{})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		route := routeOf(r.URL.Path)
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		if r.URL.Path == metricsPath && r.Method == http.MethodGet {
			scrape.ServeHTTP(rec, r)
		} else {
			next.ServeHTTP(rec, r)
		}
		mt.requestsOf(route, r.Method, rec.code).Inc()
		mt.durationOf(route).Observe(time.Since(start).Seconds())
		if route == alertsRoute && r.Method == http.MethodPost && rec.code != http.StatusAccepted {
			mt.alertsRejected.Inc() // a 202 is counted by alertStored.
		}
	})
}

// alertsRoute is the alert webhook's route.
const alertsRoute = "/api/v1/alerts"

// alertStored counts an alert the webhook stored (httpapi's
// OnAlertStored): occurrences 1 is a new alert, more a repeat folded into
// its message.
func (mt *metrics) alertStored(a alert.Alert) {
	if a.Occurrences > 1 {
		mt.alertsFolded.Inc()
		return
	}
	mt.alertsAccepted.Inc()
}

// requestKey is one series of http_requests_total.
type requestKey struct {
	route, method string
	code          int
}

// requestsOf is http_requests_total's counter for a request, looked up
// once per series: WithLabelValues hashes its labels on every call.
func (mt *metrics) requestsOf(route, method string, code int) prometheus.Counter {
	k := requestKey{route, method, code}
	if c, ok := mt.requests.Load(k); ok {
		return c.(prometheus.Counter)
	}
	c := mt.httpRequests.WithLabelValues(route, method, strconv.Itoa(code))
	mt.requests.Store(k, c)
	return c
}

// durationOf is http_request_duration_seconds' observer for a route.
func (mt *metrics) durationOf(route string) prometheus.Observer {
	if o, ok := mt.durations.Load(route); ok {
		return o.(prometheus.Observer)
	}
	o := mt.httpDuration.WithLabelValues(route)
	mt.durations.Store(route, o)
	return o
}

// statusRecorder keeps the status code.
type statusRecorder struct {
	http.ResponseWriter
	code   int
	header bool
}

func (s *statusRecorder) WriteHeader(code int) {
	if !s.header {
		s.code, s.header = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	s.header = true
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the real writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// slackTransport counts Slack Web API calls by method and their 429s.
func (mt *metrics) slackTransport(base http.RoundTripper) http.RoundTripper {
	return roundTripper(func(r *http.Request) (*http.Response, error) {
		method := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
		resp, err := base.RoundTrip(r)
		code := 0
		if resp != nil {
			code = resp.StatusCode
		}
		mt.slackCalls.WithLabelValues(method, strconv.Itoa(code)).Inc()
		if code == http.StatusTooManyRequests {
			mt.slack429s.WithLabelValues(method).Inc()
		}
		return resp, err
	})
}

// linearTransport counts Linear requests by outcome and records the rate
// limit Linear reports. Linear answers most errors with a GraphQL errors
// array, so the class comes from the body's first extensions.code.
func (mt *metrics) linearTransport(base http.RoundTripper) http.RoundTripper {
	return roundTripper(func(r *http.Request) (*http.Response, error) {
		op := linear.Operation(r.Context())
		if op == "" {
			op = "other"
		}
		start := time.Now()
		resp, err := base.RoundTrip(r)
		mt.linearDuration.WithLabelValues(op).Observe(time.Since(start).Seconds())
		if err != nil {
			mt.linearReqs.WithLabelValues(op, "transport").Inc()
			return resp, err
		}
		for kind, h := range map[string]string{"requests": "X-RateLimit-Requests-Remaining", "complexity": "X-RateLimit-Complexity-Remaining"} {
			if v, err := strconv.ParseFloat(resp.Header.Get(h), 64); err == nil {
				mt.linearLimit.WithLabelValues(kind).Set(v)
			}
		}
		body, rerr := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(body))
		if rerr != nil {
			mt.linearReqs.WithLabelValues(op, "transport").Inc()
			return resp, nil // the client meets the short body and reports it
		}
		mt.linearReqs.WithLabelValues(op, linearClass(resp.StatusCode, body)).Inc()
		return resp, nil
	})
}

func linearClass(code int, body []byte) string {
	var res struct {
		Errors []struct {
			Extensions struct {
				Code string `json:"code"`
			} `json:"extensions"`
		} `json:"errors"`
	}
	_ = json.Unmarshal(body, &res)
	if len(res.Errors) > 0 && res.Errors[0].Extensions.Code != "" {
		return strings.ToLower(res.Errors[0].Extensions.Code)
	}
	switch {
	case code >= 300:
		return "http_" + strconv.Itoa(code)
	case len(res.Errors) > 0:
		return "graphql"
	}
	return "ok"
}

// EnvelopeAcked implements bot.Observer.
func (mt *metrics) EnvelopeAcked(kind string, took time.Duration) {
	mt.ackDuration.WithLabelValues(kind).Observe(took.Seconds())
	if mt.ackTap != nil {
		mt.ackTap(kind, took)
	}
}

// SocketReconnecting implements bot.Observer.
func (mt *metrics) SocketReconnecting(reason string) { mt.reconnects.WithLabelValues(reason).Inc() }

// jobEnded is the Dispatcher's OnJobEnd.
func (mt *metrics) jobEnded(kind alert.JobKind, outcome alert.JobOutcome, ran time.Duration) {
	mt.jobRuns.WithLabelValues(string(kind), string(outcome)).Inc()
	mt.jobDuration.WithLabelValues(string(kind)).Observe(ran.Seconds())
}

// alertPosted is the Dispatcher's OnAlertPosted.
func (mt *metrics) alertPosted(since time.Duration) { mt.postDelay.Observe(since.Seconds()) }

// oauthRefreshed is the OAuth token sources' OnRefresh.
func (mt *metrics) oauthRefreshed(outcome string) { mt.oauthRefreshes.WithLabelValues(outcome).Inc() }

var _ bot.Observer = (*metrics)(nil)

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
