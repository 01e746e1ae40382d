// Package store implements alert.Store with sqlx over two dialects: an
// embedded SQLite database (the pure-Go modernc.org/sqlite driver, so the
// binary stays static) by default, and PostgreSQL (lib/pq) when several
// replicas share one database.
//
// Both dialects run the same SQL wherever they can; where they differ
// (identity columns, SKIP LOCKED, advisory locks) the difference lives in
// the per-dialect migration files or behind db.dialect. Times are stored in
// UTC at microsecond precision on both: PostgreSQL's timestamptz keeps
// microseconds, and SQLite stores fixed-width RFC 3339 text that sorts as
// it compares, so "run_at <= ?" means the same on both.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq"  // registers driver "postgres".
	_ "modernc.org/sqlite" // registers driver "sqlite".

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/secret"
)

// DefaultSQLitePath is the SQLite file Open uses for an empty database URL,
// relative to the working directory.
const DefaultSQLitePath = "proliferate-linear.db"

// Dialect names, as Dialect returns them.
const (
	DialectSQLite   = "sqlite"
	DialectPostgres = "postgres"
)

// sqliteBusyTimeout is how long a SQLite statement waits for a lock held by
// another connection (another process on the same file, or a backup tool)
// before failing with SQLITE_BUSY. https://www.sqlite.org/pragma.html#pragma_busy_timeout
const sqliteBusyTimeout = 5000 // milliseconds

// DB is the database. It implements alert.Store. Build it with Open; it is
// safe for concurrent use.
type DB struct {
	x       *sqlx.DB
	dialect string
	log     *slog.Logger
	now     atomic.Pointer[func() time.Time]
	kr      atomic.Pointer[secret.Keyring] // seals tokens; nil until SetKeyring.
	stmts   stmts                          // prepared statements (stmt.go)
	gap     atomic.Int64                   // repeats' update gap (SetUpdateGap), nanoseconds
	intake  *groupCommit                   // SQLite's single writer of alerts (groupcommit.go)
}

var _ alert.Store = (*DB)(nil)

// Open connects to databaseURL without migrating it (call Migrate).
//
//   - "" opens DefaultSQLitePath;
//   - "file:..." or a plain path opens that SQLite file (pragmas added);
//   - "postgres://..." or "postgresql://..." connects to PostgreSQL.
//
// Any other URL scheme is refused with alert.ErrInvalid.
func Open(ctx context.Context, databaseURL string, log *slog.Logger) (*DB, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	db := &DB{log: log}
	db.SetClock(time.Now)
	db.SetUpdateGap(alert.DefaultUpdateGap)
	switch {
	case strings.HasPrefix(databaseURL, "postgres://"), strings.HasPrefix(databaseURL, "postgresql://"):
		x, err := sqlx.Open("postgres", databaseURL)
		if err != nil {
			return nil, fmt.Errorf("open postgres: %w", err)
		}
		// Connections are cheap to keep and every replica claims jobs and
		// takes row locks concurrently; cap them so N replicas stay well
		// under PostgreSQL's default max_connections of 100.
		x.SetMaxOpenConns(16)
		x.SetMaxIdleConns(16)
		x.SetConnMaxIdleTime(5 * time.Minute)
		db.x, db.dialect = x, DialectPostgres
	case strings.Contains(databaseURL, "://"):
		return nil, fmt.Errorf("database url scheme %q (want postgres:// or a SQLite path): %w",
			strings.SplitN(databaseURL, "://", 2)[0], alert.ErrInvalid)
	default:
		dsn, err := sqliteDSN(databaseURL)
		if err != nil {
			return nil, err
		}
		x, err := sqlx.Open("sqlite", dsn)
		if err != nil {
			return nil, fmt.Errorf("open sqlite: %w", err)
		}
		// One connection for reads and writes. SQLite allows one writer at a
		// time anyway (https://www.sqlite.org/wal.html#concurrency), and a
		// single connection turns what would be SQLITE_BUSY retries between
		// our own connections into an ordered wait in database/sql. It also
		// keeps ":memory:" databases whole (each connection would get its
		// own). The cost, reads waiting behind a write, is small at a chat
		// bot's volume; PostgreSQL is the answer past that.
		x.SetMaxOpenConns(1)
		x.SetMaxIdleConns(1)
		x.SetConnMaxLifetime(0)
		x.SetConnMaxIdleTime(0)
		db.x, db.dialect = x, DialectSQLite
	}
	if err := db.Ping(ctx); err != nil {
		_ = db.x.Close()
		return nil, err
	}
	if db.dialect == DialectSQLite {
		db.intake = newGroupCommit(db)
	}
	log.DebugContext(ctx, "database opened", "dialect", db.dialect)
	return db, nil
}

