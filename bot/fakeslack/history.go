package fakeslack

import (
	"strconv"
)

// History pages are bounded as Slack bounds them: limit defaults to 100 and
// at most 999 messages come back per call
// (https://api.slack.com/methods/conversations.history).
const (
	defaultHistoryLimit = 100
	maxHistoryLimit     = 999
)

// conversationsHistory serves a channel's top-level messages newest first,
// between oldest and latest (exclusive unless inclusive is set), a page of
// limit at a time with has_more and response_metadata.next_cursor.
// Message metadata is only returned with include_all_metadata, as Slack does.
func (s *Server) conversationsHistory(r *apiRequest) (map[string]any, string) {
	ch, ok := s.st.channels[r.str("channel")]
	if !ok {
		return nil, "channel_not_found"
	}
	var in []*Message
	for i := len(ch.top) - 1; i >= 0; i-- { // newest first
		if inRange(r, ch.top[i].TS) {
			in = append(in, ch.top[i])
		}
	}
	return s.page(r, in)
}

// conversationsReplies serves a thread: the parent first, then its replies
// oldest first, as Slack does, paged like conversations.history.
func (s *Server) conversationsReplies(r *apiRequest) (map[string]any, string) {
	ch, ok := s.st.channels[r.str("channel")]
	if !ok {
		return nil, "channel_not_found"
	}
	parent := ch.find(r.str("ts"))
	if parent == nil {
		return nil, "thread_not_found"
	}
	if parent.ThreadTS != "" {
		parent = ch.find(parent.ThreadTS)
	}
	var in []*Message
	for _, m := range append([]*Message{parent}, ch.replies[parent.TS]...) {
		if m == parent || inRange(r, m.TS) {
			in = append(in, m)
		}
	}
	return s.page(r, in)
}

// inRange reports whether ts lies within the request's oldest and latest.
func inRange(r *apiRequest, ts string) bool {
	t, _ := strconv.ParseFloat(ts, 64)
	incl := boolParam(r.str("inclusive"))
	if o := r.str("oldest"); o != "" {
		ov, _ := strconv.ParseFloat(o, 64)
		if t < ov || (t == ov && !incl) {
			return false
		}
	}
	if l := r.str("latest"); l != "" {
		lv, _ := strconv.ParseFloat(l, 64)
		if t > lv || (t == lv && !incl) {
			return false
		}
	}
	return true
}

// page cuts msgs at the request's cursor (an offset, opaque to the app) and
// limit. Callers hold s.mu.
func (s *Server) page(r *apiRequest, msgs []*Message) (map[string]any, string) {
	limit := defaultHistoryLimit
	if v := r.str("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return nil, "invalid_limit"
		}
		if n > 0 {
			limit = min(n, maxHistoryLimit)
		}
	}
	start := 0
	if c := r.str("cursor"); c != "" {
		n, err := strconv.Atoi(c)
		if err != nil || n < 0 || n > len(msgs) {
			return nil, "invalid_cursor"
		}
		start = n
	}
	end := min(start+limit, len(msgs))
	withMeta := boolParam(r.str("include_all_metadata"))
	out := make([]map[string]any, 0, end-start)
	for _, m := range msgs[start:end] {
		j := s.messageJSON(m)
		if !withMeta {
			delete(j, "metadata")
		}
		out = append(out, j)
	}
	resp := map[string]any{"messages": out, "has_more": end < len(msgs)}
	next := ""
	if end < len(msgs) {
		next = strconv.Itoa(end)
	}
	resp["response_metadata"] = map[string]any{"next_cursor": next}
	return resp, ""
}

// boolParam reads Slack's boolean parameters ("1", "true").
func boolParam(v string) bool { return v == "1" || v == "true" }
