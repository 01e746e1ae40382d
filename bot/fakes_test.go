package bot

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/proliferate/proliferate-linear/alert"
)

// memStore is an in-memory alert.Store for the adapter's tests: enough of
// the contract (ErrNotFound, creation idempotency, queued jobs) for the
// service's use cases the bot drives. store/ has the real ones.
type memStore struct {
	mu        sync.Mutex
	alerts    map[int64]alert.Alert
	links     map[string]alert.IssueLink
	creations map[string]alert.Creation
	jobs      []alert.Job
	events    map[string]bool // AcceptSlackAlert's handled event ids
	// enqueueErr, when set, fails Enqueue (the database is down).
	enqueueErr error
}

func newMemStore(alerts ...alert.Alert) *memStore {
	s := &memStore{alerts: map[int64]alert.Alert{}, links: map[string]alert.IssueLink{}, creations: map[string]alert.Creation{}}
	for _, a := range alerts {
		s.alerts[a.ID] = a
	}
	return s
}

func (s *memStore) AcceptAlert(_ context.Context, a alert.Alert, _ ...func(alert.Alert) []alert.Job) (alert.Accepted, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a.ID = int64(len(s.alerts) + 1)
	s.alerts[a.ID] = a
	acc := alert.Accepted{Alert: a}
	if l, ok := s.links[a.ErrorID]; ok {
		acc.Link = &l
	}
	return acc, nil
}

func (s *memStore) Alert(_ context.Context, id int64) (alert.Alert, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.alerts[id]
	if !ok {
		return alert.Alert{}, fmt.Errorf("alert %d: %w", id, alert.ErrNotFound)
	}
	return a, nil
}

func (s *memStore) AlertsByError(_ context.Context, errorID string) ([]alert.Alert, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []alert.Alert
	for _, a := range s.alerts {
		if a.ErrorID == errorID {
			out = append(out, a)
		}
	}
	return out, nil
}

func (s *memStore) SetAlertMessage(_ context.Context, id int64, ts string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.alerts[id]
	a.MessageTS = ts
	s.alerts[id] = a
	return nil
}

func (s *memStore) Link(_ context.Context, errorID string) (alert.IssueLink, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.links[errorID]
	if !ok {
		return alert.IssueLink{}, fmt.Errorf("link %s: %w", errorID, alert.ErrNotFound)
	}
	return l, nil
}

func (s *memStore) SaveLink(_ context.Context, l alert.IssueLink, jobs ...alert.Job) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.links[l.ErrorID] = l
	s.jobs = append(s.jobs, jobs...)
	return nil
}

func (s *memStore) AddLink(_ context.Context, l alert.IssueLink, jobs ...alert.Job) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.links[l.ErrorID]; ok {
		return fmt.Errorf("link %s exists: %w", l.ErrorID, alert.ErrConflict)
	}
	s.links[l.ErrorID] = l
	s.jobs = append(s.jobs, jobs...)
	return nil
}

func (s *memStore) BeginCreation(_ context.Context, c alert.Creation, _ time.Duration) (alert.Creation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.creations[c.ID]; ok {
		return old, nil
	}
	for _, o := range s.creations {
		if o.ErrorID == c.ErrorID && o.Status == alert.CreationPending {
			return alert.Creation{}, fmt.Errorf("creation for %s pending: %w", c.ErrorID, alert.ErrConflict)
		}
	}
	s.creations[c.ID] = c
	return c, nil
}

func (s *memStore) CompleteCreation(_ context.Context, id string, l alert.IssueLink, jobs ...alert.Job) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.creations[id]
	c.Status, c.IssueID = alert.CreationDone, l.IssueID
	s.creations[id] = c
	s.links[l.ErrorID] = l
	s.jobs = append(s.jobs, jobs...)
	return nil
}

func (s *memStore) CreationByID(_ context.Context, id string) (alert.Creation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.creations[id]; ok {
		return c, nil
	}
	return alert.Creation{}, alert.ErrNotFound
}

func (s *memStore) AbandonCreation(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.creations, id)
	return nil
}

func (s *memStore) PendingCreation(_ context.Context, errorID string) (alert.Creation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.creations {
		if c.ErrorID == errorID && c.Status == alert.CreationPending {
			return c, nil
		}
	}
	return alert.Creation{}, fmt.Errorf("pending creation of %s: %w", errorID, alert.ErrNotFound)
}

