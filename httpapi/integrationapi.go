package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"

	"github.com/proliferate/proliferate-linear/alert"
)

// The REST API's bodies. Field names are snake_case, like the rest of the
// Proliferate API.
type (
	connectResponse struct {
		URL string `json:"url"`
	}
	testResponse struct {
		User         testUser      `json:"user"`
		Workspace    testWorkspace `json:"workspace"`
		RecentIssues []issueJSON   `json:"recent_issues"`
	}
	testUser struct {
		Name  string `json:"name"`
		Email string `json:"email"`
	}
	testWorkspace struct {
		ID     string `json:"id"`
		Name   string `json:"name"`
		URLKey string `json:"url_key"`
	}
	teamsResponse struct {
		Teams []teamJSON `json:"teams"`
	}
	teamJSON struct {
		ID   string `json:"id"`
		Key  string `json:"key"`
		Name string `json:"name"`
	}
	membersResponse struct {
		Members []memberJSON `json:"members"`
	}
	memberJSON struct {
		ID          string `json:"id"`
		Name        string `json:"name"`
		DisplayName string `json:"display_name"`
		Email       string `json:"email"`
	}
	labelsResponse struct {
		Labels []labelJSON `json:"labels"`
	}
	labelJSON struct {
		ID   string `json:"id"`
		Name string `json:"name"`
		// Workspace marks a workspace label (no team; every team's).
		Workspace bool `json:"workspace"`
	}
	projectsResponse struct {
		Projects []projectJSON `json:"projects"`
	}
	projectJSON struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	statusResponse struct {
		Status string `json:"status"`
	}
)

// issueJSON is a Linear issue in the REST API's answers.
type issueJSON struct {
	ID         string `json:"id,omitempty"`
	Identifier string `json:"identifier"`
	Title      string `json:"title"`
	URL        string `json:"url"`
	State      string `json:"state"`
}

// linearIDRe matches what may stand for a Linear team in a path: a UUID or
// a team key. Anything else cannot name a team, so it is refused here
// rather than spent on a Linear request.
var linearIDRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)

// apiReady checks the bearer token and that the collaborators a REST
// endpoint needs are wired; it answers for the request when not.
func (s *server) apiReady(w http.ResponseWriter, r *http.Request, needConn, needAPI, needTeam bool) bool {
	if !s.authorize(w, r) {
		return false
	}
	if (needConn && s.integ.conn == nil) || (needAPI && s.integ.api == nil) || (needTeam && s.integ.team == "") {
		writeErrorCode(w, http.StatusServiceUnavailable, "not_configured", "the Linear integration is not configured on this server")
		return false
	}
	return true
}

// apiConnect answers GET connect with a bearer token: a new connect link
// for the installation's Slack team, for Proliferate's settings page to
// open. The link is short-lived and single use, like the one Slack gives.
func (s *server) apiConnect(w http.ResponseWriter, r *http.Request) {
	if !s.apiReady(w, r, true, false, true) {
		return
	}
	u, err := s.integ.conn.ConnectURL(r.Context(), s.integ.team, apiUser)
	if errors.Is(err, alert.ErrInvalid) {
		// The request has no input to be wrong: the server's set-up is
		// (PUBLIC_URL missing).
		s.log.ErrorContext(r.Context(), "connect link", "err", err)
		writeErrorCode(w, http.StatusServiceUnavailable, "not_configured", "connect links are not configured on this server (PUBLIC_URL)")
		return
	}
	if err != nil {
		s.linearFailure(w, r, "connect link", err)
		return
	}
	writeJSON(w, http.StatusOK, connectResponse{URL: u})
}

// getTest handles GET test: who Linear says we are, the workspace, and a
// few recent issues; the REST twin of /proliferate-linear test.
func (s *server) getTest(w http.ResponseWriter, r *http.Request) {
	if !s.apiReady(w, r, false, true, false) {
		return
	}
	ws, err := s.integ.api.Workspace(r.Context())
	if err != nil {
		s.linearFailure(w, r, "linear test", err)
		return
	}
	resp := testResponse{
		User:         testUser{Name: ws.UserName, Email: ws.UserEmail},
		Workspace:    testWorkspace{ID: ws.OrgID, Name: ws.OrgName, URLKey: ws.OrgURLKey},
		RecentIssues: make([]issueJSON, 0, len(ws.RecentIssues)),
	}
	for _, is := range ws.RecentIssues {
		resp.RecentIssues = append(resp.RecentIssues, issueJSON{
			Identifier: is.Identifier, Title: is.Title, URL: is.URL, State: is.StateName,
		})
	}
	writeJSON(w, http.StatusOK, resp)
}

