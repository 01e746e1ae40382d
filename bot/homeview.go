package bot

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/slack-go/slack"

	"github.com/proliferate/proliferate-linear/alert"
)

// Block Kit for the App Home tab (https://api.slack.com/surfaces/app-home):
// the Linear connection, the default team, the alert channels and the
// issues filed from Slack lately, with the admin's controls. Everything
// from Linear or an alert (names, titles) is escaped; a home view holds at
// most 100 blocks and every text object at most 3000 characters.

const (
	callbackHome  = "home"
	maxHomeBlocks = 100
	// homeIssues and homeChannels bound what the Home lists.
	homeIssues   = 10
	homeChannels = 20
	// maxHomeTitle is how much of an issue title the Home shows.
	maxHomeTitle = 300
)

// homeState is everything one user's Home shows. homeView renders it
// without I/O, so the goldens pin every case.
type homeState struct {
	// Admin shows the controls: Connect, Disconnect, the default team.
	Admin bool
	// OAuth says a Connector is configured; APIKey that LINEAR_API_KEY is set.
	OAuth, APIKey bool
	// Conn is the OAuth connection, nil when there is none.
	Conn *alert.Connection
	// ConnErr is why the connection could not be read.
	ConnErr error
	// Workspace is what Linear last said of itself (fresh or cached); nil
	// when unknown.
	Workspace *alert.Workspace
	// Teams are Linear's teams, for the default-team select and names.
	Teams []alert.Team
	// ConfigDefault is LINEAR_DEFAULT_TEAM.
	ConfigDefault string
	Channels      []alert.AlertChannel
	Links         []alert.IssueLink
	// Refreshing marks the first publish: Linear is being asked.
	Refreshing bool
	// LinearErr is why asking Linear failed.
	LinearErr error
	// Restricted is the sentence telling members who may change things.
	Restricted string
	// Notice answers the viewer's last click in the Home.
	Notice *reply
	// Rules are the routing rules at RulesVersion; RulesErr is why they
	// could not be read. RulesRestricted tells members who may change them.
	Rules           []alert.Rule
	RulesVersion    int64
	RulesErr        error
	RulesRestricted string
}

// homeView renders st as a home tab.
func homeView(st homeState) slack.HomeTabViewRequest {
	blocks := []slack.Block{slack.NewHeaderBlock(plain("Proliferate Linear"))}
	if st.Notice != nil {
		blocks = append(blocks, noticeBlocks(*st.Notice)...)
		blocks = append(blocks, slack.NewDividerBlock())
	}
	blocks = append(blocks, homeConnection(st)...)
	blocks = append(blocks, homeDefaultTeam(st))
	blocks = append(blocks, slack.NewDividerBlock())
	blocks = append(blocks, homeRules(st)...)
	blocks = append(blocks, slack.NewDividerBlock(), homeChannelList(st.Channels), slack.NewDividerBlock())
	blocks = append(blocks, homeIssueList(st.Links)...)
	switch {
	case st.Refreshing:
		blocks = append(blocks, slack.NewContextBlock("home_refresh", mrkdwn(":hourglass_flowing_sand: Checking Linear for the latest…")))
	case st.LinearErr != nil:
		blocks = append(blocks, slack.NewContextBlock("home_refresh", mrkdwn(":warning: Linear did not answer ("+
			escapeMrkdwn(alert.UserMessage(st.LinearErr))+"); this is what the bot has stored.")))
	}
	if len(blocks) > maxHomeBlocks {
		blocks = blocks[:maxHomeBlocks]
	}
	return slack.HomeTabViewRequest{Type: slack.VTHomeTab, CallbackID: callbackHome, Blocks: slack.Blocks{BlockSet: blocks}}
}

// noticeBlocks shows a reply (what a click in the Home answered) on top.
func noticeBlocks(r reply) []slack.Block {
	if len(r.Blocks) > 0 {
		return r.Blocks
	}
	return []slack.Block{slack.NewSectionBlock(mrkdwn(alert.Truncate(r.Text, maxText)), nil, nil, slack.SectionBlockOptionBlockID("home_notice"))}
}

