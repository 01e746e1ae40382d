package bot

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"github.com/proliferate/proliferate-linear/alert"
)

// Block Kit limits (https://api.slack.com/reference/block-kit/blocks and
// https://api.slack.com/reference/block-kit/composition-objects).
const (
	maxMessageBlocks = 50   // blocks in one message.
	maxHeaderText    = 150  // header block text.
	maxText          = 3000 // any text object.
	maxButtonText    = 75   // button and option text.
	maxFieldText     = 2000 // one section field.
	maxURL           = 3000 // button url.
	maxFallbackText  = 300  // our own cap on the notification text.
)

// Action IDs of the alert message's interactive elements.
const (
	actionCreateIssue = "create_issue"
	actionLinkIssue   = "link_issue"
	actionViewError   = "view_error" // url button: Slack still sends block_actions, which we ack and ignore.
	actionOpenIssue   = "open_issue" // url button, likewise.
	// actionCreateAnyway creates a second issue for an error already
	// tracked by an open one, behind a confirmation dialog.
	actionCreateAnyway = "create_issue_anyway"
	// actionReopen moves the closed issue of a regressed error back to work.
	actionReopen = "reopen_issue"
	// actionCreateRouted files the issue at once with the route's defaults:
	// "Create in ENG".
	actionCreateRouted = "create_routed"
)

// messageBudget caps what one alert message holds. Besides each block's
// own limits, Slack refuses a message whose blocks carry more than about
// 12,000 characters of text in all (msg_blocks_too_long); the fullest
// rendering stays near 5,000 even for a hostile alert, and the shorter
// ones are what a refused post or update is retried with.
type messageBudget struct {
	message int // the error message section; 0 leaves it to Proliferate's page.
	field   int // each free-text field value (project, environment, ...).
	title   int // the linked issue's title.
}

// messageBudgets are the renderings, fullest first.
var messageBudgets = []messageBudget{
	{message: maxText, field: 300, title: 500},
	{message: 600, field: 80, title: 120},
	{message: 0, field: 40, title: 60},
}

// maxMessageBlockText is the cumulative block text every rendering stays
// under, with room to spare below Slack's ≈12,000.
const maxMessageBlockText = 8000

// alertMessage renders the Slack message of an alert: the notification
// fallback text (escaped) and the blocks. link may be nil.
func alertMessage(a alert.Alert, link *alert.IssueLink) (string, []slack.Block) {
	return alertMessageWithin(a, link, messageBudgets[0], "")
}

// alertMessageWithin is alertMessage within budget. team is the key of the
// team the alert's route gives ("" if none): where "Create in TEAM" files.
//
// Everything taken from the alert is untrusted: mrkdwn text is escaped with
// escapeMrkdwn and marked verbatim, so Slack neither parses <...>
// sequences nor auto-links URLs, channel names or @-mentions in it
// (https://api.slack.com/reference/block-kit/composition-objects#text).
func alertMessageWithin(a alert.Alert, link *alert.IssueLink, budget messageBudget, team string) (string, []slack.Block) {
	blocks := []slack.Block{
		slack.NewHeaderBlock(plain(alert.Truncate(headerText(a), maxHeaderText))),
	}
	if msg := strings.TrimSpace(a.ErrorMessage); msg != "" && budget.message > 0 {
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn(mrkdwnWithin(msg, budget.message)), nil, nil))
	} else if msg != "" {
		blocks = append(blocks, slack.NewContextBlock("message_omitted", mrkdwn("The error message is too long for Slack: see it in Proliferate.")))
	}
	blocks = append(blocks,
		slack.NewSectionBlock(nil, alertFields(a, budget.field), nil),
		slack.NewContextBlock("", mrkdwn(triggerContext(a))),
	)

	regressed := link != nil && isRegression(a, *link)
	if link != nil {
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn(linkText(*link, budget.title)), nil, nil))
		if regressed {
			// A section, not a context: context text is small and grey, and
			// this is the line the channel must not miss.
			blocks = append(blocks, slack.NewSectionBlock(mrkdwn(":warning: *"+regressionLine(*link)+"*"), nil, nil))
		}
	}

	var buttons []slack.BlockElement
	if u, ok := safeURL(a.URL); ok {
		b := slack.NewButtonBlockElement(actionViewError, "", plain("View in Proliferate"))
		b.URL = u
		buttons = append(buttons, b)
	}
	buttons = append(buttons, issueButtons(strconv.FormatInt(a.ID, 10), link, regressed, team)...)
	if len(buttons) > 0 {
		blocks = append(blocks, slack.NewActionBlock("alert_actions", buttons...))
	}
	if len(blocks) > maxMessageBlocks {
		blocks = blocks[:maxMessageBlocks]
	}
	return fallbackText(a, link), blocks
}

