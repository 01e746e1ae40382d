package bot

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/slack-go/slack"

	"github.com/proliferate/proliferate-linear/alert"
)

// Modal limits (https://api.slack.com/reference/surfaces/views and
// https://api.slack.com/reference/block-kit/block-elements).
const (
	maxModalTitle       = 24   // title, submit and close texts.
	maxModalBlocks      = 100  // blocks in one modal.
	maxOptions          = 100  // options in one static_select.
	maxOptionValue      = 150  // option value.
	maxPrivateMetadata  = 3000 // private_metadata.
	maxTitleInput       = 255  // Linear's issue title, our choice of cap.
	maxDescriptionInput = 3000 // plain_text_input max_length ceiling.
)

// Identifiers of the create modal. Input block_ids stay the same across
// views.update calls so Slack keeps what the user typed; only the assignee
// block_id changes with the team, so a team change gives a fresh element
// and Slack drops the old choice
// (https://api.slack.com/surfaces/modals#preserving_input_state).
const (
	callbackCreate      = "create_issue"
	blockTeam           = "team"
	actionTeam          = "team"
	blockAssigneePrefix = "assignee:"
	actionAssignee      = "assignee"
	blockTitle          = "title"
	actionTitle         = "title"
	blockDescription    = "description"
	actionDescription   = "description"
	blockPriority       = "priority"
	actionPriority      = "priority"
)

// modalMeta is the create modal's private_metadata: everything a replica
// needs to handle any later payload of the modal, since no modal state is
// kept in memory.
type modalMeta struct {
	AlertID    int64  `json:"alert_id"`
	CreationID string `json:"creation_id"`
	Channel    string `json:"channel"`
	TS         string `json:"ts"`
	// Prefill is a digest of the pre-filled (possibly cut) description:
	// when the submitted text still matches it, the user did not edit it
	// and Linear gets the full description with the whole stack trace.
	Prefill string `json:"prefill,omitempty"`
	// Force: the user confirmed "Create another issue" for an error that is
	// already tracked, so the service must not refuse the create.
	Force bool `json:"force,omitempty"`
}

func (m modalMeta) encode() string {
	b, _ := json.Marshal(m) // a struct of strings and ints always marshals.
	return string(b)
}

func decodeMeta(s string) (modalMeta, error) {
	var m modalMeta
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return modalMeta{}, fmt.Errorf("private_metadata: %w", alert.ErrInvalid)
	}
	if m.AlertID == 0 || m.CreationID == "" {
		return modalMeta{}, fmt.Errorf("private_metadata lacks alert or creation id: %w", alert.ErrInvalid)
	}
	return m, nil
}

// digest fingerprints a description, ignoring what Slack may normalise
// (line endings, surrounding white space).
func digest(s string) string {
	s = strings.TrimSpace(strings.ReplaceAll(s, "\r\n", "\n"))
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:8])
}

// createForm is what the create modal shows.
type createForm struct {
	Alert   alert.Alert
	Link    *alert.IssueLink // a closed link: the note says the error is back.
	Teams   []alert.Team
	TeamID  string       // selected team; "" for none yet.
	Members []alert.User // of TeamID.
	// Labels and Projects are TeamID's (its labels include the workspace's).
	Labels   []alert.Label
	Projects []alert.Project
	// MembersLoading shows a placeholder while the team's members, labels
	// and projects come from Linear.
	MembersLoading bool
	// Error, when set, is shown above the form (a failed submission).
	Error string
	// Connect puts a Connect Linear button next to Error: connecting is
	// what fixes it.
	Connect bool
	// Force says the user chose "Create another issue" on an error that is
	// tracked by an open issue (f.Link): the form says so.
	Force bool
	// Values typed before, restored after a failed submission; empty
	// fields take the alert's pre-filled values.
	Values submission
	// Route is the routing rule that applied to the alert (N 0: none); the
	// form says so and pre-selects its assignee, labels and project once
	// the team's details are known.
	Route alert.Route
}

