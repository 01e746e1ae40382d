package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/store"
)

// DeadJobByDedupeKey finds a buried job under its key even when a newer
// job holds the key too, and nothing while none is dead.
func TestDeadJobByDedupeKey(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, db *store.DB, _ *fakeClock) {
		ctx := context.Background()
		a := accept(t, db, newAlert("E-dead", "C1"))
		if err := db.Enqueue(ctx, alert.Job{Kind: "auto_create", AlertID: a.ID, DedupeKey: "auto:E-dead"}); err != nil {
			t.Fatal(err)
		}
		if _, err := db.DeadJobByDedupeKey(ctx, "auto:E-dead"); !errors.Is(err, alert.ErrNotFound) {
			t.Fatalf("before any is dead: %v, want ErrNotFound", err)
		}
		jobs, err := db.ClaimJobs(ctx, "test", 10, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		var first int64
		for _, j := range jobs {
			if j.DedupeKey == "auto:E-dead" {
				first = j.ID
			}
		}
		if first == 0 {
			t.Fatalf("the job was not claimed: %+v", jobs)
		}
		// A second job under the key while the first runs, then the first dies.
		if err := db.Enqueue(ctx, alert.Job{Kind: "auto_create", AlertID: a.ID, DedupeKey: "auto:E-dead"}); err != nil {
			t.Fatal(err)
		}
		if err := db.BuryJob(ctx, first, "rule 1 could not file"); err != nil {
			t.Fatal(err)
		}
		if newest, err := db.JobByDedupeKey(ctx, "auto:E-dead"); err != nil || newest.ID == first {
			t.Fatalf("newest job = %+v, %v; want the second", newest, err)
		}
		dead, err := db.DeadJobByDedupeKey(ctx, "auto:E-dead")
		if err != nil || dead.ID != first || dead.Status != alert.JobDead || dead.LastError != "rule 1 could not file" {
			t.Fatalf("dead job = %+v, %v; want job %d buried", dead, err, first)
		}
	})
}
