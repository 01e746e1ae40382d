package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/proliferate/proliferate-linear/alert"
)

// alertPayload is the body of POST /api/v1/alerts as Proliferate sends it.
// Unknown fields are ignored (Proliferate may add some); a known field of
// the wrong JSON type is refused.
type alertPayload struct {
	IssueID       string            `json:"issue_id"`
	URL           string            `json:"url"`
	Project       string            `json:"project"`
	Level         string            `json:"level"`
	Exception     *exceptionPayload `json:"exception"`
	Message       string            `json:"message"` // message-type errors have no exception.
	Environment   string            `json:"environment"`
	Release       string            `json:"release"`
	FirstSeen     string            `json:"first_seen"` // RFC 3339.
	LastSeen      string            `json:"last_seen"`  // RFC 3339.
	EventCount    int64             `json:"event_count"`
	UsersAffected int64             `json:"users_affected"`
	Trigger       string            `json:"trigger"`
	Channel       string            `json:"channel"` // Slack channel ID; overrides the default.
}

type exceptionPayload struct {
	Type    string `json:"type"`
	Message string `json:"message"`
	Stack   string `json:"stack"`
}

// Length limits keep one alert from bloating the database row and the
// Slack message; the body limit bounds the rest.
const (
	maxIssueIDLen = 255
	maxURLLen     = 4096
	maxShortLen   = 255 // project, level, environment, release, exception type.
)

// channelIDRe matches Slack conversation IDs: C public, G private or group,
// D direct message, then upper-case alphanumerics.
var channelIDRe = regexp.MustCompile(`^[CGD][A-Z0-9]{2,30}$`)

// fieldError is a 400: the message names the field and says what is wrong.
type fieldError struct{ field, msg string }

func (e *fieldError) Error() string { return e.field + ": " + e.msg }

// decodePayload parses body, turning encoding/json's errors into ones that
// name the field. The bodies Proliferate sends take scanPayload's one pass;
// anything else, bad input included, goes to encoding/json.
func decodePayload(body []byte) (alertPayload, error) {
	var p alertPayload
	if scanPayload(body, &p) {
		return p, nil
	}
	return decodeJSON(body)
}

// decodeJSON is decodePayload by encoding/json (its own function: what it
// hands encoding/json goes to the heap).
func decodeJSON(body []byte) (alertPayload, error) {
	var p alertPayload
	err := json.Unmarshal(body, &p)
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case err == nil:
		return p, nil
	case errors.As(err, &typeErr):
		if typeErr.Field == "" {
			return p, &fieldError{"body", "must be a JSON object"}
		}
		return p, &fieldError{typeErr.Field, "must be " + kindName(typeErr.Type)}
	case errors.As(err, &syntaxErr):
		return p, &fieldError{"body", fmt.Sprintf("invalid JSON at byte %d", syntaxErr.Offset)}
	}
	return p, &fieldError{"body", "invalid JSON"}
}

func kindName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "an integer"
	case reflect.Struct, reflect.Pointer, reflect.Map:
		return "an object"
	}
	return "a " + t.Kind().String()
}

// toAlert validates p and maps it to an alert for channel (the payload's
// own channel, else defaultChannel). Every problem is reported, joined.
func (p alertPayload) toAlert(defaultChannel string) (alert.Alert, error) {
	return p.alert(defaultChannel, false)
}

// toRoutableAlert is toAlert for a payload that names no channel, left
// empty for the routing rules (alert.Service.AcceptRouted) to choose.
func (p alertPayload) toRoutableAlert() (alert.Alert, error) {
	return p.alert("", true)
}

func (p alertPayload) alert(defaultChannel string, routed bool) (alert.Alert, error) {
	var errs []error
	bad := func(field, msg string) { errs = append(errs, &fieldError{field, msg}) }

	issueID := strings.TrimSpace(p.IssueID)
	switch {
	case issueID == "":
		bad("issue_id", "required")
	case len(issueID) > maxIssueIDLen:
		bad("issue_id", fmt.Sprintf("longer than %d bytes", maxIssueIDLen))
	}
	switch u, err := url.Parse(p.URL); {
	case p.URL == "":
		bad("url", "required")
	case len(p.URL) > maxURLLen:
		bad("url", fmt.Sprintf("longer than %d bytes", maxURLLen))
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		bad("url", "must be an absolute http or https URL")
	}
	for _, f := range []struct{ name, v string }{
		{"project", p.Project}, {"level", p.Level}, {"environment", p.Environment}, {"release", p.Release},
	} {
		if len(f.v) > maxShortLen {
			bad(f.name, fmt.Sprintf("longer than %d bytes", maxShortLen))
		}
	}
	if p.Exception != nil && len(p.Exception.Type) > maxShortLen {
		bad("exception.type", fmt.Sprintf("longer than %d bytes", maxShortLen))
	}
	first := parseTime(p.FirstSeen, "first_seen", bad)
	last := parseTime(p.LastSeen, "last_seen", bad)
	if p.EventCount < 0 {
		bad("event_count", "must not be negative")
	}
	if p.UsersAffected < 0 {
		bad("users_affected", "must not be negative")
	}
	if !alert.Trigger(p.Trigger).Valid() {
		bad("trigger", "must be one of new_issue, spike, regression")
	}
	channel := strings.TrimSpace(p.Channel)
	switch {
	case channel != "" && !channelIDRe.MatchString(channel):
		bad("channel", "must be a Slack channel ID like C0123ABCD, not a name")
	case channel == "" && defaultChannel == "" && !routed:
		bad("channel", "required: no default alert channel (SLACK_ALERT_CHANNEL) is configured")
	case channel == "":
		channel = defaultChannel
	}
	if err := errors.Join(errs...); err != nil {
		return alert.Alert{}, err
	}

	a := alert.Alert{
		ErrorID:       issueID,
		Channel:       channel,
		URL:           p.URL,
		Project:       p.Project,
		Level:         p.Level,
		Environment:   p.Environment,
		Release:       p.Release,
		FirstSeen:     first,
		LastSeen:      last,
		EventCount:    p.EventCount,
		UsersAffected: p.UsersAffected,
		Trigger:       alert.Trigger(p.Trigger),
	}
	if p.Exception != nil {
		a.ErrorType, a.ErrorMessage, a.Stack = p.Exception.Type, p.Exception.Message, p.Exception.Stack
	}
	if strings.TrimSpace(a.ErrorMessage) == "" {
		a.ErrorMessage = p.Message
	}
	return a, nil
}

func parseTime(s, field string, bad func(field, msg string)) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		bad(field, "must be an RFC 3339 time like 2025-01-02T15:04:05Z")
		return time.Time{}
	}
	return t.UTC()
}

// errorText joins the problems of a 400 into one line for the JSON body.
func errorText(err error) string {
	s := strings.ReplaceAll(err.Error(), "\n", "; ")
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return s
}
