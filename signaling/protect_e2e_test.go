package signaling

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/earshot-dev/earshot/signaling/protocol"
)

func TestMalformedFramesKeepConnection(t *testing.T) {
	e := newEnv(t, nil)
	c := e.connect("alice", protocol.RoleInterviewer)
	cases := []struct {
		frame, event, code string
	}{
		{`not json`, protocol.EventError, protocol.CodeBadRequest},
		{`{"event":`, protocol.EventError, protocol.CodeBadRequest},
		{`[1,2]`, protocol.EventError, protocol.CodeBadRequest},
		{`{"data":{}}`, protocol.EventError, protocol.CodeBadRequest},
		{`{"event":12}`, protocol.EventError, protocol.CodeBadRequest},
		{`{"event":"nope:nope","data":{}}`, protocol.EventError, protocol.CodeUnknownEvent},
		{`{"event":"session:join"}`, protocol.EventSessionError, protocol.CodeBadRequest},
		{`{"event":"session:join","data":"s1"}`, protocol.EventSessionError, protocol.CodeBadRequest},
		{`{"event":"session:join","data":{"sessionId":5}}`, protocol.EventSessionError, protocol.CodeBadRequest},
		{`{"event":"audio:start","data":{"sessionId":"s1","sampleRate":"fast"}}`, protocol.EventAudioError, protocol.CodeBadRequest},
		{`{"event":"session:join","data":{"sessionId":"s1"},"id":-1}`, protocol.EventError, protocol.CodeBadRequest},
		{`{"event":"session:join","data":{"sessionId":"s1"},"id":"7"}`, protocol.EventError, protocol.CodeBadRequest},
	}
	for _, tc := range cases {
		c.sendRaw([]byte(tc.frame))
		e := c.expectErr(tc.event, tc.code)
		if strings.Contains(e.Message, "nope:nope") && tc.code != protocol.CodeUnknownEvent {
			t.Fatalf("%s: message echoes input: %q", tc.frame, e.Message)
		}
	}
	// A refused request with an id gets a refused ack too.
	c.sendRaw([]byte(`{"event":"nope","id":9}`))
	c.expectErr(protocol.EventError, protocol.CodeUnknownEvent)
	if ack := c.expectAck(9); ack.Error == nil || ack.Error.Code != protocol.CodeUnknownEvent {
		t.Fatalf("ack %s", ack.raw)
	}
	// An id is a JSON number with an integer value, however it is spelt.
	for i, frame := range []string{
		`{"event":"session:join","data":{"sessionId":"s1"},"id":1e3}`,
		`{"event":"session:join","data":{"sessionId":"s1"},"id":1000.0}`,
		`{"event":"session:join","data":{"sessionId":"s1"},"id":9007199254740991}`,
	} {
		c.sendRaw([]byte(frame))
		c.expect(protocol.EventSessionJoined)
		want := []int64{1000, 1000, 1<<53 - 1}[i]
		if ack := c.expectAck(want); ack.Error != nil {
			t.Fatalf("%s: ack %s", frame, ack.raw)
		}
	}
	for _, frame := range []string{
		`{"event":"session:join","data":{"sessionId":"s1"},"id":1.5}`,
		`{"event":"session:join","data":{"sessionId":"s1"},"id":9007199254740992}`,
		`{"event":"session:join","data":{"sessionId":"s1"},"id":1e400}`,
		`{"event":"session:join","data":{"sessionId":"s1"},"id":-0.5}`,
	} {
		c.sendRaw([]byte(frame))
		c.expectErr(protocol.EventError, protocol.CodeBadRequest)
	}
	c.send(protocol.EventSessionJoin, map[string]string{"sessionId": "s1"})
	c.expect(protocol.EventSessionJoined)
	if n := testutil.ToFloat64(e.s.m.errors.WithLabelValues(protocol.CodeBadRequest)); n < 10 {
		t.Fatalf("errors_total{BAD_REQUEST} = %v", n)
	}
}