func headerText(a alert.Alert) string {
	if t := strings.TrimSpace(a.ErrorType); t != "" {
		return t
	}
	return "Error"
}

// alertFields are the facts of the alert, two columns in Slack. A section
// holds at most 10 fields; each free-text value is cut to n.
func alertFields(a alert.Alert, n int) []*slack.TextBlockObject {
	field := func(label, value string) *slack.TextBlockObject {
		if strings.TrimSpace(value) == "" {
			value = "—"
		}
		return mrkdwn("*" + label + "*\n" + mrkdwnWithin(value, min(n, maxFieldText-len(label)-3)))
	}
	date := func(label string, t time.Time) *slack.TextBlockObject {
		if t.IsZero() {
			return field(label, "")
		}
		return mrkdwn("*" + label + "*\n" + slackDate(t))
	}
	return []*slack.TextBlockObject{
		field("Project", a.Project),
		field("Environment", a.Environment),
		field("Release", a.Release),
		field("Events", strconv.FormatInt(a.EventCount, 10)),
		field("Users affected", strconv.FormatInt(a.UsersAffected, 10)),
		field("Level", a.Level),
		date("First seen", a.FirstSeen),
		date("Last seen", a.LastSeen),
	}
}

// slackDate lets each reader's Slack client show t in their own time zone;
// the fallback (for clients that cannot) is UTC and escaped like any text
// (https://api.slack.com/reference/surfaces/formatting#date-formatting).
func slackDate(t time.Time) string {
	fallback := escapeMrkdwn(t.UTC().Format("2006-01-02 15:04 UTC"))
	return fmt.Sprintf("<!date^%d^{date_short_pretty} {time}|%s>", t.Unix(), fallback)
}

func triggerContext(a alert.Alert) string {
	var s string
	switch a.Trigger {
	case alert.TriggerNewIssue:
		s = ":new: New error"
	case alert.TriggerSpike:
		s = ":chart_with_upwards_trend: Spike in events"
	case alert.TriggerRegression:
		s = ":repeat: Regression: a resolved error is back"
	default:
		s = ":rotating_light: Error alert"
	}
	if a.Occurrences > 1 {
		s += fmt.Sprintf(" · seen %d times", a.Occurrences)
	}
	return s
}

// linkText shows the Linear issue tracking the error. The identifier links
// to the issue; title, status and assignee come from Linear and are escaped.
func linkText(l alert.IssueLink, titleLen int) string {
	ident := escapeMrkdwn(l.Identifier)
	if u, ok := safeURL(l.URL); ok {
		ident = slackLink(u, l.Identifier)
	}
	s := "*Linear:* " + ident + " (linked) · " + mrkdwnWithin(l.Title, titleLen)
	if l.StateName != "" {
		s += "\n*Status:* " + mrkdwnWithin(l.StateName, 100)
	}
	assignee := "Unassigned"
	if l.AssigneeName != "" {
		assignee = l.AssigneeName
	}
	return s + " · *Assignee:* " + escapeMrkdwn(alert.Truncate(assignee, 200))
}

func closedVerb(l alert.IssueLink) string {
	if l.StateType == "canceled" {
		return "canceled"
	}
	return "completed"
}

// fallbackText is the top-level text: the notification and what screen
// readers announce. It is plain and escaped like everything else.
func fallbackText(a alert.Alert, link *alert.IssueLink) string {
	s := a.Title()
	if a.Project != "" {
		s += " (" + a.Project + ")"
	}
	if link != nil {
		s += " · " + link.Identifier
	}
	return mrkdwnWithin(s, maxFallbackText)
}

// safeURL accepts only absolute http(s) URLs that fit a button, so that an
// alert cannot smuggle a javascript: or slack:// link into a button.
func safeURL(raw string) (string, bool) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", false
	}
	s := u.String()
	if len(s) > maxURL {
		return "", false
	}
	return s, true
}

