package linear_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/linear"
	"github.com/proliferate/proliferate-linear/linear/fakelinear"
)

// TestErrorMapping drives every injected failure through the real client.
func TestErrorMapping(t *testing.T) {
	tests := []struct {
		name      string
		kind      fakelinear.FailKind
		want      error
		temporary bool
		minAfter  time.Duration
	}{
		{name: "401 expired token", kind: fakelinear.Unauthorized, want: alert.ErrUnauthorized},
		{name: "403 forbidden", kind: fakelinear.Forbidden, want: alert.ErrForbidden},
		{name: "400 invalid input", kind: fakelinear.InvalidInput, want: alert.ErrInvalidInput},
		{name: "400 ratelimited", kind: fakelinear.RateLimited, want: alert.ErrRateLimited, temporary: true, minAfter: 20 * time.Second},
		{name: "500 server error", kind: fakelinear.ServerError, want: alert.ErrUnavailable, temporary: true},
	}
	calls := []struct {
		name string
		call func(context.Context, *linear.Client) error
	}{
		{"Teams", func(ctx context.Context, c *linear.Client) error { _, err := c.Teams(ctx); return err }},
		{"TeamMembers", func(ctx context.Context, c *linear.Client) error {
			_, err := c.TeamMembers(ctx, fakelinear.TeamEngID)
			return err
		}},
		{"Issue", func(ctx context.Context, c *linear.Client) error { _, err := c.Issue(ctx, "ENG-1"); return err }},
		{"Workspace", func(ctx context.Context, c *linear.Client) error { _, err := c.Workspace(ctx); return err }},
		{"CreateIssue", func(ctx context.Context, c *linear.Client) error {
			_, err := c.CreateIssue(ctx, request("boom"))
			return err
		}},
	}
	for _, tt := range tests {
		for _, call := range calls {
			t.Run(tt.name+"/"+call.name, func(t *testing.T) {
				srv, c, _ := setup(t, fakelinear.APIKey)
				srv.FailNext("", 1, tt.kind)
				err := call.call(context.Background(), c)
				want, wantRequests := tt.want, 1
				switch {
				case call.name == "Issue" && tt.kind == fakelinear.InvalidInput:
					want = alert.ErrNotFound // for issue(id:), INVALID_INPUT means no such issue.
				case call.name == "CreateIssue" && tt.kind == fakelinear.InvalidInput:
					wantRequests = 2 // it may be the duplicate-id refusal: read back once.
				case call.name == "Workspace":
					wantRequests = 2 // the workspace and its recent issues, asked at once.
				}
				if !errors.Is(err, want) {
					t.Fatalf("err = %v, want %v", err, want)
				}
				var tmp *alert.TemporaryError
				if got := errors.As(err, &tmp); got != tt.temporary {
					t.Fatalf("temporary = %v, want %v (err %v)", got, tt.temporary, err)
				}
				if tt.temporary && tmp.After < tt.minAfter {
					t.Errorf("After = %v, want at least %v", tmp.After, tt.minAfter)
				}
				if n := srv.CountRequests(""); n != wantRequests {
					t.Errorf("%d requests, want %d", n, wantRequests)
				}
				if msg := alert.UserMessage(err); strings.Contains(msg, "HTTP") || strings.Contains(msg, string(tt.kind)) ||
					strings.Contains(msg, "Something went wrong") {
					t.Errorf("UserMessage is not the specific advice: %q", msg)
				}
			})
		}
	}
}

func TestIssueInvalidInputIsNotFound(t *testing.T) {
	srv, c, _ := setup(t, fakelinear.APIKey)
	srv.FailNext("getIssue", 1, fakelinear.InvalidInput)
	if _, err := c.Issue(context.Background(), "ENG-1"); !errors.Is(err, alert.ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
}

func TestTimeout(t *testing.T) {
	srv := fakelinear.Seeded()
	defer srv.Close()
	// Ten times the clients' 50 ms; Close waits out the requests still
	// sleeping, so more would only add to the test's time.
	srv.SetLatency(500 * time.Millisecond)
	tests := []struct {
		name   string
		hc     *http.Client
		ctx    func() (context.Context, context.CancelFunc)
		wantIs error
	}{
		{
			name:   "http client timeout",
			hc:     &http.Client{Timeout: 50 * time.Millisecond, Transport: &linear.APIKeyTransport{Key: fakelinear.APIKey}},
			ctx:    func() (context.Context, context.CancelFunc) { return context.Background(), func() {} },
			wantIs: alert.ErrUnavailable,
		},
		{
			name: "context deadline",
			hc:   &http.Client{Transport: &linear.APIKeyTransport{Key: fakelinear.APIKey}},
			ctx: func() (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.Background(), 50*time.Millisecond)
			},
			wantIs: context.DeadlineExceeded,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := tt.ctx()
			defer cancel()
			_, err := linear.New(srv.URL(), tt.hc, nil).Teams(ctx)
			var tmp *alert.TemporaryError
			if !errors.Is(err, alert.ErrUnavailable) || !errors.Is(err, tt.wantIs) || !errors.As(err, &tmp) {
				t.Fatalf("err = %v, want temporary ErrUnavailable wrapping %v", err, tt.wantIs)
			}
		})
	}
}

