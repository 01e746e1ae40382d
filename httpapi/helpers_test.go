package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/proliferate/proliferate-linear/alert"
)

const testSecret = "whsec-test-secret-0123"

// testNow is the server clock in tests.
var testNow = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)

// fakeAccepter is an in-memory AlertAccepter that folds repeats of one
// error in one channel the way the real store does, and records calls.
type fakeAccepter struct {
	mu     sync.Mutex
	err    error // returned by every Accept when set.
	calls  []alert.Alert
	byKey  map[[2]string]alert.Alert
	nextID int64
}

func (f *fakeAccepter) Accept(_ context.Context, a alert.Alert) (alert.Alert, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, a)
	if f.err != nil {
		return alert.Alert{}, f.err
	}
	if f.byKey == nil {
		f.byKey = map[[2]string]alert.Alert{}
	}
	key := [2]string{a.ErrorID, a.Channel}
	if old, ok := f.byKey[key]; ok {
		a.ID, a.Occurrences, a.FirstSeen = old.ID, old.Occurrences+1, old.FirstSeen
	} else {
		f.nextID++
		a.ID, a.Occurrences = f.nextID, 1
	}
	f.byKey[key] = a
	return a, nil
}

func (f *fakeAccepter) Calls() []alert.Alert {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]alert.Alert(nil), f.calls...)
}

// syncBuffer is a log sink safe for the server goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// harness is a real HTTP server around New.
type harness struct {
	srv  *httptest.Server
	acc  *fakeAccepter
	logs *syncBuffer
}

func newHarness(t *testing.T, cfg Config, deps Deps) *harness {
	t.Helper()
	h := &harness{acc: &fakeAccepter{}, logs: &syncBuffer{}}
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return testNow }
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if deps.Alerts == nil {
		deps.Alerts = h.acc
	}
	h.srv = httptest.NewServer(New(cfg, deps))
	t.Cleanup(h.srv.Close)
	return h
}

func defaultHarness(t *testing.T) *harness {
	return newHarness(t, Config{WebhookSecret: testSecret, DefaultChannel: "C0DEFAULT"}, Deps{})
}

// response is a decoded answer.
type response struct {
	status int
	header http.Header
	body   map[string]any
}

// do sends method path with body and headers, and decodes the JSON answer.
func (h *harness) do(t *testing.T, method, path string, body []byte, headers map[string]string) response {
	t.Helper()
	req, err := http.NewRequest(method, h.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := response{status: resp.StatusCode, header: resp.Header}
	if method != http.MethodHead {
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s %s: Content-Type %q, want application/json", method, path, ct)
		}
		if err := json.Unmarshal(raw, &r.body); err != nil {
			t.Fatalf("%s %s: body %q is not a JSON object: %v", method, path, raw, err)
		}
	}
	return r
}

// postSigned posts body to the alert endpoint, signed at ts.
func (h *harness) postSigned(t *testing.T, body []byte, ts time.Time) response {
	t.Helper()
	tsh, sig := SignAlert(testSecret, ts, body)
	return h.do(t, http.MethodPost, "/api/v1/alerts", body, map[string]string{
		TimestampHeader: tsh, SignatureHeader: sig, "Content-Type": "application/json",
	})
}

// mustJSON marshals v.
func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// validPayload is a complete alert body as a map, for tests to edit.
func validPayload() map[string]any {
	return map[string]any{
		"issue_id": "iss_123",
		"url":      "https://app.proliferate.dev/errors/iss_123",
		"project":  "web",
		"level":    "error",
		"exception": map[string]any{
			"type": "TypeError", "message": "x is undefined", "stack": "at f (a.js:1:2)\nat g (b.js:3:4)",
		},
		"environment":    "production",
		"release":        "1.2.3",
		"first_seen":     "2025-03-04T04:00:00Z",
		"last_seen":      "2025-03-04T05:00:00+01:00",
		"event_count":    42,
		"users_affected": 7,
		"trigger":        "new_issue",
	}
}
