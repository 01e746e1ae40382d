package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/socketmode"
)

// The bot keeps its own Socket Mode connections instead of slack-go's
// socketmode.Client, for two promises that client cannot keep: its acks
// share one queue across connections (an ack queued before a disconnect
// goes out on the next connection, for an envelope that connection never
// carried), and it reports why a connection ended only in debug output.
// Here each envelope carries the connection it came on, an ack goes out on
// that connection or not at all, hello and disconnect frames are never
// acked, and every drop and reconnect is logged with its reason. The
// events are still socketmode.Event values, parsed as slack-go parses them,
// so routing is unchanged.
// https://api.slack.com/apis/connections/socket-implement

// Socket Mode timings.
const (
	// socketReadTimeout ends a connection that carried nothing, not even a
	// ping, for this long; Slack pings every few seconds.
	socketReadTimeout = 30 * time.Second
	// socketDrainGrace is how long a connection Slack asked to replace
	// keeps carrying the acks of the envelopes it delivered; Slack closes
	// it about 10 s after the disconnect frame.
	socketDrainGrace = 10 * time.Second
	// Reconnect backoff after a failed apps.connections.open or dial:
	// doubling from min to max, with jitter.
	socketMinBackoff = 250 * time.Millisecond
	socketMaxBackoff = 30 * time.Second
	// socketDialTimeout bounds the websocket handshake.
	socketDialTimeout = 10 * time.Second
)

// errConnGone is returned for an ack whose connection has ended: its
// envelope is not acked on another one.
var errConnGone = errors.New("socket mode connection is gone")

// acker sends an envelope's ack. *socketConn is the real one.
type acker interface {
	ack(ctx context.Context, envelopeID string, payload any) error
}

// inbound is an envelope, the connection it came on and when its frame
// was read. Its payload is parsed by the receiver (Bot.Run), not by the
// connection's reader; acked says the reader has acked it already (see
// ackfirst.go).
type inbound struct {
	req   *socketmode.Request
	conn  acker
	read  time.Time
	acked bool
	// ended closes when the connection ends (nil: never). An envelope
	// not yet acked by then is dropped: it can no longer be acked, and
	// Slack has shown the user an error for it.
	ended <-chan struct{}
}

// socketQueue is how many envelopes a connection's reader may have handed
// on ahead of their parsing and routing (Bot.Run's loop): a burst of
// clicks is acked as fast as it is read, and parsed behind.
const socketQueue = 256

// timedAcker tells the Observer how long an envelope waited for its ack.
type timedAcker struct {
	acker
	read time.Time
	kind string
	obs  Observer
}

func (t timedAcker) ack(ctx context.Context, envelopeID string, payload any) error {
	err := t.acker.ack(ctx, envelopeID, payload)
	if err == nil {
		t.obs.EnvelopeAcked(t.kind, time.Since(t.read))
	}
	return err
}

// socketConn is one Socket Mode websocket.
type socketConn struct {
	id  int
	ws  *websocket.Conn
	log *slog.Logger

	wmu  sync.Mutex // gorilla allows one writer at a time.
	once sync.Once
	done chan struct{}
	// why is the reason the connection ended; set before done closes.
	why string
}

func newSocketConn(id int, ws *websocket.Conn, log *slog.Logger) *socketConn {
	return &socketConn{id: id, ws: ws, log: log, done: make(chan struct{})}
}

// end closes the connection once and records why.
func (c *socketConn) end(why string) {
	c.once.Do(func() {
		c.why = why
		_ = c.ws.Close()
		close(c.done)
	})
}

// socketAck is the frame that acknowledges an envelope.
type socketAck struct {
	EnvelopeID string `json:"envelope_id"`
	Payload    any    `json:"payload,omitempty"`
}

