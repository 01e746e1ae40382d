package store

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/proliferate/proliferate-linear/alert"
)

func TestSQLiteDSN(t *testing.T) {
	t.Parallel()
	defaults := []string{"busy_timeout(5000)", "journal_mode(WAL)", "foreign_keys(1)", "synchronous(NORMAL)"}
	tests := []struct {
		name        string
		in          string
		wantPath    string
		wantPragmas []string
		wantTxLock  string
		wantExtra   map[string]string
	}{
		{name: "empty", in: "", wantPath: DefaultSQLitePath, wantPragmas: defaults, wantTxLock: "immediate"},
		{name: "path", in: "/var/lib/bot/x.db", wantPath: "/var/lib/bot/x.db", wantPragmas: defaults, wantTxLock: "immediate"},
		{name: "file uri keeps its options", in: "file:x.db?mode=rwc", wantPath: "x.db", wantPragmas: defaults, wantTxLock: "immediate",
			wantExtra: map[string]string{"mode": "rwc"}},
		{name: "caller's pragmas win", in: "file:x.db?_pragma=synchronous(FULL)&_txlock=deferred", wantPath: "x.db",
			wantPragmas: []string{"synchronous(FULL)", "busy_timeout(5000)", "journal_mode(WAL)", "foreign_keys(1)"}, wantTxLock: "deferred"},
		{name: "memory", in: "file::memory:", wantPath: ":memory:", wantPragmas: defaults, wantTxLock: "immediate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dsn, err := sqliteDSN(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			path, query, _ := strings.Cut(strings.TrimPrefix(dsn, "file:"), "?")
			q, err := url.ParseQuery(query)
			if err != nil {
				t.Fatal(err)
			}
			if path != tt.wantPath {
				t.Errorf("path = %q, want %q", path, tt.wantPath)
			}
			if diff := cmp.Diff(tt.wantPragmas, q["_pragma"]); diff != "" {
				t.Errorf("pragmas (-want +got):\n%s", diff)
			}
			if got := q.Get("_txlock"); got != tt.wantTxLock {
				t.Errorf("_txlock = %q, want %q", got, tt.wantTxLock)
			}
			for k, v := range tt.wantExtra {
				if got := q.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
		})
	}
	if _, err := sqliteDSN("file:x.db?%zz"); !errors.Is(err, alert.ErrInvalid) {
		t.Errorf("bad query: %v, want ErrInvalid", err)
	}
}
