package fakeslack

import (
	"context"
	"strings"
)

// Home returns the Home tab last published for user with views.publish
// (https://api.slack.com/methods/views.publish); false if none was.
// Clicks in it go through ClickViewButton and SelectOption with its ID,
// and arrive as block_actions whose view has type "home".
func (s *Server) Home(userID string) (View, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.st.views[s.st.homes[userID]]
	if !ok {
		return View{}, false
	}
	return v.snapshot(), true
}

// OpenHome has user open the app's Home tab: it delivers the
// app_home_opened event (https://api.slack.com/events/app_home_opened) in
// an event_callback envelope with a fresh event_id, over Socket Mode, and
// waits for the ack. As in Slack, the event carries the Home already
// published for the user, if any.
func (s *Server) OpenHome(ctx context.Context, userID string) (Ack, error) {
	s.mu.Lock()
	if _, err := s.user(userID); err != nil {
		s.mu.Unlock()
		return Ack{}, err
	}
	ev := map[string]any{
		"type": "app_home_opened", "user": userID, "channel": "D" + strings.TrimLeft(userID, "UW"),
		"tab": "home", "event_ts": s.clock.ts(),
	}
	if v, ok := s.st.views[s.st.homes[userID]]; ok {
		ev["view"] = s.viewJSON(v)
	}
	s.mu.Unlock()
	return s.Event(ctx, ev)
}
