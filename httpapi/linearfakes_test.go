package httpapi

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/linear/webhook"
)

const linearSecret = "lin_wh_test_0123456789abcdef"

// fakeDeliveries is an in-memory DeliveryRecorder with the store's
// semantics: the first record of an id is fresh, later ones are not; a
// recorded delivery is unapplied until marked or given up after
// store.MaxDeliveryAttempts failures. The Recover tests use the real
// store; this one lets a test make recording fail.
type fakeDeliveries struct {
	mu    sync.Mutex
	err   error // returned by RecordDelivery when set.
	seen  map[string]*fakeDelivery
	calls int
}

type fakeDelivery struct {
	webhook.Delivery
	applied bool
	lastErr string
}

// fakeMaxAttempts is store.MaxDeliveryAttempts.
const fakeMaxAttempts = 10

func (f *fakeDeliveries) RecordDelivery(_ context.Context, d webhook.Delivery) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.err != nil {
		return false, f.err
	}
	if f.seen == nil {
		f.seen = map[string]*fakeDelivery{}
	}
	if _, ok := f.seen[d.ID]; ok {
		return false, nil
	}
	d.Body = bytes.Clone(d.Body)
	f.seen[d.ID] = &fakeDelivery{Delivery: d, applied: len(d.Body) == 0}
	return true, nil
}

func (f *fakeDeliveries) MarkDeliveryApplied(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if d, ok := f.seen[id]; ok {
		d.applied, d.Body = true, nil
	}
	return nil
}

func (f *fakeDeliveries) DeliveryFailed(_ context.Context, id, reason string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, ok := f.seen[id]
	if !ok || d.applied {
		return false, nil
	}
	d.Attempts++
	d.lastErr = reason
	d.applied = d.Attempts >= fakeMaxAttempts
	return d.applied, nil
}

func (f *fakeDeliveries) UnappliedDeliveries(_ context.Context, before time.Time, limit int) ([]webhook.Delivery, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []webhook.Delivery
	for _, d := range f.seen {
		if d.applied || !d.ReceivedAt.Before(before) {
			continue
		}
		dd := d.Delivery
		for _, n := range f.seen {
			if n.Subject != "" && n.Subject == d.Subject && (n.ReceivedAt.After(d.ReceivedAt) || n.ReceivedAt.Equal(d.ReceivedAt) && n.ID > d.ID) {
				dd.Superseded = true
			}
		}
		out = append(out, dd)
	}
	slices.SortFunc(out, func(a, b webhook.Delivery) int {
		return cmp.Or(a.ReceivedAt.Compare(b.ReceivedAt), strings.Compare(a.ID, b.ID))
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func (f *fakeDeliveries) Calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

func (f *fakeDeliveries) Seen(id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.seen[id]
	return ok
}

// State returns whether delivery id is applied, and its failed attempts.
func (f *fakeDeliveries) State(id string) (applied bool, attempts int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, ok := f.seen[id]
	if !ok {
		return false, 0
	}
	return d.applied, d.Attempts
}

// fakeIssues is an IssueChanger that records what it applied. When gate
// is set every call first signals started and then waits for gate (or its
// ctx), so tests can hold a worker busy.
type fakeIssues struct {
	mu      sync.Mutex
	applied []alert.Issue
	failN   int // the first failN calls fail.
	calls   int
	started chan string
	gate    chan struct{}
}

func (f *fakeIssues) IssueChanged(ctx context.Context, is alert.Issue) error {
	if f.started != nil {
		f.started <- is.ID
	}
	if f.gate != nil {
		select {
		case <-f.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.calls <= f.failN {
		return errors.New("database is locked")
	}
	f.applied = append(f.applied, is)
	return nil
}

func (f *fakeIssues) Applied() []alert.Issue {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]alert.Issue(nil), f.applied...)
}

// fakeRevoker records revoked organisations.
type fakeRevoker struct {
	mu   sync.Mutex
	orgs []string
}

func (f *fakeRevoker) Revoked(_ context.Context, orgID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.orgs = append(f.orgs, orgID)
	return nil
}

func (f *fakeRevoker) Orgs() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.orgs...)
}

// linearHarness is a real HTTP server around NewHandler with the Linear
// webhook configured.
type linearHarness struct {
	*harness
	handler    *Handler
	deliveries *fakeDeliveries
	issues     *fakeIssues
}

// newLinearHarness starts a server; edit may change cfg and deps first.
func newLinearHarness(t *testing.T, issues *fakeIssues, edit func(*Config, *Deps)) *linearHarness {
	t.Helper()
	if issues == nil {
		issues = &fakeIssues{}
	}
	lh := &linearHarness{harness: &harness{acc: &fakeAccepter{}, logs: &syncBuffer{}}, deliveries: &fakeDeliveries{}, issues: issues}
	cfg := Config{
		WebhookSecret: testSecret, LinearWebhookSecret: linearSecret, Now: func() time.Time { return testNow },
		Log: slog.New(slog.NewJSONHandler(lh.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	deps := Deps{Alerts: lh.acc, Deliveries: lh.deliveries, Issues: issues}
	if edit != nil {
		edit(&cfg, &deps)
	}
	lh.handler = NewHandler(cfg, deps)
	if lh.handler.s.linear != nil {
		lh.handler.s.linear.backoff = time.Millisecond
	}
	lh.srv = httptest.NewServer(lh.handler)
	t.Cleanup(func() {
		lh.srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = lh.handler.Close(ctx)
	})
	return lh
}

// drain closes the handler, waiting until every accepted delivery is
// applied.
func (lh *linearHarness) drain(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := lh.handler.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
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
