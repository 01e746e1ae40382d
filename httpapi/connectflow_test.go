package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/proliferate/proliferate-linear/alert"
)

// checkPageHeaders fails unless p carries every header the pages promise.
func checkPageHeaders(t *testing.T, p pageResponse) {
	t.Helper()
	want := map[string]string{
		"Content-Type":            "text/html; charset=utf-8",
		"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
		"X-Frame-Options":         "DENY",
		"Cache-Control":           "no-store",
		"Referrer-Policy":         "no-referrer",
		"X-Content-Type-Options":  "nosniff",
	}
	got := map[string]string{}
	for k := range want {
		got[k] = p.header.Get(k)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("page headers (-want +got):\n%s", diff)
	}
}

// secretCode is an authorization code; it must reach no page and no log.
const secretCode = "code-9f8e7d6c5b4a39281706"

func TestConnectFlowPages(t *testing.T) {
	t.Parallel()
	replace := &alert.ReplaceError{
		Current:      alert.Connection{SlackTeamID: testTeam, OrgName: "Acme"},
		Proposed:     alert.Connection{SlackTeamID: testTeam, OrgName: "Globex"},
		ConfirmState: "confirm-state-123",
	}
	cases := []struct {
		name       string
		setup      func(f *fakeIntegration)
		method     string
		path       string
		form       url.Values
		wantStatus int
		wantText   []string
		// wantCalls are the Integration calls the request made.
		wantCalls     []string
		wantConnected string // org OnConnected hears of
	}{
		{
			name: "connect link expired", method: http.MethodGet, path: ConnectPath + "?state=gone",
			wantStatus: http.StatusGone, wantCalls: []string{"AuthorizeRedirect"},
			wantText: []string{"This connect link has expired. Run /proliferate-linear connect in Slack for a new one."},
		},
		{
			name: "connect link without state", method: http.MethodGet, path: ConnectPath + "?state=",
			wantStatus: http.StatusBadRequest,
			wantText:   []string{"This connect link has expired."},
		},
		{
			name: "connect link cut short in a browser", method: http.MethodGet, path: ConnectPath,
			wantStatus: http.StatusBadRequest,
			wantText:   []string{"This connect link has expired."},
		},
		{
			name: "connected", method: http.MethodGet, path: CallbackPath + "?state=s1&code=" + secretCode,
			setup:      func(f *fakeIntegration) { f.states["s1"] = true },
			wantStatus: http.StatusOK, wantCalls: []string{"Complete"}, wantConnected: "Acme",
			wantText: []string{"Connected to Acme. You can return to Slack."},
		},
		{
			name: "access denied", method: http.MethodGet, path: CallbackPath + "?state=s1&error=access_denied&error_description=The+user+denied",
			setup:      func(f *fakeIntegration) { f.states["s1"] = true },
			wantStatus: http.StatusForbidden,
			wantText:   []string{"Linear access was not granted"},
		},
		{
			name: "other oauth error", method: http.MethodGet, path: CallbackPath + "?state=s1&error=invalid_scope",
			wantStatus: http.StatusForbidden,
			wantText:   []string{"Linear access was not granted"},
		},
		{
			name: "replayed or expired state", method: http.MethodGet, path: CallbackPath + "?state=used&code=" + secretCode,
			wantStatus: http.StatusGone, wantCalls: []string{"Complete"},
			wantText: []string{"This link was already used or has expired."},
		},
		{
			name: "callback without state", method: http.MethodGet, path: CallbackPath + "?code=" + secretCode,
			wantStatus: http.StatusBadRequest,
			wantText:   []string{"This link was already used or has expired."},
		},
		{
			name: "linear unreachable", method: http.MethodGet, path: CallbackPath + "?state=s1&code=" + secretCode,
			setup: func(f *fakeIntegration) {
				f.states["s1"] = true
				f.completeFn = func(url.Values) (alert.Connection, error) {
					return alert.Connection{}, alert.Temporary(fmt.Errorf("linear oauth exchange: HTTP 502 dial tcp 10.1.2.3:443: %w", alert.ErrUnavailable), 0)
				}
			},
			wantStatus: http.StatusBadGateway, wantCalls: []string{"Complete"},
			wantText: []string{"Linear could not be reached; try again."},
		},
		{
			name: "replace asks first", method: http.MethodGet, path: CallbackPath + "?state=s1&code=" + secretCode,
			setup: func(f *fakeIntegration) {
				f.states["s1"] = true
				f.completeFn = func(url.Values) (alert.Connection, error) { return alert.Connection{}, replace }
			},
			wantStatus: http.StatusOK, wantCalls: []string{"Complete"},
			wantText: []string{
				"This Slack workspace is connected to Acme. Replace it with Globex?",
				`<form method="post" action="` + ConfirmPath + `">`,
				`<form method="post" action="` + CancelPath + `">`,
				`name="state" value="confirm-state-123"`,
				`name="team" value="` + testTeam + `"`,
			},
		},
		{
			name: "replace confirmed", method: http.MethodPost, path: ConfirmPath,
			form:       url.Values{"team": {testTeam}, "state": {"confirm-state-123"}},
			wantStatus: http.StatusOK, wantCalls: []string{"ConfirmReplace " + testTeam + " confirm-state-123"}, wantConnected: "Globex",
			wantText: []string{"Connected to Globex. You can return to Slack."},
		},
		{
			name: "replace confirmed twice", method: http.MethodPost, path: ConfirmPath,
			setup:      func(f *fakeIntegration) { f.confirmErr = fmt.Errorf("linear replace: %w", alert.ErrNotFound) },
			form:       url.Values{"team": {testTeam}, "state": {"confirm-state-123"}},
			wantStatus: http.StatusGone, wantCalls: []string{"ConfirmReplace " + testTeam + " confirm-state-123"},
			wantText: []string{"This link was already used or has expired."},
		},
		{
			name: "replace overtaken", method: http.MethodPost, path: ConfirmPath,
			setup:      func(f *fakeIntegration) { f.confirmErr = fmt.Errorf("linear replace: changed: %w", alert.ErrConflict) },
			form:       url.Values{"state": {"confirm-state-123"}}, // the team defaults to the installation's
			wantStatus: http.StatusConflict, wantCalls: []string{"ConfirmReplace " + testTeam + " confirm-state-123"},
			wantText: []string{"Another Linear workspace was connected in the meantime"},
		},
		{
			name: "confirm without state", method: http.MethodPost, path: ConfirmPath,
			form:       url.Values{"team": {testTeam}},
			wantStatus: http.StatusBadRequest,
			wantText:   []string{"This link was already used or has expired."},
		},
		{
			name: "replace cancelled", method: http.MethodPost, path: CancelPath,
			setup: func(f *fakeIntegration) {
				f.conn = &alert.Connection{SlackTeamID: testTeam, OrgName: "Acme"}
			},
			form:       url.Values{"team": {testTeam}, "state": {"confirm-state-123"}},
			wantStatus: http.StatusOK,
			wantCalls:  []string{"CancelReplace " + testTeam + " confirm-state-123", "Connection " + testTeam},
			wantText:   []string{"Nothing changed: this Slack workspace stays connected to Acme."},
		},
		{
			name: "cancel fails", method: http.MethodPost, path: CancelPath,
			setup:      func(f *fakeIntegration) { f.cancelErr = errors.New("revoke: connection reset") },
			form:       url.Values{"team": {testTeam}, "state": {"confirm-state-123"}},
			wantStatus: http.StatusBadGateway, wantCalls: []string{"CancelReplace " + testTeam + " confirm-state-123"},
			wantText: []string{"Linear could not be reached; try again."},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeIntegration()
			if tc.setup != nil {
				tc.setup(f)
			}
			connected := make(chan alert.Connection, 1)
			srv, logs, h := startPageServer(t, f, connected)
			p := browse(t, srv, tc.method, tc.path, tc.form)
			// Once the request is over and every OnConnected call it
			// started has returned, connected holds what it heard, if any.
			srv.Close()
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			if err := h.Close(ctx); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if p.status != tc.wantStatus {
				t.Errorf("status %d, want %d; body:\n%s", p.status, tc.wantStatus, p.body)
			}
			checkPageHeaders(t, p)
			for _, s := range tc.wantText {
				if !strings.Contains(p.body, s) {
					t.Errorf("page lacks %q:\n%s", s, p.body)
				}
			}
			// No internals: no code, no error text, no Go error words.
			for _, s := range []string{secretCode, "10.1.2.3", "HTTP 502", "connection reset", "not found", "invalid input", "linear oauth"} {
				if strings.Contains(p.body, s) {
					t.Errorf("page shows internal text %q:\n%s", s, p.body)
				}
			}
			if strings.Contains(logs.String(), secretCode) {
				t.Errorf("the authorization code reached the log:\n%s", logs)
			}
			if diff := cmp.Diff(tc.wantCalls, f.Calls()); diff != "" {
				t.Errorf("integration calls (-want +got):\n%s", diff)
			}
			select {
			case c := <-connected:
				if c.OrgName != tc.wantConnected {
					t.Errorf("OnConnected heard of %q, want %q", c.OrgName, tc.wantConnected)
				}
			default:
				if tc.wantConnected != "" {
					t.Errorf("OnConnected was not called")
				}
			}
		})
	}
}

