package httpapi

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/proliferate/proliferate-linear/alert"
)

func TestPostAlertAccepted(t *testing.T) {
	t.Parallel()
	h := defaultHarness(t)
	resp := h.postSigned(t, mustJSON(t, validPayload()), testNow)
	if resp.status != http.StatusAccepted {
		t.Fatalf("status = %d, body %v", resp.status, resp.body)
	}
	wantBody := map[string]any{"status": "accepted", "alert_id": float64(1), "occurrences": float64(1)}
	if diff := cmp.Diff(wantBody, resp.body); diff != "" {
		t.Errorf("body mismatch (-want +got):\n%s", diff)
	}
	wantAlert := alert.Alert{
		ErrorID: "iss_123", Channel: "C0DEFAULT", URL: "https://app.proliferate.dev/errors/iss_123",
		Project: "web", Level: "error", ErrorType: "TypeError", ErrorMessage: "x is undefined",
		Stack: "at f (a.js:1:2)\nat g (b.js:3:4)", Environment: "production", Release: "1.2.3",
		FirstSeen: time.Date(2025, 3, 4, 4, 0, 0, 0, time.UTC), LastSeen: time.Date(2025, 3, 4, 4, 0, 0, 0, time.UTC),
		EventCount: 42, UsersAffected: 7, Trigger: alert.TriggerNewIssue,
	}
	calls := h.acc.Calls()
	if len(calls) != 1 {
		t.Fatalf("Accept called %d times, want 1", len(calls))
	}
	if diff := cmp.Diff(wantAlert, calls[0]); diff != "" {
		t.Errorf("alert mismatch (-want +got):\n%s", diff)
	}
}

