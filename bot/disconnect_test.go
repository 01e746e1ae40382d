package bot

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/proliferate/proliferate-linear/alert"
)

// TestDisconnect: `disconnect` asks first, behind a confirm dialog; the
// confirmed click disconnects the workspace it named and says so in place
// of the question. Links stay.
func TestDisconnect(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		clicker     string
		prepare     func(*memConnector)
		want        string
		wantReplace bool
		wantGone    bool // the connection was deleted
	}{
		{"admin confirms", "UA", nil,
			"Disconnected from Acme &amp; Co. Existing links between errors and issues are kept.", true, true},
		{"member is refused", "UM", nil,
			"Only Slack workspace admins and owners can disconnect Linear (and <@UX>).", false, false},
		{"connection changed meanwhile", "UA", func(c *memConnector) {
			other := sampleConnection()
			other.OrgID, other.OrgName = "org-other", "Other"
			c.conns["T0001"] = other
		}, "The Linear connection changed meanwhile: it is now to *Other*.", true, false},
		{"already disconnected", "UA", func(c *memConnector) { delete(c.conns, "T0001") },
			"Linear is already disconnected.", true, true},
		{"linear unreachable", "UA", func(c *memConnector) { c.disconnectErr = alert.ErrUnavailable },
			":warning: Nothing was disconnected. Linear did not answer in time.", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn := newMemConnector(sampleConnection())
			h := startHarness(t, "", withConnector(conn))
			if err := h.store.SaveLink(t.Context(), sampleLink()); err != nil {
				t.Fatal(err)
			}
			h.bot.teams.put("", sampleTeams())

			prompt := h.slash(t, "UA", "disconnect")
			if m := missing(string(prompt.Blocks), "Disconnect the Linear workspace *Acme &amp; Co*?",
				`"value":"org-acme"`, `"confirm":{`, `"style":"danger"`); m != nil {
				t.Fatalf("prompt %s lacks %q", prompt.Blocks, m)
			}
			if n := len(callsOf(conn, "Disconnect")); n != 0 {
				t.Fatalf("Disconnect called %d times before the confirmation", n)
			}
			if tt.prepare != nil {
				conn.mu.Lock()
				tt.prepare(conn)
				conn.mu.Unlock()
			}
			act := buttonAction(t, prompt.Blocks, actionDisconnect)
			before := len(h.fs.Responses())
			h.interact(t, tt.clicker, ephemeralContainer(), prompt.URL, act)

			got := h.fs.Responses()
			if len(got) != before+1 {
				t.Fatalf("%d answers to the click, want 1", len(got)-before)
			}
			last := got[before]
			if m := missing(last.Text, tt.want); m != nil {
				t.Errorf("answer %q lacks %q", last.Text, tt.want)
			}
			if last.ReplaceOriginal != tt.wantReplace {
				t.Errorf("replace_original = %v, want %v", last.ReplaceOriginal, tt.wantReplace)
			}
			_, err := conn.Connection(t.Context(), "T0001")
			if gone := err != nil; gone != tt.wantGone {
				t.Errorf("connection gone = %v, want %v", gone, tt.wantGone)
			}
			if l, err := h.store.Link(t.Context(), "err-1"); err != nil || l.Identifier != "ENG-42" {
				t.Errorf("link after disconnect = %+v, %v; want ENG-42 kept", l, err)
			}
			if _, cached := h.bot.teams.get(""); cached && tt.name == "admin confirms" {
				t.Error("the team list of the disconnected workspace is still cached")
			}
		})
	}
}

func TestDisconnectNotConnected(t *testing.T) {
	t.Parallel()
	conn := newMemConnector()
	h := startHarness(t, "", withConnector(conn))
	r := h.slash(t, "UA", "disconnect")
	if d := cmp.Diff("Linear is not connected: there is nothing to disconnect.", r.Text); d != "" {
		t.Errorf("reply (-want +got):\n%s", d)
	}
	if hasAction(r.Blocks, actionDisconnect) {
		t.Error("a Disconnect button with nothing to disconnect")
	}
}
