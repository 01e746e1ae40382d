package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/proliferate/proliferate-linear/store"
	"github.com/proliferate/proliferate-linear/store/storetest"
)

// ids lists the ids of ds, with "~" after a superseded one.
func ids(ds []store.Delivery) []string {
	out := []string{}
	for _, d := range ds {
		id := d.ID
		if d.Superseded {
			id += "~"
		}
		out = append(out, id)
	}
	return out
}

func unapplied(t *testing.T, db *store.DB, before time.Time, limit int) []store.Delivery {
	t.Helper()
	ds, err := db.UnappliedDeliveries(context.Background(), before, limit)
	if err != nil {
		t.Fatalf("UnappliedDeliveries: %v", err)
	}
	return ds
}

func record(t *testing.T, db *store.DB, d store.Delivery) {
	t.Helper()
	if fresh, err := db.RecordDelivery(context.Background(), d); err != nil || !fresh {
		t.Fatalf("RecordDelivery(%s) = %v, %v", d.ID, fresh, err)
	}
}

// TestUnappliedDeliveriesReadsBack: what was recorded comes back whole,
// and a repeat of the id does not overwrite it.
func TestUnappliedDeliveriesReadsBack(t *testing.T) {
	each(t, func(t *testing.T, db *store.DB, _ *fakeClock) {
		// Not valid UTF-8 and with a NUL: stored as bytes, not text.
		body := []byte("{\"type\":\"Issue\",\"t\":\"\xff\x00\"}")
		want := store.Delivery{ID: "d-1", Subject: "issue:i-1", Body: body, ReceivedAt: t0.Truncate(time.Microsecond)}
		record(t, db, want)
		repeat := want
		repeat.Body = []byte(`{"other":true}`)
		if fresh, err := db.RecordDelivery(context.Background(), repeat); err != nil || fresh {
			t.Fatalf("repeat = %v, %v; want not fresh", fresh, err)
		}
		got := unapplied(t, db, t0.Add(time.Second), 0)
		if diff := cmp.Diff([]store.Delivery{want}, got); diff != "" {
			t.Errorf("UnappliedDeliveries mismatch (-want +got):\n%s", diff)
		}
	})
}

