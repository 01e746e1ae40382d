package fakeslack

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"slices"
	"time"
)

// Messages returns the channel's top-level messages, oldest first.
func (s *Server) Messages(channel string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, ok := s.st.channels[channel]
	if !ok {
		return nil
	}
	return cloneAll(ch.top)
}

// Message returns one message, top-level or reply.
func (s *Server) Message(channel, ts string) (Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, ok := s.st.channels[channel]
	if !ok {
		return Message{}, false
	}
	m := ch.find(ts)
	if m == nil {
		return Message{}, false
	}
	return m.clone(), true
}

// Thread returns the replies to the message ts, oldest first.
func (s *Server) Thread(channel, ts string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, ok := s.st.channels[channel]
	if !ok {
		return nil
	}
	return cloneAll(ch.replies[ts])
}

func cloneAll(ms []*Message) []Message {
	out := make([]Message, 0, len(ms))
	for _, m := range ms {
		out = append(out, m.clone())
	}
	return out
}

// Ephemerals returns every ephemeral message shown, oldest first: from
// chat.postEphemeral, ephemeral response_url posts and slash command acks.
func (s *Server) Ephemerals() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, 0, len(s.st.ephemerals))
	for i := range s.st.ephemerals {
		out = append(out, s.st.ephemerals[i].clone())
	}
	return out
}

// Responses returns every message posted to a response_url or carried in
// a slash command ack, oldest first.
func (s *Server) Responses() []Response {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Response, 0, len(s.st.responses))
	for _, r := range s.st.responses {
		r.Blocks = bytes.Clone(r.Blocks)
		out = append(out, r)
	}
	return out
}

// View returns a view by id.
func (s *Server) View(id string) (View, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.st.views[id]
	if !ok {
		return View{}, false
	}
	return v.snapshot(), true
}

// Views returns every view ever opened or published, in order of creation.
func (s *Server) Views() []View {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]View, 0, len(s.st.viewOrder))
	for _, id := range s.st.viewOrder {
		out = append(out, s.st.views[id].snapshot())
	}
	return out
}

// Calls returns the Web API calls of method in order; all calls if method
// is empty.
func (s *Server) Calls(method string) []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Call
	for _, c := range s.st.calls {
		if method == "" || c.Method == method {
			c.Params = cloneValues(c.Params)
			c.JSON = bytes.Clone(c.JSON)
			out = append(out, c)
		}
	}
	return out
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vals := range v {
		out[k] = slices.Clone(vals)
	}
	return out
}

// Envelopes returns every Socket Mode envelope sent, in order.
func (s *Server) Envelopes() []Envelope {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Envelope, 0, len(s.st.envelopes))
	for _, e := range s.st.envelopes {
		c := *e
		c.Payload = bytes.Clone(e.Payload)
		c.Ack.Payload = bytes.Clone(e.Ack.Payload)
		out = append(out, c)
	}
	return out
}

// Unacked returns the envelopes not acknowledged within the ack timeout;
// Slack would have retried them or shown the user an error.
func (s *Server) Unacked() []Envelope {
	var out []Envelope
	for _, e := range s.Envelopes() {
		if !e.Acked && time.Since(e.SentAt) > s.opts.AckTimeout {
			out = append(out, e)
		}
	}
	return out
}

// TriggerLatencies returns, per views.open with a known trigger_id, the
// time from sending the envelope that carried it to views.open arriving.
// Slack rejects anything over 3 s.
func (s *Server) TriggerLatencies() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.st.triggerLat)
}

// AckLatencies returns, per acknowledged envelope, the time from sending
// it to its ack.
func (s *Server) AckLatencies() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.st.ackLat)
}

// Wait polls cond every few milliseconds until it returns true or ctx is
// done. cond must not call Wait.
func (s *Server) Wait(ctx context.Context, cond func() bool) error {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		if cond() {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("fakeslack: wait: %w", ctx.Err())
		case <-t.C:
		}
	}
}

// CallCount counts the Web API calls of method (all calls if method is
// empty) without copying them, for tests that poll while the app is busy.
func (s *Server) CallCount(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if method == "" {
		return len(s.st.calls)
	}
	n := 0
	for i := range s.st.calls {
		if s.st.calls[i].Method == method {
			n++
		}
	}
	return n
}
