package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/bot"
	"github.com/proliferate/proliferate-linear/config"
	"github.com/proliferate/proliferate-linear/httpapi"
	"github.com/proliferate/proliferate-linear/linear"
	"github.com/proliferate/proliferate-linear/linear/oauth"
	"github.com/proliferate/proliferate-linear/store"
)

// Main is the whole service wired together: the store, the core service,
// the Slack queue, the Socket Mode bot and the HTTP API. `serve`, `demo` and
// the end-to-end tests all run this same type.
type Main struct {
	Config config.Config
	Log    *slog.Logger

	DB      *store.DB
	Service *alert.Service
	// Manager is the Linear OAuth connection (nil unless LINEAR_CLIENT_ID is set).
	Manager *oauth.Manager
	// SlackTeamID is the Slack workspace the bot is installed in (auth.test).
	SlackTeamID string
	Dispatcher  *alert.Dispatcher
	Bot         *bot.Bot

	http     *http.Server
	handler  *httpapi.Handler
	listener net.Listener
	// front switches the server from intake-only to the full API; served
	// carries the server's exit (see startup.go).
	front  *frontDoor
	served chan error
	// apiKey is the LINEAR_API_KEY tracker checked at start (nil without a key).
	apiKey alert.Tracker
	// slackRetry spaces the auth.test attempts at start (zero: the default).
	slackRetry retryPolicy
	// metrics feeds /metrics (see metrics.go).
	metrics *metrics
}

// NewMain returns a Main for cfg; Open connects it.
func NewMain(cfg config.Config, log *slog.Logger) *Main {
	return &Main{Config: cfg, Log: log}
}

