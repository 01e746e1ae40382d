package fakeslack

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// maxMessageText is chat.postMessage's limit on text; Slack answers
// msg_too_long past it. https://api.slack.com/methods/chat.postMessage#truncating
const maxMessageText = 40000

func (s *Server) authTest(*apiRequest) (map[string]any, string) {
	return map[string]any{
		"url": "https://" + teamDomain + ".slack.com/", "team": "Fake Workspace",
		"user": "proliferate-linear", "team_id": s.opts.TeamID,
		"user_id": s.opts.BotUserID, "bot_id": botID, "is_enterprise_install": false,
	}, ""
}

// content is the text, blocks and metadata of a post or update, parsed and
// checked against Slack's limits.
type content struct {
	text      string
	blocks    json.RawMessage
	hasBlocks bool
	metadata  json.RawMessage
	problems  []string
}

// messageContent is readContent with the error body a chat method answers:
// the limit breaches for invalid_blocks, nothing for the other codes.
func (s *Server) messageContent(r *apiRequest) (content, map[string]any, string) {
	c, code := s.readContent(r)
	if code == "invalid_blocks" {
		return c, blockProblems(c), code
	}
	return c, nil, code
}

// readContent parses and validates a message body. The error code is
// Slack's: invalid_blocks_format for unparseable blocks, invalid_blocks
// (with response_metadata.messages) for limit breaches, msg_too_long for text.
// Callers hold s.mu.
func (s *Server) readContent(r *apiRequest) (content, string) {
	c := content{text: r.str("text"), metadata: r.jsonParam("metadata")}
	if utf8.RuneCountInString(c.text) > maxMessageText {
		return c, "msg_too_long"
	}
	raw := r.jsonParam("blocks")
	if raw == nil {
		return c, ""
	}
	blocks, err := decodeBlocks(raw)
	if err != nil {
		return c, "invalid_blocks_format"
	}
	c.hasBlocks = true
	if c.problems = validateBlocks(blocks, maxMessageBlocks, "/blocks"); len(c.problems) > 0 {
		return c, "invalid_blocks"
	}
	if BlockText(blocks) > maxMessageBlockText {
		// Each block may be within its own limits and the message still
		// too long: Slack answers this code, with no detail.
		return c, "msg_blocks_too_long"
	}
	s.clock.normalizeBlocks(blocks)
	c.blocks, _ = json.Marshal(blocks)
	return c, ""
}

func blockProblems(c content) map[string]any {
	return map[string]any{"response_metadata": map[string]any{"messages": c.problems}}
}

// channelFor resolves a channel argument, opening a DM when given a user id
// as Slack does. Callers hold s.mu.
func (s *Server) channelFor(id string) *channel {
	if ch, ok := s.st.channels[id]; ok {
		return ch
	}
	if _, ok := s.st.users[id]; ok {
		dm := "D" + strings.TrimLeft(id, "UW")
		ch, ok := s.st.channels[dm]
		if !ok {
			ch = &channel{id: dm, replies: map[string][]*Message{}}
			s.st.channels[dm] = ch
		}
		return ch
	}
	return nil
}

func (s *Server) chatPostMessage(r *apiRequest) (map[string]any, string) {
	c, problems, code := s.messageContent(r)
	if code != "" {
		return problems, code
	}
	if c.text == "" && !c.hasBlocks && r.str("attachments") == "" {
		return nil, "no_text"
	}
	ch := s.channelFor(r.str("channel"))
	if ch == nil {
		return nil, "channel_not_found"
	}
	m := &Message{Channel: ch.id, User: s.opts.BotUserID, Text: c.text, Blocks: c.blocks, Metadata: c.metadata}
	if parent := r.str("thread_ts"); parent != "" {
		p := ch.find(parent)
		if p == nil {
			// Real Slack accepts a dangling thread_ts and the reply is lost
			// from view; failing loudly is kinder to tests.
			return nil, "thread_not_found"
		}
		if p.ThreadTS != "" {
			p = ch.find(p.ThreadTS)
		}
		m.ThreadTS = p.TS
		m.TS = s.clock.ts()
		ch.replies[p.TS] = append(ch.replies[p.TS], m)
		p.ReplyCount++
	} else {
		m.TS = s.clock.ts()
		ch.top = append(ch.top, m)
	}
	s.echoMessage(ch, m)
	return map[string]any{"channel": ch.id, "ts": m.TS, "message": s.messageJSON(m)}, ""
}

func (s *Server) chatUpdate(r *apiRequest) (map[string]any, string) {
	c, problems, code := s.messageContent(r)
	if code != "" {
		return problems, code
	}
	ch := s.channelFor(r.str("channel"))
	if ch == nil {
		return nil, "channel_not_found"
	}
	m := ch.find(r.str("ts"))
	if m == nil {
		return nil, "message_not_found"
	}
	// chat.update keeps fields that are not sent: "If you don't include
	// blocks, the message's previous blocks will be retained."
	if r.has("text") {
		m.Text = c.text
	}
	if c.hasBlocks {
		m.Blocks = c.blocks
	}
	if c.metadata != nil {
		m.Metadata = c.metadata
	}
	if m.Text == "" && len(m.Blocks) == 0 {
		return nil, "no_text"
	}
	m.Edits++
	return map[string]any{"channel": ch.id, "ts": m.TS, "text": m.Text, "message": s.messageJSON(m)}, ""
}

