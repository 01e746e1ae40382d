package fakeslack

import (
	"bytes"
	"encoding/json"
	"time"
)

// Message is a message as it stands in a channel, thread or (for
// ephemerals) one user's view.
type Message struct {
	Channel  string
	TS       string
	ThreadTS string // parent ts for replies; empty for top-level messages
	User     string // author (the bot's user id for bot posts)
	// BotID and AppID name the app that posted the message when it is not
	// this fake's bot (see PostAsBot); empty for people. Username is a
	// classic bot's display name (subtype bot_message).
	BotID, AppID, Username string
	// Subtype is the message subtype ("bot_message" for classic bots).
	Subtype     string
	Text        string
	Blocks      json.RawMessage
	Attachments json.RawMessage // legacy attachments, as posted
	Metadata    json.RawMessage // chat.postMessage "metadata", when sent
	// Edits counts the chat.update calls (and replace_original responses)
	// applied to this message.
	Edits int
	// ReplyCount is how many replies the message's thread has.
	ReplyCount int
	// Ephemeral marks chat.postEphemeral and ephemeral responses, which only
	// Recipient sees and which never appear in Messages or Thread.
	Ephemeral bool
	Recipient string
}

func (m *Message) clone() Message {
	c := *m
	c.Blocks = bytes.Clone(m.Blocks)
	c.Metadata = bytes.Clone(m.Metadata)
	c.Attachments = bytes.Clone(m.Attachments)
	return c
}

// channel is one conversation: its top-level messages in order and the
// replies of each thread, keyed by the parent's ts.
type channel struct {
	id, name string
	top      []*Message
	replies  map[string][]*Message
}

func (c *channel) find(ts string) *Message {
	for _, m := range c.top {
		if m.TS == ts {
			return m
		}
	}
	for _, rs := range c.replies {
		for _, m := range rs {
			if m.TS == ts {
				return m
			}
		}
	}
	return nil
}

// trigger is a trigger_id handed to the app in an envelope. Slack lets the
// app exchange it once, within 3 s, for views.open.
type trigger struct {
	sentAt time.Time
	userID string
	used   bool
}

// state is everything the fake remembers; guarded by Server.mu.
type state struct {
	users      map[string]User
	channels   map[string]*channel
	ephemerals []Message
	responses  []Response
	respURLs   map[string]*responseURL
	views      map[string]*view
	viewOrder  []string
	externals  map[string]string // external_id → view id
	homes      map[string]string // user id → home view id
	triggers   map[string]*trigger
	// suggestions keeps the options the app last offered for an
	// external_select (key: view id + "/" + action_id), because a user can
	// only pick from what block_suggestion returned.
	suggestions map[string][]Option
	calls       []Call
	limits      map[string]rateLimit
	failures    map[string]failure
	envelopes   []*Envelope
	ackLat      []time.Duration
	triggerLat  []time.Duration
}

func newState() state {
	return state{
		users:       map[string]User{},
		channels:    map[string]*channel{},
		respURLs:    map[string]*responseURL{},
		views:       map[string]*view{},
		externals:   map[string]string{},
		homes:       map[string]string{},
		triggers:    map[string]*trigger{},
		suggestions: map[string][]Option{},
		limits:      map[string]rateLimit{},
		failures:    map[string]failure{},
	}
}

// Envelope is one Socket Mode envelope the fake delivered.
type Envelope struct {
	ID      string
	Type    string // interactive, slash_commands or events_api
	Payload json.RawMessage
	SentAt  time.Time
	// Conn is the index of the connection (in order of connecting) that got it.
	Conn int
	// RetryAttempt and RetryReason are set on a redelivered events_api
	// envelope (see Redeliver), 0 and "" on a first delivery.
	RetryAttempt int
	RetryReason  string
	// Acked reports an ack within the ack timeout; Late an ack after it.
	Acked, Late bool
	Ack         Ack
}

// Ack is an app's acknowledgement of an envelope.
type Ack struct {
	EnvelopeID string
	// Payload is the ack's "payload" (a response_action, options for a
	// block_suggestion, or a message for a slash command); nil if none.
	Payload json.RawMessage
	// Latency is the time from sending the envelope to receiving the ack.
	Latency time.Duration
}
