package bot

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/bot/fakeslack"
)

// suggested is the option values of a block_suggestion ack.
func suggested(t *testing.T, ack fakeslack.Ack) []string {
	t.Helper()
	var resp struct {
		Options []struct {
			Value string `json:"value"`
		} `json:"options"`
	}
	if err := json.Unmarshal(ack.Payload, &resp); err != nil {
		t.Fatalf("suggestion ack %s: %v", ack.Payload, err)
	}
	var out []string
	for _, o := range resp.Options {
		out = append(out, o.Value)
	}
	return out
}

// TestManyTeamsAndMembers: with 150 teams and 150 members (past Slack's 100
// options of a static select) the team and assignee are external selects
// searched through block_suggestion, and a team and a member beyond the
// first 100 can be chosen and are what Linear is asked for.
func TestManyTeamsAndMembers(t *testing.T) {
	t.Parallel()
	h := startHarness(t, "")
	var teams []alert.Team
	for i := range 150 {
		teams = append(teams, alert.Team{ID: fmt.Sprintf("team-%03d", i), Key: fmt.Sprintf("T%03d", i), Name: fmt.Sprintf("Team %03d", i)})
	}
	var members []alert.User
	for i := range 150 {
		members = append(members, alert.User{ID: fmt.Sprintf("user-%03d", i), Name: fmt.Sprintf("Member %03d", i), Email: fmt.Sprintf("m%03d@example.com", i)})
	}
	h.tracker.mu.Lock()
	h.tracker.teams = teams
	h.tracker.members["team-140"] = members
	h.tracker.mu.Unlock()
	ctx := t.Context()

	if _, err := h.fs.ClickButton(ctx, "U1", "C100", h.ts, actionCreateIssue); err != nil {
		t.Fatal(err)
	}
	v := h.waitView(t, `"external_select"`, "150 teams")
	if strings.Contains(string(v.Blocks), `"team-000"`) {
		t.Error("the team select still lists teams statically")
	}

	ack, err := h.fs.Suggest(ctx, "U1", v.ID, actionTeam, "")
	if err != nil {
		t.Fatal(err)
	}
	if got := suggested(t, ack); len(got) != 100 {
		t.Errorf("empty query offers %d teams, want Slack's maximum of 100", len(got))
	}
	ack, err = h.fs.Suggest(ctx, "U1", v.ID, actionTeam, "t140")
	if err != nil {
		t.Fatal(err)
	}
	if got := suggested(t, ack); len(got) != 1 || got[0] != "team-140" {
		t.Fatalf("search for T140 offers %v, want team-140", got)
	}
	if _, err := h.fs.SelectOption(ctx, "U1", v.ID, actionTeam, "team-140"); err != nil {
		t.Fatalf("select team past the first 100: %v", err)
	}
	v = h.waitView(t, `"assignee:team-140"`, "150 members")

	ack, err = h.fs.Suggest(ctx, "U1", v.ID, actionAssignee, "m149@")
	if err != nil {
		t.Fatal(err)
	}
	if got := suggested(t, ack); len(got) != 1 || got[0] != "user-149" {
		t.Fatalf("search for m149@ offers %v, want user-149", got)
	}
	if _, err := h.fs.SelectOption(ctx, "U1", v.ID, actionAssignee, "user-149"); err != nil {
		t.Fatalf("select member past the first 100: %v", err)
	}
	if _, err := h.fs.SubmitView(ctx, "U1", v.ID); err != nil {
		t.Fatal(err)
	}
	h.waitView(t, "Created")
	reqs := h.tracker.Requests()
	if len(reqs) != 1 || reqs[0].TeamID != "team-140" || reqs[0].AssigneeID != "user-149" {
		t.Errorf("Linear was asked %+v, want team-140 and user-149", reqs)
	}
}
