package faults

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/proliferate/proliferate-linear/bot/fakeslack"
	"github.com/proliferate/proliferate-linear/httpapi"
	"github.com/proliferate/proliferate-linear/internal/testmain"
	"github.com/proliferate/proliferate-linear/linear/fakelinear"
	"github.com/proliferate/proliferate-linear/store/storetest"
)

// The binary is built once per test run, on first use, without the race
// detector: the figures are about the product's speed, which -race would
// slow several times over. PROLIFERATE_FAULTS_RACE=1 builds it with -race
// (a data race in the product under faults then fails its scenario). In CI
// the build takes a fraction of a second: go vet has compiled every package.
var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	buildDir  string
)

// parallelScenarios is how many parallel scenarios run at once unless
// -test.parallel says otherwise. They spend their time waiting on the
// clock (Retry-After, outages, restarts), not on the CPU, so running them
// together keeps the suite short; the timing-sensitive scenarios are not
// parallel and run alone, before them.
const parallelScenarios = 16

func TestMain(m *testing.M) {
	testmain.Parallel(parallelScenarios)
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	testmain.Exit(code)
}

// binary returns the path of the built proliferate-linear.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "faults-bin-")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(buildDir, "proliferate-linear")
		args := []string{"build", "-o", binPath}
		if os.Getenv("PROLIFERATE_FAULTS_RACE") == "1" {
			args = append(args, "-race")
		}
		cmd := exec.Command("go", append(args, "./cmd/proliferate-linear")...)
		cmd.Dir = ".." // the module root: this package is at its top level.
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// envFaults names the variable that runs the suite: its scenarios wait on
// real clocks (leases, Retry-After, outages, restarts) for about a minute,
// so go test ./... skips them and CI runs them as a step of their own
// (.ci/run: PROLIFERATE_FAULTS=1 go test -race -count=1 ./faults).
const envFaults = "PROLIFERATE_FAULTS"

// dialects gives the DATABASE_URL maker of each store the suite runs on:
// embedded SQLite always, PostgreSQL when PROLIFERATE_TEST_DATABASE_URL is set.
// Every scenario starts here; it skips the scenario unless envFaults is 1.
func dialects(t *testing.T) []dialect {
	t.Helper()
	if os.Getenv(envFaults) != "1" {
		t.Skipf("the fault suite runs with %s=1 (a CI step of its own)", envFaults)
	}
	var out []dialect
	for _, dc := range storetest.Dialects(t) {
		url := dc.URL
		name := dc.Name
		out = append(out, dialect{name: name, url: func(t *testing.T) string {
			u := url(t)
			if name == "sqlite" {
				u = "sqlite:" + u
			}
			return u
		}})
	}
	return out
}

type dialect struct {
	name string
	url  func(t *testing.T) string
}

// forEachStore runs fn as a subtest per store.
func forEachStore(t *testing.T, fn func(t *testing.T, dbURL string)) {
	for _, d := range dialects(t) {
		t.Run(d.name, func(t *testing.T) { fn(t, d.url(t)) })
	}
}

// Slack identities of the world.
const (
	userAda = "U0ADA"
	// alertURLBase starts every alert's URL; the error id follows, so a
	// Slack message names its alert through its "View in Proliferate" link.
	alertURLBase = "https://app.proliferate.dev/faults/issues/"
)

// world is a fake Slack and a fake Linear in this process, one database,
// and the replicas of the binary started against them.
type world struct {
	t        *testing.T
	Slack    *fakeslack.Server
	Linear   *fakelinear.Server
	dbURL    string
	secret   string
	key      string
	dir      string
	channels []string
	hc       *http.Client
}

// newWorld starts the fakes with n alert channels (C0000001…).
func newWorld(t *testing.T, dbURL string, channels int) *world {
	t.Helper()
	w := &world{
		t: t, dbURL: dbURL, secret: randomHex(16), key: randomKey(), dir: t.TempDir(),
		hc: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}},
	}
	w.Slack = fakeslack.New(fakeslack.Options{})
	t.Cleanup(w.Slack.Close)
	w.Linear = fakelinear.Seeded()
	t.Cleanup(w.Linear.Close)
	for i := range max(channels, 1) {
		id := fmt.Sprintf("C%07d", i+1)
		w.Slack.AddChannel(id, fmt.Sprintf("alerts-%d", i+1))
		w.channels = append(w.channels, id)
	}
	w.Slack.AddUser(fakeslack.User{ID: userAda, Name: "ada"})
	return w
}

