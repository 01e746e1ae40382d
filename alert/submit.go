package alert

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Durable submissions. A create, link or reopen submission from Slack is
// stored as a job (Submit) before the adapter acks it, with everything
// needed to finish it; the work engine runs it (RunSubmission) on whichever
// replica claims it, also after a crash, and the Reporter tells the person
// how it stands. Every step is safe to repeat: a create reuses its creation
// UUID (Linear refuses a second issue with it and the first is read back),
// a link or reopen looks before it writes.

// Job kinds of submissions.
const (
	// JobCreateIssue finishes a create submission: the Linear issue, the
	// link, the thread note.
	JobCreateIssue JobKind = "create_issue"
	// JobLinkIssue finishes a Link existing submission.
	JobLinkIssue JobKind = "link_issue"
	// JobReopenIssue finishes a click on Reopen.
	JobReopenIssue JobKind = "reopen_issue"
)

// SubmissionKinds lists the job kinds RunSubmission handles, to register
// it on the Dispatcher for each.
var SubmissionKinds = []JobKind{JobCreateIssue, JobLinkIssue, JobReopenIssue, JobCreateRouted, JobAutoCreate}

// Submission is one stored request of a person, with where to tell them
// the outcome. Exactly one of Create, Link, Reopen and Routed is set, as
// Kind says (Routed for JobCreateRouted and JobAutoCreate).
type Submission struct {
	Kind   JobKind        `json:"kind"`
	Create *CreateRequest `json:"create,omitempty"`
	Link   *LinkRequest   `json:"link,omitempty"`
	Reopen *ReopenRequest `json:"reopen,omitempty"`
	Routed *RoutedRequest `json:"routed,omitempty"`
	Reply  Reply          `json:"reply"`
	// SubmittedAt is set by Submit; the job gives up on Linear past
	// SubmittedAt + Service.Patience.
	SubmittedAt time.Time `json:"submitted_at"`
}

// ReopenRequest is a click on "Reopen ENG-42" under an alert.
type ReopenRequest struct {
	AlertID   int64
	SlackUser string
}

// Reply says where the outcome of a submission goes. The core does not
// read it beyond handing it back to the Reporter.
type Reply struct {
	// User is who submitted; ViewID the modal to update with the outcome
	// (empty for a button click); Channel where to tell User ephemerally
	// when the modal is closed.
	User, ViewID, Channel string
	// Private is the adapter's own state (the modal's values, to show the
	// form again after a failure).
	Private string
}

// OutcomeState is where a submission stands.
type OutcomeState string

// Outcome states.
const (
	// OutcomeDone: created, linked or reopened; Outcome.Link is the issue.
	OutcomeDone OutcomeState = "done"
	// OutcomeTracked: a create found the error already tracked by
	// Outcome.Link (someone else's issue, or an earlier submission's).
	OutcomeTracked OutcomeState = "tracked"
	// OutcomeRetrying: Linear (or the store) failed for now; the job tries
	// again until Outcome.Until. Outcome.Err says what failed.
	OutcomeRetrying OutcomeState = "retrying"
	// OutcomeFailed: the submission ended without its result; Outcome.Err
	// says why and UserMessage what to do. Nothing was created.
	OutcomeFailed OutcomeState = "failed"
)

// Outcome is what the Reporter shows.
type Outcome struct {
	State OutcomeState
	Link  IssueLink
	Err   error
	// Until is when a retrying submission gives up.
	Until time.Time
	// GaveUp marks a failure after retrying until Until.
	GaveUp bool
	// Attempt counts the runs of the submission's job, 1 for the first.
	Attempt int
}

// Reporter tells the person behind a submission how it stands. bot.Bot
// implements it (views.update of the modal, else an ephemeral message). An
// error worth retrying comes back as *TemporaryError; a modal the person
// closed meanwhile is not an error.
type Reporter interface {
	Report(ctx context.Context, sub Submission, o Outcome) error
}

// DefaultPatience is how long a submission keeps retrying while Linear is
// unavailable: long enough for a Linear incident of a few minutes, short
// enough that the person still remembers what they asked for.
const DefaultPatience = 5 * time.Minute

