package store

import (
	"context"
	"testing"
)

// HoldSQLite takes the embedded store's only connection until release, so
// the intake writer waits; accepts queue up meanwhile.
func HoldSQLite(t testing.TB, db *DB) (release func()) {
	t.Helper()
	tx, err := db.x.BeginTxx(context.Background(), nil)
	if err != nil {
		t.Fatalf("hold the connection: %v", err)
	}
	return func() { _ = tx.Rollback() }
}

// IntakePending is how many accepts wait for the intake writer.
func IntakePending(db *DB) int64 { return db.intake.pending.Load() }

// IntakeBatches is how many transactions the intake writer has written.
func IntakeBatches(db *DB) int64 { return db.intake.batches.Load() }
