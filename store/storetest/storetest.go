// Package storetest opens throwaway, migrated store.DBs for tests, on
// SQLite always and on PostgreSQL when PROLIFERATE_TEST_DATABASE_URL is set,
// so one test suite runs against both dialects.
//
// Each PostgreSQL database is a schema of its own (reached through the
// connection's search_path), so tests run in parallel against one server:
// an unmigrated one is created for the test and dropped when it ends; a
// migrated one comes from a pool of schemas emptied between tests (see
// PostgresMigratedURL), reached through a proxy in the test process that
// keeps the server sessions of closed stores for the next (sessions.go).
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lib/pq" // driver "postgres", for CREATE/DROP SCHEMA; its errors.

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
	// MigratedURL is URL already migrated, for tests that start replicas
	// (or the bot) on a database whose migrations they do not test: on
	// SQLite a copy of the process's migrated template (see SQLite).
	MigratedURL func(t testing.TB) string
}

// Dialects returns SQLite and, when EnvDatabaseURL is set, PostgreSQL.
// Typical use:
//
//	for _, dc := range storetest.Dialects(t) {
//		t.Run(dc.Name, func(t *testing.T) { db := dc.Open(t); ... })
//	}
func Dialects(t testing.TB) []Case {
	t.Helper()
	cases := []Case{{Name: store.DialectSQLite, Open: SQLite, URL: SQLiteURL, MigratedURL: SQLiteMigratedURL}}
	if os.Getenv(EnvDatabaseURL) != "" {
		cases = append(cases, Case{Name: store.DialectPostgres, Open: Postgres, URL: PostgresURL, MigratedURL: PostgresMigratedURL})
	}
	return cases
}

// SQLite opens a migrated SQLite DB in t.TempDir(). The file starts as a
// copy of a template the process migrated once (its first call), and Open
// runs Migrate on it as usual, which finds nothing to do: migrating from
// scratch costs 0.5–0.9 s per database under the race detector (the pure-Go
// driver's DDL), a copy a few milliseconds. Migrations themselves are tested
// on URL's unmigrated databases.
func SQLite(t testing.TB) *store.DB {
	t.Helper()
	return OpenURL(t, SQLiteMigratedURL(t))
}

// SQLiteMigratedURL returns the path of a new SQLite file in t.TempDir()
// holding a copy of the migrated template.
func SQLiteMigratedURL(t testing.TB) string {
	t.Helper()
	tmpl, err := sqliteTemplate()
	if err != nil {
		t.Fatalf("migrated sqlite template: %v", err)
	}
	path := SQLiteURL(t)
	if err := os.WriteFile(path, tmpl, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

var template struct {
	sync.Mutex
	file []byte // a closed (checkpointed) migrated SQLite database
}

// sqliteTemplate returns the bytes of a freshly migrated SQLite database,
// migrating one the first time. A failure is not remembered: the next call
// tries again.
func sqliteTemplate() ([]byte, error) {
	template.Lock()
	defer template.Unlock()
	if template.file != nil {
		return template.file, nil
	}
	dir, err := os.MkdirTemp("", "storetest-template-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := store.MigratedSQLiteFile(ctx, filepath.Join(dir, "template.db"))
	if err != nil {
		return nil, err
	}
	template.file = b
	return b, nil
}

// SQLiteURL returns the path of a new SQLite file in t.TempDir().
func SQLiteURL(t testing.TB) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "store.db")
}

// Postgres opens a migrated DB in a schema of its own (see
// PostgresMigratedURL); it skips t when EnvDatabaseURL is unset.
func Postgres(t testing.TB) *store.DB {
	t.Helper()
	return OpenURL(t, PostgresMigratedURL(t))
}

// PostgresURL creates a fresh, empty schema and returns EnvDatabaseURL with
// its search_path set to it; the schema is dropped when t ends. It skips t
// when EnvDatabaseURL is unset.
func PostgresURL(t testing.TB) string {
	t.Helper()
	base := postgresBase(t)
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "test_" + hex.EncodeToString(b[:])
	admin, err := adminDB(base)
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := admin.ExecContext(ctx, `CREATE SCHEMA `+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		if err := dropSchema(admin, schema); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return schemaURL(t, base, schema)
}

// postgresBase is EnvDatabaseURL; it skips t when that is unset.
func postgresBase(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvDatabaseURL)
	if base == "" {
		t.Skipf("%s is not set", EnvDatabaseURL)
	}
	return base
}

// schemaURL is base reaching schema.
func schemaURL(t testing.TB, base, schema string) string {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %s: %v", EnvDatabaseURL, err)
	}
	q := u.Query()
	// lib/pq sends unknown URL parameters as run-time parameters at
	// connection start-up, so every pooled connection gets the schema.
	q.Set("search_path", schema)
	// Every session on the schema carries its name, so the pool can tell
	// when a test has let go of it: the session proxy counts its sessions
	// by search_path, and without the proxy pg_stat_activity shows them.
	q.Set("application_name", schema)
	// A test's commits need not wait for the WAL to reach the disk: what
	// other sessions see, and when, is unchanged; only a crash of the
	// server could lose them, and the schema is thrown away anyway.
	// https://www.postgresql.org/docs/current/wal-async-commit.html
	q.Set("synchronous_commit", "off")
	u.RawQuery = q.Encode()
	return u.String()
}