func TestPostAlertMapping(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		edit func(p map[string]any)
		want func(a *alert.Alert) // edits of the alert validPayload maps to
	}{
		{
			name: "message-type error without exception",
			edit: func(p map[string]any) { delete(p, "exception"); p["message"] = "disk almost full" },
			want: func(a *alert.Alert) { a.ErrorType, a.ErrorMessage, a.Stack = "", "disk almost full", "" },
		},
		{
			name: "exception message wins over message",
			edit: func(p map[string]any) { p["message"] = "ignored" },
			want: func(*alert.Alert) {},
		},
		{
			name: "exception without message falls back to message",
			edit: func(p map[string]any) { p["exception"] = map[string]any{"type": "Panic"}; p["message"] = "boom" },
			want: func(a *alert.Alert) { a.ErrorType, a.ErrorMessage, a.Stack = "Panic", "boom", "" },
		},
		{
			name: "channel override",
			edit: func(p map[string]any) { p["channel"] = "G0PRIVATE1" },
			want: func(a *alert.Alert) { a.Channel = "G0PRIVATE1" },
		},
		{
			name: "unknown fields are ignored",
			edit: func(p map[string]any) {
				p["fingerprint"] = []any{"a", 1}
				p["tags"] = map[string]any{"os": "linux"}
				p["exception"].(map[string]any)["mechanism"] = "onerror"
			},
			want: func(*alert.Alert) {},
		},
		{
			name: "optional fields absent or null",
			edit: func(p map[string]any) {
				for _, k := range []string{"project", "level", "environment", "release", "first_seen", "last_seen", "event_count", "users_affected", "trigger"} {
					delete(p, k)
				}
				p["exception"] = nil
			},
			want: func(a *alert.Alert) {
				*a = alert.Alert{ErrorID: a.ErrorID, Channel: a.Channel, URL: a.URL}
			},
		},
		{
			name: "fractional seconds in times",
			edit: func(p map[string]any) { p["first_seen"] = "2025-03-04T04:00:00.123Z" },
			want: func(a *alert.Alert) { a.FirstSeen = time.Date(2025, 3, 4, 4, 0, 0, 123e6, time.UTC) },
		},
	}
	base := alert.Alert{
		ErrorID: "iss_123", Channel: "C0DEFAULT", URL: "https://app.proliferate.dev/errors/iss_123",
		Project: "web", Level: "error", ErrorType: "TypeError", ErrorMessage: "x is undefined",
		Stack: "at f (a.js:1:2)\nat g (b.js:3:4)", Environment: "production", Release: "1.2.3",
		FirstSeen: time.Date(2025, 3, 4, 4, 0, 0, 0, time.UTC), LastSeen: time.Date(2025, 3, 4, 4, 0, 0, 0, time.UTC),
		EventCount: 42, UsersAffected: 7, Trigger: alert.TriggerNewIssue,
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := defaultHarness(t)
			p := validPayload()
			tt.edit(p)
			resp := h.postSigned(t, mustJSON(t, p), testNow)
			if resp.status != http.StatusAccepted {
				t.Fatalf("status = %d, body %v", resp.status, resp.body)
			}
			want := base
			tt.want(&want)
			calls := h.acc.Calls()
			if len(calls) != 1 {
				t.Fatalf("Accept called %d times, want 1", len(calls))
			}
			if diff := cmp.Diff(want, calls[0]); diff != "" {
				t.Errorf("alert mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPostAlertValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		edit    func(p map[string]any)
		raw     string // sent instead of the payload when set.
		wantErr string
	}{
		{name: "issue_id missing", edit: func(p map[string]any) { delete(p, "issue_id") }, wantErr: "issue_id: required"},
		{name: "issue_id blank", edit: func(p map[string]any) { p["issue_id"] = "  " }, wantErr: "issue_id: required"},
		{name: "issue_id number", edit: func(p map[string]any) { p["issue_id"] = 123 }, wantErr: "issue_id: must be a string"},
		{name: "issue_id too long", edit: func(p map[string]any) { p["issue_id"] = strings.Repeat("x", 256) }, wantErr: "issue_id: longer than 255"},
		{name: "url missing", edit: func(p map[string]any) { delete(p, "url") }, wantErr: "url: required"},
		{name: "url relative", edit: func(p map[string]any) { p["url"] = "/errors/1" }, wantErr: "url: must be an absolute http or https URL"},
		{name: "url javascript", edit: func(p map[string]any) { p["url"] = "javascript:alert(1)" }, wantErr: "url: must be an absolute"},
		{name: "url no host", edit: func(p map[string]any) { p["url"] = "https:///x" }, wantErr: "url: must be an absolute"},
		{name: "url object", edit: func(p map[string]any) { p["url"] = map[string]any{} }, wantErr: "url: must be a string"},
		{name: "project number", edit: func(p map[string]any) { p["project"] = 1 }, wantErr: "project: must be a string"},
		{name: "level too long", edit: func(p map[string]any) { p["level"] = strings.Repeat("e", 300) }, wantErr: "level: longer than 255"},
		{name: "exception string", edit: func(p map[string]any) { p["exception"] = "TypeError" }, wantErr: "exception: must be an object"},
		{name: "exception.message number", edit: func(p map[string]any) { p["exception"] = map[string]any{"message": 5} }, wantErr: "exception.message: must be a string"},
		{name: "message array", edit: func(p map[string]any) { p["message"] = []any{} }, wantErr: "message: must be a string"},
		{name: "first_seen not RFC 3339", edit: func(p map[string]any) { p["first_seen"] = "2025-03-04 04:00" }, wantErr: "first_seen: must be an RFC 3339 time"},
		{name: "last_seen unix number", edit: func(p map[string]any) { p["last_seen"] = 1700000000 }, wantErr: "last_seen: must be a string"},
		{name: "event_count negative", edit: func(p map[string]any) { p["event_count"] = -1 }, wantErr: "event_count: must not be negative"},
		{name: "event_count fraction", edit: func(p map[string]any) { p["event_count"] = 1.5 }, wantErr: "event_count: must be an integer"},
		{name: "event_count string", edit: func(p map[string]any) { p["event_count"] = "42" }, wantErr: "event_count: must be an integer"},
		{name: "users_affected negative", edit: func(p map[string]any) { p["users_affected"] = -3 }, wantErr: "users_affected: must not be negative"},
		{name: "users_affected overflow", raw: `{"issue_id":"a","url":"https://x/","users_affected":1e30}`, wantErr: "users_affected: must be an integer"},
		{name: "trigger unknown", edit: func(p map[string]any) { p["trigger"] = "weekly" }, wantErr: "trigger: must be one of new_issue, spike, regression"},
		{name: "channel name", edit: func(p map[string]any) { p["channel"] = "#alerts" }, wantErr: "channel: must be a Slack channel ID"},
		{name: "channel lower case", edit: func(p map[string]any) { p["channel"] = "c0123" }, wantErr: "channel: must be a Slack channel ID"},
		{name: "not JSON", raw: `issue_id=1`, wantErr: "body: invalid JSON"},
		{name: "truncated JSON", raw: `{"issue_id":"a"`, wantErr: "body: invalid JSON"},
		{name: "array body", raw: `[1,2]`, wantErr: "body: must be a JSON object"},
		{name: "trailing data", raw: `{"issue_id":"a","url":"https://x/"} {}`, wantErr: "body: invalid JSON"},
		{name: "empty body", raw: ` `, wantErr: "body: invalid JSON"},
		{
			name:    "several problems reported together",
			edit:    func(p map[string]any) { delete(p, "issue_id"); p["url"] = "x"; p["trigger"] = "?" },
			wantErr: "issue_id: required; url: must be an absolute http or https URL; trigger: must be one of",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := defaultHarness(t)
			body := []byte(tt.raw)
			if tt.raw == "" {
				p := validPayload()
				tt.edit(p)
				body = mustJSON(t, p)
			}
			resp := h.postSigned(t, body, testNow)
			if resp.status != http.StatusBadRequest {
				t.Fatalf("status = %d, want 400 (body %v)", resp.status, resp.body)
			}
			if msg, _ := resp.body["error"].(string); !strings.Contains(msg, tt.wantErr) {
				t.Errorf("error = %q, want it to contain %q", msg, tt.wantErr)
			}
			if n := len(h.acc.Calls()); n != 0 {
				t.Errorf("Accept called %d times for an invalid alert", n)
			}
		})
	}
}

