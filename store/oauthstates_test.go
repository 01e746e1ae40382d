package store_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/store"
)

// sha256Hex is how an OAuth state is stored.
func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// pendingAuth is what TakePendingAuth returns.
type pendingAuth struct {
	Team, User, Verifier string
	ExpiresAt            time.Time
}

func takePending(db *store.DB, state string, now time.Time) (pendingAuth, error) {
	team, user, verifier, expires, err := db.TakePendingAuth(context.Background(), state, now)
	return pendingAuth{team, user, verifier, expires}, err
}

func TestPendingAuth(t *testing.T) {
	t.Parallel()
	eachSealed(t, func(t *testing.T, db *store.DB, clk *fakeClock) {
		ctx := context.Background()
		expires := t0.Add(10 * time.Minute)
		for _, s := range []string{"live", "replayed", "expired", "at-expiry"} {
			if err := db.SavePendingAuth(ctx, s, "T1", "U-"+s, "verifier-"+s, expires); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := takePending(db, "replayed", t0); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name, state string
			now         time.Time
			want        pendingAuth
			wantErr     error
		}{
			{name: "live", state: "live", now: t0.Add(time.Minute),
				want: pendingAuth{"T1", "U-live", "verifier-live", ms(expires)}},
			{name: "used twice", state: "live", now: t0.Add(time.Minute), wantErr: alert.ErrNotFound},
			{name: "replayed", state: "replayed", now: t0, wantErr: alert.ErrNotFound},
			{name: "expired", state: "expired", now: expires.Add(time.Second), wantErr: alert.ErrNotFound},
			{name: "expires exactly now", state: "at-expiry", now: expires, wantErr: alert.ErrNotFound},
			{name: "unknown", state: "forged", now: t0, wantErr: alert.ErrNotFound},
			{name: "empty", state: "", now: t0, wantErr: alert.ErrNotFound},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := takePending(db, tt.state, tt.now)
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("TakePendingAuth (-want +got):\n%s", diff)
				}
			})
		}
		// Taking an expired state deletes it all the same.
		if got := store.QueryString(t, db, `SELECT COUNT(*) FROM oauth_states`); got != "0" {
			t.Errorf("%s states left, want 0", got)
		}
	})
}

func TestSavePendingAuth(t *testing.T) {
	t.Parallel()
	eachSealed(t, func(t *testing.T, db *store.DB, clk *fakeClock) {
		ctx := context.Background()
		t.Run("sweeps expired states", func(t *testing.T) {
			if err := db.SavePendingAuth(ctx, "old", "T1", "U1", "v", t0.Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
			clk.Advance(2 * time.Minute)
			if err := db.SavePendingAuth(ctx, "new", "T1", "U1", "v", clk.Now().Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
			if got := store.QueryString(t, db, `SELECT COUNT(*) FROM oauth_states WHERE state_hash = ?`, sha256Hex("old")); got != "0" {
				t.Error("expired state kept")
			}
		})
		t.Run("invalid", func(t *testing.T) {
			for _, args := range [][4]string{{"", "T1", "U1", "v"}, {"s", "", "U1", "v"}, {"s", "T1", "", "v"}, {"s", "T1", "U1", ""}} {
				if err := db.SavePendingAuth(ctx, args[0], args[1], args[2], args[3], t0.Add(time.Hour)); !errors.Is(err, alert.ErrInvalid) {
					t.Errorf("SavePendingAuth%q: err = %v, want ErrInvalid", args, err)
				}
			}
		})
		t.Run("duplicate state", func(t *testing.T) {
			if err := db.SavePendingAuth(ctx, "new", "T2", "U2", "v", clk.Now().Add(time.Minute)); !errors.Is(err, alert.ErrConflict) {
				t.Errorf("err = %v, want ErrConflict", err)
			}
		})
	})
}

// TestTakePendingAuthOnce: replicas racing on one callback; exactly one
// gets the flow.
func TestTakePendingAuthOnce(t *testing.T) {
	t.Parallel()
	eachSealed(t, func(t *testing.T, db *store.DB, clk *fakeClock) {
		if err := db.SavePendingAuth(context.Background(), "s", "T1", "U1", "v", t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		const n = 8
		var mu sync.Mutex
		won, lost := 0, 0
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				_, err := takePending(db, "s", t0)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					won++
				case errors.Is(err, alert.ErrNotFound):
					lost++
				default:
					t.Errorf("TakePendingAuth: %v", err)
				}
			})
		}
		wg.Wait()
		if won != 1 || lost != n-1 {
			t.Errorf("won %d, lost %d; want 1 and %d", won, lost, n-1)
		}
	})
}
