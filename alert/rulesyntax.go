package alert

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// The rule syntax of `/proliferate-linear rules add`:
//
//	env=production type=*TimeoutError -> team=ENG priority=urgent labels=timeout,backend
//
// Matchers (left of ->): project, env, level, type, trigger. Actions
// (right): channel, team, assignee, priority, labels, project, auto. A
// value with spaces is quoted: project="Q3 Reliability". ParseRule reads
// it, FormatRule writes it back.

// matcher and action keys, in the order FormatRule writes them.
var (
	matcherKeys = []string{"project", "env", "level", "type", "trigger"}
	actionKeys  = []string{"channel", "team", "assignee", "priority", "labels", "project", "auto"}
	keyAliases  = map[string]string{"environment": "env", "error_type": "type", "label": "labels"}
)

// ruleArrow separates the matchers from the actions.
const ruleArrow = "->"

// ParseRule reads one rule in the syntax above. The error wraps ErrInvalid
// and says what is wrong and how to write it.
func ParseRule(s string) (Rule, error) {
	toks, err := ruleTokens(s)
	if err != nil {
		return Rule{}, err
	}
	arrow := slices.Index(toks, ruleToken{arrow: true})
	if arrow < 0 {
		return Rule{}, fmt.Errorf("a rule is `<matchers> -> <actions>`, e.g. `env=production type=*TimeoutError -> team=ENG`; there is no `->`: %w", ErrInvalid)
	}
	left, right := toks[:arrow], toks[arrow+1:]
	if slices.Contains(right, ruleToken{arrow: true}) {
		return Rule{}, fmt.Errorf("a rule has one `->`, this one has more: %w", ErrInvalid)
	}
	if len(left) == 0 {
		return Rule{}, fmt.Errorf("nothing to match before `->`: give at least one of project=, env=, level=, type=, trigger= (type=* matches every alert): %w", ErrInvalid)
	}
	if len(right) == 0 {
		return Rule{}, fmt.Errorf("nothing to do after `->`: give at least one of channel=, team=, assignee=, priority=, labels=, project=, auto: %w", ErrInvalid)
	}
	var r Rule
	seen := map[string]bool{}
	for i, side := range [][]ruleToken{left, right} {
		keys, where := matcherKeys, "before `->` (matchers)"
		if i == 1 {
			keys, where = actionKeys, "after `->` (actions)"
		}
		for _, t := range side {
			key := strings.ToLower(t.key)
			if k, ok := keyAliases[key]; ok {
				key = k
			}
			if !slices.Contains(keys, key) {
				return Rule{}, fmt.Errorf("unknown key %q %s; use %s: %w", t.key, where, strings.Join(keys, ", "), ErrInvalid)
			}
			id := strconv.Itoa(i) + key
			if seen[id] {
				return Rule{}, fmt.Errorf("%s is given twice %s: %w", key, where, ErrInvalid)
			}
			seen[id] = true
			if err := r.set(i == 1, key, t); err != nil {
				return Rule{}, err
			}
		}
	}
	if err := r.Check(); err != nil {
		return Rule{}, err
	}
	return r, nil
}

// set applies one key=value to r.
func (r *Rule) set(action bool, key string, t ruleToken) error {
	v := t.value
	if key == "auto" {
		switch strings.ToLower(v) {
		case "", "yes", "true", "on":
			if t.hasValue && v == "" {
				return fmt.Errorf("auto= has no value: write auto, auto=yes or auto=no: %w", ErrInvalid)
			}
			r.Auto = true
		case "no", "false", "off":
			r.Auto = false
		default:
			return fmt.Errorf("auto=%s: write auto, auto=yes or auto=no: %w", v, ErrInvalid)
		}
		return nil
	}
	if !t.hasValue {
		return fmt.Errorf("%s needs a value: %s=VALUE: %w", key, key, ErrInvalid)
	}
	if v == "" {
		return fmt.Errorf("%s= has no value: %w", key, ErrInvalid)
	}
	if !action {
		switch key {
		case "project":
			r.Project = v
		case "env":
			r.Environment = v
		case "level":
			r.Level = v
		case "type":
			r.ErrorType = v
		case "trigger":
			tr := Trigger(strings.ToLower(v))
			if !tr.Valid() {
				return fmt.Errorf("trigger=%s: a trigger is new_issue, spike or regression: %w", v, ErrInvalid)
			}
			r.Trigger = tr
		}
		return nil
	}
	switch key {
	case "channel":
		id, ok := parseChannel(v)
		if !ok {
			return fmt.Errorf("channel=%s: give the channel's ID (C…, in the channel's details) or its #mention: %w", v, ErrInvalid)
		}
		r.Channel = id
	case "team":
		r.TeamKey = strings.ToUpper(v)
	case "assignee":
		r.Assignee = strings.TrimPrefix(v, "@")
	case "priority":
		p, ok := ParsePriority(v)
		if !ok {
			return fmt.Errorf("priority=%s: a priority is none, urgent, high, medium or low (or 0–4): %w", v, ErrInvalid)
		}
		r.Priority, r.HasPriority = p, true
	case "labels":
		for _, l := range strings.Split(v, ",") {
			l = strings.TrimSpace(l)
			if l == "" {
				return fmt.Errorf("labels=%s has an empty label: separate labels with single commas: %w", v, ErrInvalid)
			}
			if !slices.ContainsFunc(r.Labels, func(x string) bool { return strings.EqualFold(x, l) }) {
				r.Labels = append(r.Labels, l)
			}
		}
	case "project":
		r.LinearProject = v
	}
	return nil
}

