package bot

import (
	"context"
	"testing"
	"time"
)

// TestConnectedFollowsSocketMode: the readiness hook is true once Slack's
// hello arrived, false while the connection is gone, true again after the
// reconnect, and false once Run has returned.
func TestConnectedFollowsSocketMode(t *testing.T) {
	t.Parallel()
	h := startHarness(t, "")
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := h.fs.Wait(ctx, h.bot.Connected); err != nil {
		t.Fatalf("Connected never turned true with a live connection: %v", err)
	}
	if n := h.bot.SocketConnections(); n != 1 {
		t.Errorf("SocketConnections = %d after the first connect, want 1", n)
	}
	h.fs.DropConnections()
	if err := h.fs.Wait(ctx, func() bool { return h.bot.SocketConnections() == 2 && h.bot.Connected() }); err != nil {
		t.Fatalf("Connected not true again after the reconnect (connections %d): %v", h.bot.SocketConnections(), err)
	}
	h.shutdown(t)
	if h.bot.Connected() {
		t.Error("Connected = true after Run returned")
	}
}
