package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/httpapi"
)

// frontDoor is the HTTP server's handler for the whole life of the
// process. While Slack is still being reached at start it serves the
// intake-only handler (alerts are stored, /readyz says not ready); once
// Open has built everything it serves the full API.
type frontDoor struct{ h atomic.Pointer[http.Handler] }

func (f *frontDoor) set(h http.Handler) { f.h.Store(&h) }

func (f *frontDoor) ServeHTTP(w http.ResponseWriter, r *http.Request) { (*f.h.Load()).ServeHTTP(w, r) }

// errStarting is the readiness answer while Slack is still being reached.
var errStarting = errors.New("starting: waiting for Slack")

// errSocketDown is the readiness answer while the Socket Mode connection is
// down: this replica would not receive clicks, modals or commands.
var errSocketDown = errors.New("slack socket mode is not connected")

// serveEarly binds HTTP_ADDR and starts serving with an intake-only
// handler: Proliferate's alerts are committed (with their render jobs) from
// the first second, whether or not Slack answers yet, and the queue posts
// them once it does. tracker is the API-key tracker, or nil.
func (m *Main) serveEarly(tracker alert.Tracker) error {
	if m.listener == nil { // tests may hand one in, bound already.
		ln, err := net.Listen("tcp", m.Config.HTTPAddr)
		if err != nil {
			return fmt.Errorf("listen on HTTP_ADDR %s: %w", m.Config.HTTPAddr, err)
		}
		m.listener = ln
	}
	early := httpapi.NewHandler(httpapi.Config{
		WebhookSecret:  m.Config.WebhookSecret.Value(),
		DefaultChannel: m.Config.SlackAlertChannel,
		Log:            m.Log,
	}, httpapi.Deps{
		Alerts:        alert.NewService(m.DB, tracker, m.Log),
		Ready:         func(context.Context) error { return errStarting },
		OnAlertStored: m.metrics.alertStored,
	})
	m.front = &frontDoor{}
	m.front.set(early)
	m.http = httpapi.NewServer(m.Config.HTTPAddr, m.metrics.handler(m.front), m.Log)
	m.served = make(chan error, 1)
	go func() {
		err := m.http.Serve(m.listener)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		m.served <- err
	}()
	return nil
}

// serveHTTP is the HTTP component of Run: the server started in Open.
func (m *Main) serveHTTP(ctx context.Context) error {
	select {
	case err := <-m.served:
		return err
	case <-ctx.Done():
		return nil
	}
}

// ready is the readiness check: the database answers and this replica's
// Socket Mode connection is up.
func (m *Main) ready(ctx context.Context) error {
	if err := m.DB.Ping(ctx); err != nil {
		return fmt.Errorf("database: %w", err)
	}
	if !m.Bot.Connected() {
		return errSocketDown
	}
	return nil
}

// linearMode names how Linear is reached, for the start-up line.
func (m *Main) linearMode() string {
	switch oauth, key := m.Config.OAuthEnabled(), m.Config.LinearAPIKey.IsSet(); {
	case oauth && key:
		return "oauth, api key until connected"
	case oauth:
		return "oauth"
	case key:
		return "api key"
	}
	return "none"
}

// logLinearMode says at start which Linear mode is in use, and warns when
// none is configured: alerts are posted, but nothing can be filed.
func (m *Main) logLinearMode() {
	mode := m.linearMode()
	if mode == "none" {
		m.Log.Warn("linear is not configured: alerts are posted to Slack but issues cannot be created; set LINEAR_API_KEY, or LINEAR_CLIENT_ID with LINEAR_CLIENT_SECRET and PUBLIC_URL", "linear_mode", mode)
		return
	}
	m.Log.Info("linear mode", "linear_mode", mode)
}

// checkLinearKey asks Linear once, in the background, whether it accepts
// LINEAR_API_KEY, and warns if it refuses it: otherwise the first sign
// would be a failed create in Slack.
func (m *Main) checkLinearKey(ctx context.Context, key alert.Tracker) error {
	if key == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	ws, err := key.Workspace(ctx)
	switch {
	case err == nil:
		m.Log.Info("linear api key accepted", "linear_org", ws.OrgName)
	case errors.Is(err, alert.ErrUnauthorized):
		m.Log.Warn("linear refused LINEAR_API_KEY: creating issues will fail until it is replaced (Linear → Settings → Security & access → Personal API keys)", "err", err)
	case ctx.Err() == nil || errors.Is(ctx.Err(), context.DeadlineExceeded):
		m.Log.Warn("could not check LINEAR_API_KEY with Linear", "err", err)
	}
	return nil
}
