package oauth_test

import (
	"context"
	"fmt"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/linear/oauth"
)

// memTokens is an in-memory oauth.TokenStore. lock stands in for the
// database row lock; several TokenSources sharing one memTokens behave
// like replicas sharing one database.
type memTokens struct {
	lock sync.Mutex // the refresh lock, held across fn

	mu     sync.Mutex
	tokens map[string]oauth2.Token
	marks  map[string][]string
	seen   []string // every token value ever stored, for leak checks
}

var _ oauth.TokenStore = (*memTokens)(nil)

func newMemTokens() *memTokens {
	return &memTokens{tokens: map[string]oauth2.Token{}, marks: map[string][]string{}}
}

func (m *memTokens) WithRefreshLock(ctx context.Context, ws string, fn func(*oauth2.Token) (*oauth2.Token, error)) (*oauth2.Token, error) {
	m.lock.Lock()
	defer m.lock.Unlock()
	var cur *oauth2.Token
	m.mu.Lock()
	if t, ok := m.tokens[ws]; ok {
		cur = &t
	}
	m.mu.Unlock()
	nt, err := fn(cur)
	if err != nil {
		return nil, err
	}
	m.put(ws, nt)
	c := *nt
	return &c, nil
}

func (m *memTokens) Token(ctx context.Context, ws string) (*oauth2.Token, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.tokens[ws]
	if !ok {
		return nil, fmt.Errorf("token of %s: %w", ws, alert.ErrNotConnected)
	}
	return &t, nil
}

func (m *memTokens) MarkNeedsReconnect(ctx context.Context, ws, reason string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.marks[ws] = append(m.marks[ws], reason)
	return nil
}

// put stores t as a reconnect would.
func (m *memTokens) put(ws string, t *oauth2.Token) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tokens[ws] = *t
	m.seen = append(m.seen, t.AccessToken, t.RefreshToken)
}

// expireIn makes the stored token of ws expire d from now.
func (m *memTokens) expireIn(ws string, d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.tokens[ws]
	t.Expiry = time.Now().Add(d)
	m.tokens[ws] = t
}

func (m *memTokens) stored(ws string) oauth2.Token {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.tokens[ws]
}

func (m *memTokens) marked(ws string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.marks[ws]...)
}

func (m *memTokens) secrets() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.seen...)
}

// memStates is an in-memory oauth.StateStore.
type memStates struct {
	mu      sync.Mutex
	pending map[string]oauth.Pending
	seen    []string // states and verifiers, for leak checks
}

var _ oauth.StateStore = (*memStates)(nil)

func newMemStates() *memStates { return &memStates{pending: map[string]oauth.Pending{}} }

func (m *memStates) SavePending(ctx context.Context, p oauth.Pending) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pending[p.State] = p
	m.seen = append(m.seen, p.Verifier)
	return nil
}

func (m *memStates) TakePending(ctx context.Context, state string, now time.Time) (oauth.Pending, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.pending[state]
	delete(m.pending, state)
	if !ok || !now.Before(p.ExpiresAt) {
		return oauth.Pending{}, fmt.Errorf("oauth state: %w", alert.ErrNotFound)
	}
	return p, nil
}

func (m *memStates) secrets() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.seen...)
}
