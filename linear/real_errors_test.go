package linear_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/linear"
	"github.com/proliferate/proliferate-linear/linear/fakelinear"
)

// realAnswer reads one of testdata/gqlerrors (bodies Linear was seen to
// send, from /work/shared/real-payloads: {"http_status", "body",
// "headers"}), with old replaced by new in the body when given.
func realAnswer(t *testing.T, file string, replace ...string) fakelinear.RawAnswer {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "gqlerrors", file))
	if err != nil {
		t.Fatal(err)
	}
	var rec struct {
		Status  int               `json:"http_status"`
		Body    json.RawMessage   `json:"body"`
		Headers map[string]string `json:"headers"`
	}
	if err := json.Unmarshal(raw, &rec); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	body := string(rec.Body)
	for i := 0; i+1 < len(replace); i += 2 {
		body = strings.ReplaceAll(body, replace[i], replace[i+1])
	}
	h := http.Header{}
	for k, v := range rec.Headers {
		h.Set(k, v)
	}
	return fakelinear.RawAnswer{Status: rec.Status, Header: h, Body: []byte(body)}
}

// TestRealLinearErrors replays Linear's own error bodies through the real
// genqlient client: each is read by its code and message, and the user is
// told what Linear meant, in Linear's words where only Linear can say.
func TestRealLinearErrors(t *testing.T) {
	createCall := func(ctx context.Context, c *linear.Client) error {
		_, err := c.CreateIssue(ctx, request("boom"))
		return err
	}
	teamsCall := func(ctx context.Context, c *linear.Client) error { _, err := c.Teams(ctx); return err }
	issueCall := func(ctx context.Context, c *linear.Client) error { _, err := c.Issue(ctx, "ENG-1"); return err }
	tests := []struct {
		name      string
		file      string
		replace   []string
		call      func(context.Context, *linear.Client) error
		want      error
		notWant   error
		userSays  string
		temporary time.Duration // minimum After; 0: not temporary
	}{
		{name: "query too complex on create is not an invalid team", file: "linear_gql_error_query_too_complex_400.json",
			call: createCall, want: alert.ErrTooComplex, notWant: alert.ErrInvalidInput, userSays: "too complex"},
		{name: "feature not accessible in Linear's words", file: "linear_gql_error_feature_not_accessible_400.json",
			call: teamsCall, want: alert.ErrPlanLimit, userSays: "Subscribe to the Business plan to access private teams"},
		{name: "usage limit in Linear's words", file: "linear_gql_error_feature_not_accessible_400.json",
			replace: []string{"FEATURE_NOT_ACCESSIBLE", "USAGE_LIMIT_EXCEEDED",
				"Subscribe to the Business plan to access private teams in your workspace.", "You have reached the issue limit of the Free plan."},
			call: createCall, want: alert.ErrPlanLimit, userSays: "issue limit of the Free plan"},
		{name: "entity not found: Issue is no such issue", file: "linear_gql_error_entity_not_found_200.json",
			call: issueCall, want: alert.ErrNotFound, userSays: "no longer exists"},
		{name: "entity not found: Team on create is an invalid team", file: "linear_gql_error_entity_not_found_200.json",
			replace: []string{"Entity not found: Issue", "Entity not found: Team", `"issue"`, `"issueCreate"`},
			call:    createCall, want: alert.ErrInvalidInput, notWant: alert.ErrNotFound, userSays: "team or assignee is invalid"},
		{name: "ratelimited with Retry-After", file: "linear_gql_error_ratelimited_400.json",
			call: teamsCall, want: alert.ErrRateLimited, temporary: time.Hour, userSays: "rate limit"},
		{name: "ratelimited, code only", file: "linear_gql_error_ratelimited_minimal_400.json",
			call: teamsCall, want: alert.ErrRateLimited, temporary: time.Nanosecond, userSays: "rate limit"},
		{name: "authentication 401", file: "linear_gql_error_authentication_401.json",
			call: teamsCall, want: alert.ErrUnauthorized, userSays: "reconnect"},
		{name: "authentication 400", file: "linear_gql_error_authentication_full_400.json",
			call: teamsCall, want: alert.ErrUnauthorized, userSays: "reconnect"},
		{name: "missing scope", file: "linear_gql_error_forbidden_scope_400.json",
			call: teamsCall, want: alert.ErrForbidden, userSays: "permission"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, c, _ := setup(t, fakelinear.APIKey)
			srv.AnswerNext("", 1, realAnswer(t, tt.file, tt.replace...))
			err := tt.call(t.Context(), c)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if tt.notWant != nil && errors.Is(err, tt.notWant) {
				t.Errorf("err = %v is also %v", err, tt.notWant)
			}
			var tmp *alert.TemporaryError
			if got := errors.As(err, &tmp); got != (tt.temporary > 0) {
				t.Errorf("temporary = %v, want %v", got, tt.temporary > 0)
			} else if got && tt.temporary > time.Nanosecond && tmp.After < tt.temporary {
				t.Errorf("After = %v, want %v", tmp.After, tt.temporary)
			}
			if msg := alert.UserMessage(err); !strings.Contains(msg, tt.userSays) || strings.Contains(msg, "Something went wrong") {
				t.Errorf("UserMessage = %q, want it to say %q", msg, tt.userSays)
			}
		})
	}
}
