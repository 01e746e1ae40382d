package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"maps"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/proliferate/proliferate-linear/bot/fakeslack"
	"github.com/proliferate/proliferate-linear/linear/fakelinear"
	"github.com/proliferate/proliferate-linear/store"
)

// benchRowSize is the size of the reference's row: about what one stored
// alert with its render job weighs (the demo alert's stack and texts).
const benchRowSize = 1200

// intake measures durable intake: alerts answered 202 per second through
// the real webhook into dialect's store, beside the same driver's ceiling
// for one INSERT per COMMIT at the store's own settings, from as many
// goroutines as the intake has connections. The alerts are 1 in 5 new
// errors, the rest repeats that fold.
func (b *bench) intake(ctx context.Context, dialect string, db func(string) string) error {
	sc := b.scale
	cpu0 := processCPU()
	ceiling, err := store.CommitCeiling(ctx, strings.TrimPrefix(db("ceiling"), "sqlite:"), sc.intakeWorkers, sc.intake, benchRowSize)
	if err != nil {
		return fmt.Errorf("commit ceiling: %w", err)
	}
	cpu1 := processCPU()
	w, err := startWorld(ctx, db("intake"), b.log)
	if err != nil {
		return err
	}
	defer w.Close()
	distinct := max(sc.intake/5, 1)
	// The start-up check of the API key (getWorkspace, listRecentIssues) is not intake's.
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	_ = w.Slack.Wait(wctx, func() bool { return w.Linear.CountRequests("listRecentIssues") > 0 })
	cancel()
	linearBefore := len(w.Linear.Requests())
	run, err := sendAlerts(ctx, w, sc.intake, sc.intakeWorkers, func(i int) map[string]any {
		return alertFor(fmt.Sprintf("prl_intake_%d", i%distinct))
	})
	if err != nil {
		return err
	}
	if cpu0 >= 0 && run.CPU >= 0 {
		// Noisy neighbours stretch both rates, and not alike: this process's
		// CPU time is stretched much less. PostgreSQL's own is not in it.
		what := "this process: the bot, the fakes, the load generator"
		if dialect == store.DialectPostgres {
			what += "; not PostgreSQL's"
		}
		b.notes = append(b.notes, fmt.Sprintf("intake, %s: CPU per alert %.0f µs, per reference transaction %.0f µs (%s)", dialect,
			float64(run.CPU)/float64(time.Microsecond)/float64(sc.intake), float64(cpu1-cpu0)/float64(time.Microsecond)/float64(sc.intake), what))
	}
	reqs := w.Linear.Requests()[linearBefore:]
	linearCalls := len(reqs)
	ops := map[string]int{}
	for _, r := range reqs {
		ops[r.OperationName]++
	}
	got, ref := run.PerSecond(), ceiling.PerSecond
	b.add(benchRow{
		Name:      "durable intake, " + dialect,
		Measured:  perSec(got),
		Reference: perSec(ref) + " (1 INSERT per COMMIT)",
		Ratio:     ratio(got, ref), Goal: "≥ 0.50", Pass: verdict(got/ref >= 0.5),
	})
	b.add(benchRow{
		Name:      "  202 p99, " + dialect,
		Measured:  ms(p99(run.Latencies)),
		Reference: ms(p99(ceiling.Latencies)) + " (its p99)",
		Ratio:     ratio(float64(p99(run.Latencies)), float64(p99(ceiling.Latencies))),
	})
	b.add(benchRow{
		Name:     "  Linear requests during intake",
		Measured: fmt.Sprintf("%d for %d alerts %s", linearCalls, sc.intake, opCounts(ops)),
		Goal:     "0", Pass: verdict(linearCalls == 0),
	})
	return nil
}

// noopEvent is an Events API event the bot acks and ignores.
var noopEvent = map[string]any{"type": "reaction_added", "user": demoUser, "reaction": "eyes",
	"item": map[string]any{"type": "message", "channel": demoChannel, "ts": "1.000001"}}

// pace is the startWorld configure function of the rows whose figures
// include channel turns: the scale's channel gap, if it sets one.
func (b *bench) pace(w *world, _ map[string]string) {
	if b.scale.channelGap > 0 {
		w.channelGap = b.scale.channelGap
	}
}

