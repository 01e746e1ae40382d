package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/proliferate/proliferate-linear/bot/fakeslack"
	"github.com/proliferate/proliferate-linear/config"
	"github.com/proliferate/proliferate-linear/linear/fakelinear"
	"github.com/proliferate/proliferate-linear/store/storetest"
)

// gate is a TCP front for the fake Slack that refuses every connection
// (accepts and closes it at once, as a down load balancer does) until
// opened, then relays bytes both ways. Each refusal is signalled.
type gate struct {
	ln      net.Listener
	target  string
	open    atomic.Bool
	refused chan struct{}
	wg      sync.WaitGroup
	mu      sync.Mutex
	conns   []net.Conn
}

func newGate(t *testing.T, target string) *gate {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := &gate{ln: ln, target: target, refused: make(chan struct{}, 1024)}
	g.wg.Go(g.serve)
	t.Cleanup(func() {
		ln.Close()
		g.mu.Lock()
		for _, c := range g.conns { // idle keep-alive connections too
			c.Close()
		}
		g.mu.Unlock()
		g.wg.Wait()
	})
	return g
}

func (g *gate) url() string { return "http://" + g.ln.Addr().String() + "/" }

func (g *gate) serve() {
	for {
		c, err := g.ln.Accept()
		if err != nil {
			return
		}
		if !g.open.Load() {
			c.Close()
			select {
			case g.refused <- struct{}{}:
			default:
			}
			continue
		}
		g.wg.Go(func() { g.relay(c) })
	}
}

func (g *gate) relay(c net.Conn) {
	defer c.Close()
	up, err := net.Dial("tcp", g.target)
	if err != nil {
		return
	}
	defer up.Close()
	g.mu.Lock()
	g.conns = append(g.conns, c, up)
	g.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { io.Copy(up, c); done <- struct{}{} }()
	go func() { io.Copy(c, up); done <- struct{}{} }()
	<-done
}

// logSink collects JSON log records and signals each write, so a test can
// wait for a line instead of sleeping.
type logSink struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	wrote chan struct{}
}

func newLogSink() *logSink { return &logSink{wrote: make(chan struct{}, 1)} }

func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	s.buf.Write(p)
	s.mu.Unlock()
	select {
	case s.wrote <- struct{}{}:
	default:
	}
	return len(p), nil
}

// records are the lines logged so far, decoded.
func (s *logSink) records() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(s.buf.String()), "\n") {
		var r map[string]any
		if json.Unmarshal([]byte(line), &r) == nil {
			out = append(out, r)
		}
	}
	return out
}

// find returns the first record whose msg starts with prefix.
func (s *logSink) find(prefix string) (map[string]any, bool) {
	for _, r := range s.records() {
		if m, _ := r["msg"].(string); strings.HasPrefix(m, prefix) {
			return r, true
		}
	}
	return nil, false
}

// waitFor waits until a record whose msg starts with prefix is logged.
func (s *logSink) waitFor(ctx context.Context, prefix string) (map[string]any, error) {
	for {
		if r, ok := s.find(prefix); ok {
			return r, nil
		}
		select {
		case <-ctx.Done():
			return nil, errors.New("no log line " + prefix)
		case <-s.wrote:
		}
	}
}

