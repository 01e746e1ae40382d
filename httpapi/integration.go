package httpapi

import (
	"context"
	"errors"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/proliferate/proliferate-linear/alert"
)

// Paths of the Linear integration, as the Proliferate docs name them.
const (
	integrationBase = "/api/v1/integrations/linear"
	// ConnectPath is where a connect link points (with ?state=) and where
	// the REST API hands out a connect link (with a bearer token).
	ConnectPath = integrationBase + "/connect"
	// CallbackPath is the OAuth redirect URI registered with Linear:
	// PUBLIC_URL + CallbackPath.
	CallbackPath = integrationBase + "/callback"
	// ConfirmPath and CancelPath take the replace page's two buttons.
	ConfirmPath = CallbackPath + "/confirm"
	CancelPath  = CallbackPath + "/cancel"
)

// Integration is the Linear connection lifecycle as the HTTP side needs it;
// *oauth.Manager implements it. Errors wrap alert's sentinels.
type Integration interface {
	// AuthorizeRedirect is Linear's authorize URL for the connect flow of
	// state; an unknown or expired state wraps alert.ErrNotFound.
	AuthorizeRedirect(ctx context.Context, state string) (string, error)
	// Complete finishes a connect flow from the callback's query. It may
	// return *alert.ReplaceError (another workspace is connected) or an
	// error wrapping alert.ErrNotFound (bad, used or expired state).
	Complete(ctx context.Context, query url.Values) (alert.Connection, error)
	// ConfirmReplace and CancelReplace settle a *alert.ReplaceError.
	ConfirmReplace(ctx context.Context, slackTeamID, confirmState string) (alert.Connection, error)
	CancelReplace(ctx context.Context, slackTeamID, confirmState string) error
	// ConnectURL, Connection and Disconnect are alert.Connector's.
	ConnectURL(ctx context.Context, slackTeamID, slackUserID string) (string, error)
	Connection(ctx context.Context, slackTeamID string) (alert.Connection, error)
	Disconnect(ctx context.Context, slackTeamID string) error
}

// LinearAPI is the Linear use cases the REST API serves; *alert.Service
// implements it.
type LinearAPI interface {
	Workspace(ctx context.Context) (alert.Workspace, error)
	Teams(ctx context.Context) ([]alert.Team, error)
	TeamMembers(ctx context.Context, teamID string) ([]alert.User, error)
	TeamLabels(ctx context.Context, teamID string) ([]alert.Label, error)
	TeamProjects(ctx context.Context, teamID string) ([]alert.Project, error)
	Accept(ctx context.Context, a alert.Alert) (alert.Alert, error)
	Alert(ctx context.Context, id int64) (alert.Alert, error)
	CreateIssue(ctx context.Context, req alert.CreateRequest) (alert.IssueLink, error)
	NewCreationID() string
}

// apiUser is the "Slack user" recorded for what the REST API does.
const apiUser = "api"

// onConnectedTimeout bounds one OnConnected call: it runs after the page
// is sent, so nothing else would stop a hung Slack call.
const onConnectedTimeout = 30 * time.Second

// maxOnConnected bounds the OnConnected calls running at once. A connect is
// an admin's rare act; more than this at once is a storm to shed.
const maxOnConnected = 4

// integration is the handlers' share of the Linear integration.
type integration struct {
	conn        Integration
	api         LinearAPI
	team        string
	onConnected func(ctx context.Context, c alert.Connection)

	slots chan struct{}
	bg    sync.WaitGroup
}

func newIntegration(cfg Config, deps Deps) *integration {
	return &integration{
		conn: deps.Integration, api: deps.API, team: cfg.SlackTeamID, onConnected: deps.OnConnected,
		slots: make(chan struct{}, maxOnConnected),
	}
}

