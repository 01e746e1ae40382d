package alert_test

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/linear"
	"github.com/proliferate/proliferate-linear/linear/fakelinear"
	"github.com/proliferate/proliferate-linear/store/storetest"
)

func mustRule(t *testing.T, s string) alert.Rule {
	t.Helper()
	r, err := alert.ParseRule(s)
	if err != nil {
		t.Fatalf("ParseRule(%q): %v", s, err)
	}
	return r
}

// SaveRules checks each rule's team, assignee, labels and project against
// (fake) Linear over GraphQL, refuses in words, and stores nothing then.
func TestSaveRulesCheckedAgainstLinear(t *testing.T) {
	t.Parallel()
	for _, dc := range storetest.Dialects(t) {
		t.Run(dc.Name, func(t *testing.T) {
			fl := fakelinear.New(fakelinear.WithSeed())
			t.Cleanup(fl.Close)
			lc := linear.NewCached(linear.New(fl.URL(), &http.Client{Timeout: 10 * time.Second,
				Transport: &linear.APIKeyTransport{Key: fakelinear.APIKey}}, nil), time.Minute)
			db := dc.Open(t)
			svc := alert.NewService(db, lc, nil)
			ctx := context.Background()

			good := []alert.Rule{
				mustRule(t, "env=production type=*TimeoutError -> team=eng priority=urgent labels=TIMEOUT,backend assignee=bob@acme.test"),
				mustRule(t, `project=billing -> team=OPS project="on-call" assignee=cy labels=Customer-Reported auto`),
				mustRule(t, "level=warning -> priority=low"),
			}
			set, err := svc.SaveRules(ctx, good, 0)
			if err != nil {
				t.Fatalf("SaveRules: %v", err)
			}
			if set.Version != 1 || set.Rules[0].TeamKey != "ENG" || !reflect.DeepEqual(set.Rules[0].Labels, []string{"timeout", "backend"}) ||
				set.Rules[1].LinearProject != "On-call" || !reflect.DeepEqual(set.Rules[1].Labels, []string{"customer-reported"}) {
				t.Fatalf("saved as Linear spells it? %+v", set)
			}
			stored, err := svc.Rules(ctx)
			if err != nil || !reflect.DeepEqual(stored, set) {
				t.Fatalf("Rules = %+v, %v; want %+v", stored, err, set)
			}

			cases := []struct{ rule, want string }{
				{"type=* -> team=ENGG", "rule 2: no Linear team has the key ENGG (team keys: ENG, OPS)"},
				{"type=* -> team=ENG labels=bug,incident", "rule 2: team ENG has no label incident (its labels: backend, Bug, needs-investigation, timeout; workspace labels: customer-reported)"},
				{"type=* -> team=OPS assignee=bob@acme.test", "rule 2: bob@acme.test is not a member of team OPS"},
				{"type=* -> team=ENG assignee=dee", "rule 2: dee is not a member of team ENG"}, // deactivated.
				{`type=* -> team=ENG project="On-call"`, "rule 2: team ENG has no project On-call (its projects: Q3 Reliability)"},
			}
			for _, c := range cases {
				_, err := svc.SaveRules(ctx, []alert.Rule{good[2], mustRule(t, c.rule)}, 1)
				if !errors.Is(err, alert.ErrInvalid) || !strings.Contains(err.Error(), c.want) {
					t.Errorf("%s: %v, want ErrInvalid saying %q", c.rule, err, c.want)
				}
			}
			if _, err := svc.SaveRules(ctx, good[:1], 0); !errors.Is(err, alert.ErrConflict) {
				t.Errorf("stale save: %v, want ErrConflict", err)
			}
			if after, _ := svc.Rules(ctx); !reflect.DeepEqual(after, set) {
				t.Fatalf("a refused save changed the rules: %+v", after)
			}

			fl.FailNext("listTeamLabels", 10, fakelinear.ServerError)
			if _, err := svc.SaveRules(ctx, good, 1); !errors.Is(err, alert.ErrUnavailable) {
				t.Errorf("Linear down: %v, want ErrUnavailable (nothing saved unchecked)", err)
			}
		})
	}
}

func TestSaveRulesWithoutLinear(t *testing.T) {
	t.Parallel()
	svc := alert.NewService(storetest.SQLite(t), nil, nil)
	ctx := context.Background()
	if _, err := svc.SaveRules(ctx, []alert.Rule{{ErrorType: "*", TeamKey: "ENG"}}, 0); !errors.Is(err, alert.ErrNotConnected) {
		t.Fatalf("team without Linear: %v, want ErrNotConnected", err)
	}
	// A rule that names nothing of Linear's needs no check.
	if _, err := svc.SaveRules(ctx, []alert.Rule{{Level: "warning", HasPriority: true, Priority: alert.PriorityLow}}, 0); err != nil {
		t.Fatal(err)
	}
}
