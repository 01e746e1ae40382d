package fakeslack

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"
)

// SubmitView presses a modal's submit button: view_submission with the
// view's current state.values. It then applies the ack's response_action as
// Slack does: "errors" records the errors on the view (still open), "update"
// replaces the view keeping its id, "push" opens a new view on top, and
// "clear" or no response_action closes it. A required input that is empty
// stops the submission before anything is sent (ErrRequiredInput).
func (s *Server) SubmitView(ctx context.Context, userID, viewID string) (Ack, error) {
	s.mu.Lock()
	u, err := s.user(userID)
	var v *view
	if err == nil {
		v, err = s.openView(userID, viewID)
	}
	if err == nil && v.Type != "modal" {
		err = fmt.Errorf("%w: view %s is a %s, not a modal", ErrInvalidValue, viewID, v.Type)
	}
	if err == nil {
		err = requiredInputs(v)
	}
	if err != nil {
		s.mu.Unlock()
		return Ack{}, err
	}
	p, trig := s.interactionBase("view_submission", u, true)
	p["view"] = s.viewJSON(v)
	p["response_urls"] = []any{}
	s.mu.Unlock()

	return s.deliver(ctx, "interactive", p, trig, userID, func(payload json.RawMessage) error {
		return s.applyResponseAction(v, payload)
	})
}

// requiredInputs is the check Slack's client makes before submitting.
func requiredInputs(v *view) error {
	var missing error
	walkElements(v.blocks, func(e elemRef) bool {
		if e.blockType != "input" || e.block["optional"] == true || valueKey(e.typ()) == "" {
			return true
		}
		sv := v.View.State[e.blockID][e.actionID()]
		if sv.Value == nil && sv.Selected == nil && len(sv.Many) == 0 || sv.Value != nil && *sv.Value == "" {
			missing = fmt.Errorf("%w: block %q", ErrRequiredInput, e.blockID)
			return false
		}
		return true
	})
	return missing
}

// applyResponseAction applies a view_submission ack. Callers hold s.mu.
func (s *Server) applyResponseAction(v *view, payload json.RawMessage) error {
	var ra struct {
		ResponseAction string            `json:"response_action"`
		Errors         map[string]string `json:"errors"`
		View           json.RawMessage   `json:"view"`
	}
	if len(payload) > 0 {
		if err := json.Unmarshal(payload, &ra); err != nil {
			return fmt.Errorf("%w: %v", ErrBadResponse, err)
		}
	}
	switch ra.ResponseAction {
	case "", "clear":
		// With no response_action Slack closes the submitted view; "clear"
		// closes the whole stack.
		for _, o := range s.st.views {
			if o == v || ra.ResponseAction == "clear" && o.rootID == v.rootID {
				o.Open = false
			}
		}
	case "errors":
		blocks := map[string]bool{}
		for _, b := range v.blocks {
			if bo, _ := b.(obj); str(bo, "type") == "input" {
				blocks[str(bo, "block_id")] = true
			}
		}
		for id := range ra.Errors {
			if !blocks[id] {
				return fmt.Errorf("%w: errors name %q, which is not an input block", ErrBadResponse, id)
			}
		}
		v.Errors = ra.Errors
	case "update", "push":
		req, problems := parseView(ra.View, "/view")
		if len(problems) > 0 {
			return fmt.Errorf("%w: %s view: %v", ErrBadResponse, ra.ResponseAction, problems)
		}
		if ra.ResponseAction == "update" {
			s.applyView(v, req)
			v.Updates++
			return nil
		}
		nv := s.newView(req, v.User, "")
		nv.rootID, nv.previousID = v.rootID, v.ID
	default:
		return fmt.Errorf("%w: unknown response_action %q", ErrBadResponse, ra.ResponseAction)
	}
	return nil
}

