package httpapi

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/linear/fakelinear"
	"github.com/proliferate/proliferate-linear/store/storetest"
)

// storedAlert accepts validPayload's alert into the fixture's core and
// returns its id.
func (f *linearFixture) storedAlert(t *testing.T, errorID string) int64 {
	t.Helper()
	p := validPayload()
	p["issue_id"] = errorID
	p["url"] = "https://app.proliferate.dev/errors/" + errorID
	a, err := (&server{defaultChannel: "C0DEFAULT"}).acceptPayload(mustJSON(t, p))
	if err != nil {
		t.Fatal(err)
	}
	stored, err := f.svc.Accept(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	return stored.ID
}

func TestCreateIssue(t *testing.T) {
	t.Parallel()
	f := newLinearFixture(t)
	id := f.storedAlert(t, "iss_1")
	const creation = "0b5c4d2e-8f1a-4c3b-9d6e-7a8b9c0d1e2f"
	body := mustJSON(t, map[string]any{
		"alert_id": id, "team_id": fakelinear.TeamEngID, "assignee_id": fakelinear.UserBobID,
		"priority": 2, "creation_id": creation,
	})
	r := f.api(t, http.MethodPost, "/issues", body)
	if r.status != http.StatusCreated {
		t.Fatalf("status %d body %v, want 201", r.status, r.body)
	}
	issues := f.fl.Issues()
	if len(issues) != 1 {
		t.Fatalf("%d issues in Linear, want 1", len(issues))
	}
	is := issues[0]
	want := map[string]any{
		"id": is.ID, "identifier": "ENG-1", "title": "TypeError: x is undefined", "url": is.URL,
		"state": r.body["state"], "creation_id": creation,
	}
	if diff := cmp.Diff(want, r.body); diff != "" || r.body["state"] == "" {
		t.Errorf("body (-want +got):\n%s", diff)
	}
	if is.AssigneeID != fakelinear.UserBobID || is.Priority != 2 || is.ID != creation {
		t.Errorf("Linear issue: assignee %s priority %d id %s; want Bob, 2, the creation id", is.AssigneeID, is.Priority, is.ID)
	}
	if !strings.Contains(is.Description, "This issue was automatically created from Proliferate.") {
		t.Errorf("description is not the template:\n%s", is.Description)
	}

	// A retry with the same creation_id is the same intent: same issue.
	again := f.api(t, http.MethodPost, "/issues", body)
	if again.status != http.StatusCreated || again.body["id"] != is.ID {
		t.Errorf("retry: status %d body %v, want 201 and the same issue", again.status, again.body)
	}
	// A new intent for a tracked error is refused with the issue.
	other := f.api(t, http.MethodPost, "/issues", mustJSON(t, map[string]any{"alert_id": id, "team_id": fakelinear.TeamEngID}))
	if other.status != http.StatusConflict || other.body["code"] != "already_tracked" {
		t.Fatalf("new intent: status %d body %v, want 409 already_tracked", other.status, other.body)
	}
	if got := other.body["issue"].(map[string]any)["identifier"]; got != "ENG-1" {
		t.Errorf("409 names issue %v, want ENG-1", got)
	}
	if n := len(f.fl.Issues()); n != 1 {
		t.Errorf("%d issues in Linear after the retries, want 1", n)
	}
}

func TestCreateIssueFromPayload(t *testing.T) {
	t.Parallel()
	f := newLinearFixture(t)
	p := validPayload()
	p["issue_id"] = "iss_payload"
	r := f.api(t, http.MethodPost, "/issues", mustJSON(t, map[string]any{
		"alert": p, "team_id": fakelinear.TeamOpsID, "title": "  Checkout breaks  ", "description": "See the error.",
	}))
	if r.status != http.StatusCreated {
		t.Fatalf("status %d body %v, want 201", r.status, r.body)
	}
	if r.body["title"] != "Checkout breaks" || r.body["identifier"] != "OPS-1" {
		t.Errorf("body %v, want OPS-1 titled Checkout breaks", r.body)
	}
	if id, _ := r.body["creation_id"].(string); len(id) != 36 {
		t.Errorf("creation_id %q: the server should mint and return one", id)
	}
	if is := f.fl.Issues(); len(is) != 1 || is[0].Description != "See the error." {
		t.Errorf("Linear issues %+v, want one with the given description", is)
	}
}

func TestCreateIssueBadInput(t *testing.T) {
	t.Parallel()
	f := newLinearFixture(t)
	id := f.storedAlert(t, "iss_bad")
	noChannel := validPayload()
	noChannel["url"] = "ftp://x"
	cases := []struct {
		name       string
		body       string
		wantStatus int
		wantCode   string
		wantField  string
	}{
		{"not JSON", `{"alert_id":`, 400, "invalid_request", "body"},
		{"an array", `[1]`, 400, "invalid_request", "body"},
		{"two objects", `{"alert_id":1,"team_id":"x"}{}`, 400, "invalid_request", "body"},
		{"unknown field", `{"alert_id":1,"teamId":"x"}`, 400, "invalid_request", "teamId"},
		{"wrong type", `{"alert_id":"1","team_id":"x"}`, 400, "invalid_request", "alert_id"},
		{"neither alert nor id", `{"team_id":"x"}`, 400, "invalid_request", "alert_id"},
		{"both alert and id", `{"alert_id":1,"alert":{},"team_id":"x"}`, 400, "invalid_request", "alert_id"},
		{"no team", `{"alert_id":1}`, 400, "invalid_request", "team_id"},
		{"priority out of range", `{"alert_id":1,"team_id":"x","priority":5}`, 400, "invalid_request", "priority"},
		{"empty title", `{"alert_id":1,"team_id":"x","title":" "}`, 400, "invalid_request", "title"},
		{"creation id not v4", `{"alert_id":1,"team_id":"x","creation_id":"6ba7b810-9dad-11d1-80b4-00c04fd430c8"}`, 400, "invalid_request", "creation_id"},
		{"bad alert payload", string(mustJSON(t, map[string]any{"alert": noChannel, "team_id": "x"})), 400, "invalid_request", "alert.url"},
		{"unknown alert", `{"alert_id":999,"team_id":"x"}`, 404, "alert_not_found", "alert_id"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := f.api(t, http.MethodPost, "/issues", []byte(tc.body))
			msg, _ := r.body["error"].(string)
			if r.status != tc.wantStatus || r.body["code"] != tc.wantCode || !strings.Contains(msg, tc.wantField) {
				t.Errorf("status %d body %v, want %d %s naming %s", r.status, r.body, tc.wantStatus, tc.wantCode, tc.wantField)
			}
		})
	}
	if n := len(f.fl.Issues()); n != 0 || id == 0 {
		t.Errorf("%d issues created from bad input", n)
	}
}

