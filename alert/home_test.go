package alert_test

import (
	"context"
	"errors"
	"testing"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/store/storetest"
)

// TestRefreshIssuesOneRequest reads the App Home's issues in one Linear
// request, applies the new state to the store as the poller would, and
// returns the links in their order, fresh.
func TestRefreshIssuesOneRequest(t *testing.T) {
	t.Parallel()
	for _, dc := range storetest.Dialects(t) {
		t.Run(dc.Name, func(t *testing.T) {
			ctx := context.Background()
			h := newHarness(t, dc)
			var links []alert.IssueLink
			for _, id := range []string{"prl_home_a", "prl_home_b", "prl_home_c"} {
				is := h.seedIssue(t, "Crash "+id, "https://elsewhere.example/"+id)
				a := h.accept(t, id)
				l, err := h.svc.LinkExisting(ctx, alert.LinkRequest{AlertID: a.ID, Ref: mustRef(t, is.Identifier), SlackUser: "U1"})
				if err != nil {
					t.Fatal(err)
				}
				links = append(links, l)
			}
			// b and c share one issue: it is read once.
			links = append(links, links[1])
			if err := h.fl.SetIssueState(links[1].Identifier, "Done"); err != nil {
				t.Fatal(err)
			}
			before := h.fl.CountRequests("")
			got, err := h.svc.RefreshIssues(ctx, links)
			if err != nil {
				t.Fatal(err)
			}
			if n := h.fl.CountRequests("") - before; n != 1 {
				t.Errorf("%d Linear requests, want 1", n)
			}
			if len(got) != len(links) {
				t.Fatalf("got %d links, want %d", len(got), len(links))
			}
			for i, l := range got {
				if l.ErrorID != links[i].ErrorID {
					t.Errorf("link %d is %s, want %s (order kept)", i, l.ErrorID, links[i].ErrorID)
				}
			}
			if got[1].StateName != "Done" || got[3].StateName != "Done" || got[0].StateName == "Done" {
				t.Errorf("states = %s, %s, %s, %s; want b Done", got[0].StateName, got[1].StateName, got[2].StateName, got[3].StateName)
			}
			if stored, _ := h.svc.Link(ctx, "prl_home_b"); stored.StateName != "Done" || !stored.Closed() {
				t.Errorf("stored link of b = %s/%s, want Done and closed", stored.StateName, stored.StateType)
			}
		})
	}
}

func TestRefreshIssuesWithoutLinear(t *testing.T) {
	t.Parallel()
	dc := storetest.Dialects(t)[0]
	svc := alert.NewService(dc.Open(t), nil, nil)
	in := []alert.IssueLink{{ErrorID: "e", IssueID: "i", StateName: "Todo"}}
	got, err := svc.RefreshIssues(context.Background(), in)
	if !errors.Is(err, alert.ErrNotConnected) || len(got) != 1 || got[0].StateName != "Todo" {
		t.Errorf("RefreshIssues without Linear = %+v, %v; want the links as stored and ErrNotConnected", got, err)
	}
}