func TestPostAlertNoChannel(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{WebhookSecret: testSecret}, Deps{})
	resp := h.postSigned(t, mustJSON(t, validPayload()), testNow)
	if msg, _ := resp.body["error"].(string); resp.status != http.StatusBadRequest || !strings.HasPrefix(msg, "channel: required") {
		t.Fatalf("status %d, error %q; want 400 naming channel", resp.status, msg)
	}
	p := validPayload()
	p["channel"] = "C0OVERRIDE"
	if resp := h.postSigned(t, mustJSON(t, p), testNow); resp.status != http.StatusAccepted {
		t.Fatalf("with a channel in the payload: status %d, body %v", resp.status, resp.body)
	}
}

func TestPostAlertBodyLimit(t *testing.T) {
	t.Parallel()
	// padded returns a valid payload of exactly n bytes (the stack pads it).
	// The padding is spliced into the encoded payload: encoding megabytes
	// of stack under the race detector cost more than the test itself.
	padded := func(t *testing.T, n int) []byte {
		p := validPayload()
		p["exception"].(map[string]any)["stack"] = ""
		b := mustJSON(t, p)
		empty := []byte(`"stack":""`)
		at := bytes.Index(b, empty)
		if at < 0 || bytes.Count(b, empty) != 1 {
			t.Fatalf("no single empty stack in %s", b)
		}
		at += len(empty) - 1 // before the closing quote.
		out := make([]byte, 0, n)
		out = append(out, b[:at]...)
		out = append(out, bytes.Repeat([]byte("s"), n-len(b))...)
		out = append(out, b[at:]...)
		if len(out) != n {
			t.Fatalf("built %d bytes, want %d", len(out), n)
		}
		return out
	}
	tests := []struct {
		name       string
		size       int
		wantStatus int
	}{
		{"exactly 1 MiB", MaxBodyBytes, http.StatusAccepted},
		{"1 MiB + 1 byte", MaxBodyBytes + 1, http.StatusRequestEntityTooLarge},
		{"4 MiB", 4 * MaxBodyBytes, http.StatusRequestEntityTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := defaultHarness(t)
			resp := h.postSigned(t, padded(t, tt.size), testNow)
			if resp.status != tt.wantStatus {
				t.Fatalf("status = %d, want %d (body %v)", resp.status, tt.wantStatus, resp.body)
			}
			wantCalls := 0
			if tt.wantStatus == http.StatusAccepted {
				wantCalls = 1
			} else if msg, _ := resp.body["error"].(string); !strings.HasPrefix(msg, "body: ") {
				t.Errorf("error = %q, want it to name the body", msg)
			}
			if n := len(h.acc.Calls()); n != wantCalls {
				t.Errorf("Accept called %d times, want %d", n, wantCalls)
			}
		})
	}
}

