package httpapi

import (
	"context"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/linear/webhook"
)

// DeliveryAccepter stores a verified Linear delivery durably, as a job of
// the work engine, deduped on its Linear-Delivery id across replicas.
// *alert.Service implements it; its job handler applies the delivery
// after the answer, on any replica, also after a crash.
type DeliveryAccepter interface {
	AcceptDelivery(ctx context.Context, d alert.LinearDelivery) (alert.DeliveryOutcome, error)
}

// recordTimeout bounds AcceptDelivery. Linear waits 5 s for the 200
// (https://linear.app/developers/webhooks) and retries otherwise; an
// answer in time beats a slow database.
const recordTimeout = 3 * time.Second

// Status values of a 200 answer to Linear.
const (
	statusAccepted  = "accepted"  // stored as a job; applied after the answer.
	statusDuplicate = "duplicate" // a repeat of a recorded delivery; nothing applied.
	statusIgnored   = "ignored"   // verified, but nothing the bot acts on.
)

// postLinear handles POST /webhooks/linear. It answers in the order the
// checks can fail: not configured (503), body too large (413), signature
// (401), stale or malformed (400), another organization (403), then
// stores the delivery as a job (with its dedupe record, in one
// transaction) and answers 200. The work engine applies it after the
// answer (Linear allows 5 s), on whichever replica claims it.
//
// Nothing is stored for a request that fails a check, and a 503 leaves
// the delivery unrecorded, so Linear's retry is fresh.
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
	d, ok := deliveryOf(ev)
	if !ok {
		s.log.DebugContext(ctx, "linear delivery ignored", "delivery", ev.DeliveryID, "type", ev.Type, "action", ev.Action)
		writeJSON(w, http.StatusOK, map[string]string{"status": statusIgnored})
		return
	}
	// The request's cancellation is not passed on: once the delivery is
	// being stored, finishing beats leaving it half done.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	outcome, err := h.deliveries.AcceptDelivery(rctx, d)
	cancel()
	switch {
	case errors.Is(err, alert.ErrInvalid):
		s.log.WarnContext(ctx, "linear delivery refused", "delivery", ev.DeliveryID, "err", err)
		writeErrorCode(w, http.StatusBadRequest, "malformed", err.Error())
		return
	case err != nil:
		s.log.ErrorContext(ctx, "store linear delivery", "delivery", ev.DeliveryID, "err", err)
		w.Header().Set("Retry-After", retryAfterSeconds)
		writeErrorCode(w, http.StatusServiceUnavailable, "unavailable", "the delivery could not be stored; retry later")
		return
	case outcome == alert.DeliveryDuplicate:
		s.log.InfoContext(ctx, "linear delivery repeated", "delivery", ev.DeliveryID, "type", ev.Type)
		writeJSON(w, http.StatusOK, map[string]string{"status": statusDuplicate})
		return
	case outcome == alert.DeliveryIgnored:
		s.log.InfoContext(ctx, "linear delivery ignored", "delivery", ev.DeliveryID, "type", ev.Type, "action", ev.Action)
		writeJSON(w, http.StatusOK, map[string]string{"status": statusIgnored})
		return
	}
	s.log.InfoContext(ctx, "linear delivery accepted", "delivery", ev.DeliveryID, "type", ev.Type,
		"action", ev.Action, "org", ev.OrganizationID)
	writeJSON(w, http.StatusOK, map[string]string{"status": statusAccepted})
}

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

// deliveryOf is what the core is to do with a verified delivery; ok is
// false for deliveries the bot does not act on: other entity types and
// Issue "remove" (the link keeps the issue's last known state).
func deliveryOf(ev webhook.Event) (alert.LinearDelivery, bool) {
	switch {
	case ev.Type == webhook.TypeIssue && ev.Issue != nil &&
		(ev.Action == webhook.ActionCreate || ev.Action == webhook.ActionUpdate):
		is := ev.Issue.AlertIssue()
		return alert.LinearDelivery{ID: ev.DeliveryID, Issue: &is}, true
	case ev.Revoked() && ev.OrganizationID != "":
		return alert.LinearDelivery{ID: ev.DeliveryID, RevokedOrg: ev.OrganizationID}, true
	}
	return alert.LinearDelivery{}, false
}

// linearHook is the Linear webhook's configuration: the verifier, where
// deliveries are stored, and whose organization they must be about.
type linearHook struct {
	verifier   webhook.Verifier
	deliveries DeliveryAccepter
	org        OrganizationSource
}
