package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// waitStarted waits until a worker has entered IssueChanged.
func waitStarted(t *testing.T, f *fakeIssues) string {
	t.Helper()
	select {
	case id := <-f.started:
		return id
	case <-time.After(5 * time.Second):
		t.Fatal("IssueChanged was never called")
		return ""
	}
}

func gatedIssues() *fakeIssues {
	return &fakeIssues{started: make(chan string, 16), gate: make(chan struct{})}
}

// TestLinearWebhookAnswersBeforeApplying: the 200 arrives while
// IssueChanged is still running (it blocks until the test lets it go).
func TestLinearWebhookAnswersBeforeApplying(t *testing.T) {
	issues := gatedIssues()
	lh := newLinearHarness(t, issues, nil)
	resp := lh.postSignedLinear(t, issueDelivery(t, issueUUID, "completed", testNow, nil), deliveryID(1))
	if resp.status != http.StatusOK || resp.body["status"] != "accepted" {
		t.Fatalf("got %d %v", resp.status, resp.body)
	}
	waitStarted(t, issues)
	if got := issues.Applied(); len(got) != 0 {
		t.Fatalf("applied before the gate opened: %v", got)
	}
	close(issues.gate)
	lh.drain(t)
	if got := issues.Applied(); len(got) != 1 {
		t.Errorf("applied %d times, want once", len(got))
	}
}

func TestLinearWebhookQueueFull(t *testing.T) {
	issues := gatedIssues()
	lh := newLinearHarness(t, issues, func(c *Config, _ *Deps) { c.LinearWebhookWorkers, c.LinearWebhookQueue = 1, 1 })
	post := func(n int) response {
		return lh.postSignedLinear(t, issueDelivery(t, issueUUID, "started", testNow, nil), deliveryID(n))
	}
	if resp := post(1); resp.body["status"] != "accepted" {
		t.Fatalf("first: %d %v", resp.status, resp.body)
	}
	waitStarted(t, issues) // the worker holds delivery 1; the queue is empty.
	if resp := post(2); resp.body["status"] != "accepted" {
		t.Fatalf("second: %d %v", resp.status, resp.body)
	}
	resp := post(3)
	if resp.status != http.StatusServiceUnavailable || resp.body["code"] != "queue_full" || resp.header.Get("Retry-After") == "" {
		t.Fatalf("third: %d %v, want 503 queue_full with Retry-After", resp.status, resp.body)
	}
	if lh.deliveries.Seen(deliveryID(3)) {
		t.Fatal("a refused delivery was recorded: Linear's retry would be dropped as a duplicate")
	}

	close(issues.gate)
	waitStarted(t, issues) // delivery 2 taken: the queue has room again.
	// Linear retries delivery 3 once there is room; it is fresh, not a duplicate.
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp = post(3)
		if resp.status == http.StatusOK || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if resp.body["status"] != "accepted" {
		t.Fatalf("retry of third: %d %v, want accepted", resp.status, resp.body)
	}
	lh.drain(t)
	if got := issues.Applied(); len(got) != 3 {
		t.Errorf("applied %d deliveries, want 3", len(got))
	}
}

