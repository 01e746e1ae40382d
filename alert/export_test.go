package alert

import "time"

// SetClock sets the service's clock, for tests that need time to pass.
func SetClock(s *Service, now func() time.Time) { s.now = now }

// SetDispatcherClock replaces the Dispatcher's clock (due times of
// postponed and retried jobs).
func SetDispatcherClock(d *Dispatcher, now func() time.Time) { d.now = now }
