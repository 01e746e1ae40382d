package bot

import (
	"encoding/json"
	"html"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/proliferate/proliferate-linear/alert"
)

// This file reads a Proliferate alert out of a Slack message. Proliferate
// documents no format for its Slack messages, so nothing here depends on
// one layout: the issue link, wherever it is (text, any block, a button's
// url, legacy attachments; bare or <url|label>), is what makes a message an
// alert and keys it; the facts around it (error type and message, users,
// environment, release, event count) are read from "Key: value" lines and
// fields when they are there and left empty when not.

// issueLinker finds Proliferate issue links under one base URL.
type issueLinker struct {
	base string
	re   *regexp.Regexp
}

// newIssueLinker matches {base}/projects/{project}/issues/{issue_id}. The
// host is matched without regard to case, as hosts are; the path segments
// stop at anything that cannot be in one (white space, "|" and ">" of
// Slack's link markup, "/", "?", "#").
func newIssueLinker(base string) *issueLinker {
	base = strings.TrimRight(base, "/")
	return &issueLinker{base: base, re: regexp.MustCompile(`(?i:` + regexp.QuoteMeta(base) + `)/projects/([A-Za-z0-9._~%@+-]+)/issues/([A-Za-z0-9._~%@+-]+)`)}
}

// issueLink is one Proliferate issue a message links.
type issueLink struct {
	Project, IssueID, URL string
}

// find returns the first issue link in texts, in order.
func (l *issueLinker) find(texts []string) (issueLink, bool) {
	for _, t := range texts {
		if m := l.re.FindStringSubmatch(t); m != nil {
			return issueLink{Project: m[1], IssueID: m[2], URL: l.base + "/projects/" + m[1] + "/issues/" + m[2]}, true
		}
	}
	return issueLink{}, false
}

// messageTexts gathers every string a message shows or links, in reading
// order: text, then blocks, then legacy attachments. Shapes it does not
// know are walked all the same, so a new block type still gives its text.
func messageTexts(text string, blocks, attachments json.RawMessage) []string {
	out := []string{text}
	for _, raw := range []json.RawMessage{blocks, attachments} {
		var v any
		if len(raw) == 0 || json.Unmarshal(raw, &v) != nil {
			continue
		}
		out = collectStrings(v, "", out, 0)
	}
	return out
}

// textKeys are the object keys whose string values a reader sees or can
// follow; ids, styles and image urls are skipped so they cannot pose as
// the error's text.
var textKeys = map[string]bool{
	"text": true, "url": true, "title": true, "title_link": true, "pretext": true, "fallback": true,
	"value": true, "footer": true, "author_name": true,
}

// maxWalkDepth bounds the walk of a hostile, deeply nested payload.
const maxWalkDepth = 32

func collectStrings(v any, key string, out []string, depth int) []string {
	if depth > maxWalkDepth {
		return out
	}
	switch t := v.(type) {
	case string:
		if textKeys[key] && strings.TrimSpace(t) != "" {
			out = append(out, t)
		}
	case []any:
		for _, e := range t {
			out = collectStrings(e, key, out, depth+1)
		}
	case map[string]any:
		// An attachment field reads "Title: value", like a text line.
		if title, ok := t["title"].(string); ok {
			if value, ok := t["value"].(string); ok {
				out = append(out, title+": "+value)
				return out
			}
		}
		for _, k := range sortedKeys(t) {
			out = collectStrings(t[k], k, out, depth+1)
		}
	}
	return out
}

// sortedKeys returns m's keys with the reading order Slack renders: a
// block's or attachment's heading before its body.
func sortedKeys(m map[string]any) []string {
	order := []string{"pretext", "author_name", "title", "title_link", "text", "fields", "elements", "accessory", "value", "url", "footer", "fallback"}
	var keys []string
	seen := map[string]bool{}
	for _, k := range order {
		if _, ok := m[k]; ok {
			keys = append(keys, k)
			seen[k] = true
		}
	}
	var rest []string
	for k := range m {
		if !seen[k] {
			rest = append(rest, k)
		}
	}
	// Map order is random; the rest is sorted so parsing is deterministic.
	slices.Sort(rest)
	return append(keys, rest...)
}

