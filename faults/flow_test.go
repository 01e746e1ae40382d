package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/proliferate/proliferate-linear/bot/fakeslack"
	"github.com/proliferate/proliferate-linear/linear/fakelinear"
)

// Action and callback ids of the bot's create flow, as Slack shows them.
const (
	actionCreate   = "create_issue"
	actionTeam     = "team"
	callbackCreate = "create_issue"
)

// postOne sends one alert to r and waits for its Slack message.
func (w *world) postOne(ctx context.Context, t *testing.T, r *replica, errorID, channel string) fakeslack.Message {
	t.Helper()
	if status, err := w.send(ctx, r.addr, alertPayload(errorID, channel)); err != nil || status != http.StatusAccepted {
		t.Fatalf("alert %s: %d %v", errorID, status, err)
	}
	var msg fakeslack.Message
	if err := w.Slack.Wait(ctx, func() bool {
		ms := w.posted()[errorID]
		if len(ms) > 0 {
			msg = ms[0]
		}
		return len(ms) > 0
	}); err != nil {
		t.Fatalf("alert %s never posted: %v", errorID, err)
	}
	return msg
}

// userViews returns the create modals open for user.
func (w *world) userViews(user string) []fakeslack.View {
	var out []fakeslack.View
	for _, v := range w.Slack.Views() {
		if v.User == user && v.CallbackID == callbackCreate && v.Open {
			out = append(out, v)
		}
	}
	return out
}

// openCreate clicks Create Linear Issue on msg as user and waits for the
// modal to offer teams; it returns the modal.
func (w *world) openCreate(ctx context.Context, t *testing.T, user string, msg fakeslack.Message) fakeslack.View {
	t.Helper()
	before := len(w.userViews(user))
	if _, err := w.Slack.ClickButton(ctx, user, msg.Channel, msg.TS, actionCreate); err != nil {
		t.Fatalf("click %s: %v", actionCreate, err)
	}
	var v fakeslack.View
	if err := w.Slack.Wait(ctx, func() bool {
		vs := w.userViews(user)
		if len(vs) > before {
			v = vs[len(vs)-1]
			v, _ = w.Slack.View(v.ID)
		}
		return v.ID != "" && len(elementValues(v.Blocks, actionTeam)) > 0
	}); err != nil {
		t.Fatalf("the create modal never offered teams: %v", err)
	}
	return v
}

// pickTeam chooses ENG in the modal and waits for its members.
func (w *world) pickTeam(ctx context.Context, t *testing.T, user string, v fakeslack.View) {
	t.Helper()
	if _, err := w.Slack.SelectOption(ctx, user, v.ID, actionTeam, fakelinear.TeamEngID); err != nil {
		t.Fatalf("pick the team: %v", err)
	}
	if err := w.Slack.Wait(ctx, func() bool {
		cur, _ := w.Slack.View(v.ID)
		return strings.Contains(string(cur.Blocks), "Bob Builder")
	}); err != nil {
		t.Fatalf("the modal never showed the team's members: %v", err)
	}
}

// elementValues returns the option values of the element with actionID.
func elementValues(blocks json.RawMessage, actionID string) []string {
	var bs []map[string]any
	if json.Unmarshal(blocks, &bs) != nil {
		return nil
	}
	var out []string
	for _, b := range bs {
		for _, el := range blockElements(b) {
			if el["action_id"] != actionID {
				continue
			}
			opts, _ := el["options"].([]any)
			for _, o := range opts {
				om, _ := o.(map[string]any)
				out = append(out, fmt.Sprint(om["value"]))
			}
		}
	}
	return out
}

func blockElements(b map[string]any) []map[string]any {
	var out []map[string]any
	for _, key := range []string{"accessory", "element"} {
		if el, ok := b[key].(map[string]any); ok {
			out = append(out, el)
		}
	}
	if els, ok := b["elements"].([]any); ok {
		for _, e := range els {
			if el, ok := e.(map[string]any); ok {
				out = append(out, el)
			}
		}
	}
	return out
}

// issuesFor returns the Linear issues carrying errorID's alert as an attachment.
func (w *world) issuesFor(errorID string) []fakelinear.Issue {
	var out []fakelinear.Issue
	for _, is := range w.Linear.Issues() {
		for _, a := range w.Linear.Attachments(is.ID) {
			if a.URL == alertURLBase+errorID {
				out = append(out, is)
				break
			}
		}
	}
	return out
}

// threadMentions counts the replies in msg's thread that name text.
func (w *world) threadMentions(msg fakeslack.Message, text string) int {
	n := 0
	for _, m := range w.Slack.Thread(msg.Channel, msg.TS) {
		if strings.Contains(m.Text+string(m.Blocks), text) {
			n++
		}
	}
	return n
}
