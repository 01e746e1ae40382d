package main

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/secret"
	"github.com/proliferate/proliferate-linear/store"
)

func runCmd(t *testing.T, env map[string]string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out, errw bytes.Buffer
	err := run(ctx, args, func(k string) string { return env[k] }, &out, &errw)
	return out.String(), err
}

func TestCommands(t *testing.T) {
	if out, err := runCmd(t, nil, "version"); err != nil || !strings.HasPrefix(out, "proliferate-linear ") {
		t.Errorf("version = %q, %v", out, err)
	}
	if _, err := runCmd(t, nil, "frobnicate"); !errors.Is(err, errUsage) {
		t.Errorf("unknown command = %v, want a usage error", err)
	}
	if _, err := runCmd(t, map[string]string{"SLACK_API_URL": "https://slack.com/api"}, "migrate"); err == nil ||
		!strings.Contains(err.Error(), "SLACK_API_URL") {
		t.Errorf("bad config error = %v, want it to name SLACK_API_URL", err)
	}
	if _, err := runCmd(t, map[string]string{"DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "x.db")}, "serve"); err == nil ||
		!strings.Contains(err.Error(), "SLACK_BOT_TOKEN") {
		t.Errorf("serve without tokens = %v, want it to name SLACK_BOT_TOKEN", err)
	}
}

// TestResealAfterKeyRotation stores a connection under key 1, rotates to
// key 2 with the reseal command, and reads it back with key 2 alone.
func TestResealAfterKeyRotation(t *testing.T) {
	dir := t.TempDir()
	dbURL := "sqlite:" + filepath.Join(dir, "bot.db")
	k1, _ := secret.GenerateKey(1)
	k2, _ := secret.GenerateKey(2)
	if out, err := runCmd(t, map[string]string{"DATABASE_URL": dbURL, "ENCRYPTION_KEY": k1.Encode()}, "migrate"); err != nil {
		t.Fatalf("migrate: %v %s", err, out)
	}
	ctx := context.Background()
	open := func(keys ...secret.Key) *store.DB {
		t.Helper()
		db, err := store.Open(ctx, filepath.Join(dir, "bot.db"), nil)
		if err != nil {
			t.Fatal(err)
		}
		kr, err := secret.NewKeyring(keys[0], keys[1:]...)
		if err != nil {
			t.Fatal(err)
		}
		db.SetKeyring(kr)
		return db
	}
	db := open(k1)
	conn := alert.Connection{SlackTeamID: "T1", OrgID: "org1", OrgName: "Acme", AccessToken: "lin_oauth_access_xyz",
		RefreshToken: "lin_refresh_xyz", Status: alert.ConnectionActive}
	if err := db.SaveConnection(ctx, conn); err != nil {
		t.Fatal(err)
	}
	db.Close()

	out, err := runCmd(t, map[string]string{"DATABASE_URL": dbURL, "ENCRYPTION_KEY": k2.Encode(), "ENCRYPTION_KEY_PREVIOUS": k1.Encode()}, "reseal")
	if err != nil || !strings.Contains(out, "re-encrypted 2 value(s) under key version 2") {
		t.Fatalf("reseal = %q, %v", out, err)
	}
	db = open(k2)
	defer db.Close()
	got, err := db.Connection(ctx, "T1")
	if err != nil || got.AccessToken != conn.AccessToken || got.RefreshToken != conn.RefreshToken {
		t.Fatalf("after reseal, key 2 alone reads %+v, %v", got, err)
	}
}
