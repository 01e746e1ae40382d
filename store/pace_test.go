package store_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/store"
)

// TestReserveChannelSlot: slots in a channel are a gap apart, a hold
// (Retry-After) pushes the next one past its end, a slot further off than
// maxWait is refused and reserves nothing, and channels are independent.
func TestReserveChannelSlot(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, db *store.DB, clk *fakeClock) {
		ctx := context.Background()
		const gap, maxWait = time.Second, 2500 * time.Millisecond
		reserve := func(channel string, wantWait time.Duration, wantOK bool) {
			t.Helper()
			wait, ok, err := db.ReserveChannelSlot(ctx, channel, gap, maxWait)
			if err != nil {
				t.Fatalf("ReserveChannelSlot(%s): %v", channel, err)
			}
			if wait != wantWait || ok != wantOK {
				t.Fatalf("ReserveChannelSlot(%s) = %v, %v; want %v, %v", channel, wait, ok, wantWait, wantOK)
			}
		}
		reserve("C1", 0, true) // a new channel: now.
		reserve("C1", gap, true)
		reserve("C1", 2*gap, true)
		reserve("C1", 3*gap, false) // past maxWait: refused, nothing reserved…
		reserve("C1", 3*gap, false) // …so the next ask sees the same slot.
		reserve("C2", 0, true)      // another channel is free.

		clk.Advance(3500 * time.Millisecond) // C1's next slot (t0+3 s) has passed.
		reserve("C1", 0, true)
		if err := db.HoldChannel(ctx, "C1", 2*time.Second); err != nil {
			t.Fatal(err)
		}
		if held, err := db.ChannelHeld(ctx, "C1"); err != nil || held != 2*time.Second {
			t.Fatalf("ChannelHeld = %v, %v; want 2s", held, err)
		}
		reserve("C1", 2*time.Second, true) // after the hold, not a gap after the last slot.
		reserve("C1", 3*time.Second, false)
		if err := db.HoldChannel(ctx, "C1", time.Second); err != nil { // a shorter hold does not shorten it.
			t.Fatal(err)
		}
		if held, err := db.ChannelHeld(ctx, "C1"); err != nil || held != 2*time.Second {
			t.Fatalf("ChannelHeld after a shorter hold = %v, %v; want 2s", held, err)
		}
	})
}

// TestClaimPacedJobs: a paced claim leaves a channel's jobs queued until
// the channel's next slot is near and its hold nearly over, takes the
// oldest of a channel first and no more than PerChannel of it, and never
// holds back a job of another kind.
func TestClaimPacedJobs(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, db *store.DB, clk *fakeClock) {
		ctx := context.Background()
		var c1 []int64
		for i := range 3 {
			c1 = append(c1, accept(t, db, newAlert("E-c1-"+string(rune('a'+i)), "C1")).ID)
		}
		c2 := accept(t, db, newAlert("E-c2", "C2")).ID
		if err := db.Enqueue(ctx, alert.Job{Kind: "linear_delivery", Payload: "{}"}); err != nil {
			t.Fatal(err)
		}
		pace := alert.ClaimPace{Kinds: alert.ChannelKinds, Ahead: time.Second, HoldAhead: 5 * time.Second, PerChannel: 1}
		claim := func() (alerts []int64, others int) {
			t.Helper()
			jobs, err := db.ClaimPacedJobs(ctx, "test", 10, time.Minute, pace)
			if err != nil {
				t.Fatal(err)
			}
			for _, j := range jobs {
				if j.AlertID == 0 {
					others++
				} else {
					alerts = append(alerts, j.AlertID)
				}
			}
			return alerts, others
		}
		// C1's next slot is 10 s away: only C2's job and the delivery go.
		if _, _, err := db.ReserveChannelSlot(ctx, "C1", 10*time.Second, time.Minute); err != nil {
			t.Fatal(err)
		}
		if got, others := claim(); len(got) != 1 || got[0] != c2 || others != 1 {
			t.Fatalf("claimed alerts %v and %d other jobs, want C2's alert %d and the delivery", got, others, c2)
		}
		// 9.5 s on, C1's slot is within Ahead: its oldest job, one only.
		clk.Advance(9500 * time.Millisecond)
		if got, _ := claim(); len(got) != 1 || got[0] != c1[0] {
			t.Fatalf("claimed %v, want C1's oldest alert %d alone", got, c1[0])
		}
		// A 20 s Retry-After keeps the rest queued; past it they go.
		if err := db.HoldChannel(ctx, "C1", 20*time.Second); err != nil {
			t.Fatal(err)
		}
		if got, _ := claim(); len(got) != 0 {
			t.Fatalf("claimed %v while C1 is held for 20 s", got)
		}
		clk.Advance(16 * time.Second) // the hold ends within HoldAhead.
		if got, _ := claim(); len(got) != 1 || got[0] != c1[1] {
			t.Fatalf("claimed %v, want C1's next alert %d", got, c1[1])
		}
		// Unpaced, the channel's last job is due like any other.
		if jobs, err := db.ClaimPacedJobs(ctx, "test", 10, time.Minute, alert.ClaimPace{}); err != nil || len(jobs) != 1 || jobs[0].AlertID != c1[2] {
			t.Fatalf("unpaced claim = %v, %v; want C1's last alert %d", jobs, err, c1[2])
		}
	})
}

