package webhook

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/proliferate/proliferate-linear/alert"
)

func TestVerifyParsesFixtures(t *testing.T) {
	ts := sent
	created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	org := "0d4e5f60-0000-4000-8000-0000000000aa"
	tests := []struct {
		fixture string
		want    Event // DeliveryID, Raw, Data and UpdatedFrom values are checked apart.
		changed []string
		state   string // Issue.State.Name, "" if none.
		revoked bool
	}{
		{
			fixture: "issue_update_state.json",
			want: Event{Type: "Issue", Action: "update", WebhookTimestamp: ts, CreatedAt: created, OrganizationID: org,
				WebhookID: "1b2c3d4e-0000-4000-8000-0000000000bb", URL: "https://linear.app/acme/issue/ENG-123/typeerror-cannot-read-properties"},
			changed: []string{"state"},
			state:   "Done",
		},
		{
			fixture: "issue_update_assignee.json",
			want: Event{Type: "Issue", Action: "update", WebhookTimestamp: ts, CreatedAt: created, OrganizationID: org,
				WebhookID: "1b2c3d4e-0000-4000-8000-0000000000bb", URL: "https://linear.app/acme/issue/ENG-123/typeerror"},
			changed: []string{"assignee"},
			state:   "In Progress",
		},
		{
			fixture: "issue_move_team.json",
			want: Event{Type: "Issue", Action: "update", WebhookTimestamp: ts, CreatedAt: created, OrganizationID: org,
				WebhookID: "1b2c3d4e-0000-4000-8000-0000000000bb", URL: "https://linear.app/acme/issue/OPS-7/typeerror"},
			changed: []string{"state", "identifier"},
			state:   "Triage",
		},
		{
			fixture: "issue_remove.json",
			want: Event{Type: "Issue", Action: "remove", WebhookTimestamp: ts, CreatedAt: created, OrganizationID: org,
				WebhookID: "1b2c3d4e-0000-4000-8000-0000000000bb", URL: "https://linear.app/acme/issue/ENG-123/typeerror"},
		},
		{
			fixture: "oauthapp_revoked.json",
			want: Event{Type: "OAuthApp", Action: "revoked", WebhookTimestamp: ts, CreatedAt: created, OrganizationID: org,
				WebhookID: "1b2c3d4e-0000-4000-8000-0000000000dd", OAuthClientID: "5f6a7b8c-0000-4000-8000-0000000000cc"},
			revoked: true,
		},
		{
			fixture: "comment_create.json",
			want: Event{Type: "Comment", Action: "create", WebhookTimestamp: ts, CreatedAt: created, OrganizationID: org,
				WebhookID: "1b2c3d4e-0000-4000-8000-0000000000bb", URL: "https://linear.app/acme/issue/ENG-123/typeerror#comment-3c4d5e6f"},
		},
	}
	for _, tt := range tests {
		t.Run(strings.TrimSuffix(tt.fixture, ".json"), func(t *testing.T) {
			b := fixture(t, tt.fixture)
			ev, err := verifierAt(sent.Add(2*time.Second)).Verify(SignedHeader(secret, b, delivery, tt.want.Type), b)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if ev.DeliveryID != delivery {
				t.Errorf("DeliveryID %q, want %q", ev.DeliveryID, delivery)
			}
			if (ev.Issue != nil) != (tt.want.Type == TypeIssue) || (ev.Data == nil) == (tt.want.Type != TypeOAuthApp) {
				t.Errorf("Issue set %v, Data set %v for type %s", ev.Issue != nil, ev.Data != nil, ev.Type)
			}
			got := ev
			got.DeliveryID, got.Data, got.Issue, got.UpdatedFrom = "", nil, nil, nil
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("event mismatch (-want +got):\n%s", diff)
			}
			var changed []string
			for name, yes := range map[string]bool{"state": ev.StateChanged(), "assignee": ev.AssigneeChanged(), "identifier": ev.IdentifierChanged()} {
				if yes {
					changed = append(changed, name)
				}
			}
			if diff := cmp.Diff(tt.changed, changed, cmpopts.SortSlices(func(a, b string) bool { return a < b }), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("changes mismatch (-want +got):\n%s", diff)
			}
			if ev.Revoked() != tt.revoked {
				t.Errorf("Revoked() = %v", ev.Revoked())
			}
			if tt.state != "" && (ev.Issue == nil || ev.Issue.State == nil || ev.Issue.State.Name != tt.state) {
				t.Errorf("issue state = %+v, want %q", ev.Issue, tt.state)
			}
		})
	}
}