// SlashCommand runs command (with its leading "/") in channel. A message
// in the ack is shown as Slack shows it: ephemeral unless response_type is
// "in_channel".
func (s *Server) SlashCommand(ctx context.Context, userID, channel, command, text string) (Ack, error) {
	s.mu.Lock()
	u, err := s.user(userID)
	ch := s.st.channels[channel]
	if err == nil && ch == nil {
		err = fmt.Errorf("%w: channel %q (call AddChannel)", ErrNotFound, channel)
	}
	if err != nil {
		s.mu.Unlock()
		return Ack{}, err
	}
	trig := fmt.Sprintf("%d.%s.%s", time.Now().Unix(), s.clock.next(""), randHex(16))
	respURL := s.newResponseURL(ch.id, "", userID)
	// Slash command payloads are flat strings, as the HTTP form was.
	p := map[string]any{
		"token": verificationToken, "team_id": s.opts.TeamID, "team_domain": teamDomain,
		"channel_id": ch.id, "channel_name": ch.name, "user_id": u.ID, "user_name": u.Name,
		"command": command, "text": text, "api_app_id": appID,
		"response_url": respURL, "trigger_id": trig,
	}
	s.mu.Unlock()
	return s.deliver(ctx, "slash_commands", p, trig, userID, func(payload json.RawMessage) error {
		if len(bytes.TrimSpace(payload)) == 0 {
			return nil
		}
		var rb responseBody
		if err := json.Unmarshal(payload, &rb); err != nil {
			return fmt.Errorf("%w: slash command ack: %v", ErrBadResponse, err)
		}
		if rb.Text == "" && len(rb.Blocks) == 0 {
			return nil
		}
		ru := &responseURL{channel: ch.id, userID: userID, created: time.Now()}
		if _, code := s.applyResponse(ru, rb, ""); code != "" {
			return fmt.Errorf("%w: slash command ack message: %s", ErrBadResponse, code)
		}
		return nil
	})
}

// Suggest types query into the external_select with actionID: a
// block_suggestion, whose ack carries the options (at most 100) the user can
// then pick with SelectOption or SetInput. A query shorter than the
// element's min_query_length (Slack's default is 3) sends nothing and is
// refused with ErrInvalidValue.
func (s *Server) Suggest(ctx context.Context, userID, viewID, actionID, query string) (Ack, error) {
	s.mu.Lock()
	u, v, e, err := s.viewElement(userID, viewID, actionID)
	if err == nil && e.typ() != "external_select" && e.typ() != "multi_external_select" {
		err = fmt.Errorf("%w: %q is a %s, not an external select", ErrInvalidValue, actionID, e.typ())
	}
	if err == nil {
		minLen, ok := intField(e.elem, "min_query_length")
		if !ok {
			minLen = 3
		}
		if utf8.RuneCountInString(query) < minLen {
			err = fmt.Errorf("%w: query %q is shorter than min_query_length %d", ErrInvalidValue, query, minLen)
		}
	}
	if err != nil {
		s.mu.Unlock()
		return Ack{}, err
	}
	p, _ := s.interactionBase("block_suggestion", u, false)
	p["container"] = map[string]any{"type": "view", "view_id": v.ID}
	p["action_id"], p["block_id"], p["value"] = actionID, e.blockID, query
	p["view"] = s.viewJSON(v)
	s.mu.Unlock()

	return s.deliver(ctx, "interactive", p, "", userID, func(payload json.RawMessage) error {
		var resp struct {
			Options      []Option `json:"options"`
			OptionGroups []struct {
				Options []Option `json:"options"`
			} `json:"option_groups"`
		}
		if len(payload) > 0 {
			if err := json.Unmarshal(payload, &resp); err != nil {
				return fmt.Errorf("%w: block_suggestion ack: %v", ErrBadResponse, err)
			}
		}
		opts := resp.Options
		for _, g := range resp.OptionGroups {
			opts = append(opts, g.Options...)
		}
		if len(opts) > maxOptions {
			return fmt.Errorf("%w: %d options exceed Slack's %d", ErrBadResponse, len(opts), maxOptions)
		}
		s.st.suggestions[viewID+"/"+actionID] = opts
		return nil
	})
}
