// Package fakelinear is an in-memory Linear GraphQL server for tests and
// the demo command. It speaks Linear's wire protocol (POST JSON {query,
// variables, operationName} to one endpoint, answers {data, errors}) so the
// real genqlient client in package linear runs against it unchanged.
// Requests are validated against linear.SchemaSubset, then executed by a
// small executor over the in-memory workspace; failures come in Linear's
// shapes (HTTP status, errors[].extensions, rate-limit headers). It also
// serves Linear's OAuth endpoints under /oauth/ (see oauth.go), and the
// access tokens they issue work for GraphQL. With SetWebhook, every issue
// change is POSTed as a signed Issue webhook (see webhooks.go).
package fakelinear

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/proliferate/proliferate-linear/linear"
)

// Server is the fake. Build it with New or Seeded; it is safe for
// concurrent use.
type Server struct {
	ts     *httptest.Server
	schema *ast.Schema
	now    func() time.Time

	mu          sync.Mutex
	org         map[string]any
	viewerID    string
	users       map[string]*User
	userOrder   []string
	teams       map[string]*teamRec
	teamOrder   []string
	issues      []*Issue
	labels      []labelRec // every issue label, team and workspace, in the order added.
	attachments []*Attachment
	tokens      map[string]bool
	requests    []Request
	fails       []failRule
	lose        map[string]int
	holds       map[string]chan struct{}
	latency     time.Duration
	gate        chan struct{} // Hold's: closed when released
	inFlight    atomic.Int64  // requests being answered
	peak        atomic.Int64  // the most inFlight has been since ResetPeakInFlight
	accessTTL   time.Duration // of issued OAuth access tokens; zero: AccessTokenTTL
	syncID      int
	oauth       oauthState
	ext         extState     // see resolvers_issue4.go
	hooks       webhookState // see webhooks.go
	outage      outageState  // see outage.go
}

type teamRec struct {
	Team
	members  []string
	seq      int
	projects []named // projects, in the order added.
}

// named is a label or a project: what a routing rule names.
type named struct{ ID, Name string }

type failRule struct {
	op   string
	n    int
	kind FailKind
	raw  *RawAnswer // answered instead of kind, when set
}

// RawAnswer is an answer given verbatim: a status, headers and a body, for
// replaying bodies Linear was seen to send.
type RawAnswer struct {
	Status int
	Header http.Header
	Body   []byte
}

// AnswerNext makes the next n requests for operationName ("" = any
// operation) get a verbatim, before anything executes.
func (s *Server) AnswerNext(operationName string, n int, a RawAnswer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fails = append(s.fails, failRule{op: operationName, n: n, raw: &a})
}

// Option configures New.
type Option func(*Server)

// WithSeed fills the server with Seed's workspace.
func WithSeed() Option { return func(s *Server) { s.Seed() } }

// WithClock sets the clock used for timestamps and rate-limit headers.
func WithClock(now func() time.Time) Option { return func(s *Server) { s.now = now } }

// New starts a server listening on 127.0.0.1.
func New(opts ...Option) *Server {
	s := &Server{
		schema: gqlparser.MustLoadSchema(&ast.Source{Name: "schema.graphql", Input: linear.SchemaSubset}),
		now:    time.Now,
		org:    map[string]any{"id": uuid.NewString(), "name": "Workspace", "urlKey": "workspace"},
		users:  map[string]*User{},
		teams:  map[string]*teamRec{},
		tokens: map[string]bool{},
		lose:   map[string]int{},
		holds:  map[string]chan struct{}{},
	}
	s.ts = httptest.NewServer(http.HandlerFunc(s.route))
	for _, o := range opts {
		o(s)
	}
	return s
}

// Seeded starts a server with Seed's workspace.
func Seeded(opts ...Option) *Server { return New(append([]Option{WithSeed()}, opts...)...) }

// URL is the GraphQL endpoint.
func (s *Server) URL() string { return s.ts.URL + "/graphql" }