// Submit validates a submission and stores it with its job in one small
// transaction, so that the adapter acks only what is durable. Bad input is
// refused (ErrInvalid) and stores nothing.
func (s *Service) Submit(ctx context.Context, sub Submission) error {
	j := Job{Kind: sub.Kind}
	switch {
	case sub.Kind == JobCreateIssue && sub.Create != nil:
		r := sub.Create
		if _, err := uuid.Parse(r.CreationID); err != nil {
			return fmt.Errorf("creation id %q: %w", r.CreationID, ErrInvalid)
		}
		if strings.TrimSpace(r.TeamID) == "" || strings.TrimSpace(r.Title) == "" {
			return fmt.Errorf("team and title are required: %w", ErrInvalid)
		}
		// A double submission of one modal folds into the queued job.
		j.AlertID, j.DedupeKey = r.AlertID, "create:"+r.CreationID
	case sub.Kind == JobLinkIssue && sub.Link != nil:
		if sub.Link.Ref.Lookup() == "" {
			return fmt.Errorf("link needs an issue: %w", ErrInvalid)
		}
		j.AlertID = sub.Link.AlertID
	case sub.Kind == JobReopenIssue && sub.Reopen != nil:
		// A double click folds into the queued job.
		j.AlertID, j.DedupeKey = sub.Reopen.AlertID, "reopen:"+itoa(sub.Reopen.AlertID)
	case sub.Kind == JobCreateRouted || sub.Kind == JobAutoCreate:
		sub.SubmittedAt = s.now().UTC()
		rj, err := routedJob(sub)
		if err != nil {
			return err
		}
		if err := s.store.Enqueue(ctx, rj); err != nil {
			return fmt.Errorf("store %s submission: %w", sub.Kind, err)
		}
		s.notify()
		return nil
	default:
		return fmt.Errorf("submission of kind %q without its request: %w", sub.Kind, ErrInvalid)
	}
	if j.AlertID <= 0 {
		return fmt.Errorf("submission needs an alert: %w", ErrInvalid)
	}
	sub.SubmittedAt = s.now().UTC()
	payload, err := json.Marshal(sub)
	if err != nil {
		return fmt.Errorf("encode submission: %w", err)
	}
	j.Payload = string(payload)
	if err := s.store.Enqueue(ctx, j); err != nil {
		return fmt.Errorf("store %s submission: %w", sub.Kind, err)
	}
	s.notify()
	return nil
}

