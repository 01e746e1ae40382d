package alert

import "time"

// SetClock sets the service's clock, for tests that need time to pass.
func SetClock(s *Service, now func() time.Time) { s.now = now }

// ForgetRules drops the rule list held for arriving alerts, as its TTL
// running out does.
func (s *Service) ForgetRules() { s.forgetRules() }
