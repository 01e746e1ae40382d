package storetest

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// sessionProxy stands between the tests and PostgreSQL for the pooled
// schemas and keeps the server sessions that clients hang up on, to hand
// them to the next client that starts one with the same parameters.
//
// A new PostgreSQL session is a process start: on the 2-core test machine
// about 30 ms of the server's CPU before its first query, and its catalog
// caches start cold. The tests open and close stores (each a pool of
// sessions) hundreds of times a run, in the test process and in the bot
// processes it starts, so those starts were a third of the server's CPU
// in `go test ./...`. The proxy speaks just enough of the protocol
// (https://www.postgresql.org/docs/current/protocol-flow.html) to do this:
//
//   - A client's startup message is read and its parameters (user,
//     database, search_path, application_name, ...) are the session's key.
//     A parked session with that key is handed over by replaying what its
//     server said after authenticating (parameter statuses, the backend's
//     cancel key, ReadyForQuery); otherwise a new server session is
//     started and the authentication relayed message by message.
//   - Then messages are copied both ways, whole, until the client sends
//     Terminate. A session whose client left idle (ReadyForQuery said so)
//     gets DISCARD ALL, which drops what a session can carry over
//     (prepared statements, advisory locks, temporary tables, LISTENs,
//     settings since the start), and is parked. A client that vanishes,
//     or leaves inside a transaction, takes its server session with it,
//     as it would without the proxy: the server rolls it back.
//   - Cancel requests are passed to the server as they are: the cancel key
//     a client holds is its server session's own.
//
// Only the schema pool uses it (schemaURL): its tests' sessions all carry
// the schema in their parameters, which is how release knows when no
// session of a test is left on its schema (inUse).
type sessionProxy struct {
	ln       net.Listener
	upstream string // host:port of the server

	mu    sync.Mutex
	idle  []*serverSession // parked, most recently last
	inUse map[string]int   // sessions lent to clients, by search_path
}

// maxParked bounds the sessions a proxy keeps: two test binaries run at
// once, and the server allows 100 connections by default.
const maxParked = 24

// serverSession is one server connection.
type serverSession struct {
	conn     net.Conn
	r        *bufio.Reader
	key      string // its startup parameters, sorted
	schema   string // its search_path
	greeting []byte // the server's messages from AuthenticationOk to ReadyForQuery
}

// Protocol codes of the startup phase.
const (
	protocolV3     = 3 << 16
	sslRequest     = 80877103
	gssEncRequest  = 80877104
	cancelRequest  = 80877102
	maxStartupSize = 10000
)

var (
	proxies struct {
		sync.Mutex
		m map[string]*sessionProxy
	}
	errNotIdle = errors.New("client left outside an idle session")
)

// proxyFor returns the process's proxy to the server at host:port,
// starting it the first time.
func proxyFor(upstream string) (*sessionProxy, error) {
	proxies.Lock()
	defer proxies.Unlock()
	if p, ok := proxies.m[upstream]; ok {
		return p, nil
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &sessionProxy{ln: ln, upstream: upstream, inUse: map[string]int{}}
	go p.accept()
	if proxies.m == nil {
		proxies.m = map[string]*sessionProxy{}
	}
	proxies.m[upstream] = p
	return p, nil
}

// addr is the proxy's host:port.
func (p *sessionProxy) addr() string { return p.ln.Addr().String() }

// inUseOn is how many sessions on schema clients hold now.
func (p *sessionProxy) inUseOn(schema string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.inUse[schema]
}

// forget closes the parked sessions on schema (it is being dropped).
func (p *sessionProxy) forget(schema string) {
	p.mu.Lock()
	var keep, drop []*serverSession
	for _, s := range p.idle {
		if s.schema == schema {
			drop = append(drop, s)
		} else {
			keep = append(keep, s)
		}
	}
	p.idle = keep
	p.mu.Unlock()
	for _, s := range drop {
		_ = s.conn.Close()
	}
}

func (p *sessionProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return // the listener lives as long as the process.
		}
		go p.serve(c)
	}
}

// serve runs one client connection.
func (p *sessionProxy) serve(client net.Conn) {
	defer client.Close()
	cr := bufio.NewReader(client)
	raw, params, err := readStartup(client, cr)
	if err != nil || raw == nil {
		return
	}
	if code := binary.BigEndian.Uint32(raw[4:8]); code == cancelRequest {
		p.passCancel(raw)
		return
	}
	key, schema := sessionKey(params)
	p.mu.Lock()
	p.inUse[schema]++
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		if p.inUse[schema]--; p.inUse[schema] == 0 {
			delete(p.inUse, schema)
		}
		p.mu.Unlock()
	}()
	s := p.unpark(key)
	if s != nil {
		if _, err := client.Write(s.greeting); err != nil {
			_ = s.conn.Close()
			return
		}
	} else if s, err = p.start(raw, key, schema, client, cr); err != nil {
		return
	}
	if err := relay(client, cr, s); err != nil {
		_ = s.conn.Close()
		return
	}
	if err := s.discard(); err != nil {
		_ = s.conn.Close()
		return
	}
	p.park(s)
}

