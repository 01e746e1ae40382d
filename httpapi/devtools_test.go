package httpapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"
)

// devtools is one headless Chromium for a whole test, driven over the
// DevTools protocol on a pipe (--remote-debugging-pipe: commands go in on
// its file descriptor 3, answers and events come out of 4, each a JSON
// object ended by a NUL byte; https://chromedevtools.github.io/devtools-protocol/).
// Chromium's start-up is most of what a page check costs (about 2 s of CPU
// on the 2-core machine), so the pages share one browser, each in a tab
// of its own.
type devtools struct {
	cmd    *exec.Cmd
	in     io.WriteCloser
	stderr *syncBuffer
	done   chan struct{} // closed when the reader stops

	wmu     sync.Mutex // one command at a time on the pipe
	mu      sync.Mutex
	nextID  int
	calls   map[int]chan devtoolsReply
	waiters []*devtoolsWaiter
	err     error // why the reader stopped
}

type devtoolsReply struct {
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// devtoolsMessage is anything Chromium writes: an answer (ID) or an event
// (Method), of a tab's session or of the browser (SessionID "").
type devtoolsMessage struct {
	devtoolsReply
	ID        int    `json:"id"`
	Method    string `json:"method"`
	SessionID string `json:"sessionId"`
}

// devtoolsWaiter is a wait for an event of one session.
type devtoolsWaiter struct {
	session, method string
	fired           chan struct{}
}

// startDevtools starts Chromium, closed when t ends.
func startDevtools(t *testing.T, bin string) *devtools {
	t.Helper()
	cmdIn, in, err := os.Pipe() // Chromium reads commands from cmdIn (fd 3)
	if err != nil {
		t.Fatal(err)
	}
	out, cmdOut, err := os.Pipe() // and writes to cmdOut (fd 4)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--hide-scrollbars", "--remote-debugging-pipe",
		"--user-data-dir="+t.TempDir(), "about:blank")
	cmd.ExtraFiles = []*os.File{cmdIn, cmdOut}
	d := &devtools{cmd: cmd, in: in, stderr: &syncBuffer{}, done: make(chan struct{}), calls: map[int]chan devtoolsReply{}}
	cmd.Stderr = d.stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	_ = cmdIn.Close()
	_ = cmdOut.Close()
	go d.read(out)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := d.call(ctx, "", "Browser.close", nil); err != nil {
			t.Logf("close chromium: %v", err)
		}
		_ = in.Close()
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		select {
		case <-exited:
		case <-ctx.Done():
			_ = cmd.Process.Kill()
			<-exited
		}
		<-d.done
	})
	return d
}

// read dispatches what Chromium writes until the pipe closes.
func (d *devtools) read(out io.ReadCloser) {
	defer close(d.done)
	defer out.Close()
	r := bufio.NewReader(out)
	for {
		raw, err := r.ReadBytes(0)
		if err != nil {
			d.stop(fmt.Errorf("devtools pipe: %w", err))
			return
		}
		var m devtoolsMessage
		if err := json.Unmarshal(bytes.TrimSuffix(raw, []byte{0}), &m); err != nil {
			d.stop(fmt.Errorf("devtools message %q: %w", raw, err))
			return
		}
		d.mu.Lock()
		if m.ID != 0 {
			if c, ok := d.calls[m.ID]; ok {
				delete(d.calls, m.ID)
				c <- m.devtoolsReply
			}
		} else {
			kept := d.waiters[:0]
			for _, w := range d.waiters {
				if w.session == m.SessionID && w.method == m.Method {
					close(w.fired)
				} else {
					kept = append(kept, w)
				}
			}
			d.waiters = kept
		}
		d.mu.Unlock()
	}
}

// stop fails every call and wait under way, and those to come.
func (d *devtools) stop(err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.err = err
	for id, c := range d.calls {
		delete(d.calls, id)
		close(c)
	}
	for _, w := range d.waiters {
		close(w.fired)
	}
	d.waiters = nil
}

