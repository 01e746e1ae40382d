package store

import (
	"context"
	"database/sql"
	"testing"

	"github.com/proliferate/proliferate-linear/alert"
)

// JobRow is a job with its queue state, as tests inspect it.
type JobRow struct {
	alert.Job
	Status      string       `db:"status"`
	LockedUntil sql.NullTime `db:"locked_until"`
}

// AllJobs returns every job, dead ones included, by id.
func AllJobs(t testing.TB, db *DB) []JobRow {
	t.Helper()
	var rows []JobRow
	err := db.x.SelectContext(context.Background(), &rows, `SELECT `+jobColumns+`, status, locked_until FROM jobs ORDER BY id`)
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