func TestRateLimit(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.EventRate = 0.001; o.EventBurst = 3; o.RateLimitStrikes = 6 })
	c := e.connect("alice", protocol.RoleInterviewer)
	for range 3 {
		c.send(protocol.EventSessionJoin, map[string]string{"sessionId": "s1"})
		c.expect(protocol.EventSessionJoined)
	}
	for range 5 {
		c.send(protocol.EventSessionJoin, map[string]string{"sessionId": "s1"})
		c.expectErr(protocol.EventSessionError, protocol.CodeRateLimited)
	}
	// A refused frame keeps its ack when the refusal is the rate limit.
	c.sendRaw([]byte(`{"data":1,"id":7}`))
	c.expectErr(protocol.EventError, protocol.CodeRateLimited)
	if ack := c.expectAck(7); ack.Error == nil || ack.Error.Code != protocol.CodeRateLimited {
		t.Fatalf("ack %s", ack.raw)
	}
	c.send(protocol.EventSessionJoin, map[string]string{"sessionId": "s1"})
	if got := c.expectClose(); got != protocol.CloseRateLimited {
		t.Fatalf("close %d, want 4029", got)
	}
}

// TestOversizedFrame: 1009 close, seen by the client as such (the server drains).
func TestOversizedFrame(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.MaxMessageSize = 4096 })
	for _, binary := range []bool{false, true} {
		c := e.connect("alice", protocol.RoleInterviewer)
		big := []byte(`{"event":"session:join","data":{"sessionId":"` + strings.Repeat("x", 256<<10) + `"}}`)
		mt := websocket.TextMessage
		if binary {
			mt = websocket.BinaryMessage
		}
		_ = c.ws.SetWriteDeadline(time.Now().Add(waitLimit))
		_ = c.ws.WriteMessage(mt, big) // may fail once the server closed: the close frame is what counts
		if got := c.expectClose(); got != websocket.CloseMessageTooBig {
			t.Fatalf("close %d, want 1009", got)
		}
	}
	// Within the limit is fine.
	c := e.connect("bob", protocol.RoleInterviewer)
	c.sendRaw([]byte(`{"event":"session:join","data":{"sessionId":"s1"},"pad":"` + strings.Repeat("x", 3000) + `"}`))
	c.expect(protocol.EventSessionJoined)
}

