package alert

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// This file holds the Dispatcher's own job kinds: an alert's Slack message
// and its thread notes. All retrying of Slack calls happens in the engine
// (engine.go) and nowhere else.

// errChannelBusy: the channel's turn is too far off to wait for.
var errChannelBusy = errors.New("slack channel rate limit in force")

// renderAlert posts the alert's message, or updates it in place. Jobs of
// one alert share a serial key, so no other job of this alert runs
// meanwhile, on any replica: the ts read here is the latest.
func (d *Dispatcher) renderAlert(ctx context.Context, j Job) error {
	a, err := d.store.Alert(ctx, j.AlertID)
	if errors.Is(err, ErrNotFound) {
		d.log.WarnContext(ctx, "job dropped: its alert is gone", "job_id", j.ID, "alert_id", j.AlertID)
		return nil
	}
	if err != nil {
		return fmt.Errorf("alert %d: %w", j.AlertID, err)
	}
	if j.Payload == repeatPayload && a.MessageTS == "" {
		// A repeat of an alert whose message is not posted: the render
		// job that posts it shows the latest count (dead: there is no
		// message to update).
		return nil
	}
	link, err := d.linkOf(ctx, a.ErrorID)
	if err != nil {
		return err
	}
	if a.MessageTS == "" && j.Attempts > 0 {
		if ts := d.findPosted(ctx, j, a); ts != "" {
			if err := d.store.SetAlertMessage(context.WithoutCancel(ctx), a.ID, ts); err != nil {
				return fmt.Errorf("record found message ts %s: %w", ts, err)
			}
			// Bring the found message up to date: it shows the state
			// of the attempt that posted it.
			a.MessageTS = ts
		}
	}
	if err := d.waitTurn(ctx, a.Channel); err != nil {
		return err
	}
	if a.MessageTS != "" {
		return d.slackErr(ctx, a.Channel, d.poster.UpdateAlert(ctx, a, link))
	}
	ts, err := d.poster.PostAlert(ctx, a, link)
	if err != nil {
		return d.slackErr(ctx, a.Channel, err)
	}
	// The message is out: record it even if shutdown cancelled ctx meanwhile.
	if err := d.store.SetAlertMessage(context.WithoutCancel(ctx), a.ID, ts); err != nil {
		// The message is out but we cannot remember it. The retry
		// may post a second message: a duplicate beats a lost alert.
		return fmt.Errorf("record message ts %s: %w", ts, err)
	}
	if d.OnAlertPosted != nil && !a.CreatedAt.IsZero() {
		d.OnAlertPosted(d.now().Sub(a.CreatedAt))
	}
	return nil
}

// findPosted looks in Slack for a message an earlier attempt of render job
// j posted without recording its ts (the worker died, or Slack's answer was
// lost), and returns its ts or "". A failed look is logged and reads as
// "none": posting again risks a duplicate, not posting risks a lost alert.
func (d *Dispatcher) findPosted(ctx context.Context, j Job, a Alert) string {
	f, ok := d.poster.(MessageFinder)
	if !ok {
		return ""
	}
	ts, err := f.FindAlertMessage(ctx, a)
	if err != nil {
		d.log.WarnContext(ctx, "could not look for an earlier attempt's message; posting, which may duplicate it",
			"job_id", j.ID, "alert_id", a.ID, "channel", a.Channel, "attempts", j.Attempts, "err", err)
		return ""
	}
	if ts != "" {
		d.log.InfoContext(ctx, "adopted the message an earlier attempt posted",
			"job_id", j.ID, "alert_id", a.ID, "channel", a.Channel, "ts", ts, "last_error", j.LastError)
	}
	return ts
}

// threadNote replies in the alert's thread (Alert.Thread). A note whose message
// is not posted yet waits for it (postponed, no attempt counted); if the
// message's render job is dead, the note is buried with it and says why.
// linkOf returns the issue link of an error for a rendering, nil if it has none.
func (d *Dispatcher) linkOf(ctx context.Context, errorID string) (*IssueLink, error) {
	l, err := d.store.Link(ctx, errorID)
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("link of %s: %w", errorID, err)
	}
	return &l, nil
}

