package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/slack-go/slack"

	"github.com/proliferate/proliferate-linear/alert"
)

// openCreate answers a click on "Create Linear Issue": views.open first
// (the trigger_id dies after 3 seconds), Linear only afterwards, each fill
// a views.update guarded by the view's hash so a newer update by the user's
// own actions is never overwritten. force is the confirmed "Create another
// issue" of an error that is already tracked.
//
// It runs in the fast lane: the store and the caches only. Whatever needs
// Linear (teams and members not cached) is handed to the slow lane.
func (b *Bot) openCreate(ctx context.Context, cb slack.InteractionCallback, alertID int64, force bool) {
	b.openCreateWith(ctx, cb, alertID, force, "")
}

// openCreateWith is openCreate with the description pre-filled as prefill
// instead of the alert's (a message shortcut quotes its message). The
// digest in the modal's metadata stays the alert's, so a prefill submitted
// unchanged reaches Linear as shown.
func (b *Bot) openCreateWith(ctx context.Context, cb slack.InteractionCallback, alertID int64, force bool, prefill string) {
	meta := modalMeta{
		Force:      force,
		AlertID:    alertID,
		CreationID: b.svc.NewCreationID(),
		Channel:    or(cb.Container.ChannelID, cb.Channel.ID),
		TS:         or(cb.Container.MessageTs, cb.Message.Timestamp),
	}
	log := b.log.With("alert_id", alertID, "channel", meta.Channel, "user", cb.User.ID)

	// The store is local; this read costs milliseconds of the 3 seconds.
	a, link, err := b.alertAndLink(ctx, alertID)
	if err != nil {
		log.WarnContext(ctx, "create modal: alert", "err", err)
		b.openView(ctx, log, cb.TriggerID, b.failModal(err, meta))
		return
	}
	// Local too: the connection's default team, read before views.open.
	defaultKey := b.defaultTeamKey(ctx, cb.Team.ID)
	meta.Prefill = digest(alert.DescriptionWithin(a, maxDescriptionInput))
	if link != nil && !link.Closed() && !force {
		b.openView(ctx, log, cb.TriggerID, linkedModal(*link, meta))
		return
	}

	form := createForm{Alert: a, Link: link, Force: force}
	form.Values.Description = prefill
	defaultKey = b.applyRoute(ctx, log, &form, defaultKey)
	teams, cached := b.teams.get("")
	if !cached {
		view := b.openView(ctx, log, cb.TriggerID, loadingModal(meta))
		if view != nil {
			b.checkLater(ctx, log, view, meta)
			b.fillLater(ctx, log, view, meta, func(ctx context.Context) {
				b.fillCreate(ctx, log, view, meta, form, defaultKey, "")
			})
		}
		return
	}
	form.Teams = teams
	form.TeamID = defaultTeamID(teams, defaultKey)
	if form.TeamID != "" {
		d, cached := b.cachedDetails(form.TeamID)
		form.withDetails(d)
		form.MembersLoading = !cached
	}
	view := b.openView(ctx, log, cb.TriggerID, createModal(form, meta))
	if view != nil {
		b.checkLater(ctx, log, view, meta)
	}
	if view != nil && form.MembersLoading {
		b.fillLater(ctx, log, view, meta, func(ctx context.Context) {
			b.fillCreate(ctx, log, view, meta, form, defaultKey, form.TeamID)
		})
	}
}

// checkLater asks Linear, in the check lane, whether the error is already
// attached to an issue, while the person fills the modal: the answer is
// stored (Service.CheckBeforeCreate), so the submit makes one Linear
// request, the create. An issue found is shown at once, as a click on a
// tracked error shows it. The check is an optimisation: when its lane is
// full or Linear fails, the submit asks Linear itself.
func (b *Bot) checkLater(ctx context.Context, log *slog.Logger, view *slack.View, meta modalMeta) {
	if meta.Force {
		return // "Create another issue": the person knows it is tracked.
	}
	queued := b.check.submit(func(ctx context.Context) {
		link, err := b.svc.CheckBeforeCreate(ctx, meta.AlertID)
		switch {
		case err != nil:
			log.InfoContext(ctx, "create modal: duplicate check in linear failed; the submit checks again", "err", err)
		case link != nil:
			// A hash conflict (the person acted meanwhile) drops this
			// update; the submit then finds the link and says so.
			b.updateView(ctx, log, view, linkedModal(*link, meta))
		}
	})
	if !queued {
		log.DebugContext(ctx, "create modal: check lane full; the submit checks linear")
	}
}

