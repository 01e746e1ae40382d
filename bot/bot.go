// Package bot is the Slack adapter: the Socket Mode loop with ack-first
// dispatch into a bounded worker pool, the alert message and the create
// modal in Block Kit, the /proliferate-linear command, and alert.Poster.
//
// No modal state lives in memory: everything a payload needs travels in the
// view's private_metadata and block_ids, so any replica can handle any
// payload (Socket Mode hands each payload to one of up to 10 connections).
package bot

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"

	"github.com/proliferate/proliferate-linear/alert"
)

// Config configures a Bot.
type Config struct {
	// BotToken (xoxb-) calls the Web API; AppToken (xapp-) opens Socket Mode.
	BotToken, AppToken string
	// APIURL is the base of every Web API method and ends in "/"
	// (slack.OptionAPIURL); empty means Slack's own.
	APIURL string
	// DefaultTeamKey (LINEAR_DEFAULT_TEAM) preselects a team in the modal
	// when the connection has no default team of its own.
	DefaultTeamKey string
	// SlackTeamID is the Slack workspace the bot is installed in
	// (auth.test): whose connection's default team the alert messages'
	// "Create in TEAM" buttons use.
	SlackTeamID string
	// Connector manages the Linear OAuth connection; nil when OAuth is not
	// configured (no LINEAR_CLIENT_ID), and then connect and disconnect
	// explain how to configure it.
	Connector alert.Connector
	// APIKeyInUse says LINEAR_API_KEY is set, so Linear works without an
	// OAuth connection; status and connect say so.
	APIKeyInUse bool
	// AdminUsers (ADMIN_USERS) are Slack user IDs allowed to connect,
	// disconnect and set the default team besides workspace admins and owners.
	AdminUsers []string
	// Home is what the App Home reads from the store; nil leaves its
	// channels and recent issues empty.
	Home HomeData
	// Workers bounds the slow lane, the pool that runs work calling Linear
	// after the ack (default 8); the queue in front of it is bounded too.
	// Opening and updating modals has a lane of its own (see lane.go).
	Workers int
	// ProliferateBotIDs (PROLIFERATE_SLACK_BOT_IDS) are the bot IDs (B…)
	// and app IDs (A…) whose channel messages are read as Proliferate
	// alerts; empty means any bot or app.
	ProliferateBotIDs []string
	// ProliferateURL (PROLIFERATE_URL) is the base of Proliferate's issue
	// links (default https://app.proliferate.com).
	ProliferateURL string
	// SelfBotID is this bot's own bot ID (auth.test's bot_id), so its own
	// messages are never read as alerts; the envelope's api_app_id covers
	// it too.
	SelfBotID string
	// HTTPClient carries every Web API and response_url call (default: 30 s timeout).
	HTTPClient *http.Client
	// Log receives identifiers (channel, alert, view, user), never tokens.
	Log *slog.Logger
	// Observer, when set, is told about the Socket Mode connection
	// (metrics; cmd wires it).
	Observer Observer
}

// Observer is told what the Socket Mode side does. Its methods must be
// quick and safe for concurrent use.
type Observer interface {
	// EnvelopeAcked: the ack of an envelope of type kind (events_api,
	// interactive, slash_commands) was written, took since the frame was read.
	EnvelopeAcked(kind string, took time.Duration)
	// SocketReconnecting: a connection is being replaced, because Slack
	// sent a disconnect frame (reason "disconnect") or it ended ("lost").
	SocketReconnecting(reason string)
}

