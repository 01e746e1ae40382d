package alert_test

import (
	"context"
	"testing"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/store"
	"github.com/proliferate/proliferate-linear/store/storetest"
)

// gatedRules is a store whose next rule read, once armed, reads the list
// at once but answers only when released: a read under way across a save.
type gatedRules struct {
	*store.DB
	read, release chan struct{} // nil: not armed.
}

func (g *gatedRules) RuleSet(ctx context.Context) (alert.RuleSet, error) {
	set, err := g.DB.RuleSet(ctx)
	if g.read != nil {
		read, release := g.read, g.release
		g.read, g.release = nil, nil
		close(read)
		<-release
	}
	return set, err
}

// A rule read that began before a save and ends after it does not put
// the old list back: the next arriving alert sees the saved one at once,
// not a TTL later.
func TestSavedRulesWinOverAReadUnderWay(t *testing.T) {
	t.Parallel()
	g := &gatedRules{DB: storetest.SQLite(t)}
	svc := alert.NewService(g, nil, nil)
	ctx := context.Background()
	if _, err := svc.SaveRules(ctx, []alert.Rule{mustRule(t, "level=warning -> priority=low")}, 0); err != nil {
		t.Fatal(err)
	}
	svc.ForgetRules() // the TTL ran out: the next alert reads the list.
	g.read, g.release = make(chan struct{}), make(chan struct{})
	read, release := g.read, g.release
	stale := make(chan alert.RuleSet, 1)
	go func() {
		set, err := svc.RecentRules(ctx)
		if err != nil {
			t.Error(err)
		}
		stale <- set
	}()
	<-read // version 1 read; its answer is still on its way.
	saved, err := svc.SaveRules(ctx, []alert.Rule{mustRule(t, "level=fatal -> priority=urgent")}, 1)
	if err != nil {
		t.Fatal(err)
	}
	close(release)
	if old := <-stale; old.Version != 1 {
		t.Fatalf("the read under way returned version %d, want 1 (it began before the save)", old.Version)
	}
	got, err := svc.RecentRules(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != saved.Version || len(got.Rules) != 1 || got.Rules[0].Priority != saved.Rules[0].Priority {
		t.Fatalf("after the save, arriving alerts see version %d %+v; want the saved version %d", got.Version, got.Rules, saved.Version)
	}
}
