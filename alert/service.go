package alert

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Service holds the use cases. Build it with NewService; the zero value is
// not usable.
type Service struct {
	store   Store
	tracker Tracker
	log     *slog.Logger
	now     func() time.Time
	newID   func() string
	rules   RuleStore // nil when store keeps no rules.
	// rulesCache holds the rules for arriving alerts (see arrivalRules).
	rulesCache rulesCache
	// Notify, when set, is called after jobs are queued (Dispatcher.Wake),
	// so Slack hears of a change at once rather than at the next poll.
	Notify func()
	// PermalinkBase, when set, turns a channel and ts into the Slack thread
	// back-link stored in the Linear attachment (e.g. "https://acme.slack.com/archives/").
	PermalinkBase string
	// Reporter, when set, tells people how their submissions stand (see
	// RunSubmission).
	Reporter Reporter
	// Revoker, when set, forgets a workspace's token when Linear reports
	// the app removed (see ApplyDelivery); nil without OAuth.
	Revoker Revoker
	// Patience is how long a submission retries while Linear is
	// unavailable (DefaultPatience when 0); MaxAttempts is the work
	// engine's bound (Dispatcher.MaxAttempts; 10 when 0), so the last
	// attempt tells the person it gave up.
	Patience    time.Duration
	MaxAttempts int
	// RetryBase is the first delay between a submission's tries (1 s when
	// 0); tests make it short.
	RetryBase time.Duration
	// LinkWait bounds how long a create waits for another person's create
	// of the same error, still in flight, to record its issue (5 s when
	// 0); tests make it short.
	LinkWait time.Duration
	// MessageWait is how long an auto rule's filing is put off while the
	// alert's message is not posted yet, so the issue can link to its
	// thread (1 s when 0); tests make it short.
	MessageWait time.Duration
}

// NewService builds a Service. tracker may be nil: Linear is not connected
// and every Linear use case answers ErrNotConnected.
func NewService(store Store, tracker Tracker, log *slog.Logger) *Service {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{
		store:   store,
		tracker: tracker,
		log:     log,
		now:     time.Now,
		newID:   func() string { return uuid.NewString() },
		// store.DB keeps the routing rules too; a test's own Store may not.
		rules: asRuleStore(store),
	}
}

func asRuleStore(s Store) RuleStore {
	rs, _ := s.(RuleStore)
	return rs
}

// creationStaleAfter is how long after its last request to Linear a
// pending creation that Linear does not have may still be in flight. Past
// it (and only once Linear confirms it has no issue with its id) a newer
// intent for the error may replace it; before it, the newer one waits. It
// outlasts the Linear client's timeout many times over.
const creationStaleAfter = 2 * time.Minute

// Accept stores an alert (folding a repeat into the existing one) and
// queues its Slack message. Once Accept returns nil the alert is durable.
//
// The routing rules apply as the alert arrives: an auto rule's filing is
// queued with it (see autoJobs).
func (s *Service) Accept(ctx context.Context, a Alert) (Alert, error) {
	return s.accept(ctx, a, s.routeOf(ctx, a))
}

// AcceptRouted is Accept for an alert that may name no channel (a.Channel
// empty): it goes to the channel of the routing rule it matches, else to
// defaultChannel. With neither, it is refused (ErrInvalid) and nothing is
// stored.
func (s *Service) AcceptRouted(ctx context.Context, a Alert, defaultChannel string) (Alert, error) {
	route := s.routeOf(ctx, a)
	if strings.TrimSpace(a.Channel) == "" {
		a.Channel = defaultChannel
		if route.N > 0 && route.Rule.Channel != "" {
			a.Channel = route.Rule.Channel
		}
	}
	if strings.TrimSpace(a.Channel) == "" {
		return Alert{}, fmt.Errorf("channel: required: the alert names none, no routing rule gives one, and no default alert channel (SLACK_ALERT_CHANNEL) is configured: %w", ErrInvalid)
	}
	return s.accept(ctx, a, route)
}

