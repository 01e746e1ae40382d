package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"

	"github.com/proliferate/proliferate-linear/alert"
)

// RulesPath serves the routing rules: GET lists them, PUT replaces the
// whole ordered list, checked the way `/proliferate-linear rules add` is.
const RulesPath = integrationBase + "/rules"

// RulesAPI is the routing rules as the REST API serves them;
// *alert.Service implements it. Deps.API is used for it when it does.
type RulesAPI interface {
	Rules(ctx context.Context) (alert.RuleSet, error)
	SaveRules(ctx context.Context, rules []alert.Rule, expect int64) (alert.RuleSet, error)
}

// ruleJSON is one rule in the REST API. Empty matchers match anything;
// empty actions leave the default. Syntax is the rule as Slack lists it;
// a PUT may send it alone (it is parsed as `rules add` parses it) or with
// the fields, which it must then agree with, so a GET's body can be PUT
// back as it is.
type ruleJSON struct {
	Project     string `json:"project,omitempty"`
	Environment string `json:"environment,omitempty"`
	Level       string `json:"level,omitempty"`
	ErrorType   string `json:"error_type,omitempty"`
	Trigger     string `json:"trigger,omitempty"`

	Channel       string   `json:"channel,omitempty"`
	Team          string   `json:"team,omitempty"`
	Assignee      string   `json:"assignee,omitempty"`
	Priority      *string  `json:"priority,omitempty"` // none, urgent, high, medium, low.
	Labels        []string `json:"labels,omitempty"`
	LinearProject string   `json:"linear_project,omitempty"`
	Auto          bool     `json:"auto,omitempty"`

	Syntax string `json:"syntax,omitempty"`
}

// rulesBody is GET's answer and PUT's body. On PUT, Version (optional)
// makes the save conditional: 409 if the rules changed since.
type rulesBody struct {
	Version *int64     `json:"version,omitempty"`
	Rules   []ruleJSON `json:"rules"`
}

func toRuleJSON(r alert.Rule) ruleJSON {
	j := ruleJSON{Project: r.Project, Environment: r.Environment, Level: r.Level, ErrorType: r.ErrorType,
		Trigger: string(r.Trigger), Channel: r.Channel, Team: r.TeamKey, Assignee: r.Assignee,
		Labels: r.Labels, LinearProject: r.LinearProject, Auto: r.Auto, Syntax: alert.FormatRule(r)}
	if r.HasPriority {
		p := strings.ToLower(r.Priority.String())
		if r.Priority == alert.PriorityNone {
			p = "none"
		}
		j.Priority = &p
	}
	return j
}

func (j ruleJSON) rule(i int) (alert.Rule, error) {
	r, err := j.fields(i)
	if err != nil || j.Syntax == "" {
		return r, err
	}
	parsed, err := alert.ParseRule(j.Syntax)
	if err != nil {
		return alert.Rule{}, &fieldError{fmt.Sprintf("rules[%d].syntax", i), alert.RuleProblem(err)}
	}
	if reflect.DeepEqual(r, alert.Rule{}) {
		return parsed, nil
	}
	if !reflect.DeepEqual(r, parsed) {
		return alert.Rule{}, &fieldError{fmt.Sprintf("rules[%d].syntax", i), "disagrees with the rule's fields; send one or the other"}
	}
	return r, nil
}

func (j ruleJSON) fields(i int) (alert.Rule, error) {
	r := alert.Rule{Project: j.Project, Environment: j.Environment, Level: j.Level, ErrorType: j.ErrorType,
		Trigger: alert.Trigger(j.Trigger), Channel: j.Channel, TeamKey: j.Team, Assignee: j.Assignee,
		Labels: j.Labels, LinearProject: j.LinearProject, Auto: j.Auto}
	if j.Priority != nil {
		p, ok := alert.ParsePriority(*j.Priority)
		if !ok {
			return alert.Rule{}, &fieldError{fmt.Sprintf("rules[%d].priority", i), "must be none, urgent, high, medium or low"}
		}
		r.HasPriority, r.Priority = true, p
	}
	if len(r.Labels) == 0 {
		r.Labels = nil
	}
	return r, nil
}

