package fakeslack

import (
	"bytes"
	"context"
	"fmt"
)

// Redeliver sends the payload of an earlier envelope again, in a new
// envelope, as Slack does when it retries an envelope or a user's client
// repeats an interaction (a double submission). It waits for the ack; the
// ack's response_action is not applied to any view, since the first
// delivery already shaped it. An events_api payload comes back as Slack
// retries it: the same event_id, with retry_attempt counting the earlier
// deliveries and retry_reason "timeout".
func (s *Server) Redeliver(ctx context.Context, envelopeID string) (Ack, error) {
	s.mu.Lock()
	var found *Envelope
	for _, e := range s.st.envelopes {
		if e.ID == envelopeID {
			found = e
			break
		}
	}
	attempt := 0
	if found != nil && found.Type == "events_api" {
		for _, e := range s.st.envelopes {
			if bytes.Equal(e.Payload, found.Payload) {
				attempt++
			}
		}
	}
	s.mu.Unlock()
	if found == nil {
		return Ack{}, fmt.Errorf("%w: envelope %s", ErrNotFound, envelopeID)
	}
	if attempt > 0 {
		return s.deliverRetry(ctx, found.Type, found.Payload, "", "", nil, attempt, "timeout")
	}
	return s.deliver(ctx, found.Type, found.Payload, "", "", nil)
}