// ack writes envelopeID's ack on this connection, or returns errConnGone.
func (c *socketConn) ack(ctx context.Context, envelopeID string, payload any) error {
	if envelopeID == "" {
		return fmt.Errorf("ack without envelope id: %w", errConnGone)
	}
	data, err := json.Marshal(socketAck{EnvelopeID: envelopeID, Payload: payload})
	if err != nil {
		return fmt.Errorf("encode ack: %w", err)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	select {
	case <-c.done:
		return fmt.Errorf("connection %d (%s): %w", c.id, c.why, errConnGone)
	default:
	}
	deadline := time.Now().Add(ackWriteTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = c.ws.SetWriteDeadline(deadline)
	if err := c.ws.WriteMessage(websocket.TextMessage, data); err != nil {
		c.end("ack write failed: " + err.Error())
		return fmt.Errorf("connection %d: %w: %w", c.id, errConnGone, err)
	}
	return nil
}

// socketClient opens Socket Mode connections one after another.
type socketClient struct {
	api    *slack.Client
	log    *slog.Logger
	obs    Observer // nil: nobody listens.
	dialer *websocket.Dialer
	// Tunables; tests shorten them.
	readTimeout, drainGrace, minBackoff, maxBackoff time.Duration
	// up counts the connections that said hello and have not ended (see
	// Bot.Connected); hellos counts every one that ever did.
	up     atomic.Int32
	hellos atomic.Int64
}

func newSocketClient(api *slack.Client, log *slog.Logger, obs Observer) *socketClient {
	return &socketClient{
		api: api, log: log, obs: obs,
		dialer:      &websocket.Dialer{Proxy: http.ProxyFromEnvironment, HandshakeTimeout: socketDialTimeout},
		readTimeout: socketReadTimeout, drainGrace: socketDrainGrace,
		minBackoff: socketMinBackoff, maxBackoff: socketMaxBackoff,
	}
}

// fatalOpenErrors are apps.connections.open answers that no retry fixes.
var fatalOpenErrors = map[string]bool{
	"invalid_auth": true, "not_authed": true, "account_inactive": true,
	"token_revoked": true, "not_allowed_token_type": true, "missing_scope": true,
}

// run keeps one connection open until ctx ends, delivering its envelopes
// to out. It returns nil when ctx ends, an error when Slack refuses the
// app token. Connections being drained are closed before it returns.
func (s *socketClient) run(ctx context.Context, out chan<- inbound) error {
	var wg sync.WaitGroup
	var mu sync.Mutex
	live := map[*socketConn]bool{}
	defer func() {
		mu.Lock()
		for c := range live {
			c.end("shutting down")
		}
		mu.Unlock()
		wg.Wait()
	}()
	failures := 0
	for id := 0; ctx.Err() == nil; {
		c, err := s.connect(ctx, id)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if fatalOpenErrors[slackCode(err)] {
				return fmt.Errorf("apps.connections.open: %w", err)
			}
			failures++
			wait := s.backoff(failures)
			var rl *slack.RateLimitedError
			if errors.As(err, &rl) {
				wait = max(wait, rl.RetryAfter)
			}
			s.log.WarnContext(ctx, "slack socket mode connect failed", "attempt", failures, "retry_in", wait, "err", err)
			if !sleepCtx(ctx, wait) {
				return nil
			}
			continue
		}
		failures = 0
		id++
		mu.Lock()
		live[c] = true
		mu.Unlock()
		replace := make(chan string, 1)
		wg.Go(func() {
			defer func() {
				mu.Lock()
				delete(live, c)
				mu.Unlock()
			}()
			s.serve(ctx, c, out, replace)
		})
		select {
		case reason := <-replace:
			// The old connection keeps carrying its own acks until Slack
			// closes it or the grace runs out; new envelopes come on the
			// next one.
			s.log.InfoContext(ctx, "slack socket mode reconnecting", "conn", c.id, "reason", "slack sent disconnect: "+reason)
			s.reconnecting("disconnect")
		case <-c.done:
			if ctx.Err() == nil {
				s.log.WarnContext(ctx, "slack socket mode connection lost; reconnecting", "conn", c.id, "reason", c.why)
				s.reconnecting("lost")
			}
		case <-ctx.Done():
		}
	}
	return nil
}

func (s *socketClient) reconnecting(reason string) {
	if s.obs != nil {
		s.obs.SocketReconnecting(reason)
	}
}

// backoff is the wait before reconnect attempt n (1-based), with jitter so
// replicas do not retry in step.
func (s *socketClient) backoff(n int) time.Duration {
	d := s.minBackoff
	for i := 1; i < n && d < s.maxBackoff; i++ {
		d *= 2
	}
	d = min(d, s.maxBackoff)
	return d/2 + rand.N(d/2+1)
}

// connect asks apps.connections.open for a URL and dials it. The URL
// carries a connection ticket, so it is never logged or wrapped in errors.
func (s *socketClient) connect(ctx context.Context, id int) (*socketConn, error) {
	_, url, err := s.api.StartSocketModeContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("apps.connections.open: %w", err)
	}
	dctx, cancel := context.WithTimeout(ctx, socketDialTimeout)
	defer cancel()
	ws, resp, err := s.dialer.DialContext(dctx, url, http.Header{"Origin": {"https://api.slack.com"}})
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		return nil, fmt.Errorf("dial socket mode websocket (status %d): %w", status, redactDialError(err))
	}
	return newSocketConn(id, ws, s.log.With("conn", id)), nil
}