// clicks measures, with creates waiting on a slow Linear, the acks and the
// click → views.open latency of many Create Linear Issue clicks at once,
// beside as many no-op envelopes at once.
func (b *bench) clicks(ctx context.Context, db string) error {
	sc := b.scale
	var taps ackTaps
	w, err := startWorld(ctx, db, b.log, func(w *world, _ map[string]string) {
		w.onOpen = func(m *Main) { m.metrics.ackTap = taps.add }
	})
	if err != nil {
		return err
	}
	defer w.Close()
	views, msgs, err := prepareLoad(ctx, w, sc.creates, "k")
	if err != nil {
		return err
	}
	issuesBefore := len(w.Linear.Issues())
	w.Linear.SetLatency(sc.slowLinear)
	if err := submitAll(ctx, w, views); err != nil {
		return err
	}
	if err := w.Slack.Wait(ctx, func() bool { return w.Linear.InFlight() > 0 }); err != nil {
		return fmt.Errorf("the creates never reached Linear: %w", err)
	}
	taps.reset()
	cpu0 := processCPU()
	noop := make([]time.Duration, sc.clicks)
	var wg sync.WaitGroup
	errs := make([]error, sc.clicks)
	for i := range sc.clicks {
		wg.Go(func() {
			a, err := w.Slack.Event(ctx, noopEvent)
			noop[i], errs[i] = a.Latency, err
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return fmt.Errorf("no-op envelope: %w", err)
		}
	}
	noopBot := taps.reset()
	cpu1 := processCPU()
	opens, acks, err := clickBurstAcks(ctx, w, msgs, sc.clicks)
	if err != nil {
		return err
	}
	clickBot := taps.reset()
	cpu2 := processCPU()
	loaded := w.Linear.InFlight() > 0
	ref := p99(noop)
	load := fmt.Sprintf("%d clicks at once, %d creates on a %s Linear", sc.clicks, sc.creates, sc.slowLinear)
	if !loaded {
		load += " (they ended before the burst did)"
	}
	b.add(benchRow{
		Name: "ack p99", Measured: ms(p99(acks)), Reference: ms(ref) + " (no-op envelope p99)",
		Ratio: ratio(float64(p99(acks)), float64(ref)), Goal: "≤ 25 ms", Pass: verdict(p99(acks) <= 25*time.Millisecond),
	})
	b.add(benchRow{
		Name: "  bot-side read → ack p99", Measured: ms(p99(clickBot)), Reference: ms(p99(noopBot)) + " (no-op envelope's)",
		Ratio: ratio(float64(p99(clickBot)), float64(p99(noopBot))),
	})
	b.add(benchRow{
		Name: "click → views.open p99", Measured: ms(p99(opens)), Reference: ms(ref) + " (no-op envelope p99)",
		Ratio: ratio(float64(p99(opens)), float64(ref)), Goal: "≤ 300 ms", Pass: verdict(p99(opens) <= 300*time.Millisecond),
	})
	b.notes = append(b.notes, "ack and click rows: "+load)
	if cpu0 >= 0 {
		// Noisy neighbours stretch the wall-clock figures; CPU time much less.
		b.notes = append(b.notes, fmt.Sprintf("  CPU per click %.2f ms, per no-op envelope %.2f ms (this process: the bot, the fakes, the load; the creates' work too)",
			float64(cpu2-cpu1)/float64(time.Millisecond)/float64(sc.clicks), float64(cpu1-cpu0)/float64(time.Millisecond)/float64(sc.clicks)))
	}
	w.Linear.SetLatency(0)
	return w.Slack.Wait(ctx, func() bool { return len(w.Linear.Issues()) >= issuesBefore+sc.creates })
}

// ackTaps collects the bot's own ack durations (frame read → ack
// written, the socket_mode_ack_duration_seconds metric's), which leave out
// the time a frame waits in the socket before the bot reads it.
type ackTaps struct {
	mu   sync.Mutex
	took []time.Duration
}

func (t *ackTaps) add(_ string, took time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.took = append(t.took, took)
}

// reset returns the durations so far and starts afresh.
func (t *ackTaps) reset() []time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	took := t.took
	t.took = nil
	return took
}

