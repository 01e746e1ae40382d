package bot

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/proliferate/proliferate-linear/alert"
)

// ruleStore is the in-memory store with the routing rules too.
type ruleStore struct {
	*memStore
	mu  sync.Mutex
	set alert.RuleSet
}

func (s *ruleStore) RuleSet(context.Context) (alert.RuleSet, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return alert.RuleSet{Version: s.set.Version, Rules: append([]alert.Rule(nil), s.set.Rules...)}, nil
}

func (s *ruleStore) ReplaceRules(_ context.Context, rules []alert.Rule, expect int64) (alert.RuleSet, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if expect != alert.AnyVersion && expect != s.set.Version {
		return alert.RuleSet{}, fmt.Errorf("version %d: %w", expect, alert.ErrConflict)
	}
	s.set = alert.RuleSet{Version: s.set.Version + 1, Rules: append([]alert.Rule(nil), rules...)}
	return s.set, nil
}

// catalogTracker is memTracker with team labels and projects.
type catalogTracker struct{ *memTracker }

func (catalogTracker) TeamLabels(_ context.Context, teamID string) ([]alert.Label, error) {
	if teamID == "team-eng" {
		return []alert.Label{{ID: "l1", Name: "backend"}, {ID: "l2", Name: "timeout"}}, nil
	}
	return nil, nil
}

func (catalogTracker) TeamProjects(_ context.Context, teamID string) ([]alert.Project, error) {
	if teamID == "team-eng" {
		return []alert.Project{{ID: "p1", Name: "Q3 Reliability"}}, nil
	}
	return nil, nil
}

// withRules serves the bot from a Service whose store keeps rules and
// whose Linear knows labels and projects.
func withRules(rs *ruleStore) func(*harness) {
	return func(h *harness) {
		rs.memStore = h.store
		h.bot.svc = alert.NewService(rs, catalogTracker{h.tracker}, nil)
	}
}

func TestRulesCommand(t *testing.T) {
	t.Parallel()
	rs := &ruleStore{}
	h := startHarness(t, "OPS", withConnector(newMemConnector(sampleConnection())), withRules(rs))

	steps := []struct {
		user, text string
		want       []string
		rules      []string // FormatRule of each stored rule after the step.
	}{
		{"UM", "rules", []string{"*Routing rules:* none yet; every alert goes to the default team", "rules add &lt;matchers&gt; -&gt; &lt;actions&gt;"}, nil},
		{"UM", "rules add type=* -> team=ENG", []string{"Only Slack workspace admins and owners can change the routing rules"}, nil},
		{"UA", "rules add env=production type=*TimeoutError -> team=eng priority=urgent labels=timeout,backend",
			[]string{"Added rule 1.", "1. `env=production type=*TimeoutError -&gt; team=ENG priority=urgent labels=timeout,backend`"},
			[]string{"env=production type=*TimeoutError -> team=ENG priority=urgent labels=timeout,backend"}},
		{"UX", `rules add project=billing -> team=ENG project="q3 reliability" assignee=grace@example.com`,
			[]string{"Added rule 2."},
			[]string{"env=production type=*TimeoutError -> team=ENG priority=urgent labels=timeout,backend",
				`project=billing -> team=ENG assignee=grace@example.com project="Q3 Reliability"`}},
		{"UA", "rules move 2 1", []string{"Moved rule 2 to 1."},
			[]string{`project=billing -> team=ENG assignee=grace@example.com project="Q3 Reliability"`,
				"env=production type=*TimeoutError -> team=ENG priority=urgent labels=timeout,backend"}},
		// Refusals in words change nothing.
		{"UA", "rules add type=* -> team=NOPE", []string{"The rules were not changed: rule 3: no Linear team has the key NOPE (team keys: ENG, OPS)"}, nil},
		{"UA", "rules add type=* -> team=ENG labels=frontend", []string{"rule 3: team ENG has no label frontend (its labels: backend, timeout)"}, nil},
		{"UA", "rules add type=* -> team=OPS assignee=grace@example.com", []string{"rule 3: grace@example.com is not a member of team OPS"}, nil},
		{"UA", "rules add type=* -> team=OPS project=Q3", []string{"rule 3: team OPS has no project Q3 (its projects: none)"}, nil},
		{"UA", "rules add type=* -> priority=critical", []string{"The rule was not added: priority=critical: a priority is none, urgent, high, medium or low"}, nil},
		{"UA", "rules add team=ENG", []string{"there is no `-&gt;`"}, nil},
		{"UA", "rules remove 3", []string{"Give a rule number from 1 to 2"}, nil},
		{"UA", "rules move 1 x", []string{"Give a rule number from 1 to 2"}, nil},
		{"UA", "rules frobnicate", []string{"I don't know `rules frobnicate`"}, nil},
		{"UA", "rules remove 1", []string{"Removed rule 1.", "1. `env=production"},
			[]string{"env=production type=*TimeoutError -> team=ENG priority=urgent labels=timeout,backend"}},
		{"UM", "RULES list", []string{"*Routing rules* (the first that matches an alert applies; the others go to the default team `OPS`):\n1. `env=production"}, nil},
	}
	var current []string
	for _, s := range steps {
		got := h.slash(t, s.user, s.text)
		if m := missing(got.Text, s.want...); m != nil {
			t.Errorf("%s %q: reply %q lacks %q", s.user, s.text, got.Text, m)
		}
		if s.rules != nil {
			current = s.rules
		}
		set, _ := rs.RuleSet(context.Background())
		var stored []string
		for _, r := range set.Rules {
			stored = append(stored, alert.FormatRule(r))
		}
		if strings.Join(stored, "\n") != strings.Join(current, "\n") {
			t.Errorf("%s %q: stored rules\n%s\nwant\n%s", s.user, s.text, strings.Join(stored, "\n"), strings.Join(current, "\n"))
		}
	}
}