// redactDialError keeps a dial error's kind and drops the ticketed URL
// that some errors (url.Error) carry.
func redactDialError(err error) error {
	if errors.Is(err, websocket.ErrBadHandshake) {
		return websocket.ErrBadHandshake
	}
	var ne interface{ Timeout() bool }
	if errors.As(err, &ne) && ne.Timeout() {
		return errors.New("timeout")
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return errors.New("connection failed")
}

// serve reads c until it ends. A disconnect frame is reported on replace
// (once); the connection then stays open for its acks for drainGrace.
func (s *socketClient) serve(ctx context.Context, c *socketConn, out chan<- inbound, replace chan<- string) {
	stop := context.AfterFunc(ctx, func() { c.end("shutting down") })
	defer stop()
	extend := func() { _ = c.ws.SetReadDeadline(time.Now().Add(s.readTimeout)) }
	extend()
	c.ws.SetPingHandler(func(data string) error {
		extend()
		err := c.ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(5*time.Second))
		if err != nil && !errors.Is(err, websocket.ErrCloseSent) {
			return err
		}
		return nil
	})
	replaced, helloed := false, false
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			c.end(readEndReason(err))
			return
		}
		read := time.Now()
		extend()
		var req socketmode.Request
		if err := json.Unmarshal(data, &req); err != nil {
			c.log.WarnContext(ctx, "slack socket mode frame unreadable", "err", err)
			continue
		}
		switch req.Type {
		case socketmode.RequestTypeHello:
			// Never acked: it is no envelope.
			if !helloed {
				helloed = true
				s.up.Add(1)
				s.hellos.Add(1)
				defer s.up.Add(-1) // when this connection's reads end
			}
			c.log.InfoContext(ctx, "slack socket mode connected", "num_connections", req.NumConnections,
				"host", req.DebugInfo.Host, "approximate_connection_time_s", req.DebugInfo.ApproximateConnectionTime)
			continue
		case socketmode.RequestTypeDisconnect:
			// Never acked either. "warning" and "refresh_requested" mean
			// Slack closes this connection soon; "link_disabled" means
			// Socket Mode was turned off for the app, which the next
			// apps.connections.open reports.
			if !replaced {
				replaced = true
				replace <- req.Reason
				time.AfterFunc(s.drainGrace, func() { c.end("drained after disconnect (" + req.Reason + ")") })
			}
			continue
		}
		in := inbound{req: &req, conn: c, read: read, ended: c.done}
		if s.obs != nil {
			in.conn = timedAcker{acker: c, read: read, kind: req.Type, obs: s.obs}
		}
		if ackFirst(&req) {
			if err := in.conn.ack(ctx, req.EnvelopeID, nil); err != nil {
				// The connection is gone: Slack shows the user an error for
				// this envelope, so its work is not done behind their back.
				c.log.WarnContext(ctx, "slack ack not sent", "envelope_id", req.EnvelopeID, "type", req.Type, "err", err)
				return
			}
			// Acked: it must reach its lane. The receiver reads out until
			// every reader has returned (Bot.Run), so this send ends.
			in.acked = true
			out <- in
			continue
		}
		select {
		case out <- in:
		case <-c.done:
			return
		}
	}
}