// getTeams handles GET teams.
func (s *server) getTeams(w http.ResponseWriter, r *http.Request) {
	if !s.apiReady(w, r, false, true, false) {
		return
	}
	teams, err := s.integ.api.Teams(r.Context())
	if err != nil {
		s.linearFailure(w, r, "linear teams", err)
		return
	}
	resp := teamsResponse{Teams: make([]teamJSON, 0, len(teams))}
	for _, t := range teams {
		resp.Teams = append(resp.Teams, teamJSON{ID: t.ID, Key: t.Key, Name: t.Name})
	}
	writeJSON(w, http.StatusOK, resp)
}

// getMembers handles GET teams/{id}/members: the possible assignees.
func (s *server) getMembers(w http.ResponseWriter, r *http.Request) {
	teamList(s, w, r, "a Linear team id or key", "team %s", LinearAPI.TeamMembers,
		func(u alert.User) memberJSON {
			return memberJSON{ID: u.ID, Name: u.Name, DisplayName: u.DisplayName, Email: u.Email}
		},
		func(m []memberJSON) any { return membersResponse{Members: m} })
}

// getLabels handles GET teams/{id}/labels: the labels an issue of the
// team may carry (the team's and the workspace's), for label_ids.
func (s *server) getLabels(w http.ResponseWriter, r *http.Request) {
	teamList(s, w, r, "a Linear team id", "labels of team %s", LinearAPI.TeamLabels,
		func(l alert.Label) labelJSON { return labelJSON{ID: l.ID, Name: l.Name, Workspace: l.Workspace} },
		func(l []labelJSON) any { return labelsResponse{Labels: l} })
}

// getProjects handles GET teams/{id}/projects: the team's projects, for
// project_id.
func (s *server) getProjects(w http.ResponseWriter, r *http.Request) {
	teamList(s, w, r, "a Linear team id", "projects of team %s", LinearAPI.TeamProjects,
		func(p alert.Project) projectJSON { return projectJSON{ID: p.ID, Name: p.Name} },
		func(p []projectJSON) any { return projectsResponse{Projects: p} })
}

// teamList answers a GET of one team's list: the path's id is checked
// (idMust words what it must be), fetch asks Linear (a failure is worded by
// what, given the id), and each item is turned into its JSON by conv and
// the list wrapped into the response body by wrap.
func teamList[T, J any](s *server, w http.ResponseWriter, r *http.Request, idMust, what string,
	fetch func(LinearAPI, context.Context, string) ([]T, error), conv func(T) J, wrap func([]J) any) {
	if !s.apiReady(w, r, false, true, false) {
		return
	}
	id := r.PathValue("id")
	if !linearIDRe.MatchString(id) {
		writeErrorCode(w, http.StatusBadRequest, "invalid_request", "id: must be "+idMust)
		return
	}
	items, err := fetch(s.integ.api, r.Context(), id)
	if err != nil {
		s.linearFailure(w, r, fmt.Sprintf(what, id), err)
		return
	}
	out := make([]J, 0, len(items))
	for _, it := range items {
		out = append(out, conv(it))
	}
	writeJSON(w, http.StatusOK, wrap(out))
}

// deleteConnection handles DELETE disconnect: the grant is revoked at
// Linear and the tokens deleted; every error↔issue link is kept. It is
// idempotent: with nothing connected the answer is still 200, saying so.
func (s *server) deleteConnection(w http.ResponseWriter, r *http.Request) {
	if !s.apiReady(w, r, true, false, true) {
		return
	}
	err := s.integ.conn.Disconnect(r.Context(), s.integ.team)
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, statusResponse{Status: "disconnected"})
	case errors.Is(err, alert.ErrNotConnected):
		writeJSON(w, http.StatusOK, statusResponse{Status: "not_connected"})
	default:
		s.linearFailure(w, r, "linear disconnect", err)
	}
}
