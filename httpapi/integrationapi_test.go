package httpapi

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/linear/fakelinear"
)

// TestIntegrationAPIAuth: every REST endpoint wants the bearer token, and
// a refused one reaches neither Linear nor the Integration.
func TestIntegrationAPIAuth(t *testing.T) {
	t.Parallel()
	f := newLinearFixture(t)
	endpoints := []struct{ method, path string }{
		{http.MethodGet, "/connect"},
		{http.MethodGet, "/test"},
		{http.MethodGet, "/teams"},
		{http.MethodGet, "/teams/" + fakelinear.TeamEngID + "/members"},
		{http.MethodPost, "/issues"},
		{http.MethodDelete, "/disconnect"},
	}
	for _, ep := range endpoints {
		for _, auth := range []struct{ name, header string }{
			{"no token", ""},
			{"wrong token", "Bearer " + strings.Repeat("x", len(apiToken))},
			{"basic", "Basic " + apiToken},
		} {
			t.Run(ep.method+ep.path+"/"+auth.name, func(t *testing.T) {
				before := len(f.fl.Requests())
				headers := map[string]string{}
				if auth.header != "" {
					headers["Authorization"] = auth.header
				}
				r := f.do(t, ep.method, integrationBase+ep.path, []byte(`{"alert_id":1,"team_id":"x"}`), headers)
				if r.status != http.StatusUnauthorized || r.body["code"] != "unauthorized" {
					t.Errorf("status %d code %v, want 401 unauthorized", r.status, r.body["code"])
				}
				if r.header.Get("WWW-Authenticate") == "" {
					t.Error("no WWW-Authenticate header")
				}
				if n := len(f.fl.Requests()) - before; n != 0 {
					t.Errorf("%d Linear requests for an unauthenticated call", n)
				}
			})
		}
	}
	if calls := f.integ.Calls(); len(calls) != 0 {
		t.Errorf("integration called without a token: %v", calls)
	}
}

func TestIntegrationAPIConnect(t *testing.T) {
	t.Parallel()
	f := newLinearFixture(t)
	r := f.api(t, http.MethodGet, "/connect", nil)
	if r.status != http.StatusOK || r.body["url"] != "https://bot.example"+ConnectPath+"?state=s-new" {
		t.Errorf("status %d body %v, want 200 and the link", r.status, r.body)
	}
	if diff := cmp.Diff([]string{"ConnectURL " + testTeam + " api"}, f.integ.Calls()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}

	f.integ.urlErr = fmt.Errorf("linear connect link: PUBLIC_URL is not set: %w", alert.ErrInvalid)
	if r := f.api(t, http.MethodGet, "/connect", nil); r.status != http.StatusServiceUnavailable || r.body["code"] != "not_configured" {
		t.Errorf("no PUBLIC_URL: status %d body %v, want 503 not_configured", r.status, r.body)
	}
}

func TestIntegrationAPIConnectNeedsTeam(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{APIToken: apiToken}, Deps{Integration: newFakeIntegration()})
	for _, ep := range []struct{ method, path string }{{http.MethodGet, "/connect"}, {http.MethodDelete, "/disconnect"}, {http.MethodGet, "/teams"}} {
		r := h.do(t, ep.method, integrationBase+ep.path, nil, map[string]string{"Authorization": "Bearer " + apiToken})
		if r.status != http.StatusServiceUnavailable || r.body["code"] != "not_configured" {
			t.Errorf("%s %s: status %d code %v, want 503 not_configured", ep.method, ep.path, r.status, r.body["code"])
		}
	}
}

func TestIntegrationAPIDisconnect(t *testing.T) {
	t.Parallel()
	f := newLinearFixture(t)
	f.integ.conn = &alert.Connection{SlackTeamID: testTeam, OrgName: "Acme"}
	for _, want := range []string{"disconnected", "not_connected"} { // the second is idempotent
		r := f.api(t, http.MethodDelete, "/disconnect", nil)
		if r.status != http.StatusOK || r.body["status"] != want {
			t.Errorf("status %d body %v, want 200 %s", r.status, r.body, want)
		}
	}
	f.integ.discErr = alert.Temporary(fmt.Errorf("linear oauth revoke: %w", alert.ErrUnavailable), 0)
	r := f.api(t, http.MethodDelete, "/disconnect", nil)
	if r.status != http.StatusServiceUnavailable || r.body["code"] != "linear_unavailable" || r.header.Get("Retry-After") == "" {
		t.Errorf("Linear down: status %d body %v Retry-After %q, want 503 linear_unavailable with Retry-After",
			r.status, r.body, r.header.Get("Retry-After"))
	}
}