func (s *server) rulesAPI(w http.ResponseWriter, r *http.Request) (RulesAPI, bool) {
	if !s.apiReady(w, r, false, false, false) {
		return nil, false
	}
	ra, ok := s.integ.api.(RulesAPI)
	if !ok || ra == nil {
		writeErrorCode(w, http.StatusServiceUnavailable, "not_configured", "routing rules are not configured on this server")
		return nil, false
	}
	return ra, true
}

func writeRules(w http.ResponseWriter, status int, set alert.RuleSet) {
	body := rulesBody{Version: &set.Version, Rules: make([]ruleJSON, 0, len(set.Rules))}
	for _, r := range set.Rules {
		body.Rules = append(body.Rules, toRuleJSON(r))
	}
	writeJSON(w, status, body)
}

// getRules handles GET rules: the ordered list and its version.
func (s *server) getRules(w http.ResponseWriter, r *http.Request) {
	ra, ok := s.rulesAPI(w, r)
	if !ok {
		return
	}
	set, err := ra.Rules(r.Context())
	if err != nil {
		s.log.ErrorContext(r.Context(), "read rules", "err", err)
		writeErrorCode(w, http.StatusInternalServerError, "internal", "reading the rules failed; retry later")
		return
	}
	writeRules(w, http.StatusOK, set)
}

// putRules handles PUT rules: the whole ordered list, checked (and against
// Linear) before anything is stored; a refusal changes nothing.
func (s *server) putRules(w http.ResponseWriter, r *http.Request) {
	ra, ok := s.rulesAPI(w, r)
	if !ok {
		return
	}
	var body rulesBody
	if err := decodeStrict(w, r, &body); err != nil {
		status := http.StatusBadRequest
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			status = http.StatusRequestEntityTooLarge
		}
		writeErrorCode(w, status, "invalid_request", errorText(err))
		return
	}
	if body.Rules == nil {
		writeErrorCode(w, http.StatusBadRequest, "invalid_request", "rules: required (an empty list removes every rule)")
		return
	}
	rules := make([]alert.Rule, 0, len(body.Rules))
	for i, j := range body.Rules {
		rule, err := j.rule(i)
		if err != nil {
			writeErrorCode(w, http.StatusBadRequest, "invalid_request", errorText(err))
			return
		}
		rules = append(rules, rule)
	}
	expect := alert.AnyVersion
	if body.Version != nil {
		expect = *body.Version
	}
	set, err := ra.SaveRules(r.Context(), rules, expect)
	switch {
	case err == nil:
	case errors.Is(err, alert.ErrInvalid):
		writeErrorCode(w, http.StatusBadRequest, "invalid_rule", alert.RuleProblem(err))
		return
	case errors.Is(err, alert.ErrConflict):
		writeErrorCode(w, http.StatusConflict, "rules_changed", "the rules changed since that version; GET them and retry")
		return
	default:
		s.linearFailure(w, r, "save rules", err)
		return
	}
	s.log.InfoContext(r.Context(), "rules replaced over the api", "rules", len(set.Rules), "version", set.Version)
	writeRules(w, http.StatusOK, set)
}

// decodeStrict reads one JSON object into v, refusing unknown fields and
// naming the field at fault.
func decodeStrict(w http.ResponseWriter, r *http.Request, v any) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return fmt.Errorf("body: larger than 1 MiB: %w", err)
		}
		return errors.New("body: could not be read")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var typeErr *json.UnmarshalTypeError
		var syntaxErr *json.SyntaxError
		switch {
		case errors.As(err, &typeErr) && typeErr.Field != "":
			return &fieldError{typeErr.Field, "must be " + kindName(typeErr.Type)}
		case errors.As(err, &syntaxErr):
			return &fieldError{"body", fmt.Sprintf("invalid JSON at byte %d", syntaxErr.Offset)}
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return &fieldError{strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`), "unknown field"}
		}
		return &fieldError{"body", "must be a JSON object"}
	}
	if dec.More() {
		return &fieldError{"body", "must be one JSON object"}
	}
	return nil
}
