// Package fakeslack is an in-process Slack server for tests, end-to-end runs
// and the demo command. The real slack-go client (with slack.OptionAPIURL)
// and its socketmode client run against it unchanged: it speaks the Web API
// over HTTP and Socket Mode over a websocket, applies the Block Kit limits
// Slack enforces, and simulates users clicking, selecting, typing and
// submitting, so the bot under test sees payloads shaped like Slack's.
//
// Everything it records is exposed through copy-returning, thread-safe
// accessors (Messages, Views, Calls, ...), and Wait polls a condition.
//
// Wiring, in a test or the demo:
//
//	fs := fakeslack.New(fakeslack.Options{})
//	defer fs.Close()
//	fs.AddChannel("C1", "alerts")
//	fs.AddUser(fakeslack.User{ID: "U1", Name: "ada"})
//	api := slack.New(fakeslack.DefaultBotToken, slack.OptionAPIURL(fs.URL()),
//		slack.OptionAppLevelToken(fakeslack.DefaultAppToken))
//	go socketmode.New(api).RunContext(ctx) // plus the bot's event loop
//	_ = fs.WaitConnections(ctx, 1)
//	ack, err := fs.ClickButton(ctx, "U1", "C1", ts, "create_issue")
//
// Where the fake is stricter than Slack (a thread_ts that names no message
// is refused with thread_not_found) or simpler (no retries of unacked
// envelopes, no views.push method), the doc comment on the method says so.
package fakeslack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// Errors returned by the user simulation methods. They are wrapped with
// detail; test them with errors.Is.
var (
	// ErrNotFound means the message, view, user, block or element named by a
	// simulation call does not exist on the fake.
	ErrNotFound = errors.New("fakeslack: not found")
	// ErrInvalidValue means a value cannot be chosen: an option that is not
	// among the element's options, or an input of the wrong type.
	ErrInvalidValue = errors.New("fakeslack: invalid value")
	// ErrNoAck means the app did not acknowledge an envelope within the ack
	// timeout (Slack allows 3 s, then shows the user an error or retries).
	ErrNoAck = errors.New("fakeslack: envelope not acknowledged in time")
	// ErrRequiredInput means SubmitView was refused because a required input
	// block is empty: Slack's client blocks that submission, so no
	// view_submission is sent.
	ErrRequiredInput = errors.New("fakeslack: required input is empty")
	// ErrBadResponse means the app acknowledged with a response_action
	// payload Slack would reject (unknown action, invalid view).
	ErrBadResponse = errors.New("fakeslack: invalid ack response")
)

// Slack's fixed time limits. See
// https://api.slack.com/interactivity/handling#acknowledgment_response and
// https://api.slack.com/interactivity/handling#modal_responses.
const (
	defaultAckTimeout   = 3 * time.Second
	defaultTriggerTTL   = 3 * time.Second
	defaultPingInterval = 2 * time.Second
)

// Options configures a Server. Zero values take the documented defaults.
type Options struct {
	// BotToken is the xoxb- token the Web API accepts (default "xoxb-fake").
	BotToken string
	// AppToken is the xapp- token apps.connections.open accepts (default "xapp-fake").
	AppToken string
	// TeamID is the workspace id (default "T0001").
	TeamID string
	// BotUserID is the bot's user id, reported by auth.test and used as the
	// author of posted messages (default "U0BOT").
	BotUserID string
	// PingInterval is how often websocket pings go to Socket Mode clients
	// (default 2 s). A socketmode client's OptionPingInterval must exceed it.
	PingInterval time.Duration
	// AckTimeout is how long an envelope may go unacknowledged (default 3 s,
	// Slack's limit). Shorten it only to make timeout tests fast.
	AckTimeout time.Duration
	// TriggerTTL is how long a trigger_id stays valid (default 3 s, Slack's limit).
	TriggerTTL time.Duration
	// Log receives the fake's diagnostics; nil discards them.
	Log *slog.Logger
}

// User is a workspace member known to the fake.
type User struct {
	ID       string
	Name     string
	RealName string
	Email    string
	IsAdmin  bool
	IsOwner  bool
}

