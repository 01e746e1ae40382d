package linear

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/proliferate/proliferate-linear/alert"
)

// CreateIssue creates the issue and its attachment (the back-link to the
// Proliferate error) in one GraphQL request: issueCreate then
// attachmentCreate, whose issueId is req.ID, the client-generated UUID also
// sent as IssueCreateInput.id.
//
// Linear refuses a second issue with the same id. So when issueCreate fails
// after Linear executed the request, the issue is read back by id: if it
// exists, an earlier attempt went through (its response was lost) and that
// issue is returned, its attachment created if missing. A normal create is
// exactly one HTTP request.
func (c *Client) CreateIssue(ctx context.Context, req alert.IssueRequest) (alert.Issue, error) {
	if strings.TrimSpace(req.ID) == "" {
		return alert.Issue{}, fmt.Errorf("linear create issue: request has no id: %w", alert.ErrInvalid)
	}
	att, err := attachmentInput(req)
	if err != nil {
		return alert.Issue{}, err
	}
	in := IssueCreateInput{
		Id:          req.ID,
		TeamId:      req.TeamID,
		Title:       req.Title,
		Description: req.Description,
		Priority:    int(req.Priority),
		AssigneeId:  req.AssigneeID,
		LabelIds:    req.LabelIDs,
		ProjectId:   req.ProjectID,
	}
	if c.ActorApp {
		in.CreateAsUser, in.DisplayIconUrl = req.CreateAsUser, req.DisplayIconURL
	}
	log := c.log.With("creation_id", req.ID, "team_id", req.TeamID)

	var resp *createIssueResponse
	err = c.call(ctx, "createIssue", func(ctx context.Context) (err error) {
		resp, err = createIssue(ctx, c.gql, in, att)
		return err
	})
	if err == nil {
		if !resp.IssueCreate.Success || resp.IssueCreate.Issue.Id == "" {
			return alert.Issue{}, fmt.Errorf("linear createIssue: issueCreate reported no success: %w", alert.ErrUnavailable)
		}
		if !resp.AttachmentCreate.Success {
			log.WarnContext(ctx, "linear attachment not created", "issue", resp.IssueCreate.Issue.Identifier)
		}
		return toIssue(&resp.IssueCreate.Issue.issueFields), nil
	}
	if !worthReadback(err) {
		return alert.Issue{}, err
	}

	iss, rerr := c.getIssue(ctx, req.ID)
	switch {
	case errors.Is(rerr, alert.ErrNotFound):
		return alert.Issue{}, err // nothing was created: Linear's refusal stands.
	case rerr != nil:
		// Unknown whether the issue exists; the caller retries the same id.
		return alert.Issue{}, fmt.Errorf("linear createIssue: read back %s after %w: %w", req.ID, err, rerr)
	}
	log.InfoContext(ctx, "linear issue already existed; read back", "issue", iss.Identifier, "create_err", err)
	if !hasAttachment(iss, req.Attachment.URL) {
		if aerr := c.createAttachment(ctx, att); aerr != nil {
			var tmp *alert.TemporaryError
			if errors.As(aerr, &tmp) {
				return alert.Issue{}, aerr
			}
			// The issue exists and is what the user asked for; a missing
			// back-link must not make them create a second one.
			log.WarnContext(ctx, "linear attachment could not be added", "issue", iss.Identifier, "err", aerr)
		}
	}
	return toIssue(&iss.issueFields), nil
}

// worthReadback reports whether a failed create may hide an existing issue:
// Linear answered with GraphQL errors that are not about credentials,
// permissions, rate limits or its own health (the duplicate-id refusal is
// one of these). Temporary failures need no readback now: the caller's
// retry meets the duplicate id and reads back then.
func worthReadback(err error) bool {
	var apiErr *APIError
	if !errors.As(err, &apiErr) || !apiErr.graphql {
		return false
	}
	for _, k := range []error{alert.ErrUnauthorized, alert.ErrForbidden, alert.ErrRateLimited, alert.ErrUnavailable} {
		if errors.Is(apiErr.Kind, k) {
			return false
		}
	}
	return true
}

func (c *Client) createAttachment(ctx context.Context, att AttachmentCreateInput) error {
	return c.call(ctx, "createAttachment", func(ctx context.Context) error {
		resp, err := createAttachment(ctx, c.gql, att)
		if err == nil && !resp.AttachmentCreate.Success {
			err = fmt.Errorf("attachmentCreate reported no success: %w", alert.ErrUnavailable)
		}
		return err
	})
}

func hasAttachment(iss *getIssueIssue, url string) bool {
	for _, a := range iss.Attachments.Nodes {
		if a.Url == url {
			return true
		}
	}
	return false
}

// attachmentInput builds the attachment that links the issue back to the
// error, titled like the issue unless the request says otherwise.
func attachmentInput(req alert.IssueRequest) (AttachmentCreateInput, error) {
	att, err := attachmentCreateInput(req.ID, req.Attachment, req.Title)
	if err != nil {
		return AttachmentCreateInput{}, fmt.Errorf("linear create issue: %w", err)
	}
	return att, nil
}

// attachmentCreateInput is Linear's input for att on issue issueID, with
// defaultTitle when att has none. Linear keys attachments by (issue, url):
// the url is required.
func attachmentCreateInput(issueID string, att alert.Attachment, defaultTitle string) (AttachmentCreateInput, error) {
	if strings.TrimSpace(att.URL) == "" {
		return AttachmentCreateInput{}, fmt.Errorf("attachment url is required: %w", alert.ErrInvalid)
	}
	in := AttachmentCreateInput{IssueId: issueID, Url: att.URL, Title: cmp.Or(att.Title, defaultTitle), Subtitle: att.Subtitle}
	if len(att.Metadata) > 0 {
		md, err := json.Marshal(att.Metadata)
		if err != nil {
			return AttachmentCreateInput{}, fmt.Errorf("attachment metadata: %w: %w", alert.ErrInvalid, err)
		}
		in.Metadata = md
	}
	return in, nil
}
