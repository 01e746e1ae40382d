package bot

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/slack-go/slack"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/alert/issueref"
)

// Identifiers of the Link existing modal. Both inputs are optional in
// Slack's eyes because exactly one of them must be filled, which Slack
// cannot express; the submission handler says which.
const (
	callbackLink      = "link_issue"
	blockIssueRef     = "issue_ref"
	actionIssueRef    = "issue_ref"
	blockIssueSearch  = "issue_search"
	actionIssueSearch = "issue_search"
)

// Messages shown inline under the inputs.
const (
	msgLinkNothing = "Paste the Linear issue's URL or identifier (ENG-123), or search for it below."
	msgLinkBoth    = "Fill in only one: paste a URL or identifier here, or pick a search result below, not both."
	msgLinkPick    = "Pick an issue from the search results, or paste its URL above."
)

// linkMeta is the Link existing modal's private_metadata.
type linkMeta struct {
	AlertID int64  `json:"alert_id"`
	Channel string `json:"channel"`
	TS      string `json:"ts"`
}

func (m linkMeta) encode() string {
	b, _ := json.Marshal(m) // a struct of strings and ints always marshals.
	return string(b)
}

func decodeLinkMeta(s string) (linkMeta, error) {
	var m linkMeta
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return linkMeta{}, fmt.Errorf("private_metadata: %w", alert.ErrInvalid)
	}
	if m.AlertID == 0 {
		return linkMeta{}, fmt.Errorf("private_metadata lacks alert id: %w", alert.ErrInvalid)
	}
	return m, nil
}

// linkForm is what the Link existing modal shows.
type linkForm struct {
	Alert alert.Alert
	Link  *alert.IssueLink // the error's current link: linking replaces it.
	Error string           // a failure that outlived the ack, shown on top.
	Text  string           // what was typed before, restored with Error.
}

// linkModal renders the Link existing form: one text input for a URL,
// identifier or UUID, and a search box over Linear's searchIssues.
func linkModal(f linkForm, meta linkMeta) slack.ModalViewRequest {
	var blocks []slack.Block
	if f.Error != "" {
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn(":warning: "+mrkdwnWithin(f.Error, maxText-11)), nil, nil))
	}
	blocks = append(blocks, slack.NewContextBlock("alert", mrkdwn(mrkdwnWithin(f.Alert.Title(), 500))))
	if f.Link != nil {
		blocks = append(blocks, slack.NewContextBlock("current", mrkdwn(
			"Now linked to "+issueSummary(*f.Link)+"\nLinking another issue replaces it.")))
	}

	ref := slack.NewPlainTextInputBlockElement(plain("https://linear.app/…/issue/ENG-123 or ENG-123"), actionIssueRef)
	ref.MaxLength = issueref.MaxInputLen
	ref.InitialValue = alert.Truncate(f.Text, issueref.MaxInputLen)
	refBlock := slack.NewInputBlock(blockIssueRef, plain("Linear issue"),
		plain("A Linear issue URL, identifier or ID."), ref)
	refBlock.Optional = true

	search := slack.NewOptionsSelectBlockElement(slack.OptTypeExternal, plain("Search by title or identifier"), actionIssueSearch)
	search.MinQueryLength = ptr(minSearchQuery)
	searchBlock := slack.NewInputBlock(blockIssueSearch, plain("Or search Linear"), nil, search)
	searchBlock.Optional = true

	blocks = append(blocks, refBlock, searchBlock)
	return slack.ModalViewRequest{
		Type:            slack.VTModal,
		CallbackID:      callbackLink,
		Title:           plain("Link Linear issue"),
		Submit:          plain("Link"),
		Close:           plain("Cancel"),
		Blocks:          slack.Blocks{BlockSet: blocks},
		PrivateMetadata: meta.encode(),
	}
}

