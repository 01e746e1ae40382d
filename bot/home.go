package bot

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/slack-go/slack"

	"github.com/proliferate/proliferate-linear/alert"
)

// The App Home tab. On app_home_opened the bot publishes the user's Home
// twice: first from what is stored or cached, with no Linear call, so a
// slow or unreachable Linear never holds it; then, once Linear has
// answered (or the refresh budget ran out), with the workspace, the teams
// and the issues' current states. Clicks in the Home (Connect, Disconnect,
// the default team) run the same handlers as the slash command and the
// messages, and are answered by publishing the Home again with the answer
// on top: a Home action carries no response_url and no channel.

// HomeData is the store as the Home reads it; store.DB implements it.
type HomeData interface {
	// AlertChannels lists the channels alerts were seen in, latest first.
	AlertChannels(ctx context.Context, limit int) ([]alert.AlertChannel, error)
	// RecentLinks lists the links made from Slack, one per issue, newest first.
	RecentLinks(ctx context.Context, limit int) ([]alert.IssueLink, error)
}

// homeRefreshBudget bounds the Linear calls behind the second publish.
const homeRefreshBudget = 10 * time.Second

// workspaceTTL is how long Linear's answer about the workspace is reused
// for the first publish (an API key's workspace is stored nowhere else).
const workspaceTTL = 10 * time.Minute

// doChangeConnection is what members are told they may not do in the Home.
const doChangeConnection = "connect or disconnect Linear and change the default team"

// homeOpened is the inner event of app_home_opened
// (https://api.slack.com/events/app_home_opened).
type homeOpened struct {
	User string `json:"user"`
	Tab  string `json:"tab"` // "home" or "messages".
}

// routeHomeOpened decides the work for an app_home_opened event: the
// Home is published when the user opened the Home tab, not the Messages tab.
func (b *Bot) routeHomeOpened(team string, event json.RawMessage) job {
	var ev homeOpened
	if err := json.Unmarshal(event, &ev); err != nil || ev.User == "" || ev.Tab != "home" {
		return nil
	}
	return func(ctx context.Context) { b.publishHome(ctx, team, ev.User, nil) }
}

// fromHome says whether an interaction came from a Home tab.
func fromHome(cb slack.InteractionCallback) bool { return cb.View.Type == slack.VTHomeTab }

// answer replies to a click: in the Home by publishing it again with r on
// top, elsewhere ephemerally through the response_url.
func (b *Bot) answer(ctx context.Context, cb slack.InteractionCallback, r reply) {
	if fromHome(cb) {
		b.publishHome(ctx, cb.Team.ID, cb.User.ID, &r)
		return
	}
	b.respondReply(ctx, cb.ResponseURL, r)
}

// publishHome publishes user's Home from what is stored, then refreshed
// from Linear. notice, when set, is shown on top (the answer to a click).
func (b *Bot) publishHome(ctx context.Context, team, user string, notice *reply) {
	log := b.log.With("team", team, "user", user)
	st := b.homeStored(ctx, log, team, user)
	st.Notice = notice
	st.Refreshing = b.svc != nil
	hash, ok := b.publishView(ctx, log, user, st, "")
	if !ok || b.svc == nil {
		return
	}
	b.homeRefresh(ctx, log, team, &st)
	st.Refreshing = false
	// The hash guards against overwriting a Home published meanwhile (a
	// click answered, another replica): that one is at least as new.
	b.publishView(ctx, log, user, st, hash)
}

// publishView calls views.publish; it returns the published view's hash.
func (b *Bot) publishView(ctx context.Context, log *slog.Logger, user string, st homeState, hash string) (string, bool) {
	req := slack.PublishViewContextRequest{UserID: user, View: homeView(st)}
	if hash != "" {
		req.Hash = &hash
	}
	resp, err := b.api.PublishViewContext(ctx, req)
	if err != nil {
		if slackCode(err) == "hash_conflict" {
			log.DebugContext(ctx, "home published meanwhile; keeping that one")
			return "", false
		}
		log.WarnContext(ctx, "views.publish", "err", classify(err, "views.publish", user))
		return "", false
	}
	log.DebugContext(ctx, "home published", "view_id", resp.View.ID, "refreshing", st.Refreshing)
	return resp.View.Hash, true
}

// homeStored gathers what the Home shows without asking Linear: the
// stored connection, the store's channels and links, cached lists. The
// admin check asks Slack (users.info, cached for a minute).
func (b *Bot) homeStored(ctx context.Context, log *slog.Logger, team, user string) homeState {
	st := homeState{
		OAuth: b.connector != nil, APIKey: b.apiKeyInUse, ConfigDefault: b.defaultTeam,
		Restricted: b.refusal(doChangeConnection),
	}
	admin, err := b.isAdmin(ctx, user)
	if err != nil {
		// The state is still worth showing; the controls wait for Slack.
		log.WarnContext(ctx, "home: admin check", "err", err)
	}
	st.Admin = admin
	b.readConnection(ctx, log, team, &st)
	if ws, ok := b.workspaces.get(""); ok {
		st.Workspace = &ws
	}
	if t, ok := b.teams.get(""); ok {
		st.Teams = t
	}
	b.homeRulesState(ctx, log, &st)
	if b.home != nil {
		if st.Channels, err = b.home.AlertChannels(ctx, homeChannels); err != nil {
			log.WarnContext(ctx, "home: alert channels", "err", err)
		}
		if st.Links, err = b.home.RecentLinks(ctx, homeIssues); err != nil {
			log.WarnContext(ctx, "home: recent links", "err", err)
		}
	}
	return st
}

// readConnection reads the stored OAuth connection into st.
func (b *Bot) readConnection(ctx context.Context, log *slog.Logger, team string, st *homeState) {
	st.Conn, st.ConnErr = nil, nil
	if b.connector == nil {
		return
	}
	c, err := b.connector.Connection(ctx, team)
	switch {
	case errors.Is(err, alert.ErrNotConnected):
	case err != nil:
		log.WarnContext(ctx, "home: read connection", "err", err)
		st.ConnErr = err
	default:
		st.Conn = &c
	}
}

// homeRefresh asks Linear, within homeRefreshBudget and all at once, for
// the workspace, the teams and the listed issues' states.
func (b *Bot) homeRefresh(ctx context.Context, log *slog.Logger, team string, st *homeState) {
	rctx, cancel := context.WithTimeout(ctx, homeRefreshBudget)
	defer cancel()
	var (
		wg                sync.WaitGroup
		ws                alert.Workspace
		teams             []alert.Team
		links             []alert.IssueLink
		wsErr, tErr, lErr error
	)
	wg.Go(func() { ws, wsErr = b.svc.Workspace(rctx) })
	wg.Go(func() { teams, tErr = b.teamList(rctx) })
	if len(st.Links) > 0 {
		wg.Go(func() { links, lErr = b.svc.RefreshIssues(rctx, st.Links) })
	}
	wg.Wait()
	if wsErr == nil {
		b.workspaces.put("", ws)
		st.Workspace = &ws
	}
	if tErr == nil {
		st.Teams = teams
	}
	if lErr == nil && links != nil {
		st.Links = links
	}
	for _, err := range []error{wsErr, tErr, lErr} {
		if err != nil && !errors.Is(err, alert.ErrNotConnected) {
			log.WarnContext(ctx, "home: refresh from linear", "err", err)
			st.LinearErr = err
			break
		}
	}
	// A refused token marks the connection in the store: show that.
	b.readConnection(ctx, log, team, st)
}
