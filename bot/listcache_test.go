package bot

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/bot/fakeslack"
	"github.com/proliferate/proliferate-linear/linear"
	"github.com/proliferate/proliferate-linear/linear/fakelinear"
)

// listOps are the fake's list operations, one per cached list.
var listOps = []string{"listTeams", "listTeamMembers", "listTeamLabels", "listTeamProjects"}

// fakeLinear is a seeded fake Linear and a client of it, uncached (no
// linear.Cached), so every list the bot does not cache reaches the fake.
func fakeLinear(t *testing.T) (*fakelinear.Server, *linear.Client) {
	t.Helper()
	fl := fakelinear.New(fakelinear.WithSeed())
	t.Cleanup(fl.Close)
	hc := &http.Client{Transport: &linear.APIKeyTransport{Key: fakelinear.APIKey}, Timeout: 10 * time.Second}
	return fl, linear.New(fl.URL(), hc, nil)
}

// withSlowWorkers gives the slow lane, where modals are filled from
// Linear, n workers.
func withSlowWorkers(n int) func(*harness) {
	return func(h *harness) { h.bot.slow = newLane("slow", n, n*slowQueuePerWorker) }
}

// openModals clicks Create Linear Issue n times at once and waits until
// the bot has filled all the modals it opened (views before them) with
// the ENG team's details.
func openModals(t *testing.T, h *harness, n, before int) {
	t.Helper()
	ctx := t.Context()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			if _, err := h.fs.ClickButton(ctx, "U1", "C100", h.ts, actionCreateIssue); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("click: %v", err)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	filled := func(v fakeslack.View) bool {
		return strings.Contains(string(v.Blocks), `"labels:`+fakelinear.TeamEngID+`"`) &&
			strings.Contains(string(v.Blocks), `"project:`+fakelinear.TeamEngID+`"`)
	}
	err := h.fs.Wait(wctx, func() bool {
		vs := h.fs.Views()
		if len(vs) != before+n {
			return false
		}
		for _, v := range vs[before:] {
			if !filled(v) {
				return false
			}
		}
		return true
	})
	if err != nil {
		t.Fatalf("%d modals never all filled in: %v; views: %+v", n, err, h.fs.Views())
	}
}

// TestConcurrentModalOpensShareLinearRequests: modals opened at once on
// cold caches, while Linear is slow, all miss every list; they share one
// Linear request per list rather than making one each.
func TestConcurrentModalOpensShareLinearRequests(t *testing.T) {
	t.Parallel()
	const n = 6
	fl, lc := fakeLinear(t)
	h := startHarnessOn(t, "ENG", lc, withSlowWorkers(n))
	// Each list's first request is held until all n modals wait on it:
	// without sharing, every modal would ask for every list itself. A
	// second request for a list lets it go at once, to fail below.
	waiters := map[string]func() int{
		"listTeams":        func() int { return flightWaiters(h.bot.teams, "") },
		"listTeamMembers":  func() int { return flightWaiters(h.bot.members, fakelinear.TeamEngID) },
		"listTeamLabels":   func() int { return flightWaiters(h.bot.labels, fakelinear.TeamEngID) },
		"listTeamProjects": func() int { return flightWaiters(h.bot.projects, fakelinear.TeamEngID) },
	}
	for _, op := range listOps {
		release := fl.HoldAnswerNext(op)
		t.Cleanup(release)
		go func() {
			defer release()
			_ = h.fs.Wait(t.Context(), func() bool { return waiters[op]() >= n || fl.CountRequests(op) > 1 })
		}()
	}
	openModals(t, h, n, 0)
	for _, op := range listOps {
		if got := fl.CountRequests(op); got != 1 {
			t.Errorf("%d modals opened at once made %d %s requests, want 1", n, got, op)
		}
	}
}

// flightWaiters is how many callers wait on c's load of k under way.
func flightWaiters[K comparable, V any](c *cache[K, V], k K) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if f := c.flights[k]; f != nil {
		return f.waiting
	}
	return 0
}

