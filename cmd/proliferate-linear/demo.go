package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/proliferate/proliferate-linear/bot/fakeslack"
	"github.com/proliferate/proliferate-linear/config"
	"github.com/proliferate/proliferate-linear/httpapi"
	"github.com/proliferate/proliferate-linear/linear/fakelinear"
)

// The demo's Slack world: one channel for alerts and one person triaging.
const (
	demoChannel = "C0ALERTS"
	demoUser    = "U0ADA"
)

// runDemo starts the bot against the built-in fakes on a temporary embedded
// database and walks an alert through the whole loop twice, from the
// webhook and from a Proliferate-style Slack message, printing what Slack
// and Linear saw.
func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "usage: proliferate-linear demo [-v] [-database-url URL]\n\n"+
			"Walks one alert through the whole loop against built-in fakes of Slack\n"+
			"and Linear, on a temporary embedded database, and prints what they saw.\n\n")
		fs.PrintDefaults()
	}
	dbURL := fs.String("database-url", "", "database to use (default: a temporary embedded SQLite file)")
	verbose := fs.Bool("v", false, "print the bot's logs to stderr")
	if done, err := parseFlags(fs, args, stdout, stderr); done {
		return err
	}
	logw := io.Discard
	if *verbose {
		logw = stderr
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()

	env, err := startWorld(ctx, *dbURL, slog.New(slog.NewTextHandler(logw, nil)))
	if err != nil {
		return err
	}
	defer env.Close()

	fmt.Fprintf(stdout, "proliferate-linear %s demo: fake Slack at %s, fake Linear at %s, %s store\n\n",
		version, env.Slack.URL(), env.Linear.URL(), env.Main.DB.Dialect())
	res, err := walkAlert(ctx, env, demoAlert(), stdout)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	printFigures(stdout, env, res)

	// Most teams meet the bot this way: Proliferate's own Slack app posts
	// the alert, and the bot answers in its thread.
	fmt.Fprintf(stdout, "\nThe same loop from Proliferate's own Slack message (bot %s):\n\n", proliferateBot.BotID)
	res, err = walkProliferateMessage(ctx, env, demoSlackIssue, stdout)
	if err != nil {
		return fmt.Errorf("demo, slack message: %w", err)
	}
	printFigures(stdout, env, res)
	return nil
}

// world is the bot running against fakes of Slack and Linear.
type world struct {
	Slack  *fakeslack.Server
	Linear *fakelinear.Server
	Main   *Main
	Secret string
	stop   context.CancelFunc
	done   chan error
	tmp    string
	env    map[string]string
	// onOpen, when a configure function sets it, adjusts the Main after
	// Open and before Run (tests: a short job lease).
	onOpen func(*Main)
	// channelGap, when a configure function sets it, replaces Slack's one
	// message a second per channel (config.SlackChannelGap), for this Main
	// and the replicas started from its Config.
	channelGap time.Duration
	// updateGap, when a configure function sets it, replaces the 10 s
	// between updates of a repeated alert's message (store.DB.SetUpdateGap)
	// of this Main, before onOpen runs.
	updateGap time.Duration
	// retryGap, when a configure function sets it, replaces the 1 s,
	// 2 s, 4 s … between the attempts of a failing job
	// (alert.Dispatcher.Backoff) and of a submission
	// (alert.Service.RetryBase) of this Main, before onOpen runs.
	retryGap time.Duration
	// poll, when a configure function sets it, replaces how often the
	// idle job engine looks for work (alert.Dispatcher.Poll, 1 s): a job
	// whose lease ran out falls due with no wake.
	poll time.Duration
}

