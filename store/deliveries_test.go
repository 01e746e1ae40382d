package store_test

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/linear/webhook"
	"github.com/proliferate/proliferate-linear/store"
	"github.com/proliferate/proliferate-linear/store/storetest"
)

// delivery is a verified Issue delivery with id id received at at.
func delivery(id string, at time.Time) store.Delivery {
	return store.Delivery{ID: id, Subject: "issue:" + id, ReceivedAt: at,
		Body: []byte(`{"type":"Issue","action":"update","webhookTimestamp":1767225600000,"data":{"id":"` + id + `"}}`)}
}

func TestRecordDelivery(t *testing.T) {
	first := uuid.NewString()
	tests := []struct {
		name      string
		id        string
		body      []byte // the default body when nil.
		wantFresh bool
		wantErr   error
	}{
		{name: "first time is fresh", id: first, wantFresh: true},
		{name: "a repeat is not", id: first},
		{name: "and never is", id: first},
		{name: "another id is fresh", id: uuid.NewString(), wantFresh: true},
		{name: "ids are exact: case matters", id: strings.ToUpper(first), wantFresh: true},
		{name: "empty is invalid", id: "", wantErr: alert.ErrInvalid},
		{name: "blank is invalid", id: "  ", wantErr: alert.ErrInvalid},
		{name: "a huge id is invalid", id: strings.Repeat("x", 201), wantErr: alert.ErrInvalid},
		{name: "a body over webhook.MaxBody is invalid", id: uuid.NewString(), body: make([]byte, webhook.MaxBody+1), wantErr: alert.ErrInvalid},
	}
	each(t, func(t *testing.T, db *store.DB, _ *fakeClock) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				d := delivery(tt.id, t0)
				if tt.body != nil {
					d.Body = tt.body
				}
				fresh, err := db.RecordDelivery(context.Background(), d)
				wantErr(t, "RecordDelivery", err, tt.wantErr)
				if fresh != tt.wantFresh {
					t.Errorf("RecordDelivery(%q) fresh = %v, want %v", tt.id, fresh, tt.wantFresh)
				}
			})
		}
		if got := store.QueryString(t, db, "SELECT COUNT(*) FROM webhook_deliveries"); got != "3" {
			t.Errorf("%s deliveries stored, want 3", got)
		}
	})
}

// TestRecordDeliveryConcurrent has one delivery arrive at 10 goroutines
// spread over two replicas (two DBs on one database) at once, over many
// rounds: each round exactly one of them gets fresh.
func TestRecordDeliveryConcurrent(t *testing.T) {
	const goroutines, rounds = 10, 20
	for _, dc := range storetest.Dialects(t) {
		t.Run(dc.Name, func(t *testing.T) {
			t.Parallel()
			url := dc.URL(t)
			replicas := []*store.DB{storetest.OpenURL(t, url), storetest.OpenURL(t, url)}
			ctx := context.Background()
			for round := range rounds {
				id := uuid.NewString()
				var fresh atomic.Int32
				start := make(chan struct{})
				var wg sync.WaitGroup
				for g := range goroutines {
					db := replicas[g%len(replicas)]
					wg.Go(func() {
						<-start
						ok, err := db.RecordDelivery(ctx, delivery(id, time.Now()))
						if err != nil {
							t.Errorf("round %d: RecordDelivery: %v", round, err)
							return
						}
						if ok {
							fresh.Add(1)
						}
					})
				}
				close(start)
				wg.Wait()
				if n := fresh.Load(); n != 1 {
					t.Fatalf("round %d: %d of %d calls got fresh, want exactly 1", round, n, goroutines)
				}
			}
		})
	}
}

func TestPruneDeliveries(t *testing.T) {
	each(t, func(t *testing.T, db *store.DB, clk *fakeClock) {
		ctx := context.Background()
		cutoff := t0.Add(-store.DeliveryRetention)
		ages := map[string]time.Time{
			"old":       cutoff.Add(-time.Hour),
			"older":     cutoff.Add(-30 * 24 * time.Hour),
			"at-cutoff": cutoff, // kept: before is strict.
			"recent":    t0.Add(-time.Hour),
		}
		for id, at := range ages {
			if fresh, err := db.RecordDelivery(ctx, delivery(id, at)); err != nil || !fresh {
				t.Fatalf("RecordDelivery(%s) = %v, %v", id, fresh, err)
			}
		}
		steps := []struct {
			name   string
			before time.Time
			want   int64
			left   string
		}{
			{name: "deletes what is older than the cutoff", before: cutoff, want: 2, left: "2"},
			{name: "again deletes nothing", before: cutoff, want: 0, left: "2"},
			{name: "a later cutoff takes the rest", before: t0, want: 2, left: "0"},
		}
		for _, st := range steps {
			t.Run(st.name, func(t *testing.T) {
				n, err := db.PruneDeliveries(ctx, st.before)
				if err != nil {
					t.Fatal(err)
				}
				if n != st.want {
					t.Errorf("PruneDeliveries = %d, want %d", n, st.want)
				}
				if got := store.QueryString(t, db, "SELECT COUNT(*) FROM webhook_deliveries"); got != st.left {
					t.Errorf("%s deliveries left, want %s", got, st.left)
				}
			})
		}
		t.Run("a pruned id is fresh again", func(t *testing.T) {
			if fresh, err := db.RecordDelivery(ctx, delivery("old", time.Time{})); err != nil || !fresh {
				t.Fatalf("RecordDelivery(old) = %v, %v; want fresh", fresh, err)
			}
			// A zero receivedAt is the store's now.
			if got := store.QueryString(t, db, "SELECT COUNT(*) FROM webhook_deliveries WHERE received_at < ?", store.TimeArg(db, clk.Now())); got != "0" {
				t.Errorf("the zero receivedAt was not stored as now")
			}
		})
	})
}

func TestForgetDelivery(t *testing.T) {
	each(t, func(t *testing.T, db *store.DB, _ *fakeClock) {
		ctx := context.Background()
		steps := []struct {
			name      string
			forget    bool
			wantFresh bool
		}{
			{name: "record", wantFresh: true},
			{name: "repeat", wantFresh: false},
			{name: "forget, then the retry is fresh", forget: true, wantFresh: true},
			{name: "and a repeat of the retry is not", wantFresh: false},
		}
		for _, st := range steps {
			t.Run(st.name, func(t *testing.T) {
				if st.forget {
					if err := db.ForgetDelivery(ctx, "d-1"); err != nil {
						t.Fatal(err)
					}
				}
				fresh, err := db.RecordDelivery(ctx, delivery("d-1", t0))
				if err != nil {
					t.Fatal(err)
				}
				if fresh != st.wantFresh {
					t.Errorf("fresh = %v, want %v", fresh, st.wantFresh)
				}
			})
		}
		t.Run("forgetting an unknown id is fine", func(t *testing.T) {
			if err := db.ForgetDelivery(ctx, "never-seen"); err != nil {
				t.Errorf("ForgetDelivery: %v", err)
			}
		})
	})
}
