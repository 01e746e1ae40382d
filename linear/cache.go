package linear

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/proliferate/proliferate-linear/alert"
)

// DefaultCacheTTL is how long Cached keeps teams and members. Short: the
// lists change rarely, but a removed team should vanish from the modal
// within a minute. It saves the modal from spending Linear's hourly request
// budget (https://linear.app/developers/rate-limiting) on every click.
const DefaultCacheTTL = 60 * time.Second

// SearchCacheTTL is how long Cached keeps a search answer. Linear allows
// searchIssues about 30 requests per minute (its schema documents the
// limit); a Slack external select fires a suggestion request per keystroke
// pause, and several people may search at once, so repeats of one query
// within a few seconds are answered from memory.
const SearchCacheTTL = 10 * time.Second

// sharedCallTimeout bounds a request shared by several callers. It runs
// detached from any one caller's context so that the first caller giving up
// does not fail the others.
const sharedCallTimeout = 20 * time.Second

// Cached wraps a Tracker, caching Teams and TeamMembers (per team) for a
// TTL and SearchIssues answers for SearchCacheTTL. Concurrent callers
// asking for the same thing share one request. Other calls pass through. Only successes are cached. Safe for concurrent
// use.
type Cached struct {
	alert.Tracker
	ttl   time.Duration
	now   func() time.Time
	group singleflight.Group

	mu      sync.Mutex
	entries map[string]cacheEntry
}

type cacheEntry struct {
	val     any
	expires time.Time
}

var _ alert.Tracker = (*Cached)(nil)

// NewCached wraps t; ttl <= 0 means DefaultCacheTTL.
func NewCached(t alert.Tracker, ttl time.Duration) *Cached {
	if ttl <= 0 {
		ttl = DefaultCacheTTL
	}
	return &Cached{Tracker: t, ttl: ttl, now: time.Now, entries: map[string]cacheEntry{}}
}

// Teams returns the cached team list, fetching it when stale.
func (c *Cached) Teams(ctx context.Context) ([]alert.Team, error) {
	v, err := c.get(ctx, "teams", c.ttl, func(ctx context.Context) (any, error) { return c.Tracker.Teams(ctx) })
	if err != nil {
		return nil, err
	}
	return clone(v.([]alert.Team)), nil
}

// TeamMembers returns the cached members of a team, fetching them when stale.
func (c *Cached) TeamMembers(ctx context.Context, teamID string) ([]alert.User, error) {
	v, err := c.get(ctx, "members:"+teamID, c.ttl, func(ctx context.Context) (any, error) {
		return c.Tracker.TeamMembers(ctx, teamID)
	})
	if err != nil {
		return nil, err
	}
	return clone(v.([]alert.User)), nil
}

// CreateIssue passes through; a refusal for bad input (a team or assignee
// removed since the lists were cached) drops the cache so the next modal
// shows fresh lists.
func (c *Cached) CreateIssue(ctx context.Context, req alert.IssueRequest) (alert.Issue, error) {
	iss, err := c.Tracker.CreateIssue(ctx, req)
	if errors.Is(err, alert.ErrInvalidInput) {
		c.Invalidate()
	}
	return iss, err
}

// SearchIssues returns a recent answer for the same query and limit
// (case and surrounding space ignored), else asks Linear.
func (c *Cached) SearchIssues(ctx context.Context, query string, limit int) ([]alert.Issue, error) {
	key := "search:" + strconv.Itoa(limit) + ":" + strings.ToLower(strings.TrimSpace(query))
	v, err := c.get(ctx, key, SearchCacheTTL, func(ctx context.Context) (any, error) {
		return c.Tracker.SearchIssues(ctx, query, limit)
	})
	if err != nil {
		return nil, err
	}
	return clone(v.([]alert.Issue)), nil
}

// Invalidate drops everything cached.
func (c *Cached) Invalidate() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.entries)
}

func (c *Cached) get(ctx context.Context, key string, ttl time.Duration, fetch func(context.Context) (any, error)) (any, error) {
	c.mu.Lock()
	e, ok := c.entries[key]
	c.mu.Unlock()
	if ok && c.now().Before(e.expires) {
		return e.val, nil
	}
	ch := c.group.DoChan(key, func() (any, error) {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), sharedCallTimeout)
		defer cancel()
		v, err := fetch(sctx)
		if err == nil {
			c.mu.Lock()
			now := c.now()
			// Search keys are user text, unbounded in number: drop the
			// expired ones so the map holds only the last few seconds'.
			for k, e := range c.entries {
				if !now.Before(e.expires) {
					delete(c.entries, k)
				}
			}
			c.entries[key] = cacheEntry{val: v, expires: now.Add(ttl)}
			c.mu.Unlock()
		}
		return v, err
	})
	select {
	case r := <-ch:
		return r.Val, r.Err
	case <-ctx.Done():
		// This caller gave up; the shared request carries on for the others.
		return nil, alert.Temporary(fmt.Errorf("linear %s: %w: %w", key, alert.ErrUnavailable, ctx.Err()), 0)
	}
}

// clone keeps callers from changing the cached slice under each other.
func clone[T any](s []T) []T { return append([]T(nil), s...) }
