package fakeslack

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Socket Mode limits. https://api.slack.com/apis/socket-mode
const (
	// maxConnections is how many Socket Mode connections an app may hold.
	maxConnections = 10
	// maxAckPayload is the ack size at which Slack silently drops the ack.
	maxAckPayload = 20 * 1024
	// drainGrace is how long a connection sent "disconnect" keeps working
	// before the fake closes it; Slack allows about 10 s.
	drainGrace = 10 * time.Second
)

// sockConn is one Socket Mode websocket.
type sockConn struct {
	idx      int
	ws       *websocket.Conn
	wmu      sync.Mutex // gorilla allows one concurrent writer
	draining bool       // sent "disconnect"; guarded by Server.mu
	once     sync.Once
}

func (c *sockConn) writeJSON(v any) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
	return c.ws.WriteJSON(v)
}

func (c *sockConn) close() { c.once.Do(func() { _ = c.ws.Close() }) }

// pendingAck is an envelope waiting for its ack.
type pendingAck struct {
	rec      *Envelope
	ch       chan ackMsg
	hook     ackHook
	timedOut bool
}

type ackMsg struct {
	payload json.RawMessage
	at      time.Time
	err     error // from the hook
}

// sockets is the Socket Mode side of the fake; guarded by Server.mu.
type sockets struct {
	conns   []*sockConn
	total   int
	rr      int
	closed  bool
	tickets map[string]bool
	pending map[string]*pendingAck
}

func newSockets() sockets {
	return sockets{tickets: map[string]bool{}, pending: map[string]*pendingAck{}}
}

func (s *Server) liveConns() []*sockConn {
	var out []*sockConn
	for _, c := range s.sock.conns {
		if !c.draining {
			out = append(out, c)
		}
	}
	return out
}

// connectionsOpen answers apps.connections.open with a single-use websocket
// URL on this server, as Slack hands out a wss:// URL with a ticket.
func (s *Server) connectionsOpen(*apiRequest) (map[string]any, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.liveConns()) >= maxConnections {
		return nil, "too_many_websockets"
	}
	ticket := randHex(16)
	s.sock.tickets[ticket] = true
	wsURL := "ws" + strings.TrimPrefix(s.hs.URL, "http") + "/link/?ticket=" + ticket + "&app_id=" + appID
	return map[string]any{"url": wsURL}, ""
}

var upgrader = websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}

// handleSocket accepts a websocket dialled with a ticket, says hello, then
// reads acks until the connection ends, pinging it meanwhile.
func (s *Server) handleSocket(w http.ResponseWriter, r *http.Request) {
	ticket := r.URL.Query().Get("ticket")
	s.mu.Lock()
	ok := s.sock.tickets[ticket]
	delete(s.sock.tickets, ticket)
	s.mu.Unlock()
	if !ok {
		http.Error(w, "invalid ticket", http.StatusUnauthorized)
		return
	}
	ws, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		s.log.Warn("websocket upgrade failed", "err", err)
		return
	}
	s.mu.Lock()
	if s.sock.closed {
		s.mu.Unlock()
		_ = ws.Close()
		return
	}
	c := &sockConn{idx: s.sock.total, ws: ws}
	s.sock.total++
	s.sock.conns = append(s.sock.conns, c)
	n := len(s.liveConns())
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()
	defer s.dropConn(c)

	hello := map[string]any{
		"type": "hello", "num_connections": n,
		"debug_info":      map[string]any{"host": "applink-fake", "build_number": 1, "approximate_connection_time": 18060},
		"connection_info": map[string]any{"app_id": appID},
	}
	if err := c.writeJSON(hello); err != nil {
		return
	}
	s.log.Debug("socket connected", "conn", c.idx, "connections", n)
	stopPing := make(chan struct{})
	defer close(stopPing)
	go s.pingLoop(c, stopPing)
	s.readAcks(c)
}

// pingLoop sends websocket pings; slack-go reconnects when they stop.
func (s *Server) pingLoop(c *sockConn, stop <-chan struct{}) {
	t := time.NewTicker(s.opts.PingInterval)
	defer t.Stop()
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		case <-s.ctx.Done():
			return
		case <-t.C:
			if err := c.ws.WriteControl(websocket.PingMessage, fmt.Appendf(nil, "ping-%d", i), time.Now().Add(5*time.Second)); err != nil {
				return
			}
		}
	}
}

func (s *Server) readAcks(c *sockConn) {
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			return
		}
		at := time.Now()
		if len(data) >= maxAckPayload {
			// Slack ignores such a message, so the envelope stays unacked.
			s.log.Warn("ack of 20 KB or more dropped", "conn", c.idx, "bytes", len(data))
			continue
		}
		var msg struct {
			EnvelopeID string          `json:"envelope_id"`
			Payload    json.RawMessage `json:"payload"`
		}
		if err := json.Unmarshal(data, &msg); err != nil || msg.EnvelopeID == "" {
			s.log.Warn("unreadable socket message", "conn", c.idx, "err", err)
			continue
		}
		s.mu.Lock()
		p, ok := s.sock.pending[msg.EnvelopeID]
		delete(s.sock.pending, msg.EnvelopeID)
		if ok && p.timedOut {
			p.rec.Late = true
		} else if ok {
			m := ackMsg{payload: msg.Payload, at: at}
			if string(m.payload) == "null" {
				m.payload = nil
			}
			if p.hook != nil {
				m.err = p.hook(m.payload)
			}
			p.ch <- m
		}
		s.mu.Unlock()
		if !ok {
			s.log.Warn("ack for unknown envelope", "envelope_id", msg.EnvelopeID)
		}
	}
}

func (s *Server) dropConn(c *sockConn) {
	c.close()
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, o := range s.sock.conns {
		if o == c {
			s.sock.conns = append(s.sock.conns[:i], s.sock.conns[i+1:]...)
			break
		}
	}
}

// Disconnect sends every connection {"type":"disconnect","reason":
// "refresh_requested"}, as Slack does a few times a day. New envelopes go
// only to connections opened afterwards; the old ones close after a grace
// period unless the client closes them first.
func (s *Server) Disconnect() {
	s.mu.Lock()
	if s.sock.closed {
		s.mu.Unlock()
		return
	}
	var old []*sockConn
	for _, c := range s.sock.conns {
		if !c.draining {
			c.draining = true
			old = append(old, c)
		}
	}
	s.wg.Add(len(old))
	s.mu.Unlock()
	msg := map[string]any{"type": "disconnect", "reason": "refresh_requested",
		"debug_info": map[string]any{"host": "applink-fake"}}
	for _, c := range old {
		_ = c.writeJSON(msg)
		go func() {
			defer s.wg.Done()
			select {
			case <-time.After(drainGrace):
			case <-s.ctx.Done():
			}
			c.close()
		}()
	}
}

// DropConnections closes every socket abruptly, like a network failure.
func (s *Server) DropConnections() {
	s.mu.Lock()
	conns := append([]*sockConn(nil), s.sock.conns...)
	s.mu.Unlock()
	for _, c := range conns {
		c.close()
	}
}

func (s *Server) closeAllSockets() {
	s.mu.Lock()
	s.sock.closed = true
	s.mu.Unlock()
	s.DropConnections()
}

// Connections is the number of Socket Mode connections that receive envelopes.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.liveConns())
}

// WaitConnections waits until at least n connections receive envelopes.
func (s *Server) WaitConnections(ctx context.Context, n int) error {
	return s.Wait(ctx, func() bool { return s.Connections() >= n })
}
