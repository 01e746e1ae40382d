package fakeslack

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// ackHook applies an ack's payload the moment the ack arrives, with s.mu
// held, as Slack applies it on receipt: a views.update the app sends right
// after acking must land after the ack's response_action, not before.
type ackHook func(payload json.RawMessage) error

// pickConn chooses the connection for the next envelope, round robin:
// Slack sends each envelope to one of the app's connections.
func (s *Server) pickConn() *sockConn {
	live := s.liveConns()
	if len(live) == 0 {
		return nil
	}
	s.sock.rr++
	return live[s.sock.rr%len(live)]
}

// deliver sends one envelope and waits for its ack. It waits (bounded by
// ctx) for a connection if none is open. triggerID, when set, becomes
// valid for views.open from the moment the envelope is sent. hook, when
// set, applies the ack's payload as it arrives; its error is returned.
func (s *Server) deliver(ctx context.Context, typ string, payload any, triggerID, userID string, hook ackHook) (Ack, error) {
	return s.deliverRetry(ctx, typ, payload, triggerID, userID, hook, 0, "")
}

// deliverRetry is deliver with the envelope's retry_attempt and
// retry_reason, which Slack sets when it sends an events_api envelope
// again because the first was not acknowledged in time.
func (s *Server) deliverRetry(ctx context.Context, typ string, payload any, triggerID, userID string, hook ackHook, attempt int, reason string) (Ack, error) {
	body, err := json.Marshal(payload)
	if err != nil {
		return Ack{}, fmt.Errorf("fakeslack: encode payload: %w", err)
	}
	for {
		s.mu.Lock()
		c := s.pickConn()
		if c == nil {
			s.mu.Unlock()
			if err := s.Wait(ctx, func() bool { return s.Connections() > 0 }); err != nil {
				return Ack{}, fmt.Errorf("fakeslack: no socket mode connection: %w", err)
			}
			continue
		}
		rec := &Envelope{ID: uuid.NewString(), Type: typ, Payload: body, Conn: c.idx, SentAt: time.Now(),
			RetryAttempt: attempt, RetryReason: reason}
		p := &pendingAck{rec: rec, ch: make(chan ackMsg, 1), hook: hook}
		s.sock.pending[rec.ID] = p
		s.st.envelopes = append(s.st.envelopes, rec)
		if triggerID != "" {
			s.st.triggers[triggerID] = &trigger{sentAt: rec.SentAt, userID: userID}
		}
		s.mu.Unlock()
		frame, err := json.Marshal(map[string]any{"envelope_id": rec.ID, "type": typ, "payload": json.RawMessage(body),
			"accepts_response_payload": typ != "events_api", "retry_attempt": attempt, "retry_reason": reason})
		if err != nil {
			return Ack{}, fmt.Errorf("fakeslack: encode envelope: %w", err)
		}
		sent, err := c.writeFrame(frame)
		if err != nil {
			s.log.Warn("envelope write failed; retrying on another connection", "conn", c.idx, "err", err)
			s.mu.Lock()
			delete(s.sock.pending, rec.ID)
			s.mu.Unlock()
			c.close()
			continue
		}
		// The envelope's clock (its ack's latency, its trigger_id's age)
		// starts when its frame went out, not when it was queued behind
		// the connection's other envelopes. Until now a views.open saw the
		// earlier time, which only makes it older.
		s.mu.Lock()
		if t := s.st.triggers[triggerID]; triggerID != "" && t != nil && t.sentAt.Equal(rec.SentAt) {
			t.sentAt = sent
		}
		rec.SentAt = sent
		s.mu.Unlock()
		return s.awaitAck(ctx, p)
	}
}

func (s *Server) awaitAck(ctx context.Context, p *pendingAck) (Ack, error) {
	timer := time.NewTimer(s.opts.AckTimeout)
	defer timer.Stop()
	var m ackMsg
	select {
	case m = <-p.ch:
	case <-timer.C:
	case <-ctx.Done():
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if m.at.IsZero() {
		if _, still := s.sock.pending[p.rec.ID]; still {
			p.timedOut = true
			if err := ctx.Err(); err != nil {
				return Ack{}, fmt.Errorf("fakeslack: waiting for ack of %s: %w", p.rec.ID, err)
			}
			s.log.Warn("envelope not acked in time", "envelope_id", p.rec.ID, "type", p.rec.Type)
			return Ack{EnvelopeID: p.rec.ID}, fmt.Errorf("%w: %s envelope %s", ErrNoAck, p.rec.Type, p.rec.ID)
		}
		m = <-p.ch // the ack raced the timer
	}
	ack := Ack{EnvelopeID: p.rec.ID, Payload: m.payload, Latency: m.at.Sub(p.rec.SentAt)}
	p.rec.Acked, p.rec.Ack = true, ack
	s.st.ackLat = append(s.st.ackLat, ack.Latency)
	return ack, m.err
}
