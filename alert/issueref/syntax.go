package issueref

import (
	"net/url"
	"strings"
)

// linearHost is the only host Linear serves issue pages from. Linear's
// links never use "www.", so anything else is treated as another site.
const linearHost = "linear.app"

// maxWorkspaceKeyLen bounds the workspace segment of a URL. Linear's
// Organization.urlKey is a short slug; the bound only keeps junk out.
const maxWorkspaceKeyLen = 64

// parseURL reads https://linear.app/<workspace>/issue/<ENG-123|uuid>[/slug].
// A missing scheme is taken as https, because people copy from the address
// bar of browsers that hide it.
func parseURL(s string) (Ref, error) {
	if !strings.Contains(s, "://") {
		if host, _, _ := strings.Cut(s, "/"); strings.Contains(host, ":") {
			// mailto:, slack:, or host:port without a scheme.
			return Ref{}, malformed(msgMalformed, "url without a web scheme")
		}
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return Ref{}, malformed(msgMalformed, "unparsable url")
	}
	switch strings.ToLower(u.Scheme) {
	case "https", "http":
	default:
		return Ref{}, malformed(msgMalformed, "scheme is not http or https")
	}
	if u.Opaque != "" || u.Host == "" {
		return Ref{}, malformed(msgMalformed, "url has no host")
	}
	if !strings.EqualFold(u.Hostname(), linearHost) {
		return Ref{}, &Error{Kind: ErrNotLinear, Msg: msgNotLinear, Detail: "host is not " + linearHost}
	}
	if u.User != nil || u.Port() != "" || strings.HasSuffix(u.Host, ":") {
		// Linear's own links carry neither; a user@ part is a classic way
		// to make a link look like it goes somewhere it does not.
		return Ref{}, malformed(msgMalformed, "url has user info or a port")
	}

	path := strings.TrimSuffix(u.Path, "/")
	if !strings.HasPrefix(path, "/") {
		return Ref{}, malformed(msgNotIssue, "url has no path")
	}
	segs := strings.Split(path[1:], "/")
	if len(segs) < 2 || !strings.EqualFold(segs[1], "issue") {
		return Ref{}, malformed(msgNotIssue, "path is not /<workspace>/issue/…")
	}
	if len(segs) < 3 || len(segs) > 4 || segs[2] == "" || (len(segs) == 4 && segs[3] == "") {
		return Ref{}, malformed(msgNotIssue, "path has the wrong number of segments")
	}
	ws, ok := workspaceKey(segs[0])
	if !ok {
		return Ref{}, malformed(msgMalformed, "bad workspace segment")
	}
	if id, ok := identifier(segs[2]); ok {
		return Ref{Identifier: id, WorkspaceURLKey: ws}, nil
	}
	if id, ok := canonicalUUID(segs[2]); ok {
		return Ref{UUID: id, WorkspaceURLKey: ws}, nil
	}
	return Ref{}, malformed(msgMalformed, "bad issue segment")
}

// workspaceKey validates and lower-cases a workspace URL key: ASCII
// letters, digits, '-' and '_'.
func workspaceKey(s string) (string, bool) {
	if s == "" || len(s) > maxWorkspaceKeyLen {
		return "", false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isAlnum(c) && c != '-' && c != '_' {
			return "", false
		}
	}
	return strings.ToLower(s), true
}

// identifier validates "<team key>-<number>" and returns it upper-cased.
// The key is ASCII letters and digits starting with a letter, at most
// MaxTeamKeyLen long; the number is positive with no leading zero. Only
// ASCII is looked at before upper-casing: strings.ToUpper would turn
// "ſ" (U+017F) into "S" and let non-ASCII text through.
func identifier(s string) (string, bool) {
	key, num, ok := strings.Cut(s, "-")
	if !ok || key == "" || len(key) > MaxTeamKeyLen || !isLetter(key[0]) {
		return "", false
	}
	for i := 1; i < len(key); i++ {
		if !isAlnum(key[i]) {
			return "", false
		}
	}
	if num == "" || len(num) > maxNumberDigits || num[0] == '0' {
		return "", false
	}
	for i := 0; i < len(num); i++ {
		if !isDigit(num[i]) {
			return "", false
		}
	}
	return strings.ToUpper(key) + "-" + num, true
}

// canonicalUUID validates the 8-4-4-4-12 hex form (any case) and returns it
// lower-cased, which is how Linear writes ids. Braces, "urn:uuid:" and the
// 32-digit form are refused: nobody copies those out of Linear.
func canonicalUUID(s string) (string, bool) {
	if len(s) != 36 {
		return "", false
	}
	for i := 0; i < len(s); i++ {
		switch i {
		case 8, 13, 18, 23:
			if s[i] != '-' {
				return "", false
			}
		default:
			if !isHex(s[i]) {
				return "", false
			}
		}
	}
	return strings.ToLower(s), true
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
func isDigit(c byte) bool  { return '0' <= c && c <= '9' }
func isAlnum(c byte) bool  { return isLetter(c) || isDigit(c) }
func isHex(c byte) bool    { return isDigit(c) || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }
