package fakelinear

// User returns the user with id, as Linear has it now.
func (s *Server) User(id string) (User, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[id]
	if !ok || u == nil {
		return User{}, false
	}
	return *u, true
}
