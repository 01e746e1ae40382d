package bot

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"

	"github.com/proliferate/proliferate-linear/bot/fakeslack"
)

// Members of the fake workspace in the connection tests: an admin, an
// owner, a plain member, and a plain member named in ADMIN_USERS.
var connUsers = []fakeslack.User{
	{ID: "UA", Name: "admin", IsAdmin: true},
	{ID: "UO", Name: "owner", IsOwner: true},
	{ID: "UM", Name: "member"},
	{ID: "UX", Name: "listed"},
}

// withConnector configures OAuth with conn and ADMIN_USERS=UX, and adds
// connUsers to the fake Slack.
func withConnector(conn *memConnector) func(*harness) {
	return func(h *harness) {
		h.bot.connector = conn
		h.bot.adminUsers = []string{"UX"}
		for _, u := range connUsers {
			h.fs.AddUser(u)
		}
	}
}

// slash runs /proliferate-linear text as user in C100 and returns the
// reply it caused.
func (h *harness) slash(t *testing.T, user, text string) fakeslack.Response {
	t.Helper()
	return h.after(t, func(ctx context.Context) error {
		_, err := h.fs.SlashCommand(ctx, user, "C100", "/proliferate-linear", text)
		return err
	})
}

// after runs act and returns the first response_url reply that follows it.
func (h *harness) after(t *testing.T, act func(ctx context.Context) error) fakeslack.Response {
	t.Helper()
	n := len(h.fs.Responses())
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := act(ctx); err != nil {
		t.Fatal(err)
	}
	var got []fakeslack.Response
	if err := h.fs.Wait(ctx, func() bool { got = h.fs.Responses(); return len(got) > n }); err != nil {
		t.Fatal("no reply through response_url")
	}
	if got[n].ResponseType != "ephemeral" {
		t.Errorf("response_type = %q, want ephemeral", got[n].ResponseType)
	}
	return got[n]
}

// interact hands the bot a block_actions payload shaped as Slack's and
// runs the work it routes. The fake Slack cannot click in an ephemeral
// message (it keeps no ts for them) nor pick from a select in a message,
// so tests build those payloads here, with a response_url the fake
// minted, and the bot still parses them with slack-go.
func (h *harness) interact(t *testing.T, user string, container map[string]any, responseURL string, action map[string]any) {
	t.Helper()
	raw, err := json.Marshal(map[string]any{
		"type": "block_actions", "api_app_id": "A0FAKEAPP", "trigger_id": "1.2.3",
		"user": map[string]any{"id": user}, "team": map[string]any{"id": "T0001", "domain": "fake"},
		"container": container, "response_url": responseURL, "actions": []any{action},
	})
	if err != nil {
		t.Fatal(err)
	}
	var cb slack.InteractionCallback
	if err := json.Unmarshal(raw, &cb); err != nil {
		t.Fatalf("slack-go cannot read the payload: %v", err)
	}
	ack, work := h.bot.route(socketmode.Event{Type: socketmode.EventTypeInteractive, Data: cb})
	if ack != nil {
		t.Errorf("ack = %#v, want empty", ack)
	}
	if work == nil {
		t.Fatalf("action %v routed to no work", action["action_id"])
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	work(ctx)
}

// ephemeralContainer is the container of a click in an ephemeral reply.
func ephemeralContainer() map[string]any {
	return map[string]any{"type": "message", "channel_id": "C100", "is_ephemeral": true, "message_ts": "1700000001.000100"}
}

// buttonAction is the block_actions entry of the button actionID in
// blocks, as Slack reports a click on it.
func buttonAction(t *testing.T, blocks json.RawMessage, actionID string) map[string]any {
	t.Helper()
	var bs []map[string]any
	if err := json.Unmarshal(blocks, &bs); err != nil {
		t.Fatalf("blocks: %v", err)
	}
	for _, b := range bs {
		els, _ := b["elements"].([]any)
		if acc, ok := b["accessory"]; ok {
			els = append(els, acc)
		}
		for _, e := range els {
			el, _ := e.(map[string]any)
			if el["action_id"] == actionID && el["type"] == "button" {
				return map[string]any{"type": "button", "action_id": actionID, "block_id": b["block_id"],
					"value": el["value"], "text": el["text"], "action_ts": "1700000002.000200"}
			}
		}
	}
	t.Fatalf("no button %q in %s", actionID, blocks)
	return nil
}

// hasAction says whether blocks hold an element with actionID.
func hasAction(blocks json.RawMessage, actionID string) bool {
	return strings.Contains(string(blocks), `"action_id":"`+actionID+`"`)
}

// missing lists the wants that s lacks. JSON's escapes of &, < and >
// (the fake re-encodes blocks) are undone first.
func missing(s string, wants ...string) []string {
	s = strings.NewReplacer(`\u0026`, "&", `\u003c`, "<", `\u003e`, ">").Replace(s)
	var out []string
	for _, w := range wants {
		if !strings.Contains(s, w) {
			out = append(out, w)
		}
	}
	return out
}

// callsOf keeps the connector calls that start with prefix.
func callsOf(c *memConnector, prefix string) []string {
	return slices.DeleteFunc(c.Calls(), func(s string) bool { return !strings.HasPrefix(s, prefix) })
}