// RunSubmission is the work engine's handler of the submission kinds. It
// finishes the submission, tells the person, and answers the engine: nil
// when it ended (well or with a failure the person was told of), a
// *TemporaryError to try again, Permanent once it gave up on Linear.
func (s *Service) RunSubmission(ctx context.Context, j Job) error {
	var sub Submission
	if err := json.Unmarshal([]byte(j.Payload), &sub); err != nil {
		return Permanent(fmt.Errorf("read %s submission: %w", j.Kind, err))
	}
	log := s.log.With("job_id", j.ID, "kind", j.Kind, "alert_id", j.AlertID, "user", sub.Reply.User, "attempt", j.Attempts+1)
	var (
		link IssueLink
		err  error
	)
	switch {
	case sub.Kind == JobCreateIssue && sub.Create != nil:
		log = log.With("creation_id", sub.Create.CreationID)
		link, err = s.CreateIssue(ctx, *sub.Create)
	case sub.Kind == JobLinkIssue && sub.Link != nil:
		link, err = s.LinkExisting(ctx, *sub.Link)
	case sub.Kind == JobReopenIssue && sub.Reopen != nil:
		link, err = s.Reopen(ctx, sub.Reopen.AlertID, sub.Reopen.SlackUser)
	case sub.Kind == JobAutoCreate && sub.Routed != nil:
		return s.runAuto(ctx, j, sub)
	case sub.Kind == JobCreateRouted && sub.Routed != nil:
		log = log.With("creation_id", sub.Routed.CreationID, "rule", sub.Routed.Route.N)
		link, err = s.runRouted(ctx, sub)
	default:
		return Permanent(fmt.Errorf("submission of kind %q without its request: %w", sub.Kind, ErrInvalid))
	}
	if ctx.Err() != nil && err != nil {
		return err // lease lost or shutting down: the next run reports.
	}

	o := Outcome{State: OutcomeDone, Link: link}
	var linked *AlreadyLinkedError
	until := sub.SubmittedAt.Add(s.patience())
	switch {
	case err == nil:
	case errors.As(err, &linked):
		o = Outcome{State: OutcomeTracked, Link: linked.Link}
	case !Retryable(err):
		o = Outcome{State: OutcomeFailed, Err: err}
	case s.now().Before(until) && j.Attempts+1 < s.maxAttempts():
		o = Outcome{State: OutcomeRetrying, Err: err, Until: until}
	default:
		o = Outcome{State: OutcomeFailed, Err: err, GaveUp: true}
	}
	switch o.State {
	case OutcomeDone, OutcomeTracked:
		log.InfoContext(ctx, "submission finished", "state", o.State, "issue", o.Link.Identifier)
	default:
		log.WarnContext(ctx, "submission did not finish", "state", o.State, "err", err)
	}
	o.Attempt = j.Attempts + 1
	if rerr := s.report(ctx, sub, o); rerr != nil {
		log.WarnContext(ctx, "tell the user", "err", rerr)
		var tmp *TemporaryError
		if o.State != OutcomeRetrying && errors.As(rerr, &tmp) {
			// The work is done (or failed for good) but Slack asked us to
			// wait: the next run repeats nothing but this report.
			return rerr
		}
	}
	switch {
	case o.State == OutcomeRetrying:
		return Temporary(err, s.retryDelay(j.Attempts, err, until))
	case o.GaveUp:
		return Permanent(fmt.Errorf("gave up after %s: %w", s.now().Sub(sub.SubmittedAt).Round(time.Second), err))
	}
	return nil
}

func (s *Service) report(ctx context.Context, sub Submission, o Outcome) error {
	if s.Reporter == nil {
		return nil
	}
	return s.Reporter.Report(ctx, sub, o)
}

// retryDelay is when a submission tries again: Linear's Retry-After when
// it gave one, else 1 s, 2 s, 4 s … capped at 30 s (a person is waiting,
// and a few lost seconds after Linear is back matter more than requests),
// and never past until, so the last try is at the time the person was told.
func (s *Service) retryDelay(attempts int, err error, until time.Time) time.Duration {
	base := s.RetryBase
	if base <= 0 {
		base = time.Second
	}
	d := min(base<<min(attempts, 10), 30*base)
	var tmp *TemporaryError
	if errors.As(err, &tmp) && tmp.After > d {
		d = tmp.After
	}
	if left := until.Sub(s.now()); left < d {
		d = max(left, base)
	}
	return d
}

func (s *Service) patience() time.Duration {
	if s.Patience > 0 {
		return s.Patience
	}
	return DefaultPatience
}

func (s *Service) messageWait() time.Duration {
	if s.MessageWait > 0 {
		return s.MessageWait
	}
	return time.Second
}

func (s *Service) maxAttempts() int {
	if s.MaxAttempts > 0 {
		return s.MaxAttempts
	}
	return 10
}

// Retryable reports whether err may go away by itself: Linear or Slack
// unavailable or rate limited, another request for the same error still
// in flight, the store failing. Refusals that need the person (invalid
// team or assignee, a revoked token, a missing permission, no such issue)
// are not.
func Retryable(err error) bool {
	var tmp *TemporaryError
	switch {
	case err == nil:
		return false
	case errors.As(err, &tmp):
		return true
	case errors.Is(err, ErrUnavailable), errors.Is(err, ErrRateLimited):
		return true
	case errors.Is(err, ErrInvalidInput), errors.Is(err, ErrUnauthorized), errors.Is(err, ErrForbidden),
		errors.Is(err, ErrNotConnected), errors.Is(err, ErrNotFound), errors.Is(err, ErrInvalid),
		errors.Is(err, ErrOtherWorkspace), errors.Is(err, ErrConflict):
		return false
	}
	// Anything else (the database, a bug) is ours: worth another try,
	// bounded by the patience and the engine's attempts.
	return true
}