func TestUnappliedDeliveries(t *testing.T) {
	each(t, func(t *testing.T, db *store.DB, _ *fakeClock) {
		ctx := context.Background()
		at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
		for _, d := range []store.Delivery{
			{ID: "a1", Subject: "issue:a", ReceivedAt: at(1)},
			{ID: "b1", Subject: "issue:b", ReceivedAt: at(2)},
			{ID: "a2", Subject: "issue:a", ReceivedAt: at(3)}, // supersedes a1.
			{ID: "n1", ReceivedAt: at(4)},                     // no subject: never superseded.
			{ID: "n2", ReceivedAt: at(4)},
			{ID: "c1", Subject: "org:c", ReceivedAt: at(5)},
			{ID: "c2", Subject: "org:c", ReceivedAt: at(5)}, // same instant: the larger id wins.
		} {
			d.Body = []byte(`{}`)
			record(t, db, d)
		}
		// Dedupe only: no body, recorded as applied.
		record(t, db, store.Delivery{ID: "bare", Subject: "issue:z", ReceivedAt: at(1)})
		// What an older binary records during a rolling upgrade.
		store.Exec(t, db, `INSERT INTO webhook_deliveries (delivery_id, received_at) VALUES (?, ?)`, "old", store.TimeArg(db, at(1)))

		steps := []struct {
			name   string
			before time.Time
			limit  int
			want   []string
		}{
			{"before is strict", at(1), 0, []string{}},
			{"oldest first, newer of a subject supersedes", at(6), 0, []string{"a1~", "b1", "a2", "n1", "n2", "c1~", "c2"}},
			{"a newer delivery outside the window still supersedes", at(3), 0, []string{"a1~", "b1"}},
			{"the limit", at(6), 3, []string{"a1~", "b1", "a2"}},
		}
		for _, st := range steps {
			t.Run(st.name, func(t *testing.T) {
				got := ids(unapplied(t, db, st.before, st.limit))
				if diff := cmp.Diff(st.want, got); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
			})
		}
		t.Run("b1 is superseded once b2 arrived", func(t *testing.T) {
			record(t, db, store.Delivery{ID: "b2", Subject: "issue:b", Body: []byte(`{}`), ReceivedAt: at(60)})
			got := ids(unapplied(t, db, at(61), 0))
			if diff := cmp.Diff([]string{"a1~", "b1~", "a2", "n1", "n2", "c1~", "c2", "b2"}, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
		t.Run("applied ones are not listed, and their body is dropped", func(t *testing.T) {
			for _, id := range []string{"a1", "a2", "unknown", "a2"} { // unknown and twice: no error.
				if err := db.MarkDeliveryApplied(ctx, id); err != nil {
					t.Fatalf("MarkDeliveryApplied(%s): %v", id, err)
				}
			}
			got := ids(unapplied(t, db, at(6), 0))
			if diff := cmp.Diff([]string{"b1~", "n1", "n2", "c1~", "c2"}, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if st := store.DeliveryRow(t, db, "a2"); !st.Applied || st.HasBody {
				t.Errorf("a2 after MarkDeliveryApplied: %+v", st)
			}
		})
		t.Run("an applied newer delivery still supersedes", func(t *testing.T) {
			record(t, db, store.Delivery{ID: "x1", Subject: "issue:x", Body: []byte(`{}`), ReceivedAt: at(7)})
			record(t, db, store.Delivery{ID: "x2", Subject: "issue:x", Body: []byte(`{}`), ReceivedAt: at(8)})
			if err := db.MarkDeliveryApplied(ctx, "x2"); err != nil {
				t.Fatal(err)
			}
			got := ids(unapplied(t, db, at(9), 0))
			if diff := cmp.Diff([]string{"b1~", "n1", "n2", "c1~", "c2", "x1~"}, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	})
}

func TestDeliveryFailed(t *testing.T) {
	each(t, func(t *testing.T, db *store.DB, _ *fakeClock) {
		ctx := context.Background()
		record(t, db, delivery("d-1", t0))
		for n := 1; n <= store.MaxDeliveryAttempts; n++ {
			gaveUp, err := db.DeliveryFailed(ctx, "d-1", "database is locked")
			if err != nil {
				t.Fatalf("attempt %d: %v", n, err)
			}
			if want := n == store.MaxDeliveryAttempts; gaveUp != want {
				t.Fatalf("attempt %d: gaveUp = %v, want %v", n, gaveUp, want)
			}
			listed := len(unapplied(t, db, t0.Add(time.Hour), 0)) == 1
			if listed == gaveUp {
				t.Fatalf("attempt %d: listed for replay = %v after gaveUp = %v", n, listed, gaveUp)
			}
			if !gaveUp {
				if got := unapplied(t, db, t0.Add(time.Hour), 0)[0].Attempts; got != n {
					t.Fatalf("attempt %d: Attempts = %d", n, got)
				}
			}
		}
		want := store.DeliveryState{Applied: true, HasBody: true, Attempts: store.MaxDeliveryAttempts, LastError: "database is locked"}
		if diff := cmp.Diff(want, store.DeliveryRow(t, db, "d-1")); diff != "" {
			t.Errorf("given up delivery (-want +got):\n%s", diff)
		}
		t.Run("after giving up, a failure changes nothing", func(t *testing.T) {
			if gaveUp, err := db.DeliveryFailed(ctx, "d-1", "again"); err != nil || gaveUp {
				t.Fatalf("DeliveryFailed = %v, %v", gaveUp, err)
			}
			if diff := cmp.Diff(want, store.DeliveryRow(t, db, "d-1")); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
		t.Run("an unknown id is not an error", func(t *testing.T) {
			if gaveUp, err := db.DeliveryFailed(ctx, "never-seen", "x"); err != nil || gaveUp {
				t.Fatalf("DeliveryFailed = %v, %v", gaveUp, err)
			}
		})
		t.Run("any error text is storable, and bounded", func(t *testing.T) {
			record(t, db, delivery("d-2", t0))
			reason := "bad \xff byte and a \x00 NUL, " + strings.Repeat("é", 2000)
			if _, err := db.DeliveryFailed(ctx, "d-2", reason); err != nil {
				t.Fatal(err)
			}
			got := store.DeliveryRow(t, db, "d-2").LastError
			if len(got) > 1000 || !strings.HasPrefix(got, "bad \uFFFD byte and a  NUL, éé") {
				t.Errorf("last_error of %d bytes: %.40q", len(got), got)
			}
		})
	})
}

// TestMigration4MarksOldDeliveriesApplied: ids recorded before the body
// was kept have nothing to replay, so the upgrade marks them applied.
func TestMigration4MarksOldDeliveriesApplied(t *testing.T) {
	for _, dc := range storetest.Dialects(t) {
		t.Run(dc.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db, err := store.Open(ctx, dc.URL(t), storetest.Logger(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = db.Close() })
			store.MigrateTo(t, db, 3)
			store.Exec(t, db, `INSERT INTO webhook_deliveries (delivery_id, received_at) VALUES (?, ?)`, "before", store.TimeArg(db, t0))
			if err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			if st := store.DeliveryRow(t, db, "before"); !st.Applied || st.Attempts != 0 {
				t.Errorf("pre-upgrade delivery: %+v, want applied", st)
			}
			if got := unapplied(t, db, t0.Add(time.Hour), 0); len(got) != 0 {
				t.Errorf("listed for replay: %v", ids(got))
			}
			// And the id still dedupes.
			if fresh, err := db.RecordDelivery(ctx, delivery("before", t0)); err != nil || fresh {
				t.Errorf("RecordDelivery(before) = %v, %v; want a repeat", fresh, err)
			}
		})
	}
}