// Close shuts the server down once in-flight webhook deliveries are done.
func (s *Server) Close() {
	s.WaitWebhooks()
	s.ts.Close()
}

// AddToken accepts bearer as an OAuth access token (`Authorization: Bearer <t>`).
func (s *Server) AddToken(bearer string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[bearer] = true
}

// RevokeToken stops accepting bearer.
func (s *Server) RevokeToken(bearer string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.tokens, bearer)
}

// SetOrganization sets the workspace.
func (s *Server) SetOrganization(id, name, urlKey string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.org = map[string]any{"id": id, "name": name, "urlKey": urlKey}
}

// SetViewer adds u (if new) and makes it the authenticated user.
func (s *Server) SetViewer(u User) {
	s.AddUser(u)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.viewerID = u.ID
}

// AddUser adds or replaces a workspace user; an empty ID gets a UUID.
func (s *Server) AddUser(u User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u.ID == "" {
		u.ID = uuid.NewString()
	}
	if _, ok := s.users[u.ID]; !ok {
		s.userOrder = append(s.userOrder, u.ID)
	}
	s.users[u.ID] = &u
}

// AddTeam adds or replaces a team; an empty ID gets a UUID, nil States get
// DefaultStates, and states without an ID get one.
func (s *Server) AddTeam(t Team) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t.ID == "" {
		t.ID = uuid.NewString()
	}
	if t.States == nil {
		t.States = DefaultStates()
	}
	t.States = slices.Clone(t.States)
	for i := range t.States {
		if t.States[i].ID == "" {
			t.States[i].ID = uuid.NewString()
		}
	}
	if old, ok := s.teams[t.ID]; ok {
		old.Team = t
		return
	}
	s.teamOrder = append(s.teamOrder, t.ID)
	s.teams[t.ID] = &teamRec{Team: t}
}

// TeamByKey finds a team by its key (ENG).
func (s *Server) TeamByKey(key string) (Team, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range s.teamOrder {
		if t := s.teams[id]; strings.EqualFold(t.Key, key) {
			return t.Team, true
		}
	}
	return Team{}, false
}

// AddMember makes user a member of team; unknown ids are ignored.
func (s *Server) AddMember(teamID, userID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.teams[teamID]
	if !ok || s.users[userID] == nil || slices.Contains(t.members, userID) {
		return
	}
	t.members = append(t.members, userID)
}

// AddLabel adds an issue label to a team and returns its ID ("" if there
// is no such team).
func (s *Server) AddLabel(teamID, name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.teams[teamID]; !ok {
		return ""
	}
	return s.addLabel(labelRec{TeamID: teamID, Name: name})
}

// AddWorkspaceLabel adds a workspace label (no team: every team's issues
// may carry it) and returns its ID.
func (s *Server) AddWorkspaceLabel(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addLabel(labelRec{Name: name})
}

// AddLabelGroup adds a group label to a team ("" for the workspace): it
// holds other labels and cannot be applied to an issue itself.
func (s *Server) AddLabelGroup(teamID, name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.teams[teamID]; !ok && teamID != "" {
		return ""
	}
	return s.addLabel(labelRec{TeamID: teamID, Name: name, IsGroup: true})
}

// AddProject adds a project to a team and returns its ID ("" if there is
// no such team).
func (s *Server) AddProject(teamID, name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.teams[teamID]
	if !ok {
		return ""
	}
	n := named{ID: uuid.NewString(), Name: name}
	t.projects = append(t.projects, n)
	return n.ID
}

// Issues returns every issue, oldest first.
func (s *Server) Issues() []Issue {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Issue, 0, len(s.issues))
	for _, i := range s.issues {
		c := *i
		c.LabelIDs = slices.Clone(i.LabelIDs)
		out = append(out, c)
	}
	return out
}

// Issue finds an issue by UUID or identifier.
func (s *Server) Issue(idOrIdentifier string) (Issue, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i := s.findIssue(idOrIdentifier); i != nil {
		c := *i
		c.LabelIDs = slices.Clone(i.LabelIDs)
		return c, true
	}
	return Issue{}, false
}

