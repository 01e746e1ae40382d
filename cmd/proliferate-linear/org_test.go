package main

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/proliferate/proliferate-linear/alert"
)

// TestConnectedOrgCaches: a burst of Linear deliveries costs one
// workspace read; a failed read is not kept.
func TestConnectedOrgCaches(t *testing.T) {
	calls := 0
	var fail error
	c := newConnectedOrg(func(context.Context) (alert.Workspace, error) {
		calls++
		return alert.Workspace{OrgID: "org-1"}, fail
	})
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c.now = func() time.Time { return now }
	for range 3 {
		if id, err := c.ConnectedOrganization(t.Context()); err != nil || id != "org-1" {
			t.Fatalf("ConnectedOrganization = %q, %v", id, err)
		}
	}
	if calls != 1 {
		t.Errorf("%d workspace reads for three deliveries, want 1", calls)
	}
	now = now.Add(connectedOrgTTL + time.Second)
	fail = alert.ErrUnavailable
	if _, err := c.ConnectedOrganization(t.Context()); !errors.Is(err, alert.ErrUnavailable) {
		t.Errorf("after the TTL with Linear down: err = %v, want ErrUnavailable", err)
	}
	if calls != 2 {
		t.Errorf("%d reads, want the expired answer read again", calls)
	}
}
