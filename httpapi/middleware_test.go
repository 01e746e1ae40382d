package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestProbes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		ready      func(context.Context) error
		path       string
		wantStatus int
		wantBody   map[string]any
	}{
		{"healthz", nil, "/healthz", http.StatusOK, map[string]any{"status": "ok"}},
		{"healthz ignores readiness", func(context.Context) error { return errors.New("db down") }, "/healthz", http.StatusOK, map[string]any{"status": "ok"}},
		{"readyz without check", nil, "/readyz", http.StatusOK, map[string]any{"status": "ready"}},
		{"readyz check passes", func(context.Context) error { return nil }, "/readyz", http.StatusOK, map[string]any{"status": "ready"}},
		{"readyz check fails", func(context.Context) error { return errors.New("ping: password authentication failed") }, "/readyz", http.StatusServiceUnavailable, map[string]any{"status": "unavailable"}},
		{"readyz check hangs", func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }, "/readyz", http.StatusServiceUnavailable, map[string]any{"status": "unavailable"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// A hanging check is cut off after ReadyTimeout, whatever it is.
			const timeout = 100 * time.Millisecond
			h := newHarness(t, Config{WebhookSecret: testSecret, ReadyTimeout: timeout}, Deps{Ready: tt.ready})
			start := time.Now()
			resp := h.do(t, http.MethodGet, tt.path, nil, nil)
			if resp.status != tt.wantStatus {
				t.Fatalf("status = %d, want %d", resp.status, tt.wantStatus)
			}
			if diff := cmp.Diff(tt.wantBody, resp.body); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
			if d := time.Since(start); d > timeout+time.Second {
				t.Errorf("probe took %v", d)
			}
		})
	}
}

func TestRoutingErrorsAreJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		method     string
		path       string
		wantStatus int
		wantAllow  string
	}{
		{"unknown path", http.MethodGet, "/nope", http.StatusNotFound, ""},
		{"GET alerts", http.MethodGet, "/api/v1/alerts", http.StatusMethodNotAllowed, "POST"},
		{"POST healthz", http.MethodPost, "/healthz", http.StatusMethodNotAllowed, "GET, HEAD"},
		{"DELETE readyz", http.MethodDelete, "/readyz", http.StatusMethodNotAllowed, "GET, HEAD"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := defaultHarness(t)
			resp := h.do(t, tt.method, tt.path, nil, nil)
			if resp.status != tt.wantStatus {
				t.Fatalf("status = %d, want %d", resp.status, tt.wantStatus)
			}
			if got := resp.header.Get("Allow"); got != tt.wantAllow {
				t.Errorf("Allow = %q, want %q", got, tt.wantAllow)
			}
			if _, ok := resp.body["error"].(string); !ok {
				t.Errorf("body %v has no error", resp.body)
			}
		})
	}
}

func TestPanicRecovery(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		handler    http.HandlerFunc
		wantStatus int
	}{
		{"panic before writing", func(http.ResponseWriter, *http.Request) { panic("boom") }, http.StatusInternalServerError},
		{"panic after writing keeps the status", func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, http.StatusTeapot, map[string]string{"x": "y"})
			panic("late boom")
		}, http.StatusTeapot},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, Config{WebhookSecret: testSecret}, Deps{Routes: map[string]http.Handler{"GET /boom": tt.handler}})
			resp := h.do(t, http.MethodGet, "/boom", nil, nil)
			if resp.status != tt.wantStatus {
				t.Fatalf("status = %d, want %d", resp.status, tt.wantStatus)
			}
			logs := h.logs.String()
			if !strings.Contains(logs, "handler panic") || !strings.Contains(logs, "boom") {
				t.Errorf("panic not logged:\n%s", logs)
			}
			// The server survives and keeps answering.
			if resp := h.do(t, http.MethodGet, "/healthz", nil, nil); resp.status != http.StatusOK {
				t.Errorf("after the panic /healthz = %d", resp.status)
			}
		})
	}
}

func TestRequestLog(t *testing.T) {
	t.Parallel()
	h := defaultHarness(t)
	p := validPayload()
	p["exception"].(map[string]any)["message"] = "BODY-SECRET-TEXT"
	body := mustJSON(t, p)
	ts, sig := SignAlert(testSecret, testNow, body)
	resp := h.do(t, http.MethodPost, "/api/v1/alerts?token=QUERY-SECRET", body, map[string]string{
		TimestampHeader: ts, SignatureHeader: sig, "Authorization": "Bearer HEADER-SECRET",
	})
	if resp.status != http.StatusAccepted {
		t.Fatalf("status = %d", resp.status)
	}
	logs := h.logs.String()
	for _, want := range []string{`"msg":"http request"`, `"method":"POST"`, `"path":"/api/v1/alerts"`, `"status":202`, `"duration":`,
		// The alert it stored, on the same line.
		fmt.Sprintf(`"alert_id":%v,"error_id":%q,"channel":"C0DEFAULT","occurrences":1`, resp.body["alert_id"], p["issue_id"])} {
		if !strings.Contains(logs, want) {
			t.Errorf("request log lacks %s:\n%s", want, logs)
		}
	}
	for _, secret := range []string{"BODY-SECRET-TEXT", "QUERY-SECRET", "HEADER-SECRET", strings.TrimPrefix(sig, "v1="), testSecret} {
		if strings.Contains(logs, secret) {
			t.Errorf("log contains %q:\n%s", secret, logs)
		}
	}
}

func TestNewServerTimeouts(t *testing.T) {
	t.Parallel()
	srv := NewServer(":0", http.NotFoundHandler(), nil)
	if srv.ReadHeaderTimeout == 0 || srv.ReadTimeout == 0 || srv.WriteTimeout == 0 || srv.IdleTimeout == 0 {
		t.Fatalf("server without timeouts: %+v", srv)
	}
}