// readStartup reads the client's startup message, turning down SSL and
// GSS encryption (the client then goes on in the clear, as sslmode
// prefer does, or gives up). It returns the raw message and, for a
// protocol 3 startup, its parameters; nil raw when the client left.
func readStartup(client net.Conn, cr *bufio.Reader) ([]byte, map[string]string, error) {
	for {
		var head [8]byte
		if _, err := io.ReadFull(cr, head[:]); err != nil {
			return nil, nil, nil
		}
		n := binary.BigEndian.Uint32(head[:4])
		if n < 8 || n > maxStartupSize {
			return nil, nil, fmt.Errorf("startup message of %d bytes", n)
		}
		raw := make([]byte, n)
		copy(raw, head[:])
		if _, err := io.ReadFull(cr, raw[8:]); err != nil {
			return nil, nil, nil
		}
		switch binary.BigEndian.Uint32(head[4:]) {
		case sslRequest, gssEncRequest:
			if _, err := client.Write([]byte{'N'}); err != nil {
				return nil, nil, err
			}
			continue
		case cancelRequest:
			return raw, nil, nil
		case protocolV3:
			params := map[string]string{}
			fields := strings.Split(string(raw[8:]), "\x00")
			for i := 0; i+1 < len(fields); i += 2 {
				if fields[i] == "" {
					break
				}
				params[fields[i]] = fields[i+1]
			}
			return raw, params, nil
		default:
			return nil, nil, fmt.Errorf("startup protocol %d", binary.BigEndian.Uint32(head[4:]))
		}
	}
}

// sessionKey is params in a fixed order (clients send them in any), and
// the schema the session is on.
func sessionKey(params map[string]string) (key, schema string) {
	names := make([]string, 0, len(params))
	for k := range params {
		names = append(names, k)
	}
	slices.Sort(names)
	var b strings.Builder
	for _, k := range names {
		b.WriteString(k + "=" + params[k] + "\x00")
	}
	return b.String(), params["search_path"]
}

// passCancel forwards a cancel request to the server.
func (p *sessionProxy) passCancel(raw []byte) {
	up, err := net.DialTimeout("tcp", p.upstream, 5*time.Second)
	if err != nil {
		return
	}
	defer up.Close()
	_, _ = up.Write(raw)
	// The server answers a cancel request by closing the connection.
	_, _ = io.Copy(io.Discard, up)
}

// unpark takes the most recently parked session with key.
func (p *sessionProxy) unpark(key string) *serverSession {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := len(p.idle) - 1; i >= 0; i-- {
		if s := p.idle[i]; s.key == key {
			p.idle = slices.Delete(p.idle, i, i+1)
			return s
		}
	}
	return nil
}

// park keeps s for the next client with its key, closing the longest
// parked session when there are too many.
func (p *sessionProxy) park(s *serverSession) {
	p.mu.Lock()
	p.idle = append(p.idle, s)
	var evicted *serverSession
	if len(p.idle) > maxParked {
		evicted = p.idle[0]
		p.idle = slices.Delete(p.idle, 0, 1)
	}
	p.mu.Unlock()
	if evicted != nil {
		_ = evicted.conn.Close()
	}
}

// start opens a server session for a client: it sends the client's
// startup message and relays the authentication exchange (trust, password
// or SCRAM) until the server is ready for queries, recording what the
// server says once the client is authenticated.
func (p *sessionProxy) start(raw []byte, key, schema string, client net.Conn, cr *bufio.Reader) (*serverSession, error) {
	up, err := net.DialTimeout("tcp", p.upstream, 10*time.Second)
	if err != nil {
		return nil, err
	}
	s := &serverSession{conn: up, r: bufio.NewReader(up), key: key, schema: schema}
	fail := func(err error) (*serverSession, error) {
		_ = up.Close()
		return nil, err
	}
	if _, err := up.Write(raw); err != nil {
		return fail(err)
	}
	var greeting bytes.Buffer
	authed := false
	for {
		msg, err := readMessage(s.r)
		if err != nil {
			return fail(err)
		}
		if _, err := client.Write(msg); err != nil {
			return fail(err)
		}
		switch msg[0] {
		case 'E':
			return fail(errors.New("server refused the session"))
		case 'R':
			switch code := binary.BigEndian.Uint32(msg[5:9]); code {
			case 0: // AuthenticationOk
				authed = true
				greeting.Write(msg)
			case 12: // AuthenticationSASLFinal: no answer expected
			default: // a request the client answers with one message
				answer, err := readMessage(cr)
				if err != nil {
					return fail(err)
				}
				if _, err := up.Write(answer); err != nil {
					return fail(err)
				}
			}
		case 'Z':
			greeting.Write(msg)
			s.greeting = greeting.Bytes()
			return s, nil
		case 'N': // a notice is for this client only
		default: // ParameterStatus, BackendKeyData
			if authed {
				greeting.Write(msg)
			}
		}
	}
}

