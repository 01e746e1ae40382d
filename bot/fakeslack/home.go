package fakeslack

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
