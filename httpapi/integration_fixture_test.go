package httpapi

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/linear"
	"github.com/proliferate/proliferate-linear/linear/fakelinear"
	"github.com/proliferate/proliferate-linear/store/storetest"
)

const testTeam = "T0ACME"

// fakeIntegration is an in-memory Integration: states it knows, the
// connection it holds, and errors to return. It records calls.
type fakeIntegration struct {
	mu         sync.Mutex
	states     map[string]bool // state → usable
	conn       *alert.Connection
	completeFn func(q url.Values) (alert.Connection, error)
	confirmErr error
	cancelErr  error
	discErr    error
	urlErr     error
	calls      []string
}

func newFakeIntegration() *fakeIntegration {
	return &fakeIntegration{states: map[string]bool{}}
}

func (f *fakeIntegration) record(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
}

func (f *fakeIntegration) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *fakeIntegration) AuthorizeRedirect(_ context.Context, state string) (string, error) {
	f.record("AuthorizeRedirect")
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.states[state] {
		return "", fmt.Errorf("linear connect: state: %w", alert.ErrNotFound)
	}
	return "https://linear.example/oauth/authorize?state=" + url.QueryEscape(state), nil
}

func (f *fakeIntegration) Complete(_ context.Context, q url.Values) (alert.Connection, error) {
	f.record("Complete")
	f.mu.Lock()
	usable := f.states[q.Get("state")]
	delete(f.states, q.Get("state"))
	fn := f.completeFn
	f.mu.Unlock()
	if !usable {
		return alert.Connection{}, fmt.Errorf("linear oauth callback: %w", alert.ErrNotFound)
	}
	if fn != nil {
		return fn(q)
	}
	return alert.Connection{SlackTeamID: testTeam, OrgID: "org-acme", OrgName: "Acme", OrgURLKey: "acme"}, nil
}

func (f *fakeIntegration) ConfirmReplace(_ context.Context, team, state string) (alert.Connection, error) {
	f.record("ConfirmReplace %s %s", team, state)
	if f.confirmErr != nil {
		return alert.Connection{}, f.confirmErr
	}
	return alert.Connection{SlackTeamID: team, OrgID: "org-globex", OrgName: "Globex"}, nil
}

func (f *fakeIntegration) CancelReplace(_ context.Context, team, state string) error {
	f.record("CancelReplace %s %s", team, state)
	return f.cancelErr
}

func (f *fakeIntegration) ConnectURL(_ context.Context, team, user string) (string, error) {
	f.record("ConnectURL %s %s", team, user)
	if f.urlErr != nil {
		return "", f.urlErr
	}
	return "https://bot.example" + ConnectPath + "?state=s-new", nil
}

func (f *fakeIntegration) Connection(_ context.Context, team string) (alert.Connection, error) {
	f.record("Connection %s", team)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.conn == nil {
		return alert.Connection{}, fmt.Errorf("linear connection: %w", alert.ErrNotConnected)
	}
	return *f.conn, nil
}

func (f *fakeIntegration) Disconnect(_ context.Context, team string) error {
	f.record("Disconnect %s", team)
	if f.discErr != nil {
		return f.discErr
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.conn == nil {
		return fmt.Errorf("linear disconnect: %w", alert.ErrNotConnected)
	}
	f.conn = nil
	return nil
}

// linearFixture is the REST API over the real core: an *alert.Service on a
// migrated SQLite store, its linear.Client talking to the fake Linear (so
// Linear's refusals arrive in Linear's wire shapes), and a fake Integration.
type linearFixture struct {
	*harness
	fl    *fakelinear.Server
	svc   *alert.Service
	integ *fakeIntegration
}

func newLinearFixture(t *testing.T) *linearFixture {
	t.Helper()
	return newLinearFixtureOn(t, storetest.SQLite(t))
}

// newLinearFixtureOn is newLinearFixture on the store db.
func newLinearFixtureOn(t *testing.T, db alert.Store) *linearFixture {
	t.Helper()
	fl := fakelinear.Seeded()
	t.Cleanup(fl.Close)
	hc := &http.Client{Transport: &linear.APIKeyTransport{Key: fakelinear.APIKey}, Timeout: 5 * time.Second}
	svc := alert.NewService(db, linear.New(fl.URL(), hc, nil), nil)
	f := &linearFixture{fl: fl, svc: svc, integ: newFakeIntegration()}
	f.harness = newHarness(t,
		Config{WebhookSecret: testSecret, DefaultChannel: "C0DEFAULT", APIToken: apiToken, SlackTeamID: testTeam},
		Deps{API: svc, Integration: f.integ})
	return f
}

// api sends an authenticated REST request.
func (f *linearFixture) api(t *testing.T, method, path string, body []byte) response {
	t.Helper()
	return f.do(t, method, integrationBase+path, body, map[string]string{"Authorization": "Bearer " + apiToken})
}

// pageResponse is a browser page as received.
type pageResponse struct {
	status int
	header http.Header
	body   string
}

// browse sends a request the way a browser would, without following
// redirects, and returns the answer.
func browse(t *testing.T, srv *httptest.Server, method, path string, form url.Values) pageResponse {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/html,application/xhtml+xml")
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	c := *srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return pageResponse{status: resp.StatusCode, header: resp.Header, body: string(raw)}
}

// newPageServer serves the handler with integ and a recording OnConnected.
func newPageServer(t *testing.T, integ Integration, connected chan<- alert.Connection) (*httptest.Server, *syncBuffer) {
	t.Helper()
	srv, logs, _ := startPageServer(t, integ, connected)
	return srv, logs
}

// startPageServer is newPageServer that also returns the handler, whose
// Close tells when every OnConnected call has returned.
func startPageServer(t *testing.T, integ Integration, connected chan<- alert.Connection) (*httptest.Server, *syncBuffer, *Handler) {
	t.Helper()
	logs := &syncBuffer{}
	deps := Deps{Integration: integ}
	if connected != nil {
		deps.OnConnected = func(_ context.Context, c alert.Connection) { connected <- c }
	}
	h := NewHandler(Config{SlackTeamID: testTeam, Log: slog.New(slog.NewJSONHandler(logs, nil))}, deps)
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := h.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return srv, logs, h
}