// TestCreateIssueLinearRefuses: Linear's 401, 403 and 400 on issueCreate
// come back in the Proliferate docs' codes, and nothing is created; the
// error stays free for the next try.
func TestCreateIssueLinearRefuses(t *testing.T) {
	t.Parallel()
	cases := []struct {
		fail       fakelinear.FailKind
		wantStatus int
		wantCode   string
	}{
		{fakelinear.Unauthorized, http.StatusUnauthorized, "token_expired"},
		{fakelinear.Forbidden, http.StatusForbidden, "insufficient_permissions"},
		{fakelinear.InvalidInput, http.StatusBadRequest, "invalid_team_or_assignee"},
		{fakelinear.RateLimited, http.StatusTooManyRequests, "rate_limited"},
	}
	for _, tc := range cases {
		t.Run(string(tc.fail), func(t *testing.T) {
			t.Parallel()
			f := newLinearFixture(t)
			id := f.storedAlert(t, "iss_refused")
			f.fl.FailNext("createIssue", 10, tc.fail)
			body := mustJSON(t, map[string]any{"alert_id": id, "team_id": fakelinear.TeamEngID})
			r := f.api(t, http.MethodPost, "/issues", body)
			if r.status != tc.wantStatus || r.body["code"] != tc.wantCode {
				t.Errorf("status %d body %v, want %d %s", r.status, r.body, tc.wantStatus, tc.wantCode)
			}
			if n := len(f.fl.Issues()); n != 0 {
				t.Errorf("%d issues created", n)
			}
		})
	}
}

// TestCreateIssueUnknownAssignee: the fake Linear refuses an assignee who
// is not in the team the way Linear does (HTTP 200, errors[]).
func TestCreateIssueUnknownAssignee(t *testing.T) {
	t.Parallel()
	f := newLinearFixture(t)
	id := f.storedAlert(t, "iss_assignee")
	r := f.api(t, http.MethodPost, "/issues", mustJSON(t, map[string]any{
		"alert_id": id, "team_id": fakelinear.TeamEngID, "assignee_id": "5c1f6a3e-0000-4000-8000-00000000ffff",
	}))
	if r.status != http.StatusBadRequest || r.body["code"] != "invalid_team_or_assignee" {
		t.Errorf("status %d body %v, want 400 invalid_team_or_assignee", r.status, r.body)
	}
}