func TestIssueUpdateWithStateChange(t *testing.T) {
	b := fixture(t, "issue_update_state.json")
	ev, err := verifierAt(sent).Verify(SignedHeader(secret, b, delivery, "Issue"), b)
	if err != nil {
		t.Fatal(err)
	}
	var prev string
	if err := json.Unmarshal(ev.UpdatedFrom["stateId"], &prev); err != nil {
		t.Fatalf("updatedFrom.stateId: %v", err)
	}
	if prev != "9b3c2a10-0000-4000-8000-000000000001" || prev == ev.Issue.StateID {
		t.Errorf("previous state %q, current %q", prev, ev.Issue.StateID)
	}
	want := alert.Issue{
		ID: "2f0e8a8e-5b4c-4d3e-9f1a-0123456789ab", Identifier: "ENG-123",
		Title:     "TypeError: Cannot read properties of undefined (reading 'id')",
		URL:       "https://linear.app/acme/issue/ENG-123/typeerror-cannot-read-properties",
		StateName: "Done", StateType: "completed",
		TeamID: "7c1e0b2a-0000-4000-8000-000000000001", TeamKey: "ENG",
		AssigneeID: "6a1d9c0e-8f7b-4b2a-9e55-3c2f1d0a9b8c", AssigneeName: "Ada Lovelace",
		// completedAt of a completed issue.
		ClosedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	if diff := cmp.Diff(want, ev.Issue.AlertIssue()); diff != "" {
		t.Errorf("AlertIssue mismatch (-want +got):\n%s", diff)
	}
}

func TestAlertIssueFillsIDsFromNestedObjects(t *testing.T) {
	d := IssueData{ID: "i", Identifier: "ENG-1", Team: &TeamData{ID: "t", Key: "ENG"}, Assignee: &UserData{ID: "u", Name: "Ada"}}
	want := alert.Issue{ID: "i", Identifier: "ENG-1", TeamID: "t", TeamKey: "ENG", AssigneeID: "u", AssigneeName: "Ada"}
	if diff := cmp.Diff(want, d.AlertIssue()); diff != "" {
		t.Errorf("AlertIssue mismatch (-want +got):\n%s", diff)
	}
}

func TestChangesOnlyOnIssueUpdates(t *testing.T) {
	from := map[string]json.RawMessage{"stateId": json.RawMessage(`"s"`), "assigneeId": json.RawMessage(`null`), "teamId": json.RawMessage(`"t"`)}
	tests := []struct {
		name string
		ev   Event
		want bool
	}{
		{"issue update", Event{Type: TypeIssue, Action: ActionUpdate, UpdatedFrom: from}, true},
		{"issue create", Event{Type: TypeIssue, Action: ActionCreate, UpdatedFrom: from}, false},
		{"issue remove", Event{Type: TypeIssue, Action: ActionRemove, UpdatedFrom: from}, false},
		{"comment update", Event{Type: "Comment", Action: ActionUpdate, UpdatedFrom: from}, false},
		{"issue update without updatedFrom", Event{Type: TypeIssue, Action: ActionUpdate}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := []bool{tt.ev.StateChanged(), tt.ev.AssigneeChanged(), tt.ev.IdentifierChanged()}
			if diff := cmp.Diff([]bool{tt.want, tt.want, tt.want}, got); diff != "" {
				t.Errorf("changes mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTimestampForms(t *testing.T) {
	tests := []struct {
		name string
		ts   string
		want time.Time
	}{
		{"integer", "1767225600000", sent},
		{"fraction rounds", "1767225600000.6", sent.Add(time.Millisecond)},
		{"exponent", "1.7672256e12", sent},
		{"string number", `"1767225600000"`, sent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := []byte(`{"type":"Comment","webhookTimestamp":` + tt.ts + `}`)
			ev, err := verifierAt(sent).Verify(SignedHeader(secret, b, delivery, ""), b)
			if err != nil {
				t.Fatal(err)
			}
			if !ev.WebhookTimestamp.Equal(tt.want) {
				t.Errorf("WebhookTimestamp = %v, want %v", ev.WebhookTimestamp, tt.want)
			}
		})
	}
}

func TestCheckOrganization(t *testing.T) {
	tests := []struct {
		name, delivery, connected string
		ok                        bool
	}{
		{"same organization", "org-1", "org-1", true},
		{"another organization", "org-2", "org-1", false},
		{"delivery without organization", "", "org-1", false},
		{"nothing to compare with", "org-1", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Event{OrganizationID: tt.delivery}.CheckOrganization(tt.connected)
			if (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrOtherOrganization)) {
				t.Errorf("CheckOrganization = %v, want ok %v", err, tt.ok)
			}
		})
	}
}
