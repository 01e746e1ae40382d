package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/proliferate/proliferate-linear/alert"
)

const apiToken = "tok_0123456789abcdef0123456789abcdef"

// fakeLinks is an in-memory LinkReader with the store's not-found error.
type fakeLinks struct {
	mu    sync.Mutex
	links map[string]alert.IssueLink
	err   error
	asked []string
}

func (f *fakeLinks) Link(_ context.Context, errorID string) (alert.IssueLink, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, errorID)
	if f.err != nil {
		return alert.IssueLink{}, f.err
	}
	l, ok := f.links[errorID]
	if !ok {
		return alert.IssueLink{}, fmt.Errorf("link of %s: %w", errorID, alert.ErrNotFound)
	}
	return l, nil
}

func newLinksHarness(t *testing.T, token string, links LinkReader) *harness {
	return newHarness(t, Config{WebhookSecret: testSecret, APIToken: token}, Deps{Links: links})
}

func TestLinksAuth(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		token      string // configured API_TOKEN
		auth       string // Authorization header; "" sends none
		wantStatus int
		wantCode   string
	}{
		{"api disabled", "", "Bearer " + apiToken, http.StatusServiceUnavailable, "api_disabled"},
		{"no header", apiToken, "", http.StatusUnauthorized, "unauthorized"},
		{"wrong token", apiToken, "Bearer " + apiToken[:len(apiToken)-1] + "X", http.StatusUnauthorized, "unauthorized"},
		{"token prefix", apiToken, "Bearer " + apiToken[:10], http.StatusUnauthorized, "unauthorized"},
		{"token with suffix", apiToken, "Bearer " + apiToken + "0", http.StatusUnauthorized, "unauthorized"},
		{"basic scheme", apiToken, "Basic " + apiToken, http.StatusUnauthorized, "unauthorized"},
		{"scheme only", apiToken, "Bearer", http.StatusUnauthorized, "unauthorized"},
		{"bare token", apiToken, apiToken, http.StatusUnauthorized, "unauthorized"},
		{"good token", apiToken, "Bearer " + apiToken, http.StatusOK, ""},
		{"scheme is case-insensitive", apiToken, "bearer " + apiToken, http.StatusOK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			links := &fakeLinks{}
			h := newLinksHarness(t, tt.token, links)
			hdr := map[string]string{}
			if tt.auth != "" {
				hdr["Authorization"] = tt.auth
			}
			resp := h.do(t, http.MethodGet, "/api/v1/errors/iss_123/links", nil, hdr)
			if resp.status != tt.wantStatus {
				t.Fatalf("status %d %v, want %d", resp.status, resp.body, tt.wantStatus)
			}
			if tt.wantCode == "" {
				return
			}
			if resp.body["code"] != tt.wantCode {
				t.Errorf("code %v, want %q", resp.body["code"], tt.wantCode)
			}
			if tt.wantStatus == http.StatusServiceUnavailable && resp.body["error"] != "API is disabled: set API_TOKEN" {
				t.Errorf("error %q", resp.body["error"])
			}
			if tt.wantStatus == http.StatusUnauthorized && !strings.HasPrefix(resp.header.Get("WWW-Authenticate"), "Bearer ") {
				t.Errorf("WWW-Authenticate %q, want a Bearer challenge", resp.header.Get("WWW-Authenticate"))
			}
			if len(links.asked) != 0 {
				t.Errorf("store read %v before the request was authorized", links.asked)
			}
			if strings.Contains(h.logs.String(), apiToken[:10]) {
				t.Error("log contains the token")
			}
		})
	}
}

