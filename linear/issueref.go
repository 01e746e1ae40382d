package linear

import (
	"net/url"
	"regexp"
	"strings"

	"github.com/google/uuid"
)

// identifierRE matches an issue identifier: a team key (letters, digits,
// starting with a letter) and a number, e.g. ENG-123.
var identifierRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,9}-[0-9]{1,9}$`)

// parseIssueRef turns what a user pastes into something Linear's
// issue(id:) accepts: a UUID, an identifier (ENG-123, upper-cased) or the
// identifier inside an issue URL, https://linear.app/<workspace>/issue/ENG-123/<slug>.
// ok is false when s is none of these. It is lenient on purpose, a last
// line for Client.Issue; user-facing parsing with explanations is
// linear/issueref.
func parseIssueRef(s string) (ref string, ok bool) {
	s = strings.TrimSpace(s)
	s = strings.Trim(s, "<>") // Slack wraps pasted links in <...>.
	if i := strings.IndexByte(s, '|'); i >= 0 {
		s = s[:i]
	}
	if _, err := uuid.Parse(s); err == nil && len(s) == 36 {
		return strings.ToLower(s), true
	}
	if identifierRE.MatchString(s) {
		return strings.ToUpper(s), true
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", false
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	for i := 0; i+1 < len(parts); i++ {
		if parts[i] == "issue" && identifierRE.MatchString(parts[i+1]) {
			return strings.ToUpper(parts[i+1]), true
		}
	}
	return "", false
}