func TestPostAlertStoreFailure(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		err        error
		wantStatus int
		wantErr    string
	}{
		{"database down", fmt.Errorf("accept alert iss_123: dial tcp 10.0.0.5:5432: connection refused"), http.StatusServiceUnavailable, "the alert could not be stored; retry later"},
		{"core refuses as invalid", fmt.Errorf("issue_id: too long: %w", alert.ErrInvalid), http.StatusBadRequest, "issue_id: too long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := defaultHarness(t)
			h.acc.err = tt.err
			resp := h.postSigned(t, mustJSON(t, validPayload()), testNow)
			if resp.status != tt.wantStatus {
				t.Fatalf("status = %d, want %d", resp.status, tt.wantStatus)
			}
			msg, _ := resp.body["error"].(string)
			if !strings.Contains(msg, tt.wantErr) {
				t.Errorf("error = %q, want it to contain %q", msg, tt.wantErr)
			}
			if strings.Contains(msg, "10.0.0.5") {
				t.Errorf("internal detail leaked to the client: %q", msg)
			}
			if tt.wantStatus == http.StatusServiceUnavailable {
				if resp.header.Get("Retry-After") == "" {
					t.Error("503 without Retry-After")
				}
				logs := h.logs.String()
				if !strings.Contains(logs, `"error_id":"iss_123"`) || !strings.Contains(logs, "connection refused") {
					t.Errorf("store failure not logged with error_id and cause:\n%s", logs)
				}
			}
			if n := len(h.acc.Calls()); n != 1 {
				t.Errorf("Accept called %d times, want 1 (no retry inside a request)", n)
			}
		})
	}
}

func TestPostAlertRepeatsFold(t *testing.T) {
	t.Parallel()
	h := defaultHarness(t)
	body := mustJSON(t, validPayload())
	for i := 1; i <= 3; i++ {
		resp := h.postSigned(t, body, testNow)
		if resp.status != http.StatusAccepted {
			t.Fatalf("request %d: status %d", i, resp.status)
		}
		if got := resp.body["occurrences"]; got != float64(i) {
			t.Errorf("request %d: occurrences = %v, want %d", i, got, i)
		}
		if got := resp.body["alert_id"]; got != float64(1) {
			t.Errorf("request %d: alert_id = %v, want 1", i, got)
		}
		if n := len(h.acc.Calls()); n != i {
			t.Errorf("after %d requests Accept was called %d times", i, n)
		}
	}
}

func TestAcceptErrorIsNotInvalidByAccident(t *testing.T) {
	t.Parallel()
	// Only alert.ErrInvalid maps to 400; a conflict is the server's problem.
	err := fmt.Errorf("x: %w", alert.ErrConflict)
	if errors.Is(err, alert.ErrInvalid) {
		t.Fatal("ErrConflict unexpectedly matches ErrInvalid")
	}
	h := defaultHarness(t)
	h.acc.err = err
	if resp := h.postSigned(t, mustJSON(t, validPayload()), testNow); resp.status != http.StatusServiceUnavailable {
		t.Fatalf("status = %d, want 503", resp.status)
	}
}

