package alert

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Filing by route: an alert's issue created with the defaults its route
// gives (the matching rule's team, assignee, priority, labels and project,
// else the default team) without a modal. A person asks for it with the
// alert's "Create in ENG" button (JobCreateRouted); a rule with auto asks
// for it as the alert arrives (JobAutoCreate). Both are durable
// submissions like the modal's create, finished by any replica, and both
// use one creation id per error and link generation (RoutedCreationID), so
// a double click, the click delivered to two replicas, a storm of alerts
// and an auto rule racing a click all make one issue.

// Job kinds of filing by route.
const (
	// JobCreateRouted finishes a click on "Create in ENG".
	JobCreateRouted JobKind = "create_routed"
	// JobAutoCreate files the issue of an alert an auto rule matched.
	JobAutoCreate JobKind = "auto_create"
)

// RoutedRequest is a create by route: what the route was when it was asked
// for (names, resolved in Linear when the job runs) and who asked.
type RoutedRequest struct {
	AlertID int64  `json:"alert_id"`
	ErrorID string `json:"error_id"`
	// CreationID is RoutedCreationID of the error as it was tracked then.
	CreationID string `json:"creation_id"`
	Route      Route  `json:"route"`
	// SlackUser clicked the button; empty for an auto rule.
	SlackUser    string `json:"slack_user,omitempty"`
	ActorName    string `json:"actor_name,omitempty"`
	ActorIconURL string `json:"actor_icon_url,omitempty"`
}

// routedNamespace seeds RoutedCreationID.
var routedNamespace = uuid.MustParse("5d0a4f4e-7a51-4c8e-9c3b-0c6f5b7e2a11")

// RoutedCreationID is the creation id of every create by route of an
// error while it is tracked as link shows (nil: not tracked; a closed
// link: the error regressed and a new issue replaces it). It is derived,
// not random, so every click and every auto job for the same state of the
// error is one intent: Linear refuses a second issue with the id. It has
// the form of a UUID v4 (version and variant bits set, SHA-256 bits
// elsewhere), as IssueCreateInput.id asks.
func RoutedCreationID(errorID string, link *IssueLink) string {
	gen := ""
	if link != nil {
		gen = link.IssueID
	}
	return uuid.NewHash(sha256.New(), routedNamespace, []byte(errorID+"\x00"+gen), 4).String()
}

// autoCreator is the Creation.SlackUser (and so the link's CreatedBy) of an
// issue an auto rule filed: "rule:2".
const autoCreatorPrefix = "rule:"

func autoCreator(n int) string { return autoCreatorPrefix + strconv.Itoa(n) }

// autoRule is the rule number of an auto creator, ok false for a person.
func autoRule(by string) (int, bool) {
	s, ok := strings.CutPrefix(by, autoCreatorPrefix)
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}

// autoKey is the dedupe key of an error's auto job: a storm folds into the
// queued one, and a buried one (the filing failed, the thread was told)
// keeps later alerts of the error from trying again.
func autoKey(errorID string) string { return "auto:" + errorID }

// routedJob is the job of a create-by-route submission.
func routedJob(sub Submission) (Job, error) {
	r := sub.Routed
	if r == nil || (sub.Kind != JobCreateRouted && sub.Kind != JobAutoCreate) {
		return Job{}, fmt.Errorf("submission of kind %q without its request: %w", sub.Kind, ErrInvalid)
	}
	if _, err := uuid.Parse(r.CreationID); err != nil {
		return Job{}, fmt.Errorf("creation id %q: %w", r.CreationID, ErrInvalid)
	}
	if strings.TrimSpace(r.Route.TeamKey) == "" || r.AlertID <= 0 || r.ErrorID == "" {
		return Job{}, fmt.Errorf("a create by route needs an alert and a team: %w", ErrInvalid)
	}
	payload, err := json.Marshal(sub)
	if err != nil {
		return Job{}, fmt.Errorf("encode submission: %w", err)
	}
	j := Job{
		Kind: sub.Kind, AlertID: r.AlertID, Payload: string(payload),
		// One intent runs at a time on any replica, so a second click or
		// auto job finds the first one's creation done.
		SerialKey: "create:" + r.CreationID,
		DedupeKey: "routed:" + r.CreationID,
	}
	if sub.Kind == JobAutoCreate {
		j.DedupeKey = autoKey(r.ErrorID)
	}
	return j, nil
}

