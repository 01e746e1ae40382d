package store_test

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/store"
	"github.com/proliferate/proliferate-linear/store/storetest"
)

// claimIDs claims and returns the claimed jobs' ids, failing on error.
func claimIDs(t *testing.T, db *store.DB, limit int, lease time.Duration) []int64 {
	t.Helper()
	jobs, err := db.ClaimJobs(context.Background(), "test", limit, lease)
	if err != nil {
		t.Fatalf("ClaimJobs: %v", err)
	}
	ids := []int64{}
	for _, j := range jobs {
		ids = append(ids, j.ID)
	}
	return ids
}

func TestJobLifecycle(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, db *store.DB, clk *fakeClock) {
		ctx := context.Background()
		a := accept(t, db, newAlert("E-jobs", "C1")) // queues its render job.
		// A job about no alert, with a payload: any kind runs on this queue.
		if err := db.Enqueue(ctx, alert.Job{Kind: "linear_delivery", Payload: `{"delivery":"d1"}`}, alert.Job{
			Kind: alert.JobThreadNote, AlertID: a.ID, Text: "later", RunAt: t0.Add(time.Hour),
		}); err != nil {
			t.Fatal(err)
		}
		jobs, err := db.ClaimJobs(ctx, "test", 10, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		want := []alert.Job{
			{ID: jobs[0].ID, Kind: alert.JobRenderAlert, AlertID: a.ID, DedupeKey: "render:" + itoa(a.ID), SerialKey: "alert:" + itoa(a.ID),
				Status: alert.JobRunning, RunAt: ms(t0), CreatedAt: ms(t0)},
			{ID: jobs[0].ID + 1, Kind: "linear_delivery", Payload: `{"delivery":"d1"}`, Status: alert.JobRunning, RunAt: ms(t0), CreatedAt: ms(t0)},
		}
		if diff := cmp.Diff(want, jobs); diff != "" {
			t.Fatalf("first claim (-want +got):\n%s", diff)
		}
		render, note, later := jobs[0].ID, jobs[1].ID, jobs[1].ID+1

		steps := []struct {
			name    string
			advance time.Duration
			act     func() error
			limit   int
			want    []int64
		}{
			{name: "leased jobs are not claimed again", limit: 10, want: []int64{}},
			{name: "a future job waits for its run_at", advance: 59 * time.Second, limit: 10, want: []int64{}},
			{name: "an expired lease makes jobs due again", advance: time.Second, limit: 10, want: []int64{render, note}},
			{name: "retry is due at runAt, not before", act: func() error {
				return db.RetryJob(ctx, render, t0.Add(time.Minute+10*time.Second), "slack 500")
			}, advance: 9 * time.Second, limit: 10, want: []int64{}},
			{name: "retried job comes back", advance: time.Second, limit: 10, want: []int64{render}},
			{name: "buried job never comes back; limit caps the claim", act: func() error {
				return db.BuryJob(ctx, note, "channel_not_found")
			}, advance: 24 * time.Hour, limit: 1, want: []int64{render}},
			{name: "limit 0 claims nothing", act: func() error { return db.FinishJob(ctx, render) }, advance: 24 * time.Hour, limit: 0, want: []int64{}},
			{name: "finished job is gone", limit: 10, want: []int64{later}},
		}
		for _, s := range steps {
			if s.act != nil {
				if err := s.act(); err != nil {
					t.Fatalf("%s: %v", s.name, err)
				}
			}
			clk.Advance(s.advance)
			if diff := cmp.Diff(s.want, claimIDs(t, db, s.limit, time.Minute)); diff != "" {
				t.Fatalf("%s: claimed ids (-want +got):\n%s", s.name, diff)
			}
		}

		rows := store.AllJobs(t, db)
		got := map[int64]store.JobRow{}
		for _, r := range rows {
			got[r.ID] = r
		}
		if _, ok := got[render]; ok {
			t.Errorf("finished job %d still stored", render)
		}
		// note: claimed, lease expired (attempt 1), buried (attempt 2).
		if n := got[note]; n.Status != "dead" || n.Attempts != 2 || n.LastError != "channel_not_found" || n.LockedUntil.Valid {
			t.Errorf("buried job = %+v, want dead after 2 attempts with its error", n)
		}
		if l := got[later]; l.Status != "running" || !l.LockedUntil.Valid {
			t.Errorf("claimed job = %+v, want running with a lease", l)
		}
		stats, err := db.QueueStats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		wantStats := store.QueueStats{Running: 1, Dead: 1, ByKind: []store.KindCount{
			{Kind: "linear_delivery", State: alert.JobDead, Jobs: 1, Attempts: 2},
			{Kind: alert.JobThreadNote, State: alert.JobRunning, Jobs: 1},
		}}
		if diff := cmp.Diff(wantStats, stats); diff != "" {
			t.Errorf("QueueStats (-want +got):\n%s", diff)
		}
	})
}

