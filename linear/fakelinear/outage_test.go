package fakelinear_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/linear"
	"github.com/proliferate/proliferate-linear/linear/fakelinear"
)

func TestDownFor(t *testing.T) {
	srv := fakelinear.Seeded()
	t.Cleanup(srv.Close)
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &linear.APIKeyTransport{Key: fakelinear.APIKey}}
	c := linear.New(srv.URL(), hc, nil)
	ctx := context.Background()

	srv.DownFor(time.Minute)
	if !srv.IsDown() {
		t.Fatal("IsDown = false during the outage")
	}
	if _, err := c.Teams(ctx); !errors.Is(err, alert.ErrUnavailable) {
		t.Fatalf("Teams during the outage: err = %v, want ErrUnavailable", err)
	}
	if got := srv.DownRequests(); got != 1 {
		t.Errorf("DownRequests = %d, want 1", got)
	}
	if got := srv.CountRequests(""); got != 0 {
		t.Errorf("Requests recorded %d requests Linear never saw", got)
	}

	srv.DownFor(0)
	if srv.IsDown() {
		t.Fatal("IsDown = true after the outage ended")
	}
	if teams, err := c.Teams(ctx); err != nil || len(teams) == 0 {
		t.Fatalf("Teams after the outage: %v, %v", teams, err)
	}
}