func (s *Service) accept(ctx context.Context, a Alert, route Route) (Alert, error) {
	now := s.now().UTC()
	if a.LastSeen.IsZero() {
		a.LastSeen = now
	}
	if a.FirstSeen.IsZero() {
		a.FirstSeen = a.LastSeen
	}
	auto := s.autoJobs(ctx, a, route)
	acc, err := s.store.AcceptAlert(ctx, a, auto)
	if err != nil {
		return Alert{}, fmt.Errorf("accept alert %s: %w", a.ErrorID, err)
	}
	stored := acc.Alert
	// No Linear call here: whether Linear already has an issue for a new
	// error is asked when someone opens the create modal, so a burst of
	// alerts never becomes a burst of Linear requests.
	if err := s.noteRegression(ctx, stored, acc.Link); err != nil {
		// The alert is stored and its message will show the regression;
		// only the thread note is missing.
		s.log.WarnContext(ctx, "regression note", "alert_id", stored.ID, "err", err)
	}
	if stored.MessageTS == "" || auto != nil {
		// Its render job (or an auto filing) is due now. A repeat of a
		// posted alert is due a gap later, found by the dispatcher's poll:
		// waking it for every repeat of a storm only costs claims.
		s.notify()
	}
	// Debug: the webhook's request line says the same at Info (one line
	// per alert, not two), and the metrics count accepts and folds.
	s.log.DebugContext(ctx, "alert accepted", "alert_id", stored.ID, "error_id", stored.ErrorID,
		"channel", stored.Channel, "occurrences", stored.Occurrences)
	return stored, nil
}

// Alert returns one stored alert.
func (s *Service) Alert(ctx context.Context, id int64) (Alert, error) {
	return s.store.Alert(ctx, id)
}

// Link returns the issue link of an error, ErrNotFound if it has none.
func (s *Service) Link(ctx context.Context, errorID string) (IssueLink, error) {
	return s.store.Link(ctx, errorID)
}

// Teams lists Linear teams.
func (s *Service) Teams(ctx context.Context) ([]Team, error) {
	if s.tracker == nil {
		return nil, ErrNotConnected
	}
	return s.tracker.Teams(ctx)
}

// TeamMembers lists the members of a Linear team.
func (s *Service) TeamMembers(ctx context.Context, teamID string) ([]User, error) {
	if s.tracker == nil {
		return nil, ErrNotConnected
	}
	return s.tracker.TeamMembers(ctx, teamID)
}

// Workspace describes the connected Linear workspace.
func (s *Service) Workspace(ctx context.Context) (Workspace, error) {
	if s.tracker == nil {
		return Workspace{}, ErrNotConnected
	}
	return s.tracker.Workspace(ctx)
}

// SearchIssues finds Linear issues by text, for the Link existing modal.
func (s *Service) SearchIssues(ctx context.Context, query string, limit int) ([]Issue, error) {
	if s.tracker == nil {
		return nil, ErrNotConnected
	}
	return s.tracker.SearchIssues(ctx, query, limit)
}

// NewCreationID returns a fresh UUID v4 for one create intent. The Slack
// adapter puts it in the modal's private_metadata when the modal opens, so
// a double submission of that modal carries the same ID.
func (s *Service) NewCreationID() string { return s.newID() }

// CreateRequest is a user's create-issue intent.
type CreateRequest struct {
	CreationID  string // from NewCreationID; required.
	AlertID     int64
	TeamID      string
	AssigneeID  string
	Title       string
	Description string
	Priority    Priority
	// LabelIDs (the team's or the workspace's labels) and ProjectID (a
	// project of the team) are optional; Linear refuses others.
	LabelIDs  []string `json:",omitempty"`
	ProjectID string   `json:",omitempty"`
	SlackUser string   // who asked; "api" for the REST API.
	// ActorName and ActorIconURL are the asking user's name and avatar,
	// shown in Linear as the issue's creator when the app acts as itself.
	ActorName    string
	ActorIconURL string
	// Force creates an issue even though the error is already tracked by
	// an open one: the user chose "create another anyway". The new issue
	// becomes the error's link.
	Force bool
	// Via and Rule say how the issue was asked for, for its thread note:
	// the modal (zero), the "Create in TEAM" button or an auto rule, and
	// the routing rule's number (see runRouted).
	Via  Via `json:",omitempty"`
	Rule int `json:",omitempty"`
}

