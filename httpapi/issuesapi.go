package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/google/uuid"

	"github.com/proliferate/proliferate-linear/alert"
)

// createIssueRequest is the body of POST /api/v1/integrations/linear/issues.
// The error is named by exactly one of AlertID (an alert already stored
// here) or Alert (an alert payload, as POST /api/v1/alerts takes it, which
// is stored first).
type createIssueRequest struct {
	AlertID     *int64          `json:"alert_id"`
	Alert       json.RawMessage `json:"alert"`
	TeamID      string          `json:"team_id"`
	AssigneeID  string          `json:"assignee_id"`
	Title       *string         `json:"title"`
	Description *string         `json:"description"`
	Priority    *int            `json:"priority"`
	// LabelIDs are labels of the team or the workspace; ProjectID a
	// project of the team (GET teams/{id}/labels and /projects list them).
	LabelIDs  []string `json:"label_ids"`
	ProjectID string   `json:"project_id"`
	// CreationID is the idempotency key: a UUID v4 the client makes once per
	// intent and sends again on every retry of it, so a retry after a lost
	// answer returns the same issue instead of making a second one. Without
	// it the server mints one (returned as creation_id), and a retry of the
	// request is a new intent.
	CreationID string `json:"creation_id"`
}

// createdIssue is the 201 body; CreationID says which key to retry with.
type createdIssue struct {
	issueJSON
	CreationID string `json:"creation_id"`
}

// alreadyTracked is the 409 body when the error already has an issue.
type alreadyTracked struct {
	errorBody
	Issue issueJSON `json:"issue"`
}

// Field limits: Linear takes long text, but a title is a line.
const (
	maxTitleLen = 1000
	maxIDLen    = 64
	maxLabelIDs = 20
)

// postIssue handles POST issues: create the Linear issue for an error
// exactly once, the same use case as the Slack modal.
func (s *server) postIssue(w http.ResponseWriter, r *http.Request) {
	if !s.apiReady(w, r, false, true, false) {
		return
	}
	ctx := r.Context()
	req, err := decodeCreateIssue(w, r)
	if err != nil {
		status := http.StatusBadRequest
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			status = http.StatusRequestEntityTooLarge
		}
		writeErrorCode(w, status, "invalid_request", errorText(err))
		return
	}

	var a alert.Alert
	if req.AlertID != nil {
		a, err = s.integ.api.Alert(ctx, *req.AlertID)
		if errors.Is(err, alert.ErrNotFound) {
			writeErrorCode(w, http.StatusNotFound, "alert_not_found", fmt.Sprintf("alert_id: no alert %d", *req.AlertID))
			return
		}
	} else {
		a, err = s.acceptPayload(req.Alert)
		var fe *fieldError
		if errors.As(err, &fe) {
			writeErrorCode(w, http.StatusBadRequest, "invalid_request", errorText(err))
			return
		}
		if err == nil {
			if a, err = s.integ.api.Accept(ctx, a); err == nil {
				logAccepted(w, a)
			}
		}
	}
	if err != nil {
		s.linearFailure(w, r, "alert", err)
		return
	}

	cr := alert.CreateRequest{
		CreationID: req.CreationID, AlertID: a.ID, TeamID: req.TeamID, AssigneeID: req.AssigneeID,
		Title: a.Title(), SlackUser: apiUser, LabelIDs: req.LabelIDs, ProjectID: req.ProjectID,
	}
	if cr.CreationID == "" {
		cr.CreationID = s.integ.api.NewCreationID()
	}
	if req.Title != nil {
		cr.Title = *req.Title
	}
	if req.Description != nil {
		cr.Description = *req.Description // "" means the template.
	}
	if req.Priority != nil {
		cr.Priority = alert.Priority(*req.Priority)
	}
	link, err := s.integ.api.CreateIssue(ctx, cr)
	var linked *alert.AlreadyLinkedError
	switch {
	case err == nil:
		writeJSON(w, http.StatusCreated, createdIssue{issueJSON: linkIssue(link), CreationID: cr.CreationID})
	case errors.As(err, &linked):
		writeJSON(w, http.StatusConflict, alreadyTracked{
			errorBody: errorBody{Code: "already_tracked", Error: fmt.Sprintf("this error is already tracked by %s", linked.Link.Identifier)},
			Issue:     linkIssue(linked.Link),
		})
	case errors.Is(err, alert.ErrConflict):
		w.Header().Set("Retry-After", "5")
		writeErrorCode(w, http.StatusConflict, "creation_in_progress",
			"an issue for this error is being created right now; retry shortly to get it")
	default:
		s.linearFailure(w, r, "create issue", err)
	}
}