// env is the environment of a replica; extra adds or overrides variables.
func (w *world) env(extra map[string]string) []string {
	env := map[string]string{
		"SLACK_BOT_TOKEN":            fakeslack.DefaultBotToken,
		"SLACK_APP_TOKEN":            fakeslack.DefaultAppToken,
		"SLACK_API_URL":              w.Slack.URL(),
		"LINEAR_API_KEY":             fakelinear.APIKey,
		"LINEAR_API_URL":             w.Linear.URL(),
		"DATABASE_URL":               w.dbURL,
		"ENCRYPTION_KEY":             w.key,
		"HTTP_ADDR":                  "127.0.0.1:0",
		"PROLIFERATE_WEBHOOK_SECRET": w.secret,
		"SLACK_ALERT_CHANNEL":        w.channels[0],
		"LINEAR_DEFAULT_TEAM":        "ENG",
		"LINEAR_POLL_INTERVAL":       "0",
		"LOG_FORMAT":                 "json",
		"LOG_LEVEL":                  "info",
		// A race-enabled replica would sleep a second at each exit.
		"GORACE": "atexit_sleep_ms=0",
	}
	for k, v := range extra {
		env[k] = v
	}
	out := []string{"PATH=" + os.Getenv("PATH"), "TMPDIR=" + w.dir}
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}

// replica is one running proliferate-linear process.
type replica struct {
	name    string
	cmd     *exec.Cmd
	addr    string
	started time.Time
	logs    *logBuffer
	exited  chan struct{}
	state   *os.ProcessState
}

// start runs a replica and waits until its HTTP listener is up and it holds
// a Socket Mode connection. The process is killed when the test ends; its
// log is printed if the test failed.
func (w *world) start(name string, extra map[string]string) *replica {
	t := w.t
	t.Helper()
	r := &replica{name: name, logs: &logBuffer{}, exited: make(chan struct{})}
	r.cmd = exec.Command(binary(t), "serve")
	r.cmd.Env = w.env(extra)
	r.cmd.Dir = w.dir
	setPdeathsig(r.cmd)
	pr, pw := io.Pipe()
	r.cmd.Stdout, r.cmd.Stderr = pw, pw
	connsBefore := w.openedConnections()
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	r.started = time.Now()
	addrc := make(chan string, 1)
	go r.logs.read(pr, addrc)
	go func() {
		_ = r.cmd.Wait()
		r.state = r.cmd.ProcessState
		pw.Close()
		close(r.exited)
	}()
	t.Cleanup(func() {
		r.kill()
		if t.Failed() {
			r.logs.dump(t, name)
		}
	})
	select {
	case r.addr = <-addrc:
	case <-r.exited:
		t.Fatalf("%s exited at start-up: %v", name, r.state)
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not start listening within 30 s", name)
	}
	// Ready when its Socket Mode connection is up: a new successful
	// apps.connections.open, and a live socket.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := w.Slack.Wait(ctx, func() bool {
		return w.openedConnections() > connsBefore && w.Slack.Connections() > 0
	}); err != nil {
		t.Fatalf("%s opened no Socket Mode connection: %v", name, err)
	}
	return r
}

// openedConnections counts successful apps.connections.open calls.
func (w *world) openedConnections() int {
	n := 0
	for _, c := range w.Slack.Calls("apps.connections.open") {
		if c.Error == "" {
			n++
		}
	}
	return n
}

// kill sends SIGKILL and waits for the process to go.
func (r *replica) kill() {
	select {
	case <-r.exited:
		return
	default:
	}
	_ = r.cmd.Process.Signal(syscall.SIGKILL)
	<-r.exited
}

