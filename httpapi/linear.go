package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/linear/webhook"
)

// DeliveryRecorder keeps Linear deliveries: it dedupes them on their
// Linear-Delivery id (a retry of a delivery is applied once, across
// replicas too) and stores each with its body until it is applied, so a
// delivery answered 200 survives a crash before its apply (Linear does not
// resend it) and Recover replays it. store.DB implements it.
type DeliveryRecorder interface {
	// RecordDelivery stores d, not applied yet. fresh is false, and
	// nothing changes, when d.ID was recorded before.
	RecordDelivery(ctx context.Context, d webhook.Delivery) (fresh bool, err error)
	// MarkDeliveryApplied records that delivery id was applied, so it is
	// not replayed.
	MarkDeliveryApplied(ctx context.Context, id string) error
	// DeliveryFailed counts a failed apply of delivery id; after a number
	// of them it gives the delivery up (gaveUp) and stops replaying it.
	DeliveryFailed(ctx context.Context, id, reason string) (gaveUp bool, err error)
	// UnappliedDeliveries lists up to limit deliveries received before
	// receivedBefore and neither applied nor given up, oldest first, each
	// marked Superseded when a newer one of its Subject exists.
	UnappliedDeliveries(ctx context.Context, receivedBefore time.Time, limit int) ([]webhook.Delivery, error)
}

// IssueChanger applies the current state of a Linear issue to the links
// that point at it. *alert.Service implements it; applying the same state
// twice changes nothing.
type IssueChanger interface {
	IssueChanged(ctx context.Context, issue alert.Issue) error
}

// Revoker is told that a Linear workspace removed the app (an OAuthApp
// "revoked" delivery), so the bot can forget its token and show
// "reconnect". An OAuth app's webhook reports every workspace that
// installed the app, so the implementation must check orgID is the
// connected workspace before forgetting anything.
type Revoker interface {
	Revoked(ctx context.Context, orgID string) error
}

// recordTimeout bounds RecordDelivery. Linear waits 5 s for the 200
// (https://linear.app/developers/webhooks) and retries otherwise; an
// answer in time beats a slow database.
const recordTimeout = 3 * time.Second

// Status values of a 200 answer to Linear.
const (
	statusAccepted  = "accepted"  // queued; applied after the answer.
	statusDuplicate = "duplicate" // a repeat of a recorded delivery; nothing applied.
	statusIgnored   = "ignored"   // verified, but nothing the bot acts on.
)

// postLinear handles POST /webhooks/linear. It answers in the order the
// checks can fail: not configured (503), body too large (413), signature
// (401), stale or malformed (400), queue full (503), then records the
// delivery with its body and answers 200 at once. The issue change is
// applied by the background workers after the answer (Linear allows 5 s);
// should this process die first, the stored body is replayed by Recover.
//
// Nothing is recorded or applied for a request that fails a check, and a
// 503 leaves the delivery unrecorded, so Linear's retry is fresh.
func (s *server) postLinear(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	h := s.linear
	if h == nil {
		writeErrorCode(w, http.StatusServiceUnavailable, "not_configured", "Linear webhooks are not configured")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, webhook.MaxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, "body: larger than 1 MiB")
			return
		}
		writeError(w, http.StatusBadRequest, "body: could not be read")
		return
	}
	ev, err := h.verifier.Verify(r.Header, body)
	if err != nil {
		// Verify's messages name the header or field at fault, never the
		// secret, the expected MAC or the body.
		s.log.WarnContext(ctx, "linear delivery refused", "reason", err.Error(), "remote", r.RemoteAddr)
		switch {
		case errors.Is(err, webhook.ErrBadSignature):
			writeErrorCode(w, http.StatusUnauthorized, "bad_signature", err.Error())
		case errors.Is(err, webhook.ErrStale):
			writeErrorCode(w, http.StatusBadRequest, "stale", err.Error())
		case errors.Is(err, webhook.ErrMalformed):
			writeErrorCode(w, http.StatusBadRequest, "malformed", err.Error())
		default: // ErrNoSecret: a configuration error, not the sender's.
			writeErrorCode(w, http.StatusServiceUnavailable, "not_configured", "Linear webhooks are not configured")
		}
		return
	}
	if ev.Type == webhook.TypeIssue && h.org != nil && !s.sameOrganization(w, r, h.org, ev) {
		return
	}
	j, ok := h.jobFor(ev)
	if !ok {
		s.log.DebugContext(ctx, "linear delivery ignored", "delivery", ev.DeliveryID, "type", ev.Type, "action", ev.Action)
		writeJSON(w, http.StatusOK, map[string]string{"status": statusIgnored})
		return
	}
	// The request's cancellation is not passed on: once the delivery is
	// being recorded, finishing beats leaving it half done.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	fresh, err := h.accept(rctx, j)
	cancel()
	switch {
	case errors.Is(err, errQueueFull):
		s.log.WarnContext(ctx, "linear delivery refused: queue full", "delivery", ev.DeliveryID, "type", ev.Type)
		w.Header().Set("Retry-After", retryAfterSeconds)
		writeErrorCode(w, http.StatusServiceUnavailable, "queue_full", "too many deliveries in flight; retry later")
		return
	case errors.Is(err, errClosed):
		w.Header().Set("Retry-After", retryAfterSeconds)
		writeErrorCode(w, http.StatusServiceUnavailable, "shutting_down", "the server is shutting down; retry later")
		return
	case err != nil:
		s.log.ErrorContext(ctx, "record linear delivery", "delivery", ev.DeliveryID, "err", err)
		w.Header().Set("Retry-After", retryAfterSeconds)
		writeErrorCode(w, http.StatusServiceUnavailable, "unavailable", "the delivery could not be recorded; retry later")
		return
	case !fresh:
		s.log.InfoContext(ctx, "linear delivery repeated", "delivery", ev.DeliveryID, "type", ev.Type)
		writeJSON(w, http.StatusOK, map[string]string{"status": statusDuplicate})
		return
	}
	s.log.InfoContext(ctx, "linear delivery accepted", "delivery", ev.DeliveryID, "type", ev.Type,
		"action", ev.Action, "key", j.key(), "org", ev.OrganizationID)
	writeJSON(w, http.StatusOK, map[string]string{"status": statusAccepted})
}