// decodeCreateIssue reads and checks the body, naming the field at fault.
// Unknown fields are refused: a misspelt "teamId" must not be ignored.
func decodeCreateIssue(w http.ResponseWriter, r *http.Request) (createIssueRequest, error) {
	var req createIssueRequest
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return req, fmt.Errorf("body: larger than 1 MiB: %w", err)
		}
		return req, errors.New("body: could not be read")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		var typeErr *json.UnmarshalTypeError
		var syntaxErr *json.SyntaxError
		switch {
		case errors.As(err, &typeErr) && typeErr.Field != "":
			return req, &fieldError{typeErr.Field, "must be " + kindName(typeErr.Type)}
		case errors.As(err, &syntaxErr):
			return req, &fieldError{"body", fmt.Sprintf("invalid JSON at byte %d", syntaxErr.Offset)}
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return req, &fieldError{strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`), "unknown field"}
		}
		return req, &fieldError{"body", "must be a JSON object"}
	}
	if dec.More() {
		return req, &fieldError{"body", "must be one JSON object"}
	}

	var errs []error
	bad := func(field, msg string) { errs = append(errs, &fieldError{field, msg}) }
	hasAlert := len(req.Alert) > 0 && string(req.Alert) != "null"
	switch {
	case req.AlertID != nil && hasAlert:
		bad("alert_id", "give alert_id or alert, not both")
	case req.AlertID == nil && !hasAlert:
		bad("alert_id", "required (or alert)")
	case req.AlertID != nil && *req.AlertID <= 0:
		bad("alert_id", "must be a positive integer")
	}
	switch req.TeamID = strings.TrimSpace(req.TeamID); {
	case req.TeamID == "":
		bad("team_id", "required")
	case len(req.TeamID) > maxIDLen:
		bad("team_id", fmt.Sprintf("longer than %d bytes", maxIDLen))
	}
	if req.AssigneeID = strings.TrimSpace(req.AssigneeID); len(req.AssigneeID) > maxIDLen {
		bad("assignee_id", fmt.Sprintf("longer than %d bytes", maxIDLen))
	}
	if len(req.LabelIDs) > maxLabelIDs {
		bad("label_ids", fmt.Sprintf("at most %d labels", maxLabelIDs))
	}
	for i, id := range req.LabelIDs {
		if id = strings.TrimSpace(id); id == "" || len(id) > maxIDLen {
			bad("label_ids", fmt.Sprintf("label %d is empty or longer than %d bytes", i+1, maxIDLen))
			break
		}
		req.LabelIDs[i] = id
	}
	if req.ProjectID = strings.TrimSpace(req.ProjectID); len(req.ProjectID) > maxIDLen {
		bad("project_id", fmt.Sprintf("longer than %d bytes", maxIDLen))
	}
	if req.Title != nil {
		switch t := strings.TrimSpace(*req.Title); {
		case t == "":
			bad("title", "must not be empty (leave it out for the alert's title)")
		case len(t) > maxTitleLen:
			bad("title", fmt.Sprintf("longer than %d bytes", maxTitleLen))
		default:
			req.Title = &t
		}
	}
	if req.Priority != nil && (*req.Priority < int(alert.PriorityNone) || *req.Priority > int(alert.PriorityLow)) {
		bad("priority", "must be 0 (none), 1 (urgent), 2 (high), 3 (medium) or 4 (low)")
	}
	if req.CreationID != "" {
		if id, err := uuid.Parse(req.CreationID); err != nil || id.Version() != 4 || len(req.CreationID) != 36 {
			bad("creation_id", "must be a UUID v4 like 0b5c4d2e-8f1a-4c3b-9d6e-7a8b9c0d1e2f")
		}
	}
	return req, errors.Join(errs...)
}

// acceptPayload validates an alert payload as POST /api/v1/alerts does;
// problems come back as *fieldError, prefixed with "alert.".
func (s *server) acceptPayload(raw json.RawMessage) (alert.Alert, error) {
	p, err := decodePayload(raw)
	if err == nil {
		var a alert.Alert
		if a, err = p.toAlert(s.defaultChannel); err == nil {
			return a, nil
		}
	}
	return alert.Alert{}, prefixFields("alert.", err)
}

// prefixFields puts prefix before the field of every *fieldError in err.
func prefixFields(prefix string, err error) error {
	var out []error
	for _, e := range unjoin(err) {
		var fe *fieldError
		if errors.As(e, &fe) {
			e = &fieldError{prefix + fe.field, fe.msg}
		}
		out = append(out, e)
	}
	return errors.Join(out...)
}

// unjoin lists the errors errors.Join put together, or err alone.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// linkIssue is a link's issue as the REST API shows it.
func linkIssue(l alert.IssueLink) issueJSON {
	return issueJSON{ID: l.IssueID, Identifier: l.Identifier, Title: l.Title, URL: l.URL, State: l.StateName}
}
