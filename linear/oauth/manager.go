package oauth

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/linear"
)

// ConnectPath is where the short-lived connect link points; its handler
// redirects the browser to Manager.AuthorizeRedirect.
const ConnectPath = "/api/v1/integrations/linear/connect"

// CallbackPath is the OAuth redirect URI's path, after PUBLIC_URL; register
// PUBLIC_URL + CallbackPath as the redirect URI of the Linear OAuth app.
const CallbackPath = "/api/v1/integrations/linear/callback"

// ManagerConfig configures a Manager.
type ManagerConfig struct {
	// OAuth is the Linear OAuth application. A nil OAuth.HTTPClient means
	// HTTPClient.
	OAuth Config
	// PublicURL is the service's external base URL (PUBLIC_URL), the base
	// of the connect link.
	PublicURL string
	// LinearAPIURL is the GraphQL endpoint; empty means linear.Endpoint.
	LinearAPIURL string
	// HTTPClient sends GraphQL requests; its Transport is the base under
	// the OAuth one. nil means a client with a 15 s timeout.
	HTTPClient *http.Client
	// Sealer encrypts a proposed replacement connection while it waits
	// for the admin's confirmation in the pending store. Pass the service's
	// *secret.Keyring so any replica can open it; nil means a key made at
	// start-up, which only this process knows.
	Sealer Sealer
	Log    *slog.Logger
	Now    func() time.Time
}

// Manager runs the lifecycle of a Slack team's Linear connection: the
// connect link, the OAuth callback, replacement of another workspace,
// disconnect and Linear-side revocation, and the Tracker that uses the
// connection. It implements alert.Connector and is safe for concurrent use.
//
// Connections it returns never carry tokens: callers show names and status,
// and the tokens stay between the store and the token source.
type Manager struct {
	oauth  Config
	store  ConnectionStore
	public string
	apiURL string
	hc     *http.Client
	sealer Sealer
	log    *slog.Logger
	now    func() time.Time

	mu       sync.Mutex
	trackers map[string]*trackerEntry
	known    map[string]struct{} // Slack teams served, for Revoked without OrgLookup
}

var _ alert.Connector = (*Manager)(nil)

// NewManager returns a Manager over store.
func NewManager(cfg ManagerConfig, store ConnectionStore) *Manager {
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 15 * time.Second}
	}
	if cfg.OAuth.HTTPClient == nil {
		cfg.OAuth.HTTPClient = cfg.HTTPClient
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Sealer == nil {
		cfg.Sealer = newEphemeralSealer()
	}
	return &Manager{
		oauth: cfg.OAuth, store: store,
		public: strings.TrimRight(cfg.PublicURL, "/"), apiURL: cmp.Or(cfg.LinearAPIURL, linear.Endpoint),
		hc: cfg.HTTPClient, sealer: cfg.Sealer, log: cfg.Log, now: cfg.Now,
		trackers: map[string]*trackerEntry{}, known: map[string]struct{}{},
	}
}

func (m *Manager) states() StateStore { return pendingStates{m.store} }

// ConnectURL starts a connect flow for slackTeamID on behalf of slackUserID
// and returns the link to give the admin: PublicURL + ConnectPath with the
// flow's state. It is valid for StateTTL and ends with the first callback.
func (m *Manager) ConnectURL(ctx context.Context, slackTeamID, slackUserID string) (string, error) {
	if m.public == "" {
		return "", fmt.Errorf("linear connect link: PUBLIC_URL is not set: %w", alert.ErrInvalid)
	}
	m.remember(slackTeamID)
	p, err := NewPending(slackTeamID, slackUserID, m.now())
	if err != nil {
		return "", err
	}
	if err := m.states().SavePending(ctx, p); err != nil {
		return "", fmt.Errorf("linear connect link: %w", err)
	}
	return m.public + ConnectPath + "?state=" + url.QueryEscape(p.State), nil
}

