package oauth_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/linear/oauth"
)

const publicURL = "https://bot.example"

// managerFixture is a fixture (fake Linear, log, leak check) with a Manager
// over an in-memory ConnectionStore, a clock the test can move, and a
// record of every HTTP request the Manager sent.
type managerFixture struct {
	*fixture
	conns *memConns
	store oauth.ConnectionStore
	m     *oauth.Manager
	sent  *recorder
	skew  atomic.Int64 // nanoseconds added to the real clock
}

func newManagerFixture(t *testing.T) *managerFixture {
	t.Helper()
	mf := &managerFixture{fixture: newFixture(t), conns: newMemConns(), sent: &recorder{}}
	mf.store = mf.conns
	t.Cleanup(mf.checkConnLeaks)
	mf.m = mf.manager()
	return mf
}

// manager builds a Manager over the fixture's store; several of them are
// replicas sharing one database.
func (mf *managerFixture) manager() *oauth.Manager {
	hc := &http.Client{Transport: mf.sent, Timeout: 5 * time.Second}
	cfg := mf.cfg
	cfg.HTTPClient = hc
	return oauth.NewManager(oauth.ManagerConfig{
		OAuth: cfg, PublicURL: publicURL + "/", LinearAPIURL: mf.srv.URL(), HTTPClient: hc,
		Log: mf.log, Now: mf.now,
	}, mf.store)
}

func (mf *managerFixture) now() time.Time { return time.Now().Add(time.Duration(mf.skew.Load())) }

// advance moves the Manager's clock (not the fake's) forward.
func (mf *managerFixture) advance(d time.Duration) { mf.skew.Add(int64(d)) }

// checkConnLeaks fails the test if a token or verifier the store held
// reached the log or a recorded error.
func (mf *managerFixture) checkConnLeaks() {
	mf.mu.Lock()
	defer mf.mu.Unlock()
	texts := append([]string{mf.logBuf.String()}, mf.errs...)
	for _, s := range mf.conns.secrets() {
		if len(s) < 8 {
			continue
		}
		for _, text := range texts {
			if strings.Contains(text, s) {
				mf.t.Errorf("a stored secret (%d chars) appears in a log line or error: %q", len(s), text)
			}
		}
	}
}

// link asks for a connect link and returns its state.
func (mf *managerFixture) link(team, user string) string {
	mf.t.Helper()
	u, err := mf.m.ConnectURL(context.Background(), team, user)
	if err != nil {
		mf.t.Fatalf("ConnectURL: %v", mf.record(err))
	}
	parsed, err := url.Parse(u)
	if err != nil {
		mf.t.Fatal(err)
	}
	if got := parsed.Scheme + "://" + parsed.Host + parsed.Path; got != publicURL+oauth.ConnectPath {
		mf.t.Fatalf("connect link %s, want %s?state=...", got, publicURL+oauth.ConnectPath)
	}
	return parsed.Query().Get("state")
}

// consent plays the admin's browser from the connect link to the callback
// and returns the callback's query.
func (mf *managerFixture) consent(team, user string) url.Values {
	mf.t.Helper()
	state := mf.link(team, user)
	authURL, err := mf.m.AuthorizeRedirect(context.Background(), state)
	if err != nil {
		mf.t.Fatalf("AuthorizeRedirect: %v", mf.record(err))
	}
	return mf.authorize(authURL)
}

// connectAs runs the whole flow for a Slack team and returns Complete's answer.
func (mf *managerFixture) connectAs(team, user string) (alert.Connection, error) {
	mf.t.Helper()
	c, err := mf.m.Complete(context.Background(), mf.consent(team, user))
	return c, mf.record(err)
}

// mustConnect connects T1 as U1.
func (mf *managerFixture) mustConnect() alert.Connection {
	mf.t.Helper()
	c, err := mf.connectAs("T1", "U1")
	if err != nil {
		mf.t.Fatalf("connect: %v", err)
	}
	return c
}

// recorder is an http.RoundTripper that counts the requests it sends by
// path, over the real network to the fake.
type recorder struct {
	mu    sync.Mutex
	paths map[string]int
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	if r.paths == nil {
		r.paths = map[string]int{}
	}
	r.paths[req.URL.Path]++
	r.mu.Unlock()
	return http.DefaultTransport.RoundTrip(req)
}

func (r *recorder) count(path string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if path == "" {
		n := 0
		for _, c := range r.paths {
			n += c
		}
		return n
	}
	return r.paths[path]
}
