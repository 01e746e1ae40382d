package linear

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/Khan/genqlient/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/proliferate/proliferate-linear/alert"
)

// APIError is a failure Linear reported: an HTTP status other than 200, or
// GraphQL errors[] in the body. It unwraps to the alert sentinel it maps to
// (nil when none applies), so callers use errors.Is(err, alert.ErrX).
//
// Its text is internal detail for logs; messages for users come from
// alert.UserMessage. It never holds request headers, so never the key.
type APIError struct {
	Op         string // GraphQL operation name.
	StatusCode int
	Code       string // extensions.code of the first error, e.g. "INVALID_INPUT".
	Type       string // extensions.type, e.g. "invalid input".
	Message    string // errors[0].message, cut to maxMessage.
	// UserPresentableMessage is Linear's own wording for end users, when it
	// sends one (extensions.userPresentableMessage).
	UserPresentableMessage string
	// Path is the errors[0].path, e.g. "issueCreate".
	Path string
	// Kind is the sentinel this error maps to, or nil.
	Kind error
	// graphql says the body carried GraphQL errors: Linear executed (or at
	// least parsed) the request rather than failing in front of it.
	graphql bool
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "linear %s: HTTP %d", e.Op, e.StatusCode)
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	}
	if e.Path != "" {
		b.WriteString(" at " + e.Path)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.Kind != nil {
		b.WriteString(": " + e.Kind.Error())
	}
	return b.String()
}

// Unwrap returns the sentinel.
func (e *APIError) Unwrap() error { return e.Kind }

// UserPresentable is Linear's own wording for end users, "" if none; the
// core shows it for refusals only Linear can explain (plan limits).
func (e *APIError) UserPresentable() string { return e.UserPresentableMessage }

// maxMessage bounds the text kept from a response: a proxy's 502 page can be
// kilobytes of HTML.
const maxMessage = 300

// maxRetryAfter caps a server-suggested wait: Linear's windows are an hour
// long (https://linear.app/developers/rate-limiting), so anything longer is
// a misread header.
const maxRetryAfter = time.Hour

// classify maps an error from a genqlient call to an error wrapping the
// matching alert sentinel; retryable ones come as *alert.TemporaryError.
func classify(ctx context.Context, op string, err error, m *respMeta, now time.Time) error {
	if err == nil {
		return nil
	}
	status := m.status
	var errs gqlerror.List
	var httpErr *graphql.HTTPError
	switch {
	case errors.As(err, &httpErr):
		status = httpErr.StatusCode
		errs = httpErr.Response.Errors
	case errors.As(err, &errs):
	case errors.Is(err, alert.ErrUnauthorized) || errors.Is(err, alert.ErrNotConnected):
		// The token source refused before any request left (the grant was
		// revoked, or nothing is connected): retrying cannot help, and a
		// retry loop must not mistake it for Linear being down.
		return fmt.Errorf("linear %s: %w", op, err)
	default:
		// No answer we could read: connection refused, timeout, cancelled
		// context, a body that is not JSON. Linear may or may not have run
		// the request; the caller retries (CreateIssue is idempotent by id).
		if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
			err = fmt.Errorf("%w (%w)", err, ctxErr)
		}
		return alert.Temporary(fmt.Errorf("linear %s: %w: %w", op, alert.ErrUnavailable, err), 0)
	}

	e := &APIError{Op: op, StatusCode: status}
	if status == 0 {
		e.StatusCode = http.StatusOK
	}
	if len(errs) > 0 {
		first := errs[0]
		e.Message = cut(first.Message)
		e.Code, e.Type, e.UserPresentableMessage = extensionStrings(first.Extensions)
		e.Path = first.Path.String()
		// A non-JSON body reaches us as a single synthetic error whose
		// message is the body; only real GraphQL errors have a shape.
		e.graphql = !(httpErr != nil && len(errs) == 1 && first.Extensions == nil && first.Path == nil && first.Locations == nil)
	}
	code := normalizeKind(e.Code)
	typ := normalizeKind(e.Type)
	msg := strings.ToLower(e.Message)

	switch {
	case code == "ratelimited" || typ == "ratelimited" || status == http.StatusTooManyRequests:
		e.Kind = alert.ErrRateLimited
		return alert.Temporary(e, retryAfter(m.header, now))
	case code == "authenticationerror" || typ == "authenticationerror" || status == http.StatusUnauthorized:
		e.Kind = alert.ErrUnauthorized
	case code == "forbidden" || typ == "forbidden" || status == http.StatusForbidden:
		e.Kind = alert.ErrForbidden
	case code == "featurenotaccessible" || typ == "featurenotaccessible" ||
		code == "usagelimitexceeded" || typ == "usagelimitexceeded":
		e.Kind = alert.ErrPlanLimit
	case status >= 500 || code == "internalerror" || typ == "internalerror" || typ == "locktimeout":
		e.Kind = alert.ErrUnavailable
		return alert.Temporary(e, retryAfter(m.header, now))
	case code == "invalidinput" || code == "inputerror" || typ == "invalidinput" || code == "baduserinput" ||
		strings.HasPrefix(msg, "argument validation error") || strings.HasPrefix(msg, "entity not found"):
		e.Kind = inputErrorKind(msg)
	}
	return e
}