// startupWorld is a Main configured against the fakes, with the Slack Web
// API behind g when g is not nil, a listener already bound and the logs
// (as the serve command builds them, durations in ms) in the returned sink.
func startupWorld(t *testing.T, fs *fakeslack.Server, fl *fakelinear.Server, g *gate, extra map[string]string) (*world, *logSink) {
	t.Helper()
	slackURL := fs.URL()
	if g != nil {
		slackURL = g.url()
	}
	w := &world{Slack: fs, Linear: fl, Secret: randomHex(16)}
	// The database is a migrated copy: these tests start the bot, not its
	// migrations.
	env := map[string]string{
		"SLACK_BOT_TOKEN":            fakeslack.DefaultBotToken,
		"SLACK_APP_TOKEN":            fakeslack.DefaultAppToken,
		"SLACK_API_URL":              slackURL,
		"LINEAR_API_KEY":             fakelinear.APIKey,
		"LINEAR_API_URL":             fl.URL(),
		"DATABASE_URL":               "sqlite:" + storetest.SQLiteMigratedURL(t),
		"ENCRYPTION_KEY":             randomKey(),
		"PROLIFERATE_WEBHOOK_SECRET": w.Secret,
		"SLACK_ALERT_CHANNEL":        demoChannel,
		"LOG_LEVEL":                  "debug",
	}
	for k, v := range extra {
		if v == "" {
			delete(env, k)
		} else {
			env[k] = v
		}
	}
	cfg, err := config.Load(func(k string) string { return env[k] }, os.ReadFile)
	if err != nil {
		t.Fatal(err)
	}
	logs := newLogSink()
	w.Main = NewMain(cfg, cfg.NewLogger(io.MultiWriter(logs, tlogWriter{t})))
	w.Main.slackRetry = retryPolicy{min: 20 * time.Millisecond, max: 100 * time.Millisecond}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	w.Main.listener = ln
	t.Cleanup(func() { w.Main.Close() })
	return w, logs
}