// Attachments returns the attachments of an issue (UUID or identifier).
func (s *Server) Attachments(issueID string) []Attachment {
	s.mu.Lock()
	defer s.mu.Unlock()
	iss := s.findIssue(issueID)
	if iss == nil {
		return nil
	}
	var out []Attachment
	for _, a := range s.attachments {
		if a.IssueID == iss.ID {
			c := *a
			c.Metadata = cloneMap(a.Metadata)
			out = append(out, c)
		}
	}
	return out
}

// SetIssueState moves an issue to the team state called stateName, as a
// person in Linear would: completedAt/canceledAt follow the state and a
// webhook reports the change (see UpdateIssue for other fields).
func (s *Server) SetIssueState(idOrIdentifier, stateName string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	iss := s.findIssue(idOrIdentifier)
	if iss == nil {
		return errNotFound("Issue")
	}
	for _, st := range s.teams[iss.TeamID].States {
		if strings.EqualFold(st.Name, stateName) {
			before := *iss
			iss.State = st
			s.issueUpdated(iss, before) // closing timestamps, webhook.
			return nil
		}
	}
	return errNotFound("WorkflowState")
}

// Requests returns the requests received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// CountRequests counts the requests for an operation; "" counts all.
func (s *Server) CountRequests(operationName string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.requests {
		if operationName == "" || r.OperationName == operationName {
			n++
		}
	}
	return n
}

// FailNext makes the next n requests for operationName ("" = any
// operation) fail with kind, before anything executes.
func (s *Server) FailNext(operationName string, n int, kind FailKind) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fails = append(s.fails, failRule{op: operationName, n: n, kind: kind})
}

// LoseResponseNext makes the next request for operationName execute (a
// mutation commits) and then answer 502 as a failing proxy would: the
// client cannot know whether it went through.
func (s *Server) LoseResponseNext(operationName string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lose[operationName]++
}

// InFlight is the number of requests received and not yet answered.
func (s *Server) InFlight() int { return int(s.inFlight.Load()) }

// PeakInFlight is the most requests that were being answered at once since
// the server started or ResetPeakInFlight: with SetLatency, how many of a
// client's requests overlapped.
func (s *Server) PeakInFlight() int { return int(s.peak.Load()) }

// ResetPeakInFlight starts PeakInFlight again from the requests in flight.
func (s *Server) ResetPeakInFlight() { s.peak.Store(s.inFlight.Load()) }

// HoldAnswerNext makes the next request for operationName execute (a
// mutation commits) and then hold its answer until release is called (or
// the client gives up): the moment a crash leaves the change made in Linear
// and unknown to the client.
func (s *Server) HoldAnswerNext(operationName string) (release func()) {
	ch := make(chan struct{})
	s.mu.Lock()
	s.holds[operationName] = ch
	s.mu.Unlock()
	var once sync.Once
	return func() { once.Do(func() { close(ch) }) }
}

// Hold makes every request that arrives from now on wait, before Linear
// looks at it, until release is called (or the client gives up): a Linear
// as slow as a test needs, with no fixed delay to sit out. InFlight counts
// the waiting requests.
func (s *Server) Hold() (release func()) {
	ch := make(chan struct{})
	s.mu.Lock()
	s.gate = ch
	s.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			if s.gate == ch {
				s.gate = nil
			}
			s.mu.Unlock()
			close(ch)
		})
	}
}

// SetLatency delays every answer by d (or until the client gives up).
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// findIssue looks up by UUID or identifier (case-insensitive, as Linear).
// The caller holds s.mu.
func (s *Server) findIssue(ref string) *Issue {
	for _, i := range s.issues {
		if i.ID == ref || strings.EqualFold(i.Identifier, ref) {
			return i
		}
	}
	return nil
}

func cloneMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	c := make(map[string]any, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}
