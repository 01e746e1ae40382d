package alert_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/proliferate/proliferate-linear/alert"
)

func TestMatchEveryMatcherAndGlob(t *testing.T) {
	t.Parallel()
	a := alert.Alert{Project: "checkout-api", Environment: "production", Level: "error",
		ErrorType: "ReadTimeoutError", Trigger: alert.TriggerSpike}
	cases := []struct {
		name string
		rule alert.Rule
		want bool
	}{
		{"project exact", alert.Rule{Project: "checkout-api"}, true},
		{"project other", alert.Rule{Project: "billing"}, false},
		{"project glob", alert.Rule{Project: "checkout-*"}, true},
		{"env exact any case", alert.Rule{Environment: "Production"}, true},
		{"env other", alert.Rule{Environment: "staging"}, false},
		{"level", alert.Rule{Level: "error"}, true},
		{"level other", alert.Rule{Level: "fatal"}, false},
		{"type suffix glob", alert.Rule{ErrorType: "*TimeoutError"}, true},
		{"type prefix glob", alert.Rule{ErrorType: "Read*"}, true},
		{"type inner glob", alert.Rule{ErrorType: "*Timeout*"}, true},
		{"type question mark", alert.Rule{ErrorType: "ReadTimeoutErro?"}, true},
		{"type glob no match", alert.Rule{ErrorType: "*ValueError"}, false},
		{"type exact is whole", alert.Rule{ErrorType: "TimeoutError"}, false},
		{"type star matches all", alert.Rule{ErrorType: "*"}, true},
		{"trigger", alert.Rule{Trigger: alert.TriggerSpike}, true},
		{"trigger other", alert.Rule{Trigger: alert.TriggerRegression}, false},
		{"all matchers", alert.Rule{Project: "checkout-api", Environment: "production", Level: "error",
			ErrorType: "*Error", Trigger: alert.TriggerSpike}, true},
		{"one of all fails", alert.Rule{Project: "checkout-api", Environment: "production", Level: "warning",
			ErrorType: "*Error", Trigger: alert.TriggerSpike}, false},
		{"no matchers", alert.Rule{TeamKey: "ENG"}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.rule.Matches(a); got != c.want {
				t.Errorf("%+v matches %+v = %v, want %v", c.rule, a, got, c.want)
			}
		})
	}
}

func TestMatchEmptyFieldMatchesOnlyStar(t *testing.T) {
	t.Parallel()
	a := alert.Alert{ErrorType: ""}
	if !(alert.Rule{ErrorType: "*"}).Matches(a) {
		t.Error("type=* should match an alert without a type")
	}
	if (alert.Rule{ErrorType: "?*"}).Matches(a) {
		t.Error("type=?* should need a character")
	}
	if (alert.Rule{ErrorType: "*Error"}).Matches(a) {
		t.Error("*Error matched an empty type")
	}
}

func TestMatchFirstWinsAndFallback(t *testing.T) {
	t.Parallel()
	rules := []alert.Rule{
		{Environment: "production", ErrorType: "*TimeoutError", TeamKey: "OPS"},
		{Environment: "production", TeamKey: "ENG", HasPriority: true, Priority: alert.PriorityHigh},
		{ErrorType: "*TimeoutError", TeamKey: "NET"},
		{Level: "warning", HasPriority: true, Priority: alert.PriorityLow}, // no team: the default's.
	}
	cases := []struct {
		name     string
		a        alert.Alert
		wantN    int
		wantTeam string
	}{
		{"first of two that match", alert.Alert{Environment: "production", ErrorType: "DBTimeoutError"}, 1, "OPS"},
		{"second", alert.Alert{Environment: "production", ErrorType: "KeyError"}, 2, "ENG"},
		{"third", alert.Alert{Environment: "staging", ErrorType: "DBTimeoutError"}, 3, "NET"},
		{"rule without team keeps the default", alert.Alert{Environment: "staging", Level: "warning"}, 4, "DEF"},
		{"no match falls back", alert.Alert{Environment: "staging", ErrorType: "KeyError", Level: "error"}, 0, "DEF"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := alert.Match(rules, c.a, "DEF")
			if got.N != c.wantN || got.TeamKey != c.wantTeam {
				t.Fatalf("Match = rule %d team %q, want rule %d team %q", got.N, got.TeamKey, c.wantN, c.wantTeam)
			}
			if c.wantN > 0 && !reflect.DeepEqual(got.Rule, rules[c.wantN-1]) {
				t.Errorf("Route.Rule = %+v, want rule %d", got.Rule, c.wantN)
			}
			if c.wantN == 0 && !reflect.DeepEqual(got.Rule, alert.Rule{}) {
				t.Errorf("fallback carries a rule: %+v", got.Rule)
			}
		})
	}
	if got := alert.Match(nil, alert.Alert{}, ""); got.N != 0 || got.TeamKey != "" {
		t.Errorf("no rules, no default = %+v", got)
	}
}

