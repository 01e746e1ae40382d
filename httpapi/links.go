package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/proliferate/proliferate-linear/alert"
)

// LinkReader reads the issue link of a Proliferate error. store.DB
// implements it.
type LinkReader interface {
	// Link returns the link of errorID; an error wrapping
	// alert.ErrNotFound when the error has none.
	Link(ctx context.Context, errorID string) (alert.IssueLink, error)
}

// linksResponse is the body of GET /api/v1/errors/{issue_id}/links.
// Links is a list, though an error has at most one link today, so that a
// client written now keeps working if errors may one day have several.
type linksResponse struct {
	ErrorID string     `json:"error_id"`
	Links   []linkJSON `json:"links"`
}

// linkJSON is one link with the issue's last known state. Assignee and
// ClosedAt are null when the issue has none (unassigned, open), so a client
// need not tell "" from absent.
type linkJSON struct {
	IssueID    string     `json:"issue_id"`
	Identifier string     `json:"identifier"`
	Title      string     `json:"title"`
	URL        string     `json:"url"`
	State      string     `json:"state"`
	StateType  string     `json:"state_type"`
	Assignee   *string    `json:"assignee"`
	Team       string     `json:"team"`
	Kind       string     `json:"kind"`
	CreatedBy  string     `json:"created_by"`
	CreatedAt  time.Time  `json:"created_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
	ClosedAt   *time.Time `json:"closed_at"`
}

func toLinkJSON(l alert.IssueLink) linkJSON {
	j := linkJSON{
		IssueID: l.IssueID, Identifier: l.Identifier, Title: l.Title, URL: l.URL,
		State: l.StateName, StateType: l.StateType, Team: l.TeamKey, Kind: string(l.Kind),
		CreatedBy: l.CreatedBy, CreatedAt: l.CreatedAt.UTC(), UpdatedAt: l.UpdatedAt.UTC(),
	}
	if l.AssigneeName != "" {
		j.Assignee = &l.AssigneeName
	}
	if !l.ClosedAt.IsZero() {
		t := l.ClosedAt.UTC()
		j.ClosedAt = &t
	}
	return j
}

// getLinks handles GET /api/v1/errors/{issue_id}/links: the Linear issues
// tracking a Proliferate error ({issue_id} is Proliferate's error id, as in
// the alert payload), with their current status.
//
// An error with no link is answered 200 with an empty list, not 404: the
// error exists in Proliferate whether or not anyone tracked it, and a
// caller asking "is this tracked?" should not have to treat "no" as a
// failure. 404 stays for paths that do not exist.
func (s *server) getLinks(w http.ResponseWriter, r *http.Request) {
	if !s.authorize(w, r) {
		return
	}
	ctx := r.Context()
	if s.links == nil {
		writeErrorCode(w, http.StatusServiceUnavailable, "not_configured", "the links API is not configured on this server")
		return
	}
	errorID := r.PathValue("issue_id")
	if len(errorID) > maxIssueIDLen {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("issue_id: longer than %d bytes", maxIssueIDLen))
		return
	}
	resp := linksResponse{ErrorID: errorID, Links: []linkJSON{}}
	link, err := s.links.Link(ctx, errorID)
	switch {
	case errors.Is(err, alert.ErrNotFound):
	case err != nil:
		s.log.ErrorContext(ctx, "read link", "error_id", errorID, "err", err)
		w.Header().Set("Retry-After", retryAfterSeconds)
		writeErrorCode(w, http.StatusServiceUnavailable, "unavailable", "the links could not be read; retry later")
		return
	default:
		resp.Links = append(resp.Links, toLinkJSON(link))
	}
	writeJSON(w, http.StatusOK, resp)
}

// authorize checks the REST API's bearer token and answers for it when it
// does not pass: 503 when no token is configured (an empty token must not
// let everyone in), 401 with WWW-Authenticate otherwise (RFC 6750 §3).
func (s *server) authorize(w http.ResponseWriter, r *http.Request) bool {
	if len(s.apiToken) == 0 {
		writeErrorCode(w, http.StatusServiceUnavailable, "api_disabled", "API is disabled: set API_TOKEN")
		return false
	}
	token, ok := bearerToken(r.Header.Get("Authorization"))
	if !ok || !tokenEqual(token, s.apiToken) {
		// The log names neither the token sent nor the expected one.
		s.log.WarnContext(r.Context(), "api request not authenticated", "path", r.URL.Path, "remote", r.RemoteAddr, "had_token", ok)
		w.Header().Set("WWW-Authenticate", `Bearer realm="proliferate-linear"`)
		writeErrorCode(w, http.StatusUnauthorized, "unauthorized", "missing or invalid bearer token (Authorization: Bearer <API_TOKEN>)")
		return false
	}
	return true
}

// bearerToken reads "Bearer <token>"; the scheme is case-insensitive
// (RFC 7235 §2.1).
func bearerToken(header string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// tokenEqual compares in constant time. Hashing first makes the time
// independent of the lengths too (subtle.ConstantTimeCompare returns at
// once on a length mismatch, which would leak the token's length).
func tokenEqual(got string, want []byte) bool {
	g, w := sha256.Sum256([]byte(got)), sha256.Sum256(want)
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}
