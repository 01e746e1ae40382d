package oauth_test

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/linear/oauth"
)

// memConns is an in-memory oauth.ConnectionStore, standing in for package
// store's tables. lock stands in for the row lock; several Managers sharing
// one memConns behave like replicas sharing one database.
type memConns struct {
	lock sync.Mutex // the connection lock, held across fn

	mu      sync.Mutex
	conns   map[string]alert.Connection
	pending map[string]pendingRow
	marks   []mark
	seen    []string // every token and verifier ever stored, for leak checks
}

type pendingRow struct {
	team, user, verifier string
	expires              time.Time
}

type mark struct {
	Team   string
	Status alert.ConnectionStatus
	Reason string
}

var _ oauth.ConnectionStore = (*memConns)(nil)

func newMemConns() *memConns {
	return &memConns{conns: map[string]alert.Connection{}, pending: map[string]pendingRow{}}
}

func (m *memConns) SaveConnection(ctx context.Context, c alert.Connection) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.conns[c.SlackTeamID] = c
	m.seen = append(m.seen, c.AccessToken, c.RefreshToken)
	return nil
}

func (m *memConns) Connection(ctx context.Context, team string) (alert.Connection, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.conns[team]
	if !ok {
		return alert.Connection{}, fmt.Errorf("connection of %s: %w", team, alert.ErrNotConnected)
	}
	return c, nil
}

func (m *memConns) DeleteConnection(ctx context.Context, team string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.conns, team)
	return nil
}

func (m *memConns) MarkConnection(ctx context.Context, team string, st alert.ConnectionStatus, reason string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.marks = append(m.marks, mark{team, st, reason})
	if c, ok := m.conns[team]; ok {
		c.Status, c.StatusReason = st, reason
		m.conns[team] = c
	}
	return nil
}

func (m *memConns) SetDefaultTeam(ctx context.Context, team, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.conns[team]
	if !ok {
		return fmt.Errorf("connection of %s: %w", team, alert.ErrNotConnected)
	}
	c.DefaultTeamKey = key
	m.conns[team] = c
	return nil
}

func (m *memConns) WithConnectionLock(ctx context.Context, team string, fn func(alert.Connection) (alert.Connection, error)) (alert.Connection, error) {
	m.lock.Lock()
	defer m.lock.Unlock()
	m.mu.Lock()
	cur, ok := m.conns[team]
	m.mu.Unlock()
	if !ok {
		// As store.DB: no connection, no lock and no call, so a refresh
		// racing a disconnect cannot bring the tokens back.
		return alert.Connection{}, fmt.Errorf("lock connection of slack team %s: %w", team, alert.ErrNotConnected)
	}
	next, err := fn(cur)
	if err != nil {
		return alert.Connection{}, err
	}
	next.SlackTeamID = team
	return next, m.SaveConnection(ctx, next)
}

func (m *memConns) SavePendingAuth(ctx context.Context, state, team, user, verifier string, expires time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pending[state] = pendingRow{team, user, verifier, expires}
	m.seen = append(m.seen, verifier)
	return nil
}

func (m *memConns) TakePendingAuth(ctx context.Context, state string, now time.Time) (string, string, string, time.Time, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.pending[state]
	delete(m.pending, state)
	if !ok || !now.Before(p.expires) {
		return "", "", "", time.Time{}, fmt.Errorf("pending auth: %w", alert.ErrNotFound)
	}
	return p.team, p.user, p.verifier, p.expires, nil
}

// stored is the raw connection of team, tokens included.
func (m *memConns) stored(team string) (alert.Connection, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.conns[team]
	return c, ok
}

// update changes the stored connection of team in place.
func (m *memConns) update(team string, f func(*alert.Connection)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.conns[team]
	f(&c)
	m.conns[team] = c
}

func (m *memConns) verifier(state string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.pending[state].verifier
}

func (m *memConns) allMarks() []mark {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]mark(nil), m.marks...)
}

func (m *memConns) secrets() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.seen...)
}

// orgConns adds oauth.OrgLookup to memConns.
type orgConns struct{ *memConns }

var _ oauth.OrgLookup = orgConns{}

func (o orgConns) ConnectionByOrg(ctx context.Context, orgID string) (alert.Connection, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, c := range o.conns {
		if c.OrgID == orgID {
			return c, nil
		}
	}
	return alert.Connection{}, fmt.Errorf("connection to %s: %w", orgID, alert.ErrNotConnected)
}
