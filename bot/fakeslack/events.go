package fakeslack

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// This file is the Events API side of the fake: event_callback envelopes
// (https://api.slack.com/apis/events-api#callback-field), messages posted
// by other apps and people, and message shortcuts.

// Event delivers an Events API event (the inner "event" object, such as
// {"type":"app_mention",...}) wrapped in an event_callback envelope with a
// fresh event_id, and waits for the ack. Redeliver the returned envelope to
// have Slack retry it (same event_id, retry_attempt set).
func (s *Server) Event(ctx context.Context, event any) (Ack, error) {
	s.mu.Lock()
	p := s.eventCallback(event)
	s.mu.Unlock()
	return s.deliver(ctx, "events_api", p, "", "", nil)
}

// eventCallback wraps an inner event as Slack's outer event_callback.
// Callers hold s.mu.
func (s *Server) eventCallback(event any) map[string]any {
	return map[string]any{
		"token": verificationToken, "team_id": s.opts.TeamID, "api_app_id": appID,
		"event": event, "type": "event_callback", "event_id": s.clock.next("Ev"),
		"event_time": time.Now().Unix(), "event_context": s.clock.next("EC"),
		"authorizations": []any{map[string]any{"enterprise_id": nil, "team_id": s.opts.TeamID,
			"user_id": s.opts.BotUserID, "is_bot": true, "is_enterprise_install": false}},
		"is_ext_shared_channel": false,
	}
}

// EventID is the event_id an events_api envelope carried ("" for others).
func (e Envelope) EventID() string {
	var p struct {
		EventID string `json:"event_id"`
	}
	_ = json.Unmarshal(e.Payload, &p)
	return p.EventID
}

// Bot is another app that posts into channels, such as Proliferate's own
// Slack integration.
type Bot struct {
	BotID string // B…
	AppID string // A…; empty for a classic bot (then Classic is implied)
	// UserID is the bot user's id (U…); modern apps' messages carry it.
	UserID string
	Name   string
	// Classic posts as a legacy bot: subtype bot_message, username, no
	// bot_profile.
	Classic bool
}

// Post is what another app or a person posts: text, and optionally blocks
// and legacy attachments as JSON arrays.
type Post struct {
	Text        string
	Blocks      json.RawMessage
	Attachments json.RawMessage
	// ThreadTS makes the post a reply in that thread.
	ThreadTS string
}

// PostAsBot posts p into channel as bot (stored in the channel's history,
// where chat.getPermalink and replies find it) and delivers the message
// event Slack sends to an app subscribed to message.channels. It returns
// the message's ts and the event's ack.
func (s *Server) PostAsBot(ctx context.Context, channel string, bot Bot, p Post) (string, Ack, error) {
	m := &Message{Channel: channel, User: bot.UserID, BotID: bot.BotID, AppID: bot.AppID, Text: p.Text,
		Blocks: p.Blocks, Attachments: p.Attachments}
	if bot.Classic || bot.AppID == "" {
		m.Subtype, m.Username, m.User = "bot_message", bot.Name, ""
	} else {
		m.Username = bot.Name
	}
	return s.postAndDeliver(ctx, channel, m, p.ThreadTS)
}

// PostAsUser posts text into channel as a person and delivers its message
// event, shaped as Slack sends a message typed in the client
// (client_msg_id, a rich_text block).
func (s *Server) PostAsUser(ctx context.Context, userID, channel string, p Post) (string, Ack, error) {
	s.mu.Lock()
	_, err := s.user(userID)
	s.mu.Unlock()
	if err != nil {
		return "", Ack{}, err
	}
	m := &Message{Channel: channel, User: userID, Text: p.Text, Blocks: p.Blocks, Attachments: p.Attachments}
	if m.Blocks == nil {
		m.Blocks, _ = json.Marshal([]any{map[string]any{"type": "rich_text", "block_id": "rt", "elements": []any{
			map[string]any{"type": "rich_text_section", "elements": []any{map[string]any{"type": "text", "text": p.Text}}},
		}}})
	}
	return s.postAndDeliver(ctx, channel, m, p.ThreadTS)
}