// TestCreateModalFollowsRule: the create modal starts with the matching
// rule's team, assignee and priority, and says which rule applied; an
// alert no rule matches starts with the default team and says nothing.
// The rules are saved in the store directly, as another replica would,
// after the alert's message read them (RecentRules): the click must see
// them, not that snapshot.
func TestCreateModalFollowsRule(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		rules []alert.Rule
		want  []string
		not   []string
	}{
		{"second rule matches", []alert.Rule{
			{Environment: "staging", TeamKey: "ENG"},
			{Project: "checkout", ErrorType: "*Error", TeamKey: "ENG", Assignee: "grace@example.com", HasPriority: true, Priority: alert.PriorityHigh},
		}, []string{
			`"block_id":"rule"`, `Routing rule 2 applied: project=checkout type=*Error -\u0026gt; team=ENG assignee=grace@example.com priority=high`,
			`"initial_option":{"text":{"emoji":true,"text":"Engineering (ENG)"`,
			`"initial_option":{"text":{"emoji":true,"text":"Grace Hopper"`,
			`"initial_option":{"text":{"emoji":true,"text":"High"`,
		}, nil},
		{"no rule matches", []alert.Rule{{Environment: "staging", TeamKey: "ENG"}},
			[]string{`"initial_option":{"text":{"emoji":true,"text":"Operations (OPS)"`},
			[]string{`"block_id":"rule"`, "Routing rule"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rs := &ruleStore{}
			h := startHarness(t, "OPS", withRules(rs))
			if _, err := rs.ReplaceRules(t.Context(), c.rules, 0); err != nil {
				t.Fatal(err)
			}
			h.bot.teams.put("", sampleTeams())
			h.bot.members.put("team-eng", sampleMembers())
			h.bot.members.put("team-ops", []alert.User{{ID: "u3", Name: "Linus"}})
			if _, err := h.fs.ClickButton(t.Context(), "U1", "C100", h.ts, actionCreateIssue); err != nil {
				t.Fatal(err)
			}
			v := h.waitView(t, c.want...)
			for _, n := range c.not {
				if strings.Contains(string(v.Blocks), n) {
					t.Errorf("modal has %q:\n%s", n, v.Blocks)
				}
			}
		})
	}
}