// linearJob is one verified delivery waiting to be applied.
// OrganizationSource names the connected Linear organization (its id);
// an error wrapping alert.ErrNotConnected when none is connected.
type OrganizationSource interface {
	ConnectedOrganization(ctx context.Context) (string, error)
}

// sameOrganization checks an Issue delivery is about the connected
// organization, and answers it otherwise: 403 for another organization
// (Linear shows the failure in that workspace's webhook settings),
// 200 ignored when nothing is connected, 503 to be retried when the
// connected organization cannot be read now.
func (s *server) sameOrganization(w http.ResponseWriter, r *http.Request, src OrganizationSource, ev webhook.Event) bool {
	ctx := r.Context()
	org, err := src.ConnectedOrganization(ctx)
	switch {
	case errors.Is(err, alert.ErrNotConnected):
		s.log.InfoContext(ctx, "linear delivery ignored: nothing connected", "delivery", ev.DeliveryID, "org", ev.OrganizationID)
		writeJSON(w, http.StatusOK, map[string]string{"status": statusIgnored})
		return false
	case err != nil:
		s.log.WarnContext(ctx, "linear delivery: connected organization unknown", "delivery", ev.DeliveryID, "err", err)
		w.Header().Set("Retry-After", retryAfterSeconds)
		writeErrorCode(w, http.StatusServiceUnavailable, "unavailable", "the connected Linear workspace could not be read; retry later")
		return false
	}
	if err := ev.CheckOrganization(org); err != nil {
		s.log.WarnContext(ctx, "linear delivery refused: another organization", "delivery", ev.DeliveryID,
			"org", ev.OrganizationID, "connected_org", org)
		writeErrorCode(w, http.StatusForbidden, "other_organization", "this delivery is about another Linear workspace than the connected one")
		return false
	}
	return true
}

type linearJob struct {
	delivery string
	// body is the verified body, stored with the dedupe record so the
	// job can be rebuilt from it after a crash.
	body []byte
	// issue is set for Issue create/update deliveries.
	issue *alert.Issue
	// revokedOrg is set for OAuthApp revoked deliveries.
	revokedOrg string
}

// key orders jobs: those with one key are applied one after another, in
// the order they arrived, so an older state of an issue cannot overwrite
// a newer one that a parallel worker applied first. It is also the
// delivery's stored Subject, by which Recover skips a delivery that a
// newer one of the same issue or workspace superseded.
func (j linearJob) key() string {
	if j.issue != nil {
		return "issue:" + j.issue.ID
	}
	return "org:" + j.revokedOrg
}

// jobFor is the work a verified delivery calls for; ok is false for
// deliveries the bot does not act on: other entity types, Issue "remove"
// (the link keeps the issue's last known state), and revocations when no
// Revoker is set.
func (h *linearHook) jobFor(ev webhook.Event) (linearJob, bool) {
	switch {
	case ev.Type == webhook.TypeIssue && ev.Issue != nil &&
		(ev.Action == webhook.ActionCreate || ev.Action == webhook.ActionUpdate):
		is := issueOf(ev)
		return linearJob{delivery: ev.DeliveryID, body: ev.Raw, issue: &is}, true
	case ev.Revoked() && h.revoked != nil:
		return linearJob{delivery: ev.DeliveryID, body: ev.Raw, revokedOrg: ev.OrganizationID}, true
	}
	return linearJob{}, false
}

// closedTimes is the part of Linear's issue payload that says when it was
// closed. webhook.IssueData does not carry completedAt / canceledAt yet,
// so they are read here from the verified data.
type closedTimes struct {
	CompletedAt string `json:"completedAt"`
	CanceledAt  string `json:"canceledAt"`
}

// issueOf is the issue of an Issue delivery as the core knows it, with
// ClosedAt taken from completedAt or canceledAt to match the state type.
// An unreadable time leaves ClosedAt zero; the core then uses the time
// the change is applied.
func issueOf(ev webhook.Event) alert.Issue {
	is := ev.Issue.AlertIssue()
	if is.StateType != "completed" && is.StateType != "canceled" {
		return is
	}
	var ct closedTimes
	if err := json.Unmarshal(ev.Data, &ct); err != nil {
		return is
	}
	raw := ct.CompletedAt
	if is.StateType == "canceled" {
		raw = ct.CanceledAt
	}
	if t, err := time.Parse(time.RFC3339Nano, raw); err == nil {
		is.ClosedAt = t.UTC()
	}
	return is
}
