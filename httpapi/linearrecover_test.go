package httpapi

import (
	"context"
	"database/sql"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/proliferate/proliferate-linear/linear/webhook"
	"github.com/proliferate/proliferate-linear/store"
	"github.com/proliferate/proliferate-linear/store/storetest"
)

// replicaClock is a settable clock shared by a test's replicas.
type replicaClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *replicaClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *replicaClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// replica is a handler on the real store db, as one replica of the bot,
// with its clock set to clk.
func replica(t *testing.T, db *store.DB, clk *replicaClock, issues *fakeIssues, edit func(*Deps)) *linearHarness {
	t.Helper()
	return newLinearHarness(t, issues, func(c *Config, d *Deps) {
		c.Now = clk.Now
		d.Deliveries = db
		if edit != nil {
			edit(d)
		}
	})
}

// eachStore runs fn against a fresh store in every dialect. raw reads
// one delivery's row with plain SQL, beside the store.
func eachStore(t *testing.T, fn func(t *testing.T, db *store.DB, raw func(id string) deliveryState)) {
	for _, dc := range storetest.Dialects(t) {
		t.Run(dc.Name, func(t *testing.T) {
			t.Parallel()
			url := dc.URL(t)
			db := storetest.OpenURL(t, url)
			driver, ph := "sqlite", "?"
			if dc.Name == store.DialectPostgres {
				driver, ph = "postgres", "$1"
			}
			conn, err := sql.Open(driver, url)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = conn.Close() })
			raw := func(id string) deliveryState {
				t.Helper()
				var st deliveryState
				err := conn.QueryRow(`SELECT applied_at IS NOT NULL, body IS NOT NULL, attempts, COALESCE(last_error, '')
					FROM webhook_deliveries WHERE delivery_id = `+ph, id).Scan(&st.Applied, &st.HasBody, &st.Attempts, &st.LastError)
				if err != nil {
					t.Fatalf("read delivery %s: %v", id, err)
				}
				return st
			}
			fn(t, db, raw)
		})
	}
}

// deliveryState is a stored delivery as the raw database shows it.
type deliveryState struct {
	Applied   bool
	HasBody   bool
	Attempts  int
	LastError string
}

func recoverN(t *testing.T, lh *linearHarness) int {
	t.Helper()
	n, err := lh.handler.Recover(context.Background())
	if err != nil {
		t.Fatalf("Recover: %v", err)
	}
	return n
}

func titles(f *fakeIssues) []string {
	out := []string{}
	for _, is := range f.Applied() {
		out = append(out, is.Title+"/"+is.StateType)
	}
	return out
}

// storeDirect records body as delivery id received at at, the way
// postLinear does (same subject), without applying it: what a replica
// that died right after its 200 leaves behind.
func storeDirect(t *testing.T, lh *linearHarness, db *store.DB, id string, body []byte, at time.Time) {
	t.Helper()
	ev, err := webhook.Parse(body)
	if err != nil {
		t.Fatal(err)
	}
	ev.DeliveryID = id
	j, ok := lh.handler.s.linear.jobFor(ev)
	if !ok {
		t.Fatalf("delivery %s needs no action", id)
	}
	d := webhook.Delivery{ID: id, Subject: j.key(), Body: body, ReceivedAt: at}
	if fresh, err := db.RecordDelivery(context.Background(), d); err != nil || !fresh {
		t.Fatalf("RecordDelivery(%s) = %v, %v", id, fresh, err)
	}
}

