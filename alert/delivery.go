package alert

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Linear webhook deliveries on the work engine. The HTTP adapter verifies
// a delivery (signature, timestamp, organization) and hands it here as a
// LinearDelivery; AcceptDelivery stores it as a job, with its
// Linear-Delivery id as the dedupe record, in one transaction, before the
// adapter answers Linear's 200 (Linear never resends a delivery it got a
// 200 for). ApplyDelivery, the job's handler, applies it on whichever
// replica claims it, also after a crash, with the engine's one retry
// policy.

// JobLinearDelivery applies a Linear webhook delivery: an issue's new
// state shown on its alerts, or a workspace's revocation of the app.
const JobLinearDelivery JobKind = "linear_delivery"

// LinearDelivery is a verified Linear webhook delivery as the core applies
// it. Exactly one of Issue and RevokedOrg is set.
type LinearDelivery struct {
	// ID is the Linear-Delivery header: a repeat of an id already stored
	// is dropped.
	ID string
	// Issue is the issue's state after an Issue create or update.
	Issue *Issue
	// RevokedOrg is the Linear organization that removed the app
	// (OAuthApp revoked).
	RevokedOrg string
}

// DeliveryOutcome says what AcceptDelivery did with a delivery.
type DeliveryOutcome string

// Delivery outcomes.
const (
	// DeliveryAccepted: stored as a job; it is applied after the answer.
	DeliveryAccepted DeliveryOutcome = "accepted"
	// DeliveryDuplicate: a repeat of a stored delivery id; nothing changed.
	DeliveryDuplicate DeliveryOutcome = "duplicate"
	// DeliveryIgnored: nothing the bot acts on (a revocation without OAuth).
	DeliveryIgnored DeliveryOutcome = "ignored"
)

// DeliveryStore keeps Linear deliveries. store.DB implements it on both
// dialects.
type DeliveryStore interface {
	// RecordDelivery stores deliveryID as seen and queues j, in one
	// transaction; fresh is false, and nothing changes, when deliveryID was
	// recorded before (on any replica). A queued job with j's DedupeKey
	// takes j's payload instead of a second job being queued: every
	// delivery carries its subject's whole state, so the newer one wins.
	RecordDelivery(ctx context.Context, deliveryID string, j Job) (fresh bool, err error)
}

// Revoker forgets the token of a Linear workspace that removed the app,
// so the bot shows "reconnect". It must check orgID is the connected
// workspace: an OAuth app's webhook reports every workspace that installed
// it. oauth.Manager implements it.
type Revoker interface {
	Revoked(ctx context.Context, orgID string) error
}

// maxDeliveryID bounds a delivery id. Linear sends a UUID; it comes from a
// request header, so anything far longer is not Linear's (and must not grow
// the store's table of seen ids).
const maxDeliveryID = 200

// CheckDeliveryID refuses a delivery id that is empty or far longer than
// Linear's.
func CheckDeliveryID(id string) error {
	if strings.TrimSpace(id) == "" || len(id) > maxDeliveryID {
		return fmt.Errorf("delivery id of %d bytes (want 1 to %d): %w", len(id), maxDeliveryID, ErrInvalid)
	}
	return nil
}

// deliveryPayload is a delivery job's payload. Migration 0012 builds the
// same JSON from deliveries stored by older releases: keep the two in step.
type deliveryPayload struct {
	Delivery   string        `json:"delivery"`
	Issue      *issuePayload `json:"issue,omitempty"`
	RevokedOrg string        `json:"revoked_org,omitempty"`
}

type issuePayload struct {
	ID           string `json:"id"`
	Identifier   string `json:"identifier"`
	Title        string `json:"title"`
	URL          string `json:"url"`
	StateName    string `json:"state_name"`
	StateType    string `json:"state_type"`
	TeamID       string `json:"team_id"`
	TeamKey      string `json:"team_key"`
	AssigneeID   string `json:"assignee_id"`
	AssigneeName string `json:"assignee_name"`
	// ClosedAt is RFC 3339 as Linear sent it; empty or unreadable: the
	// time the change is applied (see IssueChanged).
	ClosedAt string `json:"closed_at,omitempty"`
}

// subject names what a delivery is about; its jobs share it as dedupe and
// serial key, so one issue's deliveries apply one at a time, in the order
// they arrived, and a newer one replaces an older one still queued.
func (d LinearDelivery) subject() string {
	if d.Issue != nil {
		return "linear:issue:" + d.Issue.ID
	}
	return "linear:org:" + d.RevokedOrg
}