// SubmitRouted stores a click on "Create in TEAM" for alert alertID as a
// durable submission and returns the route it will file by. defaultTeam
// is the team key an alert no rule gives a team goes to. An error already
// tracked by an open issue is refused with *AlreadyLinkedError, one with
// no team to go to with ErrInvalid (in words); nothing is stored then.
func (s *Service) SubmitRouted(ctx context.Context, alertID int64, defaultTeam string, req RoutedRequest, reply Reply) (Route, error) {
	a, err := s.store.Alert(ctx, alertID)
	if err != nil {
		return Route{}, fmt.Errorf("alert %d: %w", alertID, err)
	}
	var link *IssueLink
	if l, err := s.store.Link(ctx, a.ErrorID); err == nil {
		if !l.Closed() {
			return Route{}, &AlreadyLinkedError{Link: l}
		}
		link = &l
	} else if !errors.Is(err, ErrNotFound) {
		return Route{}, fmt.Errorf("link of %s: %w", a.ErrorID, err)
	}
	set, err := s.Rules(ctx)
	if err != nil {
		return Route{}, fmt.Errorf("routing rules: %w", err)
	}
	route := Match(set.Rules, a, defaultTeam)
	if route.TeamKey == "" {
		return Route{}, fmt.Errorf("no routing rule and no default team gives this alert a Linear team: use Create Linear Issue: %w", ErrInvalid)
	}
	req.AlertID, req.ErrorID, req.Route = a.ID, a.ErrorID, route
	req.CreationID = RoutedCreationID(a.ErrorID, link)
	sub := Submission{Kind: JobCreateRouted, Routed: &req, Reply: reply, SubmittedAt: s.now().UTC()}
	j, err := routedJob(sub)
	if err != nil {
		return Route{}, err
	}
	if err := s.store.Enqueue(ctx, j); err != nil {
		return Route{}, fmt.Errorf("store create by route: %w", err)
	}
	s.notify()
	return route, nil
}

// autoJobs returns the jobs to queue with an arriving alert of route: its
// auto job when the route's rule says auto and the error has never been
// tracked nor failed to file before; nil otherwise. It reads the store only:
// Linear is called by the job.
func (s *Service) autoJobs(ctx context.Context, a Alert, route Route) func(stored Alert) []Job {
	if route.N == 0 || !route.Rule.Auto || route.TeamKey == "" {
		return nil
	}
	// Once per error: an error that has an issue (open or closed; a
	// regression gets Reopen) or whose auto filing failed is left alone.
	if _, err := s.store.Link(ctx, a.ErrorID); !errors.Is(err, ErrNotFound) {
		if err != nil {
			s.log.WarnContext(ctx, "auto rule: link", "error_id", a.ErrorID, "err", err)
		}
		return nil
	}
	if q, ok := s.store.(jobFinder); ok {
		// One queued, running or failed already: it speaks for this alert
		// too (a queued one would fold this one in anyway).
		if _, err := q.JobByDedupeKey(ctx, autoKey(a.ErrorID)); err == nil {
			return nil
		} else if !errors.Is(err, ErrNotFound) {
			s.log.WarnContext(ctx, "auto rule: earlier job", "error_id", a.ErrorID, "err", err)
		}
	}
	now := s.now().UTC()
	return func(stored Alert) []Job {
		req := RoutedRequest{AlertID: stored.ID, ErrorID: stored.ErrorID, Route: route,
			CreationID: RoutedCreationID(stored.ErrorID, nil)}
		j, err := routedJob(Submission{Kind: JobAutoCreate, Routed: &req, SubmittedAt: now})
		if err != nil {
			s.log.ErrorContext(ctx, "auto rule: job", "error_id", stored.ErrorID, "err", err)
			return nil
		}
		return []Job{j}
	}
}

