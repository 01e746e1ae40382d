package alert

import "time"

// SetClock sets the service's clock, for tests that need time to pass.
func SetClock(s *Service, now func() time.Time) { s.now = now }
