package linear

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/proliferate/proliferate-linear/alert"
)

// searchTracker answers SearchIssues with one issue named after the query
// and counts the calls.
type searchTracker struct {
	alert.Tracker
	calls atomic.Int32
	err   error
}

func (f *searchTracker) SearchIssues(ctx context.Context, query string, limit int) ([]alert.Issue, error) {
	f.calls.Add(1)
	if f.err != nil {
		return nil, f.err
	}
	return []alert.Issue{{ID: "id-" + query, Title: query}}, nil
}

func TestCachedSearch(t *testing.T) {
	type call struct {
		advance time.Duration
		query   string
		limit   int
	}
	tests := []struct {
		name      string
		calls     []call
		wantCalls int32
	}{
		{name: "repeat within 10 s", calls: []call{{0, "boom", 10}, {9 * time.Second, "boom", 10}}, wantCalls: 1},
		{name: "case and space ignored", calls: []call{{0, "Boom", 10}, {time.Second, " boom ", 10}}, wantCalls: 1},
		{name: "past 10 s asks again", calls: []call{{0, "boom", 10}, {11 * time.Second, "boom", 10}}, wantCalls: 2},
		{name: "other query", calls: []call{{0, "boom", 10}, {0, "bang", 10}}, wantCalls: 2},
		{name: "other limit", calls: []call{{0, "boom", 10}, {0, "boom", 5}}, wantCalls: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inner := &searchTracker{}
			c := NewCached(inner, time.Hour) // the search TTL is its own.
			now := time.Unix(1_700_000_000, 0)
			c.now = func() time.Time { return now }
			for _, cl := range tt.calls {
				now = now.Add(cl.advance)
				got, err := c.SearchIssues(context.Background(), cl.query, cl.limit)
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != 1 {
					t.Fatalf("SearchIssues(%q) = %v, want one issue", cl.query, got)
				}
			}
			if got := inner.calls.Load(); got != tt.wantCalls {
				t.Errorf("inner SearchIssues calls = %d, want %d", got, tt.wantCalls)
			}
		})
	}
}

func TestCachedSearchErrorsNotCached(t *testing.T) {
	inner := &searchTracker{err: alert.Temporary(alert.ErrRateLimited, time.Minute)}
	c := NewCached(inner, 0)
	for range 2 {
		if _, err := c.SearchIssues(context.Background(), "boom", 10); !errors.Is(err, alert.ErrRateLimited) {
			t.Fatalf("err = %v, want ErrRateLimited", err)
		}
	}
	if got := inner.calls.Load(); got != 2 {
		t.Errorf("inner SearchIssues calls = %d, want 2", got)
	}
}

// TestCachedSearchForgetsOldQueries: search keys are user text, so expired
// answers are dropped rather than piling up.
func TestCachedSearchForgetsOldQueries(t *testing.T) {
	c := NewCached(&searchTracker{}, 0)
	now := time.Unix(1_700_000_000, 0)
	c.now = func() time.Time { return now }
	for _, q := range []string{"a", "b", "c", "d"} {
		if _, err := c.SearchIssues(context.Background(), q, 10); err != nil {
			t.Fatal(err)
		}
		now = now.Add(SearchCacheTTL)
	}
	c.mu.Lock()
	var keys []string
	for k := range c.entries {
		keys = append(keys, k)
	}
	c.mu.Unlock()
	if diff := cmp.Diff([]string{"search:10:d"}, keys); diff != "" {
		t.Errorf("cache keys (-want +got):\n%s", diff)
	}
}