// TestRecoverAppliesDeliveryLostInCrash: replica A answers 200 and hangs
// in the apply, then "crashes" (it is never closed while the test runs).
// Replica B, started on the same database, replays the delivery once it
// is RecoverAfter old, and only once.
func TestRecoverAppliesDeliveryLostInCrash(t *testing.T) {
	eachStore(t, func(t *testing.T, db *store.DB, raw func(string) deliveryState) {
		clk := &replicaClock{now: testNow}
		hung := gatedIssues() // never opened.
		a := replica(t, db, clk, hung, nil)
		// Runs before a's Close (cleanups run last first): lets the hung
		// worker go so the test ends without waiting for Close's timeout.
		t.Cleanup(a.handler.s.linear.stop)

		body := issueDelivery(t, issueUUID, "completed", testNow, func(_, d map[string]any) { d["title"] = "lost" })
		if resp := a.postSignedLinear(t, body, deliveryID(1)); resp.status != http.StatusOK || resp.body["status"] != statusAccepted {
			t.Fatalf("post: %d %v", resp.status, resp.body)
		}
		waitStarted(t, hung)

		b := replica(t, db, clk, &fakeIssues{}, nil)
		steps := []struct {
			name      string
			at        time.Duration
			who       *linearHarness
			want      int
			wantTitle []string
		}{
			{"too young to replay", RecoverAfter - time.Second, b, 0, []string{}},
			{"the replica still applying it leaves it to its worker", RecoverAfter + time.Second, a, 0, []string{}},
			{"another replica replays it", RecoverAfter + time.Second, b, 1, []string{"lost/completed"}},
			{"an applied delivery is not replayed", 10 * RecoverAfter, b, 0, []string{"lost/completed"}},
		}
		for _, st := range steps {
			t.Run(st.name, func(t *testing.T) {
				clk.Set(testNow.Add(st.at))
				if got := recoverN(t, st.who); got != st.want {
					t.Errorf("Recover = %d, want %d", got, st.want)
				}
				if diff := cmp.Diff(st.wantTitle, titles(b.issues)); diff != "" {
					t.Errorf("applied by B (-want +got):\n%s", diff)
				}
			})
		}
		if st := raw(deliveryID(1)); !st.Applied || st.HasBody || st.Attempts != 0 {
			t.Errorf("stored delivery after the replay: %+v, want applied without body", st)
		}
		if got := hung.Applied(); len(got) != 0 {
			t.Errorf("the hung replica applied %v", got)
		}
	})
}

// TestRecoverLiveDeliveriesAreMarked: a delivery applied the normal way is
// marked, so no replica replays it; one whose apply failed every in-memory
// attempt counts one failure and is replayed later.
func TestRecoverLiveDeliveriesAreMarked(t *testing.T) {
	eachStore(t, func(t *testing.T, db *store.DB, raw func(string) deliveryState) {
		clk := &replicaClock{now: testNow}
		failing := &fakeIssues{failN: applyAttempts} // every in-memory attempt fails.
		lh := replica(t, db, clk, failing, nil)
		ok := issueDelivery(t, "issue-ok", "started", testNow, nil)
		bad := issueDelivery(t, "issue-bad", "started", testNow, nil)
		// Sent one after another, so the failures hit "bad" alone.
		lh.postSignedLinear(t, bad, deliveryID(2))
		waitFor(t, func() bool { return raw(deliveryID(2)).Attempts == 1 })
		lh.postSignedLinear(t, ok, deliveryID(1))
		waitFor(t, func() bool { return raw(deliveryID(1)).Applied })

		if st := raw(deliveryID(2)); st.Applied || !st.HasBody {
			t.Fatalf("failed delivery: %+v, want unapplied with its body", st)
		}
		clk.Set(testNow.Add(RecoverAfter + time.Second))
		if got := recoverN(t, lh); got != 1 {
			t.Errorf("Recover = %d, want 1 (the failed one only)", got)
		}
		want := []string{"TypeError: x is undefined/started", "TypeError: x is undefined/started"}
		if diff := cmp.Diff(want, titles(failing)); diff != "" {
			t.Errorf("applied (-want +got):\n%s", diff)
		}
		var ids []string
		for _, is := range failing.Applied() {
			ids = append(ids, is.ID)
		}
		if diff := cmp.Diff([]string{"issue-ok", "issue-bad"}, ids); diff != "" {
			t.Errorf("applied issues (-want +got):\n%s", diff)
		}
	})
}

// TestRecoverSkipsSuperseded: deliveries carry an issue's whole state, so
// of an issue's unapplied deliveries only the newest is replayed, and none
// when a newer one was applied already: an older state never overwrites a
// newer one (nor posts a stale "moved to" note).
func TestRecoverSkipsSuperseded(t *testing.T) {
	eachStore(t, func(t *testing.T, db *store.DB, raw func(string) deliveryState) {
		clk := &replicaClock{now: testNow}
		lh := replica(t, db, clk, &fakeIssues{}, nil)
		state := func(issue, stateType string) []byte { return issueDelivery(t, issue, stateType, testNow, nil) }
		storeDirect(t, lh, db, "a-old", state("issue-a", "started"), testNow)
		storeDirect(t, lh, db, "a-new", state("issue-a", "completed"), testNow.Add(time.Second))
		storeDirect(t, lh, db, "b-old", state("issue-b", "started"), testNow)
		// issue-b's newer state arrives live and is applied at once.
		clk.Set(testNow.Add(2 * time.Second))
		if resp := lh.postSignedLinear(t, issueDelivery(t, "issue-b", "canceled", clk.Now(), nil), "b-new"); resp.body["status"] != statusAccepted {
			t.Fatalf("post: %d %v", resp.status, resp.body)
		}
		waitFor(t, func() bool { return len(lh.issues.Applied()) == 1 })

		clk.Set(testNow.Add(time.Hour))
		if got := recoverN(t, lh); got != 1 {
			t.Errorf("Recover = %d, want 1", got)
		}
		var got []string
		for _, is := range lh.issues.Applied() {
			got = append(got, is.ID+"/"+is.StateType)
		}
		if diff := cmp.Diff([]string{"issue-b/canceled", "issue-a/completed"}, got); diff != "" {
			t.Errorf("applied (-want +got):\n%s", diff)
		}
		for _, id := range []string{"a-old", "a-new", "b-old", "b-new"} {
			if st := raw(id); !st.Applied {
				t.Errorf("%s not marked applied: %+v", id, st)
			}
		}
		if got := recoverN(t, lh); got != 0 {
			t.Errorf("second Recover = %d, want 0", got)
		}
	})
}

