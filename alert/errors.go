package alert

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Sentinel errors. Adapters wrap them (fmt.Errorf("...: %w", ErrX)) so the
// core and the Slack adapter can tell the user what to do with errors.Is.
var (
	// ErrNotFound: no such alert, link, issue or team.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the write clashes with existing data (another creation
	// for the same error is in flight, a duplicate id).
	ErrConflict = errors.New("conflict")
	// ErrInvalid: bad input; the wrapping message names what is wrong.
	ErrInvalid = errors.New("invalid input")

	// ErrUnauthorized: Linear refused the token (HTTP 401, expired or revoked).
	ErrUnauthorized = errors.New("linear token expired or revoked")
	// ErrForbidden: the token lacks a Linear permission (HTTP 403).
	ErrForbidden = errors.New("missing linear permission")
	// ErrInvalidInput: Linear rejected the input (HTTP 400: invalid team or assignee).
	ErrInvalidInput = errors.New("linear rejected the input")
	// ErrRateLimited: Linear said RATELIMITED; try again later.
	ErrRateLimited = errors.New("linear rate limit reached")
	// ErrNotConnected: no Linear credentials are configured.
	ErrNotConnected = errors.New("linear is not connected")
	// ErrUnavailable: Linear could not be reached or failed (5xx, timeout).
	ErrUnavailable = errors.New("linear is unavailable")
	// ErrTooComplex: Linear refused the query as too complex (INPUT_ERROR
	// "Query too complex"); the same request fails again.
	ErrTooComplex = errors.New("linear found the request too complex")
	// ErrPlanLimit: the Linear workspace's plan or its usage limits do not
	// allow this (FEATURE_NOT_ACCESSIBLE, USAGE_LIMIT_EXCEEDED).
	ErrPlanLimit = errors.New("not allowed by the linear plan or its usage limits")
)

// presentable is an error that carries Linear's own words for end users
// (extensions.userPresentableMessage); linear.APIError is one.
type presentable interface{ UserPresentable() string }

// linearWords is Linear's wording for err's user, "" if it sent none.
func linearWords(err error) string {
	var p presentable
	if errors.As(err, &p) {
		return strings.TrimSpace(p.UserPresentable())
	}
	return ""
}

// LabelsRefused reports whether err is Linear refusing an issue's labels or
// project (another team's, or gone), as its own words for users say.
func LabelsRefused(err error) bool {
	if !errors.Is(err, ErrInvalidInput) {
		return false
	}
	w := strings.ToLower(linearWords(err))
	return strings.Contains(w, "label") || strings.Contains(w, "project")
}

// AlreadyLinkedError is returned when a create is asked for an error that is
// already tracked by an issue.
type AlreadyLinkedError struct{ Link IssueLink }

func (e *AlreadyLinkedError) Error() string {
	return fmt.Sprintf("error %s is already tracked by %s", e.Link.ErrorID, e.Link.Identifier)
}

// Is makes errors.Is(err, ErrConflict) true for an AlreadyLinkedError.
func (e *AlreadyLinkedError) Is(target error) bool { return target == ErrConflict }

// TemporaryError marks an error worth retrying, after at least After (zero:
// the caller's own backoff). Slack's 429 Retry-After and Linear's RATELIMITED
// arrive as one of these.
type TemporaryError struct {
	Err   error
	After time.Duration
}

func (e *TemporaryError) Error() string { return e.Err.Error() }
func (e *TemporaryError) Unwrap() error { return e.Err }

// Temporary wraps err as retryable after d.
func Temporary(err error, d time.Duration) error {
	if err == nil {
		return nil
	}
	return &TemporaryError{Err: err, After: d}
}

// PermanentError marks an error no retry can mend (Slack says the channel
// does not exist, a payload cannot be read): the job is buried at once.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent wraps err so the job that returned it is buried without retry.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &PermanentError{Err: err}
}

// PostponedError says a job did not run and should come back after After,
// without counting an attempt: its channel is held, or the job it follows
// has not finished. Its age still bounds it (Dispatcher.MaxAge).
type PostponedError struct {
	Err   error
	After time.Duration
}

func (e *PostponedError) Error() string { return e.Err.Error() }
func (e *PostponedError) Unwrap() error { return e.Err }

// Postpone wraps why a job cannot run yet, and when to look again.
func Postpone(err error, after time.Duration) error {
	if err == nil {
		return nil
	}
	return &PostponedError{Err: err, After: after}
}

// UserMessage turns an error into words for a Slack user: what happened and
// what to do. Internal detail (SQL, HTTP bodies) never reaches it.
func UserMessage(err error) string {
	var linked *AlreadyLinkedError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &linked):
		return fmt.Sprintf("This error is already tracked in Linear as %s (%s).", linked.Link.Identifier, linked.Link.URL)
	case errors.Is(err, ErrOtherWorkspace):
		return "That issue is in another Linear workspace than the one connected here. Paste a link to an issue in your workspace."
	case errors.Is(err, ErrNotConnected):
		return "Linear is not connected. Run `/proliferate-linear connect` (or set LINEAR_API_KEY) and try again."
	case errors.Is(err, ErrUnauthorized):
		return "Linear token expired or revoked: reconnect with `/proliferate-linear connect`."
	case errors.Is(err, ErrForbidden):
		return "Linear refused: the connected account is missing a Linear permission for this. Ask a Linear admin to grant it, or reconnect with an account that has it."
	case errors.Is(err, ErrPlanLimit):
		if w := linearWords(err); w != "" {
			return "Linear refused: " + w
		}
		return "Linear refused: your Linear plan or its usage limits do not allow this. Ask a Linear admin to check the workspace's plan."
	case errors.Is(err, ErrTooComplex):
		return "Linear refused the request as too complex. Please try again; if it keeps failing, tell your Slack admin."
	case LabelsRefused(err):
		// Linear names the label or project it refused.
		return "Linear rejected the issue: " + linearWords(err) + " Pick labels and a project of the issue's team and try again."
	case errors.Is(err, ErrInvalidInput):
		return "Linear rejected the issue: the team or assignee is invalid (perhaps removed or archived). Pick another and try again."
	case errors.Is(err, ErrRateLimited):
		return "Linear's rate limit was reached. Please try again in a few minutes."
	case errors.Is(err, ErrUnavailable):
		return "Linear did not answer in time. Please try again in a moment."
	case errors.Is(err, ErrConflict):
		return "An issue for this error is already being created. Wait a moment and look at the alert's thread."
	case errors.Is(err, ErrNotFound):
		return "That alert or issue no longer exists."
	}
	return "Something went wrong on our side. Please try again; if it keeps failing, tell your Slack admin."
}
