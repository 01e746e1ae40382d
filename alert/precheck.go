package alert

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// The duplicate check of a create (is the error already attached to an
// issue in Linear, by someone else?) is made when the create modal opens,
// off the submit path: its "none" is stored (LinearChecks), and a submit
// soon after only confirms it against the store, so a create costs one
// Linear request, the create itself. A create whose answer was lost is
// still read back by its UUID (see CreateIssue), which the check never
// covered anyway: it skips the bot's own creations.

// LinearChecks keeps, per error, when Linear last said no issue of
// someone else's carries it. store.DB implements it; a Store without it
// makes every create ask Linear first.
type LinearChecks interface {
	MarkLinearChecked(ctx context.Context, errorID string, at time.Time) error
	LinearCheckedAt(ctx context.Context, errorID string) (time.Time, error)
}

// DuplicateCheckTTL is how long a "none" from Linear spares a create the
// check: long enough to fill a modal, short enough that an attachment made
// in Linear meanwhile is rarely missed (and a miss costs a second issue,
// which Link existing can undo, never a lost one).
const DuplicateCheckTTL = 10 * time.Minute

// CheckBeforeCreate is the duplicate check a create modal makes when it
// opens: the error's link in the store, else issues in Linear carrying the
// error (recorded as linked, as the create path would). It returns the
// link that makes a create a duplicate (nil when there is none: the create
// may go ahead) and records Linear's "none" so the submit need not ask
// again. A check made within DuplicateCheckTTL is reused.
func (s *Service) CheckBeforeCreate(ctx context.Context, alertID int64) (*IssueLink, error) {
	if s.tracker == nil {
		return nil, ErrNotConnected
	}
	a, err := s.store.Alert(ctx, alertID)
	if err != nil {
		return nil, fmt.Errorf("alert %d: %w", alertID, err)
	}
	if link, err := s.store.Link(ctx, a.ErrorID); err == nil && !link.Closed() {
		return &link, nil
	} else if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("link of %s: %w", a.ErrorID, err)
	}
	if s.checkedRecently(ctx, a) {
		return nil, nil
	}
	return s.checkLinear(ctx, a, "")
}

// checkLinear asks Linear for issues carrying a's error (ownID, the
// caller's own creation, excluded), records one it finds as the error's
// link, and otherwise the time of the check. The time is taken before the
// request: an attachment made while it ran may be missed by it.
func (s *Service) checkLinear(ctx context.Context, a Alert, ownID string) (*IssueLink, error) {
	asked := s.now()
	link, found, err := s.findExisting(ctx, a, ownID)
	switch {
	case err != nil:
		return nil, err
	case found && !link.Closed():
		return &link, nil
	}
	if lc, ok := s.store.(LinearChecks); ok && a.URL != "" {
		if err := lc.MarkLinearChecked(ctx, a.ErrorID, asked); err != nil {
			s.log.WarnContext(ctx, "record the linear duplicate check", "error_id", a.ErrorID, "err", err)
		}
	}
	return nil, nil
}

// checkedRecently says Linear found no issue carrying a's error within
// DuplicateCheckTTL. Any doubt (no such store, a read error) says no.
func (s *Service) checkedRecently(ctx context.Context, a Alert) bool {
	lc, ok := s.store.(LinearChecks)
	if !ok {
		return false
	}
	at, err := lc.LinearCheckedAt(ctx, a.ErrorID)
	if err != nil {
		s.log.WarnContext(ctx, "read the linear duplicate check", "error_id", a.ErrorID, "err", err)
		return false
	}
	return !at.IsZero() && s.now().Sub(at) < DuplicateCheckTTL
}
