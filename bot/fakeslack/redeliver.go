package fakeslack

import (
	"context"
	"fmt"
)

// Redeliver sends the payload of an earlier envelope again, in a new
// envelope, as Slack does when it retries an envelope or a user's client
// repeats an interaction (a double submission). It waits for the ack; the
// ack's response_action is not applied to any view, since the first
// delivery already shaped it.
func (s *Server) Redeliver(ctx context.Context, envelopeID string) (Ack, error) {
	s.mu.Lock()
	var found *Envelope
	for _, e := range s.st.envelopes {
		if e.ID == envelopeID {
			found = e
			break
		}
	}
	s.mu.Unlock()
	if found == nil {
		return Ack{}, fmt.Errorf("%w: envelope %s", ErrNotFound, envelopeID)
	}
	return s.deliver(ctx, found.Type, found.Payload, "", "", nil)
}
