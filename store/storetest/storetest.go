// Package storetest opens throwaway, migrated store.DBs for tests, on
// SQLite always and on PostgreSQL when PROLIFERATE_TEST_DATABASE_URL is set,
// so one test suite runs against both dialects.
//
// Each PostgreSQL database is a fresh schema (CREATE SCHEMA with a random
// name, reached through the connection's search_path) dropped when the test
// ends, so tests run in parallel against one server and a rerun starts
// clean.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/lib/pq" // driver "postgres", for CREATE/DROP SCHEMA.

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/store"
)

// EnvDatabaseURL names the environment variable holding the PostgreSQL URL
// tests use, e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable.
// Unset, PostgreSQL cases are skipped.
const EnvDatabaseURL = "PROLIFERATE_TEST_DATABASE_URL"

// Case is one dialect to run a test against.
type Case struct {
	Name string // store.DialectSQLite or store.DialectPostgres.
	// Open returns a fresh migrated DB, closed (and its schema dropped)
	// when t ends.
	Open func(t testing.TB) *store.DB
	// URL returns a fresh database URL that is not migrated yet, dropped
	// when t ends. Open the URL as often as needed to play several
	// replicas sharing one database.
	URL func(t testing.TB) string
}

// Dialects returns SQLite and, when EnvDatabaseURL is set, PostgreSQL.
// Typical use:
//
//	for _, dc := range storetest.Dialects(t) {
//		t.Run(dc.Name, func(t *testing.T) { db := dc.Open(t); ... })
//	}
func Dialects(t testing.TB) []Case {
	t.Helper()
	cases := []Case{{Name: store.DialectSQLite, Open: SQLite, URL: SQLiteURL}}
	if os.Getenv(EnvDatabaseURL) != "" {
		cases = append(cases, Case{Name: store.DialectPostgres, Open: Postgres, URL: PostgresURL})
	}
	return cases
}

// SQLite opens a migrated SQLite DB in t.TempDir().
func SQLite(t testing.TB) *store.DB {
	t.Helper()
	return OpenURL(t, SQLiteURL(t))
}

// SQLiteURL returns the path of a new SQLite file in t.TempDir().
func SQLiteURL(t testing.TB) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "store.db")
}

// Postgres opens a migrated DB in a fresh schema; it skips t when
// EnvDatabaseURL is unset.
func Postgres(t testing.TB) *store.DB {
	t.Helper()
	return OpenURL(t, PostgresURL(t))
}

// PostgresURL creates a fresh schema and returns EnvDatabaseURL with its
// search_path set to it; the schema is dropped when t ends. It skips t when
// EnvDatabaseURL is unset.
func PostgresURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvDatabaseURL)
	if base == "" {
		t.Skipf("%s is not set", EnvDatabaseURL)
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %s: %v", EnvDatabaseURL, err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "test_" + hex.EncodeToString(b[:])

	admin, err := sql.Open("postgres", base)
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := admin.ExecContext(ctx, `CREATE SCHEMA `+schema); err != nil {
		_ = admin.Close()
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		defer admin.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	q := u.Query()
	// lib/pq sends unknown URL parameters as run-time parameters at
	// connection start-up, so every pooled connection gets the schema.
	q.Set("search_path", schema)
	// A test's commits need not wait for the WAL to reach the disk: what
	// other sessions see, and when, is unchanged; only a crash of the
	// server could lose them, and the schema is thrown away anyway.
	// https://www.postgresql.org/docs/current/wal-async-commit.html
	q.Set("synchronous_commit", "off")
	u.RawQuery = q.Encode()
	return u.String()
}

// OpenURL opens and migrates databaseURL, closing it when t ends (before
// any schema cleanup registered earlier runs).
func OpenURL(t testing.TB, databaseURL string) *store.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := store.Open(ctx, databaseURL, Logger(t))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return db
}

// Logger is a slog.Logger that writes to t.Log, so a failing test shows
// what the store said.
func Logger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// JobsOfKind lists db's jobs of kind (up to 1,000), dead ones included.
func JobsOfKind(t testing.TB, db *store.DB, kind alert.JobKind) []alert.Job {
	t.Helper()
	jobs, err := db.ListJobs(context.Background(), false, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []alert.Job
	for _, j := range jobs {
		if j.Kind == kind {
			out = append(out, j)
		}
	}
	return out
}