func TestConnectionRefused(t *testing.T) {
	srv := fakelinear.New()
	url := srv.URL()
	srv.Close()
	_, err := linear.New(url, nil, nil).Teams(context.Background())
	var tmp *alert.TemporaryError
	if !errors.Is(err, alert.ErrUnavailable) || !errors.As(err, &tmp) {
		t.Fatalf("err = %v, want temporary ErrUnavailable", err)
	}
}

// TestKeyNeverLeaks: with a wrong key, neither the error nor the log nor
// the fake's request record holds the key.
func TestKeyNeverLeaks(t *testing.T) {
	const key = "lin_api_SUPERSECRETsupersecret0123456789"
	srv, c, logs := setup(t, key)
	_, err := c.Teams(context.Background())
	if !errors.Is(err, alert.ErrUnauthorized) {
		t.Fatalf("err = %v, want ErrUnauthorized (HTTP 400 AUTHENTICATION_ERROR)", err)
	}
	for name, text := range map[string]string{
		"error":       err.Error(),
		"%+v":         fmt.Sprintf("%+v %#v", err, err),
		"log":         logs.String(),
		"transport":   fmt.Sprintf("%v %+v %#v", &linear.APIKeyTransport{Key: key}, &linear.APIKeyTransport{Key: key}, &linear.APIKeyTransport{Key: key}),
		"fake record": fmt.Sprintf("%+v", srv.Requests()),
	} {
		if strings.Contains(text, "SUPERSECRET") {
			t.Errorf("%s contains the key: %s", name, text)
		}
	}
}

// TestWireVariants answers with the other shapes Linear (or a proxy in
// front of it) uses, which the fake does not produce by default.
func TestWireVariants(t *testing.T) {
	reset := strconv.FormatInt(time.Now().Add(90*time.Second).UnixMilli(), 10)
	tests := []struct {
		name      string
		status    int
		header    map[string]string
		body      string
		want      error
		temporary bool
		minAfter  time.Duration
	}{
		{name: "429 with Retry-After", status: 429, header: map[string]string{"Retry-After": "42"},
			body: `{"errors":[{"message":"Rate limit exceeded","extensions":{"code":"RATELIMITED"}}]}`,
			want: alert.ErrRateLimited, temporary: true, minAfter: 42 * time.Second},
		{name: "400 ratelimited with reset header", status: 400,
			header: map[string]string{"X-RateLimit-Requests-Remaining": "0", "X-RateLimit-Requests-Reset": reset},
			body:   `{"errors":[{"message":"Rate limit exceeded","extensions":{"type":"ratelimited","code":"RATELIMITED"}}]}`,
			want:   alert.ErrRateLimited, temporary: true, minAfter: 80 * time.Second},
		{name: "200 ratelimited", status: 200,
			body: `{"data":null,"errors":[{"message":"Rate limit exceeded","extensions":{"code":"RATELIMITED"}}]}`,
			want: alert.ErrRateLimited, temporary: true},
		{name: "401 without body", status: 401, body: ``, want: alert.ErrUnauthorized},
		{name: "200 authentication error", status: 200,
			body: `{"data":null,"errors":[{"message":"Authentication required","extensions":{"type":"authentication error"}}]}`,
			want: alert.ErrUnauthorized},
		{name: "400 forbidden", status: 400,
			body: `{"errors":[{"message":"Forbidden","extensions":{"code":"FORBIDDEN","type":"forbidden"}}]}`,
			want: alert.ErrForbidden},
		{name: "200 entity not found", status: 200,
			body: `{"data":null,"errors":[{"message":"Entity not found: Team","path":["teams"],"extensions":{"type":"invalid input"}}]}`,
			want: alert.ErrInvalidInput},
		{name: "503 html", status: 503, body: `<html>upstream connect error</html>`, want: alert.ErrUnavailable, temporary: true},
		{name: "200 not json", status: 200, body: `<html>captive portal</html>`, want: alert.ErrUnavailable, temporary: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			}))
			defer srv.Close()
			_, err := linear.New(srv.URL, nil, nil).Teams(context.Background())
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			var tmp *alert.TemporaryError
			if got := errors.As(err, &tmp); got != tt.temporary {
				t.Fatalf("temporary = %v, want %v", got, tt.temporary)
			}
			if tt.temporary && (tmp.After < tt.minAfter || tmp.After > time.Hour) {
				t.Errorf("After = %v, want between %v and 1h", tmp.After, tt.minAfter)
			}
			var apiErr *linear.APIError
			if !tt.temporary || tt.want == alert.ErrRateLimited {
				if !errors.As(err, &apiErr) || apiErr.StatusCode != tt.status {
					t.Errorf("err = %#v, want an *APIError with status %d", err, tt.status)
				}
			}
		})
	}
}
