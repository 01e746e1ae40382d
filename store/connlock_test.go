package store_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/store"
	"github.com/proliferate/proliferate-linear/store/storetest"
)

// TestWithConnectionLockSerialises plays token refreshes the way Linear's
// rotating refresh tokens need them: several replicas (DB handles on one
// database), several goroutines each, every fn "refreshing" generation k
// to k+1. With the lock, every fn sees the previous one's result: no fn
// observes a stale token, none overlap, and no refresh is lost.
func TestWithConnectionLockSerialises(t *testing.T) {
	t.Parallel()
	for _, dc := range storetest.Dialects(t) {
		t.Run(dc.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			url := dc.MigratedURL(t)
			kr := newKeyring(t, newKey(t, 1))
			const replicas, perReplica = 3, 4
			dbs := make([]*store.DB, replicas)
			for i := range dbs {
				dbs[i] = storetest.OpenURL(t, url)
				dbs[i].SetKeyring(kr)
			}
			c := newConnection("T1")
			c.AccessToken, c.RefreshToken = "access-0", "refresh-0"
			if err := dbs[0].SaveConnection(ctx, c); err != nil {
				t.Fatal(err)
			}

			var (
				mu           sync.Mutex
				lastReturned = "access-0"
				runs, stale  int
				inside, most int
			)
			refresh := func(cur alert.Connection) (alert.Connection, error) {
				mu.Lock()
				runs++
				inside++
				most = max(most, inside)
				if cur.AccessToken != lastReturned {
					stale++
				}
				mu.Unlock()
				time.Sleep(5 * time.Millisecond) // the refresh round trip: room for a race to show.
				k, err := strconv.Atoi(strings.TrimPrefix(cur.AccessToken, "access-"))
				if err != nil {
					return cur, err
				}
				next := cur
				next.AccessToken = fmt.Sprintf("access-%d", k+1)
				next.RefreshToken = fmt.Sprintf("refresh-%d", k+1)
				mu.Lock()
				inside--
				lastReturned = next.AccessToken
				mu.Unlock()
				return next, nil
			}
			var wg sync.WaitGroup
			for _, db := range dbs {
				for range perReplica {
					wg.Go(func() {
						if _, err := db.WithConnectionLock(ctx, "T1", refresh); err != nil {
							t.Errorf("WithConnectionLock: %v", err)
						}
					})
				}
			}
			wg.Wait()

			const n = replicas * perReplica
			if runs != n || stale != 0 || most != 1 {
				t.Errorf("fn ran %d times (want %d), %d saw a stale token (want 0), at most %d at once (want 1)", runs, n, stale, most)
			}
			got, err := dbs[replicas-1].Connection(ctx, "T1")
			if err != nil {
				t.Fatal(err)
			}
			if want := fmt.Sprintf("access-%d", n); got.AccessToken != want || got.RefreshToken != fmt.Sprintf("refresh-%d", n) {
				t.Errorf("stored tokens = generation %q, want %q: a refresh was lost", got.AccessToken, want)
			}
		})
	}
}

// TestWithConnectionLockSaves: what fn returns is stored and returned; a
// failing or invalid fn result rolls back; no connection, no fn call.
func TestWithConnectionLockSaves(t *testing.T) {
	t.Parallel()
	eachSealed(t, func(t *testing.T, db *store.DB, clk *fakeClock) {
		ctx := context.Background()
		c := newConnection("T1")
		c.DefaultTeamKey = "PRO"
		if err := db.SaveConnection(ctx, c); err != nil {
			t.Fatal(err)
		}
		stored := func() alert.Connection {
			got, err := db.Connection(ctx, "T1")
			if err != nil {
				t.Fatal(err)
			}
			return got
		}
		before := stored()
		errBoom := errors.New("boom: linear said invalid_grant")

		t.Run("fn error rolls back", func(t *testing.T) {
			_, err := db.WithConnectionLock(ctx, "T1", func(cur alert.Connection) (alert.Connection, error) {
				cur.AccessToken = "never-stored"
				return cur, errBoom
			})
			if !errors.Is(err, errBoom) {
				t.Errorf("err = %v, want fn's error", err)
			}
			if diff := cmp.Diff(before, stored()); diff != "" {
				t.Errorf("stored after a failed fn (-want +got):\n%s", diff)
			}
		})
		t.Run("fn may not move the connection", func(t *testing.T) {
			_, err := db.WithConnectionLock(ctx, "T1", func(cur alert.Connection) (alert.Connection, error) {
				cur.SlackTeamID = "T2"
				return cur, nil
			})
			if !errors.Is(err, alert.ErrInvalid) {
				t.Errorf("err = %v, want ErrInvalid", err)
			}
			if diff := cmp.Diff(before, stored()); diff != "" {
				t.Errorf("stored after an invalid fn result (-want +got):\n%s", diff)
			}
		})
		t.Run("refresh stored", func(t *testing.T) {
			clk.Advance(time.Hour)
			expiry := clk.Now().Add(24 * time.Hour)
			got, err := db.WithConnectionLock(ctx, "T1", func(cur alert.Connection) (alert.Connection, error) {
				cur.AccessToken, cur.RefreshToken, cur.TokenExpiry = "access-2", "refresh-2", expiry
				cur.DefaultTeamKey = "ignored: not fn's to change"
				return cur, nil
			})
			if err != nil {
				t.Fatal(err)
			}
			want := before
			want.AccessToken, want.RefreshToken, want.TokenExpiry = "access-2", "refresh-2", ms(expiry)
			want.UpdatedAt = ms(clk.Now())
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("returned (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(want, stored()); diff != "" {
				t.Errorf("stored (-want +got):\n%s", diff)
			}
		})
		t.Run("not connected", func(t *testing.T) {
			called := false
			_, err := db.WithConnectionLock(ctx, "T-none", func(cur alert.Connection) (alert.Connection, error) {
				called = true
				return cur, nil
			})
			if !errors.Is(err, alert.ErrNotConnected) || called {
				t.Errorf("err = %v, fn called = %v; want ErrNotConnected without a call", err, called)
			}
		})
	})
}
