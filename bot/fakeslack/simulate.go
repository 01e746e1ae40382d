package fakeslack

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// This file simulates users. Each method builds the payload Slack would
// send (https://api.slack.com/reference/interaction-payloads), delivers it
// over Socket Mode and waits for the ack.

func (s *Server) userObj(u User) map[string]any {
	return map[string]any{"id": u.ID, "username": u.Name, "name": u.Name, "team_id": s.opts.TeamID}
}

func (s *Server) teamObj() map[string]any {
	return map[string]any{"id": s.opts.TeamID, "domain": teamDomain}
}

// interactionBase is what every interactive payload carries. It mints a
// trigger_id when withTrigger is set. Callers hold s.mu.
func (s *Server) interactionBase(typ string, u User, withTrigger bool) (map[string]any, string) {
	p := map[string]any{
		"type": typ, "user": s.userObj(u), "team": s.teamObj(), "api_app_id": appID,
		"token": verificationToken, "enterprise": nil, "is_enterprise_install": false,
	}
	trig := ""
	if withTrigger {
		trig = fmt.Sprintf("%d.%s.%s", time.Now().Unix(), s.clock.next(""), randHex(16))
		p["trigger_id"] = trig
	}
	return p, trig
}

func (s *Server) user(id string) (User, error) {
	u, ok := s.st.users[id]
	if !ok {
		return u, fmt.Errorf("%w: user %q (call AddUser)", ErrNotFound, id)
	}
	return u, nil
}

// openView returns the open view id that user sees. Callers hold s.mu.
func (s *Server) openView(userID, viewID string) (*view, error) {
	v, ok := s.st.views[viewID]
	if !ok || !v.Open {
		return nil, fmt.Errorf("%w: open view %q", ErrNotFound, viewID)
	}
	if v.User != "" && v.User != userID {
		return nil, fmt.Errorf("%w: view %q is shown to %s, not %s", ErrNotFound, viewID, v.User, userID)
	}
	return v, nil
}

// actionJSON is one entry of a block_actions payload's "actions".
func actionJSON(e elemRef, sv *StateValue) map[string]any {
	now := time.Now()
	a := map[string]any{
		"action_id": e.actionID(), "block_id": e.blockID, "type": e.typ(),
		"action_ts": fmt.Sprintf("%d.%06d", now.Unix(), now.Nanosecond()/1000),
	}
	if t, ok := e.elem["text"]; ok {
		a["text"] = t
	}
	if v, ok := e.elem["value"]; ok {
		a["value"] = v
	}
	if st, ok := e.elem["style"]; ok {
		a["style"] = st
	}
	if sv != nil {
		raw, _ := json.Marshal(sv)
		var fields map[string]any
		_ = json.Unmarshal(raw, &fields)
		for k, v := range fields {
			if k != "type" {
				a[k] = v
			}
		}
	}
	return a
}

// ClickButton clicks the button with actionID in a message (top-level or
// reply) and waits for the ack. The payload carries a trigger_id and a
// response_url for that message.
func (s *Server) ClickButton(ctx context.Context, userID, channel, ts, actionID string) (Ack, error) {
	s.mu.Lock()
	u, err := s.user(userID)
	if err != nil {
		s.mu.Unlock()
		return Ack{}, err
	}
	ch := s.st.channels[channel]
	var m *Message
	if ch != nil {
		m = ch.find(ts)
	}
	if m == nil {
		s.mu.Unlock()
		return Ack{}, fmt.Errorf("%w: message %s/%s", ErrNotFound, channel, ts)
	}
	blocks, _ := decodeBlocks(m.Blocks)
	e, ok := findElement(blocks, actionID)
	if !ok || e.typ() != "button" {
		s.mu.Unlock()
		return Ack{}, fmt.Errorf("%w: button %q in message %s/%s", ErrNotFound, actionID, channel, ts)
	}
	p, trig := s.interactionBase("block_actions", u, true)
	container := map[string]any{"type": "message", "message_ts": m.TS, "channel_id": ch.id, "is_ephemeral": false}
	if m.ThreadTS != "" {
		container["thread_ts"] = m.ThreadTS
	}
	p["container"] = container
	p["channel"] = map[string]any{"id": ch.id, "name": ch.name}
	p["message"] = s.messageJSON(m)
	p["state"] = map[string]any{"values": computeState(blocks, nil)}
	p["response_url"] = s.newResponseURL(ch.id, m.TS, userID)
	p["actions"] = []any{actionJSON(e, nil)}
	s.mu.Unlock()
	return s.deliver(ctx, "interactive", p, trig, userID, nil)
}

