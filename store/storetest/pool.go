package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/proliferate/proliferate-linear/store"
)

// poolPrefix starts the name of every pooled schema:
// poolPrefix + the owning process's token + "_" + a random suffix.
const poolPrefix = "testpool_"

// pgPool holds the migrated schemas of one test process that no test is
// using. The process holds a session-level advisory lock for its token as
// long as it lives, so another process can tell the schemas of a process
// that has exited (its lock is free) and drop them.
type pgPool struct {
	base  string // EnvDatabaseURL
	admin *sql.DB
	proxy *sessionProxy // nil when base is not a TCP address
	owner *sql.Conn     // holds the token's advisory lock until the process exits.
	token string

	mu   sync.Mutex
	free []*pooledSchema
}

// pooledSchema is one migrated schema.
type pooledSchema struct {
	name string
	url  string
	sig  string // its catalog's signature when freshly migrated
	// What the schema holds when freshly migrated (see catalog).
	ns     uint32   // its oid
	rels   []uint32 // its relations
	tables []uint32 // its tables but schema_migrations
	seqs   []uint32 // its sequences
	// seqStarts holds each sequence's start value, by seqs' index.
	seqStarts []int64
	// seeds holds the rows migrations put in tables (json_agg of each
	// table, by its qualified name), put back after every TRUNCATE.
	seeds map[string]string
}

var pools struct {
	sync.Mutex
	m map[string]*pgPool
}

// poolFor returns the process's pool of schemas on base, starting it (and
// dropping the schemas processes that have exited left) the first time. A
// failure is not remembered: the next call tries again.
func poolFor(base string) (*pgPool, error) {
	pools.Lock()
	defer pools.Unlock()
	if p, ok := pools.m[base]; ok {
		return p, nil
	}
	admin, err := adminDB(base)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	owner, err := admin.Conn(ctx)
	if err != nil {
		return nil, err
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	p := &pgPool{base: base, admin: admin, owner: owner, token: hex.EncodeToString(b[:])}
	if upstream := tcpAddress(base); upstream != "" {
		if p.proxy, err = proxyFor(upstream); err != nil {
			_ = owner.Close()
			return nil, fmt.Errorf("session proxy: %w", err)
		}
	}
	if _, err := owner.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, poolLockKey(p.token)); err != nil {
		_ = owner.Close()
		return nil, fmt.Errorf("lock pool token: %w", err)
	}
	if err := p.sweep(ctx); err != nil {
		_ = owner.Close()
		return nil, fmt.Errorf("drop schemas of exited test processes: %w", err)
	}
	if pools.m == nil {
		pools.m = map[string]*pgPool{}
	}
	pools.m[base] = p
	return p, nil
}

// poolLockKey is the advisory lock key of a pool's token.
func poolLockKey(token string) int64 {
	h := fnv.New64a()
	h.Write([]byte("proliferate-linear/storetest/pool/" + token))
	return int64(h.Sum64())
}

