package bot

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"github.com/proliferate/proliferate-linear/alert"
)

// The Link existing modal's search box is an external_select: each
// keystroke past min_query_length sends a block_suggestion whose ack must
// carry the options within 3 seconds. Linear allows searchIssues about 30
// times a minute, so queries are cached, debounced per modal and spent
// from a small token bucket; what cannot be answered from Linear in time
// is answered with a one-line notice instead of silence.
const (
	searchLimit    = 20 // options shown; Slack allows 100.
	minSearchQuery = 2  // min_query_length of the search element.
	maxSearchQuery = 200
	// searchTTL keeps results long enough to cover typing, deleting and
	// retyping, short enough that a new issue shows up soon.
	searchTTL       = time.Minute
	searchCacheSize = 512
	// defaultSearchDebounce: a query that a newer one from the same modal
	// overtakes within this time is not sent to Linear.
	defaultSearchDebounce = 250 * time.Millisecond
	// searchBurst and searchPerMinute stay under Linear's ~30 a minute
	// with room for the other replicas' occasional search.
	searchBurst     = 5
	searchPerMinute = 20
	// searchBackoff is how long searches stop after Linear says RATELIMITED.
	searchBackoff = time.Minute
	// searchCallTimeout bounds a search that outlived the ack budget and
	// goes on only to fill the cache.
	searchCallTimeout = 10 * time.Second
)

// Values of the notice options. They are not issue ids, so picking one
// and submitting gets an inline "pick an issue" error.
const (
	noticePrefix  = "notice:"
	noticeBusy    = noticePrefix + "busy"
	noticeSlow    = noticePrefix + "slow"
	noticeFailed  = noticePrefix + "failed"
	noticeOffline = noticePrefix + "offline"
	// noticeListFailed: a team or member list Linear could not give.
	noticeListFailed = noticePrefix + "list_failed"
)

var noticeText = map[string]string{
	noticeBusy:       "Linear search is busy. Try again in a moment.",
	noticeSlow:       "Linear is slow to answer. Try again in a moment.",
	noticeFailed:     "Search failed. Paste the issue's URL above instead.",
	noticeOffline:    "Linear is not connected.",
	noticeListFailed: "Linear did not answer. Try again in a moment.",
}

// suggestionResponse is a block_suggestion ack. slack.OptionsResponse
// omits an empty list; Slack wants "options": [] for "no results".
type suggestionResponse struct {
	Options []*slack.OptionBlockObject `json:"options"`
}

// searcher holds the search cache, the rate budget and the debounce marks.
// None of it is modal state: a replica without it only searches more.
type searcher struct {
	results *cache[string, []alert.Issue]

	mu      sync.Mutex
	now     func() time.Time
	tokens  float64
	filled  time.Time
	blocked time.Time         // no searches before this (RATELIMITED).
	latest  map[string]uint64 // view id → sequence of its newest query.
	seq     uint64
}

func newSearcher() *searcher {
	c := newCache[string, []alert.Issue](searchTTL)
	c.limit = searchCacheSize
	return &searcher{results: c, now: time.Now, tokens: searchBurst, latest: map[string]uint64{}}
}

// allow spends one search from the token bucket.
func (s *searcher) allow() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if now.Before(s.blocked) {
		return false
	}
	if !s.filled.IsZero() {
		s.tokens = min(searchBurst, s.tokens+now.Sub(s.filled).Minutes()*searchPerMinute)
	}
	s.filled = now
	if s.tokens < 1 {
		return false
	}
	s.tokens--
	return true
}

// backOff stops searches for d after Linear said RATELIMITED.
func (s *searcher) backOff(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.blocked = s.now().Add(d)
	s.tokens = 0
}

// mark records a new query for view and returns its sequence number.
func (s *searcher) mark(view string) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	s.latest[view] = s.seq
	return s.seq
}

