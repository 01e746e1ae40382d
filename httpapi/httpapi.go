// Package httpapi is proliferate-linear's HTTP side: the signed alert
// webhook Proliferate calls (POST /api/v1/alerts), the Linear webhook that
// brings issue status back (POST /webhooks/linear), the links API
// (GET /api/v1/errors/{issue_id}/links), the Linear integration under
// /api/v1/integrations/linear (the OAuth connect and callback pages an
// admin's browser sees, and the REST API), liveness and readiness probes,
// and a place to mount other adapters' handlers. It uses only net/http and its
// Go 1.22 method-and-path patterns.
//
// Every response but the browser pages is JSON; errors are {"error": "...", "code": "..."}. Requests are logged (method, path, status,
// duration; never bodies, queries or headers) and a panicking handler
// answers 500 instead of killing the connection silently.
package httpapi

import (
	"cmp"
	"context"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/linear/webhook"
)

// AlertAccepter stores an alert durably, folding a repeat into the existing
// one, and returns the stored alert. *alert.Service implements it.
type AlertAccepter interface {
	Accept(ctx context.Context, a alert.Alert) (alert.Alert, error)
}

// RoutedAccepter is an AlertAccepter that routes an alert naming no
// channel (a.Channel empty) by the routing rules' channel, else to
// defaultChannel, refusing it (alert.ErrInvalid) with neither.
// *alert.Service implements it; without it alerts go to the default channel.
type RoutedAccepter interface {
	AcceptRouted(ctx context.Context, a alert.Alert, defaultChannel string) (alert.Alert, error)
}

// Config is what the handlers need to know.
type Config struct {
	// WebhookSecret signs alert requests (PROLIFERATE_WEBHOOK_SECRET). When
	// empty, alert requests are refused with 503: an empty HMAC key would
	// let anyone sign.
	WebhookSecret string
	// DefaultChannel is where an alert without its own channel goes
	// (SLACK_ALERT_CHANNEL). Empty: every alert must name a channel.
	DefaultChannel string
	// LinearWebhookSecret is the signing secret of the Linear webhook
	// (LINEAR_WEBHOOK_SECRET). When empty, POST /webhooks/linear answers
	// 503: nothing can be verified.
	LinearWebhookSecret string
	// APIToken is the bearer token of the REST API (API_TOKEN). When empty,
	// the API answers 503.
	APIToken string
	// SlackTeamID is the installation's Slack team: the REST API connects,
	// tests and disconnects Linear for it.
	SlackTeamID string
	// Now is the clock the signature timestamps are checked against;
	// time.Now when nil.
	Now func() time.Time
	// ReadyTimeout bounds GET /readyz's check (DefaultReadyTimeout when
	// zero); tests make it short.
	ReadyTimeout time.Duration
	// Log receives request and error logs; discarded when nil.
	Log *slog.Logger
}

// Deps are the collaborators the handlers call.
type Deps struct {
	// Alerts stores accepted alerts. Required for POST /api/v1/alerts.
	Alerts AlertAccepter
	// Ready, when set, is called by GET /readyz (e.g. a database ping);
	// an error makes the replica unready.
	Ready func(ctx context.Context) error
	// Deliveries stores verified Linear deliveries as jobs of the work
	// engine (*alert.Service), which applies them after the answer.
	// Required for POST /webhooks/linear.
	Deliveries DeliveryAccepter
	// Organization, when set, names the connected Linear organization:
	// Issue deliveries of any other one are refused (403
	// other_organization), nothing applied.
	Organization OrganizationSource
	// Links reads an error's issue link for the links API (store.DB).
	Links LinkReader
	// Routes mounts further handlers (OAuth callback, Linear webhooks) by
	// ServeMux pattern, behind the same logging and panic recovery. A
	// pattern that clashes with a built-in one panics in New, at startup.
	Routes map[string]http.Handler

	// Integration runs the Linear connection's lifecycle
	// (*oauth.Manager): the connect and callback pages and the REST
	// connect and disconnect. nil: those answer 503.
	Integration Integration
	// API serves the REST API's Linear use cases (*alert.Service). nil:
	// those answer 503.
	API LinearAPI
	// OnConnected, when set, is called once a connection is made or
	// replaced from the browser (the bot asks the admin in Slack for the
	// default team). It runs after the page is answered, with its own
	// context bounded to 30 s.
	OnConnected func(ctx context.Context, c alert.Connection)
	// OnAlertStored, when set, is called with each alert the webhook
	// stored, as stored (Occurrences 1: a new one; more: a repeat folded),
	// before its 202. The metrics count new alerts and folds by it.
	OnAlertStored func(a alert.Alert)
}

// MaxBodyBytes bounds an alert body. Proliferate's payload is a few KiB;
// the stack trace is the only big part.
const MaxBodyBytes = 1 << 20

// DefaultReadyTimeout bounds the readiness check: probes (Kubernetes'
// default timeoutSeconds is 1) should get an answer, not a hang.
const DefaultReadyTimeout = 2 * time.Second