// slackLinkRe is Slack's link markup: <url|label> or <url>, also the
// <@U…> and <#C…> forms.
var slackLinkRe = regexp.MustCompile(`<([^<>|]*)(?:\|([^<>]*))?>`)

// plainLine turns one mrkdwn line into what a reader sees: links become
// their labels, emphasis marks and entities go.
// The issue link itself ("<…/issues/prl_1|View in Proliferate>") is the
// alert's key, not its text, so drop (when set) removes links it matches.
func plainLine(s string, drop *regexp.Regexp) string {
	s = slackLinkRe.ReplaceAllStringFunc(s, func(m string) string {
		sub := slackLinkRe.FindStringSubmatch(m)
		if drop != nil && drop.MatchString(sub[1]) {
			return ""
		}
		if sub[2] != "" {
			return sub[2]
		}
		return sub[1]
	})
	if drop != nil {
		s = drop.ReplaceAllString(s, "")
	}
	s = strings.NewReplacer("*", "", "`", "", "~", "").Replace(s)
	s = html.UnescapeString(s)
	return strings.TrimSpace(strings.Trim(strings.TrimSpace(s), "_"))
}

// emojiRe is a leading :emoji: code.
var emojiRe = regexp.MustCompile(`^(?::[a-z0-9_+'-]+:\s*)+`)

// headlineRe strips the announcement around the error in a headline such
// as "New issue in web: TypeError: …" or "Regression — TypeError: …".
var headlineRe = regexp.MustCompile(`(?i)^(?:\[[^\]]*\]\s*)?(?:new issue|new error|regression|regressed|spike|spiking|error spike|alert|issue)(?:\s+(?:in|on|for)\s+\S+)?\s*[:\-–—|]\s*`)

// typeMsgRe splits "TypeError: Cannot read …": a type is one token.
var typeMsgRe = regexp.MustCompile(`^([A-Za-z_$][\w$.:<>\[\]]*?)\s*:\s+(\S.*)$`)

// kvRe is a "Key: value" line.
var kvRe = regexp.MustCompile(`^([A-Za-z][A-Za-z ]{0,30}?)\s*[:：]\s*(.*)$`)

// factKeys maps the keys a message may label its facts with to a fact.
var factKeys = map[string]string{
	"users": "users", "users affected": "users", "affected users": "users", "user count": "users", "impacted users": "users",
	"environment": "env", "env": "env",
	"release": "release", "version": "release",
	"events": "events", "event count": "events", "occurrences": "events", "count": "events", "times seen": "events", "total events": "events",
	"project": "project", "level": "level", "severity": "level",
	"error": "error", "exception": "error", "type": "type", "error type": "type", "message": "message", "error message": "message",
}

// factSeparators split a line holding several facts.
var factSeparators = regexp.MustCompile(`\s+[·•|]\s+|\t+`)

// numberRe is the first whole number of a value: "1,234", "37 users".
var numberRe = regexp.MustCompile(`\d[\d,]*`)