// routes registers the integration's routes on r.
func (s *server) integrationRoutes(r router) {
	r.handle(http.MethodGet, ConnectPath, http.HandlerFunc(s.getConnect))
	r.handle(http.MethodGet, CallbackPath, http.HandlerFunc(s.getCallback))
	r.handle(http.MethodPost, ConfirmPath, http.HandlerFunc(s.postConfirm))
	r.handle(http.MethodPost, CancelPath, http.HandlerFunc(s.postCancel))
	r.handle(http.MethodGet, integrationBase+"/test", http.HandlerFunc(s.getTest))
	r.handle(http.MethodGet, integrationBase+"/teams", http.HandlerFunc(s.getTeams))
	r.handle(http.MethodGet, integrationBase+"/teams/{id}/members", http.HandlerFunc(s.getMembers))
	r.handle(http.MethodGet, integrationBase+"/teams/{id}/labels", http.HandlerFunc(s.getLabels))
	r.handle(http.MethodGet, integrationBase+"/teams/{id}/projects", http.HandlerFunc(s.getProjects))
	r.handle(http.MethodPost, integrationBase+"/issues", http.HandlerFunc(s.postIssue))
	r.handle(http.MethodDelete, integrationBase+"/disconnect", http.HandlerFunc(s.deleteConnection))
	r.handle(http.MethodGet, RulesPath, http.HandlerFunc(s.getRules))
	r.handle(http.MethodPut, RulesPath, http.HandlerFunc(s.putRules))
}

// connected tells OnConnected about a new connection, after the page is
// sent and apart from the request (whose context ends with it), bounded in
// time and in number. Close waits for the calls under way.
func (s *server) connected(ctx context.Context, c alert.Connection) {
	in := s.integ
	if in.onConnected == nil {
		return
	}
	select {
	case in.slots <- struct{}{}:
	default:
		s.log.WarnContext(ctx, "too many connects at once; not asking for the default team", "slack_team", c.SlackTeamID)
		return
	}
	in.bg.Add(1)
	go func() {
		defer in.bg.Done()
		defer func() { <-in.slots }()
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), onConnectedTimeout)
		defer cancel()
		in.onConnected(ctx, c)
	}()
}

// wait waits for the OnConnected calls under way, or for ctx.
func (in *integration) wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() { in.bg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// linearFailure answers err from a Linear use case with the status and code
// the Proliferate docs name, and a message saying what to do. Detail goes
// to the log only.
func (s *server) linearFailure(w http.ResponseWriter, r *http.Request, what string, err error) {
	var tmp *alert.TemporaryError
	retryAfter := func(def time.Duration) {
		d := def
		if errors.As(err, &tmp) && tmp.After > 0 {
			d = tmp.After
		}
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(d.Seconds()))))
	}
	switch {
	case errors.Is(err, alert.ErrNotConnected):
		writeErrorCode(w, http.StatusConflict, "not_connected",
			"Linear is not connected: run /proliferate-linear connect in Slack, or open the url from GET "+ConnectPath)
	case errors.Is(err, alert.ErrUnauthorized):
		writeErrorCode(w, http.StatusUnauthorized, "token_expired",
			"the Linear token expired or was revoked: reconnect Linear (/proliferate-linear connect in Slack)")
	case errors.Is(err, alert.ErrForbidden):
		writeErrorCode(w, http.StatusForbidden, "insufficient_permissions",
			"the connected Linear account is missing a permission for this; ask a Linear admin, or reconnect with an account that has it")
	case errors.Is(err, alert.ErrPlanLimit):
		writeErrorCode(w, http.StatusForbidden, "plan_limit", alert.UserMessage(err))
	case errors.Is(err, alert.ErrTooComplex):
		writeErrorCode(w, http.StatusBadRequest, "too_complex", "Linear refused the request as too complex")
	case alert.LabelsRefused(err):
		writeErrorCode(w, http.StatusBadRequest, "invalid_labels_or_project", alert.UserMessage(err))
	case errors.Is(err, alert.ErrInvalidInput):
		writeErrorCode(w, http.StatusBadRequest, "invalid_team_or_assignee",
			"Linear rejected the team or assignee (unknown, removed or archived)")
	case errors.Is(err, alert.ErrRateLimited):
		retryAfter(time.Minute)
		writeErrorCode(w, http.StatusTooManyRequests, "rate_limited", "Linear's rate limit was reached; retry after the Retry-After seconds")
	case errors.Is(err, alert.ErrUnavailable):
		retryAfter(10 * time.Second)
		writeErrorCode(w, http.StatusServiceUnavailable, "linear_unavailable", "Linear could not be reached; retry later")
	case errors.Is(err, alert.ErrInvalid):
		writeErrorCode(w, http.StatusBadRequest, "invalid_request", errorText(err))
	case errors.Is(err, alert.ErrNotFound):
		writeErrorCode(w, http.StatusNotFound, "not_found", what+": not found")
	default:
		s.log.ErrorContext(r.Context(), "linear api", "op", what, "err", err)
		writeErrorCode(w, http.StatusInternalServerError, "internal", what+" failed; retry later")
		return
	}
	s.log.WarnContext(r.Context(), "linear api refused", "op", what, "err", err)
}
