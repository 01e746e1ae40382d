package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/store"
)

func TestAlertChannels(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, db *store.DB, _ *fakeClock) {
		ctx := context.Background()
		if got, err := db.AlertChannels(ctx, 10); err != nil || len(got) != 0 {
			t.Fatalf("no alerts: %+v, %v", got, err)
		}
		for _, a := range []struct {
			errorID, channel string
			seen             time.Duration
		}{
			{"E1", "C-old", -48 * time.Hour},
			{"E1", "C-new", 0},
			{"E2", "C-new", -time.Hour},
			{"E3", "C-mid", -2 * time.Hour},
		} {
			x := newAlert(a.errorID, a.channel)
			x.LastSeen = t0.Add(a.seen)
			accept(t, db, x)
		}
		got, err := db.AlertChannels(ctx, 10)
		if err != nil {
			t.Fatal(err)
		}
		want := []alert.AlertChannel{
			{Channel: "C-new", LastSeen: ms(t0), Errors: 2},
			{Channel: "C-mid", LastSeen: ms(t0.Add(-2 * time.Hour)), Errors: 1},
			{Channel: "C-old", LastSeen: ms(t0.Add(-48 * time.Hour)), Errors: 1},
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("AlertChannels (-want +got):\n%s", d)
		}
		if got, err := db.AlertChannels(ctx, 2); err != nil || len(got) != 2 || got[1].Channel != "C-mid" {
			t.Errorf("limit 2 = %+v, %v", got, err)
		}
		if _, err := db.AlertChannels(ctx, 0); err == nil {
			t.Error("limit 0 accepted")
		}
	})
}

func TestRecentLinks(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, db *store.DB, clk *fakeClock) {
		ctx := context.Background()
		save := func(errorID, issueID, ident, by string, kind alert.LinkKind) {
			t.Helper()
			clk.Advance(time.Minute)
			l := link(errorID, issueID, ident)
			l.CreatedBy, l.Kind = by, kind
			if err := db.SaveLink(ctx, l); err != nil {
				t.Fatal(err)
			}
		}
		save("E1", "i1", "PRO-1", "U1", alert.LinkCreated)
		save("E2", "i2", "PRO-2", "U2", alert.LinkLinked)
		save("E3", "i3", "PRO-3", alert.CreatedByAPI, alert.LinkCreated)   // the REST API: not from Slack.
		save("E4", "i4", "PRO-4", alert.CreatedByLinear, alert.LinkLinked) // found in Linear.
		save("E5", "i1", "PRO-1", "U3", alert.LinkLinked)                  // a second error on PRO-1.
		save("E6", "i6", "PRO-6", "U1", alert.LinkCreated)

		got, err := db.RecentLinks(ctx, 10)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, l := range got {
			ids = append(ids, l.ErrorID+"/"+l.Identifier)
		}
		if d := cmp.Diff([]string{"E6/PRO-6", "E5/PRO-1", "E2/PRO-2"}, ids); d != "" {
			t.Errorf("RecentLinks (-want +got):\n%s", d)
		}
		if len(got) > 0 && (got[0].Kind != alert.LinkCreated || got[0].StateName != "Todo" || !got[0].CreatedAt.Equal(ms(t0.Add(6*time.Minute)))) {
			t.Errorf("newest link = %+v", got[0])
		}
		if got, err := db.RecentLinks(ctx, 1); err != nil || len(got) != 1 || got[0].ErrorID != "E6" {
			t.Errorf("limit 1 = %+v, %v", got, err)
		}
		if _, err := db.RecentLinks(ctx, -1); err == nil {
			t.Error("limit -1 accepted")
		}
	})
}
