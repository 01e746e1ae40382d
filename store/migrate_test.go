package store_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/proliferate/proliferate-linear/store"
	"github.com/proliferate/proliferate-linear/store/storetest"
)

// tables are the tables the migrations create.
var tables = []string{"alerts", "issue_links", "creations", "jobs", "connections", "webhook_deliveries", "oauth_states", "channel_pace", "slack_events", "routing_rules", "linear_checks", "schema_migrations"}

func checkSchema(t *testing.T, db *store.DB) {
	t.Helper()
	for _, table := range tables {
		if got := store.QueryString(t, db, "SELECT COUNT(*) FROM "+table); table != "schema_migrations" && got != "0" {
			t.Errorf("%s has %s rows, want an empty table", table, got)
		}
	}
	if got := store.QueryString(t, db, "SELECT COUNT(*) FROM schema_migrations"); got != "11" {
		t.Errorf("schema_migrations has %s rows, want 11", got)
	}
	for version, want := range map[int]string{1: "0001_init.sql", 2: "0002_issue_tracking.sql", 3: "0003_oauth_connections.sql", 4: "0004_durable_deliveries.sql", 5: "0005_slack_messages.sql", 7: "0007_work_engine.sql", 11: "0011_routing_rules.sql", 12: "0012_webhook_jobs.sql", 13: "0013_jobs_claim.sql", 14: "0014_linear_checks.sql", 15: "0015_jobs_pace_key.sql"} {
		if got := store.QueryString(t, db, "SELECT name FROM schema_migrations WHERE version = ?", version); got != want {
			t.Errorf("migration %d is recorded as %q, want %q", version, got, want)
		}
	}
}

func TestMigrateIsIdempotent(t *testing.T) {
	t.Parallel()
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
	t.Parallel()
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

// TestMigrate2Backfills upgrades a database holding links from before
// migration 2: a closed link gets its last update as closed_at, an open
// one stays NULL, and the links read back whole.
func TestMigrate2Backfills(t *testing.T) {
	t.Parallel()
	for _, dc := range storetest.Dialects(t) {
		t.Run(dc.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := store.OpenAt(t, dc.URL(t), storetest.Logger(t), 1)
			updated := t0.Add(-48 * time.Hour)
			for _, l := range []struct{ errorID, stateType string }{
				{"E-done", "completed"}, {"E-dropped", "canceled"}, {"E-open", "started"},
			} {
				store.Exec(t, db, `INSERT INTO issue_links (error_id, issue_id, state_type, created_at, updated_at) VALUES (?, ?, ?, ?, ?)`,
					l.errorID, "issue-"+l.errorID, l.stateType, store.TimeArg(db, t0.Add(-72*time.Hour)), store.TimeArg(db, updated))
			}
			if err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			tests := []struct {
				errorID    string
				wantClosed time.Time
			}{
				{"E-done", ms(updated)},
				{"E-dropped", ms(updated)},
				{"E-open", time.Time{}},
			}
			for _, tt := range tests {
				t.Run(tt.errorID, func(t *testing.T) {
					l, err := db.Link(ctx, tt.errorID)
					if err != nil {
						t.Fatal(err)
					}
					if !l.ClosedAt.Equal(tt.wantClosed) || !l.RegressedAt.IsZero() {
						t.Errorf("ClosedAt, RegressedAt = %v, %v; want %v, zero", l.ClosedAt, l.RegressedAt, tt.wantClosed)
					}
				})
			}
		})
	}
}

// TestMigrateJobsPaceKey: migration 15 gives the queued jobs of a release
// before it their pace key, so a paced claim keeps their channels' turns
// from the first claim after the upgrade: render, note and status jobs get
// their alert's channel, other jobs none.
func TestMigrateJobsPaceKey(t *testing.T) {
	for _, dc := range storetest.Dialects(t) {
		t.Run(dc.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := store.OpenAt(t, dc.URL(t), storetest.Logger(t), 14)
			at := store.TimeArg(db, t0)
			ids := map[string]string{}
			for _, channel := range []string{"C1", "C2"} {
				ids[channel] = store.QueryString(t, db, `INSERT INTO alerts (error_id, channel, first_seen, last_seen, created_at, updated_at)
					VALUES (?, ?, ?, ?, ?, ?) RETURNING id`, "E-"+channel, channel, at, at, at, at)
			}
			for _, j := range []struct {
				kind    string
				alertID any
			}{{"render_alert", ids["C1"]}, {"thread_note", ids["C2"]}, {"thread_status", ids["C1"]}, {"create_routed", ids["C2"]}, {"linear_delivery", nil}} {
				store.Exec(t, db, `INSERT INTO jobs (kind, alert_id, status, attempts, run_at, created_at) VALUES (?, ?, 'queued', 0, ?, ?)`,
					j.kind, j.alertID, at, at)
			}
			if err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range store.AllJobs(t, db) {
				got = append(got, string(r.Kind)+":"+r.PaceKey)
			}
			want := []string{"render_alert:C1", "thread_note:C2", "thread_status:C1", "create_routed:", "linear_delivery:"}
			if !slices.Equal(got, want) {
				t.Errorf("jobs after the migration: %q, want %q", got, want)
			}
		})
	}
}