// jobFinder is what auto filing reads of the queue (store.DB has it).
type jobFinder interface {
	JobByDedupeKey(ctx context.Context, key string) (Job, error)
	// DeadJobByDedupeKey is the newest dead job holding key; ErrNotFound
	// if none.
	DeadJobByDedupeKey(ctx context.Context, key string) (Job, error)
}

// routeOf is the route of an arriving alert (no default team: an auto
// rule names its team, and a channel comes from a rule only). A store
// failure leaves the alert unrouted rather than refusing it.
func (s *Service) routeOf(ctx context.Context, a Alert) Route {
	set, err := s.arrivalRules(ctx)
	if err != nil {
		s.log.WarnContext(ctx, "routing rules for an arriving alert", "error_id", a.ErrorID, "err", err)
		return Route{}
	}
	return Match(set.Rules, a, "")
}

// arrivalRulesTTL is how long an arriving alert may be routed by a rule
// list read earlier: reading it for every alert would cost the intake
// about a sixth of its rate, and a save on another replica reaches this
// one's arrivals within it (a save here, at once).
const arrivalRulesTTL = time.Second

// rulesCache holds the rule list for arriving alerts (see arrivalRulesTTL).
type rulesCache struct {
	mu  sync.Mutex
	set RuleSet
	at  time.Time // zero: nothing held.
}

// RecentRules is the rule list as arriving alerts see it: at most
// arrivalRulesTTL old (a save on this replica shows at once). The alert
// messages' "Create in TEAM" buttons read it too.
func (s *Service) RecentRules(ctx context.Context) (RuleSet, error) { return s.arrivalRules(ctx) }

// arrivalRules is the rule list as arriving alerts see it.
func (s *Service) arrivalRules(ctx context.Context) (RuleSet, error) {
	c := &s.rulesCache
	c.mu.Lock()
	if !c.at.IsZero() && s.now().Sub(c.at) < arrivalRulesTTL {
		set := c.set
		c.mu.Unlock()
		return set, nil
	}
	c.mu.Unlock()
	set, err := s.Rules(ctx)
	if err != nil {
		return RuleSet{}, err
	}
	c.mu.Lock()
	if set.Version >= c.set.Version {
		c.set, c.at = set, s.now()
	}
	c.mu.Unlock()
	return set, nil
}

// forgetRules drops the held list after a save that failed (the list may
// have changed elsewhere).
func (s *Service) forgetRules() {
	s.rulesCache.mu.Lock()
	s.rulesCache.at = time.Time{}
	s.rulesCache.mu.Unlock()
}

// holdRules holds set, just saved, for arriving alerts. Holding it rather
// than only forgetting the old one matters: a read that began before the
// save and ends after it returns the older version, which the version
// check then refuses to hold instead of putting it back for a TTL.
func (s *Service) holdRules(set RuleSet) {
	c := &s.rulesCache
	c.mu.Lock()
	if set.Version >= c.set.Version {
		c.set, c.at = set, s.now()
	}
	c.mu.Unlock()
}

// autoWaitForMessage is how long an auto job waits for the alert's Slack
// message, so the issue links to its thread; past it the issue is filed
// without the link rather than waiting on Slack.
const autoWaitForMessage = 15 * time.Second

// runRouted finishes a create by route: the route's names resolved in
// Linear, then CreateIssue with the creation id the request carries.
func (s *Service) runRouted(ctx context.Context, sub Submission) (IssueLink, error) {
	if s.tracker == nil {
		return IssueLink{}, ErrNotConnected
	}
	r := sub.Routed
	a, err := s.store.Alert(ctx, r.AlertID)
	if err != nil {
		return IssueLink{}, fmt.Errorf("alert %d: %w", r.AlertID, err)
	}
	req, err := s.resolveRoute(ctx, a, *r, sub.Kind == JobAutoCreate)
	if err != nil {
		return IssueLink{}, err
	}
	return s.CreateIssue(ctx, req)
}

