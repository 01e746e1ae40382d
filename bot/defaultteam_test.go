package bot

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/proliferate/proliferate-linear/alert"
)

// pickAction is the block_actions entry of choosing value in the default
// team select, as Slack reports it.
func pickAction(label, value string) map[string]any {
	return map[string]any{
		"type": "static_select", "action_id": actionSetDefaultTeam, "block_id": "default_team", "action_ts": "1700000003.000300",
		"selected_option": map[string]any{"text": map[string]any{"type": "plain_text", "text": label}, "value": value},
	}
}

// TestAskDefaultTeam: after connecting, the admin gets a DM asking for the
// default team; picking one sets it, turns the question into the answer,
// and the create modal then starts with that team.
func TestAskDefaultTeam(t *testing.T) {
	t.Parallel()
	conn := newMemConnector(sampleConnection())
	h := startHarness(t, "OPS", withConnector(conn)) // LINEAR_DEFAULT_TEAM loses to the connection's.
	ctx := t.Context()
	h.bot.teams.put("", []alert.Team{{ID: "old", Key: "OLD", Name: "Another workspace's"}})

	if err := h.bot.AskDefaultTeam(ctx, sampleConnection()); err != nil {
		t.Fatalf("AskDefaultTeam: %v", err)
	}
	dm := h.fs.Messages("DA") // the fake opens the DM of UA as Slack does.
	if len(dm) != 1 {
		t.Fatalf("DM of UA has %d messages, want 1", len(dm))
	}
	q := dm[0]
	if want := "Connected to Acme &amp; Co. Which team should new issues go to by default?"; q.Text != want {
		t.Errorf("question = %q, want %q", q.Text, want)
	}
	if m := missing(string(q.Blocks), `"action_id":"set_default_team"`, "Engineering (ENG)", "Operations (OPS)"); m != nil {
		t.Errorf("question blocks %s lack %q", q.Blocks, m)
	}
	if m := missing(string(q.Blocks), "OLD"); m == nil {
		t.Error("the question lists a cached team of another workspace")
	}

	container := map[string]any{"type": "message", "channel_id": "DA", "message_ts": q.TS, "is_ephemeral": false}
	h.interact(t, "UA", container, "", pickAction("Engineering (ENG)", "ENG"))

	if d := cmp.Diff([]string{"SetDefaultTeam T0001 ENG"}, callsOf(conn, "SetDefaultTeam")); d != "" {
		t.Errorf("SetDefaultTeam calls (-want +got):\n%s", d)
	}
	answered, _ := h.fs.Message("DA", q.TS)
	want := "Default team: Engineering (ENG). Change it with `/proliferate-linear default-team KEY`."
	if answered.Text != want || answered.Edits != 1 || hasAction(answered.Blocks, actionSetDefaultTeam) {
		t.Errorf("after the pick: text %q (want %q), edits %d, blocks %s", answered.Text, want, answered.Edits, answered.Blocks)
	}

	if _, err := h.fs.ClickButton(ctx, "U1", "C100", h.ts, actionCreateIssue); err != nil {
		t.Fatal(err)
	}
	h.waitView(t, `"assignee:team-eng"`, "Grace Hopper")
}

// TestDefaultTeamPickRefused: only admins may answer, even in a DM.
func TestDefaultTeamPickRefused(t *testing.T) {
	t.Parallel()
	conn := newMemConnector(sampleConnection())
	h := startHarness(t, "", withConnector(conn))
	ru := h.slash(t, "UM", "status").URL // a response_url of UM's to answer through.
	before := len(h.fs.Responses())
	h.interact(t, "UM", map[string]any{"type": "message", "channel_id": "DM", "message_ts": "1.2"}, ru, pickAction("Engineering (ENG)", "ENG"))
	got := h.fs.Responses()
	if len(got) != before+1 || missing(got[before].Text, "can change the default Linear team") != nil {
		t.Errorf("answers %+v, want one refusal", got[before:])
	}
	if n := len(callsOf(conn, "SetDefaultTeam")); n != 0 {
		t.Errorf("SetDefaultTeam called %d times for a member", n)
	}
}

func TestAskDefaultTeamWithoutTeams(t *testing.T) {
	t.Parallel()
	h := startHarness(t, "", withConnector(newMemConnector(sampleConnection())))
	h.tracker.setErr(alert.ErrUnavailable)
	if err := h.bot.AskDefaultTeam(t.Context(), sampleConnection()); err != nil {
		t.Fatalf("AskDefaultTeam: %v", err)
	}
	dm := h.fs.Messages("DA")
	if len(dm) != 1 || missing(dm[0].Text, "Connected to Acme", "`/proliferate-linear default-team KEY`") != nil {
		t.Fatalf("DM = %+v, want the slash command way", dm)
	}
	if hasAction(dm[0].Blocks, actionSetDefaultTeam) {
		t.Error("a select without teams")
	}

	noUser := sampleConnection()
	noUser.ConnectedBy = ""
	if err := h.bot.AskDefaultTeam(t.Context(), noUser); !errors.Is(err, alert.ErrInvalid) {
		t.Errorf("AskDefaultTeam without a user = %v, want ErrInvalid", err)
	}
}

func TestDefaultTeamCommand(t *testing.T) {
	t.Parallel()
	withDefault := sampleConnection()
	withDefault.DefaultTeamKey = "ENG"
	tests := []struct {
		name, text string
		conn       alert.Connection
		want       string
		wantKey    string // the connection's default team afterwards
	}{
		{"sets by key, any case", "default-team eng", sampleConnection(), "Default team: Engineering (ENG). New issues start in it.", "ENG"},
		{"unknown key lists the keys", "default-team XYZ", withDefault, "No Linear team has the key `XYZ`. Team keys: `ENG`, `OPS`", "ENG"},
		{"no key shows it", "default-team", withDefault, "*Default team:* `ENG`\nUsage: `/proliferate-linear default-team KEY`", "ENG"},
		{"no key, none set", "default-team", sampleConnection(), "*Default team:* none.", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn := newMemConnector(tt.conn)
			h := startHarness(t, "", withConnector(conn))
			r := h.slash(t, "UA", tt.text)
			if m := missing(r.Text, tt.want); m != nil {
				t.Errorf("reply %q lacks %q", r.Text, tt.want)
			}
			c, _ := conn.Connection(t.Context(), "T0001")
			if c.DefaultTeamKey != tt.wantKey {
				t.Errorf("default team = %q, want %q", c.DefaultTeamKey, tt.wantKey)
			}
		})
	}
}

// TestCreateModalDefaultTeam: the modal starts with the connection's
// default team, else LINEAR_DEFAULT_TEAM.
func TestCreateModalDefaultTeam(t *testing.T) {
	t.Parallel()
	withDefault := sampleConnection()
	withDefault.DefaultTeamKey = "OPS"
	tests := []struct {
		name, config string
		conn         *memConnector
		want         string
	}{
		{"connection's default wins", "ENG", newMemConnector(withDefault), `"assignee:team-ops"`},
		{"config default without one", "ENG", newMemConnector(sampleConnection()), `"assignee:team-eng"`},
		{"config default when not connected", "ENG", newMemConnector(), `"assignee:team-eng"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := startHarness(t, tt.config, withConnector(tt.conn))
			h.bot.teams.put("", sampleTeams())
			if _, err := h.fs.ClickButton(t.Context(), "U1", "C100", h.ts, actionCreateIssue); err != nil {
				t.Fatal(err)
			}
			h.waitView(t, tt.want)
		})
	}
}