// call sends method to session ("" for the browser) and returns its result.
func (d *devtools) call(ctx context.Context, session, method string, params any) (json.RawMessage, error) {
	reply := make(chan devtoolsReply, 1)
	d.mu.Lock()
	if d.err != nil {
		d.mu.Unlock()
		return nil, d.err
	}
	d.nextID++
	id := d.nextID
	d.calls[id] = reply
	d.mu.Unlock()
	cmd := map[string]any{"id": id, "method": method}
	if session != "" {
		cmd["sessionId"] = session
	}
	if params != nil {
		cmd["params"] = params
	}
	msg, err := json.Marshal(cmd)
	if err == nil {
		// Not under mu: the reader needs mu to hand out answers while a
		// write waits for Chromium to read its end of the pipe.
		d.wmu.Lock()
		_, err = d.in.Write(append(msg, 0))
		d.wmu.Unlock()
	}
	if err != nil {
		d.mu.Lock()
		delete(d.calls, id)
		d.mu.Unlock()
		return nil, fmt.Errorf("%s: %w", method, err)
	}
	select {
	case r, ok := <-reply:
		if !ok {
			return nil, fmt.Errorf("%s: %w\nchromium's stderr:\n%s", method, d.err, lastLines(d.stderr.String(), 20))
		}
		if r.Error != nil {
			return nil, fmt.Errorf("%s: %s (%d)", method, r.Error.Message, r.Error.Code)
		}
		return r.Result, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("%s: %w", method, ctx.Err())
	}
}

// expect registers a wait for session's next event method; wait on the
// channel it returns after the call that causes the event.
func (d *devtools) expect(session, method string) <-chan struct{} {
	w := &devtoolsWaiter{session: session, method: method, fired: make(chan struct{})}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.err != nil {
		close(w.fired)
	} else {
		d.waiters = append(d.waiters, w)
	}
	return w.fired
}

// page loads pageURL in a new tab with a width × height viewport and
// returns its DOM, serialised after the load event, and a PNG screenshot
// of the viewport: what `chromium --dump-dom` and `--screenshot` give.
func (d *devtools) page(ctx context.Context, pageURL string, width, height int) (dom string, png []byte, err error) {
	var target struct {
		TargetID string `json:"targetId"`
	}
	if err := d.callInto(ctx, "", "Target.createTarget", map[string]any{"url": "about:blank"}, &target); err != nil {
		return "", nil, err
	}
	defer func() {
		_, _ = d.call(context.WithoutCancel(ctx), "", "Target.closeTarget", map[string]any{"targetId": target.TargetID})
	}()
	var attached struct {
		SessionID string `json:"sessionId"`
	}
	if err := d.callInto(ctx, "", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &attached); err != nil {
		return "", nil, err
	}
	s := attached.SessionID
	if _, err := d.call(ctx, s, "Page.enable", nil); err != nil {
		return "", nil, err
	}
	if _, err := d.call(ctx, s, "Emulation.setDeviceMetricsOverride", map[string]any{
		"width": width, "height": height, "deviceScaleFactor": 1, "mobile": false,
	}); err != nil {
		return "", nil, err
	}
	loaded := d.expect(s, "Page.loadEventFired")
	var nav struct {
		ErrorText string `json:"errorText"`
	}
	if err := d.callInto(ctx, s, "Page.navigate", map[string]any{"url": pageURL}, &nav); err != nil {
		return "", nil, err
	}
	if nav.ErrorText != "" {
		return "", nil, fmt.Errorf("navigate to %s: %s", pageURL, nav.ErrorText)
	}
	select {
	case <-loaded:
	case <-ctx.Done():
		return "", nil, fmt.Errorf("load %s: %w", pageURL, ctx.Err())
	}
	var eval struct {
		Result struct {
			Value string `json:"value"`
		} `json:"result"`
	}
	if err := d.callInto(ctx, s, "Runtime.evaluate", map[string]any{
		"expression": "document.documentElement.outerHTML", "returnByValue": true,
	}, &eval); err != nil {
		return "", nil, err
	}
	var shot struct {
		Data string `json:"data"`
	}
	if err := d.callInto(ctx, s, "Page.captureScreenshot", map[string]any{"format": "png"}, &shot); err != nil {
		return "", nil, err
	}
	png, err = base64.StdEncoding.DecodeString(shot.Data)
	if err != nil {
		return "", nil, fmt.Errorf("screenshot: %w", err)
	}
	return eval.Result.Value, png, nil
}

// callInto is call decoding the result into v.
func (d *devtools) callInto(ctx context.Context, session, method string, params, v any) error {
	raw, err := d.call(ctx, session, method, params)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("%s result: %w", method, err)
	}
	return nil
}
