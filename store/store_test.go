package store_test

import (
	"context"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/store"
	"github.com/proliferate/proliferate-linear/store/storetest"
)

// t0 is the fake clock's start: a fixed instant with nanoseconds, to show
// they are cut to microseconds.
var t0 = time.Date(2025, 3, 14, 9, 26, 53, 589793238, time.UTC)

// fakeClock is a settable clock for leases and staleness.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// each runs fn as a parallel subtest per dialect with a fresh DB on a fake
// clock starting at t0.
func each(t *testing.T, fn func(t *testing.T, db *store.DB, clk *fakeClock)) {
	t.Helper()
	for _, dc := range storetest.Dialects(t) {
		t.Run(dc.Name, func(t *testing.T) {
			t.Parallel()
			db := dc.Open(t)
			clk := &fakeClock{now: t0}
			db.SetClock(clk.Now)
			fn(t, db, clk)
		})
	}
}

// newAlert is a Proliferate alert for error id in channel.
func newAlert(errorID, channel string) alert.Alert {
	return alert.Alert{
		ErrorID: errorID, Channel: channel,
		URL:          "https://app.proliferate.dev/errors/" + errorID,
		Project:      "api",
		Level:        "error",
		ErrorType:    "TypeError",
		ErrorMessage: "cannot read properties of undefined (reading 'id')",
		Stack:        "at handler (src/api.ts:42:7)\nat main (src/index.ts:3:1)",
		Environment:  "production",
		Release:      "1.2.3",
		FirstSeen:    t0.Add(-time.Hour),
		LastSeen:     t0,
		EventCount:   3,
		// A value past int32, to show counters are 64-bit on both dialects.
		UsersAffected: 1 << 40,
		Trigger:       alert.TriggerNewIssue,
	}
}

// accept stores a and fails the test on error.
func accept(t *testing.T, db *store.DB, a alert.Alert) alert.Alert {
	t.Helper()
	got, err := db.AcceptAlert(context.Background(), a)
	if err != nil {
		t.Fatalf("AcceptAlert(%s, %s): %v", a.ErrorID, a.Channel, err)
	}
	return got.Alert
}

// ms is t as stored: UTC, microseconds.
func ms(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// wantErr checks err against a sentinel (nil: no error).
func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	switch {
	case want == nil && err != nil:
		t.Fatalf("%s: unexpected error %v", what, err)
	case want != nil && !errors.Is(err, want):
		t.Fatalf("%s: error %v, want %v", what, err, want)
	}
}

// jobsByStatus is a short view of the queue for diffs.
type jobView struct {
	Kind      alert.JobKind
	AlertID   int64
	DedupeKey string
	Status    string
	Attempts  int
}

func queue(t *testing.T, db *store.DB) []jobView {
	t.Helper()
	var out []jobView
	for _, j := range store.AllJobs(t, db) {
		out = append(out, jobView{j.Kind, j.AlertID, j.DedupeKey, string(j.Status), j.Attempts})
	}
	return out
}

func TestOpen(t *testing.T) {
	// Not parallel: a case changes the working directory (t.Chdir).
	ctx := context.Background()
	tests := []struct {
		name        string
		url         func(t *testing.T) string
		wantDialect string
		wantErr     error
	}{
		{name: "empty is the default sqlite file", url: func(t *testing.T) string { t.Chdir(t.TempDir()); return "" }, wantDialect: store.DialectSQLite},
		{name: "plain path", url: func(t *testing.T) string { return t.TempDir() + "/a.db" }, wantDialect: store.DialectSQLite},
		{name: "file uri with options", url: func(t *testing.T) string { return "file:" + t.TempDir() + "/b.db?cache=private" }, wantDialect: store.DialectSQLite},
		{name: "mysql is refused", url: func(*testing.T) string { return "mysql://u@h/db" }, wantErr: alert.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, err := store.Open(ctx, tt.url(t), nil)
			wantErr(t, "Open", err, tt.wantErr)
			if err != nil {
				return
			}
			defer db.Close()
			if got := db.Dialect(); got != tt.wantDialect {
				t.Errorf("Dialect() = %q, want %q", got, tt.wantDialect)
			}
			if err := db.Ping(ctx); err != nil {
				t.Errorf("Ping: %v", err)
			}
			if tt.name == "empty is the default sqlite file" {
				if _, err := os.Stat(store.DefaultSQLitePath); err != nil {
					t.Errorf("default database file: %v", err)
				}
			}
		})
	}
}

func TestSQLitePragmas(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	tests := []struct{ pragma, want string }{
		{"journal_mode", "wal"},
		{"foreign_keys", "1"},
		{"busy_timeout", "5000"},
		{"synchronous", "1"}, // NORMAL
	}
	for _, tt := range tests {
		t.Run(tt.pragma, func(t *testing.T) {
			if got := store.QueryString(t, db, "PRAGMA "+tt.pragma); got != tt.want {
				t.Errorf("PRAGMA %s = %q, want %q", tt.pragma, got, tt.want)
			}
		})
	}
}

func TestTimesRoundTrip(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, db *store.DB, _ *fakeClock) {
		paris := time.FixedZone("CET", 3600)
		a := newAlert("E-times", "C1")
		a.FirstSeen = time.Date(2024, 12, 31, 23, 59, 59, 999999999, paris)
		a.LastSeen = time.Date(2025, 1, 1, 0, 0, 0, 1000, paris)
		got := accept(t, db, a)
		read, err := db.Alert(context.Background(), got.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range []alert.Alert{got, read} {
			if !g.FirstSeen.Equal(ms(a.FirstSeen)) || g.FirstSeen.Location() != time.UTC {
				t.Errorf("FirstSeen = %v, want %v in UTC", g.FirstSeen, ms(a.FirstSeen))
			}
			if !g.LastSeen.Equal(ms(a.LastSeen)) || g.LastSeen.Location() != time.UTC {
				t.Errorf("LastSeen = %v, want %v in UTC", g.LastSeen, ms(a.LastSeen))
			}
			if !g.CreatedAt.Equal(ms(t0)) {
				t.Errorf("CreatedAt = %v, want %v", g.CreatedAt, ms(t0))
			}
		}
	})
}

func TestAcceptAlertWithoutTimes(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, db *store.DB, _ *fakeClock) {
		a := newAlert("E-notimes", "C1")
		a.FirstSeen, a.LastSeen = time.Time{}, time.Time{}
		got := accept(t, db, a)
		if !got.FirstSeen.Equal(ms(t0)) || !got.LastSeen.Equal(ms(t0)) {
			t.Errorf("FirstSeen, LastSeen = %v, %v; want both %v (now)", got.FirstSeen, got.LastSeen, ms(t0))
		}
	})
}
