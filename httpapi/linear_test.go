package httpapi

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/linear/webhook"
)

const issueUUID = "2f0e8a8e-5b4c-4d3e-9f1a-0123456789ab"

func TestLinearWebhookApplied(t *testing.T) {
	t.Parallel()
	closed := time.Date(2025, 3, 4, 5, 0, 0, 123e6, time.UTC)
	base := alert.Issue{
		ID: issueUUID, Identifier: "ENG-42", Title: "TypeError: x is undefined",
		URL: "https://linear.app/acme/issue/ENG-42/typeerror", TeamID: "team-eng", TeamKey: "ENG",
		AssigneeID: "user-1", AssigneeName: "Ada Lovelace",
	}
	tests := []struct {
		name  string
		state string
		edit  func(env, data map[string]any)
		want  func(*alert.Issue)
	}{
		{
			name: "moved to started", state: "started",
			want: func(is *alert.Issue) { is.StateName, is.StateType = "In Progress", "started" },
		},
		{
			name: "completed carries completedAt", state: "completed",
			edit: func(_, d map[string]any) { d["completedAt"] = "2025-03-04T05:00:00.123Z" },
			want: func(is *alert.Issue) { is.StateName, is.StateType, is.ClosedAt = "Done", "completed", closed },
		},
		{
			name: "canceled carries canceledAt, not completedAt", state: "canceled",
			edit: func(_, d map[string]any) {
				d["canceledAt"] = "2025-03-04T06:00:00.123+01:00"
				d["completedAt"] = "2020-01-01T00:00:00Z"
			},
			want: func(is *alert.Issue) { is.StateName, is.StateType, is.ClosedAt = "Canceled", "canceled", closed },
		},
		{
			name: "completedAt ignored while the issue is open", state: "started",
			edit: func(_, d map[string]any) { d["completedAt"] = "2025-03-04T05:00:00Z" },
			want: func(is *alert.Issue) { is.StateName, is.StateType = "In Progress", "started" },
		},
		{
			name: "unreadable completedAt leaves ClosedAt to the core", state: "completed",
			edit: func(_, d map[string]any) { d["completedAt"] = "yesterday" },
			want: func(is *alert.Issue) { is.StateName, is.StateType = "Done", "completed" },
		},
		{
			name: "created issue", state: "unstarted",
			edit: func(env, _ map[string]any) { env["action"] = "create"; delete(env, "updatedFrom") },
			want: func(is *alert.Issue) { is.StateName, is.StateType = "Todo", "unstarted" },
		},
		{
			name: "moved to another team, unassigned", state: "unstarted",
			edit: func(env, d map[string]any) {
				d["identifier"], d["teamId"] = "OPS-7", "team-ops"
				d["team"] = map[string]any{"id": "team-ops", "key": "OPS", "name": "Operations"}
				d["assigneeId"], d["assignee"] = nil, nil
				d["previousIdentifiers"] = []string{"ENG-42"}
				env["updatedFrom"] = map[string]any{"teamId": "team-eng", "number": 42}
			},
			want: func(is *alert.Issue) {
				is.Identifier, is.TeamID, is.TeamKey = "OPS-7", "team-ops", "OPS"
				is.AssigneeID, is.AssigneeName = "", ""
				is.StateName, is.StateType = "Todo", "unstarted"
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			lh := newLinearHarness(t, nil)
			resp := lh.postSignedLinear(t, issueDelivery(t, issueUUID, tt.state, testNow, tt.edit), deliveryID(1))
			if diff := cmp.Diff(map[string]any{"status": "accepted"}, resp.body); resp.status != http.StatusOK || diff != "" {
				t.Fatalf("status %d, body (-want +got):\n%s", resp.status, diff)
			}
			want := base
			tt.want(&want)
			wantD := []alert.LinearDelivery{{ID: deliveryID(1), Issue: &want}}
			if diff := cmp.Diff(wantD, lh.deliveries.Accepted()); diff != "" {
				t.Errorf("stored (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLinearWebhookRejected(t *testing.T) {
	t.Parallel()
	good := func(t *testing.T) []byte { return issueDelivery(t, issueUUID, "completed", testNow, nil) }
	signed := func(body []byte) http.Header {
		return webhook.SignedHeader([]byte(linearSecret), body, deliveryID(1), "Issue")
	}
	tests := []struct {
		name       string
		body       func(t *testing.T) []byte
		header     func(body []byte) http.Header
		wantStatus int
		wantCode   string
	}{
		{
			name: "signed with another secret", body: good,
			header: func(b []byte) http.Header {
				return webhook.SignedHeader([]byte("lin_wh_someone_else"), b, deliveryID(1), "Issue")
			},
			wantStatus: http.StatusUnauthorized, wantCode: "bad_signature",
		},
		{
			name: "missing signature", body: good,
			header:     func(b []byte) http.Header { h := signed(b); h.Del(webhook.SignatureHeader); return h },
			wantStatus: http.StatusUnauthorized, wantCode: "bad_signature",
		},
		{
			name: "signature not hex", body: good,
			header: func(b []byte) http.Header {
				h := signed(b)
				h.Set(webhook.SignatureHeader, strings.Repeat("zz", 32))
				return h
			},
			wantStatus: http.StatusUnauthorized, wantCode: "bad_signature",
		},
		{
			name: "body changed after signing", body: good,
			header: func(b []byte) http.Header {
				return signed(bytes.Replace(b, []byte(`"completed"`), []byte(`"started"`), 1))
			},
			wantStatus: http.StatusUnauthorized, wantCode: "bad_signature",
		},
		{
			name: "timestamp 61 s old",
			body: func(t *testing.T) []byte {
				return issueDelivery(t, issueUUID, "completed", testNow.Add(-61*time.Second), nil)
			},
			header:     signed,
			wantStatus: http.StatusBadRequest, wantCode: "stale",
		},
		{
			name: "timestamp 61 s ahead",
			body: func(t *testing.T) []byte {
				return issueDelivery(t, issueUUID, "completed", testNow.Add(61*time.Second), nil)
			},
			header:     signed,
			wantStatus: http.StatusBadRequest, wantCode: "stale",
		},
		{
			name:       "signed but not JSON",
			body:       func(*testing.T) []byte { return []byte("action=update") },
			header:     signed,
			wantStatus: http.StatusBadRequest, wantCode: "malformed",
		},
		{
			name: "issue without id",
			body: func(t *testing.T) []byte {
				return issueDelivery(t, issueUUID, "completed", testNow, func(_, d map[string]any) { delete(d, "id") })
			},
			header:     signed,
			wantStatus: http.StatusBadRequest, wantCode: "malformed",
		},
		{
			name: "delivery id over 128 bytes", body: good,
			header: func(b []byte) http.Header {
				h := signed(b)
				h.Set(webhook.DeliveryHeader, strings.Repeat("d", 129))
				return h
			},
			wantStatus: http.StatusBadRequest, wantCode: "malformed",
		},
		{
			name:       "body over 1 MiB",
			body:       func(*testing.T) []byte { return bytes.Repeat([]byte(" "), webhook.MaxBody+1) },
			header:     signed,
			wantStatus: http.StatusRequestEntityTooLarge, wantCode: "too_large",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			lh := newLinearHarness(t, nil)
			body := tt.body(t)
			resp := lh.postLinear(t, body, tt.header(body))
			if resp.status != tt.wantStatus || resp.body["code"] != tt.wantCode {
				t.Fatalf("got %d %v, want %d code %q", resp.status, resp.body, tt.wantStatus, tt.wantCode)
			}
			if msg, _ := resp.body["error"].(string); msg == "" || strings.Contains(msg, linearSecret) {
				t.Errorf("error message %q: empty or leaks the secret", msg)
			}
			if n := lh.deliveries.Calls(); n != 0 {
				t.Errorf("AcceptDelivery called %d times, want 0", n)
			}
			if strings.Contains(lh.logs.String(), linearSecret) {
				t.Error("log leaks the secret")
			}
		})
	}
}

func TestLinearWebhookReplayedDelivery(t *testing.T) {
	t.Parallel()
	lh := newLinearHarness(t, nil)
	body := issueDelivery(t, issueUUID, "completed", testNow, nil)
	wants := []string{"accepted", "duplicate", "duplicate"}
	for i, want := range wants {
		resp := lh.postSignedLinear(t, body, deliveryID(7))
		if resp.status != http.StatusOK || resp.body["status"] != want {
			t.Fatalf("post %d: %d %v, want 200 %q", i+1, resp.status, resp.body, want)
		}
	}
	if got := lh.deliveries.Accepted(); len(got) != 1 {
		t.Errorf("stored %d times, want once", len(got))
	}
}

func TestLinearWebhookIgnored(t *testing.T) {
	t.Parallel()
	at := testNow.UnixMilli()
	tests := []struct {
		name string
		body map[string]any
		// asked: the core was asked (it ignores a revocation without OAuth).
		asked int
	}{
		{"comment", map[string]any{"action": "create", "type": "Comment", "webhookTimestamp": at, "data": map[string]any{"id": "c1", "body": "hi"}}, 0},
		{"issue removed", map[string]any{"action": "remove", "type": "Issue", "webhookTimestamp": at, "data": map[string]any{"id": issueUUID, "trashed": true}}, 0},
		{"revoked without an organization", map[string]any{"action": "revoked", "type": "OAuthApp", "webhookTimestamp": at}, 0},
		{"revoked without OAuth", map[string]any{"action": "revoked", "type": "OAuthApp", "webhookTimestamp": at, "organizationId": "org-acme"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			lh := newLinearHarness(t, nil)
			resp := lh.postSignedLinear(t, mustJSON(t, tt.body), deliveryID(1))
			if resp.status != http.StatusOK || resp.body["status"] != "ignored" {
				t.Fatalf("got %d %v, want 200 ignored", resp.status, resp.body)
			}
			if n, got := lh.deliveries.Calls(), lh.deliveries.Accepted(); n != tt.asked || len(got) != 0 {
				t.Errorf("asked %d times (want %d), stored %v; want nothing stored", n, tt.asked, got)
			}
		})
	}
}

func TestLinearWebhookRevoked(t *testing.T) {
	t.Parallel()
	lh := newLinearHarness(t, nil)
	lh.deliveries.revocations = true
	body := mustJSON(t, map[string]any{
		"action": "revoked", "type": "OAuthApp", "webhookTimestamp": testNow.UnixMilli(),
		"organizationId": "org-acme", "oauthClientId": "client-1",
	})
	resp := lh.postSignedLinear(t, body, deliveryID(1))
	if resp.status != http.StatusOK || resp.body["status"] != "accepted" {
		t.Fatalf("got %d %v", resp.status, resp.body)
	}
	if diff := cmp.Diff([]alert.LinearDelivery{{ID: deliveryID(1), RevokedOrg: "org-acme"}}, lh.deliveries.Accepted()); diff != "" {
		t.Errorf("stored (-want +got):\n%s", diff)
	}
}

func TestLinearWebhookNotConfigured(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		edit func(*Config, *Deps)
	}{
		{"no secret", func(c *Config, _ *Deps) { c.LinearWebhookSecret = "" }},
		{"no delivery store", func(_ *Config, d *Deps) { d.Deliveries = nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			lh := newLinearHarness(t, tt.edit)
			resp := lh.postSignedLinear(t, issueDelivery(t, issueUUID, "completed", testNow, nil), deliveryID(1))
			want := map[string]any{"error": "Linear webhooks are not configured", "code": "not_configured"}
			if diff := cmp.Diff(want, resp.body); resp.status != http.StatusServiceUnavailable || diff != "" {
				t.Errorf("status %d, body (-want +got):\n%s", resp.status, diff)
			}
		})
	}
}

func TestLinearWebhookRecordFails(t *testing.T) {
	t.Parallel()
	lh := newLinearHarness(t, nil)
	body := issueDelivery(t, issueUUID, "completed", testNow, nil)
	lh.deliveries.err = errDB
	resp := lh.postSignedLinear(t, body, deliveryID(1))
	if resp.status != http.StatusServiceUnavailable || resp.body["code"] != "unavailable" || resp.header.Get("Retry-After") == "" {
		t.Fatalf("got %d %v %v, want 503 unavailable with Retry-After", resp.status, resp.body, resp.header)
	}
	if strings.Contains(resp.body["error"].(string), errDB.Error()) {
		t.Errorf("error %q leaks internal detail", resp.body["error"])
	}
	// Linear retries; nothing was stored, so the retry is fresh.
	lh.deliveries.mu.Lock()
	lh.deliveries.err = nil
	lh.deliveries.mu.Unlock()
	if resp := lh.postSignedLinear(t, body, deliveryID(1)); resp.status != http.StatusOK || resp.body["status"] != "accepted" {
		t.Fatalf("retry: got %d %v, want 200 accepted", resp.status, resp.body)
	}
	if got := lh.deliveries.Accepted(); len(got) != 1 {
		t.Errorf("stored %d times, want once", len(got))
	}
}

// The core's service is what main wires as Deps.Deliveries.
var _ DeliveryAccepter = (*alert.Service)(nil)

// orgSource is a fixed OrganizationSource.
type orgSource struct {
	id  string
	err error
}

func (o orgSource) ConnectedOrganization(context.Context) (string, error) { return o.id, o.err }

// TestLinearWebhookOrganization: Issue deliveries are applied only for the
// connected Linear organization; another one's are refused and nothing is
// recorded or applied.
func TestLinearWebhookOrganization(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		src        orgSource
		wantStatus int
		wantCode   string // "" for a JSON status body
		wantStat   string
		applied    int
	}{
		{"the connected organization", orgSource{id: "org-acme"}, http.StatusOK, "", "accepted", 1},
		{"another organization", orgSource{id: "org-other"}, http.StatusForbidden, "other_organization", "", 0},
		{"nothing connected", orgSource{err: alert.ErrNotConnected}, http.StatusOK, "", "ignored", 0},
		{"linear unreachable", orgSource{err: alert.ErrUnavailable}, http.StatusServiceUnavailable, "unavailable", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			lh := newLinearHarness(t, func(_ *Config, d *Deps) { d.Organization = tt.src })
			resp := lh.postSignedLinear(t, issueDelivery(t, issueUUID, "started", testNow, nil), deliveryID(1))
			if resp.status != tt.wantStatus {
				t.Fatalf("status %d, want %d (%v)", resp.status, tt.wantStatus, resp.body)
			}
			if tt.wantCode != "" && resp.body["code"] != tt.wantCode {
				t.Errorf("code = %v, want %s", resp.body["code"], tt.wantCode)
			}
			if tt.wantStat != "" && resp.body["status"] != tt.wantStat {
				t.Errorf("status = %v, want %s", resp.body["status"], tt.wantStat)
			}
			if n := len(lh.deliveries.Accepted()); n != tt.applied {
				t.Errorf("%d deliveries stored, want %d", n, tt.applied)
			}
		})
	}
}