// TestQueueStatsByKind: the scrape-time counts split by kind and state,
// the retried job's attempts summed, and the oldest due time among the
// queued jobs of every kind.
func TestQueueStatsByKind(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, db *store.DB, clk *fakeClock) {
		ctx := context.Background()
		a := accept(t, db, newAlert("E-stats-1", "C1"))
		clk.Advance(time.Second)
		accept(t, db, newAlert("E-stats-2", "C1"))
		if err := db.Enqueue(ctx, alert.Job{Kind: alert.JobThreadNote, AlertID: a.ID, Text: "soon", RunAt: t0.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		// The first render job fails once and is retried in a minute.
		jobs, err := db.ClaimJobs(ctx, "test", 1, time.Minute)
		if err != nil || len(jobs) != 1 {
			t.Fatalf("claim = %v, %v", jobs, err)
		}
		if err := db.RetryJob(ctx, jobs[0].ID, clk.Now().Add(time.Minute), "slack 500"); err != nil {
			t.Fatal(err)
		}
		stats, err := db.QueueStats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := store.QueueStats{Queued: 3, OldestDue: ms(t0.Add(time.Second)), ByKind: []store.KindCount{
			{Kind: alert.JobRenderAlert, State: alert.JobQueued, Jobs: 2, Attempts: 1},
			{Kind: alert.JobThreadNote, State: alert.JobQueued, Jobs: 1},
		}}
		if diff := cmp.Diff(want, stats); diff != "" {
			t.Errorf("QueueStats (-want +got):\n%s", diff)
		}
	})
}

func TestLeaseExpiryCountsAttempts(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, db *store.DB, clk *fakeClock) {
		ctx := context.Background()
		accept(t, db, newAlert("E-lease", "C1"))
		for want := range 3 {
			jobs, err := db.ClaimJobs(ctx, "test", 1, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			if len(jobs) != 1 || jobs[0].Attempts != want {
				t.Fatalf("claim %d = %+v, want one job with %d attempts", want, jobs, want)
			}
			if want > 0 && jobs[0].LastError != "lease expired" {
				t.Errorf("LastError = %q, want %q", jobs[0].LastError, "lease expired")
			}
			clk.Advance(time.Minute) // the worker died; the lease runs out.
		}
	})
}

func TestRetryFoldsIntoNewerQueuedJob(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, db *store.DB, clk *fakeClock) {
		ctx := context.Background()
		a := accept(t, db, newAlert("E-retry", "C1"))
		running := claimIDs(t, db, 10, time.Minute)
		accept(t, db, newAlert("E-retry", "C1")) // queues a newer render job.
		if err := db.RetryJob(ctx, running[0], t0.Add(time.Second), "slack 429"); err != nil {
			t.Fatalf("RetryJob with a clashing dedupe key: %v", err)
		}
		want := []jobView{{alert.JobRenderAlert, a.ID, "render:" + itoa(a.ID), "queued", 0}}
		if diff := cmp.Diff(want, queue(t, db)); diff != "" {
			t.Errorf("queue (-want +got):\n%s", diff)
		}
		stats, err := db.QueueStats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(store.QueueStats{Queued: 1, OldestDue: ms(t0),
			ByKind: []store.KindCount{{Kind: alert.JobRenderAlert, State: alert.JobQueued, Jobs: 1}}}, stats); diff != "" {
			t.Errorf("QueueStats (-want +got):\n%s", diff)
		}
		clk.Advance(time.Second)
		if got := claimIDs(t, db, 10, time.Minute); len(got) != 1 || got[0] == running[0] {
			t.Errorf("claimed %v, want only the newer job", got)
		}
	})
}

func TestJobErrors(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, db *store.DB, _ *fakeClock) {
		ctx := context.Background()
		tests := []struct {
			name string
			call func() error
			want error
		}{
			{"finish missing job", func() error { return db.FinishJob(ctx, 999) }, alert.ErrNotFound},
			{"retry missing job", func() error { return db.RetryJob(ctx, 999, t0, "x") }, alert.ErrNotFound},
			{"bury missing job", func() error { return db.BuryJob(ctx, 999, "x") }, alert.ErrNotFound},
			// foreign_keys must be on for SQLite to refuse this.
			{"job of a missing alert", func() error { return db.Enqueue(ctx, alert.RenderJob(999)) }, alert.ErrNotFound},
			{"job without kind", func() error { return db.Enqueue(ctx, alert.Job{AlertID: 1}) }, alert.ErrInvalid},
			{"zero lease", func() error { _, err := db.ClaimJobs(ctx, "test", 1, 0); return err }, alert.ErrInvalid},
			{"enqueue nothing", func() error { return db.Enqueue(ctx) }, nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) { wantErr(t, tt.name, tt.call(), tt.want) })
		}
	})
}