func getStatus(ctx context.Context, addr, path string) int {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestStartWhileSlackIsDown: with Slack refusing connections at start the
// bot keeps trying with backoff instead of exiting; meanwhile the alert
// webhook stores an alert (202) and /readyz says not ready. Once Slack
// comes up the bot starts, posts that alert, turns ready when Socket Mode
// is connected, and logs its shutdown.
func TestStartWhileSlackIsDown(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	fs := fakeslack.New(fakeslack.Options{})
	t.Cleanup(fs.Close)
	fs.AddChannel(demoChannel, "alerts")
	fl := fakelinear.New(fakelinear.WithSeed())
	t.Cleanup(fl.Close)
	u, _ := url.Parse(fs.URL())
	g := newGate(t, u.Host)
	w, logs := startupWorld(t, fs, fl, g, nil)

	opened := make(chan error, 1)
	go func() { opened <- w.Main.Open(ctx) }()
	for range 3 { // three refused attempts: it retries rather than exiting
		select {
		case <-g.refused:
		case err := <-opened:
			t.Fatalf("Open returned %v while Slack was unreachable", err)
		case <-ctx.Done():
			t.Fatal("the bot never tried Slack")
		}
	}
	if status, body, err := w.sendAlert(ctx, demoAlert()); err != nil || status != http.StatusAccepted {
		t.Fatalf("alert while Slack is down: %d %s %v", status, body, err)
	}
	// The intake-only handler's alerts are counted too.
	if n, _ := value(scrape(t, ctx, w), "proliferate_linear_webhook_alerts_total", l("outcome", "accepted")); n != 1 {
		t.Errorf("webhook_alerts_total{outcome=accepted} = %v while Slack is down, want 1", n)
	}
	if got := getStatus(ctx, w.Main.Addr(), "/readyz"); got != http.StatusServiceUnavailable {
		t.Errorf("/readyz while Slack is down = %d, want 503", got)
	}
	if got := getStatus(ctx, w.Main.Addr(), "/healthz"); got != http.StatusOK {
		t.Errorf("/healthz while Slack is down = %d, want 200", got)
	}
	r, err := logs.waitFor(ctx, "slack unreachable at start")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := r["retry_in_ms"].(float64); !ok {
		t.Errorf("retry line has no retry_in_ms number: %v", r)
	}
	if len(fs.Messages(demoChannel)) != 0 {
		t.Fatal("a message reached Slack through a closed gate")
	}

	g.open.Store(true)
	if err := <-opened; err != nil {
		t.Fatalf("Open after Slack came up: %v", err)
	}
	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	ran := make(chan error, 1)
	go func() { ran <- w.Main.Run(runCtx) }()
	if err := fs.Wait(ctx, func() bool {
		for _, m := range fs.Messages(demoChannel) {
			if strings.Contains(string(m.Blocks), "Cannot read properties of undefined") {
				return true
			}
		}
		return false
	}); err != nil {
		t.Fatalf("the alert stored while Slack was down was never posted: %v", err)
	}
	if err := fs.Wait(ctx, func() bool { return getStatus(ctx, w.Main.Addr(), "/readyz") == http.StatusOK }); err != nil {
		t.Fatalf("/readyz never turned 200 once Socket Mode connected: %v", err)
	}
	if _, ok := logs.find("slack reachable"); !ok {
		t.Error("no line saying Slack became reachable")
	}

	stop()
	if err := <-ran; err != nil {
		t.Fatalf("Run: %v", err)
	}
	r, ok := logs.find("proliferate-linear stopped")
	if !ok {
		t.Fatal("no line at shutdown")
	}
	if _, ok := r["drained_in_ms"].(float64); !ok {
		t.Errorf("shutdown line has no drained_in_ms: %v", r)
	}
	if _, ok := logs.find("proliferate-linear shutting down"); !ok {
		t.Error("no line when shutdown starts")
	}
}

// TestStartRefusedSlackToken: a token Slack answers invalid_auth to fails
// at once, says which variable to fix, and never shows the token.
func TestStartRefusedSlackToken(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	fs := fakeslack.New(fakeslack.Options{})
	t.Cleanup(fs.Close)
	fl := fakelinear.New(fakelinear.WithSeed())
	t.Cleanup(fl.Close)
	w, logs := startupWorld(t, fs, fl, nil, map[string]string{"SLACK_BOT_TOKEN": "xoxb-refused-SECRET"})
	w.Main.slackRetry = retryPolicy{min: time.Hour, max: time.Hour} // a retry would hang the test
	err := w.Main.Open(ctx)
	if !errors.Is(err, errSlackTokenRefused) {
		t.Fatalf("Open = %v, want the refused-token error", err)
	}
	for _, want := range []string{"SLACK_BOT_TOKEN", "invalid_auth"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
	if strings.Contains(err.Error(), "SECRET") {
		t.Errorf("error shows the token: %q", err)
	}
	if _, ok := logs.find("slack unreachable"); ok {
		t.Error("a refused token was retried")
	}
}

// TestStartLinearMode: the start-up says which Linear mode is in use and
// warns when none is configured or Linear refuses the key.
func TestStartLinearMode(t *testing.T) {
	tests := []struct {
		name  string
		env   map[string]string
		want  string // msg prefix
		level string
		mode  string
		after string // a later line, from the key check in Run
	}{
		{"api key accepted", nil, "linear mode", "INFO", "api key", "linear api key accepted"},
		{"api key refused", map[string]string{"LINEAR_API_KEY": "lin_api_refused"}, "linear mode", "INFO", "api key", "linear refused LINEAR_API_KEY"},
		{"none", map[string]string{"LINEAR_API_KEY": ""}, "linear is not configured", "WARN", "none", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
			defer cancel()
			fs := fakeslack.New(fakeslack.Options{})
			t.Cleanup(fs.Close)
			fl := fakelinear.New(fakelinear.WithSeed())
			t.Cleanup(fl.Close)
			w, logs := startupWorld(t, fs, fl, nil, tt.env)
			if err := w.Main.Open(ctx); err != nil {
				t.Fatal(err)
			}
			r, ok := logs.find(tt.want)
			if !ok || r["level"] != tt.level || r["linear_mode"] != tt.mode {
				t.Fatalf("mode line = %v, want %s %q with linear_mode %q", r, tt.level, tt.want, tt.mode)
			}
			if tt.after == "" {
				return
			}
			runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
			ran := make(chan error, 1)
			go func() { ran <- w.Main.Run(runCtx) }()
			defer func() { stop(); <-ran }()
			if _, err := logs.waitFor(ctx, tt.after); err != nil {
				t.Fatal(err)
			}
		})
	}
}