// AuthorizeRedirect is Linear's authorize URL for the connect flow of
// state, with the PKCE challenge of its verifier. It does not use the state
// up (a browser may load the link twice); the callback does. An unknown,
// used or expired state is an error wrapping alert.ErrNotFound.
func (m *Manager) AuthorizeRedirect(ctx context.Context, state string) (string, error) {
	if state == "" {
		return "", fmt.Errorf("linear connect: no state: %w", alert.ErrNotFound)
	}
	// The store can only take a state, so take it and put it back as it
	// was: same state, verifier and expiry.
	p, err := m.states().TakePending(ctx, state, m.now())
	if err != nil {
		return "", fmt.Errorf("linear connect: %w", err)
	}
	if err := m.states().SavePending(ctx, p); err != nil {
		return "", fmt.Errorf("linear connect: %w", err)
	}
	return m.oauth.AuthCodeURL(p.State, p.Verifier), nil
}

// Complete finishes a connect flow from the callback's query: the state is
// single use; the code is exchanged with the flow's verifier; the new token
// reads the Linear workspace and user. Reconnecting the same workspace
// updates the tokens in place (the default team stays). When another
// workspace is connected and working, nothing is saved and a *ReplaceError
// says what would be replaced; Manager.ConfirmReplace finishes it.
//
// Errors: alert.ErrNotFound for an unknown, replayed or expired state;
// ErrDenied when the admin clicked Deny; alert.ErrInvalid when Linear
// refused the code; alert.ErrUnavailable (temporary) when Linear could not
// be reached.
func (m *Manager) Complete(ctx context.Context, query url.Values) (alert.Connection, error) {
	now := m.now()
	p, tok, err := m.oauth.Complete(ctx, m.states(), query, now)
	if err != nil {
		return alert.Connection{}, err
	}
	log := m.log.With("slack_team", p.SlackTeamID, "slack_user", p.SlackUserID)
	ws, err := m.workspace(ctx, tok)
	if err != nil {
		// The grant is useless without knowing whose it is: give it back.
		m.revokeQuietly(ctx, tokenConn(alert.Connection{}, tok), log)
		return alert.Connection{}, fmt.Errorf("linear oauth callback: read workspace: %w", err)
	}
	proposed := tokenConn(alert.Connection{
		SlackTeamID: p.SlackTeamID,
		OrgID:       ws.OrgID, OrgName: ws.OrgName, OrgURLKey: ws.OrgURLKey,
		UserName: ws.UserName, UserEmail: ws.UserEmail,
		Status:      alert.ConnectionActive,
		ConnectedBy: p.SlackUserID,
		CreatedAt:   now, UpdatedAt: now,
	}, tok)
	log = log.With("linear_org", ws.OrgID)

	var current alert.Connection
	saved, err := m.lockOrCreate(ctx, p.SlackTeamID, func(cur alert.Connection) (alert.Connection, error) {
		current = cur
		if otherActive(cur, proposed.OrgID) {
			return alert.Connection{}, errNeedsConfirm
		}
		return merge(cur, proposed), nil
	})
	switch {
	case errors.Is(err, errNeedsConfirm):
		return alert.Connection{}, m.proposeReplace(ctx, current, proposed, log)
	case err != nil:
		m.revokeQuietly(ctx, proposed, log)
		return alert.Connection{}, fmt.Errorf("linear oauth callback: save: %w", err)
	}
	m.remember(p.SlackTeamID)
	if current.OrgID != "" && current.OrgID != proposed.OrgID {
		// A dead connection to another workspace was replaced.
		m.revokeQuietly(ctx, current, log)
	}
	log.InfoContext(ctx, "linear connected", "linear_org_name", ws.OrgName)
	return redacted(saved), nil
}

// lockOrCreate is WithConnectionLock for the connect paths: when the team
// has no connection yet, fn sees the zero Connection and its result is
// inserted. Only connecting may create a connection; refreshes use
// WithConnectionLock alone, so they never resurrect a disconnected one.
func (m *Manager) lockOrCreate(ctx context.Context, team string, fn func(alert.Connection) (alert.Connection, error)) (alert.Connection, error) {
	called := false
	saved, err := m.store.WithConnectionLock(ctx, team, func(cur alert.Connection) (alert.Connection, error) {
		called = true
		return fn(cur)
	})
	if called || !errors.Is(err, alert.ErrNotConnected) {
		return saved, err
	}
	next, err := fn(alert.Connection{})
	if err != nil {
		return alert.Connection{}, err
	}
	next.SlackTeamID = team
	if err := m.store.SaveConnection(ctx, next); err != nil {
		return alert.Connection{}, err
	}
	return next, nil
}