// Bot is the Slack adapter. It implements alert.Poster; Run serves Socket
// Mode.
type Bot struct {
	api         *slack.Client
	svc         *alert.Service
	log         *slog.Logger
	http        *http.Client
	appToken    string
	botToken    string // for the views.* calls made without slack-go (viewsapi.go).
	apiURL      string
	defaultTeam string
	slackTeam   string
	workers     int
	// jobTimeout bounds one unit of work after the ack.
	jobTimeout time.Duration
	// minProgress is the least time "Creating issue…" stays up (see
	// showOutcome): defaultMinProgress, or 0 in tests whose jobs run only
	// after their ack.
	minProgress time.Duration
	teams       *cache[string, []alert.Team]
	members     *cache[string, []alert.User]
	labels      *cache[string, []alert.Label]
	projects    *cache[string, []alert.Project]
	// linearLists holds the caches of what the connected Linear workspace
	// lists (these four and workspaces), cleared as one (forgetLinear).
	linearLists cacheGroup

	connector   alert.Connector // nil: OAuth is not configured.
	apiKeyInUse bool
	adminUsers  []string
	// users caches users.info per user (see admin.go).
	users *cache[string, userInfo]
	// home reads the App Home's lists; workspaces caches Linear's answer
	// about the workspace for the Home's first publish (see home.go).
	home       HomeData
	workspaces *cache[string, alert.Workspace]

	// linkBudget and searchBudget bound the Linear calls whose outcome
	// travels in the ack (see deferred.go).
	linkBudget, searchBudget time.Duration
	// findPage is findPageSize; tests that page through history set it
	// lower rather than post hundreds of messages.
	findPage int
	// debounce is the search box's defaultSearchDebounce; tests that never
	// type over their own queries set it to 0.
	debounce time.Duration
	search   *searcher
	ackSlots chan struct{}
	ackWG    sync.WaitGroup
	// fast and slow are the lanes of work after the ack (see lane.go);
	// overflow bounds the "busy" answers sent when a lane is full.
	fast, slow *lane
	check      *lane // the create modal's duplicate check (createflow.go)
	overflow   chan struct{}
	overflowWG sync.WaitGroup
	socket     *socketClient
	// proliferateBots, issueLinks and selfBotID recognise Proliferate's
	// channel messages (see intake.go).
	proliferateBots []string
	issueLinks      *issueLinker
	selfBotID       string
	observer        Observer // nil: nobody listens.
}

// Compile-time proof that *Bot is the core's Poster.
var _ alert.Poster = (*Bot)(nil)

// DefaultProliferateURL is Config.ProliferateURL's default.
const DefaultProliferateURL = "https://app.proliferate.com"

// teamsTTL is how long the Linear team and member lists are reused. They
// change rarely, and a cached list lets the modal open at once.
const teamsTTL = 10 * time.Minute

