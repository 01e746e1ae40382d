package fakeslack

import (
	"net/http"
	"runtime"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// An ack's latency ends when its bytes reached the fake's socket, not when
// the fake's reader got round to it: here the reader is held (s.mu) while
// the second ack waits in the socket, and that wait is not counted.
func TestAckArrivalIsKernelReceiveTime(t *testing.T) {
	t.Parallel()
	if runtime.GOOS != "linux" {
		t.Skip("kernel receive timestamps are read on Linux only")
	}
	srv := newServer(t, Options{PingInterval: time.Hour})
	ctx := testCtx(t)
	_, url, err := newAPI(srv).StartSocketModeContext(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ws, resp, err := websocket.DefaultDialer.DialContext(ctx, url, http.Header{})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	defer ws.Close()
	var hello struct{ Type string }
	if err := ws.ReadJSON(&hello); err != nil || hello.Type != "hello" {
		t.Fatalf("hello: %+v, %v", hello, err)
	}
	// Linux turns receive timestamps on for the whole machine in deferred
	// work once the first socket asks for them, so the first reads after
	// that may carry none (their arrival is then the read's own time).
	// Ack events until a read has one.
	srv.mu.Lock()
	rx := srv.sock.conns[0].rx
	srv.mu.Unlock()
	if rx == nil {
		t.Fatal("the connection reads no receive timestamps")
	}
	for round := 0; rx.last.Load() == 0; round++ {
		if round == 200 {
			t.Fatal("no read had a kernel receive timestamp after 200 acks")
		}
		done := make(chan error, 1)
		go func() {
			_, err := srv.Event(ctx, map[string]any{"type": "reaction_added"})
			done <- err
		}()
		var env struct {
			EnvelopeID string `json:"envelope_id"`
		}
		if err := ws.ReadJSON(&env); err != nil {
			t.Fatal(err)
		}
		if err := ws.WriteJSON(map[string]string{"envelope_id": env.EnvelopeID}); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	warmed := len(srv.Envelopes())

	acks := make(chan Ack, 2)
	for range 2 {
		go func() {
			a, err := srv.Event(ctx, map[string]any{"type": "reaction_added"})
			if err != nil {
				t.Error(err)
			}
			acks <- a
		}()
	}
	var ids []string
	for range 2 {
		var env struct {
			EnvelopeID string `json:"envelope_id"`
		}
		if err := ws.ReadJSON(&env); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, env.EnvelopeID)
	}

	srv.mu.Lock() // the fake's reader stops at the first ack it reads
	for _, id := range ids {
		if err := ws.WriteJSON(map[string]string{"envelope_id": id}); err != nil {
			srv.mu.Unlock()
			t.Fatal(err)
		}
	}
	written := time.Now()
	time.Sleep(30 * time.Millisecond) // not synchronisation: the wait the fake must not count
	released := time.Now()
	srv.mu.Unlock()

	got := map[string]Ack{}
	for range 2 {
		a := <-acks
		got[a.EnvelopeID] = a
	}
	sent := map[string]time.Time{}
	for _, e := range srv.Envelopes()[warmed:] {
		sent[e.ID] = e.SentAt
	}
	for _, id := range ids {
		arrived := sent[id].Add(got[id].Latency)
		if !arrived.Before(released) {
			t.Errorf("ack %s arrived at %s, after the reader was released (%s); it was written by %s",
				id, arrived.Format(time.StampMicro), released.Format(time.StampMicro), written.Format(time.StampMicro))
		}
		if got[id].Latency <= 0 {
			t.Errorf("ack %s latency %v, want > 0", id, got[id].Latency)
		}
	}
}

// An envelope's clock starts when its frame goes out, not while it waits
// behind the connection's other writers.
func TestEnvelopeSentWhenWritten(t *testing.T) {
	t.Parallel()
	h := startHarness(t, Options{}, 1, ackOnly)
	ctx := testCtx(t)
	h.srv.mu.Lock()
	c := h.srv.sock.conns[0]
	h.srv.mu.Unlock()
	c.wmu.Lock() // another writer holds the connection
	acked := make(chan Ack, 1)
	go func() {
		a, err := h.srv.Event(ctx, map[string]any{"type": "reaction_added"})
		if err != nil {
			t.Error(err)
		}
		acked <- a
	}()
	if err := h.srv.Wait(ctx, func() bool { return len(h.srv.Envelopes()) == 1 }); err != nil {
		c.wmu.Unlock()
		t.Fatal(err)
	}
	time.Sleep(30 * time.Millisecond) // not synchronisation: the wait that is the fake's own
	released := time.Now()
	c.wmu.Unlock()
	a := <-acked
	e := h.srv.Envelopes()[0]
	if e.SentAt.Before(released) {
		t.Errorf("SentAt %s is before the frame could be written (%s)", e.SentAt.Format(time.StampMicro), released.Format(time.StampMicro))
	}
	if a.Latency >= 30*time.Millisecond {
		t.Errorf("ack latency %v counts the wait for the writer", a.Latency)
	}
}
