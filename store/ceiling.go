package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Ceiling is what CommitCeiling measured.
type Ceiling struct {
	// PerSecond is committed transactions per second over the run.
	PerSecond float64
	// Latencies holds each transaction's time from BEGIN to COMMIT's end.
	Latencies []time.Duration
}

// CommitCeiling measures the reference the alert intake is compared with:
// n transactions of one INSERT (a row of rowSize bytes of text) and a
// COMMIT each, from workers goroutines at once, on databaseURL opened
// exactly as Open opens it (same driver, pragmas, connection pool). It
// writes to a scratch table it drops afterwards and touches nothing else.
func CommitCeiling(ctx context.Context, databaseURL string, workers, n, rowSize int) (Ceiling, error) {
	db, err := Open(ctx, databaseURL, nil)
	if err != nil {
		return Ceiling{}, err
	}
	defer db.Close()
	var b [6]byte
	_, _ = rand.Read(b[:])
	table := "ceiling_" + hex.EncodeToString(b[:])
	ddl := `CREATE TABLE ` + table + ` (id INTEGER PRIMARY KEY, body TEXT NOT NULL, created_at TEXT NOT NULL)`
	if db.dialect == DialectPostgres {
		ddl = `CREATE TABLE ` + table + ` (id BIGSERIAL PRIMARY KEY, body TEXT NOT NULL, created_at TEXT NOT NULL)`
	}
	if _, err := db.x.ExecContext(ctx, ddl); err != nil {
		return Ceiling{}, fmt.Errorf("create %s: %w", table, err)
	}
	defer func() { _, _ = db.x.ExecContext(context.WithoutCancel(ctx), `DROP TABLE `+table) }()
	insert, err := db.x.PreparexContext(ctx, db.q(`INSERT INTO `+table+` (body, created_at) VALUES (?, ?)`))
	if err != nil {
		return Ceiling{}, fmt.Errorf("prepare: %w", err)
	}
	defer insert.Close()
	body := strings.Repeat("x", rowSize)
	lat := make([]time.Duration, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, workers)
	start := time.Now()
	for w := range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				t0 := time.Now()
				tx, err := db.x.BeginTxx(ctx, nil)
				if err == nil {
					_, err = tx.StmtxContext(ctx, insert).ExecContext(ctx, body, db.t(t0))
					if err != nil {
						_ = tx.Rollback()
					} else {
						err = tx.Commit()
					}
				}
				if err != nil {
					errs[w] = err
					return
				}
				lat[i] = time.Since(t0)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	for _, err := range errs {
		if err != nil {
			return Ceiling{}, fmt.Errorf("insert and commit: %w", err)
		}
	}
	if err := ctx.Err(); err != nil {
		return Ceiling{}, err
	}
	return Ceiling{PerSecond: float64(n) / elapsed.Seconds(), Latencies: lat}, nil
}