// New builds a Bot. svc may be nil for a Bot used only as alert.Poster.
func New(cfg Config, svc *alert.Service) (*Bot, error) {
	if cfg.BotToken == "" {
		return nil, fmt.Errorf("slack bot token is required: %w", alert.ErrInvalid)
	}
	if cfg.APIURL != "" && !strings.HasSuffix(cfg.APIURL, "/") {
		return nil, fmt.Errorf("slack api url %q must end in /: %w", cfg.APIURL, alert.ErrInvalid)
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 8
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	opts := []slack.Option{slack.OptionHTTPClient(cfg.HTTPClient)}
	if cfg.APIURL != "" {
		opts = append(opts, slack.OptionAPIURL(cfg.APIURL))
	}
	if cfg.AppToken != "" {
		opts = append(opts, slack.OptionAppLevelToken(cfg.AppToken))
	}
	api := slack.New(cfg.BotToken, opts...)
	teams := newCache[string, []alert.Team](teamsTTL)
	members := newCache[string, []alert.User](teamsTTL)
	labels := newCache[string, []alert.Label](teamsTTL)
	projects := newCache[string, []alert.Project](teamsTTL)
	workspaces := newCache[string, alert.Workspace](workspaceTTL)
	return &Bot{
		api:          api,
		fast:         newLane("fast", fastWorkers, fastQueue),
		slow:         newLane("slow", cfg.Workers, cfg.Workers*slowQueuePerWorker),
		check:        newLane("check", checkWorkers, checkQueue),
		overflow:     make(chan struct{}, maxOverflowAnswers),
		socket:       newSocketClient(api, cfg.Log, cfg.Observer),
		observer:     cfg.Observer,
		svc:          svc,
		log:          cfg.Log,
		http:         cfg.HTTPClient,
		appToken:     cfg.AppToken,
		botToken:     cfg.BotToken,
		apiURL:       cfg.APIURL,
		defaultTeam:  cfg.DefaultTeamKey,
		slackTeam:    cfg.SlackTeamID,
		workers:      cfg.Workers,
		jobTimeout:   time.Minute,
		minProgress:  defaultMinProgress,
		teams:        teams,
		members:      members,
		labels:       labels,
		projects:     projects,
		linearLists:  cacheGroup{teams, members, labels, projects, workspaces},
		linkBudget:   defaultAckBudget,
		searchBudget: defaultAckBudget,
		debounce:     defaultSearchDebounce,
		findPage:     findPageSize,
		search:       newSearcher(),
		ackSlots:     make(chan struct{}, maxDeferredAcks),
		connector:    cfg.Connector,
		apiKeyInUse:  cfg.APIKeyInUse,
		adminUsers:   cleanIDs(cfg.AdminUsers),
		users:        newUserCache(),
		home:         cfg.Home,
		workspaces:   workspaces,

		proliferateBots: cfg.ProliferateBotIDs,
		issueLinks:      newIssueLinker(or(cfg.ProliferateURL, DefaultProliferateURL)),
		selfBotID:       cfg.SelfBotID,
	}, nil
}

// job is work that runs after its envelope was acked.
type job func(ctx context.Context)

// Run serves Socket Mode until ctx is done, then stops reading, lets the
// work already queued finish (each job bounded by its own timeout) and
// returns. It returns early with an error if Slack refuses the app token.
func (b *Bot) Run(ctx context.Context) error {
	if b.svc == nil {
		return fmt.Errorf("bot has no service: %w", alert.ErrInvalid)
	}
	if b.appToken == "" {
		return fmt.Errorf("slack app token is required for socket mode: %w", alert.ErrInvalid)
	}

	// Work outlives ctx by design: a user who clicked before shutdown
	// still gets the modal or the result.
	workCtx := context.WithoutCancel(ctx)
	b.fast.start(workCtx, b.runJob)
	b.slow.start(workCtx, b.runJob)
	b.check.start(workCtx, b.runJob)
	defer func() {
		// Deferred acks may still queue work, and fast work hands its
		// Linear part to the slow lane: close in that order.
		b.ackWG.Wait()
		b.overflowWG.Wait()
		b.fast.close()
		b.slow.close()
		b.check.close()
	}()

	smCtx, stop := context.WithCancel(ctx)
	defer stop()
	events := make(chan inbound, socketQueue)
	smDone := make(chan error, 1)
	go func() { smDone <- b.socket.run(smCtx, events) }()

	// Envelopes already acked by their reader (ackfirst.go) must reach
	// their lanes, so events is read until the socket client has returned
	// (its readers with it), then emptied.
	for {
		select {
		case <-ctx.Done():
			stop()
			for ended := false; !ended; {
				select {
				case in := <-events:
					b.receive(ctx, in)
				case <-smDone:
					ended = true
				}
			}
			b.drain(ctx, events)
			return nil
		case err := <-smDone:
			b.drain(ctx, events)
			if ctx.Err() != nil {
				return nil
			}
			b.log.ErrorContext(ctx, "slack refused the app token", "err", err)
			return fmt.Errorf("slack socket mode: %w", err)
		case in := <-events:
			b.receive(ctx, in)
		}
	}
}

// receive parses an envelope a reader handed on and dispatches it. One
// not acked yet whose connection has ended meanwhile is dropped unparsed,
// as its reader would have dropped it: nothing of it is stored or done.
func (b *Bot) receive(ctx context.Context, in inbound) {
	if !in.acked && in.ended != nil {
		select {
		case <-in.ended:
			b.log.InfoContext(ctx, "slack envelope dropped: its connection ended before it was acked", "envelope_id", in.req.EnvelopeID, "type", in.req.Type)
			return
		default:
		}
	}
	evt := in.event(b.log)
	if in.acked {
		b.dispatchAcked(ctx, evt)
		return
	}
	b.handleEvent(ctx, in.conn, evt)
}

// drain receives what is left in events once no reader sends any more.
func (b *Bot) drain(ctx context.Context, events <-chan inbound) {
	for {
		select {
		case in := <-events:
			b.receive(ctx, in)
		default:
			return
		}
	}
}

// runJob runs one job with its own deadline and survives its panic, so one
// bad payload cannot take the pool down.
func (b *Bot) runJob(ctx context.Context, j job) {
	ctx, cancel := context.WithTimeout(ctx, b.jobTimeout)
	defer cancel()
	defer func() {
		if r := recover(); r != nil {
			b.log.ErrorContext(ctx, "slack job panicked", "panic", r)
		}
	}()
	j(ctx)
}