// linkInfoModal is a Link existing modal with text only: progress, the
// result, an error.
func linkInfoModal(text string, meta linkMeta) slack.ModalViewRequest {
	return slack.ModalViewRequest{
		Type:            slack.VTModal,
		CallbackID:      callbackLink,
		Title:           plain("Link Linear issue"),
		Close:           plain("Close"),
		Blocks:          slack.Blocks{BlockSet: []slack.Block{slack.NewSectionBlock(mrkdwn(text), nil, nil)}},
		PrivateMetadata: meta.encode(),
	}
}

func linkingModal(meta linkMeta) slack.ModalViewRequest {
	return linkInfoModal(":hourglass_flowing_sand: Linking…", meta)
}

func linkErrorModal(err error, meta linkMeta) slack.ModalViewRequest {
	return linkInfoModal(":warning: "+escapeMrkdwn(alert.UserMessage(err)), meta)
}

// linkDoneModal: "Linked ENG-123 · title · status · assignee · link".
// Everything from Linear is user text and escaped.
func linkDoneModal(l alert.IssueLink, meta linkMeta) slack.ModalViewRequest {
	ident := escapeMrkdwn(l.Identifier)
	u, hasURL := safeURL(l.URL)
	if hasURL {
		ident = slackLink(u, l.Identifier)
	}
	parts := []string{":white_check_mark: Linked " + ident, mrkdwnWithin(l.Title, 500)}
	if l.StateName != "" {
		parts = append(parts, escapeMrkdwn(l.StateName))
	}
	parts = append(parts, escapeMrkdwn(alert.Truncate(or(l.AssigneeName, "Unassigned"), 200)))
	if hasURL {
		parts = append(parts, slackLink(u, "Open in Linear"))
	}
	return linkInfoModal(strings.Join(parts, " · ")+"\nA note is on its way to the alert's thread.", meta)
}

// linkInput is what the user entered in the Link existing modal.
type linkInput struct {
	Text   string // the URL, identifier or UUID typed or pasted.
	Picked string // the value of the search result picked: an issue id.
}

func parseLinkInput(v slack.View) linkInput {
	if v.State == nil {
		return linkInput{}
	}
	vals := v.State.Values
	return linkInput{
		Text:   strings.TrimSpace(vals[blockIssueRef][actionIssueRef].Value),
		Picked: vals[blockIssueSearch][actionIssueSearch].SelectedOption.Value,
	}
}

// ref reads the one filled input. On failure it returns the input block to
// put the message under and the message; block is also set on success,
// so that a lookup failure can be shown under the input it came from.
func (in linkInput) ref() (ref issueref.Ref, block, msg string) {
	switch {
	case in.Text == "" && in.Picked == "":
		return issueref.Ref{}, blockIssueRef, msgLinkNothing
	case in.Text != "" && in.Picked != "":
		return issueref.Ref{}, blockIssueRef, msgLinkBoth
	case in.Picked != "":
		if strings.HasPrefix(in.Picked, noticePrefix) {
			return issueref.Ref{}, blockIssueSearch, msgLinkPick
		}
		r, err := issueref.Parse(in.Picked)
		if err != nil {
			return issueref.Ref{}, blockIssueSearch, msgLinkPick
		}
		return r, blockIssueSearch, ""
	}
	r, err := issueref.Parse(in.Text)
	if err != nil {
		var perr *issueref.Error
		if errors.As(err, &perr) {
			return issueref.Ref{}, blockIssueRef, perr.Msg
		}
		return issueref.Ref{}, blockIssueRef, msgLinkNothing
	}
	return r, blockIssueRef, ""
}

// linkErrorText words a LinkExisting failure for the inline error.
func linkErrorText(err error, ref issueref.Ref) string {
	switch {
	case errors.Is(err, alert.ErrOtherWorkspace):
		return fmt.Sprintf("That issue is in another Linear workspace (%s). Link an issue from the workspace this app is connected to.",
			ref.WorkspaceURLKey)
	case errors.Is(err, alert.ErrNotFound) && ref.Identifier != "":
		return fmt.Sprintf("No issue %s in your Linear workspace.", ref.Identifier)
	case errors.Is(err, alert.ErrNotFound):
		return "No such issue in your Linear workspace."
	}
	return alert.UserMessage(err)
}