// TestSlowConsumer: a client that stops reading is closed with 4008 once its queue
// overflows, while a reading member of the same session receives every event.
func TestSlowConsumer(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.OutboundQueueBytes = 64 << 10; o.WriteTimeout = 2 * time.Second })

	// The stalled client: a raw connection we stop reading.
	slowWS, _, err := e.dialRaw("/interview", http.Header{"Authorization": {"Bearer " + e.token("slow", protocol.RoleCandidate)}})
	if err != nil {
		t.Fatal(err)
	}
	defer slowWS.Close()
	readJSON := func() frame {
		_ = slowWS.SetReadDeadline(time.Now().Add(waitLimit))
		_, b, err := slowWS.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		var f frame
		_ = json.Unmarshal(b, &f)
		return f
	}
	if f := readJSON(); f.Event != protocol.EventConnectionSuccess {
		t.Fatalf("got %s", f.Event)
	}
	_ = slowWS.WriteMessage(websocket.TextMessage, []byte(`{"event":"session:join","data":{"sessionId":"s1"}}`))
	if f := readJSON(); f.Event != protocol.EventSessionJoined {
		t.Fatalf("got %s", f.Event)
	}

	// The healthy client counts what it receives on its own goroutine.
	fast := e.connect("fast", protocol.RoleInterviewer)
	fast.send(protocol.EventSessionJoin, map[string]string{"sessionId": "s1"})
	fast.expect(protocol.EventSessionJoined)
	var slowConn *conn
	e.s.mu.Lock()
	for c := range e.s.conns {
		if c.userID() == "slow" {
			slowConn = c
		}
	}
	e.s.mu.Unlock()

	payload := map[string]string{"sessionId": "s1", "text": strings.Repeat("y", 1000)}
	var got atomic.Int64
	progress := make(chan struct{}, 1)
	go func() {
		for f := range fast.frames {
			if f.Event == protocol.EventTranscriptionResult {
				got.Add(1)
				select {
				case progress <- struct{}{}:
				default:
				}
			}
		}
	}()
	// Publish in batches and let the healthy client catch up after each, so only the
	// stalled client's queue can overflow.
	sent := int64(0)
	for sent < 100000 && !slowConn.isClosing() {
		for range 32 {
			e.s.Publish("s1", protocol.EventTranscriptionResult, payload, nil, "")
			sent++
		}
		deadline := time.After(waitLimit)
		for got.Load() < sent {
			select {
			case <-progress:
			case <-deadline:
				t.Fatalf("healthy client received %d of %d events", got.Load(), sent)
			}
		}
	}
	if !slowConn.isClosing() {
		t.Fatalf("stalled client not closed after %d events", sent)
	}
	if fastClosing := func() bool {
		e.s.mu.Lock()
		defer e.s.mu.Unlock()
		for c := range e.s.conns {
			if c.userID() == "fast" {
				return c.isClosing()
			}
		}
		return true
	}(); fastClosing {
		t.Fatal("the healthy client was closed too")
	}
	t.Logf("stalled client closed after %d events of 1 KB; the healthy one received all", sent)
	// The stalled client resumes reading: the buffered frames, then close 4008.
	_ = slowWS.SetReadDeadline(time.Now().Add(waitLimit))
	for {
		_, _, err := slowWS.ReadMessage()
		if err != nil {
			if !websocket.IsCloseError(err, protocol.CloseSlowConsumer) {
				t.Fatalf("stalled client ended with %v, want close 4008", err)
			}
			break
		}
	}
	eventually(t, "disconnects{slow_consumer} = 1", func() bool {
		return testutil.ToFloat64(e.s.m.disconnects.WithLabelValues(reasonSlow)) == 1
	})
}

// eventually polls cond every 10 ms until it holds or waitLimit passes: for state
// that has no event to wait on (a metric).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(waitLimit)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("not within %s: %s", waitLimit, what)
		}
	}
}

func TestPingTimeout(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.PingInterval = 100 * time.Millisecond; o.PongTimeout = 200 * time.Millisecond })
	// A client that answers pings (gorilla's default handler) stays up across many intervals.
	alive := e.connect("alice", protocol.RoleInterviewer)
	// A client that ignores pings is dropped.
	h := http.Header{"Authorization": {"Bearer " + e.token("bob", protocol.RoleCandidate)}}
	ws, _, err := e.dialRaw("/interview", h)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	pings := 0
	ws.SetPingHandler(func(string) error { pings++; return nil })
	_ = ws.SetReadDeadline(time.Now().Add(waitLimit))
	for {
		if _, _, err := ws.ReadMessage(); err != nil {
			break // the server closed the silent connection
		}
	}
	if pings == 0 {
		t.Fatal("no ping received")
	}
	alive.sync()
}

func TestShutdownClosesWith1001(t *testing.T) {
	e := newEnv(t, nil)
	a := e.connect("alice", protocol.RoleInterviewer)
	b := e.connect("bob", protocol.RoleCandidate)
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := e.s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*client{a, b} {
		if got := c.expectClose(); got != protocol.CloseGoingAway {
			t.Fatalf("close %d, want 1001", got)
		}
	}
	// New connections are refused.
	if _, resp, err := e.dialRaw("/interview", nil); err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("dial after shutdown: %v %v", resp, err)
	}
}

// TestServe runs the real listener path: Serve returns after ctx ends, clients see 1001.
func TestServe(t *testing.T) {
	e := newEnv(t, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.s.Serve(ctx, ln) }()
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+ln.Addr().String()+"/interview",
		http.Header{"Authorization": {"Bearer " + e.token("alice", protocol.RoleInterviewer)}})
	if err != nil {
		t.Fatal(err)
	}
	c := startClient(t, ws, nil)
	c.expect(protocol.EventConnectionSuccess)
	resp, err := http.Get("http://" + ln.Addr().String() + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz %v %v", resp, err)
	}
	resp.Body.Close()
	cancel()
	if got := c.expectClose(); got != protocol.CloseGoingAway {
		t.Fatalf("close %d", got)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(waitLimit):
		t.Fatal("Serve did not return")
	}
}