// waitCrash waits for the replica to die at the crash point it was armed
// with (the point writes "crashpoint: <name> hit" before SIGKILL).
func (r *replica) waitCrash(t *testing.T, point string, within time.Duration) time.Time {
	t.Helper()
	select {
	case <-r.exited:
	case <-time.After(within):
		t.Fatalf("%s did not reach crash point %s within %s", r.name, point, within)
	}
	at := time.Now()
	if !strings.Contains(r.logs.String(), "crashpoint: "+point+" hit") {
		t.Fatalf("%s exited (%v) without reaching crash point %s", r.name, r.state, point)
	}
	return at
}

// alive reports whether the process is still running.
func (r *replica) alive() bool {
	select {
	case <-r.exited:
		return false
	default:
		return true
	}
}

// logBuffer keeps a replica's output, and finds its listen address in the
// start-up line.
type logBuffer struct {
	mu    sync.Mutex
	lines []string
}

func (b *logBuffer) read(rd io.Reader, addrc chan<- string) {
	sc := bufio.NewScanner(rd)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	sent := false
	for sc.Scan() {
		line := sc.Text()
		b.mu.Lock()
		b.lines = append(b.lines, line)
		b.mu.Unlock()
		if !sent && strings.Contains(line, "proliferate-linear running") {
			var rec struct {
				Addr string `json:"http_addr"`
			}
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Addr != "" {
				addrc <- rec.Addr
				sent = true
			}
		}
	}
	_, _ = io.Copy(io.Discard, rd)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Join(b.lines, "\n")
}

// count counts the log lines containing s.
func (b *logBuffer) count(s string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, l := range b.lines {
		if strings.Contains(l, s) {
			n++
		}
	}
	return n
}

// dump prints the last lines of the log to the test log.
func (b *logBuffer) dump(t *testing.T, name string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	const tail = 300
	start := max(0, len(b.lines)-tail)
	t.Logf("--- %s: last %d of %d log lines", name, len(b.lines)-start, len(b.lines))
	for _, l := range b.lines[start:] {
		t.Log(l)
	}
}

// alertPayload is a new-error alert for errorID in channel.
func alertPayload(errorID, channel string) map[string]any {
	now := time.Now().UTC().Format(time.RFC3339)
	return map[string]any{
		"issue_id": errorID,
		"url":      alertURLBase + errorID,
		"project":  "web",
		"level":    "error",
		"exception": map[string]any{
			"type":    "FaultError",
			"message": "fault suite error " + errorID,
			"stack":   "FaultError: fault suite error " + errorID + "\n    at run (src/faults.ts:1:1)",
		},
		"environment": "production", "release": "web@1.0.0",
		"first_seen": now, "last_seen": now, "event_count": 1, "users_affected": 1,
		"trigger": "new_issue", "channel": channel,
	}
}