// storm sends many alerts of one error at once and counts what Slack
// got: posts, and updates over the storm's duration, until the message
// shows the last count.
func (b *bench) storm(ctx context.Context, db string) error {
	sc := b.scale
	var gap time.Duration
	w, err := startWorld(ctx, db, b.log, b.pace, func(w *world, _ map[string]string) {
		w.onOpen = func(m *Main) {
			if sc.updateGap > 0 {
				m.DB.SetUpdateGap(sc.updateGap)
			}
			gap = m.DB.UpdateGap()
		}
	})
	if err != nil {
		return err
	}
	defer w.Close()
	const channel = "C0STORM"
	w.Slack.AddChannel(channel, "storm")
	p := alertFor("prl_storm")
	p["channel"] = channel
	start := time.Now()
	run, err := sendAlerts(ctx, w, sc.stormAlerts, sc.intakeWorkers, func(int) map[string]any { return p })
	if err != nil {
		return err
	}
	stormEnd := time.Now()
	want := fmt.Sprintf("seen %d times", sc.stormAlerts)
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := w.Slack.Wait(wctx, func() bool {
		ms := w.Slack.Messages(channel)
		return len(ms) > 0 && (strings.Contains(ms[0].Text, want) || bytes.Contains(ms[0].Blocks, []byte(want)))
	}); err != nil {
		return fmt.Errorf("the message never showed %q: %w", want, err)
	}
	settled := time.Now()
	ms := w.Slack.Messages(channel)
	posts, updates := len(ms), ms[0].Edits
	storm := stormEnd.Sub(start)
	allowed := int(math.Ceil(storm.Seconds()/gap.Seconds())) + 1 // one per gap, and the last one
	b.add(benchRow{
		Name:      fmt.Sprintf("storm of %s alerts of one error", thousands(int64(sc.stormAlerts))),
		Measured:  fmt.Sprintf("%d post, %d updates", posts, updates),
		Reference: fmt.Sprintf("storm %.1f s (%s), last count shown %.1f s after it", storm.Seconds(), perSec(run.PerSecond()), settled.Sub(stormEnd).Seconds()),
		Goal:      fmt.Sprintf("1 post, ≤ %d updates (1 per %s)", allowed, gap),
		Pass:      verdict(posts == 1 && updates <= allowed),
	})
	return nil
}

// submit measures submit → thread reply with Linear taking submitLinear
// per request, once alone and for many submits at once, and the Linear
// requests each create makes.
func (b *bench) submit(ctx context.Context, db string) error {
	sc := b.scale
	w, err := startWorld(ctx, db, b.log, b.pace)
	if err != nil {
		return err
	}
	defer w.Close()
	d := sc.submitLinear
	one, oneReqs, err := submitRound(ctx, w, 1, "s", d)
	if err != nil {
		return err
	}
	many, manyReqs, err := submitRound(ctx, w, sc.submits, "m", d)
	if err != nil {
		return err
	}
	perCreate := float64(oneReqs+manyReqs) / float64(1+sc.submits)
	b.add(benchRow{
		Name: "Linear requests per create", Measured: fmt.Sprintf("%.2f", perCreate),
		Reference: fmt.Sprintf("%d creates", 1+sc.submits), Goal: "1", Pass: verdict(perCreate <= 1),
	})
	b.add(benchRow{
		Name: "submit → thread reply", Measured: ms(one[0]), Reference: ms(d) + " (one Linear request)",
		Ratio: ratio(float64(one[0]), float64(d)), Goal: "≤ " + ms(d+100*time.Millisecond),
		Pass: verdict(one[0] <= d+100*time.Millisecond),
	})
	b.add(benchRow{
		Name: fmt.Sprintf("%d submits at once, p99", sc.submits), Measured: ms(p99(many)), Reference: ms(d) + " (one Linear request)",
		Ratio: ratio(float64(p99(many)), float64(d)), Goal: "≤ " + ms(2*d), Pass: verdict(p99(many) <= 2*d),
	})
	return nil
}

// submitRound prepares n filled create modals, makes Linear take d per
// request, submits them all at once and returns each submit's time to its
// "Created" reply in the alert's thread and the Linear requests made.
func submitRound(ctx context.Context, w *world, n int, tag string, d time.Duration) ([]time.Duration, int, error) {
	w.Linear.SetLatency(0)
	views, msgs, err := prepareLoad(ctx, w, n, tag)
	if err != nil {
		return nil, 0, err
	}
	// A person takes longer than Slack's one message a second per channel
	// to fill the modal: the reply does not wait for the alert's own post.
	time.Sleep(w.Main.Dispatcher.ChannelGap + 100*time.Millisecond)
	w.Linear.SetLatency(d)
	defer w.Linear.SetLatency(0)
	before := w.Linear.CountRequests("")
	start := time.Now()
	if err := submitAll(ctx, w, views); err != nil {
		return nil, 0, err
	}
	lat := make([]time.Duration, n)
	if err := w.Slack.Wait(ctx, func() bool {
		done := true
		for i, m := range msgs {
			if lat[i] != 0 {
				continue
			}
			if slices.ContainsFunc(w.Slack.Thread(m.Channel, m.TS), func(r fakeslack.Message) bool { return strings.Contains(r.Text, "Created") }) {
				lat[i] = time.Since(start)
			} else {
				done = false
			}
		}
		return done
	}); err != nil {
		return nil, 0, fmt.Errorf("thread replies: %w", err)
	}
	return lat, w.Linear.CountRequests("") - before, nil
}

