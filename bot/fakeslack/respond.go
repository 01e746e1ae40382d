package fakeslack

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"time"
)

// response_url limits: "use it up to five times within thirty minutes".
// https://api.slack.com/interactivity/handling#message_responses
const (
	maxResponseUses = 5
	responseURLTTL  = 30 * time.Minute
)

// Response is one message sent to a response_url, or carried in a slash
// command's ack.
type Response struct {
	// URL is the response_url used; empty for a slash command ack.
	URL          string
	At           time.Time
	Channel      string
	User         string // the user whose action produced the response_url
	ResponseType string // "ephemeral" (Slack's default) or "in_channel"
	// ReplaceOriginal and DeleteOriginal act on the message whose button
	// produced the response_url.
	ReplaceOriginal bool
	DeleteOriginal  bool
	Text            string
	Blocks          json.RawMessage
	ThreadTS        string
}

// responseURL is where a response_url points: the conversation, the user,
// and for message actions the message it may replace.
type responseURL struct {
	channel, messageTS, userID string
	uses                       int
	created                    time.Time
}

// newResponseURL mints a response_url. Callers hold s.mu.
func (s *Server) newResponseURL(channel, messageTS, userID string) string {
	id := randHex(12)
	s.st.respURLs[id] = &responseURL{channel: channel, messageTS: messageTS, userID: userID, created: time.Now()}
	return s.URL() + "_response/" + id
}

// responseBody is what apps POST to a response_url (and put in a slash
// command's ack).
type responseBody struct {
	Text            string          `json:"text"`
	Blocks          json.RawMessage `json:"blocks"`
	ResponseType    string          `json:"response_type"`
	ReplaceOriginal json.RawMessage `json:"replace_original"`
	DeleteOriginal  json.RawMessage `json:"delete_original"`
	ThreadTS        string          `json:"thread_ts"`
}

// truthy reads Slack's loosely typed booleans: true or "true".
func truthy(raw json.RawMessage) bool {
	s := strings.Trim(string(raw), `"`)
	return s == "true"
}

func (s *Server) handleResponseURL(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimPrefix(r.URL.Path, "/_response/")
	body, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	if err != nil || r.Method != http.MethodPost {
		writeJSON(w, http.StatusBadRequest, map[string]any{"ok": false, "error": "invalid_request"})
		return
	}
	var rb responseBody
	if err := json.Unmarshal(body, &rb); err != nil {
		writeJSON(w, http.StatusOK, map[string]any{"ok": false, "error": "invalid_payload"})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ru, ok := s.st.respURLs[id]
	switch {
	case !ok:
		writeJSON(w, http.StatusNotFound, map[string]any{"ok": false, "error": "no_such_url"})
		return
	case ru.uses >= maxResponseUses, time.Since(ru.created) > responseURLTTL:
		writeJSON(w, http.StatusNotFound, map[string]any{"ok": false, "error": "expired_url"})
		return
	}
	ru.uses++
	resp, code := s.applyResponse(ru, rb, s.URL()+"_response/"+id)
	resp["ok"] = code == ""
	if code != "" {
		resp["error"] = code
	}
	writeJSON(w, http.StatusOK, resp)
}

// applyResponse shows a response message as Slack would: replacing or
// deleting the original message, posting in the channel, or showing it to
// the user alone. Callers hold s.mu.
func (s *Server) applyResponse(ru *responseURL, rb responseBody, rawURL string) (map[string]any, string) {
	rec := Response{URL: rawURL, At: time.Now(), Channel: ru.channel, User: ru.userID,
		ResponseType: rb.ResponseType, ReplaceOriginal: truthy(rb.ReplaceOriginal),
		DeleteOriginal: truthy(rb.DeleteOriginal), Text: rb.Text, ThreadTS: rb.ThreadTS}
	if rec.ResponseType == "" {
		rec.ResponseType = "ephemeral"
	}
	if len(rb.Blocks) > 0 && string(rb.Blocks) != "null" {
		blocks, err := decodeBlocks(rb.Blocks)
		if err != nil {
			return map[string]any{}, "invalid_blocks_format"
		}
		if problems := validateBlocks(blocks, maxMessageBlocks, "/blocks"); len(problems) > 0 {
			return map[string]any{"response_metadata": map[string]any{"messages": problems}}, "invalid_blocks"
		}
		s.clock.normalizeBlocks(blocks)
		rec.Blocks, _ = json.Marshal(blocks)
	}
	s.st.responses = append(s.st.responses, rec)
	ch := s.st.channels[ru.channel]
	var orig *Message
	if ch != nil && ru.messageTS != "" {
		orig = ch.find(ru.messageTS)
	}
	switch {
	case rec.DeleteOriginal && orig != nil:
		s.deleteMessage(ch, orig)
	case rec.ReplaceOriginal && orig != nil:
		orig.Text, orig.Blocks = rec.Text, rec.Blocks
		orig.Edits++
	case rec.ResponseType == "in_channel" && ch != nil:
		m := &Message{Channel: ch.id, TS: s.clock.ts(), User: s.opts.BotUserID, Text: rec.Text, Blocks: rec.Blocks}
		if p := ch.find(rec.ThreadTS); p != nil && p.ThreadTS == "" {
			m.ThreadTS = p.TS
			ch.replies[p.TS] = append(ch.replies[p.TS], m)
			p.ReplyCount++
		} else {
			ch.top = append(ch.top, m)
		}
	default:
		s.st.ephemerals = append(s.st.ephemerals, Message{Channel: ru.channel, TS: s.clock.ts(),
			ThreadTS: rec.ThreadTS, User: s.opts.BotUserID, Text: rec.Text, Blocks: rec.Blocks,
			Ephemeral: true, Recipient: ru.userID})
	}
	return map[string]any{}, ""
}

func (s *Server) deleteMessage(ch *channel, m *Message) {
	remove := func(list []*Message) []*Message {
		out := list[:0]
		for _, x := range list {
			if x != m {
				out = append(out, x)
			}
		}
		return out
	}
	if m.ThreadTS == "" {
		ch.top = remove(ch.top)
		delete(ch.replies, m.TS)
		return
	}
	ch.replies[m.ThreadTS] = remove(ch.replies[m.ThreadTS])
	if p := ch.find(m.ThreadTS); p != nil {
		p.ReplyCount--
	}
}
