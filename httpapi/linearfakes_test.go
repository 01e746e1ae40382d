package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/linear/webhook"
)

const linearSecret = "lin_wh_test_0123456789abcdef"

// fakeDeliveries is an in-memory DeliveryAccepter with the core's
// semantics as the handler sees them: the first delivery of an id is
// accepted, later ones are duplicates; revocations are ignored unless
// revocations is set. It records what it accepted, so a test reads what
// the handler made of a delivery; the store-backed tests
// (linearstore_test.go) run the real core.
type fakeDeliveries struct {
	mu          sync.Mutex
	err         error // returned by AcceptDelivery when set.
	revocations bool
	seen        map[string]bool
	accepted    []alert.LinearDelivery
	calls       int
}

func (f *fakeDeliveries) AcceptDelivery(_ context.Context, d alert.LinearDelivery) (alert.DeliveryOutcome, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	switch {
	case f.err != nil:
		return "", f.err
	case d.RevokedOrg != "" && !f.revocations:
		return alert.DeliveryIgnored, nil
	case f.seen[d.ID]:
		return alert.DeliveryDuplicate, nil
	}
	if f.seen == nil {
		f.seen = map[string]bool{}
	}
	f.seen[d.ID] = true
	f.accepted = append(f.accepted, d)
	return alert.DeliveryAccepted, nil
}

func (f *fakeDeliveries) Calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// Accepted returns the deliveries accepted so far.
func (f *fakeDeliveries) Accepted() []alert.LinearDelivery {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]alert.LinearDelivery(nil), f.accepted...)
}

// Issues returns the issues of the accepted deliveries.
func (f *fakeDeliveries) Issues() []alert.Issue {
	var out []alert.Issue
	for _, d := range f.Accepted() {
		if d.Issue != nil {
			out = append(out, *d.Issue)
		}
	}
	return out
}

// linearHarness is a real HTTP server around NewHandler with the Linear
// webhook configured.
type linearHarness struct {
	*harness
	handler    *Handler
	deliveries *fakeDeliveries
}

// newLinearHarness starts a server; edit may change cfg and deps first.
func newLinearHarness(t *testing.T, edit func(*Config, *Deps)) *linearHarness {
	t.Helper()
	lh := &linearHarness{harness: &harness{acc: &fakeAccepter{}, logs: &syncBuffer{}}, deliveries: &fakeDeliveries{}}
	cfg := Config{
		WebhookSecret: testSecret, LinearWebhookSecret: linearSecret, Now: func() time.Time { return testNow },
		Log: slog.New(slog.NewJSONHandler(lh.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	deps := Deps{Alerts: lh.acc, Deliveries: lh.deliveries}
	if edit != nil {
		edit(&cfg, &deps)
	}
	lh.handler = NewHandler(cfg, deps)
	lh.srv = httptest.NewServer(lh.handler)
	t.Cleanup(func() {
		lh.srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = lh.handler.Close(ctx)
	})
	return lh
}

// postLinear posts body with headers to /webhooks/linear.
func (lh *linearHarness) postLinear(t *testing.T, body []byte, header http.Header) response {
	t.Helper()
	hs := map[string]string{}
	for k := range header {
		hs[k] = header.Get(k)
	}
	return lh.do(t, http.MethodPost, "/webhooks/linear", body, hs)
}

// postSignedLinear signs body with the test secret and posts it.
func (lh *linearHarness) postSignedLinear(t *testing.T, body []byte, delivery string) response {
	t.Helper()
	return lh.postLinear(t, body, webhook.SignedHeader([]byte(linearSecret), body, delivery, "Issue"))
}

// issueDelivery is an Issue update body as Linear sends it, sent at ts,
// with the issue in a state of stateType; edit may change the map.
func issueDelivery(t testing.TB, issueID, stateType string, ts time.Time, edit func(env, data map[string]any)) []byte {
	t.Helper()
	stateName := map[string]string{"started": "In Progress", "completed": "Done", "canceled": "Canceled"}[stateType]
	if stateName == "" {
		stateName = "Todo"
	}
	data := map[string]any{
		"id": issueID, "identifier": "ENG-42", "title": "TypeError: x is undefined",
		"url":     "https://linear.app/acme/issue/ENG-42/typeerror",
		"stateId": "state-" + stateType,
		"state":   map[string]any{"id": "state-" + stateType, "name": stateName, "type": stateType},
		"teamId":  "team-eng", "team": map[string]any{"id": "team-eng", "key": "ENG", "name": "Engineering"},
		"assigneeId": "user-1", "assignee": map[string]any{"id": "user-1", "name": "Ada Lovelace"},
		"completedAt": nil, "canceledAt": nil,
		"updatedAt": ts.Add(-time.Second).Format(time.RFC3339Nano),
	}
	env := map[string]any{
		"action": "update", "type": "Issue", "createdAt": ts.Add(-time.Second).Format(time.RFC3339Nano),
		"organizationId": "org-acme", "webhookId": "wh-1", "webhookTimestamp": ts.UnixMilli(),
		"url": data["url"], "data": data, "updatedFrom": map[string]any{"stateId": "state-unstarted"},
	}
	if edit != nil {
		edit(env, data)
	}
	return mustJSON(t, env)
}

// deliveryID is the Linear-Delivery of the n-th test delivery.
func deliveryID(n int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", n) }

// errDB is a store failure whose text must not reach the sender.
var errDB = errors.New("pq: connection refused to 10.0.0.5")
