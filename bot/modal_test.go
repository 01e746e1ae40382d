package bot

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/slack-go/slack"

	"github.com/proliferate/proliferate-linear/alert"
)

var testMeta = modalMeta{
	AlertID: 42, CreationID: "0b7e7a5e-7d1c-4c43-9a43-52e2f7b7a001", Channel: "C100", TS: "1700000000.000100",
	Prefill: "0123456789abcdef",
}

var forceMeta = modalMeta{
	AlertID: 42, CreationID: "0b7e7a5e-7d1c-4c43-9a43-52e2f7b7a001", Channel: "C100", TS: "1700000000.000100", Force: true,
}

func TestModalGolden(t *testing.T) {
	t.Parallel()
	closed := sampleLink()
	closed.StateName, closed.StateType = "Done", "completed"
	tests := []struct {
		name string
		view slack.ModalViewRequest
	}{
		{"modal_create", createModal(createForm{Alert: sampleAlert(), Teams: sampleTeams(), TeamID: "team-eng", Members: sampleMembers()}, testMeta)},
		{"modal_create_no_team", createModal(createForm{Alert: sampleAlert(), Teams: sampleTeams()}, testMeta)},
		{"modal_create_members_loading", createModal(createForm{Alert: sampleAlert(), Teams: sampleTeams(), TeamID: "team-ops", MembersLoading: true}, testMeta)},
		{"modal_create_retry", createModal(createForm{
			Alert: sampleAlert(), Link: &closed, Teams: sampleTeams(), TeamID: "team-eng", Members: sampleMembers(),
			Error:  alert.UserMessage(alert.ErrUnavailable),
			Values: submission{TeamID: "team-eng", AssigneeID: "u2", Title: "My title", Description: "My text", Priority: alert.PriorityHigh},
		}, testMeta)},
		{"modal_loading", loadingModal(testMeta)},
		{"modal_creating", creatingModal(testMeta)},
		{"modal_created", createdModal(sampleLink(), testMeta)},
		{"modal_linked", linkedModal(sampleLink(), testMeta)},
		{"modal_error", errorModal(fmt.Errorf("teams: %w", alert.ErrUnauthorized), testMeta)},
		{"modal_create_anyway", createModal(createForm{
			Alert: sampleAlert(), Link: ptr(sampleLink()), Force: true, Teams: sampleTeams(), TeamID: "team-eng", Members: sampleMembers(),
		}, forceMeta)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			golden(t, tt.name, tt.view)
		})
	}
}

func TestCreateModalLimits(t *testing.T) {
	t.Parallel()
	var teams []alert.Team
	var members []alert.User
	for i := range 150 {
		teams = append(teams, alert.Team{ID: fmt.Sprintf("t%d", i), Key: "K", Name: strings.Repeat("n", 100)})
		members = append(members, alert.User{ID: fmt.Sprintf("u%d", i), Name: strings.Repeat("m", 100)})
	}
	a := sampleAlert()
	a.ErrorType = strings.Repeat("T", 300)
	a.Stack = strings.Repeat("at frame (file.js:1:1)\n", 1000)
	v := createModal(createForm{Alert: a, Teams: teams, TeamID: "t149", Members: members}, testMeta)

	if n := len(v.Blocks.BlockSet); n > maxModalBlocks {
		t.Errorf("%d blocks, Slack allows %d", n, maxModalBlocks)
	}
	if !slack.ValidateUniqueBlockID(v) {
		t.Error("block_ids are not unique")
	}
	if n := len([]rune(v.Title.Text)); n > maxModalTitle {
		t.Errorf("title has %d runes", n)
	}
	for _, b := range v.Blocks.BlockSet {
		in, ok := b.(*slack.InputBlock)
		if !ok {
			continue
		}
		switch el := in.Element.(type) {
		case *slack.SelectBlockElement:
			if len(el.Options) > maxOptions {
				t.Errorf("%s has %d options, Slack allows %d", in.BlockID, len(el.Options), maxOptions)
			}
			for _, o := range el.Options {
				if n := len([]rune(o.Text.Text)); n > maxButtonText {
					t.Errorf("%s option text has %d runes", in.BlockID, n)
				}
			}
		case *slack.PlainTextInputBlockElement:
			if n := len([]rune(el.InitialValue)); n > el.MaxLength {
				t.Errorf("%s initial value has %d runes, max_length %d", in.BlockID, n, el.MaxLength)
			}
		}
	}
	if n := len(v.PrivateMetadata); n > maxPrivateMetadata {
		t.Errorf("private_metadata has %d bytes", n)
	}
}

// TestCreateModalAssigneeBlockFollowsTeam: the assignee block_id carries
// the team, so a team change makes Slack drop the old pick.
func TestCreateModalAssigneeBlockFollowsTeam(t *testing.T) {
	t.Parallel()
	ids := func(team string) []string {
		var out []string
		v := createModal(createForm{Alert: sampleAlert(), Teams: sampleTeams(), TeamID: team, Members: sampleMembers()}, testMeta)
		for _, b := range v.Blocks.BlockSet {
			if in, ok := b.(*slack.InputBlock); ok {
				out = append(out, in.BlockID)
			}
		}
		return out
	}
	want := map[string][]string{
		"team-eng": {"team", "assignee:team-eng", "title", "description", "priority"},
		"team-ops": {"team", "assignee:team-ops", "title", "description", "priority"},
	}
	for team, w := range want {
		t.Run(team, func(t *testing.T) {
			if d := cmp.Diff(w, ids(team)); d != "" {
				t.Errorf("input block_ids (-want +got):\n%s", d)
			}
		})
	}
}

func TestMetaRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    modalMeta
		wantErr bool
	}{
		{"round trip", testMeta.encode(), testMeta, false},
		{"round trip with force", forceMeta.encode(), forceMeta, false},
		{"not json", "{", modalMeta{}, true},
		{"no creation id", `{"alert_id":1}`, modalMeta{}, true},
		{"empty", "", modalMeta{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeMeta(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, alert.ErrInvalid) {
				t.Errorf("err = %v, want ErrInvalid", err)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("meta (-want +got):\n%s", d)
			}
		})
	}
}