func (d *Dispatcher) threadNote(ctx context.Context, j Job) error {
	note, err := JobNote(j)
	if err != nil {
		return Permanent(err) // no retry can read it.
	}
	a, err := d.store.Alert(ctx, j.AlertID)
	if errors.Is(err, ErrNotFound) {
		d.log.WarnContext(ctx, "job dropped: its alert is gone", "job_id", j.ID, "alert_id", j.AlertID)
		return nil
	}
	if err != nil {
		return fmt.Errorf("alert %d: %w", j.AlertID, err)
	}
	if a.MessageTS == "" {
		r, err := d.store.JobByDedupeKey(ctx, renderKey(a.ID))
		switch {
		case err == nil && r.Status == JobDead:
			return Permanent(fmt.Errorf("the alert's message could not be posted (job %d is dead: %s)", r.ID, r.LastError))
		case err == nil:
			return Postpone(errors.New("alert message not posted yet"), d.MessageWait)
		case errors.Is(err, ErrNotFound):
			// Nothing will post the message: an attempt, so it ends.
			return fmt.Errorf("alert %d has no message and no job to post it", a.ID)
		default:
			return fmt.Errorf("render job of alert %d: %w", a.ID, err)
		}
	}
	if err := d.waitTurn(ctx, a.Channel); err != nil {
		return err
	}
	return d.slackErr(ctx, a.Channel, d.poster.PostNote(ctx, a, note))
}

// slackErr holds the channel for every replica when Slack answered with a
// Retry-After, before the job's own retry is even scheduled, so no job
// waiting for that channel calls before the wait is over.
func (d *Dispatcher) slackErr(ctx context.Context, channel string, err error) error {
	var tmp *TemporaryError
	if errors.As(err, &tmp) && tmp.After > 0 {
		if herr := d.store.HoldChannel(context.WithoutCancel(ctx), channel, tmp.After); herr != nil {
			d.log.ErrorContext(ctx, "hold slack channel", "channel", channel, "err", herr)
		}
	}
	return err
}

// waitTurn blocks until channel may receive its next message, in turn
// with every replica (the pace lives in the database). The job was claimed
// at most ClaimAhead before its turn, and while it waits it does not count
// against Workers. A wait longer than MaxChannelWait (Slack asked for a
// long Retry-After) is not sat out: the job is postponed until the channel
// is free. A
// Retry-After that arrives while the job waits voids its slot: it checks
// the channel's hold once more before returning and waits again.
func (d *Dispatcher) waitTurn(ctx context.Context, channel string) error {
	for {
		wait, ok, err := d.store.ReserveChannelSlot(ctx, channel, d.ChannelGap, d.MaxChannelWait)
		if err != nil {
			return fmt.Errorf("reserve a slot in %s: %w", channel, err)
		}
		if !ok {
			return Postpone(fmt.Errorf("channel %s is held for %s: %w", channel, wait.Round(time.Millisecond), errChannelBusy), wait)
		}
		if wait <= 0 {
			return nil // the reservation saw the hold as of now.
		}
		if err := d.waitFor(ctx, wait); err != nil {
			return err
		}
		held, err := d.store.ChannelHeld(ctx, channel)
		if err != nil {
			return fmt.Errorf("hold of %s: %w", channel, err)
		}
		if held <= 0 {
			return nil
		}
	}
}

// SetClock replaces the clock the Dispatcher reads to schedule retries and
// postponements, to judge a job's age and to time accepted → posted
// (time.Now by default). Call it before Run or RunOnce. Tests give it the
// store's clock, so that the due times it writes and the claims the store
// makes agree when the test moves time on.
func (d *Dispatcher) SetClock(now func() time.Time) { d.now = now }