// send posts a signed alert to a replica and returns the HTTP status.
func (w *world) send(ctx context.Context, addr string, payload map[string]any) (int, error) {
	body, err := json.Marshal(payload)
	if err != nil {
		return 0, err
	}
	ts, sig := httpapi.SignAlert(w.secret, time.Now(), body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/api/v1/alerts", bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(httpapi.TimestampHeader, ts)
	req.Header.Set(httpapi.SignatureHeader, sig)
	resp, err := w.hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// sendUntilAccepted retries an alert, as Proliferate does, until a replica
// answers 202: on a broken connection, a refused one (the replica is down)
// or a 5xx. addr is asked afresh each attempt, since a restarted replica
// listens elsewhere.
func (w *world) sendUntilAccepted(ctx context.Context, addr func() string, payload map[string]any) (attempts int, err error) {
	for {
		attempts++
		status, err := w.send(ctx, addr(), payload)
		if err == nil && status == http.StatusAccepted {
			return attempts, nil
		}
		if err == nil && status < 500 {
			return attempts, fmt.Errorf("alert %v answered %d", payload["issue_id"], status)
		}
		select {
		case <-ctx.Done():
			return attempts, fmt.Errorf("alert %v never accepted (last: %d %v): %w", payload["issue_id"], status, err, ctx.Err())
		case <-time.After(25 * time.Millisecond):
		}
	}
}

var errorIDInURL = regexp.MustCompile(regexp.QuoteMeta(alertURLBase) + `([A-Za-z0-9_-]+)`)

// posted maps each error id to its top-level messages in the world's
// channels, recognised by the alert URL in the message.
func (w *world) posted() map[string][]fakeslack.Message {
	out := map[string][]fakeslack.Message{}
	for _, ch := range w.channels {
		for _, m := range w.Slack.Messages(ch) {
			seen := map[string]bool{}
			for _, match := range errorIDInURL.FindAllStringSubmatch(string(m.Blocks)+m.Text, -1) {
				if id := match[1]; !seen[id] {
					seen[id] = true
					out[id] = append(out[id], m)
				}
			}
		}
	}
	return out
}

// tsTime is the time a fake Slack message was posted: the fake makes ts
// from the clock, in microseconds.
func tsTime(ts string) time.Time {
	sec, frac, _ := strings.Cut(ts, ".")
	s, _ := strconv.ParseInt(sec, 10, 64)
	us, _ := strconv.ParseInt(frac, 10, 64)
	return time.Unix(s, us*1000)
}

// settle waits until neither fake has seen a request for quiet (bounded
// by within), so late duplicates have had their chance to appear.
func (w *world) settle(quiet, within time.Duration) {
	deadline := time.Now().Add(within)
	last := -1
	stable := time.Now()
	for time.Now().Before(deadline) {
		n := w.Slack.CallCount("") + w.Linear.CountRequests("")
		if n != last {
			last, stable = n, time.Now()
		} else if time.Since(stable) >= quiet {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitFor polls cond every 25 ms for up to within.
func waitFor(within time.Duration, cond func() bool) bool {
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	t := time.NewTicker(25 * time.Millisecond)
	defer t.Stop()
	for {
		if cond() {
			return true
		}
		select {
		case <-ctx.Done():
			return cond()
		case <-t.C:
		}
	}
}

// ms formats a duration in milliseconds.
func ms(d time.Duration) string { return fmt.Sprintf("%.0f ms", d.Seconds()*1000) }

// secs formats a duration as seconds with one decimal.
func secs(d time.Duration) string { return fmt.Sprintf("%.1f s", d.Seconds()) }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func randomKey() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

var burstFlag = flag.Int("burst", 2000, "alerts in the kill -9 burst (env PROLIFERATE_FAULTS_BURST overrides)")

// burstSize is the number of alerts of the kill -9 burst.
func burstSize() int {
	if v, err := strconv.Atoi(os.Getenv("PROLIFERATE_FAULTS_BURST")); err == nil && v > 0 {
		return v
	}
	return *burstFlag
}

// alertsPerChannel spreads a burst over channels: Slack takes about one
// message per second per channel, so four per channel keep the channel pace
// well inside the 10 s the promise allows after a restart.
const alertsPerChannel = 4

// burstIDs names n errors, spread round robin over the world's channels.
func burstIDs(w *world, n int) []map[string]any {
	out := make([]map[string]any, n)
	for i := range n {
		out[i] = alertPayload(fmt.Sprintf("burst-%05d", i), w.channels[i%len(w.channels)])
	}
	return out
}

// burstResult is what a burst observed in Slack.
type burstResult struct {
	sent, posted, duplicated int
	missing                  []string
	last                     time.Time // when the last first message was posted
	retried                  int       // alerts sent more than once
}

// observe waits (up to within) until every alert has a message, lets the
// world settle, and counts what Slack shows.
func (w *world) observe(alerts []map[string]any, within time.Duration) burstResult {
	res := burstResult{sent: len(alerts)}
	// Counting calls is cheap; reading every message is not, and polling it
	// would slow the fake Slack down under the bot.
	waitFor(within, func() bool {
		return w.Slack.CallCount("chat.postMessage") >= len(alerts) && len(w.posted()) >= len(alerts)
	})
	w.settle(2*time.Second, 20*time.Second)
	posted := w.posted()
	for _, a := range alerts {
		id := a["issue_id"].(string)
		ms := posted[id]
		if len(ms) == 0 {
			res.missing = append(res.missing, id)
			continue
		}
		res.posted++
		res.duplicated += len(ms) - 1
		if at := tsTime(ms[0].TS); at.After(res.last) {
			res.last = at
		}
	}
	slices.Sort(res.missing)
	return res
}