// process starts the binary itself (embedded store, fresh fakes) and
// measures its start to a Socket Mode connection, beside the same binary's
// `version`, and its resident memory once connected and idle.
func (b *bench) process(ctx context.Context) error {
	sc := b.scale
	slack := fakeslack.New(fakeslack.Options{Log: b.log})
	defer slack.Close()
	slack.AddChannel(demoChannel, "alerts")
	lin := fakelinear.New(fakelinear.WithSeed())
	defer lin.Close()
	dir, err := os.MkdirTemp("", "proliferate-linear-bench-proc-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	// Only these: nothing of this shell's environment reaches the bot.
	env := []string{
		benchChildEnv + "=1",
		"SLACK_BOT_TOKEN=" + fakeslack.DefaultBotToken, "SLACK_APP_TOKEN=" + fakeslack.DefaultAppToken,
		"SLACK_API_URL=" + slack.URL(), "LINEAR_API_KEY=" + fakelinear.APIKey, "LINEAR_API_URL=" + lin.URL(),
		"DATABASE_URL=sqlite:" + filepath.Join(dir, "bot.db"), "HTTP_ADDR=127.0.0.1:0",
		"PROLIFERATE_WEBHOOK_SECRET=" + randomHex(16), "SLACK_ALERT_CHANNEL=" + demoChannel,
		"LOG_LEVEL=warn",
	}
	if b.goRace != "" {
		env = append(env, "GORACE="+b.goRace)
	}
	var versions []time.Duration
	for range max(sc.versions, 1) {
		cmd := exec.CommandContext(ctx, b.exe, "version")
		cmd.Env = env
		t0 := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%s version: %v: %s", b.exe, err, out)
		}
		versions = append(versions, time.Since(t0))
	}
	var starts []time.Duration
	rss := int64(-1)
	for i := range sc.starts {
		before := slack.Connections()
		var stderr bytes.Buffer
		cmd := exec.CommandContext(ctx, b.exe, "serve")
		cmd.Env, cmd.Stderr = env, &stderr
		t0 := time.Now()
		if err := cmd.Start(); err != nil {
			return err
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		connected := false
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline) && !connected; {
			if slack.Connections() > before {
				connected = true
				break
			}
			select {
			case err := <-exited:
				return fmt.Errorf("the bot exited before connecting: %v: %s", err, stderr.String())
			case <-time.After(time.Millisecond):
			}
		}
		if !connected {
			_ = cmd.Process.Kill()
			<-exited
			return fmt.Errorf("the bot did not connect within 20 s: %s", stderr.String())
		}
		starts = append(starts, time.Since(t0))
		if i == sc.starts-1 {
			time.Sleep(sc.settle) // idle: start-up's background work done
			rss = vmRSS(cmd.Process.Pid)
		}
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if err := slack.Wait(ctx, func() bool { return slack.Connections() <= before }); err != nil {
			return err
		}
	}
	// The first start migrates a new database; later ones open it.
	start, version := percentile(starts, 50), percentile(versions, 50)
	b.add(benchRow{
		Name: "cold start to connected", Measured: ms(start) + fmt.Sprintf(" (median of %d)", len(starts)),
		Reference: ms(version) + " (`version`)", Ratio: ratio(float64(start), float64(version)),
		Goal: "≤ 100 ms", Pass: verdict(start <= 100*time.Millisecond),
	})
	r := benchRow{Name: "idle RSS", Goal: "≤ 25 MiB", Reference: "connected, idle " + sc.settle.String()}
	if rss < 0 {
		r.Measured = "n/a on " + runtime.GOOS
	} else {
		r.Measured = fmt.Sprintf("%.1f MiB", float64(rss)/(1<<20))
		r.Pass = verdict(rss <= 25<<20)
	}
	b.add(r)
	return nil
}

// benchChildEnv tells a test binary started by the bench to run main
// (see TestMain); the real binary ignores it.
const benchChildEnv = "PROLIFERATE_LINEAR_BENCH_CHILD"

// vmRSS reads a process's resident set size from /proc, -1 if it cannot.
func vmRSS(pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return -1
			}
			return kb << 10
		}
	}
	return -1
}

// opCounts formats Linear requests by operation, "" for none.
func opCounts(ops map[string]int) string {
	if len(ops) == 0 {
		return ""
	}
	var parts []string
	for _, op := range slices.Sorted(maps.Keys(ops)) {
		parts = append(parts, fmt.Sprintf("%s %d", op, ops[op]))
	}
	return "(" + strings.Join(parts, ", ") + ")"
}