// resolveRoute turns the names of a route (team key, assignee, labels,
// project) into the create request's Linear IDs. A name Linear no longer
// has is ErrInvalid, in words that say which rule names it.
func (s *Service) resolveRoute(ctx context.Context, a Alert, r RoutedRequest, auto bool) (CreateRequest, error) {
	where := "the default team"
	if r.Route.N > 0 {
		where = fmt.Sprintf("rule %d", r.Route.N)
	}
	teams, err := s.tracker.Teams(ctx)
	if err != nil {
		return CreateRequest{}, fmt.Errorf("teams: %w", err)
	}
	i := slices.IndexFunc(teams, func(t Team) bool { return strings.EqualFold(t.Key, r.Route.TeamKey) })
	if i < 0 {
		return CreateRequest{}, fmt.Errorf("%s names team %s, which Linear no longer has: %w", where, r.Route.TeamKey, ErrInvalid)
	}
	team := teams[i]
	req := CreateRequest{
		CreationID:   r.CreationID,
		AlertID:      a.ID,
		TeamID:       team.ID,
		Title:        truncateRunes(a.Title(), 255),
		SlackUser:    r.SlackUser,
		ActorName:    r.ActorName,
		ActorIconURL: r.ActorIconURL,
		Rule:         r.Route.N,
		Via:          ViaButton,
	}
	if auto {
		req.SlackUser, req.Via = autoCreator(r.Route.N), ViaAuto
	}
	rule := r.Route.Rule
	if r.Route.N == 0 {
		return req, nil
	}
	if rule.HasPriority {
		req.Priority = rule.Priority
	}
	if rule.Assignee != "" {
		ms, err := s.tracker.TeamMembers(ctx, team.ID)
		if err != nil {
			return CreateRequest{}, fmt.Errorf("members of %s: %w", team.Key, err)
		}
		j := slices.IndexFunc(ms, func(u User) bool { return u.Is(rule.Assignee) })
		if j < 0 {
			return CreateRequest{}, fmt.Errorf("%s assigns %s, who is no longer a member of team %s: %w", where, rule.Assignee, team.Key, ErrInvalid)
		}
		req.AssigneeID = ms[j].ID
	}
	if len(rule.Labels) == 0 && rule.LinearProject == "" {
		return req, nil
	}
	cat, ok := s.tracker.(TeamCatalog)
	if !ok {
		return CreateRequest{}, fmt.Errorf("%s sets labels or a project, which this Linear client cannot read: %w", where, ErrInvalid)
	}
	if len(rule.Labels) > 0 {
		ls, err := cat.TeamLabels(ctx, team.ID)
		if err != nil {
			return CreateRequest{}, fmt.Errorf("labels of %s: %w", team.Key, err)
		}
		for _, want := range rule.Labels {
			k := slices.IndexFunc(ls, func(l Label) bool { return strings.EqualFold(l.Name, want) })
			if k < 0 {
				return CreateRequest{}, fmt.Errorf("%s adds label %s, which team %s no longer has: %w", where, want, team.Key, ErrInvalid)
			}
			req.LabelIDs = append(req.LabelIDs, ls[k].ID)
		}
	}
	if rule.LinearProject != "" {
		ps, err := cat.TeamProjects(ctx, team.ID)
		if err != nil {
			return CreateRequest{}, fmt.Errorf("projects of %s: %w", team.Key, err)
		}
		k := slices.IndexFunc(ps, func(p Project) bool { return strings.EqualFold(p.Name, rule.LinearProject) })
		if k < 0 {
			return CreateRequest{}, fmt.Errorf("%s files into project %s, which team %s no longer has: %w", where, rule.LinearProject, team.Key, ErrInvalid)
		}
		req.ProjectID = ps[k].ID
	}
	return req, nil
}

// Via says how a created issue was asked for, for its thread note.
type Via string

// Ways of asking for an issue.
const (
	// ViaModal: the create modal (or the REST API); the zero value.
	ViaModal Via = ""
	// ViaButton: a click on "Create in TEAM".
	ViaButton Via = "button"
	// ViaAuto: an auto rule, as the alert arrived.
	ViaAuto Via = "auto"
)