// errNeedsConfirm stops WithConnectionLock from writing when Complete
// would replace another working workspace.
var errNeedsConfirm = errors.New("another linear workspace is connected")

// otherActive says cur is a working connection to another workspace than
// orgID.
func otherActive(cur alert.Connection, orgID string) bool {
	return cur.OrgID != "" && cur.OrgID != orgID && usableConn(cur, cur.SlackTeamID) == nil
}

// merge is what replaces cur with proposed: the same workspace keeps its
// default team and creation time, another starts afresh.
func merge(cur, proposed alert.Connection) alert.Connection {
	if cur.OrgID == proposed.OrgID {
		proposed.DefaultTeamKey = cur.DefaultTeamKey
		if !cur.CreatedAt.IsZero() {
			proposed.CreatedAt = cur.CreatedAt
		}
	}
	return proposed
}

// workspace reads the organization and viewer with a new token, skipping
// the recent issues.
func (m *Manager) workspace(ctx context.Context, tok *oauth2.Token) (alert.Workspace, error) {
	hc := &http.Client{Transport: Transport(oauth2.StaticTokenSource(tok), m.hc.Transport), Timeout: m.hc.Timeout}
	c := linear.New(m.apiURL, hc, m.log)
	c.RecentIssues = 0
	return c.Workspace(ctx)
}

// Connection returns the Slack team's connection without its tokens; an
// error wrapping alert.ErrNotConnected if there is none.
func (m *Manager) Connection(ctx context.Context, slackTeamID string) (alert.Connection, error) {
	m.remember(slackTeamID)
	c, err := m.store.Connection(ctx, slackTeamID)
	if err != nil {
		return alert.Connection{}, fmt.Errorf("linear connection: %w", err)
	}
	return redacted(c), nil
}

// Connected says the Slack team has an OAuth connection, working or
// needing reconnection: when LINEAR_API_KEY is set too, OAuth is preferred
// then, so that users hear about a needed reconnect rather than silently
// acting as the key's owner. A store error counts as connected, so the
// error surfaces from the tracker rather than being hidden by a fallback.
func (m *Manager) Connected(ctx context.Context, slackTeamID string) bool {
	_, err := m.store.Connection(ctx, slackTeamID)
	return !errors.Is(err, alert.ErrNotConnected)
}

// SetDefaultTeam records the team preselected in the create modal. The key
// is checked against the workspace's teams (case-insensitively, stored as
// Linear spells it); an unknown key is an error wrapping alert.ErrInvalid.
// An empty key clears the default.
func (m *Manager) SetDefaultTeam(ctx context.Context, slackTeamID, teamKey string) error {
	teamKey = strings.TrimSpace(teamKey)
	if teamKey != "" {
		teams, err := m.Tracker(slackTeamID).Teams(ctx)
		if err != nil {
			return fmt.Errorf("linear default team: %w", err)
		}
		known := ""
		for _, t := range teams {
			if strings.EqualFold(t.Key, teamKey) {
				known = t.Key
			}
		}
		if known == "" {
			return fmt.Errorf("linear default team: no team with key %q: %w", teamKey, alert.ErrInvalid)
		}
		teamKey = known
	}
	if err := m.store.SetDefaultTeam(ctx, slackTeamID, teamKey); err != nil {
		return fmt.Errorf("linear default team: %w", err)
	}
	return nil
}

func (m *Manager) remember(team string) {
	if team == "" {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.known[team] = struct{}{}
}

// redacted is c without its tokens.
func redacted(c alert.Connection) alert.Connection {
	c.AccessToken, c.RefreshToken = "", ""
	return c
}