// createModal renders the create-issue form.
func createModal(f createForm, meta modalMeta) slack.ModalViewRequest {
	var blocks []slack.Block
	if f.Error != "" {
		var connect *slack.Accessory
		if f.Connect {
			connect = slack.NewAccessory(connectButton())
		}
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn(":warning: "+mrkdwnWithin(f.Error, maxText-11)), nil, connect))
	}
	blocks = append(blocks, slack.NewContextBlock("alert", mrkdwn(mrkdwnWithin(f.Alert.Title(), 500))))
	if f.Route.N > 0 {
		blocks = append(blocks, slack.NewContextBlock("rule", mrkdwn(routeLine(f.Route))))
		f = f.withRuleDefaults()
	}
	switch {
	case f.Link != nil && f.Link.Closed():
		blocks = append(blocks, slack.NewContextBlock("regressed", mrkdwn(":warning: "+regressionLine(*f.Link))))
	case f.Link != nil && f.Force:
		blocks = append(blocks, slack.NewContextBlock("tracked", mrkdwn(":warning: This error is already tracked in "+
			issueSummary(*f.Link)+"\nThis creates another issue, and the error's alert will show the new one.")))
	}

	teamOpts, teamSel := teamOptions(f.Teams, f.TeamID)
	var team *slack.SelectBlockElement
	var hint *slack.TextBlockObject
	if len(f.Teams) > maxOptions {
		// Past Slack's 100 options a static select cannot offer them all:
		// the user types, and block_suggestion answers from the cached list.
		team = slack.NewOptionsSelectBlockElement(slack.OptTypeExternal, plain("Type to search teams"), actionTeam)
		team.MinQueryLength = ptr(0)
		team.InitialOption = teamOption(f.Teams, f.TeamID)
		hint = plain(fmt.Sprintf("%d teams: type part of a team's name or key.", len(f.Teams)))
	} else {
		team = slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, plain("Choose a team"), actionTeam, teamOpts...)
		team.InitialOption = teamSel
	}
	teamBlock := slack.NewInputBlock(blockTeam, plain("Team"), hint, team)
	teamBlock.DispatchAction = true // a pick fires block_actions, so the assignee list can follow the team.
	blocks = append(blocks, teamBlock)
	blocks = append(blocks, assigneeBlock(f))
	if lb := labelsBlock(f); lb != nil {
		blocks = append(blocks, lb)
	}
	if pb := projectBlock(f); pb != nil {
		blocks = append(blocks, pb)
	}

	title := slack.NewPlainTextInputBlockElement(nil, actionTitle)
	title.InitialValue = alert.Truncate(or(f.Values.Title, f.Alert.Title()), maxTitleInput)
	title.MaxLength = maxTitleInput
	blocks = append(blocks, slack.NewInputBlock(blockTitle, plain("Title"), nil, title))

	desc := slack.NewPlainTextInputBlockElement(nil, actionDescription)
	desc.Multiline = true
	desc.MaxLength = maxDescriptionInput
	desc.InitialValue = alert.Truncate(or(f.Values.Description, alert.DescriptionWithin(f.Alert, maxDescriptionInput)), maxDescriptionInput)
	blocks = append(blocks, slack.NewInputBlock(blockDescription, plain("Description"), nil, desc))

	prioOpts := make([]*slack.OptionBlockObject, 0, len(alert.Priorities))
	var prioSel *slack.OptionBlockObject
	for _, p := range alert.Priorities {
		o := slack.NewOptionBlockObject(strconv.Itoa(int(p)), plain(p.String()), nil)
		prioOpts = append(prioOpts, o)
		if p == f.Values.Priority {
			prioSel = o
		}
	}
	prio := slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, nil, actionPriority, prioOpts...)
	prio.InitialOption = prioSel
	blocks = append(blocks, slack.NewInputBlock(blockPriority, plain("Priority"), nil, prio))

	return slack.ModalViewRequest{
		Type:            slack.VTModal,
		CallbackID:      callbackCreate,
		Title:           plain("Create Linear Issue"),
		Submit:          plain("Create"),
		Close:           plain("Cancel"),
		Blocks:          slack.Blocks{BlockSet: blocks},
		PrivateMetadata: meta.encode(),
	}
}

