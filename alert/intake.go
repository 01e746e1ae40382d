package alert

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// This file is the second door for alerts: Proliferate's own Slack
// messages, read by the bot from the channels it is in. They become the
// same Alert as the webhook's, keyed by (Proliferate issue, channel).

// AcceptFromSlack stores an alert read from a Slack message (a.ThreadTS is
// that message's ts), handled once per Events API eventID even when Slack
// redelivers it or several replicas receive it; fresh is false for a
// repeat, which changes nothing. The first message of an error in a
// channel gets the bot's reply with the buttons in its thread. A later one
// (a spike, a regression, or a message for an error the webhook already
// announced) folds into the existing alert, whose message is updated in
// place, and gets a reply in its own thread saying where the error is
// tracked: never a second offer to create.
func (s *Service) AcceptFromSlack(ctx context.Context, eventID string, a Alert) (Alert, bool, error) {
	if strings.TrimSpace(eventID) == "" {
		return Alert{}, false, fmt.Errorf("slack event id is required: %w", ErrInvalid)
	}
	if a.ThreadTS == "" {
		return Alert{}, false, fmt.Errorf("slack message ts is required: %w", ErrInvalid)
	}
	now := s.now().UTC()
	if a.LastSeen.IsZero() {
		a.LastSeen = now
	}
	if a.FirstSeen.IsZero() {
		a.FirstSeen = a.LastSeen
	}
	msgTS := a.ThreadTS
	auto := s.autoJobs(ctx, a, s.routeOf(ctx, a))
	stored, fresh, err := s.store.AcceptSlackAlert(ctx, eventID, a, func(stored Alert) []Job {
		var jobs []Job
		if stored.Occurrences > 1 && stored.Thread() != msgTS {
			jobs = append(jobs, StatusJob(stored.ID, msgTS))
		}
		if auto != nil {
			jobs = append(jobs, auto(stored)...)
		}
		return jobs
	})
	if err != nil {
		return Alert{}, false, fmt.Errorf("accept slack alert %s: %w", a.ErrorID, err)
	}
	if !fresh {
		s.log.InfoContext(ctx, "slack event already handled", "event_id", eventID, "error_id", a.ErrorID, "channel", a.Channel)
		return stored, false, nil
	}
	var link *IssueLink
	if l, err := s.store.Link(ctx, stored.ErrorID); err == nil {
		link = &l
	} else if !errors.Is(err, ErrNotFound) {
		s.log.WarnContext(ctx, "regression note: link", "alert_id", stored.ID, "err", err)
	}
	if err := s.noteRegression(ctx, stored, link); err != nil {
		s.log.WarnContext(ctx, "regression note", "alert_id", stored.ID, "err", err)
	}
	s.notify()
	s.log.InfoContext(ctx, "alert accepted from slack", "alert_id", stored.ID, "error_id", stored.ErrorID,
		"channel", stored.Channel, "thread_ts", stored.Thread(), "occurrences", stored.Occurrences, "event_id", eventID)
	return stored, true, nil
}

// AlertForMessage returns the alert a message shortcut acts on: the stored
// alert of (a.ErrorID, a.Channel) if there is one, else a, stored as a new
// alert living in the thread of a.ThreadTS. Nothing is posted: the bot's
// message appears in that thread once an issue is created or linked (the
// link's jobs render every alert of the error), so a shortcut given up in
// the modal leaves no trace in Slack.
func (s *Service) AlertForMessage(ctx context.Context, a Alert) (Alert, error) {
	if strings.TrimSpace(a.ErrorID) == "" || a.Channel == "" || a.ThreadTS == "" {
		return Alert{}, fmt.Errorf("a message alert needs an error id, a channel and a ts: %w", ErrInvalid)
	}
	if a.LastSeen.IsZero() {
		a.LastSeen = s.now().UTC()
	}
	if a.FirstSeen.IsZero() {
		a.FirstSeen = a.LastSeen
	}
	stored, err := s.store.EnsureAlert(ctx, a)
	if err != nil {
		return Alert{}, fmt.Errorf("alert for message %s/%s: %w", a.Channel, a.ThreadTS, err)
	}
	return stored, nil
}

// threadStatus runs a JobThreadStatus: once the alert's own message is
// out (so the reply can point at it), the reply under the later message
// whose ts the job's Payload holds. Like a thread note it waits for the
// message, and ends with it if the message's render job is dead.
func (d *Dispatcher) threadStatus(ctx context.Context, j Job) error {
	a, err := d.store.Alert(ctx, j.AlertID)
	if errors.Is(err, ErrNotFound) {
		d.log.WarnContext(ctx, "job dropped: its alert is gone", "job_id", j.ID, "alert_id", j.AlertID)
		return nil
	}
	if err != nil {
		return fmt.Errorf("alert %d: %w", j.AlertID, err)
	}
	if j.Payload == "" {
		return Permanent(fmt.Errorf("status job %d names no message: %w", j.ID, ErrInvalid))
	}
	if a.MessageTS == "" {
		r, err := d.store.JobByDedupeKey(ctx, renderKey(a.ID))
		switch {
		case err == nil && r.Status == JobDead:
			return Permanent(fmt.Errorf("the alert's message could not be posted (job %d is dead: %s)", r.ID, r.LastError))
		case err == nil:
			return Postpone(errors.New("alert message not posted yet"), d.MessageWait)
		default:
			return fmt.Errorf("alert %d has no message to point at: %v", a.ID, err)
		}
	}
	link, err := d.linkOf(ctx, a.ErrorID)
	if err != nil {
		return err
	}
	if err := d.waitTurn(ctx, a.Channel); err != nil {
		return err
	}
	return d.slackErr(ctx, a.Channel, d.poster.PostStatus(ctx, a, link, j.Payload))
}
