package bot

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/proliferate/proliferate-linear/alert"
)

// cache keeps values for a while; it holds Linear lists and Slack users,
// never modal state. Concurrent misses of one key loaded through load share
// one request.
type cache[K comparable, V any] struct {
	ttl time.Duration
	// limit, when positive, bounds the entries: a full cache drops the
	// expired ones, then, if still full, an arbitrary one.
	limit int
	now   func() time.Time
	mu    sync.Mutex
	m     map[K]cacheEntry[V]
	// flights are the loads under way, by key. gen counts the clears: a
	// load begun before one is not kept.
	flights map[K]*flight[V]
	gen     uint64
}

type cacheEntry[V any] struct {
	v  V
	at time.Time
}

// flight is one load that every caller missing its key meanwhile waits on.
type flight[V any] struct {
	done    chan struct{} // closed once v and err are set
	v       V
	err     error
	waiting int                // callers still waiting
	cancel  context.CancelFunc // ends the request: nobody waits any more
}

func newCache[K comparable, V any](ttl time.Duration) *cache[K, V] {
	return &cache[K, V]{ttl: ttl, now: time.Now, m: map[K]cacheEntry[V]{}, flights: map[K]*flight[V]{}}
}

func (c *cache[K, V]) get(k K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.getLocked(k)
}

func (c *cache[K, V]) getLocked(k K) (V, bool) {
	e, ok := c.m[k]
	if !ok || c.now().Sub(e.at) > c.ttl {
		var zero V
		return zero, false
	}
	return e.v, true
}

// clear forgets every entry: the Linear workspace behind the lists changed.
// A load under way is not kept, and the next miss starts a new one.
func (c *cache[K, V]) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.m)
	clear(c.flights)
	c.gen++
}

func (c *cache[K, V]) put(k K, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.putLocked(k, v)
}

func (c *cache[K, V]) putLocked(k K, v V) {
	now := c.now()
	if _, ok := c.m[k]; !ok && c.limit > 0 && len(c.m) >= c.limit {
		for key, e := range c.m {
			if now.Sub(e.at) > c.ttl {
				delete(c.m, key)
			}
		}
		for key := range c.m {
			if len(c.m) < c.limit {
				break
			}
			delete(c.m, key)
		}
	}
	c.m[k] = cacheEntry[V]{v: v, at: now}
}

// load returns k's value, from the cache or else from fetch, and keeps a
// success for the TTL. Callers missing k while a fetch of it is under way
// wait for that one and get its answer. The fetch runs as long as one of
// them waits: a caller whose ctx ends first gets an ErrUnavailable naming
// what, as a Linear request cut short by its context would. It runs with
// the values of the ctx that started it (its logger fields), not its
// deadline.
func (c *cache[K, V]) load(ctx context.Context, k K, what string, fetch func(context.Context) (V, error)) (V, error) {
	c.mu.Lock()
	if v, ok := c.getLocked(k); ok {
		c.mu.Unlock()
		return v, nil
	}
	f, ok := c.flights[k]
	if !ok {
		fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		f = &flight[V]{done: make(chan struct{}), cancel: cancel}
		c.flights[k] = f
		go c.fly(fctx, k, f, c.gen, what, fetch)
	}
	f.waiting++
	c.mu.Unlock()

	select {
	case <-f.done:
		return f.v, f.err
	case <-ctx.Done():
		c.mu.Lock()
		if f.waiting--; f.waiting == 0 {
			f.cancel()
			if c.flights[k] == f {
				delete(c.flights, k) // the next miss must not join a cancelled request.
			}
		}
		c.mu.Unlock()
		var zero V
		return zero, alert.Temporary(fmt.Errorf("%s: %w: %w", what, alert.ErrUnavailable, ctx.Err()), 0)
	}
}

// fly runs f's fetch and hands its answer to f's callers; a success is kept
// unless the cache was cleared since f began (gen).
func (c *cache[K, V]) fly(ctx context.Context, k K, f *flight[V], gen uint64, what string, fetch func(context.Context) (V, error)) {
	defer f.cancel()
	var v V
	var err error
	defer func() {
		// A panicking fetch fails its callers instead of the process.
		if r := recover(); r != nil {
			err = fmt.Errorf("%s: panicked: %v", what, r)
		}
		c.mu.Lock()
		f.v, f.err = v, err
		if c.flights[k] == f {
			delete(c.flights, k)
		}
		if err == nil && c.gen == gen {
			c.putLocked(k, v)
		}
		c.mu.Unlock()
		close(f.done)
	}()
	v, err = fetch(ctx)
}

// cacheGroup is caches cleared as one: those of what the connected Linear
// workspace lists, when the workspace changes.
type cacheGroup []interface{ clear() }

func (g cacheGroup) clear() {
	for _, c := range g {
		c.clear()
	}
}

// forgetLinear drops every list read from Linear: the workspace behind them
// was connected or disconnected.
func (b *Bot) forgetLinear() { b.linearLists.clear() }
