package alert

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// beginCreation records the create intent of req before Linear is called.
// When another intent for the error is pending, that one is settled first
// rather than answered with "already being created": if Linear has its
// issue (its answer was lost to a crash) the issue is recorded and
// announced, and this intent is told the error is tracked; if Linear has
// none and the other intent cannot be in flight any more, this one takes
// its place. Only an intent that may still be on its way to Linear makes
// this one wait (a *TemporaryError wrapping ErrConflict).
func (s *Service) beginCreation(ctx context.Context, log *slog.Logger, a Alert, req CreateRequest) (Creation, error) {
	c := Creation{ID: req.CreationID, ErrorID: a.ErrorID, AlertID: a.ID, SlackUser: req.SlackUser, Status: CreationPending}
	for range 4 {
		got, err := s.store.BeginCreation(ctx, c, 0)
		if err == nil {
			return got, nil
		}
		if !errors.Is(err, ErrConflict) {
			return Creation{}, fmt.Errorf("begin creation: %w", err)
		}
		other, err := s.store.PendingCreation(ctx, a.ErrorID)
		if errors.Is(err, ErrNotFound) {
			continue // settled meanwhile: try again.
		} else if err != nil {
			return Creation{}, fmt.Errorf("pending creation: %w", err)
		}
		link, err := s.settlePending(ctx, log, other)
		switch {
		case err == nil && link != nil:
			if !link.Closed() && !req.Force {
				return Creation{}, &AlreadyLinkedError{Link: *link}
			}
			continue // settled: a forced or regressed create goes ahead.
		case errors.Is(err, errMayBeInFlight):
			// Its request may still reach Linear. Its result is the answer.
			if link, ok := s.awaitLink(ctx, a.ErrorID); ok && !req.Force {
				return Creation{}, &AlreadyLinkedError{Link: link}
			}
			return Creation{}, Temporary(fmt.Errorf("another request for error %s is being created: %w", a.ErrorID, ErrConflict), 2*time.Second)
		case errors.Is(err, errPresumedDead):
			got, err := s.store.ReplaceCreation(ctx, other, c)
			if errors.Is(err, ErrConflict) {
				continue // it moved (its job woke up), or a third intent came.
			} else if err != nil {
				return Creation{}, fmt.Errorf("replace creation %s: %w", other.ID, err)
			}
			log.InfoContext(ctx, "replaced a dead creation that Linear never saw", "replaced", other.ID)
			return got, nil
		case err != nil:
			return Creation{}, err
		}
	}
	return Creation{}, Temporary(fmt.Errorf("creations of error %s keep changing: %w", a.ErrorID, ErrConflict), time.Second)
}

var (
	// errMayBeInFlight: a pending creation Linear does not have yet was
	// sent too recently to rule out that its request is still on its way.
	errMayBeInFlight = errors.New("pending creation may be in flight")
	// errPresumedDead: a pending creation Linear does not have, not sent
	// for creationStaleAfter: nothing of it can reach Linear any more.
	errPresumedDead = errors.New("pending creation presumed dead")
)

// settlePending reconciles a pending creation with Linear by its UUID (the
// issue id it asked for). If the issue exists, the creation is completed
// as its own run would have done (link recorded, thread note, alert
// messages refreshed) and the link returned. Otherwise it answers
// errMayBeInFlight or errPresumedDead.
func (s *Service) settlePending(ctx context.Context, log *slog.Logger, p Creation) (*IssueLink, error) {
	issue, err := s.tracker.Issue(ctx, p.ID)
	if errors.Is(err, ErrNotFound) {
		if s.now().Sub(p.UpdatedAt) < creationStaleAfter {
			return nil, errMayBeInFlight
		}
		return nil, errPresumedDead
	}
	if err != nil {
		return nil, fmt.Errorf("look up pending creation %s in linear: %w", p.ID, err)
	}
	link, err := s.completeCreation(ctx, p, issue, 0, ViaModal)
	if err != nil {
		return nil, err
	}
	log.InfoContext(ctx, "reconciled a creation whose answer was lost", "creation_id", p.ID, "issue", link.Identifier)
	return &link, nil
}

// completeCreation records issue as the result of creation c: the link
// (made by c's Slack user), the "Created" note in the thread of c's alert
// and a refresh of every message of the error, once however often it is
// called. It returns the error's link.
func (s *Service) completeCreation(ctx context.Context, c Creation, issue Issue, rule int, via Via) (IssueLink, error) {
	a, err := s.store.Alert(ctx, c.AlertID)
	if err != nil {
		return IssueLink{}, fmt.Errorf("alert %d of creation %s: %w", c.AlertID, c.ID, err)
	}
	link := s.newLink(a, issue, c.SlackUser, LinkCreated)
	jobs, err := s.linkJobs(ctx, a, createdNote(c, link, rule, via))
	if err != nil {
		return IssueLink{}, err
	}
	err = s.store.CompleteCreation(ctx, c.ID, link, jobs...)
	if err != nil && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrConflict) {
		return IssueLink{}, fmt.Errorf("record link %s: %w", issue.Identifier, err)
	}
	// Done (now or by a concurrent run, which queued the note), or gone:
	// the stored link is the answer either way.
	s.notify()
	cur, lerr := s.store.Link(ctx, a.ErrorID)
	if lerr != nil {
		if err != nil {
			return IssueLink{}, fmt.Errorf("record link %s: %w", issue.Identifier, err)
		}
		return IssueLink{}, fmt.Errorf("link of %s: %w", a.ErrorID, lerr)
	}
	return cur, nil
}

// ReconcileCreations settles creations whose run may have died with
// Linear's answer on its way (a crash, kill -9): each pending creation not
// touched for minAge is looked up in Linear by its UUID, and one Linear has
// is recorded and announced at once, rather than when its job's lease runs
// out and the job runs again. Those Linear does not have are left to their
// jobs. Completing a creation twice changes nothing, so a job still alive
// may race this safely. It returns how many it settled.
func (s *Service) ReconcileCreations(ctx context.Context, minAge time.Duration) (int, error) {
	if s.tracker == nil {
		return 0, nil
	}
	pending, err := s.store.PendingCreations(ctx, s.now().Add(-minAge), 50)
	if err != nil {
		return 0, fmt.Errorf("pending creations: %w", err)
	}
	n := 0
	for _, p := range pending {
		issue, err := s.tracker.Issue(ctx, p.ID)
		if errors.Is(err, ErrNotFound) {
			continue
		} else if err != nil {
			return n, fmt.Errorf("look up pending creation %s in linear: %w", p.ID, err)
		}
		link, err := s.completeCreation(ctx, p, issue, 0, ViaModal)
		if err != nil {
			return n, err
		}
		s.log.InfoContext(ctx, "reconciled a creation whose answer was lost", "creation_id", p.ID, "error_id", p.ErrorID, "issue", link.Identifier)
		n++
	}
	return n, nil
}