func TestConnectRedirects(t *testing.T) {
	t.Parallel()
	f := newFakeIntegration()
	f.states["s1"] = true
	srv, _ := newPageServer(t, f, nil)
	p := browse(t, srv, http.MethodGet, ConnectPath+"?state=s1", nil)
	if p.status != http.StatusFound {
		t.Fatalf("status %d, want 302; body %s", p.status, p.body)
	}
	got := map[string]string{
		"Location":        p.header.Get("Location"),
		"Cache-Control":   p.header.Get("Cache-Control"),
		"Referrer-Policy": p.header.Get("Referrer-Policy"),
	}
	want := map[string]string{
		"Location":        "https://linear.example/oauth/authorize?state=s1",
		"Cache-Control":   "no-store",
		"Referrer-Policy": "no-referrer",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("redirect (-want +got):\n%s", diff)
	}
	// Loading the link twice (a reload, a link preview) still works: only
	// the callback uses the state up.
	if p := browse(t, srv, http.MethodGet, ConnectPath+"?state=s1", nil); p.status != http.StatusFound {
		t.Errorf("second load: status %d, want 302", p.status)
	}
}

func TestCallbackHeadUsesNothingUp(t *testing.T) {
	t.Parallel()
	f := newFakeIntegration()
	f.states["s1"] = true
	srv, _ := newPageServer(t, f, nil)
	if p := browse(t, srv, http.MethodHead, CallbackPath+"?state=s1&code=c", nil); p.status != http.StatusOK || p.body != "" {
		t.Errorf("HEAD: status %d body %q, want 200 and no body", p.status, p.body)
	}
	if p := browse(t, srv, http.MethodGet, CallbackPath+"?state=s1&code=c", nil); !strings.Contains(p.body, "Connected to Acme") {
		t.Errorf("GET after HEAD: status %d, want the connected page:\n%s", p.status, p.body)
	}
}