// DeliveryJob is the job that applies d (AcceptDelivery stores it).
func DeliveryJob(d LinearDelivery) (Job, error) {
	p := deliveryPayload{Delivery: d.ID, RevokedOrg: d.RevokedOrg}
	if is := d.Issue; is != nil {
		p.Issue = &issuePayload{
			ID: is.ID, Identifier: is.Identifier, Title: is.Title, URL: is.URL,
			StateName: is.StateName, StateType: is.StateType, TeamID: is.TeamID, TeamKey: is.TeamKey,
			AssigneeID: is.AssigneeID, AssigneeName: is.AssigneeName,
		}
		if !is.ClosedAt.IsZero() {
			p.Issue.ClosedAt = is.ClosedAt.UTC().Format(time.RFC3339Nano)
		}
	}
	b, err := json.Marshal(p)
	if err != nil {
		return Job{}, fmt.Errorf("encode delivery %s: %w", d.ID, err)
	}
	return Job{Kind: JobLinearDelivery, Payload: string(b), DedupeKey: d.subject(), SerialKey: d.subject()}, nil
}

// JobDelivery reads a delivery job's payload back.
func JobDelivery(j Job) (LinearDelivery, error) {
	var p deliveryPayload
	if err := json.Unmarshal([]byte(j.Payload), &p); err != nil {
		return LinearDelivery{}, fmt.Errorf("read delivery job %d: %w", j.ID, err)
	}
	d := LinearDelivery{ID: p.Delivery, RevokedOrg: p.RevokedOrg}
	if ip := p.Issue; ip != nil {
		d.Issue = &Issue{
			ID: ip.ID, Identifier: ip.Identifier, Title: ip.Title, URL: ip.URL,
			StateName: ip.StateName, StateType: ip.StateType, TeamID: ip.TeamID, TeamKey: ip.TeamKey,
			AssigneeID: ip.AssigneeID, AssigneeName: ip.AssigneeName,
		}
		if t, err := time.Parse(time.RFC3339Nano, ip.ClosedAt); err == nil {
			d.Issue.ClosedAt = t.UTC()
		}
	}
	if err := d.check(); err != nil {
		return LinearDelivery{}, fmt.Errorf("delivery job %d: %w", j.ID, err)
	}
	return d, nil
}

// check refuses a delivery that is not exactly one of the two kinds.
func (d LinearDelivery) check() error {
	if err := CheckDeliveryID(d.ID); err != nil {
		return err
	}
	switch {
	case (d.Issue != nil) == (d.RevokedOrg != ""):
		return fmt.Errorf("delivery %s: want an issue or a revoked organization, exactly one: %w", d.ID, ErrInvalid)
	case d.Issue != nil && d.Issue.ID == "":
		return fmt.Errorf("delivery %s: issue without an id: %w", d.ID, ErrInvalid)
	}
	return nil
}

// AcceptDelivery stores a verified delivery as a job, deduped on its
// Linear-Delivery id across replicas, so that the adapter answers 200 only
// for what is durable. A revocation is ignored when no Revoker is set (no
// OAuth: there is no token to forget). Bad input is refused (ErrInvalid)
// and stores nothing.
func (s *Service) AcceptDelivery(ctx context.Context, d LinearDelivery) (DeliveryOutcome, error) {
	if err := d.check(); err != nil {
		return "", err
	}
	if d.RevokedOrg != "" && s.Revoker == nil {
		return DeliveryIgnored, nil
	}
	ds, ok := s.store.(DeliveryStore)
	if !ok {
		return "", errors.New("the store keeps no webhook deliveries")
	}
	j, err := DeliveryJob(d)
	if err != nil {
		return "", err
	}
	fresh, err := ds.RecordDelivery(ctx, d.ID, j)
	if err != nil {
		return "", fmt.Errorf("store delivery %s: %w", d.ID, err)
	}
	if !fresh {
		return DeliveryDuplicate, nil
	}
	s.notify()
	return DeliveryAccepted, nil
}

// ApplyDelivery is the work engine's handler of JobLinearDelivery. Applying
// is idempotent (IssueChanged changes nothing when the state is shown
// already; a repeated revocation finds nothing left to forget), so a run
// after a crash that follows an apply is harmless. Failures that may pass
// (the store, Linear) are retried with the engine's backoff; others bury
// the job with their reason.
func (s *Service) ApplyDelivery(ctx context.Context, j Job) error {
	d, err := JobDelivery(j)
	if err != nil {
		return Permanent(err)
	}
	log := s.log.With("job_id", j.ID, "delivery", d.ID, "attempt", j.Attempts+1)
	if d.Issue != nil {
		err = s.IssueChanged(ctx, *d.Issue)
		if err == nil {
			log.InfoContext(ctx, "linear delivery applied", "issue", d.Issue.Identifier, "state", d.Issue.StateName)
			return nil
		}
		err = fmt.Errorf("issue %s changed: %w", d.Issue.ID, err)
	} else {
		if s.Revoker == nil {
			log.WarnContext(ctx, "linear revocation not applied: OAuth is not configured", "org", d.RevokedOrg)
			return nil
		}
		err = s.Revoker.Revoked(ctx, d.RevokedOrg)
		if err == nil {
			log.InfoContext(ctx, "linear access revoked", "org", d.RevokedOrg)
			return nil
		}
		err = fmt.Errorf("workspace %s revoked: %w", d.RevokedOrg, err)
	}
	if !Retryable(err) {
		return Permanent(err)
	}
	return err
}
