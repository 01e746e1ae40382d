package main

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
)

// TestSlackTransportKeepsConnections: the Slack Web API client reuses its
// connections across bursts of concurrent calls (16 modals opening at
// once) instead of dialling most of them again.
func TestSlackTransportKeepsConnections(t *testing.T) {
	var dials atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			dials.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	client := &http.Client{Transport: slackHTTPTransport()}
	const parallel = 16
	burst := func() {
		var wg sync.WaitGroup
		for range parallel {
			wg.Go(func() {
				resp, err := client.Post(srv.URL, "application/json", nil)
				if err != nil {
					t.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			})
		}
		wg.Wait()
	}
	const bursts = 5
	for range bursts {
		burst()
	}
	// The first burst dials one connection per call; later ones reuse them
	// (a few may be dialled again when a call starts before an earlier
	// one's connection is back in the pool). Keeping only 2, as net/http
	// does by default, dials about 14 more per burst.
	if n := dials.Load(); n > 2*parallel {
		t.Errorf("%d bursts of %d calls dialled %d connections, want at most %d", bursts, parallel, n, 2*parallel)
	}
}