func TestGlobIsNotExponential(t *testing.T) {
	t.Parallel()
	// A backtracking matcher takes ages on this; ours is linear-ish.
	r := alert.Rule{ErrorType: strings.Repeat("*a", 30) + "b"}
	if r.Matches(alert.Alert{ErrorType: strings.Repeat("a", 200)}) {
		t.Fatal("matched without a b")
	}
}

func TestParseRule(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   string
		want alert.Rule
	}{
		{"env=production type=*TimeoutError -> team=ENG priority=urgent labels=timeout,backend",
			alert.Rule{Environment: "production", ErrorType: "*TimeoutError", TeamKey: "ENG",
				HasPriority: true, Priority: alert.PriorityUrgent, Labels: []string{"timeout", "backend"}}},
		{"project=checkout level=fatal trigger=regression -> team=eng assignee=ana@acme.com project=\"Q3 Reliability\" auto",
			alert.Rule{Project: "checkout", Level: "fatal", Trigger: alert.TriggerRegression, TeamKey: "ENG",
				Assignee: "ana@acme.com", LinearProject: "Q3 Reliability", Auto: true}},
		{"environment=staging error_type=KeyError->priority=none",
			alert.Rule{Environment: "staging", ErrorType: "KeyError", HasPriority: true, Priority: alert.PriorityNone}},
		{"type=* -> channel=<#C0123ABC|alerts> team=ENG label=a priority=3",
			alert.Rule{ErrorType: "*", Channel: "C0123ABC", TeamKey: "ENG", Labels: []string{"a"}, HasPriority: true, Priority: alert.PriorityMedium}},
		{"TYPE=x -> TEAM=ops auto=no priority=Low",
			alert.Rule{ErrorType: "x", TeamKey: "OPS", HasPriority: true, Priority: alert.PriorityLow}},
		{"env=“prod eu” -> team=ENG labels=“needs investigation”,Bug,bug",
			alert.Rule{Environment: "prod eu", TeamKey: "ENG", Labels: []string{"needs investigation", "Bug"}}},
		{`type="a->b" -> team=ENG assignee=@ana`,
			alert.Rule{ErrorType: "a->b", TeamKey: "ENG", Assignee: "ana"}},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			got, err := alert.ParseRule(c.in)
			if err != nil {
				t.Fatalf("ParseRule: %v", err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("ParseRule =\n %+v, want\n %+v", got, c.want)
			}
			back, err := alert.ParseRule(alert.FormatRule(got))
			if err != nil || !reflect.DeepEqual(back, got) {
				t.Fatalf("round trip of %q: %+v, %v", alert.FormatRule(got), back, err)
			}
		})
	}
}

func TestFormatRule(t *testing.T) {
	t.Parallel()
	r := alert.Rule{Environment: "production", ErrorType: "*TimeoutError", Channel: "C1", TeamKey: "ENG",
		HasPriority: true, Priority: alert.PriorityUrgent, Labels: []string{"timeout", "needs investigation"},
		LinearProject: "Q3", Auto: true}
	want := `env=production type=*TimeoutError -> channel=C1 team=ENG priority=urgent labels="timeout,needs investigation" project=Q3 auto`
	if got := alert.FormatRule(r); got != want {
		t.Fatalf("FormatRule =\n %s, want\n %s", got, want)
	}
}

