package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/store"
	"github.com/proliferate/proliferate-linear/store/storetest"
)

var sampleRules = []alert.Rule{
	{Environment: "production", ErrorType: "*TimeoutError", TeamKey: "ENG", HasPriority: true,
		Priority: alert.PriorityUrgent, Labels: []string{"timeout", "needs investigation"}},
	{Project: "billing", Level: "fatal", Trigger: alert.TriggerRegression, Channel: "C0BILLING",
		TeamKey: "OPS", Assignee: "ana@acme.com", LinearProject: "Q3 Reliability", Auto: true},
	{ErrorType: "*", HasPriority: true, Priority: alert.PriorityNone},
}

func TestRulesReplaceAndRead(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, db *store.DB, _ *fakeClock) {
		ctx := context.Background()
		set, err := db.RuleSet(ctx)
		if err != nil || set.Version != 0 || len(set.Rules) != 0 {
			t.Fatalf("fresh store: %+v, %v", set, err)
		}
		saved, err := db.ReplaceRules(ctx, sampleRules, 0)
		if err != nil || saved.Version != 1 {
			t.Fatalf("ReplaceRules: %+v, %v", saved, err)
		}
		got, err := db.RuleSet(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(alert.RuleSet{Version: 1, Rules: sampleRules}, got); diff != "" {
			t.Fatalf("read back (-want +got):\n%s", diff)
		}
		// Reordered and shortened: the whole list is replaced.
		next := []alert.Rule{sampleRules[2], sampleRules[0]}
		if _, err := db.ReplaceRules(ctx, next, 1); err != nil {
			t.Fatal(err)
		}
		got, _ = db.RuleSet(ctx)
		if diff := cmp.Diff(alert.RuleSet{Version: 2, Rules: next}, got); diff != "" {
			t.Fatalf("after replace (-want +got):\n%s", diff)
		}
		if _, err := db.ReplaceRules(ctx, nil, alert.AnyVersion); err != nil {
			t.Fatal(err)
		}
		got, _ = db.RuleSet(ctx)
		if got.Version != 3 || len(got.Rules) != 0 {
			t.Fatalf("emptied: %+v", got)
		}
	})
}

func TestRulesStaleOrBadSaveChangesNothing(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, db *store.DB, _ *fakeClock) {
		ctx := context.Background()
		if _, err := db.ReplaceRules(ctx, sampleRules, 0); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ReplaceRules(ctx, sampleRules[:1], 0); !errors.Is(err, alert.ErrConflict) {
			t.Fatalf("stale save: %v, want ErrConflict", err)
		}
		bad := append([]alert.Rule{}, sampleRules...)
		bad = append(bad, alert.Rule{Trigger: "daily", TeamKey: "ENG"})
		if _, err := db.ReplaceRules(ctx, bad, 1); !errors.Is(err, alert.ErrInvalid) {
			t.Fatalf("bad rule: %v, want ErrInvalid", err)
		}
		got, _ := db.RuleSet(ctx)
		if diff := cmp.Diff(alert.RuleSet{Version: 1, Rules: sampleRules}, got); diff != "" {
			t.Fatalf("changed (-want +got):\n%s", diff)
		}
	})
}

// Two replicas saving from the same version at once: exactly one wins, the
// other is told of the conflict, and both then read the winner's list.
func TestRulesSharedByReplicas(t *testing.T) {
	t.Parallel()
	for _, dc := range storetest.Dialects(t) {
		t.Run(dc.Name, func(t *testing.T) {
			ctx := context.Background()
			url := dc.MigratedURL(t)
			a, b := storetest.OpenURL(t, url), storetest.OpenURL(t, url)
			lists := [][]alert.Rule{sampleRules[:1], sampleRules[1:]}
			errs := make([]error, 2)
			var wg sync.WaitGroup
			for i, db := range []*store.DB{a, b} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, errs[i] = db.ReplaceRules(ctx, lists[i], 0)
				}()
			}
			wg.Wait()
			won := -1
			for i, err := range errs {
				switch {
				case err == nil:
					if won >= 0 {
						t.Fatal("both saves from version 0 won")
					}
					won = i
				case !errors.Is(err, alert.ErrConflict):
					t.Fatalf("save %d: %v", i, err)
				}
			}
			if won < 0 {
				t.Fatalf("no save won: %v", errs)
			}
			for _, db := range []*store.DB{a, b} {
				got, err := db.RuleSet(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(alert.RuleSet{Version: 1, Rules: lists[won]}, got); diff != "" {
					t.Fatalf("replica reads (-want +got):\n%s", diff)
				}
			}
		})
	}
}