// TestReconnectForgetsEveryLinearList: a connect (AskDefaultTeam) or a
// disconnect drops every list cached from Linear, so the next modal asks
// Linear again for each.
func TestReconnectForgetsEveryLinearList(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		do   func(t *testing.T, h *harness)
	}{
		{"connect", func(t *testing.T, h *harness) {
			if err := h.bot.AskDefaultTeam(t.Context(), sampleConnection()); err != nil {
				t.Fatalf("AskDefaultTeam: %v", err)
			}
		}},
		{"connect without a connecting user", func(t *testing.T, h *harness) {
			c := sampleConnection()
			c.ConnectedBy = ""
			if err := h.bot.AskDefaultTeam(t.Context(), c); !errors.Is(err, alert.ErrInvalid) {
				t.Fatalf("AskDefaultTeam = %v, want ErrInvalid", err)
			}
		}},
		{"disconnect", func(t *testing.T, h *harness) {
			prompt := h.slash(t, "UA", "disconnect")
			h.interact(t, "UA", ephemeralContainer(), prompt.URL, buttonAction(t, prompt.Blocks, actionDisconnect))
			if _, err := h.bot.connector.Connection(t.Context(), "T0001"); !errors.Is(err, alert.ErrNotConnected) {
				t.Fatalf("after the disconnect: connection err %v, want ErrNotConnected", err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fl, lc := fakeLinear(t)
			h := startHarnessOn(t, "ENG", lc, withConnector(newMemConnector(sampleConnection())))
			openModals(t, h, 1, 0)
			h.bot.workspaces.put("", alert.Workspace{OrgName: "Acme"})
			tt.do(t, h)

			if _, ok := h.bot.workspaces.get(""); ok {
				t.Error("the workspace is still cached")
			}
			for _, c := range []struct {
				name   string
				cached bool
			}{
				{"members", has(h.bot.members, fakelinear.TeamEngID)},
				{"labels", has(h.bot.labels, fakelinear.TeamEngID)},
				{"projects", has(h.bot.projects, fakelinear.TeamEngID)},
			} {
				if c.cached {
					t.Errorf("the team's %s are still cached", c.name)
				}
			}
			before := map[string]int{}
			for _, op := range listOps {
				before[op] = fl.CountRequests(op)
			}
			h.bot.teams.clear() // AskDefaultTeam reads the new teams itself: ask for them again anyway.
			openModals(t, h, 1, 1)
			for _, op := range listOps {
				if got := fl.CountRequests(op) - before[op]; got != 1 {
					t.Errorf("the modal after the %s made %d %s requests, want 1", tt.name, got, op)
				}
			}
		})
	}
}

func has[K comparable, V any](c *cache[K, V], k K) bool {
	_, ok := c.get(k)
	return ok
}

// TestEveryLinearCacheIsForgotten: each cache of the Bot holds what Linear
// lists, and is cleared with the others, unless it is of Slack (users).
func TestEveryLinearCacheIsForgotten(t *testing.T) {
	t.Parallel()
	b, _ := newFakeBot(t, nil)
	grouped := map[uintptr]bool{}
	for _, c := range b.linearLists {
		grouped[reflect.ValueOf(c).Pointer()] = true
	}
	v := reflect.ValueOf(b).Elem()
	caches := 0
	for i := range v.NumField() {
		f := v.Type().Field(i)
		if !strings.HasPrefix(f.Type.String(), "*bot.cache[") || f.Name == "users" {
			continue
		}
		caches++
		if !grouped[v.Field(i).Pointer()] {
			t.Errorf("Bot.%s is not among the caches forgetLinear clears", f.Name)
		}
	}
	if caches != len(b.linearLists) {
		t.Errorf("%d Linear caches, %d cleared as one", caches, len(b.linearLists))
	}
}

// TestCacheLoadFlight: a load shared by callers goes on while one of them
// waits; a caller giving up gets ErrUnavailable, the last one cancels the
// request, which is then not kept; a clear while a load is under way keeps
// its answer out of the cache and makes the next miss ask again.
func TestCacheLoadFlight(t *testing.T) {
	t.Parallel()
	type call struct {
		ctx    context.Context
		answer chan string
	}
	newFetch := func() (chan call, func(context.Context) (string, error)) {
		calls := make(chan call, 4)
		return calls, func(ctx context.Context) (string, error) {
			c := call{ctx, make(chan string)}
			calls <- c
			select {
			case v := <-c.answer:
				return v, nil
			case <-ctx.Done():
				return "", ctx.Err()
			}
		}
	}
	type result struct {
		v   string
		err error
	}
	load := func(c *cache[string, string], ctx context.Context, fetch func(context.Context) (string, error)) chan result {
		out := make(chan result, 1)
		go func() {
			v, err := c.load(ctx, "k", "linear things", fetch)
			out <- result{v, err}
		}()
		return out
	}
	waiting := func(c *cache[string, string], n int) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			c.mu.Lock()
			f := c.flights["k"]
			ok := f != nil && f.waiting == n
			c.mu.Unlock()
			if ok {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("never %d callers waiting", n)
			}
			runtime.Gosched()
		}
	}

	t.Run("one gives up, the other gets the answer", func(t *testing.T) {
		c := newCache[string, string](time.Minute)
		calls, fetch := newFetch()
		ctx1, cancel1 := context.WithCancel(t.Context())
		r1 := load(c, ctx1, fetch)
		r2 := load(c, t.Context(), fetch)
		first := <-calls
		waiting(c, 2)
		cancel1()
		if r := <-r1; !errors.Is(r.err, alert.ErrUnavailable) || !errors.Is(r.err, context.Canceled) {
			t.Errorf("the caller that gave up got %v, want ErrUnavailable and context.Canceled", r.err)
		}
		if first.ctx.Err() != nil {
			t.Fatal("the request was cancelled while a caller still waited")
		}
		first.answer <- "teams"
		if r := <-r2; r.v != "teams" || r.err != nil {
			t.Errorf("the waiting caller got %q, %v", r.v, r.err)
		}
		if v, ok := c.get("k"); !ok || v != "teams" {
			t.Errorf("cached %q, %v; want teams", v, ok)
		}
		if len(calls) != 0 {
			t.Error("more than one request")
		}
	})

	t.Run("all give up", func(t *testing.T) {
		c := newCache[string, string](time.Minute)
		calls, fetch := newFetch()
		ctx1, cancel1 := context.WithCancel(t.Context())
		r1 := load(c, ctx1, fetch)
		first := <-calls
		waiting(c, 1)
		cancel1()
		<-r1
		<-first.ctx.Done() // the request is cancelled: nobody waits.
		// The next miss does not join the cancelled request.
		r2 := load(c, t.Context(), fetch)
		second := <-calls
		second.answer <- "fresh"
		if r := <-r2; r.v != "fresh" || r.err != nil {
			t.Errorf("after everyone gave up, the next load got %q, %v; want a new request's answer", r.v, r.err)
		}
	})

	t.Run("clear while loading", func(t *testing.T) {
		c := newCache[string, string](time.Minute)
		calls, fetch := newFetch()
		r1 := load(c, t.Context(), fetch)
		first := <-calls
		waiting(c, 1)
		c.clear()
		r2 := load(c, t.Context(), fetch)
		second := <-calls // not joined to the request of before the clear.
		first.answer <- "old workspace"
		if r := <-r1; r.v != "old workspace" {
			t.Errorf("the caller of before the clear got %q", r.v)
		}
		if _, ok := c.get("k"); ok {
			t.Error("an answer asked for before the clear was kept")
		}
		second.answer <- "new workspace"
		if r := <-r2; r.v != "new workspace" {
			t.Errorf("the caller after the clear got %q", r.v)
		}
		if v, _ := c.get("k"); v != "new workspace" {
			t.Errorf("cached %q, want the new workspace's", v)
		}
	})
}
