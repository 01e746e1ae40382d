package fakeslack

import (
	"context"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
)

// harness runs the real slack-go Web API and Socket Mode clients against
// a fake, handing each interactive, slash command or events API event to
// handle. handle must ack (it runs on the event loop, as a bot's would).
type harness struct {
	srv *Server
	api *slack.Client
	sm  *socketmode.Client
}

type handlerFunc func(h *harness, evt socketmode.Event)

func newServer(t *testing.T, opts Options) *Server {
	t.Helper()
	srv := New(opts)
	t.Cleanup(srv.Close)
	srv.AddUser(User{ID: "U1", Name: "alice", IsAdmin: true})
	srv.AddUser(User{ID: "U2", Name: "bob"})
	srv.AddChannel("C1", "alerts")
	return srv
}

func newAPI(srv *Server) *slack.Client {
	return slack.New(srv.opts.BotToken, slack.OptionAPIURL(srv.URL()), slack.OptionAppLevelToken(srv.opts.AppToken))
}

// startHarness starts n socketmode clients (each its own connection) and
// waits until all are connected.
func startHarness(t *testing.T, opts Options, n int, handle handlerFunc) *harness {
	t.Helper()
	if opts.PingInterval == 0 {
		opts.PingInterval = 100 * time.Millisecond
	}
	srv := newServer(t, opts)
	h := &harness{srv: srv, api: newAPI(srv)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2*n)
	for range n {
		sm := socketmode.New(h.api, socketmode.OptionPingInterval(2*time.Second))
		if h.sm == nil {
			h.sm = sm
		}
		go func() { _ = sm.RunContext(ctx); done <- struct{}{} }()
		go func() {
			defer func() { done <- struct{}{} }()
			for {
				select {
				case <-ctx.Done():
					return
				case evt := <-sm.Events:
					if evt.Request == nil {
						continue
					}
					switch evt.Type {
					case socketmode.EventTypeInteractive, socketmode.EventTypeSlashCommand, socketmode.EventTypeEventsAPI:
						handle(&harness{srv: srv, api: h.api, sm: sm}, evt)
					}
				}
			}
		}()
	}
	t.Cleanup(func() {
		cancel()
		for range 2 * n {
			<-done
		}
	})
	wctx, wcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer wcancel()
	if err := srv.WaitConnections(wctx, n); err != nil {
		t.Fatalf("socketmode clients did not connect: %v", err)
	}
	return h
}

func ackOnly(h *harness, evt socketmode.Event) { h.sm.Ack(*evt.Request) }

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// alertBlocks is a message with two buttons, like the bot's alert message.
func alertBlocks() slack.MsgOption {
	return slack.MsgOptionBlocks(
		slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, "*TypeError*: x is undefined", false, false), nil, nil),
		slack.NewActionBlock("alert_actions",
			slack.NewButtonBlockElement("create_issue", "alert-42", slack.NewTextBlockObject(slack.PlainTextType, "Create Linear Issue", false, false)),
			slack.NewButtonBlockElement("link_issue", "alert-42", slack.NewTextBlockObject(slack.PlainTextType, "Link existing", false, false)),
		),
	)
}

func plain(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.PlainTextType, s, false, false)
}