// startWorld starts the fakes and a Main wired to them. databaseURL ""
// means a fresh embedded SQLite file in a temporary directory. extra
// configure functions may change the environment (a value "" unsets one)
// once the fakes are up.
func startWorld(ctx context.Context, databaseURL string, log *slog.Logger, configure ...func(*world, map[string]string)) (*world, error) {
	w := &world{done: make(chan error, 1)}
	tmp, err := os.MkdirTemp("", "proliferate-linear-demo-")
	if err != nil {
		return nil, err
	}
	w.tmp = tmp
	if databaseURL == "" {
		databaseURL = "sqlite:" + filepath.Join(tmp, "demo.db")
	}
	w.Slack = fakeslack.New(fakeslack.Options{Log: log})
	w.Slack.AddChannel(demoChannel, "alerts")
	w.Slack.AddUser(fakeslack.User{ID: demoUser, Name: "ada"})
	w.Linear = fakelinear.New(fakelinear.WithSeed())
	w.Secret = randomHex(16)

	env := map[string]string{
		"SLACK_BOT_TOKEN":            fakeslack.DefaultBotToken,
		"SLACK_APP_TOKEN":            fakeslack.DefaultAppToken,
		"SLACK_API_URL":              w.Slack.URL(),
		"LINEAR_API_KEY":             fakelinear.APIKey,
		"LINEAR_API_URL":             w.Linear.URL(),
		"DATABASE_URL":               databaseURL,
		"ENCRYPTION_KEY":             randomKey(),
		"HTTP_ADDR":                  "127.0.0.1:0",
		"PROLIFERATE_WEBHOOK_SECRET": w.Secret,
		"SLACK_ALERT_CHANNEL":        demoChannel,
		"LINEAR_DEFAULT_TEAM":        "ENG",
		// Proliferate's own Slack app posts alerts into the channel too.
		"PROLIFERATE_SLACK_BOT_IDS": proliferateBot.BotID,
	}
	for _, c := range configure {
		c(w, env)
	}
	w.env = env
	cfg, err := config.Load(func(k string) string { return env[k] }, os.ReadFile)
	if err == nil {
		err = cfg.ValidateServe()
	}
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("demo configuration: %w", err)
	}
	cfg.SlackChannelGap = w.channelGap
	w.Main = NewMain(cfg, log)
	if err := w.Main.Open(ctx); err != nil {
		w.Close()
		return nil, err
	}
	w.applyPace(w.Main)
	if w.onOpen != nil {
		w.onOpen(w.Main)
	}
	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	w.stop = stop
	go func() { w.done <- w.Main.Run(runCtx) }()
	return w, nil
}

// applyPace gives m, this world's Main or another replica opened from its
// Config, the update gap, retry gap and poll the configure functions set.
func (w *world) applyPace(m *Main) {
	if w.updateGap > 0 {
		m.DB.SetUpdateGap(w.updateGap)
	}
	if gap := w.retryGap; gap > 0 {
		m.Dispatcher.Backoff = func(int) time.Duration { return gap }
		m.Service.RetryBase = gap
	}
	if w.poll > 0 {
		m.Dispatcher.Poll = w.poll
	}
}

// Close stops the bot and the fakes and removes the temporary files.
func (w *world) Close() {
	if w.stop != nil {
		w.stop()
		<-w.done
	}
	if w.Main != nil {
		w.Main.Close()
	}
	if w.Slack != nil {
		w.Slack.Close()
	}
	if w.Linear != nil {
		w.Linear.Close()
	}
	os.RemoveAll(w.tmp)
}

// sendAlert posts a signed alert to the bot's webhook and returns the
// HTTP status and body.
func (w *world) sendAlert(ctx context.Context, payload any) (int, []byte, error) {
	body, err := json.Marshal(payload)
	if err != nil {
		return 0, nil, err
	}
	ts, sig := httpapi.SignAlert(w.Secret, time.Now(), body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+w.Main.Addr()+"/api/v1/alerts", bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Proliferate-Timestamp", ts)
	req.Header.Set("X-Proliferate-Signature", sig)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	return resp.StatusCode, out, err
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms.
	}
	return hex.EncodeToString(b)
}

// randomKey is a fresh ENCRYPTION_KEY: base64 of 32 random bytes.
func randomKey() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// demoAlert is a typical Proliferate alert for a new error.
func demoAlert() map[string]any {
	now := time.Now().UTC()
	return map[string]any{
		"issue_id": "prl_9f2c1a",
		"url":      "https://app.proliferate.dev/acme/web/issues/prl_9f2c1a",
		"project":  "web",
		"level":    "error",
		"exception": map[string]any{
			"type":    "TypeError",
			"message": "Cannot read properties of undefined (reading 'id')",
			"stack": "TypeError: Cannot read properties of undefined (reading 'id')\n" +
				"    at CheckoutForm.render (src/checkout/Form.tsx:88:31)\n" +
				"    at renderWithHooks (node_modules/react-dom/cjs/react-dom.development.js:14985:18)\n" +
				"    at mountIndeterminateComponent (node_modules/react-dom/cjs/react-dom.development.js:17811:13)",
		},
		"environment":    "production",
		"release":        "web@2.14.0",
		"first_seen":     now.Add(-2 * time.Hour).Format(time.RFC3339),
		"last_seen":      now.Format(time.RFC3339),
		"event_count":    148,
		"users_affected": 37,
		"trigger":        "new_issue",
	}
}
