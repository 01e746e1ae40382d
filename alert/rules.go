package alert

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// Routing rules: an ordered list an admin keeps (in Slack or over REST)
// that says, per kind of alert, where its Linear issue goes. The first rule
// whose matchers all hold for an alert decides; an alert no rule matches
// goes to the default team.

// MaxRules bounds the list: every alert walks it, and Slack lists it in
// one message.
const MaxRules = 50

// maxRuleValue bounds one matcher or action value, in runes.
const maxRuleValue = 200

// maxRuleLabels bounds the labels one rule adds.
const maxRuleLabels = 20

// Rule is one routing rule. Matchers left empty match anything; a pattern
// may hold * (any run of characters) and ? (one character), and matches
// case-insensitively, so `*TimeoutError` matches "ReadTimeoutError".
// Actions left empty leave the default as it is.
type Rule struct {
	// Matchers.
	Project     string  // Proliferate project.
	Environment string  // e.g. "production".
	Level       string  // e.g. "error", "fatal".
	ErrorType   string  // e.g. "*TimeoutError".
	Trigger     Trigger // new_issue, spike or regression; "" for any.

	// Actions.
	Channel     string // Slack channel ID webhook alerts are posted in.
	TeamKey     string // Linear team key, e.g. "ENG".
	Assignee    string // a team member's email, name or display name.
	HasPriority bool   // Priority is set (PriorityNone is a choice too).
	Priority    Priority
	Labels      []string // names of the team's labels.
	// LinearProject is the Linear project's name (Project is the
	// Proliferate project the rule matches).
	LinearProject string
	Auto          bool // file the issue as the alert arrives.
}

// Matches reports whether every matcher of r holds for a.
func (r Rule) Matches(a Alert) bool {
	return globMatch(r.Project, a.Project) &&
		globMatch(r.Environment, a.Environment) &&
		globMatch(r.Level, a.Level) &&
		globMatch(r.ErrorType, a.ErrorType) &&
		(r.Trigger == "" || r.Trigger == a.Trigger)
}

// RuleSet is the stored list and its version, which grows by one with every
// save: a save made from an older version is refused (ErrConflict), so two
// admins editing at once never silently undo each other.
type RuleSet struct {
	Version int64
	Rules   []Rule
}

// AnyVersion, as the expected version of a save, replaces the list
// whatever its version (the REST PUT, which sends the whole list).
const AnyVersion int64 = -1

// Route is what the rules say for one alert.
type Route struct {
	// N is the 1-based number of the rule that matched, 0 if none did
	// (then only TeamKey is set: the default team).
	N int
	// Rule is the matching rule itself (zero when N is 0).
	Rule Rule
	// TeamKey is the rule's team, else the default team ("" if neither).
	TeamKey string
}

// Match returns the route of a: the first rule that matches it, else the
// default team.
func Match(rules []Rule, a Alert, defaultTeam string) Route {
	for i, r := range rules {
		if r.Matches(a) {
			return Route{N: i + 1, Rule: r, TeamKey: cmp.Or(r.TeamKey, defaultTeam)}
		}
	}
	return Route{TeamKey: defaultTeam}
}

