package fakelinear

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator"
)

// rateLimitWindow is how far ahead a RateLimited answer puts the reset.
const rateLimitWindow = 30 * time.Second

type gqlRequest struct {
	Query         string         `json:"query"`
	Variables     map[string]any `json:"variables"`
	OperationName string         `json:"operationName"`
}

type gqlResponse struct {
	Data   any           `json:"data"`
	Errors gqlerror.List `json:"errors,omitempty"`
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	for n := s.inFlight.Add(1); ; {
		p := s.peak.Load()
		if n <= p || s.peak.CompareAndSwap(p, n) {
			break
		}
	}
	defer s.inFlight.Add(-1)
	if s.refuseIfDown(w) {
		return
	}
	s.mu.Lock()
	latency, gate := s.latency, s.gate
	s.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-r.Context().Done():
			return
		}
	}
	if latency > 0 {
		select {
		case <-time.After(latency):
		case <-r.Context().Done():
			return
		}
	}
	if r.Method != http.MethodPost {
		writeErr(w, http.StatusMethodNotAllowed, nil, "Only POST is supported", "graphql error", "BAD_REQUEST", true)
		return
	}
	var req gqlRequest
	dec := json.NewDecoder(r.Body)
	dec.UseNumber()
	if err := dec.Decode(&req); err != nil || req.Query == "" {
		writeErr(w, http.StatusBadRequest, nil, "Must provide query string.", "graphql error", "BAD_REQUEST", true)
		return
	}
	auth := s.authenticate(r.Header.Get("Authorization"))
	s.mu.Lock()
	s.requests = append(s.requests, Request{
		OperationName: req.OperationName, Query: req.Query, Variables: req.Variables, Auth: auth, At: s.now(),
	})
	s.mu.Unlock()
	s.rateLimitHeaders(w.Header(), false)

	if auth != "api-key" && auth != "bearer" {
		// Linear answers bad or missing credentials with HTTP 400 and an
		// AUTHENTICATION_ERROR; FailNext(Unauthorized) gives the 401 variant.
		writeErr(w, http.StatusBadRequest, nil, "Authentication required, not authenticated",
			"authentication error", "AUTHENTICATION_ERROR", true,
			"You need to authenticate to access this operation.")
		return
	}
	if kind, raw, ok := s.takeFailure(req.OperationName); ok {
		if raw != nil {
			for k, v := range raw.Header {
				w.Header()[k] = v
			}
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.WriteHeader(raw.Status)
			_, _ = w.Write(raw.Body)
			return
		}
		s.writeFailure(w, kind)
		return
	}

	doc, perr := parser.ParseQuery(&ast.Source{Input: req.Query})
	if perr != nil {
		writeGraphQLErrors(w, http.StatusBadRequest, gqlerror.List{withExt(gqlerror.Wrap(perr), "graphql error", "GRAPHQL_PARSE_FAILED")})
		return
	}
	if errs := validator.Validate(s.schema, doc); len(errs) > 0 {
		for _, e := range errs {
			withExt(e, "graphql error", "GRAPHQL_VALIDATION_FAILED")
		}
		writeGraphQLErrors(w, http.StatusBadRequest, errs)
		return
	}
	op := doc.Operations.ForName(req.OperationName)
	if op == nil {
		writeErr(w, http.StatusBadRequest, nil, "Unknown operation named \""+req.OperationName+"\".", "graphql error", "GRAPHQL_VALIDATION_FAILED", true)
		return
	}
	vars, verr := validator.VariableValues(s.schema, op, req.Variables)
	if verr != nil {
		writeGraphQLErrors(w, http.StatusBadRequest, gqlerror.List{withExt(gqlerror.Wrap(verr), "graphql error", "BAD_USER_INPUT")})
		return
	}

	data, errs := s.execute(op, vars)
	if held := s.takeHold(req.OperationName); held != nil {
		// Executed (a mutation is committed); the answer waits, as one on
		// its way back when the client's process dies.
		select {
		case <-held:
		case <-r.Context().Done():
			return
		}
	}
	if s.takeLoss(req.OperationName) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		_, _ = w.Write([]byte("<html><body><h1>502 Bad Gateway</h1></body></html>"))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(gqlResponse{Data: data, Errors: errs})
}

