package fakeslack

import (
	"bytes"
	"encoding/json"
	"io"
	"math"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Call is one Web API request as the fake received it.
type Call struct {
	Method string
	At     time.Time
	// Params holds the form fields and query parameters (the token removed).
	Params url.Values
	// JSON is the request body when it was sent as application/json.
	JSON json.RawMessage
	// Status is the HTTP status answered (200, or 429 when rate limited).
	Status int
	// Error is Slack's error code when the answer had "ok": false.
	Error string
}

// apiRequest is a parsed Web API request: form fields or a JSON object, read
// through one accessor because Slack accepts both encodings for most methods.
type apiRequest struct {
	method string
	form   url.Values
	body   map[string]json.RawMessage
	raw    []byte
	token  string
}

// str returns a parameter as a string: a form field, a JSON string, or the
// literal text of another JSON scalar.
func (r *apiRequest) str(key string) string {
	if v, ok := r.body[key]; ok {
		var s string
		if json.Unmarshal(v, &s) == nil {
			return s
		}
		if string(v) == "null" {
			return ""
		}
		return string(v)
	}
	return r.form.Get(key)
}

// has reports whether the parameter was sent at all.
func (r *apiRequest) has(key string) bool {
	if _, ok := r.body[key]; ok {
		return true
	}
	_, ok := r.form[key]
	return ok
}

// jsonParam returns a parameter holding JSON (blocks, view, metadata). Slack
// accepts it as a JSON-encoded string in forms, and as either a nested value
// or a JSON-encoded string in JSON bodies.
func (r *apiRequest) jsonParam(key string) json.RawMessage {
	if v, ok := r.body[key]; ok {
		var s string
		if json.Unmarshal(v, &s) == nil {
			return json.RawMessage(s)
		}
		return v
	}
	if s := r.form.Get(key); s != "" {
		return json.RawMessage(s)
	}
	return nil
}

// apiHandler serves one Web API method. It returns the JSON object to send;
// "ok" is added by the caller from whether errCode is empty. It runs with
// s.mu held, so that the call is recorded in the same critical section as
// its effects: whoever sees a view, message or connection it made also
// finds the call (with its final Status and Error) in Calls.
type apiHandler func(r *apiRequest) (resp map[string]any, errCode string)

// tokenKind says which token a method takes.
type tokenKind int

const (
	botToken tokenKind = iota
	appToken
)

type apiMethod struct {
	token tokenKind
	fn    apiHandler
}

func (s *Server) methods() map[string]apiMethod {
	return map[string]apiMethod{
		"auth.test":             {botToken, s.authTest},
		"apps.connections.open": {appToken, s.connectionsOpen},
		"chat.postMessage":      {botToken, s.chatPostMessage},
		"chat.update":           {botToken, s.chatUpdate},
		"chat.postEphemeral":    {botToken, s.chatPostEphemeral},
		"chat.getPermalink":     {botToken, s.chatGetPermalink},
		"views.open":            {botToken, s.viewsOpen},
		"views.update":          {botToken, s.viewsUpdate},
		"views.publish":         {botToken, s.viewsPublish},
		"users.info":            {botToken, s.usersInfo},
		"conversations.info":    {botToken, s.conversationsInfo},
		"conversations.history": {botToken, s.conversationsHistory},
		"conversations.replies": {botToken, s.conversationsReplies},
	}
}

// handleAPI routes "/<method>" to the method's handler after the checks
// Slack makes in front of every method: known method, rate limit, token.
func (s *Server) handleAPI(w http.ResponseWriter, hr *http.Request) {
	name := strings.TrimPrefix(hr.URL.Path, "/")
	name = strings.TrimPrefix(name, "api/")
	req, err := parseAPIRequest(hr, name)
	call := Call{Method: name, At: time.Now(), Params: redactToken(req.form), JSON: redactJSON(req.raw, req.body)}
	if err != nil {
		s.finish(w, &call, http.StatusOK, map[string]any{"error": "invalid_form_data"}, "invalid_form_data")
		return
	}
	m, ok := s.methods()[name]
	if !ok {
		s.finish(w, &call, http.StatusOK, map[string]any{}, "unknown_method")
		return
	}
	if wait, limited := s.takeRateLimit(name); limited {
		// Slack answers 429 with Retry-After in whole seconds; slack-go
		// turns that into *slack.RateLimitedError.
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
		s.finish(w, &call, http.StatusTooManyRequests, map[string]any{}, "ratelimited")
		return
	}
	if code := s.checkToken(req.token, m.token); code != "" {
		s.finish(w, &call, http.StatusOK, map[string]any{}, code)
		return
	}
	if code, failed := s.takeFailure(name); failed {
		resp := map[string]any{}
		if code == "missing_scope" {
			// Slack names the scopes the method needs and those the
			// token has (https://docs.slack.dev/reference/methods).
			resp["needed"], resp["provided"] = methodScopes[name], ProvidedScopes
		}
		s.finish(w, &call, http.StatusOK, resp, code)
		return
	}
	s.mu.Lock()
	resp, code := m.fn(req)
	if resp == nil {
		resp = map[string]any{}
	}
	s.record(&call, http.StatusOK, resp, code)
	s.mu.Unlock()
	s.answer(w, &call, resp)
}

// checkToken applies Slack's token rules: no token is not_authed, an
// unknown one invalid_auth, a known one of the wrong kind (bot token on
// apps.connections.open, app token elsewhere) not_allowed_token_type.
func (s *Server) checkToken(tok string, want tokenKind) string {
	switch {
	case tok == "":
		return "not_authed"
	case tok != s.opts.BotToken && tok != s.opts.AppToken:
		return "invalid_auth"
	case want == botToken && tok != s.opts.BotToken, want == appToken && tok != s.opts.AppToken:
		return "not_allowed_token_type"
	}
	return ""
}

// finish records a call refused before its method ran and writes the answer.
func (s *Server) finish(w http.ResponseWriter, call *Call, status int, resp map[string]any, code string) {
	s.mu.Lock()
	s.record(call, status, resp, code)
	s.mu.Unlock()
	s.answer(w, call, resp)
}

// record completes the answer's "ok" and "error" and appends the call.
// Callers hold s.mu.
func (s *Server) record(call *Call, status int, resp map[string]any, code string) {
	resp["ok"] = code == ""
	if code != "" {
		resp["error"] = code
	}
	call.Status, call.Error = status, code
	s.st.calls = append(s.st.calls, *call)
}

// answer writes the recorded call's answer.
func (s *Server) answer(w http.ResponseWriter, call *Call, resp map[string]any) {
	if call.Error != "" {
		s.log.Debug("api error", "method", call.Method, "error", call.Error, "status", call.Status)
	}
	writeJSON(w, call.Status, resp)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// parseAPIRequest reads the token and parameters from the query string and
// a form or JSON body, the encodings slack-go and Slack's docs use.
func parseAPIRequest(hr *http.Request, name string) (*apiRequest, error) {
	req := &apiRequest{method: name, form: url.Values{}}
	if auth := hr.Header.Get("Authorization"); strings.HasPrefix(auth, "Bearer ") {
		req.token = strings.TrimPrefix(auth, "Bearer ")
	}
	for k, v := range hr.URL.Query() {
		req.form[k] = v
	}
	body, err := io.ReadAll(io.LimitReader(hr.Body, 4<<20))
	if err != nil {
		return req, err
	}
	ctype, _, _ := mime.ParseMediaType(hr.Header.Get("Content-Type"))
	switch {
	case ctype == "application/json":
		req.raw = body
		if len(bytes.TrimSpace(body)) > 0 {
			if err := json.Unmarshal(body, &req.body); err != nil {
				return req, err
			}
		}
	case len(body) > 0:
		vals, err := url.ParseQuery(string(body))
		if err != nil {
			return req, err
		}
		for k, v := range vals {
			req.form[k] = append(req.form[k], v...)
		}
	}
	if req.token == "" {
		req.token = req.form.Get("token")
	}
	return req, nil
}

// redactToken copies form values without the token, so recorded calls can
// be logged or printed safely.
func redactToken(v url.Values) url.Values {
	out := url.Values{}
	for k, vals := range v {
		if k != "token" {
			out[k] = append([]string(nil), vals...)
		}
	}
	return out
}

func redactJSON(raw []byte, body map[string]json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return nil
	}
	if _, ok := body["token"]; !ok {
		return bytes.Clone(raw)
	}
	cp := make(map[string]json.RawMessage, len(body))
	for k, v := range body {
		if k != "token" {
			cp[k] = v
		}
	}
	b, _ := json.Marshal(cp)
	return b
}

// RateLimit makes the next n calls of method answer HTTP 429 with a
// Retry-After of retryAfter (rounded up to whole seconds, as Slack sends).
func (s *Server) RateLimit(method string, n int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.limits[method] = rateLimit{left: n, after: retryAfter}
}

func (s *Server) takeRateLimit(method string) (time.Duration, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rl, ok := s.st.limits[method]
	if !ok || rl.left <= 0 {
		return 0, false
	}
	rl.left--
	s.st.limits[method] = rl
	return rl.after, true
}

// ProvidedScopes is what a missing_scope answer reports the bot token
// has: the manifest's scopes without the history ones, as an app installed
// before they were added.
const ProvidedScopes = "chat:write,chat:write.public,commands,users:read"

// methodScopes is what a missing_scope answer reports a method needs, in
// Slack's words: any one of them will do.
var methodScopes = map[string]string{
	"chat.postMessage":      "chat:write",
	"chat.update":           "chat:write",
	"chat.postEphemeral":    "chat:write",
	"conversations.history": "channels:history,groups:history,mpim:history,im:history",
	"conversations.replies": "channels:history,groups:history,mpim:history,im:history",
	"users.info":            "users:read",
}

// FailNext makes the next n calls of method answer {"ok":false,"error":
// code} without doing anything, for errors the fake does not produce by
// itself. A missing_scope answer carries Slack's needed and provided.
func (s *Server) FailNext(method string, n int, code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.failures[method] = failure{left: n, code: code}
}

func (s *Server) takeFailure(method string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.st.failures[method]
	if !ok || f.left <= 0 {
		return "", false
	}
	f.left--
	s.st.failures[method] = f
	return f.code, true
}

type failure struct {
	left int
	code string
}

type rateLimit struct {
	left  int
	after time.Duration
}