// superseded reports whether a newer query for view came after seq; the
// newest one clears its mark so the map does not grow.
func (s *searcher) superseded(view string, seq uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.latest[view] != seq {
		return true
	}
	delete(s.latest, view)
	return false
}

func searchKey(q string) string {
	return strings.ToLower(strings.Join(strings.Fields(q), " "))
}

// suggestAck answers a block_suggestion of the search box.
func (b *Bot) suggestAck(cb slack.InteractionCallback) *deferredAck {
	query, view := cb.Value, cb.View.ID
	return &deferredAck{
		kind: "block_suggestion",
		busy: suggestionResponse{Options: []*slack.OptionBlockObject{noticeOption(noticeBusy)}},
		answer: func(ctx context.Context) (any, job) {
			return suggestionResponse{Options: b.searchOptions(ctx, view, query)}, nil
		},
	}
}

// searchOptions finds issues matching query, within b.searchBudget.
func (b *Bot) searchOptions(ctx context.Context, view, query string) []*slack.OptionBlockObject {
	key := searchKey(query)
	if utf8.RuneCountInString(key) < minSearchQuery {
		return []*slack.OptionBlockObject{}
	}
	if utf8.RuneCountInString(key) > maxSearchQuery {
		key = string([]rune(key)[:maxSearchQuery])
	}
	if issues, ok := b.search.results.get(key); ok {
		return issueOptions(issues)
	}
	seq := b.search.mark(view)
	if !sleepCtx(ctx, b.debounce) || b.search.superseded(view, seq) {
		// Slack shows only the newest query's answer; this one is moot.
		return []*slack.OptionBlockObject{}
	}
	if issues, ok := b.search.results.get(key); ok { // filled while we waited.
		return issueOptions(issues)
	}
	if !b.search.allow() {
		return []*slack.OptionBlockObject{noticeOption(noticeBusy)}
	}

	type result struct {
		issues []alert.Issue
		err    error
	}
	res := make(chan result, 1)
	// The call may outlive the ack budget; it then goes on, bounded, so
	// the next keystroke with the same text is answered from the cache.
	b.ackWG.Go(func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), searchCallTimeout)
		defer cancel()
		issues, err := b.svc.SearchIssues(cctx, key, searchLimit)
		if err == nil {
			b.search.results.put(key, issues)
		} else if errors.Is(err, alert.ErrRateLimited) {
			b.search.backOff(searchBackoff)
		}
		res <- result{issues, err}
	})
	timer := time.NewTimer(b.searchBudget)
	defer timer.Stop()
	select {
	case r := <-res:
		switch {
		case r.err == nil:
			return issueOptions(r.issues)
		case errors.Is(r.err, alert.ErrNotConnected):
			return []*slack.OptionBlockObject{noticeOption(noticeOffline)}
		case errors.Is(r.err, alert.ErrRateLimited):
			return []*slack.OptionBlockObject{noticeOption(noticeBusy)}
		}
		b.log.WarnContext(ctx, "linear issue search failed", "view_id", view, "err", r.err)
		return []*slack.OptionBlockObject{noticeOption(noticeFailed)}
	case <-timer.C:
		b.log.InfoContext(ctx, "linear issue search outlived the ack budget", "view_id", view, "budget", b.searchBudget)
		return []*slack.OptionBlockObject{noticeOption(noticeSlow)}
	case <-ctx.Done():
		return []*slack.OptionBlockObject{noticeOption(noticeSlow)}
	}
}