// parseChannel reads a channel ID or a Slack channel mention <#C…|name>.
func parseChannel(v string) (string, bool) {
	if strings.HasPrefix(v, "<#") && strings.HasSuffix(v, ">") {
		v = strings.TrimSuffix(strings.TrimPrefix(v, "<#"), ">")
		if i := strings.IndexByte(v, '|'); i >= 0 {
			v = v[:i]
		}
	}
	return v, channelIDRe(v)
}

// ParsePriority reads a priority by name (none, urgent, high, medium, low,
// any case) or by Linear's number (0–4).
func ParsePriority(s string) (Priority, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "none", "no", "no priority", "0":
		return PriorityNone, true
	case "urgent", "1":
		return PriorityUrgent, true
	case "high", "2":
		return PriorityHigh, true
	case "medium", "3":
		return PriorityMedium, true
	case "low", "4":
		return PriorityLow, true
	}
	return 0, false
}

// priorityWord is the syntax's name of p.
func priorityWord(p Priority) string {
	if p == PriorityNone {
		return "none"
	}
	return strings.ToLower(p.String())
}

// FormatRule writes r in the syntax ParseRule reads: ParseRule(FormatRule(r))
// gives r back for any rule ParseRule returned.
func FormatRule(r Rule) string {
	var left, right []string
	add := func(side *[]string, k, v string) {
		if v != "" {
			*side = append(*side, k+"="+quoteValue(v))
		}
	}
	add(&left, "project", r.Project)
	add(&left, "env", r.Environment)
	add(&left, "level", r.Level)
	add(&left, "type", r.ErrorType)
	add(&left, "trigger", string(r.Trigger))
	add(&right, "channel", r.Channel)
	add(&right, "team", r.TeamKey)
	add(&right, "assignee", r.Assignee)
	if r.HasPriority {
		add(&right, "priority", priorityWord(r.Priority))
	}
	add(&right, "labels", strings.Join(r.Labels, ","))
	add(&right, "project", r.LinearProject)
	if r.Auto {
		right = append(right, "auto")
	}
	if len(left) == 0 {
		left = []string{"type=*"}
	}
	return strings.Join(left, " ") + " " + ruleArrow + " " + strings.Join(right, " ")
}

// quoteValue quotes v when it holds a space or could read as syntax.
func quoteValue(v string) string {
	if strings.ContainsFunc(v, unicode.IsSpace) || strings.Contains(v, ruleArrow) || strings.ContainsAny(v, `"“”`) {
		return `"` + v + `"`
	}
	return v
}

// ruleToken is one key[=value] of a rule, or its arrow.
type ruleToken struct {
	arrow    bool
	key      string
	value    string
	hasValue bool
}

// isQuote reports whether c opens or closes a quoted value. Slack's
// clients may turn " into curly quotes as people type.
func isQuote(c rune) bool { return c == '"' || c == '“' || c == '”' }

// ruleTokens splits s into key=value words and arrows. A quoted run ("…",
// or Slack's curly “…”) may hold spaces and arrows.
func ruleTokens(s string) ([]ruleToken, error) {
	rs := []rune(s)
	var out []ruleToken
	for i := 0; i < len(rs); {
		if unicode.IsSpace(rs[i]) {
			i++
			continue
		}
		if rs[i] == '-' && i+1 < len(rs) && rs[i+1] == '>' {
			out = append(out, ruleToken{arrow: true})
			i += 2
			continue
		}
		var word strings.Builder
		quoted := false
		for i < len(rs) && !unicode.IsSpace(rs[i]) && (rs[i] != '-' || i+1 >= len(rs) || rs[i+1] != '>') {
			if isQuote(rs[i]) {
				end := slices.IndexFunc(rs[i+1:], isQuote)
				if end < 0 {
					return nil, fmt.Errorf("a quote is not closed: %q: %w", Truncate(string(rs[i:]), 40), ErrInvalid)
				}
				word.WriteString(string(rs[i+1 : i+1+end]))
				i += end + 2
				quoted = true
				continue
			}
			word.WriteRune(rs[i])
			i++
		}
		w := word.String()
		k, v, has := strings.Cut(w, "=")
		if quoted && (!has || strings.ContainsFunc(k, func(c rune) bool { return unicode.IsSpace(c) || isQuote(c) })) {
			return nil, fmt.Errorf("quote a value, not a key: key=\"a value\": %w", ErrInvalid)
		}
		if k == "" {
			return nil, fmt.Errorf("%q has no key: write key=value: %w", Truncate(w, 40), ErrInvalid)
		}
		if !has && strings.ToLower(k) != "auto" {
			return nil, fmt.Errorf("%q is not key=value (e.g. env=production): %w", Truncate(w, 40), ErrInvalid)
		}
		out = append(out, ruleToken{key: k, value: v, hasValue: has})
	}
	return out, nil
}
