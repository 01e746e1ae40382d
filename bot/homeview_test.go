package bot

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/proliferate/proliferate-linear/alert"
)

// homeLinks are two issues filed from Slack: one created, one linked,
// whose title tries to ping the channel and plant a link.
func homeLinks() []alert.IssueLink {
	created := sampleLink()
	created.CreatedBy = "U1"
	linked := alert.IssueLink{
		ErrorID: "err-2", IssueID: "iss-2", Identifier: "OPS-7", Title: "<!channel> pay <https://evil.example|here> & now",
		URL: "https://linear.app/acme/issue/OPS-7", StateName: "Todo", StateType: "unstarted", TeamKey: "OPS",
		CreatedBy: "U2", Kind: alert.LinkLinked, CreatedAt: t1,
	}
	return []alert.IssueLink{linked, created}
}

func homeChannelsSample() []alert.AlertChannel {
	return []alert.AlertChannel{{Channel: "C100", LastSeen: t1, Errors: 3}, {Channel: "C200", LastSeen: t0, Errors: 1}}
}

func connectedHome(admin bool) homeState {
	c := sampleConnection()
	c.DefaultTeamKey = "ENG"
	rules := []alert.Rule{
		{Environment: "production", ErrorType: "*TimeoutError", TeamKey: "ENG", HasPriority: true, Priority: alert.PriorityUrgent, Labels: []string{"timeout", "backend"}},
		{ErrorType: "<!channel>`*`", Channel: "C0123ABCD"}, // escaped, and no way out of the code span.
	}
	return homeState{
		Admin: admin, OAuth: true, Conn: &c, Teams: sampleTeams(), Channels: homeChannelsSample(), Links: homeLinks(),
		Restricted:      "Only Slack workspace admins and owners can " + doChangeConnection + ".",
		Rules:           rules,
		RulesVersion:    7,
		RulesRestricted: "Only Slack workspace admins and owners can " + doRules + ".",
	}
}

func TestHomeViewGolden(t *testing.T) {
	t.Parallel()
	reconnect := connectedHome(true)
	c := *reconnect.Conn
	c.Status, c.StatusReason = alert.ConnectionNeedsReconnect, "invalid_grant"
	reconnect.Conn = &c

	notConnected := homeState{Admin: true, OAuth: true, Notice: &reply{Text: "Disconnected from Acme &amp; Co. Existing links between errors and issues are kept."}}

	apiKey := homeState{APIKey: true, ConfigDefault: "ENG", Channels: homeChannelsSample(), Links: homeLinks(), Refreshing: true}

	tests := []struct {
		name string
		st   homeState
	}{
		{"home_admin", connectedHome(true)},
		{"home_member", connectedHome(false)},
		{"home_not_connected", notConnected},
		{"home_needs_reconnect", reconnect},
		{"home_api_key_refreshing", apiKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := homeView(tt.st)
			checkHomeLimits(t, v)
			golden(t, tt.name, v)
		})
	}
}

// TestHomeViewControls: admins get the controls that fit the
// connection; members see the state and who may change it.
func TestHomeViewControls(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		st         homeState
		want, none []string
	}{
		{"admin, connected", connectedHome(true), []string{actionConnect, actionDisconnect, actionSetDefaultTeam}, nil},
		{"member, connected", connectedHome(false), nil, []string{actionConnect, actionDisconnect, actionSetDefaultTeam}},
		{"admin, not connected", homeState{Admin: true, OAuth: true}, []string{actionConnect}, []string{actionDisconnect, actionSetDefaultTeam}},
		{"admin, API key only", homeState{Admin: true, APIKey: true}, nil, []string{actionConnect, actionDisconnect, actionSetDefaultTeam}},
		{"admin, teams unknown", func() homeState { s := connectedHome(true); s.Teams = nil; return s }(), []string{actionDisconnect}, []string{actionSetDefaultTeam}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			js := json.RawMessage(mustJSON(t, homeView(tt.st)))
			for _, a := range tt.want {
				if !hasAction(js, a) {
					t.Errorf("no %s in %s", a, js)
				}
			}
			for _, a := range tt.none {
				if hasAction(js, a) {
					t.Errorf("%s offered: %s", a, js)
				}
			}
			if !tt.st.Admin && tt.st.Conn != nil && !strings.Contains(string(js), "Only Slack workspace admins") {
				t.Errorf("a member is not told who may change the connection: %s", js)
			}
		})
	}
}

// TestHomeViewEscapesAndBounds: untrusted titles are escaped, at most 10
// issues are listed, and a flood of channels and long titles stays
// within Slack's limits.
func TestHomeViewEscapesAndBounds(t *testing.T) {
	t.Parallel()
	st := connectedHome(true)
	st.Links, st.Channels = nil, nil
	for i := range 40 {
		st.Links = append(st.Links, alert.IssueLink{
			ErrorID: fmt.Sprint("e", i), IssueID: fmt.Sprint("i", i), Identifier: fmt.Sprint("ENG-", i),
			Title: strings.Repeat("<@U1> & ", 800), URL: "javascript:alert(1)", StateName: strings.Repeat("S", 500),
			CreatedBy: "<!here>", Kind: alert.LinkCreated, CreatedAt: t0.Add(time.Duration(i) * time.Minute),
		})
	}
	for i := range homeChannels * 10 {
		st.Channels = append(st.Channels, alert.AlertChannel{Channel: fmt.Sprintf("C%040d", i), LastSeen: t1, Errors: 99999})
	}
	st.Channels = append(st.Channels, alert.AlertChannel{Channel: "<!everyone>", Errors: 1})
	v := homeView(st)
	checkHomeLimits(t, v)
	js := strings.NewReplacer(`\u0026`, "&", `\u003c`, "<", `\u003e`, ">").Replace(mustJSON(t, v))
	for _, bad := range []string{"<@U1>", "<!here>", "<!everyone>", "javascript:"} {
		if strings.Contains(js, bad) {
			t.Errorf("the Home carries %q unescaped", bad)
		}
	}
	if n := strings.Count(js, `"block_id":"home_issue_`); n != homeIssues {
		t.Errorf("%d issues listed, want %d", n, homeIssues)
	}
	if !strings.Contains(js, "more") {
		t.Errorf("the channel list does not say it was cut")
	}
}

// checkHomeLimits walks a home view for Slack's limits: 100 blocks, 3000
// characters per text object.
func checkHomeLimits(t *testing.T, v any) {
	t.Helper()
	root, _ := asJSON(t, v).(map[string]any)
	blocks, _ := root["blocks"].([]any)
	if len(blocks) == 0 || len(blocks) > maxHomeBlocks {
		t.Errorf("%d blocks, want 1..%d", len(blocks), maxHomeBlocks)
	}
	var walk func(x any)
	walk = func(x any) {
		switch x := x.(type) {
		case map[string]any:
			if s, ok := x["text"].(string); ok && utf8.RuneCountInString(s) > maxText {
				t.Errorf("text of %d characters", utf8.RuneCountInString(s))
			}
			for _, c := range x {
				walk(c)
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		}
	}
	walk(root)
}