// Open connects the store (migrating it), starts the alert webhook, waits
// for Slack to answer (retrying with backoff; a refused token fails at
// once), then builds every component. Nothing talks to Linear yet and the
// Socket Mode connection opens in Run.
func (m *Main) Open(ctx context.Context) error {
	m.metrics = newMetrics(m)
	// The keyring seals Linear tokens at rest. Loading it now means a
	// missing or unreadable key fails at start-up, not at the first connect,
	// and the embedded default generates its key file on first run.
	keyring, err := m.Config.Keyring()
	if err != nil {
		return fmt.Errorf("encryption key: %w", err)
	}
	db, err := store.Open(ctx, m.Config.Database.DSN(), m.Log)
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	m.DB = db
	db.SetKeyring(keyring)
	if err := db.Migrate(ctx); err != nil {
		return fmt.Errorf("migrate database: %w", err)
	}

	var tracker alert.Tracker // nil: Linear not connected.
	if key := m.Config.LinearAPIKey.Value(); key != "" {
		hc := &http.Client{
			Timeout:   15 * time.Second,
			Transport: &linear.APIKeyTransport{Key: key, Base: m.metrics.linearTransport(http.DefaultTransport)},
		}
		tracker = linear.NewCached(linear.New(m.Config.LinearAPIURL, hc, m.Log), time.Minute)
		m.apiKey = tracker
	}
	m.logLinearMode()
	if err := m.serveEarly(tracker); err != nil {
		return err
	}
	slackURL, selfBotID := "", ""
	if m.SlackTeamID, slackURL, selfBotID, err = m.awaitSlack(ctx); err != nil {
		return err
	}
	if m.Config.OAuthEnabled() {
		m.Manager = oauth.NewManager(oauth.ManagerConfig{
			OAuth: oauth.Config{
				ClientID:     m.Config.LinearClientID,
				ClientSecret: m.Config.LinearClientSecret.Value(),
				RedirectURL:  m.Config.PublicURL + oauth.CallbackPath,
				AuthorizeURL: m.Config.LinearOAuthAuthorizeURL,
				TokenURL:     m.Config.LinearOAuthTokenURL,
				RevokeURL:    m.Config.LinearOAuthRevokeURL,
				HTTPClient:   &http.Client{Timeout: 15 * time.Second},
				OnRefresh:    m.metrics.oauthRefreshed,
			},
			PublicURL:    m.Config.PublicURL,
			LinearAPIURL: m.Config.LinearAPIURL,
			// GraphQL through the metrics; the token endpoints apart.
			HTTPClient: &http.Client{Timeout: 15 * time.Second, Transport: m.metrics.linearTransport(http.DefaultTransport)},
			Sealer:     keyring,
			Log:        m.Log,
		}, db)
		// A personal API key, if also set, serves until someone connects.
		tracker = m.Manager.TrackerOr(m.SlackTeamID, tracker)
	}
	m.Service = alert.NewService(db, tracker, m.Log)
	if slackURL != "" {
		// Slack permalinks: <workspace URL>archives/<channel>/p<ts without the dot>.
		m.Service.PermalinkBase = strings.TrimSuffix(slackURL, "/") + "/archives/"
	}

	// Interfaces get a literal nil without OAuth: a nil *oauth.Manager in
	// an interface is not nil.
	var (
		connector   alert.Connector
		integration httpapi.Integration
		revoker     alert.Revoker
	)
	if m.Manager != nil {
		connector, integration, revoker = m.Manager, m.Manager, m.Manager
	}
	m.Bot, err = bot.New(bot.Config{
		BotToken:       m.Config.SlackBotToken.Value(),
		AppToken:       m.Config.SlackAppToken.Value(),
		APIURL:         m.Config.SlackAPIURL,
		DefaultTeamKey: m.Config.LinearDefaultTeam,
		SlackTeamID:    m.SlackTeamID,
		Workers:        m.Config.Workers,
		Connector:      connector,
		APIKeyInUse:    m.Config.LinearAPIKey.IsSet(),
		AdminUsers:     m.Config.AdminUsers,
		Home:           db,
		Log:            m.Log,
		HTTPClient:     &http.Client{Timeout: 30 * time.Second, Transport: m.metrics.slackTransport(slackHTTPTransport())},
		// Proliferate's own channel messages (bot/intake.go).
		ProliferateBotIDs: m.Config.ProliferateSlackBotIDs,
		ProliferateURL:    m.Config.ProliferateURL,
		SelfBotID:         selfBotID,
		Observer:          m.metrics,
	}, m.Service)
	if err != nil {
		return fmt.Errorf("slack bot: %w", err)
	}
	m.metrics.bot.Store(m.Bot)
	m.Dispatcher = alert.NewDispatcher(db, m.Bot, m.Log)
	if m.Config.SlackChannelGap > 0 {
		m.Dispatcher.ChannelGap = m.Config.SlackChannelGap
	}
	m.Dispatcher.OnJobEnd, m.Dispatcher.OnAlertPosted = m.metrics.jobEnded, m.metrics.alertPosted
	m.Service.Notify = m.Dispatcher.Wake
	// Submissions (create, link, reopen) are stored before their ack and
	// finished by the engine on any replica; the bot shows the outcome.
	m.Service.Reporter = m.Bot
	m.Service.MaxAttempts = m.Dispatcher.MaxAttempts
	for _, kind := range alert.SubmissionKinds {
		m.Dispatcher.Handle(kind, m.Service.RunSubmission)
	}
	// Linear webhook deliveries are stored as jobs before their 200 and
	// applied by the engine; a revocation forgets the OAuth token.
	m.Service.Revoker = revoker
	m.Dispatcher.Handle(alert.JobLinearDelivery, m.Service.ApplyDelivery)

	m.handler = httpapi.NewHandler(httpapi.Config{
		WebhookSecret:       m.Config.WebhookSecret.Value(),
		LinearWebhookSecret: m.Config.LinearWebhookSecret.Value(),
		APIToken:            m.Config.APIToken.Value(),
		DefaultChannel:      m.Config.SlackAlertChannel,
		SlackTeamID:         m.SlackTeamID,
		Log:                 m.Log,
	}, httpapi.Deps{
		Alerts:      m.Service,
		Ready:       m.ready,
		Deliveries:  m.Service,
		Links:       db,
		API:         m.Service,
		Integration: integration,
		OnConnected: m.onConnected,
		// The metrics count new alerts and folds.
		OnAlertStored: m.metrics.alertStored,
		// Issue deliveries of another Linear workspace are refused.
		Organization: newConnectedOrg(m.Service.Workspace),
	})
	m.front.set(m.handler)
	return nil
}

// Addr is the HTTP listener's address (useful with HTTP_ADDR=127.0.0.1:0).
func (m *Main) Addr() string { return m.listener.Addr().String() }

