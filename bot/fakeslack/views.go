package fakeslack

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"time"
)

// View is a modal or home tab as the fake holds it.
type View struct {
	ID              string
	Hash            string // changes on every content change; views.update may pass it
	Type            string // modal or home
	CallbackID      string
	ExternalID      string
	Title           string
	Blocks          json.RawMessage // with the block_ids and action_ids Slack assigned
	PrivateMetadata string
	State           State
	// Errors are the per-block errors of the last response_action "errors".
	Errors map[string]string
	// Open is false once the user submitted it (clear, or no response_action).
	Open bool
	// TriggerID is the trigger_id that opened it (empty for home tabs).
	TriggerID string
	// User is who sees the view.
	User string
	// Updates counts views.update calls and response_action updates.
	Updates int
}

// view is the stored form of a View; guarded by Server.mu.
type view struct {
	View
	title, submit, close json.RawMessage
	clearOnClose         bool
	notifyOnClose        bool
	blocks               []any
	rootID, previousID   string
}

func (v *view) snapshot() View {
	out := v.View
	out.Blocks, _ = json.Marshal(v.blocks)
	out.State = v.state().clone()
	out.Errors = maps.Clone(v.Errors)
	return out
}

func (v *view) state() State { return v.View.State }

// apply replaces the view's content with req, keeping its id and the input
// the user entered in unchanged elements, and gives it a new hash.
func (s *Server) applyView(v *view, req *viewReq) {
	s.clock.normalizeBlocks(req.blocks)
	v.Type, v.CallbackID, v.PrivateMetadata = req.Type, req.CallbackID, req.PrivateMetadata
	if req.ExternalID != "" {
		v.ExternalID = req.ExternalID
		s.st.externals[req.ExternalID] = v.ID
	}
	v.title, v.submit, v.close = req.Title, req.Submit, req.Close
	v.Title = textOf(decodeAny(req.Title))
	v.clearOnClose, v.notifyOnClose = req.ClearOnClose, req.NotifyOnClose
	v.blocks = req.blocks
	v.View.State = computeState(req.blocks, v.View.State)
	v.Errors = nil
	v.Hash = fmt.Sprintf("%d.%s", time.Now().Unix(), randHex(4))
}

func decodeAny(raw json.RawMessage) any {
	var out any
	_ = json.Unmarshal(raw, &out)
	return out
}

func invalidArguments(problems []string) (map[string]any, string) {
	return map[string]any{"response_metadata": map[string]any{"messages": problems}}, "invalid_arguments"
}

// newView stores a fresh open view for user. Callers hold s.mu.
func (s *Server) newView(req *viewReq, user, triggerID string) *view {
	v := &view{View: View{ID: s.clock.next("V"), Open: true, User: user, TriggerID: triggerID}}
	v.rootID = v.ID
	s.applyView(v, req)
	s.st.views[v.ID] = v
	s.st.viewOrder = append(s.st.viewOrder, v.ID)
	return v
}

func (s *Server) viewsOpen(r *apiRequest) (map[string]any, string) {
	id := r.str("trigger_id")
	t, ok := s.st.triggers[id]
	if !ok {
		return nil, "invalid_trigger_id"
	}
	age := time.Since(t.sentAt)
	s.st.triggerLat = append(s.st.triggerLat, age)
	switch {
	case t.used:
		return nil, "exchanged_trigger_id"
	case age > s.opts.TriggerTTL:
		s.log.Warn("views.open with an expired trigger_id", "age", age)
		return nil, "expired_trigger_id"
	}
	req, problems := parseView(r.jsonParam("view"), "/view")
	if req != nil && req.Type != "modal" {
		problems = append(problems, "[ERROR] must be modal [json-pointer:/view/type]")
	}
	if len(problems) > 0 {
		return invalidArguments(problems)
	}
	if _, dup := s.st.externals[req.ExternalID]; dup && req.ExternalID != "" {
		return nil, "duplicate_external_id"
	}
	t.used = true
	v := s.newView(req, t.userID, id)
	return map[string]any{"view": s.viewJSON(v)}, ""
}

func (s *Server) viewsUpdate(r *apiRequest) (map[string]any, string) {
	id := r.str("view_id")
	if id == "" {
		id = s.st.externals[r.str("external_id")]
	}
	v, ok := s.st.views[id]
	if !ok || !v.Open {
		return nil, "not_found"
	}
	if h := r.str("hash"); h != "" && h != v.Hash {
		// Slack's optimistic lock: the view changed since the app read it.
		return nil, "hash_conflict"
	}
	req, problems := parseView(r.jsonParam("view"), "/view")
	if len(problems) > 0 {
		return invalidArguments(problems)
	}
	if other, dup := s.st.externals[req.ExternalID]; dup && other != v.ID {
		return nil, "duplicate_external_id"
	}
	s.applyView(v, req)
	v.Updates++
	return map[string]any{"view": s.viewJSON(v)}, ""
}

func (s *Server) viewsPublish(r *apiRequest) (map[string]any, string) {
	user := r.str("user_id")
	if _, ok := s.st.users[user]; !ok {
		return nil, "user_not_found"
	}
	req, problems := parseView(r.jsonParam("view"), "/view")
	if req != nil && req.Type != "home" {
		problems = append(problems, "[ERROR] must be home [json-pointer:/view/type]")
	}
	if len(problems) > 0 {
		return invalidArguments(problems)
	}
	v, ok := s.st.views[s.st.homes[user]]
	if !ok {
		v = s.newView(req, user, "")
		s.st.homes[user] = v.ID
		return map[string]any{"view": s.viewJSON(v)}, ""
	}
	if h := r.str("hash"); h != "" && h != v.Hash {
		return nil, "hash_conflict"
	}
	s.applyView(v, req)
	v.Updates++
	return map[string]any{"view": s.viewJSON(v)}, ""
}

// viewJSON is the view object Slack returns from views.* and sends in
// block_actions, block_suggestion and view_submission payloads. Callers
// hold s.mu.
func (s *Server) viewJSON(v *view) map[string]any {
	blocks, _ := json.Marshal(v.blocks)
	state, _ := json.Marshal(obj{"values": v.View.State})
	out := map[string]any{
		"id": v.ID, "team_id": s.opts.TeamID, "type": v.Type, "blocks": json.RawMessage(blocks),
		"private_metadata": v.PrivateMetadata, "callback_id": v.CallbackID,
		"state": json.RawMessage(state), "hash": v.Hash, "app_id": appID, "bot_id": botID,
		"external_id": v.ExternalID, "app_installed_team_id": s.opts.TeamID,
		"root_view_id": v.rootID, "previous_view_id": nil,
	}
	if v.Type == "modal" {
		out["title"] = rawOrNil(v.title)
		out["submit"] = rawOrNil(v.submit)
		out["close"] = rawOrNil(v.close)
		out["clear_on_close"] = v.clearOnClose
		out["notify_on_close"] = v.notifyOnClose
	}
	if v.previousID != "" {
		out["previous_view_id"] = v.previousID
	}
	return out
}

func rawOrNil(r json.RawMessage) any {
	if len(bytes.TrimSpace(r)) == 0 {
		return nil
	}
	return r
}