// TestRecoverGivesUp: a delivery that never applies is retried once per
// pass and given up after store.MaxDeliveryAttempts, then left alone.
func TestRecoverGivesUp(t *testing.T) {
	eachStore(t, func(t *testing.T, db *store.DB, raw func(string) deliveryState) {
		clk := &replicaClock{now: testNow.Add(time.Hour)}
		broken := &fakeIssues{failN: 1 << 30}
		lh := replica(t, db, clk, broken, nil)
		storeDirect(t, lh, db, "poison", issueDelivery(t, issueUUID, "started", testNow, nil), testNow)
		for pass := 1; pass <= store.MaxDeliveryAttempts+2; pass++ {
			if got := recoverN(t, lh); got != 0 {
				t.Fatalf("pass %d: Recover = %d", pass, got)
			}
		}
		broken.mu.Lock()
		calls := broken.calls
		broken.mu.Unlock()
		if calls != store.MaxDeliveryAttempts {
			t.Errorf("IssueChanged called %d times, want %d (once a pass, then never)", calls, store.MaxDeliveryAttempts)
		}
		want := deliveryState{Applied: true, HasBody: true, Attempts: store.MaxDeliveryAttempts,
			LastError: "issue " + issueUUID + " changed: database is locked"}
		if diff := cmp.Diff(want, raw("poison")); diff != "" {
			t.Errorf("given-up delivery (-want +got):\n%s", diff)
		}
	})
}

// TestRecoverRevoked: a revocation is durable too.
func TestRecoverRevoked(t *testing.T) {
	eachStore(t, func(t *testing.T, db *store.DB, raw func(string) deliveryState) {
		clk := &replicaClock{now: testNow.Add(time.Hour)}
		rev := &fakeRevoker{}
		lh := replica(t, db, clk, nil, func(d *Deps) { d.Revoked = rev })
		body := mustJSON(t, map[string]any{
			"action": "revoked", "type": "OAuthApp", "webhookTimestamp": testNow.UnixMilli(), "organizationId": "org-acme",
		})
		storeDirect(t, lh, db, "rev-1", body, testNow)
		if got := recoverN(t, lh); got != 1 {
			t.Errorf("Recover = %d, want 1", got)
		}
		if diff := cmp.Diff([]string{"org-acme"}, rev.Orgs()); diff != "" {
			t.Errorf("revoked (-want +got):\n%s", diff)
		}
	})
}

// TestRunRecovery runs a pass at once and stops with its context.
func TestRunRecovery(t *testing.T) {
	db := storetest.SQLite(t)
	clk := &replicaClock{now: testNow.Add(time.Hour)}
	lh := replica(t, db, clk, nil, nil)
	storeDirect(t, lh, db, "d-1", issueDelivery(t, issueUUID, "started", testNow, nil), testNow)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		lh.handler.RunRecovery(ctx, time.Hour) // only the first pass can run in time.
	}()
	waitFor(t, func() bool { return len(lh.issues.Applied()) == 1 })
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("RunRecovery did not return after cancel")
	}
}

func TestRecoverWithoutLinear(t *testing.T) {
	h := NewHandler(Config{}, Deps{})
	if n, err := h.Recover(context.Background()); n != 0 || err != nil {
		t.Errorf("Recover = %d, %v; want 0, nil", n, err)
	}
	h.RunRecovery(context.Background(), time.Millisecond) // returns at once.
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5 s")
		}
		time.Sleep(2 * time.Millisecond)
	}
}
