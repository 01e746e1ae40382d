package httpapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image/png"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/proliferate/proliferate-linear/alert"
)

// chromiumPath is Debian's chromium package (apt-get install chromium).
const chromiumPath = "/usr/bin/chromium"

// chromium finds the browser, or skips the test; under CI (env CI set) a
// missing browser fails instead, so the check cannot silently vanish.
func chromium(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath(chromiumPath)
	if err == nil {
		return path
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("CI is set but %s is missing (apt-get install -y chromium): %v", chromiumPath, err)
	}
	t.Skipf("%s not found; install Debian's chromium package to run the browser check", chromiumPath)
	return ""
}

// artifactsDir is where screenshots are kept: $ARTIFACTS_DIR when set (CI
// keeps them for a person to look at), else a temporary directory removed
// with the test, so a test run leaves nothing in the tree.
func artifactsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("ARTIFACTS_DIR")
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// browserIntegration is an Integration whose callback always finds its
// state, so each Chromium run (one for the DOM, one for the screenshot)
// loads the page afresh.
type browserIntegration struct {
	*fakeIntegration
	complete func() (alert.Connection, error)
}

func (b browserIntegration) Complete(context.Context, url.Values) (alert.Connection, error) {
	return b.complete()
}

// replaceWith answers the callback with a proposal to replace Acme.
func replaceWith(proposed string) func() (alert.Connection, error) {
	return func() (alert.Connection, error) {
		return alert.Connection{}, &alert.ReplaceError{
			Current:      alert.Connection{SlackTeamID: testTeam, OrgName: "Acme"},
			Proposed:     alert.Connection{SlackTeamID: testTeam, OrgName: proposed},
			ConfirmState: "confirm-state-123",
		}
	}
}

// TestBrowserPages renders the callback pages in a real headless Chromium:
// the text a person reads (from the rendered DOM) and a screenshot, kept in
// the artifacts directory for a human to look at.
func TestBrowserPages(t *testing.T) {
	t.Parallel()
	browser := startDevtools(t, chromium(t))
	out := artifactsDir(t)
	cases := []struct {
		name     string
		path     string
		complete func() (alert.Connection, error)
		want     []string
		dontWant []string
	}{
		{
			name: "connected", path: CallbackPath + "?state=s1&code=c1",
			complete: func() (alert.Connection, error) {
				return alert.Connection{SlackTeamID: testTeam, OrgName: "Acme"}, nil
			},
			want: []string{"Connected to Acme. You can return to Slack."},
		},
		{
			name: "denied", path: CallbackPath + "?state=s1&error=access_denied",
			want: []string{"Linear access was not granted"},
		},
		{
			name: "unreachable", path: CallbackPath + "?state=s1&code=c1",
			complete: func() (alert.Connection, error) {
				return alert.Connection{}, fmt.Errorf("linear oauth exchange: dial tcp: %w", alert.ErrUnavailable)
			},
			want:     []string{"Linear could not be reached; try again."},
			dontWant: []string{"dial tcp", "unavailable"},
		},
		{
			name: "expired", path: CallbackPath + "?state=s1&code=c1",
			complete: func() (alert.Connection, error) {
				return alert.Connection{}, fmt.Errorf("linear oauth callback: %w", alert.ErrNotFound)
			},
			want: []string{"This link was already used or has expired."},
		},
		{
			name: "replace", path: CallbackPath + "?state=s1&code=c1",
			complete: replaceWith("Globex"),
			want: []string{
				"This Slack workspace is connected to Acme. Replace it with Globex?",
				"Replace with Globex</button>", "Keep Acme</button>",
			},
		},
		{
			// Workspace names are Linear's, so anyone's: they must render as text.
			name: "replace-escaped", path: CallbackPath + "?state=s1&code=c1",
			complete: replaceWith("Globex <script>alert(1)</script>"),
			want:     []string{"Replace it with Globex &lt;script&gt;alert(1)&lt;/script&gt;?"},
			dontWant: []string{"<script>alert(1)"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Each page has its own server and tab: the pages load at once.
			t.Parallel()
			complete := tc.complete
			if complete == nil {
				complete = func() (alert.Connection, error) { return alert.Connection{}, errors.New("not called") }
			}
			srv, _ := newPageServer(t, browserIntegration{newFakeIntegration(), complete}, nil)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			dom, shot, err := browser.page(ctx, srv.URL+tc.path, 1000, 700)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range tc.want {
				if !strings.Contains(dom, s) {
					t.Errorf("rendered DOM lacks %q:\n%s", s, dom)
				}
			}
			for _, s := range tc.dontWant {
				if strings.Contains(dom, s) {
					t.Errorf("rendered DOM shows %q:\n%s", s, dom)
				}
			}

			file := filepath.Join(out, "linear-callback-"+tc.name+".png")
			if err := os.WriteFile(file, shot, 0o644); err != nil {
				t.Fatal(err)
			}
			cfg, err := png.DecodeConfig(bytes.NewReader(shot))
			if err != nil {
				t.Fatalf("screenshot %s is not a PNG: %v", file, err)
			}
			if cfg.Width != 1000 || cfg.Height != 700 {
				t.Errorf("screenshot is %dx%d, want 1000x700", cfg.Width, cfg.Height)
			}
			t.Logf("screenshot: %s", file)
		})
	}
}