func TestHTTPEndpoints(t *testing.T) {
	var mu sync.Mutex
	ready := false
	e := newEnv(t, func(o *Options) {
		o.Ready = func() bool { mu.Lock(); defer mu.Unlock(); return ready }
		o.Static = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "demo") })
	})
	get := func(path, token string) (int, string) {
		req, _ := http.NewRequest("GET", e.hs.URL+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/healthz", ""); code != 200 {
		t.Fatalf("healthz %d", code)
	}
	if code, _ := get("/readyz", ""); code != 503 {
		t.Fatalf("readyz before ready %d", code)
	}
	mu.Lock()
	ready = true
	mu.Unlock()
	if code, _ := get("/readyz", ""); code != 200 {
		t.Fatalf("readyz %d", code)
	}
	if code, body := get("/", ""); code != 200 || body != "demo" {
		t.Fatalf("static %d %q", code, body)
	}

	alice := joined(t, e, "alice", protocol.RoleInterviewer, "s1")
	joined(t, e, "bob", protocol.RoleCandidate, "s1")
	alice.expect(protocol.EventUserJoined)
	if code, _ := get("/stats", ""); code != 401 {
		t.Fatalf("stats without token %d", code)
	}
	if code, _ := get("/stats", e.token("bob", protocol.RoleCandidate)); code != 403 {
		t.Fatalf("stats for a candidate %d", code)
	}
	code, body := get("/stats?token="+e.token("root", protocol.RoleAdmin), "")
	if code != 200 {
		t.Fatalf("stats %d %s", code, body)
	}
	var st Stats
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	if st.Sessions != 1 || st.Connections != 2 || st.Users != 2 || st.SessionsByStatus["waiting"] != 1 || st.EventsIn < 2 {
		t.Fatalf("stats %s", body)
	}

	// An event is counted right after it is queued, so the count can trail the
	// client's copy by a moment: poll.
	var missing string
	eventually(t, "metrics with every wanted line", func() bool {
		code, body = get("/metrics", "")
		if code != 200 {
			t.Fatalf("metrics %d", code)
		}
		for _, want := range []string{
			`earshot_gateway_connections{endpoint="native"} 2`,
			`earshot_gateway_sessions 1`,
			`earshot_gateway_events_in_total{event="session:join"} 2`,
			`earshot_gateway_events_out_total{event="session:joined"} 2`,
			`earshot_gateway_outbound_queue_bytes`,
			`earshot_gateway_disconnects_total{reason="slow_consumer"} 0`,
			`earshot_gateway_errors_total{code="UNAUTHORIZED"}`,
		} {
			if !strings.Contains(body, want) {
				if want != missing { // say so once per line, not on every poll
					t.Logf("metrics lack %q (yet):\n%s", want, body)
				}
				missing = want
				return false
			}
		}
		return true
	})
}

// fakePeers records WebRTC calls and answers through the owner's Emit.
type fakePeers struct {
	mu        sync.Mutex
	closed    []string
	stopped   []string
	finalized []string
}

func (p *fakePeers) Offer(_ context.Context, o PeerOwner, sdp string) (string, error) {
	if sdp == "bad" {
		return "", protocol.Errorf(protocol.CodeBadRequest, "fake: bad sdp")
	}
	o.Emit(protocol.EventWebRTCState, protocol.WebRTCState{SessionID: o.SessionID, State: "connecting"})
	return "answer-to-" + sdp + "-for-" + o.UserID + "-" + o.Pipeline, nil
}

func (p *fakePeers) AddCandidate(context.Context, PeerOwner, protocol.ICECandidate) error { return nil }

