package bot

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/linear/fakelinear"
)

// TestLoadDetailsAtOnce: with a slow Linear, a team's members, labels and
// projects are asked for at once, so the modal waits one request's time.
func TestLoadDetailsAtOnce(t *testing.T) {
	t.Parallel()
	fl, lc := fakeLinear(t)
	b, fs := newFakeBot(t, alert.NewService(newMemStore(), lc, nil))
	// Each list's answer is held until all three are in flight (or 5 s
	// have passed, for the failure below).
	var releases []func()
	for _, op := range []string{"listTeamMembers", "listTeamLabels", "listTeamProjects"} {
		releases = append(releases, fl.HoldAnswerNext(op))
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	go func() {
		_ = fs.Wait(ctx, func() bool { return fl.InFlight() >= 3 })
		for _, release := range releases {
			release()
		}
	}()
	fl.ResetPeakInFlight()
	d, err := b.loadDetails(t.Context(), fakelinear.TeamEngID)
	if err != nil {
		t.Fatalf("loadDetails: %v", err)
	}
	if len(d.Members) == 0 || len(d.Labels) == 0 || len(d.Projects) == 0 {
		t.Errorf("details = %+v, want members, labels and projects", d)
	}
	if got := fl.PeakInFlight(); got != 3 {
		t.Errorf("at most %d requests were in flight at once, want the 3 lists together", got)
	}
}

// TestLoadDetailsFirstError: reading the lists at once, the error shown
// is still the first in the order members, labels, projects, with the
// lists before it, as when they were read one after another.
func TestLoadDetailsFirstError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		fail        map[string]fakelinear.FailKind
		want        error
		wantMembers bool
		wantLabels  bool
	}{
		{"all fail", map[string]fakelinear.FailKind{
			"listTeamMembers": fakelinear.Unauthorized, "listTeamLabels": fakelinear.Forbidden, "listTeamProjects": fakelinear.InvalidInput,
		}, alert.ErrUnauthorized, false, false},
		{"labels and projects fail", map[string]fakelinear.FailKind{
			"listTeamLabels": fakelinear.Forbidden, "listTeamProjects": fakelinear.InvalidInput,
		}, alert.ErrForbidden, true, false},
		{"projects fail", map[string]fakelinear.FailKind{"listTeamProjects": fakelinear.InvalidInput},
			alert.ErrInvalidInput, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fl, lc := fakeLinear(t)
			b, _ := newFakeBot(t, alert.NewService(newMemStore(), lc, nil))
			for op, kind := range tt.fail {
				fl.FailNext(op, 1, kind)
			}
			d, err := b.loadDetails(t.Context(), fakelinear.TeamEngID)
			if !errors.Is(err, tt.want) {
				t.Fatalf("loadDetails error = %v, want %v", err, tt.want)
			}
			if got := len(d.Members) > 0; got != tt.wantMembers {
				t.Errorf("members returned = %v, want %v", got, tt.wantMembers)
			}
			if got := len(d.Labels) > 0; got != tt.wantLabels {
				t.Errorf("labels returned = %v, want %v", got, tt.wantLabels)
			}
			if len(d.Projects) > 0 {
				t.Error("projects returned with an error")
			}
		})
	}
}