// teamOptions lists at most 100 teams (Slack's cap on a static_select) and
// returns the option of selected, if listed.
func teamOptions(teams []alert.Team, selected string) ([]*slack.OptionBlockObject, *slack.OptionBlockObject) {
	opts := make([]*slack.OptionBlockObject, 0, min(len(teams), maxOptions))
	var sel *slack.OptionBlockObject
	for _, t := range teams {
		if len(opts) == maxOptions {
			break
		}
		if t.ID == "" || len(t.ID) > maxOptionValue {
			continue
		}
		label := t.Name
		if t.Key != "" {
			label += " (" + t.Key + ")"
		}
		o := slack.NewOptionBlockObject(t.ID, plain(alert.Truncate(label, maxButtonText)), nil)
		opts = append(opts, o)
		if t.ID == selected {
			sel = o
		}
	}
	return opts, sel
}

// teamOption is the option of team id among teams, nil if not there.
func teamOption(teams []alert.Team, id string) *slack.OptionBlockObject {
	for _, t := range teams {
		if t.ID == id && id != "" {
			o, _ := teamOptions([]alert.Team{t}, id)
			if len(o) == 1 {
				return o[0]
			}
		}
	}
	return nil
}

// memberOptions lists at most 100 members and returns the option of
// selected, found among all of them.
func memberOptions(members []alert.User, selected string) ([]*slack.OptionBlockObject, *slack.OptionBlockObject) {
	return optionsOne(members, selected, func(u alert.User) (string, string) { return u.ID, u.Label() })
}

// assigneeBlock is the optional assignee select for the chosen team, or a
// note while there is nothing to choose from (Slack rejects a select
// without options).
func assigneeBlock(f createForm) slack.Block {
	note := func(s string) slack.Block {
		return slack.NewContextBlock("assignee_note", mrkdwn(s))
	}
	switch {
	case f.TeamID == "":
		return note("Pick a team to choose an assignee.")
	case f.MembersLoading:
		return note(":hourglass_flowing_sand: Loading team members, labels and projects from Linear…")
	}
	opts, sel := memberOptions(f.Members, f.Values.AssigneeID)
	if len(opts) == 0 {
		return note("This team has no members to assign.")
	}
	members := searchable{action: actionAssignee, none: "Unassigned", search: "Type to search members",
		hint: "%d members: type part of a name or email."}
	el, hint := members.single(len(f.Members), opts, sel)
	return optionalInput(blockAssigneePrefix+f.TeamID, "Assignee", hint, el)
}

// infoModal is a modal with text and no submit button: loading, progress,
// results and errors. It keeps the callback_id and metadata so a later
// views.update can still be matched to the create flow.
func infoModal(text string, meta modalMeta) slack.ModalViewRequest {
	return slack.ModalViewRequest{
		Type:            slack.VTModal,
		CallbackID:      callbackCreate,
		Title:           plain("Create Linear Issue"),
		Close:           plain("Close"),
		Blocks:          slack.Blocks{BlockSet: []slack.Block{slack.NewSectionBlock(mrkdwn(text), nil, nil)}},
		PrivateMetadata: meta.encode(),
	}
}

func loadingModal(meta modalMeta) slack.ModalViewRequest {
	return infoModal(":hourglass_flowing_sand: Loading teams from Linear…", meta)
}

func creatingModal(meta modalMeta) slack.ModalViewRequest {
	return infoModal(":hourglass_flowing_sand: Creating issue…", meta)
}

func errorModal(err error, meta modalMeta) slack.ModalViewRequest {
	return infoModal(":warning: "+escapeMrkdwn(alert.UserMessage(err)), meta)
}

func createdModal(l alert.IssueLink, meta modalMeta) slack.ModalViewRequest {
	return infoModal(":white_check_mark: Created "+issueSummary(l)+"\nA note is on its way to the alert's thread.", meta)
}

func linkedModal(l alert.IssueLink, meta modalMeta) slack.ModalViewRequest {
	return infoModal("This error is already tracked in Linear: "+issueSummary(l), meta)
}

func issueSummary(l alert.IssueLink) string {
	ident := escapeMrkdwn(l.Identifier)
	if u, ok := safeURL(l.URL); ok {
		ident = slackLink(u, l.Identifier)
	}
	s := ident + ": " + mrkdwnWithin(l.Title, 500)
	if l.StateName != "" {
		s += "\n*Status:* " + escapeMrkdwn(l.StateName)
	}
	if l.AssigneeName != "" {
		s += " · *Assignee:* " + escapeMrkdwn(l.AssigneeName)
	}
	return s
}

func or(s, def string) string {
	if s != "" {
		return s
	}
	return def
}
