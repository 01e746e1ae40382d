package linear_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/linear"
	"github.com/proliferate/proliferate-linear/linear/fakelinear"
)

func TestTeamLabelsAndProjects(t *testing.T) {
	fl := fakelinear.New(fakelinear.WithSeed())
	t.Cleanup(fl.Close)
	fl.AddLabelGroup(fakelinear.TeamEngID, "Area")
	c := linear.New(fl.URL(), &http.Client{Timeout: 10 * time.Second,
		Transport: &linear.APIKeyTransport{Key: fakelinear.APIKey}}, nil)
	cached := linear.NewCached(c, time.Minute)
	ctx := context.Background()

	labels, err := cached.TeamLabels(ctx, fakelinear.TeamEngID)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range labels {
		if l.ID == "" {
			t.Errorf("label %q has no id", l.Name)
		}
		if l.Workspace != (l.Name == "customer-reported") {
			t.Errorf("label %q: Workspace = %v", l.Name, l.Workspace)
		}
		names = append(names, l.Name)
	}
	// The team's own labels and the workspace's (team null); not OPS's
	// incident, and not a group label, which cannot be applied.
	if want := []string{"backend", "Bug", "customer-reported", "needs-investigation", "timeout"}; !equal(names, want) {
		t.Errorf("ENG labels = %v, want %v", names, want)
	}
	projects, err := cached.TeamProjects(ctx, fakelinear.TeamOpsID)
	if err != nil || len(projects) != 1 || projects[0].Name != "On-call" || projects[0].ID == "" {
		t.Errorf("OPS projects = %+v, %v", projects, err)
	}
	if _, err := c.TeamLabels(ctx, ""); err == nil {
		t.Error("labels of no team: no error")
	}
}

// CreateIssue sends labelIds and projectId; Linear (the fake, as Linear
// does) refuses a label of another team and a project of another team, in
// its own words, and creates nothing then.
func TestCreateIssueLabelsAndProject(t *testing.T) {
	fl, c, _ := setup(t, fakelinear.APIKey)
	ctx := context.Background()
	ids := map[string]string{}
	for _, team := range []string{fakelinear.TeamEngID, fakelinear.TeamOpsID} {
		labels, err := c.TeamLabels(ctx, team)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range labels {
			ids[l.Name] = l.ID
		}
		projects, err := c.TeamProjects(ctx, team)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range projects {
			ids[p.Name] = p.ID
		}
	}

	req := request("TimeoutError: upstream")
	req.LabelIDs = []string{ids["timeout"], ids["customer-reported"]}
	req.ProjectID = ids["Q3 Reliability"]
	got, err := c.CreateIssue(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	iss, ok := fl.Issue(got.ID)
	if !ok || !equal(iss.LabelIDs, req.LabelIDs) || iss.ProjectID != req.ProjectID {
		t.Fatalf("Linear has labels %v project %q, want %v %q", iss.LabelIDs, iss.ProjectID, req.LabelIDs, req.ProjectID)
	}
	last := fl.Requests()[len(fl.Requests())-1]
	in, _ := last.Variables["issue"].(map[string]any)
	if _, ok := in["labelIds"]; !ok || in["projectId"] != req.ProjectID {
		t.Errorf("issueCreate input %v lacks labelIds or projectId", in)
	}

	plain := request("no labels")
	if _, err := c.CreateIssue(ctx, plain); err != nil {
		t.Fatal(err)
	}
	in, _ = fl.Requests()[len(fl.Requests())-1].Variables["issue"].(map[string]any)
	if _, ok := in["labelIds"]; ok {
		t.Errorf("no labels chosen, yet labelIds sent: %v", in)
	}
	if _, ok := in["projectId"]; ok {
		t.Errorf("no project chosen, yet projectId sent: %v", in)
	}

	for _, tc := range []struct {
		name  string
		edit  func(*alert.IssueRequest)
		words string
	}{
		{"label of another team", func(r *alert.IssueRequest) { r.LabelIDs = []string{ids["incident"]} },
			"The label 'incident' is not associated with the same team as the issue."},
		{"project of another team", func(r *alert.IssueRequest) { r.ProjectID = ids["On-call"] },
			"The project 'On-call' is not associated with the same team as the issue."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(fl.Issues())
			r := request("refused")
			tc.edit(&r)
			_, err := c.CreateIssue(ctx, r)
			var apiErr *linear.APIError
			if !errors.Is(err, alert.ErrInvalidInput) || !errors.As(err, &apiErr) || apiErr.UserPresentable() != tc.words {
				t.Fatalf("err = %v, want ErrInvalidInput saying %q", err, tc.words)
			}
			if msg := alert.UserMessage(err); !strings.Contains(msg, tc.words) {
				t.Errorf("the person is told %q, not Linear's %q", msg, tc.words)
			}
			if n := len(fl.Issues()); n != before {
				t.Errorf("a refused create made an issue (%d → %d)", before, n)
			}
		})
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