// mrkdwnWithin escapes s for mrkdwn and cuts it to at most n runes of
// escaped text, never in the middle of an entity such as "&amp;".
func mrkdwnWithin(s string, n int) string {
	esc := escapeMrkdwn(s)
	if utf8.RuneCountInString(esc) <= n {
		return esc
	}
	var b strings.Builder
	used := 0
	for _, r := range s {
		piece := escapeMrkdwn(string(r))
		k := utf8.RuneCountInString(piece)
		if used+k > n-1 { // keep room for "…".
			break
		}
		b.WriteString(piece)
		used += k
	}
	return b.String() + "…"
}

func plain(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.PlainTextType, s, true, false)
}

// mrkdwn builds a verbatim mrkdwn text object: Slack does not auto-link or
// auto-mention anything in it, only what we wrote as <...> ourselves.
func mrkdwn(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, s, false, true)
}

// issueButtons are the message's Linear actions, by the state of the link:
//   - none: Create Linear Issue, Link existing;
//   - closed and the error is back: Reopen ENG-42 next to Create Linear
//     Issue (and Link existing, to point at another issue);
//   - open: Open ENG-42, and "Create another" behind a confirmation, so a
//     tracked error does not invite a duplicate by one careless click;
//   - closed with nothing new since: Open ENG-42 only.
//
// Wherever Create Linear Issue is offered and team is set (a routing rule
// or the default team gives the alert one), "Create in TEAM" follows it:
// the issue filed at once with the route's defaults.
func issueButtons(id string, link *alert.IssueLink, regressed bool, team string) []slack.BlockElement {
	create := slack.NewButtonBlockElement(actionCreateIssue, id, plain("Create Linear Issue"))
	linkExisting := slack.NewButtonBlockElement(actionLinkIssue, id, plain("Link existing"))
	creates := []slack.BlockElement{create}
	if team != "" {
		creates = append(creates, slack.NewButtonBlockElement(actionCreateRouted, id, plain(alert.Truncate("Create in "+team, maxButtonText))))
	}
	switch {
	case link == nil:
		create.Style = slack.StylePrimary
		return append(creates, linkExisting)
	case regressed:
		reopen := slack.NewButtonBlockElement(actionReopen, id, plain(alert.Truncate("Reopen "+link.Identifier, maxButtonText)))
		reopen.Style = slack.StylePrimary
		return append(append([]slack.BlockElement{reopen}, creates...), linkExisting)
	}
	var out []slack.BlockElement
	if u, ok := safeURL(link.URL); ok {
		b := slack.NewButtonBlockElement(actionOpenIssue, "", plain(alert.Truncate("Open "+link.Identifier, maxButtonText)))
		b.URL = u
		out = append(out, b)
	}
	if !link.Closed() {
		anyway := slack.NewButtonBlockElement(actionCreateAnyway, id, plain("Create another issue"))
		anyway.Confirm = createAnywayConfirm(*link)
		out = append(out, anyway)
	}
	return out
}

// Confirmation dialog limits
// (https://api.slack.com/reference/block-kit/composition-objects#confirm):
// title 100, text 300, button texts 30 characters.
const (
	maxConfirmTitle = 100
	maxConfirmText  = 300
)

func createAnywayConfirm(l alert.IssueLink) *slack.ConfirmationBlockObject {
	text := fmt.Sprintf("This error is already tracked in %s. Create another issue anyway?", l.Identifier)
	return slack.NewConfirmationBlockObject(
		plain(alert.Truncate("Create another issue?", maxConfirmTitle)),
		plain(alert.Truncate(text, maxConfirmText)),
		plain("Create anyway"),
		plain("Cancel"),
	)
}

// isRegression reports whether the alert shows an error that came back
// after its linked issue was closed: the core marked the link regressed,
// or the error was seen after the issue closed. A closed issue with no
// event since is only history, not news.
func isRegression(a alert.Alert, l alert.IssueLink) bool {
	if !l.Closed() {
		return false
	}
	if !l.RegressedAt.IsZero() {
		return true
	}
	closed := l.ClosedAt
	if closed.IsZero() {
		closed = l.UpdatedAt // links stored before closed_at existed.
	}
	return a.LastSeen.After(closed)
}

// regressionLine says plainly that a closed issue's error is back:
// "ENG-42 was completed on 12 Nov; the error is back." The date is UTC, as
// in the core's thread note (bot.noteText, NoteRegressed), so both agree.
func regressionLine(l alert.IssueLink) string {
	s := escapeMrkdwn(l.Identifier) + " was " + closedVerb(l)
	if !l.ClosedAt.IsZero() {
		s += " on " + l.ClosedAt.UTC().Format("2 Jan")
	}
	return s + "; the error is back."
}