// homeConnection is the Linear connection: which workspace, how it is
// authorised, whether it works, who connected it and when; and for admins
// the buttons that change it.
func homeConnection(st homeState) []slack.Block {
	var b strings.Builder
	var buttons []slack.BlockElement
	switch {
	case st.ConnErr != nil:
		b.WriteString(":warning: Could not read the Linear connection (" + escapeMrkdwn(alert.UserMessage(st.ConnErr)) + "). Open the Home again in a moment.")
	case st.Conn != nil:
		c := st.Conn
		b.WriteString("*Linear workspace:* " + escapeMrkdwn(c.OrgName))
		if c.OrgURLKey != "" {
			b.WriteString(" (`" + escapeMrkdwn(c.OrgURLKey) + "`)")
		}
		b.WriteString("\n*Connected with:* OAuth")
		if c.ConnectedBy != "" {
			b.WriteString(", by " + mentions([]string{c.ConnectedBy}))
		}
		if !c.CreatedAt.IsZero() {
			b.WriteString(" on " + slackDate(c.CreatedAt))
		}
		if c.UserName != "" {
			b.WriteString(", as Linear user " + escapeMrkdwn(c.UserName))
		}
		if c.Status == alert.ConnectionNeedsReconnect {
			b.WriteString("\n*Health:* :warning: needs reconnecting: " + reasonWords(c.StatusReason) +
				". A workspace admin reconnects with *Reconnect* here or `/proliferate-linear connect`.")
		} else {
			b.WriteString("\n*Health:* " + health(st))
		}
		reconnect := slack.NewButtonBlockElement(actionConnect, "", plain("Reconnect"))
		if c.Status == alert.ConnectionNeedsReconnect {
			reconnect = reconnect.WithStyle(slack.StylePrimary)
		}
		buttons = append(buttons, reconnect, disconnectButton(*c))
	case st.APIKey || (st.Workspace != nil && !st.OAuth):
		b.WriteString("*Linear workspace:* ")
		switch {
		case st.Workspace != nil:
			b.WriteString(escapeMrkdwn(st.Workspace.OrgName))
			if st.Workspace.OrgURLKey != "" {
				b.WriteString(" (`" + escapeMrkdwn(st.Workspace.OrgURLKey) + "`)")
			}
		case st.Refreshing:
			b.WriteString("asking Linear…")
		default:
			b.WriteString("unknown")
		}
		if st.APIKey {
			b.WriteString("\n*Connected with:* a personal API key (LINEAR_API_KEY) set where the bot runs")
		}
		if st.Workspace != nil && st.Workspace.UserName != "" {
			b.WriteString("\n*Linear user:* " + escapeMrkdwn(st.Workspace.UserName))
		}
		b.WriteString("\n*Health:* " + health(st))
		if st.OAuth {
			b.WriteString("\nA workspace admin can connect with OAuth instead, so issues are created by the app.")
			buttons = append(buttons, connectButton())
		}
	case st.OAuth:
		b.WriteString("*Linear:* not connected. Nobody can create or link Linear issues from Slack until a workspace admin connects it.")
		buttons = append(buttons, connectButton())
	default:
		b.WriteString("*Linear:* not connected. Neither OAuth (LINEAR_CLIENT_ID) nor LINEAR_API_KEY is configured where the bot runs.")
	}
	blocks := []slack.Block{slack.NewSectionBlock(mrkdwn(b.String()), nil, nil, slack.SectionBlockOptionBlockID("home_connection"))}
	switch {
	case len(buttons) > 0 && st.Admin:
		blocks = append(blocks, slack.NewActionBlock("home_connection_actions", buttons...))
	case len(buttons) > 0 && st.Restricted != "":
		blocks = append(blocks, slack.NewContextBlock("home_restricted", mrkdwn(st.Restricted)))
	}
	return blocks
}

// health words whether Linear answers, as far as the Home knows.
func health(st homeState) string {
	switch {
	case st.LinearErr != nil && needsConnect(st.LinearErr):
		return ":warning: Linear refused the credentials. " + escapeMrkdwn(alert.UserMessage(st.LinearErr))
	case st.LinearErr != nil:
		return ":warning: Linear did not answer just now"
	case st.Refreshing:
		return "checking…"
	case st.Workspace != nil || st.Conn != nil:
		return ":white_check_mark: working"
	}
	return "unknown"
}

