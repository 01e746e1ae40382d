package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/secret"
	"github.com/proliferate/proliferate-linear/store"
)

// newKeyring is a keyring of fresh random keys: current first, then the
// previous ones.
func newKeyring(t testing.TB, current secret.Key, previous ...secret.Key) *secret.Keyring {
	t.Helper()
	kr, err := secret.NewKeyring(current, previous...)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// newKey is a fresh random key of the given version.
func newKey(t testing.TB, version int) secret.Key {
	t.Helper()
	k, err := secret.GenerateKey(version)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// eachSealed is each with a keyring (one version-1 key) set.
func eachSealed(t *testing.T, fn func(t *testing.T, db *store.DB, clk *fakeClock)) {
	t.Helper()
	each(t, func(t *testing.T, db *store.DB, clk *fakeClock) {
		db.SetKeyring(newKeyring(t, newKey(t, 1)))
		fn(t, db, clk)
	})
}

// newConnection is a full OAuth connection of Slack team team. Its tokens
// are distinctive so that a raw database scan can look for them.
func newConnection(team string) alert.Connection {
	return alert.Connection{
		SlackTeamID: team,
		OrgID:       "org-" + team, OrgName: "Acme", OrgURLKey: "acme",
		UserName: "Ada Lovelace", UserEmail: "ada@acme.test",
		AccessToken:  "lin_oauth_ACCESS_" + team + "_a1b2c3d4e5f6",
		RefreshToken: "lin_refresh_REFRESH_" + team + "_f6e5d4c3b2a1",
		TokenExpiry:  t0.Add(24 * time.Hour),
		Scopes:       "read,write,issues:create",
		Status:       alert.ConnectionActive,
		ConnectedBy:  "U-admin",
	}
}

func TestConnectionRoundTrip(t *testing.T) {
	t.Parallel()
	eachSealed(t, func(t *testing.T, db *store.DB, clk *fakeClock) {
		ctx := context.Background()
		c := newConnection("T1")
		if err := db.SaveConnection(ctx, c); err != nil {
			t.Fatal(err)
		}
		want := c
		want.TokenExpiry = ms(c.TokenExpiry)
		want.CreatedAt, want.UpdatedAt = ms(t0), ms(t0)
		check := func(t *testing.T, want alert.Connection) {
			t.Helper()
			got, err := db.Connection(ctx, "T1")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Connection (-want +got):\n%s", diff)
			}
		}
		check(t, want)

		t.Run("set default team", func(t *testing.T) {
			clk.Advance(time.Minute)
			if err := db.SetDefaultTeam(ctx, "T1", "PRO"); err != nil {
				t.Fatal(err)
			}
			want.DefaultTeamKey, want.UpdatedAt = "PRO", ms(clk.Now())
			check(t, want)
		})
		t.Run("mark needs reconnect and active again", func(t *testing.T) {
			clk.Advance(time.Minute)
			if err := db.MarkConnection(ctx, "T1", alert.ConnectionNeedsReconnect, "invalid_grant"); err != nil {
				t.Fatal(err)
			}
			want.Status, want.StatusReason, want.UpdatedAt = alert.ConnectionNeedsReconnect, "invalid_grant", ms(clk.Now())
			check(t, want)
		})
		t.Run("reconnect to the same workspace keeps the default team", func(t *testing.T) {
			clk.Advance(time.Minute)
			re := newConnection("T1")
			re.AccessToken, re.RefreshToken, re.TokenExpiry = "lin_oauth_NEW", "lin_refresh_NEW", time.Time{}
			if err := db.SaveConnection(ctx, re); err != nil {
				t.Fatal(err)
			}
			want = re
			want.DefaultTeamKey = "PRO"
			want.CreatedAt, want.UpdatedAt = ms(clk.Now()), ms(clk.Now())
			check(t, want)
		})
		t.Run("another workspace drops it", func(t *testing.T) {
			other := newConnection("T1")
			other.OrgID, other.OrgName = "org-other", "Other Inc"
			if err := db.SaveConnection(ctx, other); err != nil {
				t.Fatal(err)
			}
			want = other
			want.TokenExpiry = ms(other.TokenExpiry)
			want.CreatedAt, want.UpdatedAt = ms(clk.Now()), ms(clk.Now())
			check(t, want)
		})
	})
}

// TestDeleteConnectionKeepsLinks disconnects: the tokens are gone, every
// error↔issue link stays, and a second disconnect says not connected.
func TestDeleteConnectionKeepsLinks(t *testing.T) {
	t.Parallel()
	eachSealed(t, func(t *testing.T, db *store.DB, clk *fakeClock) {
		ctx := context.Background()
		for _, team := range []string{"T1", "T2"} {
			if err := db.SaveConnection(ctx, newConnection(team)); err != nil {
				t.Fatal(err)
			}
		}
		accept(t, db, newAlert("E-1", "C1"))
		if err := db.SaveLink(ctx, link("E-1", "issue-1", "PRO-1")); err != nil {
			t.Fatal(err)
		}
		if err := db.DeleteConnection(ctx, "T1"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Connection(ctx, "T1"); !errors.Is(err, alert.ErrNotConnected) {
			t.Errorf("Connection after delete: err = %v, want ErrNotConnected", err)
		}
		if _, err := db.Connection(ctx, "T2"); err != nil {
			t.Errorf("the other team's connection: %v", err)
		}
		if l, err := db.Link(ctx, "E-1"); err != nil || l.Identifier != "PRO-1" {
			t.Errorf("link after disconnect = %+v, %v; want PRO-1 kept", l, err)
		}
		for _, v := range store.RawValues(t, db) {
			if v.Table == "connections" && v.Column == "slack_team_id" && v.Value == "T1" {
				t.Error("the disconnected team's row is still stored")
			}
		}
		if err := db.DeleteConnection(ctx, "T1"); !errors.Is(err, alert.ErrNotConnected) {
			t.Errorf("second delete: err = %v, want ErrNotConnected", err)
		}
	})
}

func TestConnectionErrors(t *testing.T) {
	t.Parallel()
	eachSealed(t, func(t *testing.T, db *store.DB, clk *fakeClock) {
		ctx := context.Background()
		noTeam := newConnection("")
		noToken := newConnection("T1")
		noToken.AccessToken = ""
		badStatus := newConnection("T1")
		badStatus.Status = "sleeping"
		tests := []struct {
			name string
			do   func() error
			want error
		}{
			{"save without team", func() error { return db.SaveConnection(ctx, noTeam) }, alert.ErrInvalid},
			{"save without access token", func() error { return db.SaveConnection(ctx, noToken) }, alert.ErrInvalid},
			{"save with unknown status", func() error { return db.SaveConnection(ctx, badStatus) }, alert.ErrInvalid},
			{"read unknown team", func() error { _, err := db.Connection(ctx, "T-none"); return err }, alert.ErrNotConnected},
			{"mark unknown team", func() error {
				return db.MarkConnection(ctx, "T-none", alert.ConnectionNeedsReconnect, "invalid_grant")
			}, alert.ErrNotConnected},
			{"mark unknown status", func() error { return db.MarkConnection(ctx, "T-none", "sleeping", "") }, alert.ErrInvalid},
			{"default team of unknown team", func() error { return db.SetDefaultTeam(ctx, "T-none", "PRO") }, alert.ErrNotConnected},
			{"delete unknown team", func() error { return db.DeleteConnection(ctx, "T-none") }, alert.ErrNotConnected},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if err := tt.do(); !errors.Is(err, tt.want) {
					t.Errorf("err = %v, want %v", err, tt.want)
				}
			})
		}
	})
}

