package httpapi

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"
)

// writeJSON answers status with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	setJSONHeaders(w.Header())
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client may be gone; nothing to do.
}

// The values of every JSON answer's headers, shared: a Header's values
// are replaced (Set) or appended to (Add), never written in place.
var (
	jsonContentType = []string{"application/json"}
	noSniff         = []string{"nosniff"}
	noStore         = []string{"no-store"}
)

// setJSONHeaders sets a JSON answer's headers: its type, no sniffing, no
// caching.
func setJSONHeaders(h http.Header) {
	h["Content-Type"] = jsonContentType
	h["X-Content-Type-Options"] = noSniff
	h["Cache-Control"] = noStore
}

// errorBody is every error answer: a message for people and a stable code
// for programs, which should branch on the code, never on the message.
type errorBody struct {
	Error string `json:"error"`
	Code  string `json:"code"`
}

// writeError answers status with {"error": msg, "code": ...}, the code
// being the generic one for status.
func writeError(w http.ResponseWriter, status int, msg string) {
	writeErrorCode(w, status, statusCode(status), msg)
}

// writeErrorCode answers status with {"error": msg, "code": code}.
func writeErrorCode(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, errorBody{Error: msg, Code: code})
}

// statusCode is the generic error code of an HTTP status.
func statusCode(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "bad_request"
	case http.StatusUnauthorized:
		return "unauthorized"
	case http.StatusNotFound:
		return "not_found"
	case http.StatusMethodNotAllowed:
		return "method_not_allowed"
	case http.StatusRequestEntityTooLarge:
		return "too_large"
	case http.StatusServiceUnavailable:
		return "unavailable"
	}
	if status >= 500 {
		return "internal"
	}
	return "error"
}

// recorder remembers the status and size of a response for the log and
// for panic recovery, and holds what the handler adds to the request's
// log line (logAttrs). logRequests makes one per request; recoverPanics,
// inside it, uses the same.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
	attrs  []slog.Attr
	buf    [4]slog.Attr // attrs' first storage: an accepted alert's four.
}

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the real writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// recorderOf is the recorder under w (logRequests'), nil if none.
func recorderOf(w http.ResponseWriter) *recorder {
	for {
		switch u := w.(type) {
		case *recorder:
			return u
		case interface{ Unwrap() http.ResponseWriter }:
			w = u.Unwrap()
		default:
			return nil
		}
	}
}

// logAttrs adds attrs to the log line of the request w answers (see
// logRequests): an accepted alert's ids go there rather than on a line of
// their own. Outside a logged request it does nothing.
func logAttrs(w http.ResponseWriter, attrs ...slog.Attr) {
	if rec := recorderOf(w); rec != nil {
		if rec.attrs == nil {
			rec.attrs = rec.buf[:0]
		}
		rec.attrs = append(rec.attrs, attrs...)
	}
}

// logRequests logs one line per request: method, path, status, duration,
// size, and what the handler added (logAttrs). The query string is left
// out (an OAuth callback carries its code there) and so are bodies and
// headers (signatures, tokens).
func logRequests(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &recorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		status := rec.status
		if status == 0 {
			status = http.StatusOK
		}
		level := slog.LevelInfo
		switch {
		case status >= 500:
			level = slog.LevelError
		case r.URL.Path == "/healthz" || r.URL.Path == "/readyz":
			level = slog.LevelDebug // probes every few seconds would drown the log.
		}
		if !log.Enabled(r.Context(), level) {
			return
		}
		var line [9]slog.Attr
		log.LogAttrs(r.Context(), level, "http request", append(append(line[:0],
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", status),
			slog.Duration("duration", time.Since(start)),
			slog.Int64("bytes", rec.bytes),
		), rec.attrs...)...)
	})
}

// recoverPanics turns a handler panic into a logged error and a 500, so one
// bad request neither kills the process nor leaves the client guessing.
// http.ErrAbortHandler is passed on: it is net/http's deliberate abort.
func recoverPanics(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec, ok := w.(*recorder) // logRequests' own, usually.
		if !ok {
			rec = &recorder{ResponseWriter: w}
		}
		defer func() {
			p := recover()
			if p == nil {
				return
			}
			if p == http.ErrAbortHandler {
				panic(p)
			}
			log.ErrorContext(r.Context(), "handler panic", "method", r.Method, "path", r.URL.Path,
				"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			if rec.status == 0 {
				writeError(rec, http.StatusInternalServerError, "internal error")
			}
		}()
		next.ServeHTTP(rec, r)
	})
}