// homeDefaultTeam is the default team, with a select for admins of an
// OAuth connection once the teams are known.
func homeDefaultTeam(st homeState) slack.Block {
	own := ""
	if st.Conn != nil {
		own = st.Conn.DefaultTeamKey
	}
	key := or(own, st.ConfigDefault)
	text := "*Default team:* none. New issues start without a team preselected."
	if key != "" {
		text = "*Default team:* " + teamLabel(st.Teams, key)
		if own == "" {
			text += " (from LINEAR_DEFAULT_TEAM)"
		}
	}
	var acc *slack.Accessory
	if st.Admin && st.Conn != nil {
		if opts, sel, _ := defaultTeamOptions(st.Teams, key); len(opts) > 0 {
			pick := slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, plain("Choose a team"), actionSetDefaultTeam, opts...)
			pick.InitialOption = sel
			acc = slack.NewAccessory(pick)
		}
	}
	return slack.NewSectionBlock(mrkdwn(text), nil, acc, slack.SectionBlockOptionBlockID("home_default_team"))
}

// teamLabel is "Engineering (`ENG`)" when the team is known, else the key.
func teamLabel(teams []alert.Team, key string) string {
	for _, t := range teams {
		if strings.EqualFold(t.Key, key) {
			return escapeMrkdwn(t.Name) + " (`" + escapeMrkdwn(t.Key) + "`)"
		}
	}
	return "`" + escapeMrkdwn(key) + "`"
}

// channelID matches a Slack conversation ID, which alone may go into a
// <#…> link: anything else is shown escaped.
var channelID = regexp.MustCompile(`^[CGD][A-Z0-9]+$`)

// homeChannelList lists where alerts arrive, the latest first.
func homeChannelList(chans []alert.AlertChannel) slack.Block {
	if len(chans) == 0 {
		return slack.NewSectionBlock(mrkdwn("*Alert channels:* none yet. Invite the bot to the channels Proliferate posts its alerts in "+
			"(`/invite @Proliferate Linear`), or point Proliferate's webhook at the bot."), nil, nil, slack.SectionBlockOptionBlockID("home_channels"))
	}
	var b strings.Builder
	b.WriteString("*Alert channels*")
	for i, c := range chans {
		name := escapeMrkdwn(c.Channel)
		if channelID.MatchString(c.Channel) {
			name = "<#" + c.Channel + ">"
		}
		errs := "1 error"
		if c.Errors != 1 {
			errs = fmt.Sprintf("%d errors", c.Errors)
		}
		line := "\n• " + name + ": " + errs
		if !c.LastSeen.IsZero() {
			line += ", last seen " + slackDate(c.LastSeen)
		}
		if b.Len()+len(line) > maxText-30 {
			fmt.Fprintf(&b, "\n… and %d more", len(chans)-i)
			break
		}
		b.WriteString(line)
	}
	return slack.NewSectionBlock(mrkdwn(b.String()), nil, nil, slack.SectionBlockOptionBlockID("home_channels"))
}

// homeIssueList lists the issues created or linked from Slack lately,
// one section each.
func homeIssueList(links []alert.IssueLink) []slack.Block {
	if len(links) == 0 {
		return []slack.Block{slack.NewSectionBlock(mrkdwn("*Recent issues:* none yet. "+
			"Click *Create Linear Issue* or *Link existing* on an alert."), nil, nil, slack.SectionBlockOptionBlockID("home_issues"))}
	}
	blocks := []slack.Block{slack.NewSectionBlock(mrkdwn("*Recent issues from Slack*"), nil, nil, slack.SectionBlockOptionBlockID("home_issues"))}
	for i, l := range links {
		if i == homeIssues {
			break
		}
		ident := "*" + escapeMrkdwn(l.Identifier) + "*"
		if u, ok := safeURL(l.URL); ok {
			ident = "*" + slackLink(u, l.Identifier) + "*"
		}
		text := ident + " " + mrkdwnWithin(l.Title, maxHomeTitle)
		var meta []string
		if l.StateName != "" {
			meta = append(meta, "*"+escapeMrkdwn(l.StateName)+"*")
		}
		if l.AssigneeName != "" {
			meta = append(meta, escapeMrkdwn(l.AssigneeName))
		}
		verb := "created"
		if l.Kind == alert.LinkLinked {
			verb = "linked"
		}
		if slackUserID.MatchString(l.CreatedBy) {
			verb += " by <@" + l.CreatedBy + ">"
		}
		if !l.CreatedAt.IsZero() {
			verb += " " + slackDate(l.CreatedAt)
		}
		meta = append(meta, verb)
		text += "\n" + strings.Join(meta, " · ")
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn(text), nil, nil, slack.SectionBlockOptionBlockID(fmt.Sprintf("home_issue_%d", i))))
	}
	return blocks
}
