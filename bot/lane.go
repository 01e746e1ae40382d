package bot

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
)

// Work after an ack runs in one of two lanes, each a bounded queue in
// front of its own workers:
//
//   - fast: opening and updating modals from the store and the caches.
//     Slack allows 3 seconds from a click to views.open, so this work never
//     waits behind a Linear call or a Slack post.
//   - slow: everything that calls Linear (filling a modal's lists, reopen,
//     the slash commands) and the rest.
//
// A lane's capacity is reserved before the ack goes out, so a full lane is
// known while the ack can still carry a "busy" answer; no acked envelope
// ends in silence.

// Lane sizes. The fast lane's work takes milliseconds, so a deep queue
// still drains well within 3 seconds: 200 clicks at once on a 2-core
// machine open in about half a second.
const (
	fastWorkers = 16
	fastQueue   = 1024
	// slowQueuePerWorker sizes the slow lane's queue from Config.Workers.
	slowQueuePerWorker = 16
	// The check lane runs the create modal's duplicate check in Linear
	// (see checkLater), apart from the slow lane so a burst of clicks
	// cannot crowd out the fills people wait for; a check that finds it
	// full is skipped.
	checkWorkers = 4
	checkQueue   = 64
)

// lane is a worker pool with a bounded queue.
type lane struct {
	name    string
	workers int
	jobs    chan job
	// queued counts reserved and queued jobs, at most cap(jobs), so push
	// never blocks.
	queued atomic.Int64

	mu     sync.RWMutex // guards closed against push.
	closed bool
	wg     sync.WaitGroup
}

func newLane(name string, workers, queue int) *lane {
	return &lane{name: name, workers: workers, jobs: make(chan job, queue)}
}

// start runs the workers; each job goes through run.
func (l *lane) start(ctx context.Context, run func(context.Context, job)) {
	for range l.workers {
		l.wg.Go(func() {
			for j := range l.jobs {
				l.queued.Add(-1)
				run(ctx, j)
			}
		})
	}
}

// reserve takes a place in the queue for one job, or reports the lane full.
func (l *lane) reserve() bool {
	for {
		n := l.queued.Load()
		if n >= int64(cap(l.jobs)) {
			return false
		}
		if l.queued.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// push queues j in a place reserve took. It reports false, and gives the
// place back, once the lane is closed.
func (l *lane) push(j job) bool {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		l.queued.Add(-1)
		return false
	}
	l.jobs <- j
	return true
}

// submit is reserve and push in one.
func (l *lane) submit(j job) bool {
	return l.reserve() && l.push(j)
}

// close stops taking work and waits for the queued work to finish.
func (l *lane) close() {
	l.mu.Lock()
	if !l.closed {
		l.closed = true
		close(l.jobs)
	}
	l.mu.Unlock()
	l.wg.Wait()
}

// laneFor picks the lane of an envelope's work: the fast lane for clicks
// that open or update a modal from the store and the caches (their Linear
// part, if any, is handed to the slow lane from there), the slow lane for
// everything else.
func (b *Bot) laneFor(evt socketmode.Event) *lane {
	cb, ok := evt.Data.(slack.InteractionCallback)
	if evt.Type == socketmode.EventTypeInteractive && ok && cb.Type == slack.InteractionTypeMessageAction && cb.TriggerID != "" {
		return b.fast // a message shortcut opens a modal (shortcut.go).
	}
	if evt.Type != socketmode.EventTypeInteractive || !ok || cb.Type != slack.InteractionTypeBlockActions {
		return b.slow
	}
	for _, act := range cb.ActionCallback.BlockActions {
		switch act.ActionID {
		case actionCreateIssue, actionCreateAnyway, actionLinkIssue:
			if cb.TriggerID != "" {
				return b.fast
			}
		case actionTeam:
			if cb.View.CallbackID == callbackCreate {
				return b.fast
			}
		case actionRuleAdd:
			// Opens a modal from the store (and users.info, cached).
			if cb.TriggerID != "" {
				return b.fast
			}
		}
		if strings.HasPrefix(act.ActionID, actionRuleMenuPrefix) && cb.TriggerID != "" {
			return b.fast
		}
	}
	return b.slow
}

// busyText is what a user is told when a lane is full.
const busyText = "Too much is happening at once and this could not start. Please try again in a moment."

// maxOverflowAnswers bounds the "busy" answers being sent at once.
const maxOverflowAnswers = 32

// busyAck is the ack of an envelope whose lane is full, when the ack can
// say so itself: a slash command's ephemeral reply. Otherwise it is ack
// unchanged and answerBusy speaks after the ack. (Modal submissions never
// wait for a lane: they are stored before their ack, see deferred.go.)
func (b *Bot) busyAck(evt socketmode.Event, ack any) any {
	if _, ok := evt.Data.(slack.SlashCommand); ok {
		return map[string]string{"response_type": slack.ResponseTypeEphemeral, "text": busyText}
	}
	return ack
}

// answerBusy tells the user of a click whose lane is full, ephemerally
// through the click's response_url or, lacking one, chat.postEphemeral in
// the click's channel. Its own pool is bounded too; past it the refusal is
// only logged.
func (b *Bot) answerBusy(ctx context.Context, evt socketmode.Event) {
	cb, ok := evt.Data.(slack.InteractionCallback)
	if !ok || cb.Type != slack.InteractionTypeBlockActions {
		return // busyAck already answered, or there is no one to tell.
	}
	channel := or(cb.Container.ChannelID, cb.Channel.ID)
	if cb.ResponseURL == "" && channel == "" {
		b.log.WarnContext(ctx, "slack click refused while busy; no way to tell the user", "user", cb.User.ID)
		return
	}
	select {
	case b.overflow <- struct{}{}:
	default:
		b.log.ErrorContext(ctx, "slack click refused while busy; too many refusals to tell", "user", cb.User.ID)
		return
	}
	b.overflowWG.Go(func() {
		defer func() { <-b.overflow }()
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if cb.ResponseURL != "" {
			b.respondReply(actx, cb.ResponseURL, reply{Text: busyText})
			return
		}
		if _, err := b.api.PostEphemeralContext(actx, channel, cb.User.ID, slack.MsgOptionText(busyText, false)); err != nil {
			b.log.WarnContext(actx, "slack busy answer failed", "channel", channel, "user", cb.User.ID, "err", err)
		}
	})
}
