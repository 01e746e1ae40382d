package store

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"modernc.org/sqlite"

	"github.com/proliferate/proliferate-linear/alert"
)

// JobRow is a job with its queue state, as tests inspect it.
type JobRow struct {
	alert.Job
	LockedUntil sql.NullTime `db:"locked_until"`
	Owner       string       `db:"owner"`
	PaceKey     string       `db:"pace_key"` // "" for NULL.
}

// AllJobs returns every job, dead ones included, by id.
func AllJobs(t testing.TB, db *DB) []JobRow {
	t.Helper()
	var rows []JobRow
	err := db.x.SelectContext(context.Background(), &rows, `SELECT `+jobColumns+`, locked_until, owner, COALESCE(pace_key, '') AS pace_key FROM jobs ORDER BY id`)
	if err != nil {
		t.Fatalf("all jobs: %v", err)
	}
	for i := range rows {
		rows[i].Job = utcJob(rows[i].Job)
	}
	return rows
}

// QueryString runs a query that returns one value, as text.
func QueryString(t testing.TB, db *DB, query string, args ...any) string {
	t.Helper()
	var s string
	if err := db.x.GetContext(context.Background(), &s, db.q(query), args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return s
}

// OpenLinksPlan is SQLite's query plan for OpenLinks, one step a line.
func OpenLinksPlan(t testing.TB, db *DB) string {
	t.Helper()
	var steps []struct {
		ID      int    `db:"id"`
		Parent  int    `db:"parent"`
		NotUsed int    `db:"notused"`
		Detail  string `db:"detail"`
	}
	if err := db.x.SelectContext(context.Background(), &steps, `EXPLAIN QUERY PLAN `+db.q(openLinksSQL), "", 100); err != nil {
		t.Fatalf("explain open links: %v", err)
	}
	var b strings.Builder
	for _, s := range steps {
		b.WriteString(s.Detail + "\n")
	}
	return b.String()
}

// TimeArg is t as a query argument in db's dialect.
func TimeArg(db *DB, t time.Time) any { return db.t(t) }

// OpenAt opens databaseURL with log (closed when t ends) and migrates it up to
// version only, as an older release left it.
func OpenAt(t testing.TB, databaseURL string, log *slog.Logger, version int) *DB {
	t.Helper()
	db, err := Open(context.Background(), databaseURL, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	MigrateTo(t, db, version)
	return db
}

// MigrateTo applies the migrations up to version only, to test upgrades of
// a database that an older release created.
func MigrateTo(t testing.TB, db *DB, version int) {
	t.Helper()
	ctx := context.Background()
	migs, err := migrations(db.dialect)
	if err != nil {
		t.Fatal(err)
	}
	key, err := db.migrationLockKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range migs {
		if m.version > version {
			break
		}
		if _, err := db.applyMigration(ctx, m, key); err != nil {
			t.Fatalf("migration %s: %v", m.name, err)
		}
	}
}

// Exec runs a statement written with ? placeholders.
func Exec(t testing.TB, db *DB, query string, args ...any) {
	t.Helper()
	if _, err := db.x.ExecContext(context.Background(), db.q(query), args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// RawValue is one cell of the database as plain SQL reads it.
type RawValue struct {
	Table, Column, Value string
}

// RawValues reads every column of every row of every table in db's schema
// with plain SQL, bypassing the store, each cell as text: what someone
// holding a backup or a read-only login would see.
func RawValues(t testing.TB, db *DB) []RawValue {
	t.Helper()
	ctx := context.Background()
	listTables := `SELECT name FROM sqlite_master WHERE type = 'table'`
	if db.dialect == DialectPostgres {
		listTables = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()`
	}
	var tables []string
	if err := db.x.SelectContext(ctx, &tables, listTables); err != nil {
		t.Fatalf("list tables: %v", err)
	}
	var out []RawValue
	for _, table := range tables {
		rows, err := db.x.QueryContext(ctx, `SELECT * FROM `+table)
		if err != nil {
			t.Fatalf("read %s: %v", table, err)
		}
		cols, err := rows.Columns()
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			cells := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range cells {
				ptrs[i] = &cells[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatalf("scan %s: %v", table, err)
			}
			for i, c := range cells {
				v := fmt.Sprint(c)
				if b, ok := c.([]byte); ok {
					v = string(b)
				}
				out = append(out, RawValue{Table: table, Column: cols[i], Value: v})
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		_ = rows.Close()
	}
	return out
}

// ClaimPlan is the plan of the claim ClaimPacedJobs would run now, one
// step a line: SQLite's EXPLAIN QUERY PLAN, or PostgreSQL's EXPLAIN
// ANALYZE (run in a transaction that is rolled back, so nothing is
// claimed), its generic plan if generic (the one a prepared statement
// may settle on).
func ClaimPlan(t testing.TB, db *DB, limit int, pace alert.ClaimPace, generic bool) string {
	t.Helper()
	ctx := context.Background()
	query, args, err := db.claimQuery("plan", limit, time.Minute, pace)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if db.dialect == DialectSQLite {
		var steps []struct {
			ID      int    `db:"id"`
			Parent  int    `db:"parent"`
			NotUsed int    `db:"notused"`
			Detail  string `db:"detail"`
		}
		if err := db.x.SelectContext(ctx, &steps, `EXPLAIN QUERY PLAN `+db.q(query), args...); err != nil {
			t.Fatalf("explain claim: %v", err)
		}
		for _, s := range steps {
			fmt.Fprintf(&b, "%d %d %s\n", s.ID, s.Parent, s.Detail)
		}
		return b.String()
	}
	tx, err := db.x.BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, claimLockPostgres); err != nil {
		t.Fatal(err)
	}
	if generic {
		if _, err := tx.ExecContext(ctx, `SET LOCAL plan_cache_mode = force_generic_plan`); err != nil {
			t.Fatal(err)
		}
	}
	var lines []string
	if err := tx.SelectContext(ctx, &lines, `EXPLAIN (ANALYZE, BUFFERS) `+db.q(query), args...); err != nil {
		t.Fatalf("explain claim: %v", err)
	}
	return strings.Join(lines, "\n")
}

// ClaimPages is how many database pages the claim ClaimPacedJobs would
// run now reads or writes, claiming nothing (its transaction is rolled
// back): on SQLite the connection's page cache hits and misses, on
// PostgreSQL the shared buffers of its EXPLAIN ANALYZE. Pages are what a
// claim costs, however busy the machine is.
func ClaimPages(t testing.TB, db *DB, limit int, pace alert.ClaimPace) int {
	t.Helper()
	ctx := context.Background()
	if db.dialect == DialectPostgres {
		plan := ClaimPlan(t, db, limit, pace, false)
		m := regexp.MustCompile(`^Update on jobs.*\n\s*Buffers: shared hit=(\d+)(?: read=(\d+))?`).FindStringSubmatch(plan)
		if m == nil {
			t.Fatalf("no buffers in the claim's plan:\n%s", plan)
		}
		n := 0
		for _, v := range m[1:] {
			k, _ := strconv.Atoi(v) // "" when nothing was read: 0.
			n += k
		}
		return n
	}
	query, args, err := db.claimQuery("pages", limit, time.Minute, pace)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := db.x.Connx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	pages := func() int {
		n := 0
		if err := conn.Raw(func(dc any) error {
			for _, op := range []sqlite.DBStatusOp{sqlite.DBStatusCacheHit, sqlite.DBStatusCacheMiss} {
				cur, _, err := dc.(sqlite.DBStatus).Status(op, false)
				if err != nil {
					return err
				}
				n += cur
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return n
	}
	tx, err := conn.BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	before := pages()
	var ids []int64
	if err := tx.SelectContext(ctx, &ids, db.q(strings.Replace(query, "RETURNING "+jobColumns, "RETURNING id", 1)), args...); err != nil {
		t.Fatalf("claim: %v", err)
	}
	return pages() - before
}

// Analyze gathers the planner's statistics (ANALYZE), as autovacuum does.
func Analyze(t testing.TB, db *DB) {
	t.Helper()
	if _, err := db.x.Exec(`ANALYZE`); err != nil {
		t.Fatalf("analyze: %v", err)
	}
}
