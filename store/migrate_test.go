package store_test

import (
	"context"
	"sync"
	"testing"

	"github.com/proliferate/proliferate-linear/store"
	"github.com/proliferate/proliferate-linear/store/storetest"
)

// tables are the tables migration 1 creates.
var tables = []string{"alerts", "issue_links", "creations", "jobs", "connections", "webhook_deliveries", "schema_migrations"}

func checkSchema(t *testing.T, db *store.DB) {
	t.Helper()
	for _, table := range tables {
		if got := store.QueryString(t, db, "SELECT COUNT(*) FROM "+table); table != "schema_migrations" && got != "0" {
			t.Errorf("%s has %s rows, want an empty table", table, got)
		}
	}
	if got := store.QueryString(t, db, "SELECT COUNT(*) FROM schema_migrations"); got != "1" {
		t.Errorf("schema_migrations has %s rows, want 1", got)
	}
	if got := store.QueryString(t, db, "SELECT name FROM schema_migrations WHERE version = 1"); got != "0001_init.sql" {
		t.Errorf("migration 1 is recorded as %q", got)
	}
}

func TestMigrateIsIdempotent(t *testing.T) {
	for _, dc := range storetest.Dialects(t) {
		t.Run(dc.Name, func(t *testing.T) {
			t.Parallel()
			db := dc.Open(t) // migrated once.
			for range 2 {
				if err := db.Migrate(context.Background()); err != nil {
					t.Fatalf("Migrate again: %v", err)
				}
			}
			checkSchema(t, db)
		})
	}
}

// TestMigrateConcurrent starts several replicas on one empty database at
// once: each Migrate succeeds and the migration runs once.
func TestMigrateConcurrent(t *testing.T) {
	for _, dc := range storetest.Dialects(t) {
		t.Run(dc.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			url := dc.URL(t)
			const replicas = 6
			dbs := make([]*store.DB, replicas)
			for i := range dbs {
				db, err := store.Open(ctx, url, storetest.Logger(t))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { db.Close() })
				dbs[i] = db
			}
			var wg sync.WaitGroup
			for _, db := range dbs {
				wg.Go(func() {
					if err := db.Migrate(ctx); err != nil {
						t.Errorf("Migrate: %v", err)
					}
				})
			}
			wg.Wait()
			checkSchema(t, dbs[0])
		})
	}
}
