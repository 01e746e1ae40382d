package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/lib/pq"
)

// proxied returns a URL through a proxy of the test's own to the server
// of EnvDatabaseURL, on a search_path no other test uses, and that proxy.
func proxied(t *testing.T) (string, *sessionProxy) {
	t.Helper()
	base := os.Getenv(EnvDatabaseURL)
	if base == "" {
		t.Skipf("%s is not set", EnvDatabaseURL)
	}
	upstream := tcpAddress(base)
	if upstream == "" {
		t.Skipf("%s does not reach the server over TCP", EnvDatabaseURL)
	}
	p, err := proxyFor(upstream)
	if err != nil {
		t.Fatal(err)
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", "proxytest_"+hex.EncodeToString(b[:]))
	u.RawQuery = q.Encode()
	return viaProxy(u.String(), p.addr()), p
}

// client is one client session.
type client struct {
	db *sql.DB
	*sql.Conn
}

// session opens one session on databaseURL, closed when t ends.
func session(t *testing.T, databaseURL string) client {
	t.Helper()
	db, err := sql.Open("postgres", databaseURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	c, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return client{db, c}
}

func backendPID(t *testing.T, c client) int {
	t.Helper()
	var pid int
	if err := c.QueryRowContext(context.Background(), `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
		t.Fatal(err)
	}
	return pid
}

// closeSession ends c's session the way a store's Close does, and waits
// until the proxy has parked or closed it.
func closeSession(t *testing.T, c client, p *sessionProxy, schema string) {
	t.Helper()
	_ = c.Close()
	if err := c.db.Close(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for p.inUseOn(schema) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the proxy still lends %d sessions on %s", p.inUseOn(schema), schema)
		}
		time.Sleep(time.Millisecond) // the proxy's bookkeeping has no event to wait on.
	}
}

func searchPath(t *testing.T, databaseURL string) string {
	u, err := url.Parse(databaseURL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get("search_path")
}

// TestProxyReusesAnEmptiedSession: the next client with the same
// parameters gets the server session the last one left, with nothing of
// that session carried over.
func TestProxyReusesAnEmptiedSession(t *testing.T) {
	u, p := proxied(t)
	schema := searchPath(t, u)
	ctx := context.Background()

	first := session(t, u)
	if got := p.inUseOn(schema); got != 1 {
		t.Errorf("inUseOn = %d with one session open, want 1", got)
	}
	pid := backendPID(t, first)
	for _, q := range []string{
		`SET work_mem = '7MB'`,
		`PREPARE left_behind AS SELECT 1`,
		`SELECT pg_advisory_lock(4242)`,
		`CREATE TEMP TABLE scratch (x int)`,
	} {
		if _, err := first.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	closeSession(t, first, p, schema)

	second := session(t, u)
	if got := backendPID(t, second); got != pid {
		t.Fatalf("second session is backend %d, want the first's %d (parked and reused)", got, pid)
	}
	var workMem string
	if err := second.QueryRowContext(ctx, `SHOW work_mem`).Scan(&workMem); err != nil {
		t.Fatal(err)
	}
	if workMem == "7MB" {
		t.Error("work_mem set by the first client carried over")
	}
	var prepared, temp int
	if err := second.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM pg_prepared_statements), (SELECT count(*) FROM pg_class WHERE relname = 'scratch' AND relpersistence = 't')`).Scan(&prepared, &temp); err != nil {
		t.Fatal(err)
	}
	if prepared != 0 || temp != 0 {
		t.Errorf("carried over: %d prepared statements, %d temporary tables", prepared, temp)
	}
	// Another session (not through the proxy) can take the lock: the
	// session that took it no longer holds it.
	other := session(t, os.Getenv(EnvDatabaseURL))
	var locked bool
	if err := other.QueryRowContext(ctx, `SELECT pg_try_advisory_lock(4242)`).Scan(&locked); err != nil {
		t.Fatal(err)
	}
	if !locked {
		t.Error("the first client's advisory lock carried over")
	} else if _, err := other.ExecContext(ctx, `SELECT pg_advisory_unlock(4242)`); err != nil {
		t.Fatal(err)
	}
	var path string
	if err := second.QueryRowContext(ctx, `SHOW search_path`).Scan(&path); err != nil {
		t.Fatal(err)
	}
	if path != schema {
		t.Errorf("search_path = %q after the reset, want the startup's %q", path, schema)
	}
}

// TestProxyClosesASessionLeftInATransaction: a client that leaves inside
// a transaction takes its server session with it (the server rolls back).
func TestProxyClosesASessionLeftInATransaction(t *testing.T) {
	u, p := proxied(t)
	schema := searchPath(t, u)
	first := session(t, u)
	pid := backendPID(t, first)
	if _, err := first.ExecContext(context.Background(), `BEGIN`); err != nil {
		t.Fatal(err)
	}
	closeSession(t, first, p, schema)

	second := session(t, u)
	if got := backendPID(t, second); got == pid {
		t.Fatalf("second session reused backend %d, which its last client left inside a transaction", pid)
	}
}

// TestProxyPassesCancelRequests: a query cancelled by its context ends at
// once, as without the proxy (lib/pq sends a cancel request on a
// connection of its own, which the proxy passes to the server).
func TestProxyPassesCancelRequests(t *testing.T) {
	u, _ := proxied(t)
	c := session(t, u)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.ExecContext(ctx, `SELECT pg_sleep(30)`)
	var pqErr *pq.Error
	if !errors.As(err, &pqErr) || pqErr.Code != "57014" { // query_canceled
		t.Fatalf("pg_sleep(30) under a 200 ms context: %v, want the server's query_canceled", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("cancel took %s", took)
	}
}