// normalizeKind folds Linear's code and type spellings ("INPUT_ERROR",
// "invalid input", "FeatureNotAccessible") to one form: lower case,
// without spaces, underscores or hyphens.
func normalizeKind(s string) string {
	return strings.NewReplacer(" ", "", "_", "", "-", "").Replace(strings.ToLower(s))
}

// inputErrorKind reads an INPUT_ERROR by its message, since Linear uses
// that one code for several refusals: "Query too complex" (the request,
// not the user's input), "Entity not found: Issue" (no such issue), and
// the rest, such as "Entity not found: Team" or an argument validation
// error, which say the team, assignee or other input is invalid.
func inputErrorKind(msg string) error {
	switch {
	case strings.HasPrefix(msg, "query too complex"):
		return alert.ErrTooComplex
	case strings.HasPrefix(msg, "entity not found"):
		entity := strings.TrimSpace(strings.TrimPrefix(msg, "entity not found"))
		entity = strings.TrimSpace(strings.TrimPrefix(entity, ":"))
		if entity == "issue" || entity == "attachment" || entity == "comment" {
			return alert.ErrNotFound
		}
	}
	return alert.ErrInvalidInput
}

// extensionStrings reads Linear's error extensions: code (e.g.
// "INVALID_INPUT"), type (e.g. "invalid input") and userPresentableMessage.
func extensionStrings(ext map[string]any) (code, typ, userMsg string) {
	s := func(k string) string {
		v, _ := ext[k].(string)
		return v
	}
	return s("code"), s("type"), cut(s("userPresentableMessage"))
}

func cut(s string) string {
	s = strings.TrimSpace(s)
	if len(s) <= maxMessage {
		return s
	}
	r := []rune(s)
	if len(r) > maxMessage {
		r = r[:maxMessage]
	}
	return string(r) + "…"
}

// retryAfter is how long Linear asks us to wait, from Retry-After (seconds
// or an HTTP date) or Linear's X-RateLimit-{Requests,Complexity}-Reset
// (UTC epoch milliseconds, https://linear.app/developers/rate-limiting),
// whichever is later. Zero when no header says.
func retryAfter(h http.Header, now time.Time) time.Duration {
	if h == nil {
		return 0
	}
	var d time.Duration
	if v := strings.TrimSpace(h.Get("Retry-After")); v != "" {
		if secs, err := strconv.ParseInt(v, 10, 64); err == nil && secs > 0 {
			d = max(d, time.Duration(secs)*time.Second)
		} else if t, err := http.ParseTime(v); err == nil {
			d = max(d, t.Sub(now))
		}
	}
	// The requests budget applies unless its remaining count says it is
	// not the exhausted one; the complexity budget only when it is at zero.
	if rem := h.Get("X-RateLimit-Requests-Remaining"); rem == "" || rem == "0" {
		d = max(d, untilEpoch(h.Get("X-RateLimit-Requests-Reset"), now))
	}
	if h.Get("X-RateLimit-Complexity-Remaining") == "0" {
		d = max(d, untilEpoch(h.Get("X-RateLimit-Complexity-Reset"), now))
	}
	return min(max(d, 0), maxRetryAfter)
}

// untilEpoch reads an epoch timestamp in milliseconds (Linear's unit) or,
// for values too small to be milliseconds, seconds.
func untilEpoch(v string, now time.Time) time.Duration {
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || n <= 0 {
		return 0
	}
	var t time.Time
	if n >= 1e12 {
		t = time.UnixMilli(n)
	} else {
		t = time.Unix(n, 0)
	}
	return t.Sub(now)
}
