package fakelinear

import (
	"net/http"
	"time"
)

// outageState is a window in which Linear is down; guarded by Server.mu.
type outageState struct {
	until time.Time
	hits  int
}

// DownFor makes Linear unreachable for d from now: every GraphQL request
// answers HTTP 503 with an HTML page, as Linear's edge does during an
// outage, before authentication or execution (nothing changes). A d ≤ 0
// ends the outage at once. Requests refused this way are counted by
// DownRequests, not recorded in Requests: Linear never saw them.
func (s *Server) DownFor(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outage.until = time.Now().Add(d)
}

// DownRequests counts the requests refused while Linear was down.
func (s *Server) DownRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.outage.hits
}

// refuseIfDown answers 503 during an outage, reporting whether it did.
func (s *Server) refuseIfDown(w http.ResponseWriter) bool {
	s.mu.Lock()
	down := time.Now().Before(s.outage.until)
	if down {
		s.outage.hits++
	}
	s.mu.Unlock()
	if down {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>"))
	}
	return down
}

// IsDown reports whether an outage set by DownFor is in progress.
func (s *Server) IsDown() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return time.Now().Before(s.outage.until)
}