// createdNote is the thread note once creation c made link. rule and via
// are what the run that asked knows; a run that only has the creation (the
// reconciler, another intent settling it) knows an auto filing by its
// creator.
func createdNote(c Creation, link IssueLink, rule int, via Via) Note {
	n := CreatedNote(link, c.SlackUser)
	if r, ok := autoRule(c.SlackUser); ok {
		n.SlackUser, rule, via = "", r, ViaAuto
	}
	n.Rule, n.Via = rule, via
	return n
}

// AutoFailedNote is the thread note that rule n could not file the
// alert's issue; problem says why, in words.
func AutoFailedNote(rule int, team, problem string) Note {
	return Note{Kind: NoteAutoFailed, Rule: rule, Team: team, Problem: problem}
}

// Problem words err for a person: an ErrInvalid's own words, else
// UserMessage.
func Problem(err error) string {
	if errors.Is(err, ErrInvalid) {
		return strings.TrimSuffix(err.Error(), ": "+ErrInvalid.Error())
	}
	return UserMessage(err)
}

// runAuto runs an auto job. An error tracked meanwhile (a click, a link,
// this job's own earlier run) needs nothing. A filed issue is announced
// by its "Filed … automatically" note. A filing that fails for good ends
// in a thread note saying why and what to do, and the job is buried (an
// operator can retry it with `jobs retry`), so later alerts of the error
// do not try again: once per error.
func (s *Service) runAuto(ctx context.Context, j Job, sub Submission) error {
	r := sub.Routed
	log := s.log.With("job_id", j.ID, "alert_id", r.AlertID, "error_id", r.ErrorID, "rule", r.Route.N,
		"team", r.Route.TeamKey, "creation_id", r.CreationID, "attempt", j.Attempts+1)
	a, err := s.store.Alert(ctx, r.AlertID)
	if errors.Is(err, ErrNotFound) {
		log.WarnContext(ctx, "auto rule: the alert is gone")
		return nil
	} else if err != nil {
		return fmt.Errorf("alert %d: %w", r.AlertID, err)
	}
	if _, err := s.store.Link(ctx, a.ErrorID); err == nil {
		return nil
	} else if !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("link of %s: %w", a.ErrorID, err)
	}
	if q, ok := s.store.(jobFinder); ok {
		// An earlier auto job of the error failed for good and told the
		// thread; this one (queued while that one ran) says nothing twice.
		if d, err := q.DeadJobByDedupeKey(ctx, autoKey(a.ErrorID)); err == nil && d.ID != j.ID {
			log.InfoContext(ctx, "auto rule: an earlier filing of the error failed; not trying again", "dead_job_id", d.ID)
			return nil
		} else if err != nil && !errors.Is(err, ErrNotFound) {
			return fmt.Errorf("earlier auto job of %s: %w", a.ErrorID, err)
		}
	}
	if a.Thread() == "" && s.now().Before(sub.SubmittedAt.Add(autoWaitForMessage)) {
		// The issue links to the alert's thread: let its message go first.
		return Postpone(errors.New("waiting for the alert's slack message"), s.messageWait())
	}
	link, err := s.runRouted(ctx, sub)
	var linked *AlreadyLinkedError
	until := sub.SubmittedAt.Add(s.patience())
	switch {
	case err == nil:
		log.InfoContext(ctx, "issue filed automatically", "issue", link.Identifier)
		return nil
	case errors.As(err, &linked):
		return nil
	case ctx.Err() != nil:
		return err // lease lost or shutting down: the next run decides.
	case Retryable(err) && s.now().Before(until) && j.Attempts+1 < s.maxAttempts():
		log.WarnContext(ctx, "auto rule: filing retries", "err", err)
		return Temporary(err, s.retryDelay(j.Attempts, err, until))
	}
	problem := Problem(err)
	if Retryable(err) {
		problem = "Linear was unavailable for too long, so we stopped trying"
	}
	log.WarnContext(ctx, "auto rule: filing failed; telling the thread", "err", err)
	if nerr := s.store.Enqueue(ctx, NoteJob(a.ID, AutoFailedNote(r.Route.N, r.Route.TeamKey, problem))); nerr != nil {
		return fmt.Errorf("note the failed filing: %w", nerr)
	}
	s.notify()
	return Permanent(fmt.Errorf("rule %d could not file the issue: %w", r.Route.N, err))
}