// TestClaimPassesHeldBacklog: a channel Slack holds, with more queued jobs
// than a claim reads in due order (its window), is passed over as a
// whole: a paced claim still finds the due jobs of other channels and of
// no channel, keeps the per-channel cut, the serial keys and a channel
// whose next slot is far, takes back expired leases counting an attempt,
// and once the hold is over takes the held channel's oldest jobs first.
func TestClaimPassesHeldBacklog(t *testing.T) {
	each(t, func(t *testing.T, db *store.DB, clk *fakeClock) {
		ctx := context.Background()
		var held []int64
		for i := range 50 {
			held = append(held, accept(t, db, newAlert("E-held-"+strconv.Itoa(i), "C-held")).ID)
		}
		notes := make([]alert.Job, 100)
		for i := range notes {
			notes[i] = alert.StatusJob(held[0], "1700000000.000100")
		}
		if err := db.Enqueue(ctx, notes...); err != nil {
			t.Fatal(err)
		}
		var c1 []int64
		for i := range 3 {
			c1 = append(c1, accept(t, db, newAlert("E-c1-"+strconv.Itoa(i), "C1")).ID)
		}
		// Queued behind C1's first render job: the same serial key.
		if err := db.Enqueue(ctx, alert.StatusJob(c1[0], "1700000000.000200")); err != nil {
			t.Fatal(err)
		}
		c2 := accept(t, db, newAlert("E-c2", "C2")).ID
		c3 := []int64{accept(t, db, newAlert("E-c3-a", "C3")).ID, accept(t, db, newAlert("E-c3-b", "C3")).ID}
		if err := db.Enqueue(ctx, alert.Job{Kind: "linear_delivery", Payload: "{}"}, alert.Job{Kind: "linear_delivery", Payload: "{}"}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := db.ReserveChannelSlot(ctx, "C3", 10*time.Second, time.Minute); err != nil {
			t.Fatal(err)
		}
		if err := db.HoldChannel(ctx, "C-held", time.Minute); err != nil {
			t.Fatal(err)
		}
		pace := alert.ClaimPace{Kinds: alert.ChannelKinds, Ahead: time.Second, HoldAhead: 5 * time.Second, PerChannel: 2}
		claim := func(lease time.Duration, want ...string) {
			t.Helper()
			jobs, err := db.ClaimPacedJobs(ctx, "test", 10, lease, pace)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, j := range jobs {
				got = append(got, fmt.Sprintf("%s %d/%d", j.Kind, j.AlertID, j.Attempts))
			}
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("claimed %q, want %q", got, want)
			}
		}
		render := func(id int64, attempts int) string { return fmt.Sprintf("render_alert %d/%d", id, attempts) }
		// C1's two oldest (not its note, nor its third), C2's, the
		// deliveries; nothing of the held channel nor of C3.
		claim(time.Minute, render(c1[0], 0), render(c1[1], 0), render(c2, 0), "linear_delivery 0/0", "linear_delivery 0/0")
		claim(10*time.Minute, render(c1[2], 0))
		// A minute on: the hold and C3's slot are past, and the first
		// claim's leases ran out. The note still waits for its render job.
		clk.Advance(time.Minute + time.Second)
		claim(10*time.Minute,
			render(held[0], 0), render(held[1], 0), render(c3[0], 0), render(c3[1], 0),
			render(c1[0], 1), render(c1[1], 1), render(c2, 1), "linear_delivery 0/1", "linear_delivery 0/1")
	})
}

// TestClaimCostFlatInHeldBacklog: what a paced claim reads does not grow
// with the jobs waiting in a channel Slack holds: ten times the backlog
// costs it at most half as many pages again (deeper indexes), where
// reading past the held jobs costs 4 (SQLite) to 50 (PostgreSQL) times as
// many.
func TestClaimCostFlatInHeldBacklog(t *testing.T) {
	each(t, func(t *testing.T, db *store.DB, clk *fakeClock) {
		ctx := context.Background()
		backlog := func(n int) {
			t.Helper()
			a := accept(t, db, newAlert("E-held-"+strconv.Itoa(n), "C-held"))
			notes := make([]alert.Job, n)
			for i := range notes {
				notes[i] = alert.StatusJob(a.ID, "1700000000.000100")
			}
			if err := db.Enqueue(ctx, notes...); err != nil {
				t.Fatal(err)
			}
		}
		backlog(200)
		for i := range 40 {
			accept(t, db, newAlert("E-"+strconv.Itoa(i), "C"+strconv.Itoa(i%20)))
		}
		if err := db.Enqueue(ctx, alert.Job{Kind: "linear_delivery", Payload: "{}"}); err != nil {
			t.Fatal(err)
		}
		if err := db.HoldChannel(ctx, "C-held", time.Hour); err != nil {
			t.Fatal(err)
		}
		pace := alert.ClaimPace{Kinds: alert.ChannelKinds, Ahead: time.Second, HoldAhead: 5 * time.Second, PerChannel: 2}
		// Young (no statistics yet), then as autovacuum leaves it: the
		// planner's guesses must not change what the claim reads.
		small := store.ClaimPages(t, db, 16, pace)
		store.Analyze(t, db)
		smallStats := store.ClaimPages(t, db, 16, pace)
		backlog(2000)
		big := store.ClaimPages(t, db, 16, pace)
		store.Analyze(t, db)
		bigStats := store.ClaimPages(t, db, 16, pace)
		t.Logf("pages per claim: %d with 200 held jobs, %d with 2,200 (with statistics: %d, %d)", small, big, smallStats, bigStats)
		if big > small+small/2 || bigStats > smallStats+smallStats/2 {
			t.Errorf("a claim reads %d pages with 2,200 held jobs, %d with 200 (with statistics: %d, %d): it reads the held jobs",
				big, small, bigStats, smallStats)
		}
		if jobs, err := db.ClaimPacedJobs(ctx, "test", 16, time.Minute, pace); err != nil || len(jobs) != 16 {
			t.Fatalf("claimed %d jobs (%v), want 16", len(jobs), err)
		}
	})
}
