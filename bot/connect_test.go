package bot

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/proliferate/proliferate-linear/alert"
)

// TestRestrictedSubcommands: connect, disconnect and default-team are for
// workspace admins, owners and ADMIN_USERS; everyone else is told who can,
// and the connector is not touched. status and teams stay open.
func TestRestrictedSubcommands(t *testing.T) {
	t.Parallel()
	const who = "Only Slack workspace admins and owners can "
	tests := []struct {
		name, user, text string
		want             string // in the reply
		wantCall         string // connector call prefix expected; "" for none of the writes.
	}{
		{"member connect", "UM", "connect", who + "connect Linear (and <@UX>).", ""},
		{"member disconnect", "UM", "disconnect", who + "disconnect Linear (and <@UX>).", ""},
		{"member default-team", "UM", "default-team ENG", who + "change the default Linear team (and <@UX>).", ""},
		{"admin connect", "UA", "connect", "state-1", "ConnectURL T0001 UA"},
		{"owner connect", "UO", "connect", "state-1", "ConnectURL T0001 UO"},
		{"ADMIN_USERS connect", "UX", "connect", "state-1", "ConnectURL T0001 UX"},
		{"admin disconnect asks first", "UA", "disconnect", "Disconnect the Linear workspace", ""},
		{"owner default-team", "UO", "default-team ops", "Operations (OPS)", "SetDefaultTeam T0001 ops"},
		{"member status", "UM", "status", "*Linear workspace:* Acme &amp; Co", ""},
		{"member teams", "UM", "teams", "Engineering", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn := newMemConnector(sampleConnection())
			h := startHarness(t, "", withConnector(conn))
			r := h.slash(t, tt.user, tt.text)
			if m := missing(r.Text+string(r.Blocks), tt.want); m != nil {
				t.Errorf("reply %q %s lacks %q", r.Text, r.Blocks, m)
			}
			var writes []string
			for _, p := range []string{"ConnectURL", "Disconnect", "SetDefaultTeam"} {
				writes = append(writes, callsOf(conn, p)...)
			}
			var want []string
			if tt.wantCall != "" {
				want = []string{tt.wantCall}
			}
			if d := cmp.Diff(want, writes); d != "" {
				t.Errorf("connector writes (-want +got):\n%s", d)
			}
		})
	}
}

// TestAdminCheck: ADMIN_USERS needs no users.info; a verdict is reused
// for a minute; the refusal names every listed user.
func TestAdminCheck(t *testing.T) {
	t.Parallel()
	h := startHarness(t, "", withConnector(newMemConnector()), func(h *harness) {
		h.bot.adminUsers = []string{"UX", "UY", "not-an-id<b>"}
	})
	for range 2 {
		h.slash(t, "UA", "connect")
		h.slash(t, "UX", "connect")
	}
	calls := h.fs.Calls("users.info")
	if len(calls) != 1 || calls[0].Params.Get("user") != "UA" {
		t.Errorf("users.info calls = %+v, want one, for UA", calls)
	}
	r := h.slash(t, "UM", "connect")
	want := "Only Slack workspace admins and owners can connect Linear (and <@UX>, <@UY>, not-an-id&lt;b&gt;)."
	if r.Text != want {
		t.Errorf("refusal = %q, want %q", r.Text, want)
	}
}

func TestConnectCommand(t *testing.T) {
	t.Parallel()
	needs := sampleConnection()
	needs.Status, needs.StatusReason = alert.ConnectionNeedsReconnect, "invalid_grant"
	tests := []struct {
		name string
		conn *memConnector
		want []string
	}{
		{"first connect", newMemConnector(), []string{"*Connect Linear* to this Slack workspace."}},
		{"connected", newMemConnector(sampleConnection()), []string{"*Acme &amp; Co* is connected now", "replaces it once you confirm"}},
		{"needs reconnect", newMemConnector(needs), []string{"needs reconnecting: Linear refused to renew the access"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := startHarness(t, "", withConnector(tt.conn))
			r := h.slash(t, "UA", "connect")
			want := append(tt.want, `"url":"https://proliferate.example/api/v1/integrations/linear/connect?state=state-1"`,
				"valid for 10 minutes, single use", `"action_id":"open_connect_link"`)
			if m := missing(string(r.Blocks), want...); m != nil {
				t.Errorf("reply blocks %s lack %q", r.Blocks, m)
			}
			if m := missing(r.Text, "state-"); m == nil {
				t.Errorf("notification text %q carries the single-use link", r.Text)
			}
		})
	}
	t.Run("link refused", func(t *testing.T) {
		conn := newMemConnector()
		conn.err = alert.ErrInvalid // PUBLIC_URL unset, as linear/oauth.Manager says it.
		h := startHarness(t, "", withConnector(conn))
		if r := h.slash(t, "UA", "connect"); missing(r.Text, "PUBLIC_URL") != nil {
			t.Errorf("reply %q does not point at PUBLIC_URL", r.Text)
		}
	})
}

