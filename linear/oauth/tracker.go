package oauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/linear"
)

// trackerEntry is the client built for one connection of a Slack team.
type trackerEntry struct {
	// identity is the connection it was built for; a new connection (after
	// a disconnect, or to another workspace) gets a new client, token
	// source and team cache. A reconnect of the same connection keeps
	// them: the token source notices new tokens in the store by itself.
	identity string
	tracker  alert.Tracker
}

func identity(c alert.Connection) string {
	return c.OrgID + "\x00" + c.CreatedAt.UTC().Format(time.RFC3339Nano)
}

// Tracker is the alert.Tracker of slackTeamID's OAuth connection. Every
// call reads the current connection: none is an error wrapping
// alert.ErrNotConnected; one needing reconnection fails with
// alert.ErrUnauthorized without calling Linear. Otherwise it calls Linear
// with the connection's refreshing token (teams and members cached for
// linear.DefaultCacheTTL).
func (m *Manager) Tracker(slackTeamID string) alert.Tracker {
	return m.TrackerOr(slackTeamID, nil)
}

// TrackerOr is Tracker, except that while the Slack team has no OAuth
// connection at all (see Connected) calls go to fallback, the
// LINEAR_API_KEY tracker. A connection needing reconnection does not fall
// back: users are told to reconnect.
func (m *Manager) TrackerOr(slackTeamID string, fallback alert.Tracker) alert.Tracker {
	m.remember(slackTeamID)
	return &connTracker{m: m, team: slackTeamID, fallback: fallback}
}

// resolve returns the tracker to use now.
func (m *Manager) resolve(ctx context.Context, team string, fallback alert.Tracker) (alert.Tracker, error) {
	c, err := m.store.Connection(ctx, team)
	if errors.Is(err, alert.ErrNotConnected) && fallback != nil {
		return fallback, nil
	}
	if err != nil {
		if !errors.Is(err, alert.ErrNotConnected) {
			err = fmt.Errorf("linear connection of %s: %w", team, err)
		}
		m.forget(team)
		return nil, err
	}
	if err := usableConn(c, team); err != nil {
		if errors.Is(err, alert.ErrNotConnected) && fallback != nil {
			return fallback, nil
		}
		return nil, err
	}
	id := identity(c)
	m.mu.Lock()
	defer m.mu.Unlock()
	if e := m.trackers[team]; e != nil && e.identity == id {
		return e.tracker, nil
	}
	ts := NewTokenSource(context.Background(), m.oauth, connTokens{m.store}, team, m.log)
	ts.now = m.now
	hc := &http.Client{Transport: Transport(ts, m.hc.Transport), Timeout: m.hc.Timeout}
	client := linear.New(m.apiURL, hc, m.log.With("slack_team", team))
	client.ActorApp = true // the grant asked for actor=app.
	t := linear.NewCached(client, 0)
	m.trackers[team] = &trackerEntry{identity: id, tracker: t}
	return t, nil
}

// forget drops the team's client, so the next call builds a fresh one.
func (m *Manager) forget(team string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.trackers, team)
}

// connTracker resolves the connection on every call and delegates.
type connTracker struct {
	m        *Manager
	team     string
	fallback alert.Tracker
}

var _ alert.Tracker = (*connTracker)(nil)

func (t *connTracker) get(ctx context.Context) (alert.Tracker, error) {
	return t.m.resolve(ctx, t.team, t.fallback)
}

func (t *connTracker) Teams(ctx context.Context) ([]alert.Team, error) {
	tr, err := t.get(ctx)
	if err != nil {
		return nil, err
	}
	return tr.Teams(ctx)
}

func (t *connTracker) TeamMembers(ctx context.Context, teamID string) ([]alert.User, error) {
	tr, err := t.get(ctx)
	if err != nil {
		return nil, err
	}
	return tr.TeamMembers(ctx, teamID)
}

func (t *connTracker) CreateIssue(ctx context.Context, req alert.IssueRequest) (alert.Issue, error) {
	tr, err := t.get(ctx)
	if err != nil {
		return alert.Issue{}, err
	}
	return tr.CreateIssue(ctx, req)
}

func (t *connTracker) Issue(ctx context.Context, idOrIdentifier string) (alert.Issue, error) {
	tr, err := t.get(ctx)
	if err != nil {
		return alert.Issue{}, err
	}
	return tr.Issue(ctx, idOrIdentifier)
}

func (t *connTracker) Workspace(ctx context.Context) (alert.Workspace, error) {
	tr, err := t.get(ctx)
	if err != nil {
		return alert.Workspace{}, err
	}
	return tr.Workspace(ctx)
}

func (t *connTracker) Attach(ctx context.Context, issueID string, att alert.Attachment) error {
	tr, err := t.get(ctx)
	if err != nil {
		return err
	}
	return tr.Attach(ctx, issueID, att)
}

func (t *connTracker) IssuesWithAttachment(ctx context.Context, url string) ([]alert.Issue, error) {
	tr, err := t.get(ctx)
	if err != nil {
		return nil, err
	}
	return tr.IssuesWithAttachment(ctx, url)
}

func (t *connTracker) SearchIssues(ctx context.Context, query string, limit int) ([]alert.Issue, error) {
	tr, err := t.get(ctx)
	if err != nil {
		return nil, err
	}
	return tr.SearchIssues(ctx, query, limit)
}

func (t *connTracker) IssuesByID(ctx context.Context, ids []string) ([]alert.Issue, error) {
	tr, err := t.get(ctx)
	if err != nil {
		return nil, err
	}
	return tr.IssuesByID(ctx, ids)
}

func (t *connTracker) Reopen(ctx context.Context, issueID, comment string) (alert.Issue, error) {
	tr, err := t.get(ctx)
	if err != nil {
		return alert.Issue{}, err
	}
	return tr.Reopen(ctx, issueID, comment)
}