// tcpAddress is base's host:port, or "" when base reaches the server
// another way (a Unix socket).
func tcpAddress(base string) string {
	u, err := url.Parse(base)
	if err != nil || u.Host == "" || u.Query().Get("host") != "" {
		return ""
	}
	if u.Port() == "" {
		return net.JoinHostPort(u.Hostname(), "5432")
	}
	return u.Host
}

// viaProxy is databaseURL reaching the server through the proxy at addr.
func viaProxy(databaseURL, addr string) string {
	u, err := url.Parse(databaseURL)
	if err != nil {
		return databaseURL // schemaURL parsed it already.
	}
	u.Host = addr
	return u.String()
}

// dropSchema drops schema and everything in it.
func dropSchema(admin *sql.DB, schema string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return retryDeadlock(func() error {
		_, err := admin.ExecContext(ctx, `DROP SCHEMA IF EXISTS `+schema+` CASCADE`)
		return err
	})
}

// retryDeadlock runs the transaction tx again when PostgreSQL cancelled it
// as part of a deadlock, up to five times: DROP SCHEMA ... CASCADE and
// TRUNCATE of parallel tests, on schemas of their own, can still deadlock
// on the catalog rows they both lock.
func retryDeadlock(tx func() error) error {
	for attempt := 1; ; attempt++ {
		err := tx()
		var pqErr *pq.Error
		if err != nil && errors.As(err, &pqErr) && pqErr.Code == "40P01" && attempt < 5 {
			continue
		}
		return err
	}
}

var admins struct {
	sync.Mutex
	m map[string]*sql.DB
}

// adminDB is the process's connection pool to base for creating, resetting
// and dropping schemas: one pool for all tests, since every new PostgreSQL
// session costs the server a process start and cold catalog caches.
func adminDB(base string) (*sql.DB, error) {
	admins.Lock()
	defer admins.Unlock()
	if db, ok := admins.m[base]; ok {
		return db, nil
	}
	db, err := sql.Open("postgres", base)
	if err != nil {
		return nil, err
	}
	if admins.m == nil {
		admins.m = map[string]*sql.DB{}
	}
	admins.m[base] = db
	return db, nil
}

// PostgresMigratedURL returns EnvDatabaseURL reaching a migrated schema
// that is t's alone until t ends. It skips t when EnvDatabaseURL is unset.
//
// Creating and migrating a schema costs the server about 0.1 s of CPU, most
// of the PostgreSQL tests' cost, so the schemas come from a pool (pool.go):
// when t ends and no session is left on its schema, the schema's tables are
// emptied (TRUNCATE, which gives them new empty files and resets their
// identities and planner figures, as fresh tables have) and it goes back
// to the pool, unless its catalog no longer matches a freshly migrated one
// (a test ran DDL or ANALYZE), in which case it is dropped.
func PostgresMigratedURL(t testing.TB) string {
	t.Helper()
	base := postgresBase(t)
	p, err := poolFor(base)
	if err != nil {
		t.Fatalf("postgres schema pool: %v", err)
	}
	s, err := p.take(t)
	if err != nil {
		t.Fatalf("postgres schema: %v", err)
	}
	t.Cleanup(func() {
		if err := p.release(s); err != nil {
			t.Errorf("release schema %s: %v", s.name, err)
		}
	})
	return s.url
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