func (s *Server) chatPostEphemeral(r *apiRequest) (map[string]any, string) {
	c, problems, code := s.messageContent(r)
	if code != "" {
		return problems, code
	}
	if c.text == "" && !c.hasBlocks {
		return nil, "no_text"
	}
	ch := s.channelFor(r.str("channel"))
	if ch == nil {
		return nil, "channel_not_found"
	}
	user := r.str("user")
	if _, ok := s.st.users[user]; !ok {
		return nil, "user_not_in_channel"
	}
	m := Message{Channel: ch.id, TS: s.clock.ts(), ThreadTS: r.str("thread_ts"), User: s.opts.BotUserID,
		Text: c.text, Blocks: c.blocks, Ephemeral: true, Recipient: user}
	s.st.ephemerals = append(s.st.ephemerals, m)
	return map[string]any{"message_ts": m.TS}, ""
}

func (s *Server) chatGetPermalink(r *apiRequest) (map[string]any, string) {
	ch := s.channelFor(r.str("channel"))
	if ch == nil {
		return nil, "channel_not_found"
	}
	m := ch.find(r.str("message_ts"))
	if m == nil {
		return nil, "message_not_found"
	}
	return map[string]any{"channel": ch.id, "permalink": permalink(ch.id, m)}, ""
}

// permalink has Slack's shape: the ts without its dot after "p", and the
// thread for replies.
func permalink(channel string, m *Message) string {
	link := fmt.Sprintf("https://%s.slack.com/archives/%s/p%s", teamDomain, channel, strings.Replace(m.TS, ".", "", 1))
	if m.ThreadTS != "" {
		link += fmt.Sprintf("?thread_ts=%s&cid=%s", m.ThreadTS, channel)
	}
	return link
}

// messageJSON is a message as Slack returns it in API answers and in the
// "message" of block_actions payloads. Callers hold s.mu.
func (s *Server) messageJSON(m *Message) map[string]any {
	out := map[string]any{"type": "message", "text": m.Text, "ts": m.TS, "team": s.opts.TeamID}
	if m.User != "" {
		out["user"] = m.User
	}
	bot, app := m.BotID, m.AppID
	if m.User == s.opts.BotUserID && bot == "" {
		bot, app = botID, appID // the fake's own bot posted it.
	}
	if bot != "" {
		out["bot_id"] = bot
		if app != "" {
			out["app_id"] = app
			out["bot_profile"] = map[string]any{"id": bot, "app_id": app, "name": or(m.Username, "app"), "deleted": false, "team_id": s.opts.TeamID}
		}
	}
	if m.Subtype != "" {
		out["subtype"] = m.Subtype
	}
	if m.Username != "" {
		out["username"] = m.Username
	}
	if len(m.Attachments) > 0 {
		out["attachments"] = json.RawMessage(bytes.Clone(m.Attachments))
	}
	if len(m.Blocks) > 0 {
		out["blocks"] = json.RawMessage(bytes.Clone(m.Blocks))
	}
	if m.ThreadTS != "" {
		out["thread_ts"] = m.ThreadTS
	}
	if m.ReplyCount > 0 {
		out["thread_ts"] = m.TS
		out["reply_count"] = m.ReplyCount
	}
	if len(m.Metadata) > 0 {
		out["metadata"] = json.RawMessage(bytes.Clone(m.Metadata))
	}
	return out
}

func (s *Server) usersInfo(r *apiRequest) (map[string]any, string) {
	u, ok := s.st.users[r.str("user")]
	if !ok {
		return nil, "user_not_found"
	}
	real := u.RealName
	if real == "" {
		real = u.Name
	}
	return map[string]any{"user": map[string]any{
		"id": u.ID, "team_id": s.opts.TeamID, "name": u.Name, "real_name": real,
		"deleted": false, "is_admin": u.IsAdmin, "is_owner": u.IsOwner, "is_bot": false,
		"profile": map[string]any{"real_name": real, "display_name": u.Name, "email": u.Email,
			"image_72": "https://avatars.slack-edge.example/" + u.ID + "_72.png"},
	}}, ""
}

func (s *Server) conversationsInfo(r *apiRequest) (map[string]any, string) {
	ch, ok := s.st.channels[r.str("channel")]
	if !ok {
		return nil, "channel_not_found"
	}
	im := strings.HasPrefix(ch.id, "D")
	return map[string]any{"channel": map[string]any{
		"id": ch.id, "name": ch.name, "is_channel": !im, "is_im": im,
		"is_private": false, "is_member": true, "is_archived": false,
	}}, ""
}
