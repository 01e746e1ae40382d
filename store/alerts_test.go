package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/store"
)

func TestAcceptAlertFolds(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, db *store.DB, clk *fakeClock) {
		ctx := context.Background()
		first := accept(t, db, newAlert("E1", "C1"))
		want := newAlert("E1", "C1")
		want.ID = first.ID
		want.FirstSeen, want.LastSeen = ms(want.FirstSeen), ms(want.LastSeen)
		want.Occurrences = 1
		want.CreatedAt, want.UpdatedAt = ms(t0), ms(t0)
		if diff := cmp.Diff(want, first); diff != "" {
			t.Fatalf("first AcceptAlert (-want +got):\n%s", diff)
		}
		if err := db.SetAlertMessage(ctx, first.ID, "1712345678.000100"); err != nil {
			t.Fatal(err)
		}

		clk.Advance(time.Minute)
		repeat := newAlert("E1", "C1")
		repeat.FirstSeen = t0.Add(30 * time.Minute) // must not move first_seen.
		repeat.LastSeen = t0.Add(time.Minute)
		repeat.EventCount = 40
		repeat.UsersAffected = 7
		repeat.ErrorMessage = "cannot read properties of null"
		repeat.Trigger = alert.TriggerSpike
		repeat.MessageTS = "ignored"
		got := accept(t, db, repeat)

		want.MessageTS = "1712345678.000100"
		want.LastSeen = ms(repeat.LastSeen)
		want.EventCount, want.UsersAffected = 40, 7
		want.ErrorMessage = repeat.ErrorMessage
		want.Trigger = alert.TriggerSpike
		want.Occurrences = 2
		want.UpdatedAt = ms(t0.Add(time.Minute))
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("folded AcceptAlert (-want +got):\n%s", diff)
		}
		read, err := db.Alert(ctx, first.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(got, read); diff != "" {
			t.Errorf("Alert after fold (-returned +read):\n%s", diff)
		}

		other := accept(t, db, newAlert("E1", "C2"))
		if other.ID == first.ID || other.Occurrences != 1 {
			t.Errorf("alert in another channel = id %d occurrences %d, want a new alert", other.ID, other.Occurrences)
		}
		all, err := db.AlertsByError(ctx, "E1")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]alert.Alert{read, other}, all); diff != "" {
			t.Errorf("AlertsByError (-want +got):\n%s", diff)
		}
	})
}

func TestAcceptAlertQueuesOneRenderPerBurst(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, db *store.DB, _ *fakeClock) {
		ctx := context.Background()
		var a alert.Alert
		for range 25 {
			a = accept(t, db, newAlert("E-burst", "C1"))
		}
		if a.Occurrences != 25 {
			t.Errorf("Occurrences = %d, want 25", a.Occurrences)
		}
		render := jobView{alert.JobRenderAlert, a.ID, fmt.Sprintf("render:%d", a.ID), "queued", 0}
		if diff := cmp.Diff([]jobView{render}, queue(t, db)); diff != "" {
			t.Fatalf("queue after a burst (-want +got):\n%s", diff)
		}

		// A running render job does not absorb a repeat: the message must
		// be rendered again with the newer state, once.
		if _, err := db.ClaimJobs(ctx, "test", 10, time.Minute); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			accept(t, db, newAlert("E-burst", "C1"))
		}
		running := render
		running.Status = "running"
		if diff := cmp.Diff([]jobView{running, render}, queue(t, db)); diff != "" {
			t.Errorf("queue after repeats while rendering (-want +got):\n%s", diff)
		}
	})
}

func TestAcceptAlertConcurrent(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, db *store.DB, _ *fakeClock) {
		const n = 40
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for range n {
			wg.Go(func() {
				_, err := db.AcceptAlert(context.Background(), newAlert("E-race", "C1"))
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("AcceptAlert: %v", err)
			}
		}
		all, err := db.AlertsByError(context.Background(), "E-race")
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != 1 || all[0].Occurrences != n {
			t.Fatalf("alerts = %+v, want one with %d occurrences", all, n)
		}
		if q := queue(t, db); len(q) != 1 {
			t.Errorf("queue = %+v, want one render job", q)
		}
	})
}

func TestAlertErrors(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, db *store.DB, _ *fakeClock) {
		ctx := context.Background()
		tests := []struct {
			name string
			call func() error
			want error
		}{
			{"accept without error id", func() error { _, err := db.AcceptAlert(ctx, newAlert("", "C1")); return err }, alert.ErrInvalid},
			{"accept without channel", func() error { _, err := db.AcceptAlert(ctx, newAlert("E1", " ")); return err }, alert.ErrInvalid},
			{"missing alert", func() error { _, err := db.Alert(ctx, 424242); return err }, alert.ErrNotFound},
			{"message of missing alert", func() error { return db.SetAlertMessage(ctx, 424242, "1.2") }, alert.ErrNotFound},
			{"alerts of unknown error", func() error {
				as, err := db.AlertsByError(ctx, "nope")
				if err == nil && len(as) != 0 {
					return fmt.Errorf("got %d alerts", len(as))
				}
				return err
			}, nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) { wantErr(t, tt.name, tt.call(), tt.want) })
		}
	})
}