// Run serves until ctx is done or a component fails, then shuts every
// component down and returns the first failure.
func (m *Main) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	start := func(name string, fn func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(ctx); err != nil && ctx.Err() == nil {
				cancel(fmt.Errorf("%s: %w", name, err))
			}
		}()
	}
	start("slack", m.Bot.Run)
	start("queue", m.Dispatcher.Run)
	start("poller", m.poll)
	start("housekeeping", m.housekeep)
	start("creations", m.reconcileCreations)
	start("http", m.serveHTTP)
	start("linear key check", func(ctx context.Context) error { return m.checkLinearKey(ctx, m.apiKey) })
	m.Log.Info("proliferate-linear running", "http_addr", m.Addr(), "store", m.DB.Dialect(), "version", version)

	<-ctx.Done()
	stopping := time.Now()
	m.Log.Info("proliferate-linear shutting down: draining HTTP, the Slack work and the queue", "reason", context.Cause(ctx))
	defer func() { m.Log.Info("proliferate-linear stopped", "drained_in", time.Since(stopping)) }()
	shutdown, done := context.WithTimeout(context.Background(), 10*time.Second)
	defer done()
	if err := m.http.Shutdown(shutdown); err != nil {
		m.Log.Warn("http shutdown", "err", err)
	}
	// OnConnected calls under way (asking for the default team) finish.
	if err := m.handler.Close(shutdown); err != nil {
		m.Log.Warn("http handler close", "err", err)
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// onConnected asks the admin who connected Linear, in Slack, for the
// default team.
func (m *Main) onConnected(ctx context.Context, c alert.Connection) {
	if err := m.Bot.AskDefaultTeam(ctx, c); err != nil {
		m.Log.WarnContext(ctx, "ask for the default team", "slack_user", c.ConnectedBy, "err", err)
	}
}

// poll re-reads open linked issues from Linear every LINEAR_POLL_INTERVAL,
// so status flows back where no webhook reaches the bot. Webhooks and the
// poller apply the same idempotent update, so running both is safe.
func (m *Main) poll(ctx context.Context) error {
	every(ctx, m.Config.LinearPollInterval, func(ctx context.Context) {
		n, err := m.Service.RefreshLinks(ctx, pollBatch)
		switch {
		case errors.Is(err, alert.ErrNotConnected):
		case err != nil && ctx.Err() == nil:
			m.Log.Warn("poll linked issues", "read", n, "err", err)
		case n > 0:
			m.Log.Debug("polled linked issues", "read", n)
		}
	})
	return nil
}

// pollBatch is how many issues one poller request reads; Linear's
// issues(filter: {id: {in: …}}) takes them in one request.
const pollBatch = 100

// housekeep prunes records that only need to live a while: Linear webhook
// delivery ids are kept a week (Linear retries for hours, not days), Slack
// event ids three days (Slack retries for minutes).
func (m *Main) housekeep(ctx context.Context) error {
	every(ctx, time.Hour, func(ctx context.Context) {
		if _, err := m.DB.PruneDeliveries(ctx, time.Now().Add(-store.DeliveryRetention)); err != nil && ctx.Err() == nil {
			m.Log.Warn("prune webhook deliveries", "err", err)
		}
		if _, err := m.DB.PruneSlackEvents(ctx, time.Now().Add(-store.SlackEventRetention)); err != nil && ctx.Err() == nil {
			m.Log.Warn("prune slack events", "err", err)
		}
	})
	return nil
}

// reconcileCreations settles, at start-up and every few seconds, the
// creations whose answer from Linear was lost with the process that asked
// (kill -9 mid-request): the issue is announced at once, not when the dead
// process's job lease runs out.
func (m *Main) reconcileCreations(ctx context.Context) error {
	run := func(ctx context.Context) {
		n, err := m.Service.ReconcileCreations(ctx, creationSettleAge)
		switch {
		case err != nil && ctx.Err() == nil:
			m.Log.Warn("reconcile pending creations", "settled", n, "err", err)
		case n > 0:
			m.Log.Info("reconciled pending creations", "settled", n)
		}
	}
	run(ctx)
	every(ctx, creationSettleAge, run)
	return nil
}

// creationSettleAge is how long a creation stays pending before the
// reconciler looks it up: a live run hears Linear's answer in well under it.
const creationSettleAge = 5 * time.Second

// every runs fn each period until ctx is done; a period ≤ 0 runs nothing.
func every(ctx context.Context, period time.Duration, fn func(context.Context)) {
	if period <= 0 {
		return
	}
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn(ctx)
		}
	}
}

// Close stops the HTTP server if Run did not, and releases the store.
func (m *Main) Close() error {
	if m.http != nil {
		m.http.Close()
	}
	if m.DB != nil {
		return m.DB.Close()
	}
	return nil
}

// slackIdleConns is how many idle connections to the Slack Web API are
// kept: about as many as the bot's workers call it at once (the fast lane's
// 16 opening modals, the slow lane, the dispatcher's posts). With
// net/http's default of 2, a burst of clicks closed and dialled (TLS with
// Slack) a connection for nearly every views.open.
const slackIdleConns = 32

// slackHTTPTransport is http.DefaultTransport keeping slackIdleConns idle
// connections per host.
func slackHTTPTransport() http.RoundTripper {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = slackIdleConns
	return t
}