// event parses in's payload into the event slack-go's client would emit;
// a payload it cannot parse becomes an event of the envelope's own type
// with the raw request, which is acked and routed all the same.
func (in inbound) event(log *slog.Logger) socketmode.Event {
	evt, err := parseRequest(in.req)
	if err != nil {
		log.Warn("slack socket mode envelope unreadable", "envelope_id", in.req.EnvelopeID, "type", in.req.Type, "err", err)
		evt = socketmode.Event{Type: socketmode.EventType(in.req.Type), Request: in.req}
	}
	return evt
}

// readEndReason says why a read ended, in words for the log.
func readEndReason(err error) string {
	var ce *websocket.CloseError
	switch {
	case errors.As(err, &ce):
		return fmt.Sprintf("closed by slack (code %d %s)", ce.Code, ce.Text)
	case errors.Is(err, websocket.ErrReadLimit):
		return "frame too large"
	}
	var ne interface{ Timeout() bool }
	if errors.As(err, &ne) && ne.Timeout() {
		return "no frame or ping for the read timeout"
	}
	return "read failed: " + err.Error()
}

// parseRequest turns an envelope into the event slack-go's client would
// emit for it. Unknown types become events of their own type, which the
// router acks and otherwise ignores.
func parseRequest(req *socketmode.Request) (socketmode.Event, error) {
	evt := socketmode.Event{Type: socketmode.EventType(req.Type), Request: req}
	switch req.Type {
	case socketmode.RequestTypeEventsAPI:
		e, err := slackevents.ParseEvent(req.Payload, slackevents.OptionNoVerifyToken())
		if err != nil {
			return evt, fmt.Errorf("events api payload: %w", err)
		}
		evt.Type, evt.Data = socketmode.EventTypeEventsAPI, e
	case socketmode.RequestTypeSlashCommands:
		var cmd slack.SlashCommand
		if err := json.Unmarshal(req.Payload, &cmd); err != nil {
			return evt, fmt.Errorf("slash command payload: %w", err)
		}
		evt.Type, evt.Data = socketmode.EventTypeSlashCommand, cmd
	case socketmode.RequestTypeInteractive:
		cb, err := parseInteraction(req.Payload)
		if err != nil {
			return evt, fmt.Errorf("interactive payload: %w", err)
		}
		evt.Type, evt.Data = socketmode.EventTypeInteractive, cb
	}
	return evt, nil
}

// clickedMessage is what a block_actions payload's message is read for:
// the handlers of message buttons use its ts, nothing of its blocks.
type clickedMessage struct {
	Type            string `json:"type"`
	User            string `json:"user"`
	BotID           string `json:"bot_id"`
	Text            string `json:"text"`
	Timestamp       string `json:"ts"`
	ThreadTimestamp string `json:"thread_ts"`
}

// parseInteraction reads an interactive payload as slack-go does, except
// that a block_actions payload's message is read only as clickedMessage:
// decoding the whole message (an alert's blocks) into Block Kit types was
// most of a click's parse.
func parseInteraction(payload json.RawMessage) (slack.InteractionCallback, error) {
	type plain slack.InteractionCallback // without slack-go's UnmarshalJSON
	var cb slack.InteractionCallback
	light := struct {
		*plain
		Message clickedMessage `json:"message"` // shadows plain's
	}{plain: (*plain)(&cb)}
	if err := json.Unmarshal(payload, &light); err != nil {
		return slack.InteractionCallback{}, err
	}
	if cb.Type != slack.InteractionTypeBlockActions {
		// A shortcut quotes its message: read all of it as slack-go does.
		cb = slack.InteractionCallback{}
		err := json.Unmarshal(payload, &cb)
		return cb, err
	}
	m := light.Message
	cb.Message = slack.Message{Msg: slack.Msg{Type: m.Type, User: m.User, BotID: m.BotID, Text: m.Text,
		Timestamp: m.Timestamp, ThreadTimestamp: m.ThreadTimestamp}}
	// As slack-go's InteractionCallback.UnmarshalJSON does for block_actions.
	if len(cb.RawState) > 0 {
		if err := json.Unmarshal(cb.RawState, &cb.BlockActionState); err != nil {
			return slack.InteractionCallback{}, err
		}
	}
	return cb, nil
}
