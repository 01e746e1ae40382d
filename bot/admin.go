package bot

import (
	"cmp"
	"context"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Connecting, disconnecting and choosing the default team change what every
// member's issues go to, so they are kept to Slack workspace admins and
// owners (users.info is_admin / is_owner, which needs users:read) and the
// users named in ADMIN_USERS. Creating and linking issues stays open to all.

// Restricted actions, as the refusal names them.
const (
	doConnect     = "connect Linear"
	doDisconnect  = "disconnect Linear"
	doDefaultTeam = "change the default Linear team"
)

// userTTL is how long users.info's answer is reused: a promotion or
// demotion shows within a minute, and a burst of clicks costs one call
// (users.info is Tier 4, about 100 a minute).
const userTTL = time.Minute

// maxUserCache bounds the users kept.
const maxUserCache = 1000

// userInfo is what the bot needs of a Slack user: whether they administer
// the workspace, and how Linear should show them as an issue's creator.
type userInfo struct {
	admin bool
	name  string // display name, else real name, else handle.
	icon  string // a 72 px avatar URL.
}

func newUserCache() *cache[string, userInfo] {
	c := newCache[string, userInfo](userTTL)
	c.limit = maxUserCache
	return c
}

// user reads (and caches) a Slack user with users.info. User IDs are
// unique across workspaces, so the ID alone is the key.
func (b *Bot) user(ctx context.Context, user string) (userInfo, error) {
	key := user
	if u, cached := b.users.get(key); cached {
		return u, nil
	}
	u, err := b.api.GetUserInfoContext(ctx, user)
	if err != nil {
		return userInfo{}, classify(err, "users.info", user)
	}
	info := userInfo{
		admin: u.IsAdmin || u.IsOwner || u.IsPrimaryOwner,
		name:  cmp.Or(u.Profile.DisplayName, u.Profile.RealName, u.RealName, u.Name),
		icon:  u.Profile.Image72,
	}
	b.users.put(key, info)
	return info, nil
}

// slackUserID matches a Slack user ID, which alone may go into a <@…>
// mention: anything else from ADMIN_USERS is shown escaped.
var slackUserID = regexp.MustCompile(`^[UW][A-Z0-9]+$`)

// cleanIDs trims the ADMIN_USERS entries and drops empty ones.
func cleanIDs(ids []string) []string {
	var out []string
	for _, id := range ids {
		if id = strings.TrimSpace(id); id != "" {
			out = append(out, id)
		}
	}
	return out
}

// isAdmin says whether user may connect, disconnect and set the default
// team: named in ADMIN_USERS, or a workspace admin or owner.
func (b *Bot) isAdmin(ctx context.Context, user string) (bool, error) {
	if user == "" {
		return false, nil
	}
	if slices.Contains(b.adminUsers, user) {
		return true, nil
	}
	u, err := b.user(ctx, user)
	return u.admin, err
}

// refusal is the polite answer to a member who may not do what: it names
// who can.
func (b *Bot) refusal(what string) string {
	s := "Only Slack workspace admins and owners can " + what
	if len(b.adminUsers) > 0 {
		s += " (and " + mentions(b.adminUsers) + ")"
	}
	return s + "."
}

// mentions renders user IDs as Slack mentions, separated by commas.
func mentions(ids []string) string {
	parts := make([]string, 0, len(ids))
	for _, id := range ids {
		if slackUserID.MatchString(id) {
			parts = append(parts, "<@"+id+">")
		} else {
			parts = append(parts, escapeMrkdwn(id))
		}
	}
	return strings.Join(parts, ", ")
}

// permitted checks that user may do what. When not, it returns the reply
// to give instead: the refusal, or why the check could not be made.
func (b *Bot) permitted(ctx context.Context, team, user, what string) (reply, bool) {
	ok, err := b.isAdmin(ctx, user)
	if err != nil {
		b.log.WarnContext(ctx, "admin check", "team", team, "user", user, "err", err)
		return textReply(":warning: Could not check your Slack role (Slack did not answer). Please try again in a moment."), false
	}
	if !ok {
		b.log.InfoContext(ctx, "restricted action refused", "team", team, "user", user, "action", what)
		return textReply(b.refusal(what)), false
	}
	return reply{}, true
}