func TestLinksBody(t *testing.T) {
	t.Parallel()
	created := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	closed := time.Date(2025, 3, 3, 17, 30, 0, 0, time.FixedZone("CET", 3600))
	done := alert.IssueLink{
		ErrorID: "iss_done", IssueID: issueUUID, Identifier: "ENG-42", Title: "TypeError: x is undefined",
		URL: "https://linear.app/acme/issue/ENG-42/typeerror", StateName: "Done", StateType: "completed",
		TeamID: "team-eng", TeamKey: "ENG", AssigneeID: "user-1", AssigneeName: "Ada Lovelace",
		CreatedBy: "U0ALICE", Kind: alert.LinkCreated, ClosedAt: closed, CreatedAt: created, UpdatedAt: created.Add(time.Hour),
	}
	open := done
	open.ErrorID, open.StateName, open.StateType, open.ClosedAt = "iss/open", "In Progress", "started", time.Time{}
	open.AssigneeID, open.AssigneeName, open.Kind, open.CreatedBy = "", "", alert.LinkLinked, "linear"
	links := &fakeLinks{links: map[string]alert.IssueLink{done.ErrorID: done, open.ErrorID: open}}

	tests := []struct {
		name    string
		errorID string
		want    map[string]any
	}{
		{
			name: "closed and assigned", errorID: "iss_done",
			want: map[string]any{"error_id": "iss_done", "links": []any{map[string]any{
				"issue_id": issueUUID, "identifier": "ENG-42", "title": "TypeError: x is undefined",
				"url": "https://linear.app/acme/issue/ENG-42/typeerror", "state": "Done", "state_type": "completed",
				"assignee": "Ada Lovelace", "team": "ENG", "kind": "created", "created_by": "U0ALICE",
				"created_at": "2025-03-01T09:00:00Z", "updated_at": "2025-03-01T10:00:00Z", "closed_at": "2025-03-03T16:30:00Z",
			}}},
		},
		{
			name: "open and unassigned, id with an escaped slash", errorID: "iss/open",
			want: map[string]any{"error_id": "iss/open", "links": []any{map[string]any{
				"issue_id": issueUUID, "identifier": "ENG-42", "title": "TypeError: x is undefined",
				"url": "https://linear.app/acme/issue/ENG-42/typeerror", "state": "In Progress", "state_type": "started",
				"assignee": nil, "team": "ENG", "kind": "linked", "created_by": "linear",
				"created_at": "2025-03-01T09:00:00Z", "updated_at": "2025-03-01T10:00:00Z", "closed_at": nil,
			}}},
		},
		{
			name: "error with no link is an empty list", errorID: "iss_untracked",
			want: map[string]any{"error_id": "iss_untracked", "links": []any{}},
		},
	}
	h := newLinksHarness(t, apiToken, links)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := h.do(t, http.MethodGet, "/api/v1/errors/"+url.PathEscape(tt.errorID)+"/links", nil,
				map[string]string{"Authorization": "Bearer " + apiToken})
			if resp.status != http.StatusOK {
				t.Fatalf("status %d %v", resp.status, resp.body)
			}
			if diff := cmp.Diff(tt.want, resp.body); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLinksErrors(t *testing.T) {
	t.Parallel()
	auth := map[string]string{"Authorization": "Bearer " + apiToken}
	tests := []struct {
		name       string
		links      LinkReader
		path       string
		method     string
		wantStatus int
		wantCode   string
	}{
		{"store down", &fakeLinks{err: errDB}, "/api/v1/errors/iss_1/links", http.MethodGet, http.StatusServiceUnavailable, "unavailable"},
		{"no link reader", nil, "/api/v1/errors/iss_1/links", http.MethodGet, http.StatusServiceUnavailable, "not_configured"},
		{"id too long", &fakeLinks{}, "/api/v1/errors/" + strings.Repeat("x", maxIssueIDLen+1) + "/links", http.MethodGet, http.StatusBadRequest, "bad_request"},
		{"post", &fakeLinks{}, "/api/v1/errors/iss_1/links", http.MethodPost, http.StatusMethodNotAllowed, "method_not_allowed"},
		{"no id", &fakeLinks{}, "/api/v1/errors//links", http.MethodGet, http.StatusNotFound, "not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newLinksHarness(t, apiToken, tt.links)
			resp := h.do(t, tt.method, tt.path, nil, auth)
			if resp.status != tt.wantStatus || resp.body["code"] != tt.wantCode {
				t.Fatalf("got %d %v, want %d %q", resp.status, resp.body, tt.wantStatus, tt.wantCode)
			}
			if msg, _ := resp.body["error"].(string); msg == "" || strings.Contains(msg, "10.0.0.5") {
				t.Errorf("error %q: empty or leaks internal detail", msg)
			}
		})
	}
}