// TestCreateIssueNotConnected: with no Linear credentials, 409.
func TestCreateIssueNotConnected(t *testing.T) {
	t.Parallel()
	svc := alert.NewService(storetest.SQLite(t), nil, nil)
	h := newHarness(t, Config{APIToken: apiToken, DefaultChannel: "C0DEFAULT"}, Deps{API: svc})
	r := h.do(t, http.MethodPost, integrationBase+"/issues", mustJSON(t, map[string]any{"alert": validPayload(), "team_id": "x"}),
		map[string]string{"Authorization": "Bearer " + apiToken})
	if r.status != http.StatusConflict || r.body["code"] != "not_connected" {
		t.Errorf("status %d body %v, want 409 not_connected", r.status, r.body)
	}
}

// TestCreateIssueLabelsAndProject: GET teams/{id}/labels and /projects
// list what label_ids and project_id may name; POST issues sends them to
// Linear's issueCreate; a label of another team is refused in Linear's
// words (400 invalid_labels_or_project) and nothing is created.
func TestCreateIssueLabelsAndProject(t *testing.T) {
	t.Parallel()
	for _, dc := range storetest.Dialects(t) {
		t.Run(dc.Name, func(t *testing.T) {
			t.Parallel()
			f := newLinearFixtureOn(t, dc.Open(t))
			ids := map[string]string{}
			labels := f.api(t, http.MethodGet, "/teams/"+fakelinear.TeamEngID+"/labels", nil)
			list, _ := labels.body["labels"].([]any)
			var names []string
			for _, l := range list {
				m := l.(map[string]any)
				names = append(names, m["name"].(string))
				ids[m["name"].(string)] = m["id"].(string)
				if (m["workspace"] == true) != (m["name"] == "customer-reported") {
					t.Errorf("label %v: workspace = %v", m["name"], m["workspace"])
				}
			}
			if want := []string{"backend", "Bug", "customer-reported", "needs-investigation", "timeout"}; labels.status != http.StatusOK || !cmp.Equal(names, want) {
				t.Fatalf("GET labels: %d %v, want %v", labels.status, names, want)
			}
			projects := f.api(t, http.MethodGet, "/teams/"+fakelinear.TeamEngID+"/projects", nil)
			plist, _ := projects.body["projects"].([]any)
			if projects.status != http.StatusOK || len(plist) != 1 || plist[0].(map[string]any)["name"] != "Q3 Reliability" {
				t.Fatalf("GET projects: %d %v", projects.status, projects.body)
			}
			project := plist[0].(map[string]any)["id"].(string)

			id := f.storedAlert(t, "iss_labels")
			r := f.api(t, http.MethodPost, "/issues", mustJSON(t, map[string]any{
				"alert_id": id, "team_id": fakelinear.TeamEngID,
				"label_ids": []string{ids["timeout"], ids["customer-reported"]}, "project_id": project,
			}))
			if r.status != http.StatusCreated {
				t.Fatalf("POST issues: %d %v", r.status, r.body)
			}
			is, _ := f.fl.Issue(r.body["id"].(string))
			if !cmp.Equal(is.LabelIDs, []string{ids["timeout"], ids["customer-reported"]}) || is.ProjectID != project {
				t.Errorf("Linear issue labels %v project %q", is.LabelIDs, is.ProjectID)
			}

			opsIncident := f.fl.AddLabel(fakelinear.TeamOpsID, "pager")
			other := f.storedAlert(t, "iss_wrong_label")
			r = f.api(t, http.MethodPost, "/issues", mustJSON(t, map[string]any{
				"alert_id": other, "team_id": fakelinear.TeamEngID, "label_ids": []string{opsIncident},
			}))
			if r.status != http.StatusBadRequest || r.body["code"] != "invalid_labels_or_project" ||
				!strings.Contains(r.body["error"].(string), "The label 'pager' is not associated with the same team as the issue.") {
				t.Errorf("another team's label: %d %v, want 400 invalid_labels_or_project in Linear's words", r.status, r.body)
			}
			if n := len(f.fl.Issues()); n != 1 {
				t.Errorf("%d issues in Linear, want 1", n)
			}
			bad := f.api(t, http.MethodPost, "/issues", mustJSON(t, map[string]any{
				"alert_id": other, "team_id": fakelinear.TeamEngID, "label_ids": []string{""},
			}))
			if bad.status != http.StatusBadRequest || !strings.Contains(bad.body["error"].(string), "label_ids") {
				t.Errorf("empty label id: %d %v, want 400 naming label_ids", bad.status, bad.body)
			}
		})
	}
}