// readMessage reads one whole message: its type byte, length and body.
func readMessage(r *bufio.Reader) ([]byte, error) {
	head, err := r.Peek(5)
	if err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(head[1:5])
	if n < 4 || n > 1<<30 {
		return nil, fmt.Errorf("message %q of %d bytes", head[0], n)
	}
	msg := make([]byte, 1+n)
	if _, err := io.ReadFull(r, msg); err != nil {
		return nil, err
	}
	return msg, nil
}

// relay copies messages between client and s until the client sends
// Terminate (nil: s is at rest and idle, and can be reused) or either side
// fails (s must be closed).
func relay(client net.Conn, cr *bufio.Reader, s *serverSession) error {
	type downResult struct {
		err    error
		status byte // the last ReadyForQuery's transaction status
		rest   bool // stopped between two messages
	}
	down := make(chan downResult, 1)
	var stopping atomic.Bool // set once the client has said goodbye
	go func() {
		w := bufio.NewWriter(client)
		status := byte('I')
		for {
			if _, err := s.r.Peek(1); err != nil {
				if !stopping.Load() {
					// The server side ended (the server or the test
					// ended the session): the client must see its
					// connection end too, not wait for an answer.
					_ = client.Close()
				}
				down <- downResult{err: err, status: status, rest: s.r.Buffered() == 0}
				return
			}
			msg, err := readMessage(s.r)
			if err == nil {
				if msg[0] == 'Z' && len(msg) == 6 {
					status = msg[5]
				}
				_, err = w.Write(msg)
			}
			if err == nil && s.r.Buffered() == 0 {
				err = w.Flush()
			}
			if err != nil {
				_ = client.Close()
				down <- downResult{err: err, status: status}
				return
			}
		}
	}()
	w := bufio.NewWriter(s.conn)
	var upErr error
	for {
		msg, err := readMessage(cr)
		if err != nil {
			upErr = err
			break
		}
		if msg[0] == 'X' {
			break
		}
		if _, err = w.Write(msg); err == nil && cr.Buffered() == 0 {
			err = w.Flush()
		}
		if err != nil {
			upErr = err
			break
		}
	}
	if upErr == nil {
		upErr = w.Flush()
	}
	if upErr != nil {
		_ = s.conn.Close()
		<-down
		return upErr
	}
	// The client has said goodbye after its last answer: stop copying
	// at the next message boundary, where the server is waiting.
	stopping.Store(true)
	_ = s.conn.SetReadDeadline(time.Now())
	res := <-down
	_ = s.conn.SetReadDeadline(time.Time{})
	var ne net.Error
	if !res.rest || !errors.As(res.err, &ne) || !ne.Timeout() {
		return fmt.Errorf("server side: %v", res.err)
	}
	if res.status != 'I' {
		return errNotIdle
	}
	return nil
}

// discard makes s as a new session with its parameters (DISCARD ALL) and
// reads the answer.
func (s *serverSession) discard() error {
	const q = "DISCARD ALL\x00"
	msg := make([]byte, 5, 5+len(q))
	msg[0] = 'Q'
	binary.BigEndian.PutUint32(msg[1:], uint32(4+len(q)))
	msg = append(msg, q...)
	_ = s.conn.SetDeadline(time.Now().Add(10 * time.Second))
	defer s.conn.SetDeadline(time.Time{})
	if _, err := s.conn.Write(msg); err != nil {
		return err
	}
	failed := false
	for {
		m, err := readMessage(s.r)
		if err != nil {
			return err
		}
		switch m[0] {
		case 'E':
			failed = true
		case 'Z':
			if failed || len(m) != 6 || m[5] != 'I' {
				return errors.New("DISCARD ALL failed")
			}
			return nil
		}
	}
}