// issueOptions turns issues into options: "ENG-123 · title" (75
// characters at most, Slack's limit on option text), the status and
// assignee as the description, the issue id as the value. Option text is
// plain_text, so a title needs no escaping: Slack shows it as typed.
func issueOptions(issues []alert.Issue) []*slack.OptionBlockObject {
	opts := make([]*slack.OptionBlockObject, 0, min(len(issues), searchLimit))
	for _, is := range issues {
		if len(opts) == searchLimit {
			break
		}
		if is.ID == "" || len(is.ID) > maxOptionValue {
			continue
		}
		text := alert.Truncate(strings.Join(strings.Fields(is.Identifier+" · "+is.Title), " "), maxButtonText)
		var desc *slack.TextBlockObject
		if d := issueStatus(is.StateName, is.AssigneeName); d != "" {
			desc = plain(alert.Truncate(d, maxButtonText))
		}
		opts = append(opts, slack.NewOptionBlockObject(is.ID, plain(text), desc))
	}
	return opts
}

func issueStatus(state, assignee string) string {
	var parts []string
	if state != "" {
		parts = append(parts, state)
	}
	if assignee != "" {
		parts = append(parts, assignee)
	}
	return strings.Join(parts, " · ")
}

func noticeOption(value string) *slack.OptionBlockObject {
	return slack.NewOptionBlockObject(value, plain(noticeText[value]), nil)
}

// sleepCtx waits d, or less if ctx ends; it reports whether it waited d.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// listSuggestAck answers a block_suggestion of the create modal's team or
// assignee select, which is an external_select once the list passes
// Slack's 100 options: the cached list (read from Linear within the ack
// budget when not cached) filtered by what the user typed, at most 100.
func (b *Bot) listSuggestAck(cb slack.InteractionCallback) *deferredAck {
	query, actionID := cb.Value, cb.ActionID
	// The block_id carries the team (block_suggestion has no other
	// input's state).
	_, team, _ := strings.Cut(cb.BlockID, ":")
	return &deferredAck{
		kind: "block_suggestion",
		busy: suggestionResponse{Options: []*slack.OptionBlockObject{noticeOption(noticeBusy)}},
		answer: func(ctx context.Context) (any, job) {
			ctx, cancel := context.WithTimeout(ctx, b.searchBudget)
			defer cancel()
			var opts []*slack.OptionBlockObject
			var err error
			switch actionID {
			case actionTeam:
				var teams []alert.Team
				if teams, err = b.teamList(ctx); err == nil {
					opts, _ = teamOptions(matchTeams(teams, query), "")
				}
			case actionLabels:
				var labels []alert.Label
				if labels, err = b.labelList(ctx, team); err == nil {
					opts, _ = labelOptions(matchLabels(labels, query), nil)
				}
			case actionProject:
				var projects []alert.Project
				if projects, err = b.projectList(ctx, team); err == nil {
					opts, _ = projectOptions(matchProjects(projects, query), "")
				}
			default:
				var members []alert.User
				if members, err = b.memberList(ctx, team); err == nil {
					opts, _ = memberOptions(matchMembers(members, query), "")
				}
			}
			switch {
			case err == nil:
				return suggestionResponse{Options: opts}, nil
			case errors.Is(err, alert.ErrNotConnected):
				return suggestionResponse{Options: []*slack.OptionBlockObject{noticeOption(noticeOffline)}}, nil
			case errors.Is(err, context.DeadlineExceeded), errors.Is(err, alert.ErrRateLimited):
				return suggestionResponse{Options: []*slack.OptionBlockObject{noticeOption(noticeSlow)}}, nil
			}
			b.log.WarnContext(ctx, "create modal suggestion failed", "action_id", actionID, "err", err)
			return suggestionResponse{Options: []*slack.OptionBlockObject{noticeOption(noticeListFailed)}}, nil
		},
	}
}

// matchTeams are the teams whose name or key contains q (case and spacing
// ignored); all of them for an empty q.
func matchTeams(teams []alert.Team, q string) []alert.Team {
	return matching(teams, q, func(t alert.Team) string { return t.Name + " " + t.Key })
}

// matchMembers are the members whose name, display name or email contains q.
func matchMembers(users []alert.User, q string) []alert.User {
	return matching(users, q, func(u alert.User) string { return u.Name + " " + u.DisplayName + " " + u.Email })
}
