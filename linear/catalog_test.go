package linear_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/proliferate/proliferate-linear/linear"
	"github.com/proliferate/proliferate-linear/linear/fakelinear"
)

func TestTeamLabelsAndProjects(t *testing.T) {
	fl := fakelinear.New(fakelinear.WithSeed())
	t.Cleanup(fl.Close)
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
		names = append(names, l.Name)
	}
	if want := []string{"backend", "Bug", "needs-investigation", "timeout"}; !equal(names, want) {
		t.Errorf("ENG labels = %v, want %v", names, want)
	}
	projects, err := cached.TeamProjects(ctx, fakelinear.TeamOpsID)
	if err != nil || len(projects) != 1 || projects[0].Name != "On-call" || projects[0].ID == "" {
		t.Errorf("OPS projects = %+v, %v", projects, err)
	}
	if _, err := c.TeamLabels(ctx, "no-such-team"); err == nil {
		t.Error("labels of an unknown team: no error")
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