// StopAudio makes fakePeers an AudioStopper: alice has a WebRTC stream in s1 only.
func (p *fakePeers) StopAudio(_ context.Context, o PeerOwner) (bool, error) {
	if o.UserID != "alice" || o.SessionID != "s1" {
		return false, nil
	}
	p.mu.Lock()
	p.stopped = append(p.stopped, o.SessionID+"/"+o.UserID)
	p.mu.Unlock()
	return true, nil
}

// FinalizeAudio makes fakePeers an AudioFinalizer, with the same stream as StopAudio.
func (p *fakePeers) FinalizeAudio(_ context.Context, o PeerOwner) (bool, error) {
	if o.UserID != "alice" || o.SessionID != "s1" {
		return false, nil
	}
	p.mu.Lock()
	p.finalized = append(p.finalized, o.SessionID+"/"+o.UserID)
	p.mu.Unlock()
	return true, nil
}

func (p *fakePeers) Close(o PeerOwner) error {
	p.mu.Lock()
	p.closed = append(p.closed, o.SessionID+"/"+o.UserID)
	p.mu.Unlock()
	return nil
}

func TestWebRTCDelegation(t *testing.T) {
	peers := &fakePeers{}
	e := newEnv(t, func(o *Options) { o.Peers = peers })
	alice := joined(t, e, "alice", protocol.RoleInterviewer, "s1")
	id := alice.request(protocol.EventWebRTCOffer, map[string]string{"sessionId": "s1", "sdp": "offer"})
	alice.expect(protocol.EventWebRTCState)
	a := decodeInto[protocol.WebRTCOffer](t, alice.expect(protocol.EventWebRTCAnswer).Data)
	if a.SDP != "answer-to-offer-for-alice-interview" || a.SessionID != "s1" {
		t.Fatalf("answer %+v", a)
	}
	alice.expectAck(id)
	alice.send(protocol.EventWebRTCOffer, map[string]string{"sessionId": "s1", "sdp": "bad"})
	alice.expectErr(protocol.EventWebRTCError, protocol.CodeBadRequest)
	id = alice.request(protocol.EventWebRTCCandidate, map[string]any{"sessionId": "s1", "candidate": map[string]any{"candidate": "candidate:1 1 udp 1 127.0.0.1 5000 typ host", "sdpMid": "0", "sdpMLineIndex": 0}})
	alice.expectAck(id)
	// audio:finalize and audio:stop with no WebSocket stream go to the WebRTC stream;
	// bob has none.
	id = alice.request(protocol.EventAudioFinalize, map[string]string{"sessionId": "s1"})
	alice.expectAck(id)
	id = alice.request(protocol.EventAudioStop, map[string]string{"sessionId": "s1"})
	alice.expectAck(id)
	bob := joined(t, e, "bob", protocol.RoleCandidate, "s1")
	alice.expect(protocol.EventUserJoined)
	bob.send(protocol.EventAudioStop, map[string]string{"sessionId": "s1"})
	bob.expectErr(protocol.EventAudioError, protocol.CodeNoStream)
	bob.send(protocol.EventAudioFinalize, map[string]string{"sessionId": "s1"})
	bob.expectErr(protocol.EventAudioError, protocol.CodeNoStream)
	id = alice.request(protocol.EventWebRTCClose, map[string]string{"sessionId": "s1"})
	alice.expectAck(id)
	alice.send(protocol.EventSessionLeave, map[string]string{"sessionId": "s1"})
	alice.expect(protocol.EventSessionLeft)
	peers.mu.Lock()
	defer peers.mu.Unlock()
	if len(peers.closed) != 2 {
		t.Fatalf("Peers.Close calls %v (webrtc:close and leave)", peers.closed)
	}
	if len(peers.stopped) != 1 || peers.stopped[0] != "s1/alice" {
		t.Fatalf("StopAudio calls %v", peers.stopped)
	}
	if len(peers.finalized) != 1 || peers.finalized[0] != "s1/alice" {
		t.Fatalf("FinalizeAudio calls %v", peers.finalized)
	}
}