func TestCloseDrainsQueue(t *testing.T) {
	issues := gatedIssues()
	lh := newLinearHarness(t, issues, func(c *Config, _ *Deps) { c.LinearWebhookWorkers = 1 })
	for i := range 5 {
		if resp := lh.postSignedLinear(t, issueDelivery(t, issueUUID, "started", testNow, nil), deliveryID(i)); resp.status != http.StatusOK {
			t.Fatalf("post %d: %d %v", i, resp.status, resp.body)
		}
	}
	waitStarted(t, issues)
	closed := make(chan error, 1)
	go func() { closed <- lh.handler.Close(closeCtx(t, 5*time.Second)) }()

	// Once closing, new deliveries are refused unrecorded, so Linear retries
	// them against a replica that is up.
	for deadline := time.Now().Add(5 * time.Second); !lh.handler.s.linear.isClosed(); {
		if time.Now().After(deadline) {
			t.Fatal("Close never started")
		}
		time.Sleep(time.Millisecond)
	}
	resp := lh.postSignedLinear(t, issueDelivery(t, issueUUID, "started", testNow, nil), deliveryID(99))
	if resp.status != http.StatusServiceUnavailable || resp.body["code"] != "shutting_down" {
		t.Fatalf("post while closing: %d %v, want 503 shutting_down", resp.status, resp.body)
	}
	if lh.deliveries.Seen(deliveryID(99)) {
		t.Error("delivery refused while closing was recorded")
	}

	close(issues.gate)
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got := issues.Applied(); len(got) != 5 {
		t.Errorf("applied %d of 5 accepted deliveries", len(got))
	}
	if err := lh.handler.Close(closeCtx(t, time.Second)); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestCloseGivesUp(t *testing.T) {
	issues := gatedIssues() // never opened: the worker hangs until cancelled.
	lh := newLinearHarness(t, issues, func(c *Config, _ *Deps) { c.LinearWebhookWorkers = 1 })
	for i := range 3 {
		lh.postSignedLinear(t, issueDelivery(t, issueUUID, "started", testNow, nil), deliveryID(i))
	}
	waitStarted(t, issues)
	err := lh.handler.Close(closeCtx(t, 50*time.Millisecond))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close = %v, want DeadlineExceeded", err)
	}
	t.Logf("Close: %v", err)
	select {
	case <-lh.handler.s.linear.done:
	case <-time.After(5 * time.Second):
		t.Fatal("workers still running after Close gave up")
	}
	if got := issues.Applied(); len(got) != 0 {
		t.Errorf("applied %v after Close gave up", got)
	}
	// Nothing is lost: all three stay stored, unapplied and with no failure
	// counted (shutting down is not theirs), for Recover after the restart.
	ds, err := lh.deliveries.UnappliedDeliveries(context.Background(), testNow.Add(time.Hour), 0)
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, d := range ds {
		left = append(left, fmt.Sprintf("%s attempts=%d", d.ID, d.Attempts))
	}
	want := []string{deliveryID(0) + " attempts=0", deliveryID(1) + " attempts=0", deliveryID(2) + " attempts=0"}
	if diff := cmp.Diff(want, left); diff != "" {
		t.Errorf("left for recovery (-want +got):\n%s", diff)
	}
}

// isClosed reports whether close has begun.
func (h *linearHook) isClosed() bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.closed
}

// TestCloseWithoutLinear: a handler without the Linear webhook has nothing
// to close.
func TestCloseWithoutLinear(t *testing.T) {
	h := NewHandler(Config{}, Deps{})
	if err := h.Close(closeCtx(t, time.Second)); err != nil {
		t.Errorf("Close = %v", err)
	}
}

func TestLinearWebhookRetriesApply(t *testing.T) {
	lh := newLinearHarness(t, &fakeIssues{failN: applyAttempts - 1}, nil)
	if resp := lh.postSignedLinear(t, issueDelivery(t, issueUUID, "completed", testNow, nil), deliveryID(1)); resp.status != http.StatusOK {
		t.Fatalf("got %d %v", resp.status, resp.body)
	}
	lh.drain(t)
	if got := lh.issues.Applied(); len(got) != 1 {
		t.Errorf("applied %d times after %d failures, want once", len(got), applyAttempts-1)
	}
}

// TestLinearWebhookOrderPerIssue sends many updates of one issue to
// several workers: they must be applied in the order they arrived.
func TestLinearWebhookOrderPerIssue(t *testing.T) {
	lh := newLinearHarness(t, nil, func(c *Config, _ *Deps) { c.LinearWebhookWorkers = 4 })
	var want []string
	for i := range 30 {
		title := "title " + string(rune('A'+i))
		want = append(want, title)
		body := issueDelivery(t, issueUUID, "started", testNow, func(_, d map[string]any) { d["title"] = title })
		if resp := lh.postSignedLinear(t, body, deliveryID(i)); resp.status != http.StatusOK {
			t.Fatalf("post %d: %d %v", i, resp.status, resp.body)
		}
	}
	lh.drain(t)
	var got []string
	for _, is := range lh.issues.Applied() {
		got = append(got, is.Title)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
}

var errDB = &dbError{"pq: connection refused to 10.0.0.5"}

type dbError struct{ msg string }

func (e *dbError) Error() string { return e.msg }

// closeCtx is a context for Close that the test bounds.
func closeCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
