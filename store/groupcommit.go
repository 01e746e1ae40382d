package store

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/proliferate/proliferate-linear/alert"
)

// Group commit for the embedded store. SQLite has one writer, and with
// one connection every accept waits its turn for BEGIN, two statements
// and COMMIT. Instead one goroutine takes every accept waiting at that
// moment and writes them in one transaction: a burst costs one COMMIT per
// batch, not per alert, and a lone alert waits for nobody (a batch is
// whatever queued up while the previous one was being written, and what
// the handlers ready to run queue once the writer yields to them). Each
// caller is answered after its batch commits, so a 202 still means
// stored. If the batch's transaction fails, each alert of it is written
// again in a transaction of its own, so one bad alert fails alone.

// maxIntakeBatch bounds a batch, so one transaction stays short.
const maxIntakeBatch = 256

type intakeReq struct {
	ctx  context.Context
	a    alert.Alert
	more []func(alert.Alert) []alert.Job
	out  alert.Accepted
	err  error
	done chan struct{}
}

// groupCommit is the single writer of alerts.
type groupCommit struct {
	db   *DB
	reqs chan *intakeReq
	stop chan struct{}
	wg   sync.WaitGroup
	// mu orders accepts before close: no request is queued after the
	// writer stopped.
	mu     sync.RWMutex
	closed bool
	// batches counts the transactions written, pending the accepts taken
	// and not yet answered (tests).
	batches, pending atomic.Int64
}

// errClosed answers an accept after Close.
var errClosed = errors.New("store is closed")

func newGroupCommit(db *DB) *groupCommit {
	g := &groupCommit{db: db, reqs: make(chan *intakeReq, maxIntakeBatch), stop: make(chan struct{})}
	g.wg.Go(g.run)
	return g
}

// accept queues a (and the jobs more returns for it) for the next batch and
// waits until it is committed.
func (g *groupCommit) accept(ctx context.Context, a alert.Alert, more []func(alert.Alert) []alert.Job) (alert.Accepted, error) {
	r := &intakeReq{ctx: ctx, a: a, more: more, done: make(chan struct{})}
	g.mu.RLock()
	if g.closed {
		g.mu.RUnlock()
		return alert.Accepted{}, errClosed
	}
	g.pending.Add(1)
	defer g.pending.Add(-1)
	select {
	case g.reqs <- r:
		g.mu.RUnlock()
	case <-ctx.Done():
		g.mu.RUnlock()
		return alert.Accepted{}, ctx.Err()
	}
	// Wait for the batch even if ctx ends meanwhile: the answer must say
	// whether the alert was stored. A batch skips a request whose ctx
	// ended before it began.
	<-r.done
	return r.out, r.err
}

func (g *groupCommit) run() {
	batch := make([]*intakeReq, 0, maxIntakeBatch)
	for {
		batch = batch[:0]
		select {
		case r := <-g.reqs:
			batch = append(batch, r)
		case <-g.stop:
			g.drain()
			return
		}
		g.take(&batch)
		// Yield while that finds more: the handlers already runnable (on a
		// busy machine, waiting for a CPU) queue their alerts in this batch
		// rather than each in a batch of its own behind it. With nothing
		// else to run, Gosched returns at once, so a lone alert still
		// waits for nobody.
		for len(batch) < maxIntakeBatch {
			n := len(batch)
			runtime.Gosched()
			g.take(&batch)
			if len(batch) == n {
				break
			}
		}
		g.write(batch)
	}
}

// take adds to batch the requests queued now, up to maxIntakeBatch.
func (g *groupCommit) take(batch *[]*intakeReq) {
	for len(*batch) < maxIntakeBatch {
		select {
		case r := <-g.reqs:
			*batch = append(*batch, r)
		default:
			return
		}
	}
}

// write commits batch in one transaction, or each request alone if that
// fails, and answers every request.
func (g *groupCommit) write(batch []*intakeReq) {
	defer func() {
		for _, r := range batch {
			close(r.done)
		}
	}()
	live := batch[:0:0]
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.err = err // the caller gave up before its alert was written.
		} else {
			live = append(live, r)
		}
	}
	if len(live) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	g.batches.Add(1)
	outs := make([]alert.Accepted, len(live))
	err := g.db.inTx(ctx, func(tx *sqlx.Tx) error {
		// The transaction's context bounds the batch: once it ends,
		// database/sql rolls the transaction back and every statement
		// after fails. The statements themselves run without one, because
		// modernc.org/sqlite watches a cancellable context with a
		// goroutine of its own for every statement.
		sctx := context.WithoutCancel(ctx)
		ids := make([]string, len(live))
		for i, r := range live {
			out, err := g.db.storeIn(sctx, tx, r.a, r.more)
			if err != nil {
				return err
			}
			outs[i].Alert, ids[i] = out, out.ErrorID
		}
		// The links as the batch sees them: one read for the batch.
		links, err := g.db.linksIn(sctx, tx, ids)
		if err != nil {
			return err
		}
		for i := range outs {
			if l, ok := links[ids[i]]; ok {
				c := *l // each caller its own.
				outs[i].Link = &c
			}
		}
		return nil
	})
	if err == nil {
		for i, r := range live {
			r.out = outs[i]
		}
		return
	}
	if len(live) == 1 {
		live[0].err = err
		return
	}
	for _, r := range live {
		r.err = g.db.inTx(r.ctx, func(tx *sqlx.Tx) error {
			var err error
			r.out, err = g.db.acceptIn(r.ctx, tx, r.a, r.more)
			return err
		})
	}
}

// drain answers the requests still queued at Close.
func (g *groupCommit) drain() {
	for {
		select {
		case r := <-g.reqs:
			r.err = errClosed
			close(r.done)
		default:
			return
		}
	}
}

// close stops the writer after the batch under way.
func (g *groupCommit) close() {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return
	}
	g.closed = true
	g.mu.Unlock()
	close(g.stop)
	g.wg.Wait()
}