// Fixed identities of the fake app, as they appear in payloads.
const (
	appID             = "A0FAKEAPP"
	botID             = "B0FAKEBOT"
	teamDomain        = "fake"
	verificationToken = "fake-verification-token"
)

// Server is the fake Slack. Create it with New and stop it with Close.
type Server struct {
	opts Options
	log  *slog.Logger
	hs   *httptest.Server
	ctx  context.Context
	stop context.CancelFunc
	wg   sync.WaitGroup

	mu    sync.Mutex
	st    state
	sock  sockets
	clock idClock
	// echo, when set, carries the message events of the bot's own posts
	// (see EchoOwnMessages); guarded by mu.
	echo chan map[string]any
}

// New starts a fake Slack listening on a loopback port.
func New(opts Options) *Server {
	if opts.BotToken == "" {
		opts.BotToken = DefaultBotToken
	}
	if opts.AppToken == "" {
		opts.AppToken = DefaultAppToken
	}
	if opts.TeamID == "" {
		opts.TeamID = "T0001"
	}
	if opts.BotUserID == "" {
		opts.BotUserID = "U0BOT"
	}
	if opts.PingInterval <= 0 {
		opts.PingInterval = defaultPingInterval
	}
	if opts.AckTimeout <= 0 {
		opts.AckTimeout = defaultAckTimeout
	}
	if opts.TriggerTTL <= 0 {
		opts.TriggerTTL = defaultTriggerTTL
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{opts: opts, log: log.With("component", "fakeslack")}
	s.ctx, s.stop = context.WithCancel(context.Background())
	s.st = newState()
	s.sock = newSockets()

	mux := http.NewServeMux()
	mux.HandleFunc("/_response/", s.handleResponseURL)
	mux.HandleFunc("/link/", s.handleSocket)
	mux.HandleFunc("/", s.handleAPI)
	s.hs = httptest.NewUnstartedServer(mux)
	s.hs.Listener = rxListener{s.hs.Listener} // acks' arrival times (rxstamp.go)
	s.hs.Start()
	return s
}

// URL is the Web API base URL, ending in "/": pass it to slack.OptionAPIURL.
func (s *Server) URL() string { return s.hs.URL + "/" }

// Close drops every socket, stops background work and the HTTP server.
func (s *Server) Close() {
	s.stop()
	s.closeAllSockets()
	s.wg.Wait()
	s.hs.Close()
}

// AddUser adds or replaces a workspace member.
func (s *Server) AddUser(u User) {
	if u.Name == "" {
		u.Name = strings.ToLower(u.ID)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.users[u.ID] = u
}

// AddChannel adds a public channel the bot is a member of. Posting to a
// channel that was not added fails with channel_not_found, as in Slack.
func (s *Server) AddChannel(id, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.st.channels[id]; !ok {
		s.st.channels[id] = &channel{id: id, name: name, replies: map[string][]*Message{}}
	}
}

// idClock hands out Slack-shaped identifiers. Callers hold Server.mu.
type idClock struct {
	lastMicros int64
	seq        int
}

// ts returns a message timestamp ("1700000000.000100") strictly greater
// than every earlier one, because Slack uses ts as a message's identity
// within a channel.
func (c *idClock) ts() string {
	now := time.Now().UnixMicro()
	if now <= c.lastMicros {
		now = c.lastMicros + 1
	}
	c.lastMicros = now
	return fmt.Sprintf("%d.%06d", now/1e6, now%1e6)
}

// next returns prefix followed by a fresh zero-padded number.
func (c *idClock) next(prefix string) string {
	c.seq++
	return fmt.Sprintf("%s%08d", prefix, c.seq)
}

// randHex returns n random bytes as hex; for trigger ids, hashes and
// response_url ids, which Slack makes unguessable.
func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Default tokens, for wiring a client to a fake created with zero Options.
const (
	DefaultBotToken = "xoxb-fake"
	DefaultAppToken = "xapp-fake"
)
