package bot

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/bot/fakeslack"
)

// memHome is HomeData over fixed lists.
type memHome struct {
	channels []alert.AlertChannel
	links    []alert.IssueLink
}

func (m *memHome) AlertChannels(context.Context, int) ([]alert.AlertChannel, error) {
	return m.channels, nil
}

func (m *memHome) RecentLinks(context.Context, int) ([]alert.IssueLink, error) {
	return m.links, nil
}

// heldTracker holds the Linear calls the Home refresh makes until
// release is called, as a slow Linear would.
type heldTracker struct {
	*memTracker
	gate chan struct{}
	once sync.Once
}

func (h *heldTracker) release() { h.once.Do(func() { close(h.gate) }) }

func (h *heldTracker) hold(ctx context.Context) error {
	select {
	case <-h.gate:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *heldTracker) Workspace(ctx context.Context) (alert.Workspace, error) {
	if err := h.hold(ctx); err != nil {
		return alert.Workspace{}, err
	}
	return h.memTracker.Workspace(ctx)
}

func (h *heldTracker) Teams(ctx context.Context) ([]alert.Team, error) {
	if err := h.hold(ctx); err != nil {
		return nil, err
	}
	return h.memTracker.Teams(ctx)
}

func (h *heldTracker) IssuesByID(ctx context.Context, ids []string) ([]alert.Issue, error) {
	if err := h.hold(ctx); err != nil {
		return nil, err
	}
	return h.memTracker.IssuesByID(ctx, ids)
}

// withHome gives the bot a Home with one alert channel and the linked
// issue ENG-42 (stored as In Progress; Linear has it Done).
func withHome(held *heldTracker) func(*harness) {
	return func(h *harness) {
		l := sampleLink()
		l.CreatedBy = "U1"
		h.store.links[l.ErrorID] = l
		done := alert.Issue{ID: l.IssueID, Identifier: l.Identifier, Title: l.Title, URL: l.URL,
			StateName: "Done", StateType: "completed", TeamID: l.TeamID, TeamKey: l.TeamKey}
		h.tracker.issues[l.IssueID] = done
		h.bot.home = &memHome{channels: homeChannelsSample()[:1], links: []alert.IssueLink{l}}
		h.bot.apiKeyInUse = h.bot.connector == nil
		if held != nil {
			held.memTracker = h.tracker
			h.bot.svc = alert.NewService(h.store, held, nil)
		}
	}
}

// openHome has user open the bot's Home tab and returns once the Home
// published for them shows every one of want.
func (h *harness) openHome(t *testing.T, user string, want ...string) fakeslack.View {
	t.Helper()
	ack, err := h.fs.OpenHome(t.Context(), user)
	if err != nil {
		t.Fatalf("open home: %v", err)
	}
	if len(ack.Payload) != 0 {
		t.Errorf("app_home_opened ack carries %s, want nothing", ack.Payload)
	}
	return h.waitHome(t, user, want...)
}

// waitHome waits until user's Home shows every one of want.
func (h *harness) waitHome(t *testing.T, user string, want ...string) fakeslack.View {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	var v fakeslack.View
	if err := h.fs.Wait(ctx, func() bool {
		var ok bool
		v, ok = h.fs.Home(user)
		return ok && len(missing(string(v.Blocks), want...)) == 0
	}); err != nil {
		t.Fatalf("%s's Home never showed %q: %s", user, missing(string(v.Blocks), want...), v.Blocks)
	}
	return v
}

// TestHomePublishesBeforeLinear: the first publish shows what is stored
// while Linear has not answered; the second shows Linear's answer.
func TestHomePublishesBeforeLinear(t *testing.T) {
	t.Parallel()
	held := &heldTracker{gate: make(chan struct{})}
	t.Cleanup(held.release)
	h := startHarness(t, "ENG", withHome(held))

	first := h.openHome(t, "U1", "<#C100>", "ENG-42", "In Progress", "Checking Linear")
	if n := len(h.fs.Calls("views.publish")); n != 1 {
		t.Errorf("%d publishes while Linear is held, want 1", n)
	}
	if first.Type != "home" || first.CallbackID != callbackHome {
		t.Errorf("view = %s/%s", first.Type, first.CallbackID)
	}
	held.release()
	second := h.waitHome(t, "U1", "Acme &amp; Co", "*Done*")
	if strings.Contains(string(second.Blocks), "Checking Linear") || second.ID != first.ID {
		t.Errorf("second publish: %s", second.Blocks)
	}
	if n := len(h.fs.Calls("views.publish")); n != 2 {
		t.Errorf("%d publishes, want 2", n)
	}
	// The refresh applied Linear's state to the store, as the poller does.
	if l, _ := h.store.Link(t.Context(), "err-1"); l.StateName != "Done" {
		t.Errorf("stored state = %q, want Done", l.StateName)
	}
}

// TestHomeWhenLinearIsDown still publishes what is stored, and says
// Linear did not answer.
func TestHomeWhenLinearIsDown(t *testing.T) {
	t.Parallel()
	h := startHarness(t, "ENG", withHome(nil))
	h.tracker.setErr(alert.Temporary(alert.ErrUnavailable, 0))
	h.openHome(t, "U1", "<#C100>", "ENG-42", "In Progress", "Linear did not answer")
}

func TestHomeControls(t *testing.T) {
	t.Parallel()
	conn := newMemConnector(sampleConnection())
	h := startHarness(t, "", withConnector(conn), withHome(nil))

	member := h.openHome(t, "UM", "Acme &amp; Co", "Only Slack workspace admins")
	for _, a := range []string{actionConnect, actionDisconnect, actionSetDefaultTeam} {
		if hasAction(member.Blocks, a) {
			t.Errorf("a member's Home offers %s", a)
		}
	}

	// The admin picks the default team in the Home (the select appears
	// once Linear listed the teams).
	home := h.openHome(t, "UA", "Acme &amp; Co", `"action_id":"`+actionSetDefaultTeam+`"`)
	if _, err := h.fs.SelectOption(t.Context(), "UA", home.ID, actionSetDefaultTeam, "OPS"); err != nil {
		t.Fatal(err)
	}
	h.waitHome(t, "UA", "Default team: Operations (OPS)", "*Default team:* Operations (`OPS`)")
	if c, _ := conn.Connection(t.Context(), "T0001"); c.DefaultTeamKey != "OPS" {
		t.Errorf("default team = %q, want OPS", c.DefaultTeamKey)
	}

	// Disconnect (Slack's confirmation dialog is the client's): the Home
	// says so and offers Connect.
	if _, err := h.fs.ClickViewButton(t.Context(), "UA", home.ID, actionDisconnect); err != nil {
		t.Fatal(err)
	}
	after := h.waitHome(t, "UA", "Disconnected from Acme &amp; Co", "not connected")
	if hasAction(after.Blocks, actionDisconnect) || !hasAction(after.Blocks, actionConnect) {
		t.Errorf("after disconnecting the Home should offer Connect only: %s", after.Blocks)
	}
	if got := callsOf(conn, "Disconnect"); len(got) != 1 {
		t.Errorf("Disconnect calls = %v", got)
	}

	// Connect from the Home: the single-use link, in the Home.
	if _, err := h.fs.ClickViewButton(t.Context(), "UA", after.ID, actionConnect); err != nil {
		t.Fatal(err)
	}
	h.waitHome(t, "UA", `"action_id":"`+actionOpenConnect+`"`, "connect?state=state-")
	if n := len(h.fs.Responses()); n != 0 {
		t.Errorf("%d response_url posts; a Home has no response_url", n)
	}
}

// TestHomeRefusesAStaleControl: a member clicking a control left in a
// Home from when they were an admin is refused, in the Home, and nothing
// changes.
func TestHomeRefusesAStaleControl(t *testing.T) {
	t.Parallel()
	conn := newMemConnector(sampleConnection())
	h := startHarness(t, "", withConnector(conn), withHome(nil))
	h.bot.adminUsers = []string{"UX", "UM"}
	home := h.openHome(t, "UM", `"action_id":"`+actionDisconnect+`"`, "Acme &amp; Co")
	h.bot.adminUsers = []string{"UX"}
	if _, err := h.fs.ClickViewButton(t.Context(), "UM", home.ID, actionDisconnect); err != nil {
		t.Fatal(err)
	}
	h.waitHome(t, "UM", "Only Slack workspace admins and owners can disconnect Linear")
	if got := callsOf(conn, "Disconnect"); len(got) != 0 {
		t.Errorf("a member disconnected: %v", got)
	}
}

// TestRouteHomeOpened publishes for the Home tab only.
func TestRouteHomeOpened(t *testing.T) {
	t.Parallel()
	b := &Bot{}
	for _, tt := range []struct {
		event string
		work  bool
	}{
		{`{"type":"app_home_opened","user":"U1","channel":"D1","tab":"home","event_ts":"1.2"}`, true},
		{`{"type":"app_home_opened","user":"U1","channel":"D1","tab":"messages","event_ts":"1.2"}`, false},
		{`{"type":"app_home_opened","channel":"D1","tab":"home"}`, false},
		{`{"type":"app_home_opened","user":`, false},
	} {
		if got := b.routeHomeOpened("T1", json.RawMessage(tt.event)) != nil; got != tt.work {
			t.Errorf("%s: work = %v, want %v", tt.event, got, tt.work)
		}
	}
}
