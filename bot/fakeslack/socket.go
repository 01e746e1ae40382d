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
	// rx, when set, tells when an ack's bytes reached the socket
	// (rxstamp.go); otherwise its arrival is when it was read.
	rx   *rxConn
	once sync.Once
}

func (c *sockConn) writeJSON(v any) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
	return c.ws.WriteJSON(v)
}

// writeFrame writes one encoded message and returns when it was handed
// to the socket: the moment Slack would call it sent. The time spent
// waiting for the connection's other writers is the fake's own, not the
// app's, so it is not counted.
func (c *sockConn) writeFrame(data []byte) (time.Time, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
	sent := time.Now()
	return sent, c.ws.WriteMessage(websocket.TextMessage, data)
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
	strays  []StrayAck
	// failOpen is how many apps.connections.open calls still fail.
	failOpen int
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
	if s.sock.failOpen > 0 {
		s.sock.failOpen--
		return nil, "internal_error"
	}
	if len(s.liveConns()) >= maxConnections {
		return nil, "too_many_websockets"
	}
	ticket := randHex(16)
	s.sock.tickets[ticket] = true
	wsURL := "ws" + strings.TrimPrefix(s.hs.URL, "http") + "/link/?ticket=" + ticket + "&app_id=" + appID
	return map[string]any{"url": wsURL}, ""
}

var upgrader = websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }, ReadBufferSize: socketReadBuffer}

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
	if rc, ok := ws.NetConn().(*rxConn); ok && rc.stamp() {
		c.rx = rc
	}
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

// StrayAck is a message an app sent on a Socket Mode connection that acks
// nothing: an ack without an envelope_id (such as an ack of hello), an ack
// of an envelope sent on another connection, or of an unknown envelope.
// Slack ignores these; a correct app sends none.
type StrayAck struct {
	Conn       int // the connection it came on
	EnvelopeID string
	// EnvelopeConn is the connection the envelope went out on, -1 if
	// there was no such envelope.
	EnvelopeConn int
	Reason       string
	Raw          json.RawMessage
	At           time.Time
}

func (s *Server) stray(c *sockConn, id string, envConn int, reason string, data []byte) {
	s.sock.strays = append(s.sock.strays, StrayAck{Conn: c.idx, EnvelopeID: id, EnvelopeConn: envConn,
		Reason: reason, Raw: json.RawMessage(append([]byte(nil), data...)), At: time.Now()})
	s.log.Warn("stray socket mode message", "conn", c.idx, "envelope_id", id, "reason", reason)
}

// StrayAcks returns the stray acks received, oldest first.
func (s *Server) StrayAcks() []StrayAck {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]StrayAck(nil), s.sock.strays...)
}

// readAcks applies the acks arriving on c. An envelope is acked only on
// the connection it was sent on, as Slack ties an envelope to its socket.
func (s *Server) readAcks(c *sockConn) {
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			return
		}
		at := time.Now()
		if c.rx != nil {
			at = c.rx.arrival()
		}
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
			s.mu.Lock()
			s.stray(c, "", -1, "no envelope_id", data)
			s.mu.Unlock()
			continue
		}
		s.mu.Lock()
		p, ok := s.sock.pending[msg.EnvelopeID]
		switch {
		case !ok:
			envConn := -1
			for _, e := range s.st.envelopes {
				if e.ID == msg.EnvelopeID {
					envConn = e.Conn
				}
			}
			s.stray(c, msg.EnvelopeID, envConn, "no such pending envelope", data)
		case p.rec.Conn != c.idx:
			s.stray(c, msg.EnvelopeID, p.rec.Conn, "envelope was sent on another connection", data)
		case p.timedOut:
			delete(s.sock.pending, msg.EnvelopeID)
			p.rec.Late = true
		default:
			delete(s.sock.pending, msg.EnvelopeID)
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

// FailConnectionsOpen makes the next n apps.connections.open calls answer
// {"ok":false,"error":"internal_error"}, as during a Slack outage.
func (s *Server) FailConnectionsOpen(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sock.failOpen = n
}

// Disconnect sends every connection {"type":"disconnect","reason":
// "refresh_requested"}, as Slack does a few times a day. New envelopes go
// only to connections opened afterwards; the old ones close after a grace
// period unless the client closes them first.
func (s *Server) Disconnect() { s.DisconnectWith("refresh_requested") }

// DisconnectWith is Disconnect with another reason ("warning",
// "too_many_websockets", "link_disabled").
func (s *Server) DisconnectWith(reason string) {
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
	msg := map[string]any{"type": "disconnect", "reason": reason,
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
