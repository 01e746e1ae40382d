package bot

import (
	"fmt"
	"testing"

	"github.com/proliferate/proliferate-linear/alert"
)

// TestConnectButtonInModal: opening the create modal without a working
// connection says so with a Connect Linear button, which turns the modal
// into the connect link for an admin and into the refusal for a member.
func TestConnectButtonInModal(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, user string
		err        error
		want       []string
	}{
		{"admin, not connected", "UA", alert.ErrNotConnected, []string{`"action_id":"open_connect_link"`, "state-1", "valid for 10 minutes, single use"}},
		{"admin, token revoked", "UO", alert.ErrUnauthorized, []string{"state-1"}},
		{"member", "UM", alert.ErrNotConnected, []string{`Only Slack workspace admins and owners can connect Linear (and \u003c@UX\u003e).`}}, // as JSON escapes it.
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := startHarness(t, "", withConnector(newMemConnector()))
			h.tracker.setErr(tt.err)
			if _, err := h.fs.ClickButton(t.Context(), tt.user, "C100", h.ts, actionCreateIssue); err != nil {
				t.Fatal(err)
			}
			v := h.waitView(t, escapeMrkdwn(alert.UserMessage(tt.err)), `"action_id":"connect_linear"`)
			if _, err := h.fs.ClickViewButton(t.Context(), tt.user, v.ID, actionConnect); err != nil {
				t.Fatal(err)
			}
			h.waitView(t, tt.want...)
		})
	}
}

// TestConnectButtonInReplies: `test` and `teams` failing for want of a
// connection carry the button; clicking it in the ephemeral reply answers
// with the link. Without OAuth configured there is no button.
func TestConnectButtonInReplies(t *testing.T) {
	t.Parallel()
	for _, sub := range []string{"test", "teams"} {
		t.Run(sub, func(t *testing.T) {
			h := startHarness(t, "", withConnector(newMemConnector()))
			h.tracker.setErr(fmt.Errorf("refresh: %w", alert.ErrUnauthorized))
			r := h.slash(t, "UM", sub)
			if m := missing(string(r.Blocks), "reconnect with", `"action_id":"connect_linear"`); m != nil {
				t.Fatalf("reply %s lacks %q", r.Blocks, m)
			}
			before := len(h.fs.Responses())
			h.interact(t, "UA", ephemeralContainer(), r.URL, buttonAction(t, r.Blocks, actionConnect))
			got := h.fs.Responses()
			if len(got) != before+1 || missing(string(got[before].Blocks), "state-1") != nil {
				t.Errorf("answers to the click: %+v, want the connect link", got[before:])
			}
		})
	}
	t.Run("no oauth", func(t *testing.T) {
		h := startHarness(t, "")
		h.tracker.setErr(alert.ErrNotConnected)
		r := h.slash(t, "U1", "test")
		if hasAction(r.Blocks, actionConnect) || missing(r.Text, "Linear is not connected") != nil {
			t.Errorf("reply %q %s: want words and no button", r.Text, r.Blocks)
		}
	})
}

// TestConnectButtonAfterSubmit: a create refused for a revoked token
// brings the form back with the button beside the error.
func TestConnectButtonAfterSubmit(t *testing.T) {
	t.Parallel()
	h := startHarness(t, "", withConnector(newMemConnector()))
	h.bot.teams.put("", sampleTeams())
	h.tracker.setErr(alert.ErrUnauthorized)
	req := submission{TeamID: "team-eng", Title: "T", Description: "D"}.request(testMeta, "U1")
	if err := h.svc.Submit(t.Context(), alert.Submission{Kind: alert.JobCreateIssue, Create: &req,
		Reply: alert.Reply{User: "U1", ViewID: "V-none", Channel: "C100"}}); err != nil {
		t.Fatal(err)
	}
	h.jobs.Wait()
	calls := h.fs.Calls("views.update")
	if len(calls) != 1 {
		t.Fatalf("views.update calls = %d, want 1", len(calls))
	}
	if m := missing(string(calls[0].JSON)+calls[0].Params.Get("view"), "reconnect with", `connect_linear`, `"block_id":"team"`); m != nil {
		t.Errorf("retry form lacks %q: %s %v", m, calls[0].JSON, calls[0].Params)
	}
}

func TestConnectGolden(t *testing.T) {
	t.Parallel()
	connect, ok := connectReply("https://proliferate.example/api/v1/integrations/linear/connect?state=s", "*Acme* is connected now.")
	if !ok {
		t.Fatal("connectReply refused a good URL")
	}
	withTeams, none := sampleConnection(), sampleConnection()
	withTeams.DefaultTeamKey = "OPS"
	b := &Bot{connector: newMemConnector()}
	doneText, doneBlocks := defaultTeamDone("Engineering (ENG)")
	promptText, promptBlocks := defaultTeamPrompt(withTeams, sampleTeams())
	noneText, noneBlocks := defaultTeamPrompt(none, nil)
	tests := []struct {
		name string
		v    any
	}{
		{"connect_reply", connect},
		{"disconnect_prompt", disconnectPrompt(sampleConnection())},
		{"default_team_prompt", map[string]any{"text": promptText, "blocks": promptBlocks}},
		{"default_team_prompt_no_teams", map[string]any{"text": noneText, "blocks": noneBlocks}},
		{"default_team_done", map[string]any{"text": doneText, "blocks": doneBlocks}},
		{"modal_error_connect", b.failModal(fmt.Errorf("teams: %w", alert.ErrNotConnected), testMeta)},
		{"modal_create_connect", createModal(createForm{
			Alert: sampleAlert(), Teams: sampleTeams(), TeamID: "team-eng", Members: sampleMembers(),
			Error: alert.UserMessage(alert.ErrUnauthorized), Connect: true,
		}, testMeta)},
		{"modal_connect_refused", replyModal("Connect Linear", textReply("Only Slack workspace admins and owners can connect Linear."))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			golden(t, tt.name, tt.v)
		})
	}
}
