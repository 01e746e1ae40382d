// Package issueref reads what a person pastes into the "Link existing"
// modal and turns it into a reference to a Linear issue: an identifier
// ("ENG-123"), an issue UUID, or the workspace URL key when it came from a
// link. It does no I/O; the caller looks the reference up in Linear
// (alert.Tracker.Issue takes Ref.Lookup()) and checks the workspace with
// Ref.SameWorkspace.
//
// Everything Parse refuses comes back as an *Error whose Error() is a
// sentence fit to show inline under the modal's input (Slack's
// response_action "errors"), and which matches ErrMalformed or ErrNotLinear
// with errors.Is. The pasted text itself is never echoed back.
package issueref

import (
	"errors"
	"strconv"
	"strings"
	"unicode"
)

// MaxInputLen bounds what Parse looks at, before any other work. A Linear
// issue URL with a long slug is well under 300 bytes; Slack's
// plain_text_input defaults to a 3000-character maximum, so the bound is
// the only thing that keeps a pasted stack trace from being scanned.
const MaxInputLen = 2048

// MaxTeamKeyLen is the longest team key Parse accepts. Linear documents no
// rule for Team.key ("the team's unique key, used as a prefix in issue
// identifiers"); the app is reported to cap new keys at 5-7 characters.
// Parse is generous on purpose: a key that does not exist only costs a
// lookup that answers "not found", while a key that is refused here could
// never be linked at all.
const MaxTeamKeyLen = 10

// maxNumberDigits bounds the issue number (Linear's Issue.number) so that
// Ref.Number always fits an int; no team comes near a billion issues.
const maxNumberDigits = 9

// Sentinel errors, matched with errors.Is on an *Error.
var (
	// ErrMalformed: the input is not a Linear issue URL, identifier or UUID.
	ErrMalformed = errors.New("issueref: not a linear issue reference")
	// ErrNotLinear: the input is a link, but not to linear.app.
	ErrNotLinear = errors.New("issueref: link is not to linear.app")
)

// Messages shown to the user. They name both accepted forms, because the
// person typing usually has the issue open in another window and can copy
// either.
const (
	msgMalformed = "That doesn't look like a Linear issue. Paste its URL (https://linear.app/…/issue/ENG-123) or its identifier (ENG-123)."
	msgEmpty     = "Paste the Linear issue's URL (https://linear.app/…/issue/ENG-123) or its identifier (ENG-123)."
	msgTooLong   = "That's too long to be a Linear issue. Paste its URL (https://linear.app/…/issue/ENG-123) or its identifier (ENG-123)."
	msgNotLinear = "That link isn't to Linear. Paste the issue's Linear URL (https://linear.app/…/issue/ENG-123) or its identifier (ENG-123)."
	msgNotIssue  = "That Linear link isn't to an issue. Open the issue in Linear and copy its URL, or type its identifier (ENG-123)."
)

// Error is a refused input. Error() is the user-facing sentence; Detail
// says what was wrong, for logs and tests, without quoting the input.
type Error struct {
	Kind   error  // ErrMalformed or ErrNotLinear.
	Msg    string // fit to show the user.
	Detail string // internal: which rule refused the input.
}

// Error returns the user-facing message.
func (e *Error) Error() string { return e.Msg }

// Unwrap lets errors.Is match the Kind.
func (e *Error) Unwrap() error { return e.Kind }

func malformed(msg, detail string) *Error {
	return &Error{Kind: ErrMalformed, Msg: msg, Detail: detail}
}

// Ref points at one Linear issue. Exactly one of Identifier and UUID is set.
type Ref struct {
	// Identifier is the issue's human identifier, upper-cased: "ENG-123".
	Identifier string
	// UUID is the issue's id in canonical lower-case 8-4-4-4-12 form.
	UUID string
	// WorkspaceURLKey is the workspace segment of a pasted URL (lower-cased),
	// "" when the input was a bare identifier or UUID.
	WorkspaceURLKey string
}

// Lookup is the string to ask Linear for: issue(id:) accepts either an
// identifier or a UUID.
func (r Ref) Lookup() string {
	if r.Identifier != "" {
		return r.Identifier
	}
	return r.UUID
}

// String is Lookup, so a Ref logs as what it names.
func (r Ref) String() string { return r.Lookup() }

// TeamKey is the team part of the identifier ("ENG"), "" for a UUID.
func (r Ref) TeamKey() string {
	key, _, _ := strings.Cut(r.Identifier, "-")
	return key
}

// Number is the issue number of the identifier (123), 0 for a UUID.
func (r Ref) Number() int {
	_, num, ok := strings.Cut(r.Identifier, "-")
	if !ok {
		return 0
	}
	n, err := strconv.Atoi(num)
	if err != nil {
		return 0
	}
	return n
}

// SameWorkspace reports whether the ref can belong to the workspace whose
// URL keys are given: true when the ref carries no workspace (a bare
// identifier or UUID), or when its workspace equals one of urlKeys, ignoring
// case. Pass Organization.urlKey and Organization.previousUrlKeys: Linear
// keeps redirecting a workspace's old URL keys, so an old link still names
// the same workspace.
func (r Ref) SameWorkspace(urlKeys ...string) bool {
	if r.WorkspaceURLKey == "" {
		return true
	}
	for _, k := range urlKeys {
		if k != "" && strings.EqualFold(k, r.WorkspaceURLKey) {
			return true
		}
	}
	return false
}

// Parse reads a Linear issue reference: an issue URL
// (https://linear.app/<workspace>/issue/ENG-123/optional-slug, http or
// https, with or without slug, trailing slash, query or fragment, or without
// the scheme), optionally wrapped the way Slack wraps links (<url> or
// <url|label>); a bare identifier in any case; or an issue UUID. Surrounding
// whitespace is ignored. Anything else is an *Error.
func Parse(input string) (Ref, error) {
	if len(input) > MaxInputLen {
		return Ref{}, malformed(msgTooLong, "input longer than MaxInputLen")
	}
	s := trim(input)
	if s == "" {
		return Ref{}, malformed(msgEmpty, "empty input")
	}
	if inner, ok := unwrapSlack(s); ok {
		s = inner
		if s == "" {
			return Ref{}, malformed(msgMalformed, "empty slack link")
		}
	}
	if strings.Contains(s, "/") {
		return parseURL(s)
	}
	if id, ok := identifier(s); ok {
		return Ref{Identifier: id}, nil
	}
	if id, ok := canonicalUUID(s); ok {
		return Ref{UUID: id}, nil
	}
	return Ref{}, malformed(msgMalformed, "neither url, identifier nor uuid")
}

// trim drops surrounding white space, including the zero-width characters
// that copying from rich text (and Slack's composer) tends to bring along.
func trim(s string) string {
	return strings.TrimFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || r == '\u200b' || r == '\u200c' || r == '\u200d' || r == '\u2060' || r == '\ufeff'
	})
}

// unwrapSlack undoes Slack's link markup: "<url>" or "<url|label>"
// (https://api.slack.com/reference/surfaces/formatting#links). Slack also
// escapes &, < and > inside it; only & can occur in a URL we accept, and
// only in the query, which is ignored.
func unwrapSlack(s string) (string, bool) {
	if len(s) < 2 || s[0] != '<' || s[len(s)-1] != '>' {
		return "", false
	}
	inner := s[1 : len(s)-1]
	if i := strings.IndexByte(inner, '|'); i >= 0 {
		inner = inner[:i]
	}
	return trim(inner), true
}