// CreateIssue creates the Linear issue for an alert's error exactly once,
// records the link and queues the thread reply and the alert message
// update. A repeat of the same CreationID returns the same link. A create
// for an error that already has a link returns *AlreadyLinkedError.
func (s *Service) CreateIssue(ctx context.Context, req CreateRequest) (IssueLink, error) {
	if s.tracker == nil {
		return IssueLink{}, ErrNotConnected
	}
	if _, err := uuid.Parse(req.CreationID); err != nil {
		return IssueLink{}, fmt.Errorf("creation id %q: %w", req.CreationID, ErrInvalid)
	}
	if strings.TrimSpace(req.TeamID) == "" {
		return IssueLink{}, fmt.Errorf("team is required: %w", ErrInvalid)
	}
	if strings.TrimSpace(req.Title) == "" {
		return IssueLink{}, fmt.Errorf("title is required: %w", ErrInvalid)
	}
	a, err := s.store.Alert(ctx, req.AlertID)
	if err != nil {
		return IssueLink{}, fmt.Errorf("alert %d: %w", req.AlertID, err)
	}
	log := s.log.With("alert_id", a.ID, "error_id", a.ErrorID, "creation_id", req.CreationID, "team_id", req.TeamID)

	c, err := s.beginCreation(ctx, log, a, req)
	if err != nil {
		return IssueLink{}, err
	}
	if link, err := s.store.Link(ctx, a.ErrorID); err == nil {
		// Already tracked. A retry of the intent that made the link is
		// answered with that link; a new intent is refused unless the
		// linked issue is closed, in which case the error regressed and the
		// new issue replaces the old link. A link to this intent's own
		// issue (its response was lost, and a lookup found the issue in
		// Linear meanwhile) is ours: the create below reads it back and
		// records it as created.
		if c.Status == CreationDone && c.IssueID == link.IssueID {
			return link, nil
		}
		if link.IssueID != c.ID && !link.Closed() && !req.Force {
			_ = s.store.AbandonCreation(ctx, c.ID)
			return IssueLink{}, &AlreadyLinkedError{Link: link}
		}
	} else if !errors.Is(err, ErrNotFound) {
		return IssueLink{}, fmt.Errorf("look up link: %w", err)
	}

	// Someone may have attached this error to an issue from elsewhere (in
	// Linear, or another tool): link that rather than make a duplicate.
	// The modal asked Linear when it opened (CheckBeforeCreate); a recent
	// "none" stands, confirmed by the store's link read above.
	if !req.Force && !s.checkedRecently(ctx, a) {
		if link, err := s.checkLinear(ctx, a, c.ID); err != nil {
			s.releaseCreation(ctx, log, c.ID, err)
			return IssueLink{}, err
		} else if link != nil {
			_ = s.store.AbandonCreation(ctx, c.ID)
			return IssueLink{}, &AlreadyLinkedError{Link: *link}
		}
	}

	// Stamp the intent as in flight: no newer intent may replace it while
	// this request can still reach Linear (see settlePending).
	if c, err = s.store.TouchCreation(ctx, c.ID); errors.Is(err, ErrNotFound) {
		// A newer intent replaced this one (it looked dead); that one's
		// issue is the answer, so nothing is sent.
		if link, lerr := s.store.Link(ctx, a.ErrorID); lerr == nil {
			return IssueLink{}, &AlreadyLinkedError{Link: link}
		}
		return IssueLink{}, Temporary(fmt.Errorf("creation %s was replaced by a newer request: %w", req.CreationID, ErrConflict), 2*time.Second)
	} else if err != nil {
		return IssueLink{}, fmt.Errorf("stamp creation: %w", err)
	} else if c.Status == CreationDone {
		if link, err := s.store.Link(ctx, a.ErrorID); err == nil {
			return link, nil // finished meanwhile by another run of this intent.
		}
	}

	desc := req.Description
	if desc == "" {
		desc = description(a, -1, s.threadURL(a))
	}
	issue, err := s.tracker.CreateIssue(ctx, IssueRequest{
		ID:             c.ID,
		TeamID:         req.TeamID,
		AssigneeID:     req.AssigneeID,
		Title:          req.Title,
		Description:    desc,
		Priority:       req.Priority,
		LabelIDs:       req.LabelIDs,
		ProjectID:      req.ProjectID,
		CreateAsUser:   req.ActorName,
		DisplayIconURL: req.ActorIconURL,
		Attachment:     s.attachment(a),
	})
	if err != nil {
		s.releaseCreation(ctx, log, c.ID, err)
		log.WarnContext(ctx, "linear issue create failed", "err", err)
		return IssueLink{}, fmt.Errorf("create linear issue: %w", err)
	}

	link, err := s.completeCreation(ctx, c, issue, req.Rule, req.Via)
	if err != nil {
		return IssueLink{}, err
	}
	log.InfoContext(ctx, "linear issue created", "issue", issue.Identifier, "issue_id", issue.ID)
	return link, nil
}