func (s *memStore) TouchCreation(_ context.Context, id string) (alert.Creation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.creations[id]
	if !ok {
		return alert.Creation{}, fmt.Errorf("creation %s: %w", id, alert.ErrNotFound)
	}
	if c.Status == alert.CreationPending {
		c.UpdatedAt = time.Now()
		s.creations[id] = c
	}
	return c, nil
}

func (s *memStore) PendingCreations(_ context.Context, before time.Time, limit int) ([]alert.Creation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []alert.Creation
	for _, c := range s.creations {
		if c.Status == alert.CreationPending && c.UpdatedAt.Before(before) && len(out) < limit {
			out = append(out, c)
		}
	}
	return out, nil
}

func (s *memStore) ReplaceCreation(_ context.Context, old, c alert.Creation) (alert.Creation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.creations[old.ID]
	if !ok || cur.Status != alert.CreationPending || !cur.UpdatedAt.Equal(old.UpdatedAt) {
		return alert.Creation{}, fmt.Errorf("creation %s changed: %w", old.ID, alert.ErrConflict)
	}
	delete(s.creations, old.ID)
	s.creations[c.ID] = c
	return c, nil
}

// takeSubmissions hands out the submission jobs queued since the last
// call, each once; the other jobs stay for the dispatcher.
func (s *memStore) takeSubmissions() []alert.Job {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []alert.Job
	for i := range s.jobs {
		if s.jobs[i].ID == 0 && slices.Contains(alert.SubmissionKinds, s.jobs[i].Kind) {
			s.jobs[i].ID = int64(i + 1)
			out = append(out, s.jobs[i])
		}
	}
	return out
}

func (s *memStore) Enqueue(_ context.Context, jobs ...alert.Job) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.enqueueErr != nil {
		return s.enqueueErr
	}
	s.jobs = append(s.jobs, jobs...)
	return nil
}

// ClaimJobs hands out every queued job once (no leases: the tests run one
// dispatcher); Jobs still lists them.
func (s *memStore) ClaimJobs(_ context.Context, _ string, limit int, _ time.Duration) ([]alert.Job, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []alert.Job
	for i := range s.jobs {
		if len(out) == limit {
			break
		}
		if s.jobs[i].ID == 0 {
			s.jobs[i].ID = int64(i + 1)
			out = append(out, s.jobs[i])
		}
	}
	return out, nil
}
func (s *memStore) ClaimPacedJobs(ctx context.Context, owner string, limit int, lease time.Duration, _ alert.ClaimPace) ([]alert.Job, error) {
	return s.ClaimJobs(ctx, owner, limit, lease)
}
func (s *memStore) FinishJob(context.Context, int64) error                   { return nil }
func (s *memStore) RetryJob(context.Context, int64, time.Time, string) error { return nil }
func (s *memStore) BuryJob(context.Context, int64, string) error             { return nil }

// The engine's leases, postponements and channel pace: one dispatcher,
// no waiting.
func (s *memStore) ExtendLeases(context.Context, string, []int64, time.Duration) ([]int64, error) {
	return nil, nil
}
func (s *memStore) PostponeJob(context.Context, int64, time.Time, string) error { return nil }
func (s *memStore) JobByDedupeKey(context.Context, string) (alert.Job, error) {
	return alert.Job{}, alert.ErrNotFound
}
func (s *memStore) ReserveChannelSlot(context.Context, string, time.Duration, time.Duration) (time.Duration, bool, error) {
	return 0, true, nil
}
func (s *memStore) HoldChannel(context.Context, string, time.Duration) error { return nil }
func (s *memStore) ChannelHeld(context.Context, string) (time.Duration, error) {
	return 0, nil
}

// memTracker is an in-memory Linear: teams, members, and issues created
// once per request ID, as Linear refuses a duplicate IssueCreateInput.id.
type memTracker struct {
	mu      sync.Mutex
	teams   []alert.Team
	members map[string][]alert.User
	issues  map[string]alert.Issue
	reqs    []alert.IssueRequest
	calls   map[string]int
	// err, when set, is returned by every call.
	err error
	// gate, when set, holds TeamMembers until it is closed.
	gate chan struct{}
	// slow, when set, holds Issue and SearchIssues until it is closed.
	slow        chan struct{}
	held        atomic.Int32                  // calls that waited on slow
	attachments map[string][]alert.Attachment // by issue id.
	searches    []string
	comments    map[string][]string // by issue id.
	// errs, when set for a method, is what that method returns.
	errs map[string]error
}