// TestWithoutOAuth: with no Connector the subcommands say how to set OAuth
// up, or that LINEAR_API_KEY is in use.
func TestWithoutOAuth(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, user, text string
		apiKey           bool
		want             []string
	}{
		{"connect, nothing set", "UA", "connect", false, []string{"OAuth is not configured", "LINEAR_CLIENT_ID", "PUBLIC_URL", "LINEAR_API_KEY"}},
		{"connect, api key", "UA", "connect", true, []string{"personal API key (LINEAR_API_KEY)", "LINEAR_CLIENT_ID"}},
		{"disconnect, api key", "UA", "disconnect", true, []string{"remove it there"}},
		{"disconnect, nothing set", "UA", "disconnect", false, []string{"nothing to disconnect"}},
		{"status, api key", "UM", "status", true, []string{"using a personal API key", "*Default team:* `ENG` (from LINEAR_DEFAULT_TEAM)"}},
		{"status, nothing set", "UM", "status", false, []string{"not connected"}},
		{"default-team", "UA", "default-team OPS", true, []string{"LINEAR_DEFAULT_TEAM", "`ENG`"}},
		{"member still refused", "UM", "connect", true, []string{"Only Slack workspace admins"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := startHarness(t, "ENG", withConnector(nil), func(h *harness) {
				h.bot.connector = nil // a nil *memConnector would be a non-nil interface.
				h.bot.apiKeyInUse = tt.apiKey
			})
			r := h.slash(t, tt.user, tt.text)
			if m := missing(r.Text, tt.want...); m != nil {
				t.Errorf("reply %q lacks %q", r.Text, m)
			}
			if hasAction(r.Blocks, actionConnect) {
				t.Error("a Connect Linear button without OAuth configured")
			}
		})
	}
}

func TestStatus(t *testing.T) {
	t.Parallel()
	withDefault := sampleConnection()
	withDefault.DefaultTeamKey = "OPS"
	needs := sampleConnection()
	needs.Status, needs.StatusReason = alert.ConnectionNeedsReconnect, "invalid_grant"
	tests := []struct {
		name        string
		conn        *memConnector
		apiKey      bool
		want        []string
		wantConnect bool
	}{
		{"not connected", newMemConnector(), false, []string{"*Linear:* not connected", "/proliferate-linear connect"}, true},
		{"api key, no oauth connection", newMemConnector(), true, []string{"using a personal API key"}, false},
		{"active", newMemConnector(withDefault), false, []string{
			"*Linear workspace:* Acme &amp; Co (`acme`)", "by <@UA> on <!date^" /* connected when, in the reader's zone */, "2026-11-20 09:30 UTC",
			"as Linear user Ada Lovelace (ada@example.com)", "*Status:* :white_check_mark: active", "*Default team:* `OPS`",
		}, false},
		{"needs reconnect", newMemConnector(needs), false, []string{
			"needs reconnecting: Linear refused to renew the access (the app was revoked in Linear, or its grant expired)",
			"Run `/proliferate-linear connect`", "*Default team:* `ENG` (from LINEAR_DEFAULT_TEAM)",
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := startHarness(t, "ENG", withConnector(tt.conn), func(h *harness) { h.bot.apiKeyInUse = tt.apiKey })
			r := h.slash(t, "UM", "status")
			if m := missing(r.Text, tt.want...); m != nil {
				t.Errorf("status %q lacks %q", r.Text, m)
			}
			if got := hasAction(r.Blocks, actionConnect); got != tt.wantConnect {
				t.Errorf("Connect Linear button = %v, want %v", got, tt.wantConnect)
			}
		})
	}
}

func TestReasonWords(t *testing.T) {
	t.Parallel()
	tests := []struct{ reason, want string }{
		{"", "Linear no longer accepts the app's access"},
		{"invalid_grant", "Linear refused to renew the access (the app was revoked in Linear, or its grant expired)"},
		{"HTTP 401", "Linear refused the app's credentials (HTTP 401)"},
		{"access token refused after a refresh", "Linear refused the access token, even after renewing it"},
		{"unauthorized_client <x>", "Linear said unauthorized_client &lt;x&gt;"},
	}
	for _, tt := range tests {
		t.Run(tt.reason, func(t *testing.T) {
			if got := reasonWords(tt.reason); got != tt.want {
				t.Errorf("reasonWords(%q) = %q, want %q", tt.reason, got, tt.want)
			}
		})
	}
}
