package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/secret"
	"github.com/proliferate/proliferate-linear/store"
)

// TestResealAll rotates the key: values sealed under v1, a keyring of v2
// (current) and v1 (previous), ResealAll, and then the v2 key alone opens
// everything.
func TestResealAll(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, db *store.DB, clk *fakeClock) {
		ctx := context.Background()
		k1, k2 := newKey(t, 1), newKey(t, 2)
		db.SetKeyring(newKeyring(t, k1))
		noRefresh := newConnection("T2")
		noRefresh.RefreshToken = "" // nothing sealed, nothing to reseal.
		for _, c := range []alert.Connection{newConnection("T1"), noRefresh} {
			if err := db.SaveConnection(ctx, c); err != nil {
				t.Fatal(err)
			}
		}
		if err := db.SavePendingAuth(ctx, "live", "T1", "U1", "verifier-live", t0.Add(10*time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := db.SavePendingAuth(ctx, "stale", "T1", "U1", "verifier-stale", t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		clk.Advance(2 * time.Minute) // "stale" has expired.

		onlyNew := newKeyring(t, k2)
		db.SetKeyring(onlyNew)
		if _, err := db.Connection(ctx, "T1"); !errors.Is(err, secret.ErrUnknownVersion) {
			t.Fatalf("before resealing, the new key alone: err = %v, want ErrUnknownVersion", err)
		}

		db.SetKeyring(newKeyring(t, k2, k1))
		n, err := db.ResealAll(ctx)
		if err != nil || n != 4 { // T1 access and refresh, T2 access, the live verifier.
			t.Fatalf("ResealAll = %d, %v; want 4, nil", n, err)
		}
		if n, err := db.ResealAll(ctx); err != nil || n != 0 {
			t.Errorf("second ResealAll = %d, %v; want 0, nil", n, err)
		}
		for _, v := range store.RawValues(t, db) {
			if strings.HasSuffix(v.Column, "_enc") && v.Value != "" && !strings.HasPrefix(v.Value, "v2:") {
				t.Errorf("%s.%s still sealed with %.3s", v.Table, v.Column, v.Value)
			}
		}
		if got := store.QueryString(t, db, `SELECT COUNT(*) FROM oauth_states`); got != "1" {
			t.Errorf("%s oauth states left, want the live one only", got)
		}

		db.SetKeyring(onlyNew)
		for _, want := range []alert.Connection{newConnection("T1"), noRefresh} {
			got, err := db.Connection(ctx, want.SlackTeamID)
			if err != nil || got.AccessToken != want.AccessToken || got.RefreshToken != want.RefreshToken {
				t.Errorf("Connection(%s) with the new key only: tokens match = %v, err = %v",
					want.SlackTeamID, err == nil && got.AccessToken == want.AccessToken && got.RefreshToken == want.RefreshToken, err)
			}
		}
		if _, _, v, _, err := db.TakePendingAuth(ctx, "live", clk.Now()); err != nil || v != "verifier-live" {
			t.Errorf("TakePendingAuth with the new key only: verifier ok = %v, err = %v", v == "verifier-live", err)
		}
	})
}

// TestResealAllGoesOn: a value that does not open is reported, and the
// rest is resealed all the same.
func TestResealAllGoesOn(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, db *store.DB, clk *fakeClock) {
		ctx := context.Background()
		k1, k2 := newKey(t, 1), newKey(t, 2)
		db.SetKeyring(newKeyring(t, k1))
		for _, team := range []string{"T1", "T2"} {
			if err := db.SaveConnection(ctx, newConnection(team)); err != nil {
				t.Fatal(err)
			}
		}
		store.Exec(t, db, `UPDATE connections SET refresh_token_enc = access_token_enc WHERE slack_team_id = 'T1'`)
		db.SetKeyring(newKeyring(t, k2, k1))
		n, err := db.ResealAll(ctx)
		if !errors.Is(err, secret.ErrAuthentication) || !strings.Contains(err.Error(), "connections/T1/refresh_token") {
			t.Errorf("err = %v, want ErrAuthentication naming connections/T1/refresh_token", err)
		}
		if n != 2 { // T2's two tokens; T1's row rolled back whole.
			t.Errorf("n = %d, want 2", n)
		}
		db.SetKeyring(newKeyring(t, k2))
		if _, err := db.Connection(ctx, "T2"); err != nil {
			t.Errorf("T2 after a partial reseal: %v", err)
		}
	})
}