// sweep drops the pooled schemas of test processes that have exited: the
// last run's pool stays behind, as no test knows it is the last.
func (p *pgPool) sweep(ctx context.Context) error {
	var names []string
	rows, err := p.owner.QueryContext(ctx, `SELECT nspname FROM pg_namespace WHERE starts_with(nspname, $1)`, poolPrefix)
	if err != nil {
		return err
	}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			_ = rows.Close()
			return err
		}
		names = append(names, n)
	}
	if err := rows.Close(); err != nil {
		return err
	}
	byToken := map[string][]string{}
	for _, n := range names {
		token, _, ok := strings.Cut(strings.TrimPrefix(n, poolPrefix), "_")
		if ok && token != p.token {
			byToken[token] = append(byToken[token], n)
		}
	}
	for token, schemas := range byToken {
		var free bool
		if err := p.owner.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1)`, poolLockKey(token)).Scan(&free); err != nil {
			return err
		}
		if !free {
			continue // its process is still running.
		}
		for _, s := range schemas {
			if err := dropSchema(p.admin, s); err != nil {
				return err
			}
		}
		if _, err := p.owner.ExecContext(ctx, `SELECT pg_advisory_unlock($1)`, poolLockKey(token)); err != nil {
			return err
		}
	}
	return nil
}

// take returns a schema no other test is using, migrating a new one when
// the pool is empty.
func (p *pgPool) take(t testing.TB) (*pooledSchema, error) {
	p.mu.Lock()
	if n := len(p.free); n > 0 {
		s := p.free[n-1]
		p.free = p.free[:n-1]
		p.mu.Unlock()
		return s, nil
	}
	p.mu.Unlock()
	return p.create(t)
}

// create makes and migrates a new schema for the pool.
func (p *pgPool) create(t testing.TB) (*pooledSchema, error) {
	var b [6]byte
	_, _ = rand.Read(b[:])
	s := &pooledSchema{name: poolPrefix + p.token + "_" + hex.EncodeToString(b[:])}
	s.url = schemaURL(t, p.base, s.name)
	if p.proxy != nil {
		s.url = viaProxy(s.url, p.proxy.addr())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := p.admin.ExecContext(ctx, `CREATE SCHEMA `+s.name); err != nil {
		return nil, fmt.Errorf("create schema: %w", err)
	}
	err := func() error {
		db, err := store.Open(ctx, s.url, Logger(t))
		if err != nil {
			return fmt.Errorf("open store: %w", err)
		}
		err = db.Migrate(ctx)
		if cerr := db.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		if err := p.catalog(ctx, s); err != nil {
			return fmt.Errorf("read catalog: %w", err)
		}
		// Migrations that index an existing table leave other planner
		// figures on its indexes than TRUNCATE does: start every test,
		// on a new schema or a reused one, from the same.
		if err := p.truncate(ctx, s, true); err != nil {
			return fmt.Errorf("truncate: %w", err)
		}
		s.sig, err = p.signature(ctx, s)
		return err
	}()
	if err != nil {
		if derr := p.drop(s); derr != nil {
			t.Logf("drop schema %s: %v", s.name, derr)
		}
		return nil, err
	}
	return s, nil
}

// release puts s back in the pool, emptied, or drops it when it cannot be
// made as good as new.
func (p *pgPool) release(s *pooledSchema) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.reset(ctx, s); err != nil {
		return p.drop(s)
	}
	p.mu.Lock()
	p.free = append(p.free, s)
	p.mu.Unlock()
	return nil
}

// drop drops s and closes the parked sessions on it.
func (p *pgPool) drop(s *pooledSchema) error {
	err := dropSchema(p.admin, s.name)
	if p.proxy != nil {
		p.proxy.forget(s.name)
	}
	return err
}

// sessionsGoneWithin is how long release waits for the sessions of a
// test's closed stores to end: the server (or the proxy) ends one a moment
// after its client hangs up.
const sessionsGoneWithin = 2 * time.Second

// sessionsOn is how many sessions are on s: those the proxy has lent out
// (a parked one is idle and emptied) or, without a proxy, the server's.
func (p *pgPool) sessionsOn(ctx context.Context, s *pooledSchema) (int, error) {
	if p.proxy != nil {
		return p.proxy.inUseOn(s.name), nil
	}
	var n int
	err := p.admin.QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_activity WHERE application_name = $1`, s.name).Scan(&n)
	return n, err
}

var errNotReusable = errors.New("schema not reusable")

// reset empties s for the next test: it waits until no session is on s
// (a store still open could write into the next test's data), truncates
// every table written to, restarts every sequence used, and checks that
// the catalog is then as freshly migrated.
func (p *pgPool) reset(ctx context.Context, s *pooledSchema) error {
	deadline := time.Now().Add(sessionsGoneWithin)
	for pause := time.Millisecond; ; pause = min(2*pause, 50*time.Millisecond) {
		n, err := p.sessionsOn(ctx, s)
		if err != nil {
			return err
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			return errNotReusable
		}
		time.Sleep(pause) // polling the server for a condition; there is no event to wait on.
	}
	if err := p.truncate(ctx, s, false); err != nil {
		return err
	}
	sig, err := p.signature(ctx, s)
	if err != nil {
		return err
	}
	if sig != s.sig {
		return errNotReusable
	}
	return nil
}

// catalog reads, once per schema, which relations a freshly migrated s
// has, and the rows migrations left in its tables. Later queries name the
// relations by oid: the catalogs of a database that tests keep creating
// and dropping schemas in are mostly dead rows, and a query that filters
// pg_class by schema reads all of them (tens of milliseconds).
func (p *pgPool) catalog(ctx context.Context, s *pooledSchema) error {
	// pg_relation_size and pg_sequence's start after the filter on the
	// schema: only on s's relations (see truncate).
	rows, err := p.admin.QueryContext(ctx, `SELECT r.oid, r.relkind, r.relname, r.oid::regclass::text,
	    CASE WHEN r.relkind = 'r' THEN pg_relation_size(r.oid) > 0 ELSE false END,
	    COALESCE((SELECT seqstart FROM pg_sequence WHERE seqrelid = r.oid), 0)
	FROM (SELECT oid, relkind, relname FROM pg_class WHERE relnamespace = `+pq.QuoteLiteral(s.name)+`::regnamespace OFFSET 0) AS r`)
	if err != nil {
		return err
	}
	var seeded []string
	for rows.Next() {
		var (
			oid              uint32
			kind, name, qual string
			written          bool
			start            int64
		)
		if err := rows.Scan(&oid, &kind, &name, &qual, &written, &start); err != nil {
			_ = rows.Close()
			return err
		}
		s.rels = append(s.rels, oid)
		switch {
		case kind == "S":
			s.seqs = append(s.seqs, oid)
			s.seqStarts = append(s.seqStarts, start)
		case kind == "r" && name != "schema_migrations":
			s.tables = append(s.tables, oid)
			if written {
				seeded = append(seeded, qual)
			}
		}
	}
	if err := rows.Close(); err != nil {
		return err
	}
	if err := p.admin.QueryRowContext(ctx, `SELECT $1::regnamespace::oid`, s.name).Scan(&s.ns); err != nil {
		return err
	}
	s.seeds = map[string]string{}
	for _, t := range seeded {
		var rows sql.NullString
		if err := p.admin.QueryRowContext(ctx, `SELECT json_agg(t)::text FROM `+t+` t`).Scan(&rows); err != nil {
			return err
		}
		if rows.Valid {
			s.seeds[t] = rows.String
		}
	}
	return nil
}

