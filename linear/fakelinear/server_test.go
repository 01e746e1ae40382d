package fakelinear_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/proliferate/proliferate-linear/linear/fakelinear"
)

type answer struct {
	status int
	Data   map[string]any   `json:"data"`
	Errors []map[string]any `json:"errors"`
}

// post sends one GraphQL request the way any client would.
func post(t *testing.T, srv *fakelinear.Server, auth, query string, vars map[string]any) answer {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, srv.URL(), bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	a := answer{status: resp.StatusCode}
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		t.Fatalf("decode: %v", err)
	}
	return a
}

func ext(a answer, key string) any {
	if len(a.Errors) == 0 {
		return nil
	}
	e, _ := a.Errors[0]["extensions"].(map[string]any)
	return e[key]
}

func TestProtocol(t *testing.T) {
	srv := fakelinear.Seeded()
	defer srv.Close()
	tests := []struct {
		name       string
		auth       string
		query      string
		vars       map[string]any
		wantStatus int
		wantCode   any
		wantData   map[string]any
	}{
		{
			name: "aliases, typename and nesting", auth: fakelinear.APIKey,
			query:      `{ me: viewer { __typename name } organization { urlKey } }`,
			wantStatus: 200,
			wantData:   map[string]any{"me": map[string]any{"__typename": "User", "name": "Ada Lovelace"}, "organization": map[string]any{"urlKey": "acme"}},
		},
		{
			name: "pagination", auth: fakelinear.APIKey,
			query:      `query($a: String) { teams(first: 1, after: $a) { nodes { key } pageInfo { hasNextPage } } }`,
			vars:       map[string]any{"a": "cursor:0"},
			wantStatus: 200,
			wantData:   map[string]any{"teams": map[string]any{"nodes": []any{map[string]any{"key": "OPS"}}, "pageInfo": map[string]any{"hasNextPage": false}}},
		},
		{
			name: "page size over Linear's 250", auth: fakelinear.APIKey,
			query: `{ teams(first: 251) { nodes { id } } }`, wantStatus: 200, wantCode: "INVALID_INPUT",
		},
		{
			name: "no credentials", query: `{ viewer { id } }`, wantStatus: 400, wantCode: "AUTHENTICATION_ERROR",
		},
		{
			name: "bearer not issued", auth: "Bearer nope", query: `{ viewer { id } }`, wantStatus: 400, wantCode: "AUTHENTICATION_ERROR",
		},
		{
			name: "field not in schema", auth: fakelinear.APIKey, query: `{ viewer { password } }`,
			wantStatus: 400, wantCode: "GRAPHQL_VALIDATION_FAILED",
		},
		{
			name: "required variable missing", auth: fakelinear.APIKey, query: `query($id: String!) { issue(id: $id) { id } }`,
			wantStatus: 400, wantCode: "BAD_USER_INPUT",
		},
		{
			name: "unknown issue", auth: fakelinear.APIKey, query: `{ issue(id: "ENG-404") { id } }`,
			wantStatus: 200, wantCode: "INVALID_INPUT",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := post(t, srv, tt.auth, tt.query, tt.vars)
			if a.status != tt.wantStatus {
				t.Errorf("status = %d, want %d", a.status, tt.wantStatus)
			}
			if got := ext(a, "code"); got != tt.wantCode {
				t.Errorf("extensions.code = %v, want %v (errors %v)", got, tt.wantCode, a.Errors)
			}
			if tt.wantData != nil {
				if diff := cmp.Diff(tt.wantData, a.Data); diff != "" {
					t.Errorf("data (-want +got):\n%s", diff)
				}
			}
		})
	}
}

// TestMutationsRunInOrder: a failing issueCreate stops the attachmentCreate
// after it, and nulls data, as graphql-js does.
func TestMutationsRunInOrder(t *testing.T) {
	srv := fakelinear.Seeded()
	defer srv.Close()
	const doc = `mutation($team: String!) {
		issueCreate(input: {teamId: $team, title: "t", id: "7d0c2f0e-56a4-4d2b-9a57-2b1c3f1e0a11"}) { issue { identifier } }
		attachmentCreate(input: {issueId: "7d0c2f0e-56a4-4d2b-9a57-2b1c3f1e0a11", url: "https://x.test/1", title: "a"}) { success }
	}`
	a := post(t, srv, fakelinear.APIKey, doc, map[string]any{"team": "no-such-team"})
	if a.Data != nil || ext(a, "code") != "INVALID_INPUT" || len(a.Errors) != 1 {
		t.Fatalf("answer = %+v, want data null and one INVALID_INPUT error", a)
	}
	if got := srv.Attachments("7d0c2f0e-56a4-4d2b-9a57-2b1c3f1e0a11"); got != nil {
		t.Errorf("attachments = %v, want none", got)
	}

	a = post(t, srv, fakelinear.APIKey, doc, map[string]any{"team": fakelinear.TeamOpsID})
	want := map[string]any{"issueCreate": map[string]any{"issue": map[string]any{"identifier": "OPS-1"}}, "attachmentCreate": map[string]any{"success": true}}
	if diff := cmp.Diff(want, a.Data); diff != "" {
		t.Fatalf("data (-want +got):\n%s", diff)
	}
	a = post(t, srv, fakelinear.APIKey, doc, map[string]any{"team": fakelinear.TeamOpsID})
	if ext(a, "code") != "INVALID_INPUT" || len(srv.Issues()) != 1 {
		t.Errorf("reusing an id: errors %v and %d issues, want INVALID_INPUT and 1 issue", a.Errors, len(srv.Issues()))
	}
}

func TestSetIssueState(t *testing.T) {
	srv := fakelinear.Seeded()
	defer srv.Close()
	post(t, srv, fakelinear.APIKey, `mutation { issueCreate(input: {teamId: "`+fakelinear.TeamEngID+`", title: "t"}) { success } }`, nil)
	if err := srv.SetIssueState("eng-1", "In Progress"); err != nil {
		t.Fatal(err)
	}
	a := post(t, srv, fakelinear.APIKey, `{ issue(id: "ENG-1") { state { name type } } }`, nil)
	want := map[string]any{"issue": map[string]any{"state": map[string]any{"name": "In Progress", "type": "started"}}}
	if diff := cmp.Diff(want, a.Data); diff != "" {
		t.Errorf("data (-want +got):\n%s", diff)
	}
	if err := srv.SetIssueState("ENG-1", "Nope"); err == nil {
		t.Error("SetIssueState to an unknown state: want an error")
	}
	if got := srv.Requests()[0].Auth; got != "api-key" {
		t.Errorf("recorded Auth = %q, want %q", got, "api-key")
	}
}
