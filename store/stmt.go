package store

import (
	"context"
	"database/sql"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
)

// Statements are prepared once per database (and, inside database/sql,
// once per pooled connection) and reused: preparing a statement anew for
// every call took about a third of the bot's CPU under a burst of alerts,
// on both drivers (modernc compiles the SQL each time; lib/pq has
// PostgreSQL parse and plan it each time).

// stmts caches prepared statements by their query, as written with ?
// placeholders.
type stmts struct {
	mu      sync.Mutex
	m       map[string]*sqlx.Stmt
	pending map[string]bool // being prepared in the background (see on)
	closed  bool
}

// stmt returns query (with ? placeholders) prepared for this dialect.
func (db *DB) stmt(ctx context.Context, query string) (*sqlx.Stmt, error) {
	db.stmts.mu.Lock()
	st, ok := db.stmts.m[query]
	db.stmts.mu.Unlock()
	if ok {
		return st, nil
	}
	// Prepared outside the lock: preparing waits for a connection, which
	// may be in a transaction that itself wants a statement.
	st, err := db.x.PreparexContext(ctx, db.q(query))
	if err != nil {
		return nil, err
	}
	db.stmts.mu.Lock()
	defer db.stmts.mu.Unlock()
	if db.stmts.closed {
		_ = st.Close()
		return nil, sql.ErrConnDone
	}
	if prev, ok := db.stmts.m[query]; ok {
		_ = st.Close() // another caller prepared it meanwhile.
		return prev, nil
	}
	if db.stmts.m == nil {
		db.stmts.m = map[string]*sqlx.Stmt{}
	}
	db.stmts.m[query] = st
	return st, nil
}

// on returns query's prepared statement for tx (the database when tx is
// nil). A transaction must use its own: the statement is bound to the
// transaction's connection, already prepared there after the first use.
func (db *DB) on(ctx context.Context, tx *sqlx.Tx, query string) (*sqlx.Stmt, error) {
	if tx == nil {
		return db.stmt(ctx, query)
	}
	db.stmts.mu.Lock()
	st, ok := db.stmts.m[query]
	first := !ok && !db.stmts.pending[query]
	if first {
		if db.stmts.pending == nil {
			db.stmts.pending = map[string]bool{}
		}
		db.stmts.pending[query] = true
	}
	db.stmts.mu.Unlock()
	if ok {
		return tx.StmtxContext(ctx, st), nil
	}
	if first {
		// Preparing on the database needs a free connection, and tx may
		// hold the only one (SQLite): prepare it for the cache once tx
		// (or whatever holds the pool) lets go, and for now on tx alone.
		go func() {
			pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
			defer cancel()
			_, _ = db.stmt(pctx, query)
			db.stmts.mu.Lock()
			delete(db.stmts.pending, query)
			db.stmts.mu.Unlock()
		}()
	}
	return tx.PreparexContext(ctx, db.q(query))
}

// exec runs query (? placeholders) through its prepared statement, in tx
// when tx is not nil.
func (db *DB) exec(ctx context.Context, tx *sqlx.Tx, query string, args ...any) (sql.Result, error) {
	st, err := db.on(ctx, tx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

// get scans query's one row into dest (sqlx.Get), in tx when not nil.
func (db *DB) get(ctx context.Context, tx *sqlx.Tx, dest any, query string, args ...any) error {
	st, err := db.on(ctx, tx, query)
	if err != nil {
		return err
	}
	return st.GetContext(ctx, dest, args...)
}

// scan scans query's one row into dest with plain Scan (no reflection),
// in tx when not nil; sql.ErrNoRows if there is none.
func (db *DB) scan(ctx context.Context, tx *sqlx.Tx, query string, args []any, dest ...any) error {
	st, err := db.on(ctx, tx, query)
	if err != nil {
		return err
	}
	return st.QueryRowContext(ctx, args...).Scan(dest...)
}

// sel scans query's rows into dest (sqlx.Select), in tx when not nil.
func (db *DB) sel(ctx context.Context, tx *sqlx.Tx, dest any, query string, args ...any) error {
	st, err := db.on(ctx, tx, query)
	if err != nil {
		return err
	}
	return st.SelectContext(ctx, dest, args...)
}

// closeStmts closes the cached statements (Close).
func (db *DB) closeStmts() {
	db.stmts.mu.Lock()
	defer db.stmts.mu.Unlock()
	for _, st := range db.stmts.m {
		_ = st.Close()
	}
	db.stmts.m = nil
	db.stmts.closed = true
}
