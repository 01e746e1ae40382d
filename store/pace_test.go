package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/proliferate/proliferate-linear/store"
)

// TestReserveChannelSlot: slots in a channel are a gap apart, a hold
// (Retry-After) pushes the next one past its end, a slot further off than
// maxWait is refused and reserves nothing, and channels are independent.
func TestReserveChannelSlot(t *testing.T) {
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