func TestLastErrorIsClipped(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, db *store.DB, _ *fakeClock) {
		accept(t, db, newAlert("E-clip", "C1"))
		id := claimIDs(t, db, 1, time.Minute)[0]
		long := strings.Repeat("é", 3000) // 6000 bytes
		if err := db.BuryJob(context.Background(), id, long); err != nil {
			t.Fatal(err)
		}
		got := store.AllJobs(t, db)[0].LastError
		if len(got) > 2000 || !strings.HasPrefix(long, got) || len(got) < 1990 {
			t.Errorf("LastError is %d bytes, want a clean prefix of at most 2000", len(got))
		}
	})
}

// TestClaimJobsConcurrent claims from several replicas (separate DB
// handles, several connections each on PostgreSQL) at once: every job is
// claimed exactly once.
func TestClaimJobsConcurrent(t *testing.T) {
	t.Parallel()
	for _, dc := range storetest.Dialects(t) {
		t.Run(dc.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			url := dc.MigratedURL(t)
			const replicas, workers, total = 3, 4, 300
			dbs := make([]*store.DB, replicas)
			for i := range dbs {
				dbs[i] = storetest.OpenURL(t, url)
			}
			accept(t, dbs[0], newAlert("E-many", "C1"))
			jobs := make([]alert.Job, total-1) // plus the render job.
			for i := range jobs {
				jobs[i] = alert.Job{Kind: "test", Text: "job " + itoa(int64(i))} // no serial key: any replica, any time.
			}
			if err := dbs[0].Enqueue(ctx, jobs...); err != nil {
				t.Fatal(err)
			}

			var mu sync.Mutex
			seen := map[int64]int{}
			var wg sync.WaitGroup
			for r := range replicas {
				for range workers {
					wg.Go(func() {
						for {
							got, err := dbs[r].ClaimJobs(ctx, "test", 7, time.Hour)
							if err != nil {
								t.Errorf("ClaimJobs: %v", err)
								return
							}
							if len(got) == 0 {
								return
							}
							mu.Lock()
							for _, j := range got {
								seen[j.ID]++
							}
							mu.Unlock()
						}
					})
				}
			}
			wg.Wait()
			if len(seen) != total {
				t.Errorf("claimed %d distinct jobs, want %d", len(seen), total)
			}
			for id, n := range seen {
				if n != 1 {
					t.Errorf("job %d claimed %d times", id, n)
				}
			}
		})
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestJobsCarryTheirChannel: every job of alert.ChannelKinds is queued
// with its alert's channel as its pace key, whichever way it is queued,
// and no other job has one. A paced claim finds a channel's jobs by that
// key; a statement that queued a job without it would let the job pass
// its channel's turn.
func TestJobsCarryTheirChannel(t *testing.T) {
	each(t, func(t *testing.T, db *store.DB, clk *fakeClock) {
		ctx := context.Background()
		a := accept(t, db, newAlert("E-1", "C1"))
		acc, err := db.AcceptAlert(ctx, newAlert("E-2", "C2"), func(b alert.Alert) []alert.Job {
			return []alert.Job{alert.StatusJob(b.ID, "1700000000.000100")}
		})
		if err != nil {
			t.Fatal(err)
		}
		b := acc.Alert
		if err := db.SetAlertMessage(ctx, a.ID, "1700000000.000200"); err != nil {
			t.Fatal(err)
		}
		accept(t, db, newAlert("E-1", "C1")) // a repeat of a posted alert: a later render job.
		if err := db.Enqueue(ctx,
			alert.NoteJob(a.ID, alert.Note{Kind: alert.NoteText, Text: "created ENG-1"}),
			alert.StatusJob(b.ID, "1700000000.000300"),
			alert.Job{Kind: alert.JobCreateRouted, AlertID: a.ID, Payload: "{}"},
			alert.Job{Kind: alert.JobLinearDelivery, Payload: "{}"},
		); err != nil {
			t.Fatal(err)
		}
		rows := store.AllJobs(t, db)
		if len(rows) != 8 {
			t.Fatalf("%d jobs, want 8", len(rows))
		}
		channel := map[int64]string{a.ID: "C1", b.ID: "C2"}
		for _, r := range rows {
			want := ""
			if slices.Contains(alert.ChannelKinds, r.Kind) {
				want = channel[r.AlertID]
			}
			if r.PaceKey != want {
				t.Errorf("%s job of alert %d has pace key %q, want %q", r.Kind, r.AlertID, r.PaceKey, want)
			}
		}
	})
}