// TestNoKeyring: every method that seals or opens refuses to work without
// a keyring, rather than storing a token in plain text.
func TestNoKeyring(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, db *store.DB, clk *fakeClock) {
		ctx := context.Background()
		keep := func(c alert.Connection) (alert.Connection, error) { return c, nil }
		tests := []struct {
			name string
			do   func() error
		}{
			{"SaveConnection", func() error { return db.SaveConnection(ctx, newConnection("T1")) }},
			{"Connection", func() error { _, err := db.Connection(ctx, "T1"); return err }},
			{"WithConnectionLock", func() error { _, err := db.WithConnectionLock(ctx, "T1", keep); return err }},
			{"SavePendingAuth", func() error {
				return db.SavePendingAuth(ctx, "state", "T1", "U1", "verifier", t0.Add(time.Minute))
			}},
			{"TakePendingAuth", func() error { _, _, _, _, err := db.TakePendingAuth(ctx, "state", t0); return err }},
			{"ResealAll", func() error { _, err := db.ResealAll(ctx); return err }},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if err := tt.do(); !errors.Is(err, store.ErrNoKeyring) {
					t.Errorf("err = %v, want ErrNoKeyring", err)
				}
			})
		}
		if got := store.QueryString(t, db, `SELECT COUNT(*) FROM connections`); got != "0" {
			t.Errorf("%s connections stored without a keyring", got)
		}
	})
}

func TestConnectionByOrg(t *testing.T) {
	t.Parallel()
	eachSealed(t, func(t *testing.T, db *store.DB, _ *fakeClock) {
		ctx := context.Background()
		if err := db.SaveConnection(ctx, newConnection("T1")); err != nil {
			t.Fatal(err)
		}
		got, err := db.ConnectionByOrg(ctx, "org-T1")
		if err != nil || got.SlackTeamID != "T1" || got.AccessToken == "" {
			t.Errorf("ConnectionByOrg = %+v, %v", got.SlackTeamID, err)
		}
		for _, org := range []string{"org-other", ""} {
			if _, err := db.ConnectionByOrg(ctx, org); !errors.Is(err, alert.ErrNotConnected) {
				t.Errorf("ConnectionByOrg(%q) = %v, want ErrNotConnected", org, err)
			}
		}
	})
}