// server holds the handlers' shared state.
type server struct {
	secret         []byte
	macs           *macs // keyed with secret.
	defaultChannel string
	now            func() time.Time
	log            *slog.Logger
	alerts         AlertAccepter
	onAlertStored  func(alert.Alert) // nil: nobody asked.
	ready          func(ctx context.Context) error
	readyTimeout   time.Duration

	linear   *linearHook // nil when Linear webhooks are not configured.
	apiToken []byte
	links    LinkReader
	integ    *integration
}

// Handler is the HTTP handler with every route. Close waits for the work
// it started after an answer (OnConnected calls).
type Handler struct {
	h http.Handler
	s *server
}

// ServeHTTP serves a request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.h.ServeHTTP(w, r) }

// Close waits until every OnConnected call under way has returned (each
// is bounded to 30 s), or ctx is done. Call it after
// http.Server.Shutdown, so no request is still being handled. Linear
// deliveries need no draining: each is a stored job before its 200.
func (h *Handler) Close(ctx context.Context) error {
	return h.s.integ.wait(ctx)
}

// New returns the HTTP handler with every route, wrapped in request
// logging and panic recovery. It is NewHandler for callers that need no
// Close.
func New(cfg Config, deps Deps) http.Handler { return NewHandler(cfg, deps) }

// NewHandler returns the HTTP handler with every route, wrapped in request
// logging and panic recovery.
func NewHandler(cfg Config, deps Deps) *Handler {
	s := &server{
		secret:         []byte(cfg.WebhookSecret),
		macs:           newMACs([]byte(cfg.WebhookSecret)),
		defaultChannel: cfg.DefaultChannel,
		now:            cfg.Now,
		log:            cfg.Log,
		alerts:         deps.Alerts,
		onAlertStored:  deps.OnAlertStored,
		ready:          deps.Ready,
		readyTimeout:   cmp.Or(cfg.ReadyTimeout, DefaultReadyTimeout),
		apiToken:       []byte(cfg.APIToken),
		links:          deps.Links,
		integ:          newIntegration(cfg, deps),
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	switch {
	case cfg.LinearWebhookSecret != "" && deps.Deliveries != nil:
		s.linear = &linearHook{
			verifier:   webhook.Verifier{Secret: []byte(cfg.LinearWebhookSecret), Now: s.now},
			deliveries: deps.Deliveries,
			org:        deps.Organization,
		}
	case cfg.LinearWebhookSecret != "":
		// A secret without the collaborator is a wiring mistake; say so
		// at startup rather than on the first delivery.
		s.log.Error("Linear webhook secret set but Deliveries missing: POST /webhooks/linear will answer 503")
	}

	mux := http.NewServeMux()
	r := router{mux: mux, allowed: map[string][]string{}}
	r.handle(http.MethodPost, "/api/v1/alerts", http.HandlerFunc(s.postAlert))
	r.handle(http.MethodGet, "/healthz", http.HandlerFunc(s.healthz))
	r.handle(http.MethodGet, "/readyz", http.HandlerFunc(s.readyz))
	r.handle(http.MethodPost, "/webhooks/linear", http.HandlerFunc(s.postLinear))
	r.handle(http.MethodGet, "/api/v1/errors/{issue_id}/links", http.HandlerFunc(s.getLinks))
	s.integrationRoutes(r)
	r.finish()
	for pattern, h := range deps.Routes {
		mux.Handle(pattern, h)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusNotFound, "not found")
	})
	return &Handler{h: logRequests(s.log, recoverPanics(s.log, mux)), s: s}
}

// router registers method patterns and, for each path, a method-less
// fallback that answers 405 in JSON (ServeMux's own 405 is plain text).
type router struct {
	mux     *http.ServeMux
	allowed map[string][]string
}

func (r router) handle(method, path string, h http.Handler) {
	r.mux.Handle(method+" "+path, h)
	r.allowed[path] = append(r.allowed[path], method)
	if method == http.MethodGet {
		r.allowed[path] = append(r.allowed[path], http.MethodHead)
	}
}

func (r router) finish() {
	for path, methods := range r.allowed {
		slices.Sort(methods)
		allow := strings.Join(methods, ", ")
		r.mux.HandleFunc(path, func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Allow", allow)
			writeError(w, http.StatusMethodNotAllowed, "method not allowed; use "+allow)
		})
	}
}

// healthz is liveness: the process serves HTTP. It checks nothing else, so
// a database outage does not get every replica restarted.
func (s *server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz is readiness: the replica can do its work (its Ready check passes).
func (s *server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.ready != nil {
		ctx, cancel := context.WithTimeout(r.Context(), s.readyTimeout)
		defer cancel()
		if err := s.ready(ctx); err != nil {
			// The cause goes to the log, not to whoever can reach the probe.
			s.log.WarnContext(r.Context(), "not ready", "err", err)
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable"})
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// NewServer wraps h in an http.Server with timeouts, so a slow or idle
// client cannot hold connections open forever (Slowloris).
func NewServer(addr string, h http.Handler, log *slog.Logger) *http.Server {
	srv := &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	if log != nil {
		srv.ErrorLog = slog.NewLogLogger(log.Handler(), slog.LevelWarn)
	}
	return srv
}