// TestIntegrationAPIRead covers the read endpoints against the fake Linear:
// the answer, and Linear's refusals in the codes the Proliferate docs name.
func TestIntegrationAPIRead(t *testing.T) {
	t.Parallel()
	type call struct {
		path string
		op   string // the GraphQL operation that fails
	}
	test := call{"/test", "getWorkspace"}
	teams := call{"/teams", "listTeams"}
	members := call{"/teams/" + fakelinear.TeamEngID + "/members", "listTeamMembers"}
	cases := []struct {
		name       string
		call       call
		fail       fakelinear.FailKind
		wantStatus int
		wantCode   string
	}{
		{"test token expired", test, fakelinear.Unauthorized, http.StatusUnauthorized, "token_expired"},
		{"test forbidden", test, fakelinear.Forbidden, http.StatusForbidden, "insufficient_permissions"},
		{"test rate limited", test, fakelinear.RateLimited, http.StatusTooManyRequests, "rate_limited"},
		{"teams token expired", teams, fakelinear.Unauthorized, http.StatusUnauthorized, "token_expired"},
		{"teams forbidden", teams, fakelinear.Forbidden, http.StatusForbidden, "insufficient_permissions"},
		{"teams linear down", teams, fakelinear.ServerError, http.StatusServiceUnavailable, "linear_unavailable"},
		{"members token expired", members, fakelinear.Unauthorized, http.StatusUnauthorized, "token_expired"},
		{"members forbidden", members, fakelinear.Forbidden, http.StatusForbidden, "insufficient_permissions"},
		{"members invalid team", members, fakelinear.InvalidInput, http.StatusBadRequest, "invalid_team_or_assignee"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newLinearFixture(t)
			f.fl.FailNext(tc.call.op, 10, tc.fail) // enough for the client's own retries
			r := f.api(t, http.MethodGet, tc.call.path, nil)
			if r.status != tc.wantStatus || r.body["code"] != tc.wantCode {
				t.Errorf("status %d body %v, want %d %s", r.status, r.body, tc.wantStatus, tc.wantCode)
			}
			if msg, _ := r.body["error"].(string); msg == "" || strings.Contains(msg, "HTTP") {
				t.Errorf("error message %q: want words for people, without Linear's internals", msg)
			}
			if tc.wantStatus == http.StatusTooManyRequests && r.header.Get("Retry-After") == "" {
				t.Error("429 without Retry-After")
			}
		})
	}
}

func TestIntegrationAPIReadBodies(t *testing.T) {
	t.Parallel()
	f := newLinearFixture(t)
	t.Run("test", func(t *testing.T) {
		r := f.api(t, http.MethodGet, "/test", nil)
		if r.status != http.StatusOK {
			t.Fatalf("status %d body %v", r.status, r.body)
		}
		want := map[string]any{
			"user":          map[string]any{"name": "Ada Lovelace", "email": "ada@acme.test"},
			"workspace":     map[string]any{"id": fakelinear.OrgID, "name": "Acme", "url_key": "acme"},
			"recent_issues": []any{},
		}
		if diff := cmp.Diff(want, r.body); diff != "" {
			t.Errorf("body (-want +got):\n%s", diff)
		}
	})
	t.Run("teams", func(t *testing.T) {
		r := f.api(t, http.MethodGet, "/teams", nil)
		want := map[string]any{"teams": []any{
			map[string]any{"id": fakelinear.TeamEngID, "key": "ENG", "name": "Engineering"},
			map[string]any{"id": fakelinear.TeamOpsID, "key": "OPS", "name": "Operations"},
		}}
		if diff := cmp.Diff(want, r.body); r.status != http.StatusOK || diff != "" {
			t.Errorf("status %d, body (-want +got):\n%s", r.status, diff)
		}
	})
	t.Run("members", func(t *testing.T) {
		r := f.api(t, http.MethodGet, "/teams/"+fakelinear.TeamOpsID+"/members", nil)
		want := map[string]any{"members": []any{
			map[string]any{"id": fakelinear.UserAdaID, "name": "Ada Lovelace", "display_name": "ada", "email": "ada@acme.test"},
			map[string]any{"id": fakelinear.UserCyID, "name": "Cy Twombly", "display_name": "cy", "email": "cy@acme.test"},
		}}
		if diff := cmp.Diff(want, r.body); r.status != http.StatusOK || diff != "" {
			t.Errorf("status %d, body (-want +got):\n%s", r.status, diff)
		}
	})
	t.Run("members of a bad id", func(t *testing.T) {
		r := f.api(t, http.MethodGet, "/teams/"+strings.Repeat("a", 65)+"/members", nil)
		if r.status != http.StatusBadRequest || r.body["code"] != "invalid_request" || !strings.Contains(r.body["error"].(string), "id") {
			t.Errorf("status %d body %v, want 400 invalid_request naming id", r.status, r.body)
		}
	})
	t.Run("members of an unknown team", func(t *testing.T) {
		r := f.api(t, http.MethodGet, "/teams/NOPE/members", nil)
		if r.status != http.StatusBadRequest || r.body["code"] != "invalid_team_or_assignee" {
			t.Errorf("status %d body %v, want 400 invalid_team_or_assignee", r.status, r.body)
		}
	})
}

// TestIntegrationAPINotConnected: without Linear credentials the API says
// so with 409 not_connected.
func TestIntegrationAPINotConnected(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{APIToken: apiToken}, Deps{API: alert.NewService(nil, nil, nil)})
	for _, path := range []string{"/test", "/teams", "/teams/ENG/members"} {
		r := h.do(t, http.MethodGet, integrationBase+path, nil, map[string]string{"Authorization": "Bearer " + apiToken})
		if r.status != http.StatusConflict || r.body["code"] != "not_connected" {
			t.Errorf("%s: status %d body %v, want 409 not_connected", path, r.status, r.body)
		}
	}
}