// authenticate says how a request authenticated; it never returns the
// credential, which must not reach Requests().
func (s *Server) authenticate(h string) string {
	h = strings.TrimSpace(h)
	switch {
	case h == "":
		return ""
	case h == APIKey:
		return "api-key"
	case strings.HasPrefix(h, "Bearer "):
		s.mu.Lock()
		ok := s.tokens[strings.TrimPrefix(h, "Bearer ")]
		s.mu.Unlock()
		if ok {
			return "bearer"
		}
	}
	return "invalid"
}

func (s *Server) takeFailure(op string) (FailKind, *RawAnswer, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.fails {
		f := &s.fails[i]
		if f.n > 0 && (f.op == "" || f.op == op) {
			f.n--
			return f.kind, f.raw, true
		}
	}
	return "", nil, false
}

func (s *Server) takeHold(op string) chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.holds[op]
	delete(s.holds, op)
	return ch
}

func (s *Server) takeLoss(op string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lose[op] > 0 {
		s.lose[op]--
		return true
	}
	return false
}

// rateLimitHeaders sets Linear's X-RateLimit-* headers
// (https://linear.app/developers/rate-limiting): reset times are UTC epoch
// milliseconds.
func (s *Server) rateLimitHeaders(h http.Header, exhausted bool) {
	reset := strconv.FormatInt(s.now().Add(rateLimitWindow).UnixMilli(), 10)
	remaining := "4999"
	if exhausted {
		remaining = "0"
	}
	h.Set("X-RateLimit-Requests-Limit", "5000")
	h.Set("X-RateLimit-Requests-Remaining", remaining)
	h.Set("X-RateLimit-Requests-Reset", reset)
	h.Set("X-RateLimit-Complexity-Limit", "3000000")
	h.Set("X-RateLimit-Complexity-Remaining", "2999000")
	h.Set("X-RateLimit-Complexity-Reset", reset)
}

func (s *Server) writeFailure(w http.ResponseWriter, kind FailKind) {
	switch kind {
	case Unauthorized:
		writeErr(w, http.StatusUnauthorized, nil, "Authentication required, not authenticated",
			"authentication error", "AUTHENTICATION_ERROR", true, "Your access token has expired or been revoked.")
	case Forbidden:
		writeErr(w, http.StatusForbidden, nil, "Forbidden", "forbidden", "FORBIDDEN", true,
			"You don't have permission to perform this action.")
	case InvalidInput:
		writeErr(w, http.StatusBadRequest, nil, "Argument Validation Error", "invalid input", "INVALID_INPUT", true,
			"The input is invalid.")
	case RateLimited:
		s.rateLimitHeaders(w.Header(), true)
		writeErr(w, http.StatusBadRequest, nil, "Rate limit exceeded", "ratelimited", "RATELIMITED", true,
			"You have exceeded the rate limit. Please try again later.")
	default:
		writeErr(w, http.StatusInternalServerError, nil, "Internal server error", "internal error", "INTERNAL_ERROR", false)
	}
}

// linearError builds an error in Linear's shape: extensions carry type,
// code, userError and, when given, userPresentableMessage.
func linearError(path ast.Path, msg, typ, code string, userError bool, userMsg ...string) *gqlerror.Error {
	ext := map[string]any{"type": typ, "code": code, "userError": userError}
	if len(userMsg) > 0 {
		ext["userPresentableMessage"] = userMsg[0]
	}
	return &gqlerror.Error{Message: msg, Path: path, Extensions: ext}
}

func withExt(e *gqlerror.Error, typ, code string) *gqlerror.Error {
	if e.Extensions == nil {
		e.Extensions = map[string]any{}
	}
	e.Extensions["type"] = typ
	e.Extensions["code"] = code
	e.Extensions["userError"] = true
	return e
}

func writeErr(w http.ResponseWriter, status int, path ast.Path, msg, typ, code string, userError bool, userMsg ...string) {
	writeGraphQLErrors(w, status, gqlerror.List{linearError(path, msg, typ, code, userError, userMsg...)})
}

func writeGraphQLErrors(w http.ResponseWriter, status int, errs gqlerror.List) {
	var buf bytes.Buffer
	_ = json.NewEncoder(&buf).Encode(gqlResponse{Errors: errs})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
