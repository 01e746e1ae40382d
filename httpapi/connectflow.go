package httpapi

import (
	"errors"
	"net/http"
	"strings"

	"github.com/proliferate/proliferate-linear/alert"
)

// maxFormBytes bounds the replace page's form: a team and a state.
const maxFormBytes = 4 << 10

// getConnect handles GET /api/v1/integrations/linear/connect, which serves
// two callers on one path (the Proliferate docs name one "connect"):
//
//   - an admin's browser following a connect link (?state=...) is
//     redirected to Linear's consent screen;
//   - a REST client (Authorization: Bearer) gets a new connect link as JSON.
//
// A request with neither a state nor an Authorization header, from a
// browser (Accept: text/html), is a connect link cut short: it gets the
// "expired" page rather than a JSON 401.
func (s *server) getConnect(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	browser := q.Has("state") ||
		(r.Header.Get("Authorization") == "" && strings.Contains(r.Header.Get("Accept"), "text/html"))
	if !browser {
		s.apiConnect(w, r)
		return
	}
	if s.integ.conn == nil {
		s.writePage(w, r, http.StatusServiceUnavailable, pageNotConfigured)
		return
	}
	state := q.Get("state")
	if state == "" {
		s.writePage(w, r, http.StatusBadRequest, pageLinkExpired)
		return
	}
	// AuthorizeRedirect leaves the state usable (a browser, or Slack's link
	// preview, may load the link more than once); the callback uses it up.
	target, err := s.integ.conn.AuthorizeRedirect(r.Context(), state)
	switch {
	case errors.Is(err, alert.ErrNotFound):
		s.writePage(w, r, http.StatusGone, pageLinkExpired)
	case err != nil:
		s.log.ErrorContext(r.Context(), "linear connect redirect", "err", err)
		s.writePage(w, r, http.StatusBadGateway, pageUnreachable)
	default:
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		h.Set("Referrer-Policy", "no-referrer")
		http.Redirect(w, r, target, http.StatusFound)
	}
}

// getCallback handles GET /api/v1/integrations/linear/callback, where
// Linear sends the admin's browser back with ?code=&state= (or ?error=).
func (s *server) getCallback(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if r.Method == http.MethodHead {
		// A HEAD must not use up the state the real GET needs.
		s.writePage(w, r, http.StatusOK, pageUsed)
		return
	}
	if s.integ.conn == nil {
		s.writePage(w, r, http.StatusServiceUnavailable, pageNotConfigured)
		return
	}
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		// access_denied is the admin's Deny; any other error is Linear
		// refusing the request. Either way nothing was granted, and the
		// state is left to expire: Complete would only say the same.
		s.log.InfoContext(ctx, "linear connect not granted", "oauth_error", truncate(e, 64))
		s.writePage(w, r, http.StatusForbidden, pageDenied)
		return
	}
	if q.Get("state") == "" {
		s.writePage(w, r, http.StatusBadRequest, pageUsed)
		return
	}
	c, err := s.integ.conn.Complete(ctx, q)
	var replace *alert.ReplaceError
	switch {
	case err == nil:
		s.connected(ctx, c)
		s.writePage(w, r, http.StatusOK, connectedPage(orgName(c)))
	case errors.As(err, &replace):
		s.writePage(w, r, http.StatusOK, replacePage(orgName(replace.Current), orgName(replace.Proposed),
			replace.Proposed.SlackTeamID, replace.ConfirmState))
	case errors.Is(err, alert.ErrNotFound):
		s.writePage(w, r, http.StatusGone, pageUsed)
	default:
		s.log.ErrorContext(ctx, "linear connect callback", "err", err)
		s.writePage(w, r, http.StatusBadGateway, pageUnreachable)
	}
}

// postConfirm handles the replace page's Replace button.
func (s *server) postConfirm(w http.ResponseWriter, r *http.Request) {
	team, state, ok := s.confirmForm(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	c, err := s.integ.conn.ConfirmReplace(ctx, team, state)
	switch {
	case err == nil:
		s.connected(ctx, c)
		s.writePage(w, r, http.StatusOK, connectedPage(orgName(c)))
	case errors.Is(err, alert.ErrNotFound):
		s.writePage(w, r, http.StatusGone, pageUsed)
	case errors.Is(err, alert.ErrConflict):
		s.writePage(w, r, http.StatusConflict, pageChanged)
	default:
		s.log.ErrorContext(ctx, "linear replace confirm", "slack_team", team, "err", err)
		s.writePage(w, r, http.StatusBadGateway, pageUnreachable)
	}
}

// postCancel handles the replace page's Keep button.
func (s *server) postCancel(w http.ResponseWriter, r *http.Request) {
	team, state, ok := s.confirmForm(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	err := s.integ.conn.CancelReplace(ctx, team, state)
	switch {
	case err == nil:
		current := ""
		if c, err := s.integ.conn.Connection(ctx, team); err == nil {
			current = orgName(c)
		}
		s.writePage(w, r, http.StatusOK, keptPage(current))
	case errors.Is(err, alert.ErrNotFound):
		s.writePage(w, r, http.StatusGone, pageUsed)
	default:
		// The proposal is used up either way; the grant it held may stay
		// unrevoked at Linear, which the log says.
		s.log.ErrorContext(ctx, "linear replace cancel", "slack_team", team, "err", err)
		s.writePage(w, r, http.StatusBadGateway, pageUnreachable)
	}
}

// confirmForm reads the replace page's form: the Slack team and the
// confirm state. The state is the proof that this browser saw the page (it
// is unguessable, single use and bound to the team by the Integration), so
// no other CSRF token is needed; the team only says where to look.
func (s *server) confirmForm(w http.ResponseWriter, r *http.Request) (team, state string, ok bool) {
	if s.integ.conn == nil {
		s.writePage(w, r, http.StatusServiceUnavailable, pageNotConfigured)
		return "", "", false
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		s.writePage(w, r, http.StatusBadRequest, pageUsed)
		return "", "", false
	}
	team, state = r.PostForm.Get("team"), r.PostForm.Get("state")
	if team == "" {
		team = s.integ.team
	}
	if team == "" || state == "" {
		s.writePage(w, r, http.StatusBadRequest, pageUsed)
		return "", "", false
	}
	return team, state, true
}

// orgName is how a page names a connection's Linear workspace.
func orgName(c alert.Connection) string {
	switch {
	case c.OrgName != "":
		return c.OrgName
	case c.OrgURLKey != "":
		return c.OrgURLKey
	}
	return "your Linear workspace"
}

// truncate cuts s to at most n bytes, for logging text a browser sent.
func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
