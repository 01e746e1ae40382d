package store_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/store"
	"github.com/proliferate/proliferate-linear/store/storetest"
)

// TestAcceptAlertsAnsweredApart: many accepts at once, new errors and repeats,
// each answered with its own alert and every one stored, with the right
// occurrence counts and one queued render job per alert.
func TestAcceptAlertsAnsweredApart(t *testing.T) {
	t.Parallel()
	for _, dc := range storetest.Dialects(t) {
		t.Run(dc.Name, func(t *testing.T) {
			db := dc.Open(t)
			ctx := context.Background()
			const n, errs = 120, 6
			var wg sync.WaitGroup
			got := make([]alert.Alert, n)
			fails := make([]error, n)
			for i := range n {
				wg.Go(func() {
					var acc alert.Accepted
					acc, fails[i] = db.AcceptAlert(ctx, newAlert(fmt.Sprintf("E-%d", i%errs), "C1"))
					got[i] = acc.Alert
				})
			}
			wg.Wait()
			if err := errors.Join(fails...); err != nil {
				t.Fatal(err)
			}
			seen := map[string]map[int64]bool{}
			for i, a := range got {
				want := fmt.Sprintf("E-%d", i%errs)
				if a.ErrorID != want || a.ID == 0 {
					t.Fatalf("accept %d answered %+v, want its own alert %s", i, a, want)
				}
				if seen[a.ErrorID] == nil {
					seen[a.ErrorID] = map[int64]bool{}
				}
				if seen[a.ErrorID][a.Occurrences] {
					t.Errorf("two accepts of %s both answered occurrence %d", a.ErrorID, a.Occurrences)
				}
				seen[a.ErrorID][a.Occurrences] = true
			}
			for e := range errs {
				id := fmt.Sprintf("E-%d", e)
				as, err := db.AlertsByError(ctx, id)
				if err != nil || len(as) != 1 || as[0].Occurrences != n/errs {
					t.Errorf("%s stored as %+v (%v), want one alert seen %d times", id, as, err, n/errs)
				}
			}
			if jobs := store.AllJobs(t, db); len(jobs) != errs {
				t.Errorf("%d jobs queued, want one render job per alert (%d)", len(jobs), errs)
			}
		})
	}
}

// TestAcceptAlertGroupCommit: on the embedded store, accepts that arrive
// while the writer is busy are written together in one transaction, and
// each caller is answered only once it is committed. An accept whose
// caller gave up before its batch began is not stored, and says so.
func TestAcceptAlertGroupCommit(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	before := store.IntakeBatches(db)
	release := store.HoldSQLite(t, db)
	const n = 20
	var wg sync.WaitGroup
	answered := make(chan int, n)
	fails := make([]error, n)
	gone, giveUp := context.WithCancel(ctx)
	for i := range n {
		c := ctx
		if i == n-1 {
			c = gone
		}
		wg.Go(func() {
			_, fails[i] = db.AcceptAlert(c, newAlert(fmt.Sprintf("E-%d", i), "C1"))
			answered <- i
		})
	}
	// The writer took the first accepts and waits for the connection; the
	// others queue behind them.
	for store.IntakePending(db) < n {
		select {
		case i := <-answered:
			t.Fatalf("accept %d answered while the store was held (err %v)", i, fails[i])
		case <-ctx.Done():
			t.Fatalf("%d accepts wait for the writer, want %d", store.IntakePending(db), n)
		case <-time.After(time.Millisecond):
		}
	}
	giveUp()
	release()
	wg.Wait()
	if got := store.IntakeBatches(db) - before; got < 1 || got > 2 {
		t.Errorf("%d transactions for %d accepts, want at most 2 (those waiting first, then the rest together)", got, n)
	}
	for i, err := range fails {
		as, aerr := db.AlertsByError(ctx, fmt.Sprintf("E-%d", i))
		switch {
		case i == n-1:
			// The caller that gave up: refused, and not stored (or, if
			// the writer took it first, stored and answered).
			if err == nil && (aerr != nil || len(as) != 1) {
				t.Errorf("accept %d answered stored, but the store has %+v (%v)", i, as, aerr)
			}
			if err != nil && (!errors.Is(err, context.Canceled) || len(as) != 0) {
				t.Errorf("accept %d: %v, and the store has %+v; want canceled and nothing stored", i, err, as)
			}
		case err != nil:
			t.Errorf("accept %d: %v", i, err)
		case aerr != nil || len(as) != 1:
			t.Errorf("accept %d answered, but the store has %+v (%v)", i, as, aerr)
		}
	}
}

// TestAcceptAlertBatchesRunnableCallers: accepts whose callers are all
// ready to run, but not yet running (one CPU, as on a busy machine), go in
// one batch: the writer yields to them before it writes, rather than
// writing the first alone and each of the others in a batch of its own.
func TestAcceptAlertBatchesRunnableCallers(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	before := store.IntakeBatches(db)
	const n = 32
	var wg sync.WaitGroup
	fails := make([]error, n)
	for i := range n {
		wg.Go(func() { _, fails[i] = db.AcceptAlert(context.Background(), newAlert(fmt.Sprintf("E-%d", i), "C1")) })
	}
	wg.Wait()
	if err := errors.Join(fails...); err != nil {
		t.Fatal(err)
	}
	if got := store.IntakeBatches(db) - before; got > 4 {
		t.Errorf("%d transactions for %d accepts made at once on one CPU, want at most 4", got, n)
	}
}

// TestAcceptAlertAfterClose: an accept after Close is refused, not lost
// in a queue nobody reads.
func TestAcceptAlertAfterClose(t *testing.T) {
	t.Parallel()
	for _, dc := range storetest.Dialects(t) {
		t.Run(dc.Name, func(t *testing.T) {
			u := storetest.SQLiteURL(t)
			if dc.Name != "sqlite" {
				u = storetest.PostgresURL(t)
			}
			db, err := store.Open(context.Background(), u, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := db.Migrate(context.Background()); err != nil {
				t.Fatal(err)
			}
			db.Close()
			if _, err := db.AcceptAlert(context.Background(), newAlert("E-1", "C1")); err == nil {
				t.Error("accept after close succeeded")
			}
		})
	}
}
