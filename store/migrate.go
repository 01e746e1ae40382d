package store

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/jmoiron/sqlx"
)

// migrationFS holds the versioned schema of each dialect, one directory per
// dialect. A file is named NNNN_description.sql; NNNN is its version. Files
// are never edited once released: a change is a new file.
//
//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrationFS embed.FS

// migration is one schema step.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the dialect's migrations in version order.
func migrations(dialect string) ([]migration, error) {
	dir := "migrations/" + dialect
	entries, err := fs.ReadDir(migrationFS, dir)
	if err != nil {
		return nil, fmt.Errorf("read migrations of %s: %w", dialect, err)
	}
	var out []migration
	seen := map[int]string{}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must be NNNN_description.sql", e.Name())
		}
		if prev, dup := seen[v]; dup {
			return nil, fmt.Errorf("migrations %s and %s share version %d", prev, e.Name(), v)
		}
		seen[v] = e.Name()
		body, err := fs.ReadFile(migrationFS, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", e.Name(), err)
		}
		out = append(out, migration{version: v, name: e.Name(), sql: string(body)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out, nil
}

const createSchemaMigrations = `CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER  PRIMARY KEY,
    name       TEXT     NOT NULL,
    applied_at DATETIME NOT NULL
)`

// Migrate brings the schema up to date. It is safe to run on every start
// and from several replicas at once: each migration runs in its own
// transaction that first takes a lock (an advisory lock on PostgreSQL, the
// write lock on SQLite via BEGIN IMMEDIATE) and then checks
// schema_migrations, so a migration is applied exactly once and a replica
// that waited sees it done.
func (db *DB) Migrate(ctx context.Context) error {
	migs, err := migrations(db.dialect)
	if err != nil {
		return err
	}
	applied, err := db.appliedMigrations(ctx)
	if err != nil {
		return err
	}
	var (
		key     int64
		keyRead bool
	)
	for _, m := range migs {
		if applied[m.version] {
			continue
		}
		if !keyRead {
			if key, err = db.migrationLockKey(ctx); err != nil {
				return err
			}
			keyRead = true
		}
		done, err := db.applyMigration(ctx, m, key)
		if err != nil {
			return fmt.Errorf("migration %s (%s): %w", m.name, db.dialect, err)
		}
		if done {
			db.log.InfoContext(ctx, "migration applied", "dialect", db.dialect, "version", m.version, "name", m.name)
		}
		applied[m.version] = true
	}
	newest := 0
	for v := range applied {
		newest = max(newest, v)
	}
	if len(migs) > 0 && newest > migs[len(migs)-1].version {
		// A newer release migrated this database; running older code on it
		// works only if that migration was additive.
		db.log.WarnContext(ctx, "database schema is newer than this binary",
			"schema_version", newest, "known_version", migs[len(migs)-1].version)
	}
	return nil
}

// appliedMigrations reads the versions schema_migrations records (none
// before the first migration), without taking the migration lock: a
// version recorded is applied for good, and applyMigration checks a
// missing one again under the lock. So a database already up to date,
// every start but the first after a release, costs two queries instead of
// a locked transaction per migration.
func (db *DB) appliedMigrations(ctx context.Context) (map[int]bool, error) {
	exists := `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'`
	if db.dialect == DialectPostgres {
		// Resolved through search_path, as the unqualified name below is.
		exists = `SELECT COUNT(*) FROM (SELECT to_regclass('schema_migrations') AS t) AS r WHERE t IS NOT NULL`
	}
	var n int
	if err := db.x.GetContext(ctx, &n, exists); err != nil {
		return nil, fmt.Errorf("look for schema_migrations: %w", err)
	}
	applied := map[int]bool{}
	if n == 0 {
		return applied, nil
	}
	var versions []int
	if err := db.x.SelectContext(ctx, &versions, `SELECT version FROM schema_migrations`); err != nil {
		return nil, fmt.Errorf("read schema version: %w", err)
	}
	for _, v := range versions {
		applied[v] = true
	}
	return applied, nil
}

// migrationLockKey is the PostgreSQL advisory lock key for migrations of
// the current schema, so replicas of one deployment serialise while tests
// in separate schemas of one database do not.
func (db *DB) migrationLockKey(ctx context.Context) (int64, error) {
	if db.dialect != DialectPostgres {
		return 0, nil
	}
	var schema string
	if err := db.x.GetContext(ctx, &schema, `SELECT COALESCE(current_schema(), '')`); err != nil {
		return 0, fmt.Errorf("current schema: %w", err)
	}
	h := fnv.New64a()
	h.Write([]byte("proliferate-linear/migrate/" + schema))
	return int64(h.Sum64()), nil
}

// applyMigration runs m unless schema_migrations says it ran, in one
// transaction. It reports whether it applied m.
func (db *DB) applyMigration(ctx context.Context, m migration, lockKey int64) (bool, error) {
	applied := false
	err := db.inTx(ctx, func(tx *sqlx.Tx) error {
		if db.dialect == DialectPostgres {
			// A transaction-level lock is released by COMMIT or ROLLBACK, so
			// no failure path can leave it held on a pooled connection.
			// https://www.postgresql.org/docs/current/explicit-locking.html#ADVISORY-LOCKS
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, lockKey); err != nil {
				return fmt.Errorf("advisory lock: %w", err)
			}
		}
		ddl := createSchemaMigrations
		if db.dialect == DialectPostgres {
			ddl = strings.Replace(ddl, "DATETIME", "TIMESTAMPTZ", 1)
		}
		if _, err := tx.ExecContext(ctx, ddl); err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
		var n int
		if err := tx.GetContext(ctx, &n, db.q(`SELECT COUNT(*) FROM schema_migrations WHERE version = ?`), m.version); err != nil {
			return fmt.Errorf("read schema_migrations: %w", err)
		}
		if n > 0 {
			return nil
		}
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`),
			m.version, m.name, db.t(db.clock())); err != nil {
			return fmt.Errorf("record migration: %w", err)
		}
		applied = true
		return nil
	})
	return applied, err
}

// MigratedSQLiteFile migrates a new SQLite database at file, closes it and
// returns the file's bytes: a whole migrated database, for the tests and
// the bench to copy wherever a database should start migrated. Closing the
// last connection checkpoints the WAL into the file and removes it, so the
// one file is the whole database.
func MigratedSQLiteFile(ctx context.Context, file string) ([]byte, error) {
	db, err := Open(ctx, file, nil)
	if err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx); err != nil {
		return nil, errors.Join(err, db.Close())
	}
	if err := db.Close(); err != nil {
		return nil, err
	}
	if _, err := os.Stat(file + "-wal"); err == nil {
		return nil, fmt.Errorf("sqlite %s: the WAL outlived Close", file)
	}
	return os.ReadFile(file)
}
