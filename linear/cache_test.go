package linear

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/proliferate/proliferate-linear/alert"
)

// countingTracker is a Tracker fake that counts calls and can hold them
// until release is closed, so tests can pile callers onto one request.
type countingTracker struct {
	alert.Tracker
	teams, members, creates atomic.Int32
	release                 chan struct{}
	err                     error
}

func (f *countingTracker) wait(ctx context.Context) error {
	if f.release == nil {
		return nil
	}
	select {
	case <-f.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (f *countingTracker) Teams(ctx context.Context) ([]alert.Team, error) {
	f.teams.Add(1)
	if err := f.wait(ctx); err != nil {
		return nil, err
	}
	if f.err != nil {
		return nil, f.err
	}
	return []alert.Team{{ID: "t1", Key: "ENG", Name: "Engineering"}}, nil
}

func (f *countingTracker) TeamMembers(ctx context.Context, teamID string) ([]alert.User, error) {
	f.members.Add(1)
	return []alert.User{{ID: "u-" + teamID, Name: "member of " + teamID}}, nil
}

func (f *countingTracker) CreateIssue(ctx context.Context, req alert.IssueRequest) (alert.Issue, error) {
	f.creates.Add(1)
	return alert.Issue{}, f.err
}

func TestCachedTTL(t *testing.T) {
	tests := []struct {
		name    string
		advance time.Duration
		want    int32
	}{
		{name: "within ttl", advance: 59 * time.Second, want: 1},
		{name: "past ttl", advance: 61 * time.Second, want: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inner := &countingTracker{}
			c := NewCached(inner, 0)
			now := time.Unix(1_700_000_000, 0)
			c.now = func() time.Time { return now }
			ctx := context.Background()
			first, err := c.Teams(ctx)
			if err != nil {
				t.Fatal(err)
			}
			now = now.Add(tt.advance)
			second, err := c.Teams(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(first, second); diff != "" {
				t.Errorf("second answer differs (-first +second):\n%s", diff)
			}
			if got := inner.teams.Load(); got != tt.want {
				t.Errorf("inner Teams calls = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestCachedMembersPerTeam(t *testing.T) {
	inner := &countingTracker{}
	c := NewCached(inner, time.Minute)
	ctx := context.Background()
	for _, team := range []string{"a", "b", "a", "b", "a"} {
		got, err := c.TeamMembers(ctx, team)
		if err != nil {
			t.Fatal(err)
		}
		if want := "u-" + team; len(got) != 1 || got[0].ID != want {
			t.Fatalf("TeamMembers(%s) = %v, want one user %s", team, got, want)
		}
	}
	if got := inner.members.Load(); got != 2 {
		t.Errorf("inner TeamMembers calls = %d, want 2 (one per team)", got)
	}
}

// TestCachedSharesOneRequest: callers arriving while a fetch is in flight
// wait for it rather than sending their own.
func TestCachedSharesOneRequest(t *testing.T) {
	inner := &countingTracker{release: make(chan struct{})}
	c := NewCached(inner, time.Minute)
	const callers = 20
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for range callers {
		wg.Go(func() {
			_, err := c.Teams(context.Background())
			errs <- err
		})
	}
	for inner.teams.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // let the other callers pile up.
	close(inner.release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := inner.teams.Load(); got != 1 {
		t.Errorf("inner Teams calls = %d, want 1", got)
	}
}

// TestCachedCallerGivesUp: a caller whose context ends gets a temporary
// error at once; the shared fetch carries on and fills the cache.
func TestCachedCallerGivesUp(t *testing.T) {
	inner := &countingTracker{release: make(chan struct{})}
	c := NewCached(inner, time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := c.Teams(ctx)
	var tmp *alert.TemporaryError
	if !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &tmp) {
		t.Fatalf("err = %v, want a temporary error wrapping DeadlineExceeded", err)
	}
	close(inner.release)
	deadline := time.Now().Add(2 * time.Second)
	for {
		c.mu.Lock()
		_, ok := c.entries["teams"]
		c.mu.Unlock()
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the shared fetch never filled the cache")
		}
		time.Sleep(time.Millisecond)
	}
	if _, err := c.Teams(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := inner.teams.Load(); got != 1 {
		t.Errorf("inner Teams calls = %d, want 1", got)
	}
}

func TestCachedDoesNotCacheErrors(t *testing.T) {
	inner := &countingTracker{err: alert.ErrUnavailable}
	c := NewCached(inner, time.Minute)
	for range 2 {
		if _, err := c.Teams(context.Background()); !errors.Is(err, alert.ErrUnavailable) {
			t.Fatalf("err = %v, want ErrUnavailable", err)
		}
	}
	if got := inner.teams.Load(); got != 2 {
		t.Errorf("inner Teams calls = %d, want 2", got)
	}
}

func TestCachedInvalidInputDropsCache(t *testing.T) {
	inner := &countingTracker{}
	c := NewCached(inner, time.Minute)
	ctx := context.Background()
	if _, err := c.Teams(ctx); err != nil {
		t.Fatal(err)
	}
	inner.err = alert.ErrInvalidInput
	if _, err := c.CreateIssue(ctx, alert.IssueRequest{}); !errors.Is(err, alert.ErrInvalidInput) {
		t.Fatalf("CreateIssue err = %v, want ErrInvalidInput", err)
	}
	inner.err = nil
	if _, err := c.Teams(ctx); err != nil {
		t.Fatal(err)
	}
	if got := inner.teams.Load(); got != 2 {
		t.Errorf("inner Teams calls = %d, want 2 (the refusal dropped the cache)", got)
	}
}

func TestCachedCopiesSlices(t *testing.T) {
	c := NewCached(&countingTracker{}, time.Minute)
	got, _ := c.Teams(context.Background())
	got[0].Name = "changed by a caller"
	again, _ := c.Teams(context.Background())
	if again[0].Name != "Engineering" {
		t.Errorf("cached team name = %q: a caller changed the cache", again[0].Name)
	}
}