// fillLater hands fill, the Linear part of a modal, to the slow lane. When
// that lane is full the modal says so rather than loading forever.
func (b *Bot) fillLater(ctx context.Context, log *slog.Logger, view *slack.View, meta modalMeta, fill job) {
	if b.slow.submit(fill) {
		return
	}
	log.WarnContext(ctx, "create modal: slow lane full", "view_id", view.ID)
	b.updateView(ctx, log, view, infoModal(":warning: "+busyText+" Close this and click again.", meta))
}

// fillCreate completes the create modal from Linear: the team list when
// teams is empty (team then follows defaultKey), and the members, labels
// and projects of the chosen team. It runs in the slow lane.
func (b *Bot) fillCreate(ctx context.Context, log *slog.Logger, view *slack.View, meta modalMeta, form createForm, defaultKey, team string) {
	var err error
	if form.Teams == nil {
		if form.Teams, err = b.teamList(ctx); err != nil {
			log.WarnContext(ctx, "create modal: teams", "err", err)
			b.updateView(ctx, log, view, b.failModal(err, meta))
			return
		}
		form.TeamID = defaultTeamID(form.Teams, defaultKey)
		team = form.TeamID
		if team != "" {
			d, cached := b.cachedDetails(team)
			form.withDetails(d)
			form.MembersLoading = !cached
		}
		if view = b.updateView(ctx, log, view, createModal(form, meta)); view == nil || !form.MembersLoading {
			return
		}
	}
	if team == "" {
		return
	}
	form.MembersLoading = false
	d, err := b.loadDetails(ctx, team)
	form.withDetails(d)
	if err != nil {
		log.WarnContext(ctx, "create modal: team details", "team_id", team, "err", err)
		form.Error = alert.UserMessage(err)
	}
	b.updateView(ctx, log, view, createModal(form, meta))
}

// teamChanged rebuilds the modal for a newly picked team: its members,
// labels and projects in fresh elements (their block_ids carry the team).
// Typed values survive because their block_ids stay the same. It runs in
// the fast lane; details not cached are shown loading and filled in from
// the slow lane.
func (b *Bot) teamChanged(ctx context.Context, cb slack.InteractionCallback, teamID string) {
	log := b.log.With("view_id", cb.View.ID, "team_id", teamID, "user", cb.User.ID)
	meta, err := decodeMeta(cb.View.PrivateMetadata)
	if err != nil {
		log.WarnContext(ctx, "team change", "err", err)
		return
	}
	a, link, err := b.alertAndLink(ctx, meta.AlertID)
	if err != nil {
		b.updateView(ctx, log, &cb.View, b.failModal(err, meta))
		return
	}
	form := createForm{Alert: a, Link: link, TeamID: teamID, Force: meta.Force}
	// Back on the rule's team, its assignee, labels and project are
	// offered again (a local read; the priority the person chose stays, as
	// Slack keeps an input's state across views.update).
	b.applyRoute(ctx, log, &form, "")
	teams, cached := b.teams.get("")
	if !cached {
		// Rare (the list outlived its TTL while the modal was open): all of
		// it is Linear's, so all of it goes to the slow lane.
		view := &cb.View
		b.fillLater(ctx, log, view, meta, func(ctx context.Context) {
			if form.Teams, err = b.teamList(ctx); err != nil {
				b.updateView(ctx, log, view, b.failModal(err, meta))
				return
			}
			b.fillCreate(ctx, log, view, meta, form, "", teamID)
		})
		return
	}
	form.Teams = teams
	d, cached := b.cachedDetails(teamID)
	form.withDetails(d)
	form.MembersLoading = !cached
	view := b.updateView(ctx, log, &cb.View, createModal(form, meta))
	if view != nil && form.MembersLoading {
		b.fillLater(ctx, log, view, meta, func(ctx context.Context) {
			b.fillCreate(ctx, log, view, meta, form, "", teamID)
		})
	}
}