func (s *Server) postAndDeliver(ctx context.Context, channel string, m *Message, threadTS string) (string, Ack, error) {
	s.mu.Lock()
	ch, ok := s.st.channels[channel]
	if !ok {
		s.mu.Unlock()
		return "", Ack{}, fmt.Errorf("%w: channel %q (call AddChannel)", ErrNotFound, channel)
	}
	m.TS = s.clock.ts()
	if threadTS != "" {
		parent := ch.find(threadTS)
		if parent == nil {
			s.mu.Unlock()
			return "", Ack{}, fmt.Errorf("%w: thread %s/%s", ErrNotFound, channel, threadTS)
		}
		m.ThreadTS = parent.TS
		ch.replies[parent.TS] = append(ch.replies[parent.TS], m)
		parent.ReplyCount++
	} else {
		ch.top = append(ch.top, m)
	}
	ev := s.messageEvent(ch, m)
	p := s.eventCallback(ev)
	s.mu.Unlock()
	ack, err := s.deliver(ctx, "events_api", p, "", "", nil)
	return m.TS, ack, err
}

// messageEvent is the inner event of message.channels / message.groups:
// the message as Slack stores it plus channel, channel_type and event_ts.
// Callers hold s.mu.
func (s *Server) messageEvent(ch *channel, m *Message) map[string]any {
	ev := s.messageJSON(m)
	ev["channel"] = ch.id
	ev["event_ts"] = m.TS
	ev["channel_type"] = "channel"
	if strings.HasPrefix(ch.id, "G") {
		ev["channel_type"] = "group"
	}
	if m.User != "" && m.BotID == "" && m.User != s.opts.BotUserID {
		ev["client_msg_id"] = s.clock.next("cmid-")
	}
	return ev
}

// MessageShortcut runs the message shortcut callbackID on the message ts
// of channel, as a user choosing it from the message's "More actions"
// menu: a message_action payload with a trigger_id and a response_url
// (https://api.slack.com/reference/interaction-payloads/shortcuts#message_actions).
func (s *Server) MessageShortcut(ctx context.Context, userID, channel, ts, callbackID string) (Ack, error) {
	s.mu.Lock()
	u, err := s.user(userID)
	ch := s.st.channels[channel]
	var m *Message
	if ch != nil {
		m = ch.find(ts)
	}
	if err == nil && m == nil {
		err = fmt.Errorf("%w: message %s/%s", ErrNotFound, channel, ts)
	}
	if err != nil {
		s.mu.Unlock()
		return Ack{}, err
	}
	p, trig := s.interactionBase("message_action", u, true)
	now := time.Now()
	p["callback_id"] = callbackID
	p["action_ts"] = fmt.Sprintf("%d.%06d", now.Unix(), now.Nanosecond()/1000)
	p["channel"] = map[string]any{"id": ch.id, "name": ch.name}
	p["message_ts"] = m.TS
	p["message"] = s.messageJSON(m)
	p["response_url"] = s.newResponseURL(ch.id, m.TS, userID)
	s.mu.Unlock()
	return s.deliver(ctx, "interactive", p, trig, userID, nil)
}

// EchoOwnMessages makes the fake deliver the message event of every
// chat.postMessage the bot makes, as Slack does to an app subscribed to
// message.channels: the bot must recognise its own messages and ignore
// them. Events go out in order, one at a time, after the post's answer,
// so a bot that waits for one never blocks the post. Off by default, since
// most tests count envelopes.
func (s *Server) EchoOwnMessages() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.echo != nil {
		return
	}
	s.echo = make(chan map[string]any, 1024)
	echo := s.echo
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			select {
			case <-s.ctx.Done():
				return
			case p := <-echo:
				if _, err := s.deliver(s.ctx, "events_api", p, "", "", nil); err != nil && s.ctx.Err() == nil {
					s.log.Warn("echo of the bot's message not acked", "err", err)
				}
			}
		}
	}()
}

// echoMessage queues the message event of the bot's post m when echoing
// is on. Callers hold s.mu.
func (s *Server) echoMessage(ch *channel, m *Message) {
	if s.echo == nil {
		return
	}
	select {
	case s.echo <- s.eventCallback(s.messageEvent(ch, m)):
	default:
		s.log.Warn("echo queue full: a message event of the bot's own post is dropped", "channel", ch.id, "ts", m.TS)
	}
}

// BotUserID is the bot's user id, the author of the messages it posts.
func (s *Server) BotUserID() string { return s.opts.BotUserID }

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