// readAlert builds the alert a Proliferate message shows. link keys it;
// texts are messageTexts. Unknown shapes give an alert with whatever text
// the message has.
func (lk *issueLinker) readAlert(link issueLink, channel, ts string, texts []string) alert.Alert {
	a := alert.Alert{ErrorID: link.IssueID, Channel: channel, ThreadTS: ts, URL: link.URL, Project: link.Project,
		LastSeen: tsTime(ts)}
	var lines []string
	for _, t := range texts {
		for _, l := range strings.Split(t, "\n") {
			// "Users: 37 · Environment: production" is two facts.
			for _, part := range factSeparators.Split(l, -1) {
				if p := plainLine(part, lk.re); p != "" {
					lines = append(lines, p)
				}
			}
		}
	}
	// The headline is the first line that reads "Type: message"; failing
	// that, the first line that is not a fact or a link. (A message's text
	// is often only the notification fallback of its blocks.)
	var headline, first string
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if strings.Contains(strings.ToLower(l), strings.ToLower(link.URL)) || isURL(l) {
			continue
		}
		key, value, ok := fact(l)
		if ok && value == "" && i+1 < len(lines) {
			// A section field often reads "*Users affected*\n37".
			value = lines[i+1]
			i++
		}
		if ok {
			setFact(&a, key, value)
			continue
		}
		h := headlineRe.ReplaceAllString(emojiRe.ReplaceAllString(l, ""), "")
		if first == "" {
			first = h
		}
		if headline == "" && typeMsgRe.MatchString(h) {
			headline = h
		}
	}
	if headline == "" {
		headline = first
	}
	if a.ErrorType == "" && a.ErrorMessage == "" {
		if m := typeMsgRe.FindStringSubmatch(headline); m != nil {
			a.ErrorType, a.ErrorMessage = m[1], m[2]
		} else {
			a.ErrorMessage = headline
		}
	} else if a.ErrorMessage == "" {
		a.ErrorMessage = headline
	}
	a.ErrorType = alert.Truncate(a.ErrorType, 200)
	a.ErrorMessage = alert.Truncate(a.ErrorMessage, 2000)
	a.Trigger = triggerOf(strings.ToLower(strings.Join(lines, " ")))
	return a
}

// fact reports whether line is "Key: value" (or a bare "Key") for a key
// in factKeys.
func fact(line string) (key, value string, ok bool) {
	if k, found := factKeys[strings.ToLower(strings.TrimSpace(line))]; found {
		return k, "", true
	}
	m := kvRe.FindStringSubmatch(line)
	if m == nil {
		return "", "", false
	}
	k, found := factKeys[strings.ToLower(strings.TrimSpace(m[1]))]
	if !found {
		return "", "", false
	}
	return k, strings.TrimSpace(m[2]), true
}

func setFact(a *alert.Alert, key, value string) {
	value = alert.Truncate(value, 200)
	switch key {
	case "users":
		a.UsersAffected = firstNumber(value)
	case "events":
		a.EventCount = firstNumber(value)
	case "env":
		a.Environment = value
	case "release":
		a.Release = value
	case "project":
		if a.Project == "" {
			a.Project = value
		}
	case "level":
		a.Level = strings.ToLower(value)
	case "type":
		a.ErrorType = value
	case "message":
		a.ErrorMessage = value
	case "error":
		if m := typeMsgRe.FindStringSubmatch(value); m != nil {
			a.ErrorType, a.ErrorMessage = m[1], m[2]
		} else {
			a.ErrorMessage = value
		}
	}
}

func firstNumber(s string) int64 {
	m := numberRe.FindString(s)
	n, err := strconv.ParseInt(strings.ReplaceAll(m, ",", ""), 10, 64)
	if err != nil || n < 0 {
		return 0
	}
	return n
}

func isURL(s string) bool {
	return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")
}

// triggerOf guesses why Proliferate posted from the words it used.
func triggerOf(text string) alert.Trigger {
	switch {
	case strings.Contains(text, "regress"):
		return alert.TriggerRegression
	case strings.Contains(text, "spike"), strings.Contains(text, "spiking"):
		return alert.TriggerSpike
	case strings.Contains(text, "new issue"), strings.Contains(text, "new error"):
		return alert.TriggerNewIssue
	}
	return ""
}

// tsTime is the time of a Slack ts ("1700000000.000100"); zero if it is
// not one.
func tsTime(ts string) time.Time {
	sec, frac, _ := strings.Cut(ts, ".")
	s, err := strconv.ParseInt(sec, 10, 64)
	if err != nil || s <= 0 {
		return time.Time{}
	}
	us, _ := strconv.ParseInt((frac + "000000")[:6], 10, 64)
	return time.Unix(s, us*1000).UTC()
}