// retryForm brings the create form back after a failed submission, filled
// as submitted and with the same creation_id, so a retry stays one intent;
// msg (mrkdwn) says on top what went wrong and what to do.
func (b *Bot) retryForm(ctx context.Context, meta modalMeta, sub submission, cause error, msg string) slack.ModalViewRequest {
	a, link, err := b.alertAndLink(ctx, meta.AlertID)
	if err != nil {
		return b.failModal(cause, meta)
	}
	teams, terr := b.teamList(ctx)
	if terr != nil {
		return b.failModal(cause, meta)
	}
	d, _ := b.loadDetails(ctx, sub.TeamID) // without them the form still works, unassigned and unlabelled.
	f := createForm{
		Alert: a, Link: link, Force: meta.Force, Teams: teams, TeamID: sub.TeamID,
		Error: msg, Connect: b.offerConnect(cause), Values: sub,
	}
	f.withDetails(d)
	return createModal(f, meta)
}

// failModal is errorModal with a Connect Linear button when connecting
// is what fixes err.
func (b *Bot) failModal(err error, meta modalMeta) slack.ModalViewRequest {
	v := errorModal(err, meta)
	if b.offerConnect(err) {
		v.Blocks.BlockSet = append(v.Blocks.BlockSet, slack.NewActionBlock("connect", connectButton()))
	}
	return v
}

// alertAndLink reads an alert and the link of its error, if any.
func (b *Bot) alertAndLink(ctx context.Context, alertID int64) (alert.Alert, *alert.IssueLink, error) {
	a, err := b.svc.Alert(ctx, alertID)
	if err != nil {
		return alert.Alert{}, nil, fmt.Errorf("alert %d: %w", alertID, err)
	}
	l, err := b.svc.Link(ctx, a.ErrorID)
	switch {
	case err == nil:
		return a, &l, nil
	case errors.Is(err, alert.ErrNotFound):
		return a, nil, nil
	}
	return alert.Alert{}, nil, fmt.Errorf("link of %s: %w", a.ErrorID, err)
}

// teamList is the workspace's teams, from the cache or Linear.
func (b *Bot) teamList(ctx context.Context) ([]alert.Team, error) {
	return b.teams.load(ctx, "", "linear teams", b.svc.Teams)
}

// memberList is the team's members, from the cache or Linear.
func (b *Bot) memberList(ctx context.Context, teamID string) ([]alert.User, error) {
	return b.members.load(ctx, teamID, "linear team members", func(ctx context.Context) ([]alert.User, error) {
		return b.svc.TeamMembers(ctx, teamID)
	})
}

// defaultTeamID is the ID of the team whose key (or ID) is key.
func defaultTeamID(teams []alert.Team, key string) string {
	if key == "" {
		return ""
	}
	for _, t := range teams {
		if strings.EqualFold(t.Key, key) || t.ID == key {
			return t.ID
		}
	}
	return ""
}

// openView calls views.open and returns the opened view (its ID and hash,
// see viewsapi.go), nil on failure.
func (b *Bot) openView(ctx context.Context, log *slog.Logger, trigger string, v slack.ModalViewRequest) *slack.View {
	view, err := b.viewsOpen(ctx, trigger, v)
	if err != nil {
		log.ErrorContext(ctx, "views.open", "err", err)
		return nil
	}
	return view
}

// updateView replaces view guarded by its hash. On hash_conflict the user
// has changed the modal meanwhile and their own action brings a newer
// update, so this one is dropped rather than retried.
func (b *Bot) updateView(ctx context.Context, log *slog.Logger, view *slack.View, v slack.ModalViewRequest) *slack.View {
	next, err := b.viewsUpdate(ctx, v, view.Hash, view.ID)
	if err != nil {
		if slackCode(err) == "hash_conflict" {
			return nil
		}
		log.ErrorContext(ctx, "views.update", "view_id", view.ID, "err", err)
		return nil
	}
	return next
}

// slackCode is the error code of a Web API error ("" if not one).
func slackCode(err error) string {
	var se slack.SlackErrorResponse
	if errors.As(err, &se) {
		return se.Err
	}
	return ""
}