func (s *Service) notify() {
	if s.Notify != nil {
		s.Notify()
	}
}

// releaseCreation frees the error for another try when Linear refused for
// good (bad team, no permission, bad token): nothing was created. After a
// temporary failure the creation stays pending, so a retry of the same
// intent reuses its id and Linear's duplicate check keeps it to one issue.
func (s *Service) releaseCreation(ctx context.Context, log *slog.Logger, id string, err error) {
	var tmp *TemporaryError
	if errors.As(err, &tmp) || errors.Is(err, ErrUnavailable) || errors.Is(err, ErrRateLimited) {
		return
	}
	if aerr := s.store.AbandonCreation(ctx, id); aerr != nil {
		log.ErrorContext(ctx, "abandon creation", "err", aerr)
	}
}

// awaitLink waits a little for another creation of errorID to finish,
// so a concurrent second intent can be answered with the first one's issue
// rather than an "in progress" message. It gives up after linkWait.
func (s *Service) awaitLink(ctx context.Context, errorID string) (IssueLink, bool) {
	wait := s.LinkWait
	if wait <= 0 {
		wait = linkWait
	}
	deadline := s.now().Add(wait)
	for {
		link, err := s.store.Link(ctx, errorID)
		if err == nil && !link.Closed() {
			return link, true
		}
		if s.now().After(deadline) {
			return IssueLink{}, false
		}
		select {
		case <-ctx.Done():
			return IssueLink{}, false
		case <-time.After(min(200*time.Millisecond, wait/5)):
		}
	}
}

// linkWait bounds awaitLink: a Linear create takes well under this.
const linkWait = 5 * time.Second

// linkJobs is the Slack work after an error gains or changes its link: a
// note in the thread of the alert acted on (none when note has no Kind),
// and a refresh of every message that shows the error.
func (s *Service) linkJobs(ctx context.Context, acted Alert, note Note) ([]Job, error) {
	alerts, err := s.store.AlertsByError(ctx, acted.ErrorID)
	if err != nil {
		return nil, fmt.Errorf("alerts of error %s: %w", acted.ErrorID, err)
	}
	jobs := make([]Job, 0, len(alerts)+1)
	if note.Kind != "" {
		jobs = append(jobs, NoteJob(acted.ID, note))
	}
	for _, a := range alerts {
		jobs = append(jobs, RenderJob(a.ID))
	}
	return jobs, nil
}

func (s *Service) attachmentMetadata(a Alert) map[string]any {
	md := map[string]any{
		"source":         "proliferate",
		"errorId":        a.ErrorID,
		"environment":    a.Environment,
		"release":        a.Release,
		"eventCount":     a.EventCount,
		"usersAffected":  a.UsersAffected,
		"slackChannel":   a.Channel,
		"slackMessageTs": a.MessageTS,
	}
	if u := s.threadURL(a); u != "" {
		md["slackThreadUrl"] = u
	}
	return md
}

// threadURL is the permalink of the alert's Slack message (its thread),
// "" when unknown.
func (s *Service) threadURL(a Alert) string {
	if s.PermalinkBase == "" || a.Thread() == "" {
		return ""
	}
	return s.PermalinkBase + a.Channel + "/p" + strings.ReplaceAll(a.Thread(), ".", "")
}

func attachmentSubtitle(a Alert) string {
	if a.FromSlackMessage() {
		return "Slack message"
	}
	var parts []string
	if a.Environment != "" {
		parts = append(parts, a.Environment)
	}
	parts = append(parts, fmt.Sprintf("%d events", a.EventCount), fmt.Sprintf("%d users", a.UsersAffected))
	return strings.Join(parts, " · ")
}
