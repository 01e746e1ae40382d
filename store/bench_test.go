package store_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/store"
	"github.com/proliferate/proliferate-linear/store/storetest"
)

// BenchmarkAcceptAlert measures AcceptAlert (upsert plus render job, one
// transaction) per dialect: "new" stores a new error each time, "fold"
// repeats one error, the common case during an incident.
func BenchmarkAcceptAlert(b *testing.B) {
	for _, dc := range storetest.Dialects(b) {
		for _, mode := range []string{"new", "fold"} {
			b.Run(dc.Name+"/"+mode, func(b *testing.B) {
				db := dc.Open(b)
				ctx := context.Background()
				a := newAlert("E-bench", "C1")
				for i := 0; b.Loop(); i++ {
					if mode == "new" {
						a.ErrorID = "E-" + strconv.Itoa(i)
					}
					if _, err := db.AcceptAlert(ctx, a); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "alerts/s")
			})
		}
	}
}

// BenchmarkAcceptAlertParallel is AcceptAlert from many goroutines at once,
// as the webhook handler sees it under load.
func BenchmarkAcceptAlertParallel(b *testing.B) {
	for _, dc := range storetest.Dialects(b) {
		b.Run(dc.Name, func(b *testing.B) {
			db := dc.Open(b)
			ctx := context.Background()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				a := newAlert("E-bench", "C1")
				i := 0
				for pb.Next() {
					i++
					a.ErrorID = "E-" + strconv.Itoa(i%50) // 50 errors folding.
					if _, err := db.AcceptAlert(ctx, a); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "alerts/s")
		})
	}
}

// BenchmarkOpenLinks reads one poller page (100 issues) out of 10,000
// links, 80% of them closed, as a workspace looks after a year.
func BenchmarkOpenLinks(b *testing.B) {
	for _, dc := range storetest.Dialects(b) {
		b.Run(dc.Name, func(b *testing.B) {
			db := dc.Open(b)
			ctx := context.Background()
			for i := range 10000 {
				l := link("E-"+strconv.Itoa(i), "issue-"+strconv.Itoa(i/2), "PRO-"+strconv.Itoa(i/2))
				if i%10 < 8 {
					l.StateType, l.ClosedAt = "completed", t0
				}
				if err := db.SaveLink(ctx, l); err != nil {
					b.Fatal(err)
				}
			}
			for b.Loop() {
				ls, err := db.OpenLinks(ctx, "issue-2", 100)
				if err != nil || len(ls) == 0 {
					b.Fatal(len(ls), err)
				}
			}
		})
	}
}

// BenchmarkRecordDelivery records a new delivery each time with its job
// (the id, then the job, in one transaction), one issue per delivery: the
// webhook endpoint's one write before it answers Linear.
func BenchmarkRecordDelivery(b *testing.B) {
	for _, dc := range storetest.Dialects(b) {
		b.Run(dc.Name, func(b *testing.B) {
			db := dc.Open(b)
			ctx := context.Background()
			for i := 0; b.Loop(); i++ {
				id := "d-" + strconv.Itoa(i)
				if _, err := db.RecordDelivery(ctx, id, deliveryJob(b, id, "issue-"+id, "started")); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkClaimJobs measures one claim of 16 jobs from a backlog of 2,000
// render jobs over 500 channels (a burst after a restart), per dialect:
// "plain" as ClaimJobs, "paced" as the dispatcher claims (alert.ClaimPace:
// a channel's jobs only near its turn, two per channel at most); and
// "held-N", paced, with N older jobs waiting in a channel Slack holds
// (heldJobs). The claimed jobs are handed back between claims, off the
// clock.
func BenchmarkClaimJobs(b *testing.B) {
	for _, dc := range storetest.Dialects(b) {
		db := dc.Open(b)
		ctx := context.Background()
		for i := range 2000 {
			if _, err := db.AcceptAlert(ctx, newAlert("E-"+strconv.Itoa(i), "C"+strconv.Itoa(i%500))); err != nil {
				b.Fatal(err)
			}
		}
		for _, mode := range []string{"plain", "paced"} {
			b.Run(dc.Name+"/"+mode, func(b *testing.B) {
				pace := alert.ClaimPace{Kinds: alert.ChannelKinds, PerChannel: 16}
				if mode == "paced" {
					pace = alert.ClaimPace{Kinds: alert.ChannelKinds, Ahead: time.Second, PerChannel: 2}
				}
				benchClaims(b, db, pace)
			})
		}
	}
	// A channel Slack holds (Retry-After) with held jobs queued before
	// everyone else's, and 64 due jobs over 32 other channels: a paced claim
	// reads none of the held jobs, so its time does not grow with them.
	for _, dc := range storetest.Dialects(b) {
		for _, held := range []int{100, 5000} {
			b.Run(dc.Name+"/held-"+strconv.Itoa(held), func(b *testing.B) {
				db := dc.Open(b)
				heldJobs(b, db, held)
				pace := alert.ClaimPace{Kinds: alert.ChannelKinds, Ahead: time.Second, HoldAhead: time.Second, PerChannel: 2}
				benchClaims(b, db, pace)
			})
		}
	}
}

// heldJobs queues held render jobs in channel C-held, which Slack holds
// for an hour, then 64 render jobs over channels C0…C31.
func heldJobs(tb testing.TB, db *store.DB, held int) {
	tb.Helper()
	ctx := context.Background()
	for i := range held {
		if _, err := db.AcceptAlert(ctx, newAlert("E-held-"+strconv.Itoa(i), "C-held")); err != nil {
			tb.Fatal(err)
		}
	}
	for i := range 64 {
		if _, err := db.AcceptAlert(ctx, newAlert("E-"+strconv.Itoa(i), "C"+strconv.Itoa(i%32))); err != nil {
			tb.Fatal(err)
		}
	}
	if err := db.HoldChannel(ctx, "C-held", time.Hour); err != nil {
		tb.Fatal(err)
	}
	if db.Dialect() == store.DialectPostgres {
		// As autovacuum does within a minute of the burst: on a table this
		// young the planner's guesses, not the backlog, set the cost
		// (TestClaimCostFlatInHeldBacklog measures a young one).
		store.Analyze(tb, db)
	}
}

// benchClaims claims 16 jobs per iteration with pace and hands them back
// untimed, so every claim sees the same queue; it reports ms per claim.
func benchClaims(b *testing.B, db *store.DB, pace alert.ClaimPace) {
	ctx := context.Background()
	for b.Loop() {
		jobs, err := db.ClaimPacedJobs(ctx, "bench", 16, time.Minute, pace)
		if err != nil || len(jobs) != 16 {
			b.Fatalf("claimed %d jobs (%v), want 16", len(jobs), err)
		}
		b.StopTimer()
		for _, j := range jobs {
			if err := db.PostponeJob(ctx, j.ID, j.RunAt, ""); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/claim")
}
