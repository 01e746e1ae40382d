package store_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/secret"
	"github.com/proliferate/proliferate-linear/store"
	"github.com/proliferate/proliferate-linear/store/storetest"
)

// syncBuffer is a bytes.Buffer safe for the logger's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestNoSecretInPlainText stores connections (saved, refreshed under the
// lock, marked, resealed) and OAuth states, then reads every column of
// every table with plain SQL, the SQLite files byte for byte, and the
// store's own log, and finds no token, refresh token, verifier or state in
// plain text (nor in base64 or hex, the encodings a careless fix might
// use).
func TestNoSecretInPlainText(t *testing.T) {
	t.Parallel()
	for _, dc := range storetest.Dialects(t) {
		t.Run(dc.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			url := dc.URL(t)
			var logs syncBuffer
			db, err := store.Open(ctx, url, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			if err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			old := newKey(t, 1)
			db.SetKeyring(newKeyring(t, old))

			a, b := newConnection("T1"), newConnection("T2")
			const refreshedAccess, refreshedRefresh = "lin_oauth_REFRESHED_0011223344", "lin_refresh_ROTATED_5566778899"
			const state, verifier = "STATE_qwertyuiopasdfghjkl0987654321", "VERIFIER_zxcvbnmlkjhgfdsa1234567890abcdef"
			must := func(err error) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
			}
			must(db.SaveConnection(ctx, a))
			must(db.SaveConnection(ctx, b))
			_, err = db.WithConnectionLock(ctx, "T2", func(c alert.Connection) (alert.Connection, error) {
				c.AccessToken, c.RefreshToken = refreshedAccess, refreshedRefresh
				return c, nil
			})
			must(err)
			must(db.MarkConnection(ctx, "T1", alert.ConnectionNeedsReconnect, "invalid_grant"))
			must(db.SavePendingAuth(ctx, state, "T1", "U1", verifier, time.Now().Add(10*time.Minute)))
			db.SetKeyring(newKeyring(t, newKey(t, 2), old))
			if _, err := db.ResealAll(ctx); err != nil {
				t.Fatal(err)
			}

			secrets := []string{a.AccessToken, a.RefreshToken, b.AccessToken, b.RefreshToken,
				refreshedAccess, refreshedRefresh, state, verifier}
			var needles [][]byte
			for _, s := range secrets {
				needles = append(needles, []byte(s), []byte(base64.StdEncoding.EncodeToString([]byte(s))),
					[]byte(base64.RawURLEncoding.EncodeToString([]byte(s))), []byte(hex.EncodeToString([]byte(s))))
			}
			leaks := func(where string, data []byte) {
				t.Helper()
				for _, n := range needles {
					if bytes.Contains(data, n) {
						t.Errorf("%s holds a secret in the clear (%.12s...)", where, n)
					}
				}
			}

			raw := store.RawValues(t, db)
			var sawOrg, sawSealed, sawStateHash bool
			for _, v := range raw {
				leaks(v.Table+"."+v.Column, []byte(v.Value))
				sawOrg = sawOrg || v.Value == "Acme"
				sawSealed = sawSealed || (v.Column == "verifier_enc" && strings.HasPrefix(v.Value, "v2:"))
				sawStateHash = sawStateHash || v.Value == sha256Hex(state)
			}
			// The scan must have seen the rows it vouches for.
			if !sawOrg || !sawSealed || !sawStateHash {
				t.Errorf("raw scan of %d cells missed rows: org %v, sealed verifier %v, state hash %v", len(raw), sawOrg, sawSealed, sawStateHash)
			}
			leaks("the store's log", []byte(logs.String()))

			if dc.Name == store.DialectSQLite {
				// Every file SQLite wrote: the database, its WAL and shm.
				files, _ := filepath.Glob(url + "*")
				if len(files) == 0 {
					t.Fatalf("no SQLite files at %s", url)
				}
				for _, f := range files {
					data, err := os.ReadFile(f)
					if err != nil {
						t.Fatal(err)
					}
					leaks(filepath.Base(f), data)
				}
			}
		})
	}
}

// TestSealedValueBoundToRow copies sealed values to other rows and columns
// with plain SQL: none opens there, and the error says which value failed
// without showing it.
func TestSealedValueBoundToRow(t *testing.T) {
	t.Parallel()
	eachSealed(t, func(t *testing.T, db *store.DB, clk *fakeClock) {
		ctx := context.Background()
		a, b := newConnection("T1"), newConnection("T2")
		for _, c := range []alert.Connection{a, b} {
			if err := db.SaveConnection(ctx, c); err != nil {
				t.Fatal(err)
			}
		}
		expires := t0.Add(10 * time.Minute)
		for _, s := range []string{"state-1", "state-2"} {
			if err := db.SavePendingAuth(ctx, s, "T1", "U1", "verifier-of-"+s, expires); err != nil {
				t.Fatal(err)
			}
		}
		store.Exec(t, db, `UPDATE connections SET access_token_enc = (SELECT access_token_enc FROM connections WHERE slack_team_id = 'T1') WHERE slack_team_id = 'T2'`)
		store.Exec(t, db, `UPDATE connections SET refresh_token_enc = access_token_enc WHERE slack_team_id = 'T1'`)
		store.Exec(t, db, `UPDATE oauth_states SET verifier_enc = (SELECT verifier_enc FROM oauth_states WHERE state_hash = ?) WHERE state_hash = ?`,
			sha256Hex("state-1"), sha256Hex("state-2"))

		tests := []struct {
			name    string
			do      func() error
			wantMsg string
		}{
			{"token copied to another team", func() error { _, err := db.Connection(ctx, "T2"); return err }, "connections/T2/access_token"},
			{"access token copied to the refresh column", func() error { _, err := db.Connection(ctx, "T1"); return err }, "connections/T1/refresh_token"},
			{"verifier copied to another state", func() error {
				_, _, _, _, err := db.TakePendingAuth(ctx, "state-2", t0)
				return err
			}, "oauth_states/" + sha256Hex("state-2") + "/verifier"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				err := tt.do()
				if !errors.Is(err, secret.ErrAuthentication) {
					t.Fatalf("err = %v, want secret.ErrAuthentication", err)
				}
				if !strings.Contains(err.Error(), tt.wantMsg) {
					t.Errorf("err = %q, want it to name %s", err, tt.wantMsg)
				}
				for _, s := range []string{a.AccessToken, a.RefreshToken, "verifier-of-state-1"} {
					if strings.Contains(err.Error(), s) {
						t.Errorf("err %q shows a secret", err)
					}
				}
			})
		}
		// The untouched state still opens: only the copy is refused.
		if _, _, v, _, err := db.TakePendingAuth(ctx, "state-1", t0); err != nil || v != "verifier-of-state-1" {
			t.Errorf("TakePendingAuth(state-1) = %q, %v", v, err)
		}
	})
}