// viewAction builds a block_actions payload for an element of a view.
// Callers hold s.mu.
func (s *Server) viewAction(u User, v *view, e elemRef, sv *StateValue) (map[string]any, string) {
	p, trig := s.interactionBase("block_actions", u, true)
	p["container"] = map[string]any{"type": "view", "view_id": v.ID}
	p["view"] = s.viewJSON(v)
	p["actions"] = []any{actionJSON(e, sv)}
	return p, trig
}

// ClickViewButton clicks the button with actionID in an open view.
func (s *Server) ClickViewButton(ctx context.Context, userID, viewID, actionID string) (Ack, error) {
	s.mu.Lock()
	u, v, e, err := s.viewElement(userID, viewID, actionID)
	if err == nil && e.typ() != "button" {
		err = fmt.Errorf("%w: %q is a %s, not a button", ErrInvalidValue, actionID, e.typ())
	}
	if err != nil {
		s.mu.Unlock()
		return Ack{}, err
	}
	p, trig := s.viewAction(u, v, e, nil)
	s.mu.Unlock()
	return s.deliver(ctx, "interactive", p, trig, userID, nil)
}

func (s *Server) viewElement(userID, viewID, actionID string) (User, *view, elemRef, error) {
	u, err := s.user(userID)
	if err != nil {
		return u, nil, elemRef{}, err
	}
	v, err := s.openView(userID, viewID)
	if err != nil {
		return u, nil, elemRef{}, err
	}
	e, ok := findElement(v.blocks, actionID)
	if !ok {
		return u, nil, elemRef{}, fmt.Errorf("%w: element %q in view %s", ErrNotFound, actionID, viewID)
	}
	return u, v, e, nil
}

// SelectOption picks value in the select menu (or other stateful element)
// with actionID, updating the view's state.values; in an overflow menu it
// picks the option and sends block_actions with it. Slack then sends
// block_actions, except for an element of an input block without
// dispatch_action: then nothing is sent and the zero Ack is returned.
func (s *Server) SelectOption(ctx context.Context, userID, viewID, actionID, value string) (Ack, error) {
	s.mu.Lock()
	u, v, e, err := s.viewElement(userID, viewID, actionID)
	if err != nil {
		s.mu.Unlock()
		return Ack{}, err
	}
	if e.typ() == "overflow" {
		// An overflow menu holds no state: the pick is only in the
		// block_actions it sends, as selected_option.
		i := slices.IndexFunc(optionsOf(e.elem), func(o Option) bool { return o.Value == value })
		if i < 0 {
			s.mu.Unlock()
			return Ack{}, fmt.Errorf("%w: %q is not an option of %q", ErrInvalidValue, value, actionID)
		}
		p, trig := s.viewAction(u, v, e, nil)
		p["actions"].([]any)[0].(map[string]any)["selected_option"] = optionsOf(e.elem)[i]
		s.mu.Unlock()
		return s.deliver(ctx, "interactive", p, trig, userID, nil)
	}
	sv, err := s.valueFor(viewID, e, InputValue{Value: value})
	if err != nil {
		s.mu.Unlock()
		return Ack{}, err
	}
	s.setState(v, e, sv)
	if e.blockType == "input" && e.block["dispatch_action"] != true {
		s.mu.Unlock()
		return Ack{}, nil
	}
	p, trig := s.viewAction(u, v, e, &sv)
	s.mu.Unlock()
	return s.deliver(ctx, "interactive", p, trig, userID, nil)
}

func (s *Server) setState(v *view, e elemRef, sv StateValue) {
	if v.View.State == nil {
		v.View.State = State{}
	}
	if v.View.State[e.blockID] == nil {
		v.View.State[e.blockID] = map[string]StateValue{}
	}
	v.View.State[e.blockID][e.actionID()] = sv
}

// SetInput enters v into the element with actionID without any event, as
// typing into a plain_text_input or choosing in a non-dispatching input does.
func (s *Server) SetInput(viewID, actionID string, v InputValue) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	vw, ok := s.st.views[viewID]
	if !ok || !vw.Open {
		return fmt.Errorf("%w: open view %q", ErrNotFound, viewID)
	}
	e, ok := findElement(vw.blocks, actionID)
	if !ok {
		return fmt.Errorf("%w: element %q in view %s", ErrNotFound, actionID, viewID)
	}
	sv, err := s.valueFor(viewID, e, v)
	if err != nil {
		return err
	}
	s.setState(vw, e, sv)
	return nil
}