func newMemTracker() *memTracker {
	return &memTracker{
		teams:   sampleTeams(),
		members: map[string][]alert.User{"team-eng": sampleMembers(), "team-ops": {{ID: "u3", Name: "Linus"}}},
		issues:  map[string]alert.Issue{},
		calls:   map[string]int{},

		attachments: map[string][]alert.Attachment{},
		comments:    map[string][]string{},
		errs:        map[string]error{},
	}
}

func (t *memTracker) setErr(err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.err = err
}

func (t *memTracker) count(m string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.calls[m]++
	if err := t.errs[m]; err != nil {
		return err
	}
	return t.err
}

func (t *memTracker) Calls(m string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.calls[m]
}

func (t *memTracker) Teams(context.Context) ([]alert.Team, error) {
	if err := t.count("Teams"); err != nil {
		return nil, err
	}
	return t.teams, nil
}

func (t *memTracker) TeamMembers(ctx context.Context, teamID string) ([]alert.User, error) {
	if t.gate != nil {
		select {
		case <-t.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if err := t.count("TeamMembers"); err != nil {
		return nil, err
	}
	return t.members[teamID], nil
}

func (t *memTracker) CreateIssue(_ context.Context, req alert.IssueRequest) (alert.Issue, error) {
	if err := t.count("CreateIssue"); err != nil {
		return alert.Issue{}, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.reqs = append(t.reqs, req)
	if is, ok := t.issues[req.ID]; ok {
		return is, nil
	}
	n := len(t.issues) + 1
	is := alert.Issue{
		ID: req.ID, Identifier: fmt.Sprintf("ENG-%d", n), Title: req.Title,
		URL: fmt.Sprintf("https://linear.app/acme/issue/ENG-%d", n), StateName: "Todo", StateType: "unstarted",
		TeamID: req.TeamID, TeamKey: "ENG",
	}
	t.issues[req.ID] = is
	return is, nil
}

func (t *memTracker) Requests() []alert.IssueRequest {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]alert.IssueRequest(nil), t.reqs...)
}

// Issue reads an issue by id or, as Linear's issue(id:) does, by identifier.
func (t *memTracker) Issue(ctx context.Context, id string) (alert.Issue, error) {
	if err := t.wait(ctx); err != nil {
		return alert.Issue{}, err
	}
	if err := t.count("Issue"); err != nil {
		return alert.Issue{}, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if is, ok := t.issues[id]; ok {
		return is, nil
	}
	for _, is := range t.issues {
		if strings.EqualFold(is.Identifier, id) {
			return is, nil
		}
	}
	return alert.Issue{}, fmt.Errorf("issue %s: %w", id, alert.ErrNotFound)
}

func (t *memTracker) Workspace(context.Context) (alert.Workspace, error) {
	if err := t.count("Workspace"); err != nil {
		return alert.Workspace{}, err
	}
	return alert.Workspace{
		UserName: "Ada <admin>", UserEmail: "ada@example.com", OrgName: "Acme & Co", OrgURLKey: "acme",
		RecentIssues: []alert.Issue{{Identifier: "ENG-1", Title: "First <b>", URL: "https://linear.app/acme/issue/ENG-1", StateName: "Done"}},
	}, nil
}

func (s *memStore) AcceptSlackAlert(_ context.Context, eventID string, a alert.Alert, more func(alert.Alert) []alert.Job) (alert.Alert, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.events == nil {
		s.events = map[string]bool{}
	}
	if s.events[eventID] {
		return alert.Alert{}, false, nil
	}
	s.events[eventID] = true
	for id, old := range s.alerts {
		if old.ErrorID == a.ErrorID && old.Channel == a.Channel {
			old.Occurrences++
			old.EventCount = max(old.EventCount, a.EventCount)
			s.alerts[id] = old
			s.jobs = append(s.jobs, alert.RenderJob(id))
			if more != nil {
				s.jobs = append(s.jobs, more(old)...)
			}
			return old, true, nil
		}
	}
	a.ID = int64(len(s.alerts) + 1)
	a.Occurrences = 1
	s.alerts[a.ID] = a
	s.jobs = append(s.jobs, alert.RenderJob(a.ID))
	if more != nil {
		s.jobs = append(s.jobs, more(a)...)
	}
	return a, true, nil
}

func (s *memStore) EnsureAlert(_ context.Context, a alert.Alert) (alert.Alert, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, old := range s.alerts {
		if old.ErrorID == a.ErrorID && old.Channel == a.Channel {
			return old, nil
		}
	}
	a.ID = int64(len(s.alerts) + 1)
	a.Occurrences = 1
	s.alerts[a.ID] = a
	return a, nil
}