// sqliteDSN turns a path or a "file:" URI into a modernc.org/sqlite DSN with
// the pragmas this package relies on. Pragmas the caller already set win.
func sqliteDSN(databaseURL string) (string, error) {
	if databaseURL == "" {
		databaseURL = DefaultSQLitePath
	}
	path, rawQuery, _ := strings.Cut(strings.TrimPrefix(databaseURL, "file:"), "?")
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return "", fmt.Errorf("sqlite url query: %w", alert.ErrInvalid)
	}
	has := func(name string) bool {
		for _, p := range q["_pragma"] {
			if strings.HasPrefix(strings.ToLower(strings.TrimSpace(p)), name) {
				return true
			}
		}
		return false
	}
	for _, p := range []struct{ name, value string }{
		// busy_timeout first so the pragmas after it wait rather than fail.
		{"busy_timeout", fmt.Sprintf("busy_timeout(%d)", sqliteBusyTimeout)},
		// WAL lets readers (a backup, an operator's sqlite3 shell) run
		// beside the writer. https://www.sqlite.org/wal.html
		{"journal_mode", "journal_mode(WAL)"},
		// SQLite leaves foreign keys off unless asked, per connection.
		// https://www.sqlite.org/foreignkeys.html#fk_enable
		{"foreign_keys", "foreign_keys(1)"},
		// NORMAL is durable across application crashes in WAL mode; only a
		// power loss may drop the last transactions.
		// https://www.sqlite.org/pragma.html#pragma_synchronous
		{"synchronous", "synchronous(NORMAL)"},
	} {
		if !has(p.name) {
			q.Add("_pragma", p.value)
		}
	}
	// BEGIN IMMEDIATE takes the write lock when a transaction starts, so a
	// read-then-write transaction never fails halfway with SQLITE_BUSY when
	// another process holds the file. https://www.sqlite.org/lang_transaction.html
	if q.Get("_txlock") == "" {
		q.Set("_txlock", "immediate")
	}
	return "file:" + path + "?" + q.Encode(), nil
}

// Close closes the database.
func (db *DB) Close() error {
	if db.intake != nil {
		db.intake.close()
	}
	db.closeStmts()
	return db.x.Close()
}

// Dialect is DialectSQLite or DialectPostgres.
func (db *DB) Dialect() string { return db.dialect }

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.x.PingContext(ctx); err != nil {
		return fmt.Errorf("ping %s: %w", db.dialect, err)
	}
	return nil
}

// SetClock replaces the clock used for timestamps, due times and leases
// (time.Now by default), for tests. Job due times come from the caller's
// clock (RetryJob's runAt), so every replica's clock must roughly agree,
// as NTP ensures.
func (db *DB) SetClock(now func() time.Time) { db.now.Store(&now) }

// SetUpdateGap sets how long after a repeat of a posted alert its
// message is updated (alert.RepeatJob; alert.DefaultUpdateGap unless set).
func (db *DB) SetUpdateGap(d time.Duration) { db.gap.Store(int64(d)) }

// UpdateGap is the gap SetUpdateGap set.
func (db *DB) UpdateGap() time.Duration { return time.Duration(db.gap.Load()) }

// clock is the current time as stored.
func (db *DB) clock() time.Time { return dbTime((*db.now.Load())()) }

// dbTime is t as stored: UTC, microseconds (PostgreSQL's precision).
func dbTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// sqliteTimeLayout is fixed width so that text order is time order.
// modernc.org/sqlite parses it back into time.Time for columns declared
// DATETIME.
const sqliteTimeLayout = "2006-01-02T15:04:05.000000Z"

// t is the argument that stores time v in this dialect. Every time bound
// to a query goes through it: the SQLite driver would otherwise write
// time.Time in Go's String form, which neither sorts nor compares.
func (db *DB) t(v time.Time) any {
	v = dbTime(v)
	if db.dialect == DialectSQLite {
		return v.Format(sqliteTimeLayout)
	}
	return v
}

// nullT is the argument that stores t, or NULL for the zero time.
func (db *DB) nullT(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return db.t(t)
}

// q rewrites a query written with ? placeholders for this dialect.
func (db *DB) q(query string) string { return db.x.Rebind(query) }

// inTx runs fn in a transaction, committing if it returns nil.
func (db *DB) inTx(ctx context.Context, fn func(tx *sqlx.Tx) error) error {
	tx, err := db.x.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		// After a cancelled ctx database/sql has rolled back already.
		if rerr := tx.Rollback(); rerr != nil && !errors.Is(rerr, sql.ErrTxDone) {
			db.log.WarnContext(ctx, "rollback", "err", rerr)
		}
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}