func TestParseRuleErrorsInWords(t *testing.T) {
	t.Parallel()
	cases := []struct{ in, want string }{
		{"", "there is no `->`"},
		{"env=production team=ENG", "there is no `->`"},
		{"-> team=ENG", "nothing to match before `->`"},
		{"env=production ->", "nothing to do after `->`"},
		{"env=production -> team=ENG -> priority=high", "one `->`"},
		{"colour=red -> team=ENG", `unknown key "colour" before`},
		{"env=prod -> owner=ana", `unknown key "owner" after`},
		{"env=prod -> team=ENG priority=critical", "priority=critical: a priority is none, urgent, high, medium or low"},
		{"trigger=daily -> team=ENG", "a trigger is new_issue, spike or regression"},
		{"env=prod env=staging -> team=ENG", "env is given twice"},
		{"env= -> team=ENG", "env= has no value"},
		{"env -> team=ENG", `"env" is not key=value`},
		{"env=prod -> team", `"team" is not key=value`},
		{"env=prod -> team=ENG labels=a,,b", "has an empty label"},
		{`env="prod -> team=ENG`, "a quote is not closed"},
		{"env=prod -> channel=#alerts", "give the channel's ID"},
		{"env=prod -> labels=bug", "needs team=KEY too"},
		{"env=prod -> auto=maybe", "auto=maybe: write auto, auto=yes or auto=no"},
		{"env=prod -> auto=no", "the rule sets nothing"},
		{"=x -> team=ENG", "has no key"},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			_, err := alert.ParseRule(c.in)
			if err == nil {
				t.Fatalf("ParseRule(%q) succeeded", c.in)
			}
			if !errors.Is(err, alert.ErrInvalid) {
				t.Errorf("error does not wrap ErrInvalid: %v", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not say %q", err, c.want)
			}
		})
	}
}

func TestCheckRules(t *testing.T) {
	t.Parallel()
	ok := alert.Rule{ErrorType: "*", TeamKey: "ENG"}
	if err := alert.CheckRules([]alert.Rule{ok}); err != nil {
		t.Fatal(err)
	}
	many := make([]alert.Rule, alert.MaxRules+1)
	for i := range many {
		many[i] = ok
	}
	cases := []struct {
		name  string
		rules []alert.Rule
		want  string
	}{
		{"too many", many, "at most 50 rules"},
		{"bad trigger names the rule", []alert.Rule{ok, {Trigger: "x", TeamKey: "ENG"}}, "rule 2: trigger"},
		{"priority out of range", []alert.Rule{{HasPriority: true, Priority: 9}}, "priority 9"},
		{"bad channel", []alert.Rule{{Channel: "alerts"}}, "not a Slack channel ID"},
		{"padded label", []alert.Rule{{TeamKey: "ENG", Labels: []string{" a"}}}, "label"},
		{"quote in value", []alert.Rule{{TeamKey: "ENG", Environment: `a"b`}}, "quote"},
		{"sets nothing", []alert.Rule{{Environment: "prod"}}, "sets nothing"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := alert.CheckRules(c.rules)
			if !errors.Is(err, alert.ErrInvalid) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("CheckRules = %v, want ErrInvalid saying %q", err, c.want)
			}
		})
	}
}

func FuzzParseRule(f *testing.F) {
	for _, s := range []string{
		"env=production type=*TimeoutError -> team=ENG priority=urgent labels=timeout,backend",
		`project="a b" -> team=ENG project="Q3 -> x" auto`,
		"type=* -> channel=<#C1|x> priority=0",
		"env=“x” -> team=e",
		"-> ->", `"`, "=",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := alert.ParseRule(s)
		if err != nil {
			if !errors.Is(err, alert.ErrInvalid) {
				t.Fatalf("error without ErrInvalid: %v", err)
			}
			return
		}
		if err := r.Check(); err != nil {
			t.Fatalf("parsed rule fails Check: %v", err)
		}
		text := alert.FormatRule(r)
		back, err := alert.ParseRule(text)
		if err != nil {
			t.Fatalf("ParseRule(FormatRule(%q)) = %q: %v", s, text, err)
		}
		if !reflect.DeepEqual(back, r) {
			t.Fatalf("round trip of %q via %q:\n %+v\n %+v", s, text, r, back)
		}
	})
}