// onlyReader hides bytes.Reader's Len, so the client sends the body
// chunked, with no Content-Length.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

// TestPostAlertBodyWithoutLength: a body sent chunked (no declared
// length) is read to its end and held to the same limit as one declared.
func TestPostAlertBodyWithoutLength(t *testing.T) {
	t.Parallel()
	small := mustJSON(t, validPayload())
	big := append(bytes.Repeat([]byte(" "), MaxBodyBytes), small...) // valid JSON, over the limit.
	for _, tt := range []struct {
		name string
		body []byte
		want int
	}{
		{"small", small, http.StatusAccepted},
		{"over 1 MiB", big, http.StatusRequestEntityTooLarge},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := defaultHarness(t)
			req, err := http.NewRequest(http.MethodPost, h.srv.URL+"/api/v1/alerts", onlyReader{bytes.NewReader(tt.body)})
			if err != nil {
				t.Fatal(err)
			}
			ts, sig := SignAlert(testSecret, testNow, tt.body)
			req.Header.Set(TimestampHeader, ts)
			req.Header.Set(SignatureHeader, sig)
			resp, err := h.srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if req.ContentLength != 0 || resp.StatusCode != tt.want {
				t.Fatalf("Content-Length %d: status %d, want %d", req.ContentLength, resp.StatusCode, tt.want)
			}
			if want := map[bool]int{true: 1, false: 0}[tt.want == http.StatusAccepted]; len(h.acc.Calls()) != want {
				t.Errorf("Accept called %d times, want %d", len(h.acc.Calls()), want)
			}
		})
	}
}

// TestReadBody reads declared and undeclared bodies of every size about
// the limit, and bodies shorter than declared.
func TestReadBody(t *testing.T) {
	t.Parallel()
	const limit = 64
	for _, n := range []int{0, 1, limit - 1, limit, limit + 1, 3 * limit} {
		for _, declared := range []bool{true, false} {
			body := bytes.Repeat([]byte("x"), n)
			r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
			if !declared {
				r.ContentLength = -1
			}
			got, err := readBody(httptest.NewRecorder(), r, limit)
			var tooBig *http.MaxBytesError
			switch {
			case n > limit && !errors.As(err, &tooBig):
				t.Errorf("%d bytes (declared %v): err %v, want MaxBytesError", n, declared, err)
			case n <= limit && (err != nil || !bytes.Equal(got, body)):
				t.Errorf("%d bytes (declared %v): read %d bytes, err %v", n, declared, len(got), err)
			}
		}
	}
	// A body that ends before its declared length is an error, not a
	// short alert.
	r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader([]byte("abc")))
	r.ContentLength = 10
	r.Body = io.NopCloser(io.MultiReader(bytes.NewReader([]byte("abc")), iotest.ErrReader(io.ErrUnexpectedEOF)))
	if _, err := readBody(httptest.NewRecorder(), r, limit); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("short body: err %v", err)
	}
}

// TestWriteAccepted: the 202 is what writeJSON writes of acceptedResponse.
func TestWriteAccepted(t *testing.T) {
	t.Parallel()
	for _, a := range []alert.Alert{{ID: 1, Occurrences: 1}, {ID: 9007199254740993, Occurrences: 123456789}, {}} {
		got, want := httptest.NewRecorder(), httptest.NewRecorder()
		writeAccepted(got, a)
		writeJSON(want, http.StatusAccepted, acceptedResponse{Status: "accepted", AlertID: a.ID, Occurrences: a.Occurrences})
		if got.Code != want.Code || got.Body.String() != want.Body.String() {
			t.Errorf("%+v: wrote %d %q, want %d %q", a, got.Code, got.Body, want.Code, want.Body)
		}
		if diff := cmp.Diff(want.Header(), got.Header()); diff != "" {
			t.Errorf("headers (-want +got):\n%s", diff)
		}
	}
}