// oids is an oid[] literal.
func oids(list []uint32) string { return arrayLiteral(list, "oid[]") }

// int64s is a bigint[] literal.
func int64s(list []int64) string { return arrayLiteral(list, "bigint[]") }

// arrayLiteral is list as a PostgreSQL array literal of type typ.
func arrayLiteral[T uint32 | int64](list []T, typ string) string {
	var b strings.Builder
	b.WriteString("'{")
	for i, v := range list {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprint(&b, v)
	}
	b.WriteString("}'::" + typ)
	return b.String()
}

// truncate empties s's tables (all of them, or only those written to),
// puts the migrations' seed rows back and restarts the sequences that were
// used, in one transaction and one round trip. TRUNCATE gives a table new
// empty files and sets its planner figures, and its indexes', back to
// "never vacuumed or analysed"; a table never written to has no pages.
func (p *pgPool) truncate(ctx context.Context, s *pooledSchema, all bool) error {
	// Every function that opens a relation (pg_relation_size, setval,
	// pg_sequence_last_value) is called on s's own relations only, by
	// oid: filtering a catalog for them instead could call it on another
	// test's relations first, and lock them, or fail on one being dropped.
	var q strings.Builder
	q.WriteString(`DO $$
DECLARE
	dirty text;
BEGIN
	SELECT string_agg(t::regclass::text, ', ') INTO dirty FROM unnest(` + oids(s.tables) + `) AS t
	WHERE ` + fmt.Sprint(all) + ` OR pg_relation_size(t) > 0;
	IF dirty IS NOT NULL THEN
		EXECUTE 'TRUNCATE ' || dirty || ' RESTART IDENTITY CASCADE';
	END IF;
END $$;
`)
	for t, rows := range s.seeds {
		fmt.Fprintf(&q, "INSERT INTO %s OVERRIDING SYSTEM VALUE SELECT * FROM json_populate_recordset(NULL::%s, %s);\n", t, t, pq.QuoteLiteral(rows))
	}
	// After the seeds: their INSERTs may draw on a sequence.
	q.WriteString(`SELECT setval(q.seq, q.start, false) FROM unnest(` + oids(s.seqs) + `, ` + int64s(s.seqStarts) + `) AS q(seq, start)
	WHERE pg_sequence_last_value(q.seq) IS NOT NULL;`)
	return retryDeadlock(func() error {
		_, err := p.admin.ExecContext(ctx, q.String())
		return err
	})
}

// signature digests what of s's catalog a test could change: its
// relations with their planner figures, options and grants, their columns,
// every object depending on them or on the schema (a new table, index,
// constraint, trigger, function or type), gathered statistics, the
// sequences' state and the migrations recorded. Every part is read through
// a catalog index.
func (p *pgPool) signature(ctx context.Context, s *pooledSchema) (string, error) {
	rels := oids(s.rels)
	var sig string
	err := p.admin.QueryRowContext(ctx, `SELECT md5(concat_ws('|',
	(SELECT string_agg(format('%s/%s/%s/%s/%s/%s/%s/%s', oid, relname, relkind, relnatts, relpages, reltuples, reloptions, relacl), ',' ORDER BY oid)
	   FROM pg_class WHERE oid = ANY(`+rels+`)),
	(SELECT string_agg(format('%s.%s/%s/%s/%s/%s', attrelid, attname, atttypid, attnotnull, atthasdef, attisdropped), ',' ORDER BY attrelid, attnum)
	   FROM pg_attribute WHERE attrelid = ANY(`+rels+`) AND attnum > 0),
	(SELECT string_agg(format('%s/%s/%s/%s/%s', refobjid, classid, objid, objsubid, deptype), ',' ORDER BY refobjid, classid, objid, objsubid)
	   FROM pg_depend WHERE (refclassid = 'pg_class'::regclass AND refobjid = ANY(`+rels+`))
	                     OR (refclassid = 'pg_namespace'::regclass AND refobjid = `+fmt.Sprint(s.ns)+`)),
	(SELECT count(*) FROM pg_statistic WHERE starelid = ANY(`+rels+`)),
	(SELECT string_agg(format('%s/%s', q, pg_sequence_last_value(q)), ',' ORDER BY q) FROM unnest(`+oids(s.seqs)+`) AS q),
	(SELECT string_agg(format('%s/%s', version, name), ',' ORDER BY version) FROM `+pq.QuoteIdentifier(s.name)+`.schema_migrations)))`).Scan(&sig)
	return sig, err
}