// globMatch reports whether s matches pattern, case-insensitively, where *
// is any run of characters and ? one character. An empty pattern matches
// anything. It runs in O(len(pattern)·len(s)) at worst, never
// exponentially, whatever the pattern.
func globMatch(pattern, s string) bool {
	if pattern == "" {
		return true
	}
	p := []rune(strings.ToLower(pattern))
	t := []rune(strings.ToLower(s))
	pi, ti := 0, 0
	star, mark := -1, 0
	for ti < len(t) {
		switch {
		case pi < len(p) && (p[pi] == '?' || p[pi] == t[ti]):
			pi++
			ti++
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, ti
			pi++
		case star >= 0:
			pi = star + 1
			mark++
			ti = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// Check validates what can be checked without Linear: known trigger, a
// priority in range, bounded values, a rule that matches or sets
// something. The error wraps ErrInvalid and says what is wrong in words.
func (r Rule) Check() error {
	if !r.Trigger.Valid() {
		return fmt.Errorf("trigger %q is not one of new_issue, spike, regression: %w", r.Trigger, ErrInvalid)
	}
	if r.HasPriority && (r.Priority < PriorityNone || r.Priority > PriorityLow) {
		return fmt.Errorf("priority %d is not one of none, urgent, high, medium, low: %w", r.Priority, ErrInvalid)
	}
	for name, v := range map[string]string{
		"project": r.Project, "env": r.Environment, "level": r.Level, "type": r.ErrorType,
		"channel": r.Channel, "team": r.TeamKey, "assignee": r.Assignee, "linear project": r.LinearProject,
	} {
		if utf8.RuneCountInString(v) > maxRuleValue {
			return fmt.Errorf("%s is longer than %d characters: %w", name, maxRuleValue, ErrInvalid)
		}
		if strings.ContainsAny(v, "\n\r\t\"“”") {
			return fmt.Errorf("%s holds a line break, tab or quote: %w", name, ErrInvalid)
		}
	}
	if r.Channel != "" && !channelIDRe(r.Channel) {
		return fmt.Errorf("channel %q is not a Slack channel ID (C…, G…): %w", r.Channel, ErrInvalid)
	}
	if len(r.Labels) > maxRuleLabels {
		return fmt.Errorf("a rule adds at most %d labels, not %d: %w", maxRuleLabels, len(r.Labels), ErrInvalid)
	}
	for _, l := range r.Labels {
		if strings.TrimSpace(l) == "" || l != strings.TrimSpace(l) || strings.ContainsAny(l, ",\n\r\t\"“”") ||
			utf8.RuneCountInString(l) > maxRuleValue {
			return fmt.Errorf("label %q is empty, padded, too long or holds a comma: %w", l, ErrInvalid)
		}
	}
	if (r.Assignee != "" || len(r.Labels) > 0 || r.LinearProject != "" || r.Auto) && r.TeamKey == "" {
		// Labels, members and projects are a team's; without a team the
		// default team may change under the rule.
		return fmt.Errorf("a rule that sets assignee, labels, project or auto needs team=KEY too: %w", ErrInvalid)
	}
	if !r.sets() {
		return fmt.Errorf("the rule sets nothing: give at least one of channel, team, assignee, priority, labels, project, auto: %w", ErrInvalid)
	}
	return nil
}

func (r Rule) sets() bool {
	return r.Channel != "" || r.TeamKey != "" || r.Assignee != "" || r.HasPriority ||
		len(r.Labels) > 0 || r.LinearProject != "" || r.Auto
}

// channelIDRe reports whether s looks like a Slack channel ID.
func channelIDRe(s string) bool {
	if len(s) < 2 || (s[0] != 'C' && s[0] != 'G') {
		return false
	}
	for _, c := range s[1:] {
		if (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// CheckRules checks every rule (Rule.Check) and the list's length; the
// error names the rule by its 1-based number.
func CheckRules(rules []Rule) error {
	if len(rules) > MaxRules {
		return fmt.Errorf("at most %d rules, not %d: %w", MaxRules, len(rules), ErrInvalid)
	}
	for i, r := range rules {
		if err := r.Check(); err != nil {
			return fmt.Errorf("rule %d: %w", i+1, err)
		}
	}
	return nil
}

// Label is a Linear issue label an issue of a team may carry.
type Label struct {
	ID   string
	Name string
	// Workspace marks a workspace label (Linear's IssueLabel.team is
	// null): every team may use it.
	Workspace bool
}

// Project is a Linear project.
type Project struct {
	ID   string
	Name string
}

// TeamCatalog is what checking a rule needs of Linear beyond Tracker: a
// team's labels and projects. linear.Client and linear.Cached implement it.
type TeamCatalog interface {
	// TeamLabels lists the labels the team's issues may carry: the team's
	// own and the workspace's.
	TeamLabels(ctx context.Context, teamID string) ([]Label, error)
	TeamProjects(ctx context.Context, teamID string) ([]Project, error)
}

// TeamLabels lists the labels an issue of the team may carry (its own and
// the workspace's), for the create modal; none when the Linear client
// cannot list them.
func (s *Service) TeamLabels(ctx context.Context, teamID string) ([]Label, error) {
	if s.tracker == nil {
		return nil, ErrNotConnected
	}
	cat, ok := s.tracker.(TeamCatalog)
	if !ok {
		return nil, nil
	}
	return cat.TeamLabels(ctx, teamID)
}

// TeamProjects lists the team's projects, for the create modal; none when
// the Linear client cannot list them.
func (s *Service) TeamProjects(ctx context.Context, teamID string) ([]Project, error) {
	if s.tracker == nil {
		return nil, ErrNotConnected
	}
	cat, ok := s.tracker.(TeamCatalog)
	if !ok {
		return nil, nil
	}
	return cat.TeamProjects(ctx, teamID)
}

// RuleStore keeps the rule list; store.DB implements it on both dialects,
// shared by every replica.
type RuleStore interface {
	// RuleSet returns the list and its version (0 and no rules at first).
	RuleSet(ctx context.Context) (RuleSet, error)
	// ReplaceRules replaces the whole list in one transaction if its
	// version is still expect (or expect is AnyVersion), and returns the
	// new set; otherwise nothing changes and the error wraps ErrConflict.
	ReplaceRules(ctx context.Context, rules []Rule, expect int64) (RuleSet, error)
}

// Rules returns the stored rule list and its version. Without a rule
// store (a Service built on a Store that keeps no rules) it is empty.
func (s *Service) Rules(ctx context.Context) (RuleSet, error) {
	if s.rules == nil {
		return RuleSet{}, nil
	}
	return s.rules.RuleSet(ctx)
}

// SaveRules checks rules (CheckRules, then against Linear: CheckRulesInLinear)
// and stores them as the whole list if its version is still expect (or
// expect is AnyVersion). It returns the stored set: team keys and label
// names as Linear spells them.
func (s *Service) SaveRules(ctx context.Context, rules []Rule, expect int64) (RuleSet, error) {
	if s.rules == nil {
		return RuleSet{}, fmt.Errorf("save rules: this store keeps no rules: %w", ErrInvalid)
	}
	if err := CheckRules(rules); err != nil {
		return RuleSet{}, err
	}
	checked, err := s.CheckRulesInLinear(ctx, rules)
	if err != nil {
		return RuleSet{}, err
	}
	set, err := s.rules.ReplaceRules(ctx, checked, expect)
	if err != nil {
		s.forgetRules()
		return RuleSet{}, fmt.Errorf("save rules: %w", err)
	}
	s.holdRules(set)
	s.log.InfoContext(ctx, "routing rules saved", "rules", len(set.Rules), "version", set.Version)
	return set, nil
}

// CheckRulesInLinear checks what each rule names against Linear: the team
// key exists, the labels are the team's, the assignee is a team member, the
// project is the team's. It returns the rules with the team key and label
// names spelled as Linear spells them. A mismatch wraps ErrInvalid and says
// which rule names what, and what there is instead; a Linear failure is
// returned as it is (ErrUnavailable, ErrRateLimited…), so nothing is saved
// unchecked.
func (s *Service) CheckRulesInLinear(ctx context.Context, rules []Rule) ([]Rule, error) {
	out := make([]Rule, len(rules))
	copy(out, rules)
	needsLinear := slices.ContainsFunc(rules, func(r Rule) bool { return r.TeamKey != "" })
	if !needsLinear {
		return out, nil
	}
	if s.tracker == nil {
		return nil, fmt.Errorf("check rules: %w", ErrNotConnected)
	}
	teams, err := s.tracker.Teams(ctx)
	if err != nil {
		return nil, fmt.Errorf("check rules: teams: %w", err)
	}
	c := ruleChecker{s: s, members: map[string][]User{}, labels: map[string][]Label{}, projects: map[string][]Project{}}
	for i := range out {
		if err := c.check(ctx, teams, &out[i]); err != nil {
			return nil, fmt.Errorf("rule %d: %w", i+1, err)
		}
	}
	return out, nil
}

// ruleChecker reads each team's members, labels and projects once per
// CheckRulesInLinear.
type ruleChecker struct {
	s        *Service
	members  map[string][]User
	labels   map[string][]Label
	projects map[string][]Project
}

func (c ruleChecker) check(ctx context.Context, teams []Team, r *Rule) error {
	if r.TeamKey == "" {
		return nil
	}
	i := slices.IndexFunc(teams, func(t Team) bool { return strings.EqualFold(t.Key, r.TeamKey) })
	if i < 0 {
		keys := make([]string, len(teams))
		for j, t := range teams {
			keys[j] = t.Key
		}
		return fmt.Errorf("no Linear team has the key %s (team keys: %s): %w", r.TeamKey, wordList(keys), ErrInvalid)
	}
	team := teams[i]
	r.TeamKey = team.Key
	if r.Assignee != "" {
		ms, ok := c.members[team.ID]
		if !ok {
			var err error
			if ms, err = c.s.tracker.TeamMembers(ctx, team.ID); err != nil {
				return fmt.Errorf("members of %s: %w", team.Key, err)
			}
			c.members[team.ID] = ms
		}
		if !slices.ContainsFunc(ms, func(u User) bool { return u.Is(r.Assignee) }) {
			return fmt.Errorf("%s is not a member of team %s (give a member's email, name or display name): %w", r.Assignee, team.Key, ErrInvalid)
		}
	}
	if len(r.Labels) == 0 && r.LinearProject == "" {
		return nil
	}
	cat, ok := c.s.tracker.(TeamCatalog)
	if !ok {
		return fmt.Errorf("labels and projects cannot be checked with this Linear client: %w", ErrInvalid)
	}
	if len(r.Labels) > 0 {
		ls, ok := c.labels[team.ID]
		if !ok {
			var err error
			if ls, err = cat.TeamLabels(ctx, team.ID); err != nil {
				return fmt.Errorf("labels of %s: %w", team.Key, err)
			}
			c.labels[team.ID] = ls
		}
		fixed := make([]string, len(r.Labels))
		for j, want := range r.Labels {
			k := slices.IndexFunc(ls, func(l Label) bool { return strings.EqualFold(l.Name, want) })
			if k < 0 {
				return fmt.Errorf("team %s has no label %s (%s): %w", team.Key, want, labelWords(ls), ErrInvalid)
			}
			fixed[j] = ls[k].Name
		}
		r.Labels = fixed
	}
	if r.LinearProject != "" {
		ps, ok := c.projects[team.ID]
		if !ok {
			var err error
			if ps, err = cat.TeamProjects(ctx, team.ID); err != nil {
				return fmt.Errorf("projects of %s: %w", team.Key, err)
			}
			c.projects[team.ID] = ps
		}
		names := make([]string, len(ps))
		for j, p := range ps {
			names[j] = p.Name
		}
		k := slices.IndexFunc(names, func(n string) bool { return strings.EqualFold(n, r.LinearProject) })
		if k < 0 {
			return fmt.Errorf("team %s has no project %s (its projects: %s): %w", team.Key, r.LinearProject, wordList(names), ErrInvalid)
		}
		r.LinearProject = names[k]
	}
	return nil
}

// labelWords lists the labels a team's issues may carry, the team's own
// apart from the workspace's, for an error message.
func labelWords(ls []Label) string {
	var own, ws []string
	for _, l := range ls {
		if l.Workspace {
			ws = append(ws, l.Name)
		} else {
			own = append(own, l.Name)
		}
	}
	s := "its labels: " + wordList(own)
	if len(ws) > 0 {
		s += "; workspace labels: " + wordList(ws)
	}
	return s
}

// wordList joins names for an error message, at most 20 of them.
func wordList(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	if len(names) > 20 {
		return strings.Join(names[:20], ", ") + ", …"
	}
	return strings.Join(names, ", ")
}

// Is reports whether who (an email, name or display name, any case) names u.
func (u User) Is(who string) bool {
	who = strings.TrimSpace(who)
	return who != "" && (strings.EqualFold(u.Email, who) || strings.EqualFold(u.Name, who) || strings.EqualFold(u.DisplayName, who))
}

// RuleProblem is what a refused rule save says to a person: the words of
// an ErrInvalid (which name the rule and what is wrong), else UserMessage.
func RuleProblem(err error) string {
	switch {
	case errors.Is(err, ErrInvalid):
		return strings.TrimSuffix(err.Error(), ": "+ErrInvalid.Error())
	case errors.Is(err, ErrConflict):
		return "Someone changed the rules meanwhile. List them again and retry."
	}
	return UserMessage(err)
}