func TestConnectPagesNotConfigured(t *testing.T) {
	t.Parallel()
	srv, _ := newPageServer(t, nil, nil)
	for _, tc := range []struct {
		method, path string
		form         url.Values
	}{
		{http.MethodGet, ConnectPath + "?state=s1", nil},
		{http.MethodGet, CallbackPath + "?state=s1&code=c", nil},
		{http.MethodPost, ConfirmPath, url.Values{"state": {"x"}}},
		{http.MethodPost, CancelPath, url.Values{"state": {"x"}}},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			p := browse(t, srv, tc.method, tc.path, tc.form)
			if p.status != http.StatusServiceUnavailable || !strings.Contains(p.body, "not set up on this server") {
				t.Errorf("status %d, want 503 and the not-set-up page:\n%s", p.status, p.body)
			}
			checkPageHeaders(t, p)
		})
	}
}

// TestConfirmNeedsPost: a link (GET) can never confirm a replacement; only
// the page's form can.
func TestConfirmNeedsPost(t *testing.T) {
	t.Parallel()
	f := newFakeIntegration()
	srv, _ := newPageServer(t, f, nil)
	p := browse(t, srv, http.MethodGet, ConfirmPath+"?state=confirm-state-123&team="+testTeam, nil)
	if p.status != http.StatusMethodNotAllowed {
		t.Errorf("GET confirm: status %d, want 405", p.status)
	}
	if calls := f.Calls(); len(calls) != 0 {
		t.Errorf("GET confirm called the integration: %v", calls)
	}
}
