package signaling

import (
	"context"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/earshot-dev/earshot/signaling/protocol"
)

// onlyConn returns the server side of the single connection of e.
func onlyConn(t *testing.T, e *env) *conn {
	t.Helper()
	var c *conn
	eventually(t, "one server connection", func() bool {
		e.s.mu.Lock()
		defer e.s.mu.Unlock()
		for sc := range e.s.conns {
			c = sc
		}
		return len(e.s.conns) == 1
	})
	return c
}

// queuedPongs counts the Engine.IO pongs waiting in c's outbound queue.
func queuedPongs(c *conn) (pongs, items, qbytes int, closing bool) {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	for _, it := range c.items {
		if string(it.data) == "3" {
			pongs++
		}
	}
	return pongs, len(c.items), c.qbytes, c.closing
}

// TestSocketIOPingFloodBounded: a Socket.IO client that floods Engine.IO pings
// without reading, before and after authenticating, leaves at most one pong queued
// and is neither closed nor able to grow the queue; other connections keep working.
func TestSocketIOPingFloodBounded(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.AuthTimeout = 4 * waitLimit; o.WriteTimeout = 4 * waitLimit })
	// Small socket buffers on both sides so the server's writer stalls early on a
	// client that does not read.
	d := websocket.Dialer{HandshakeTimeout: waitLimit, NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		var nd net.Dialer
		nc, err := nd.DialContext(ctx, network, addr)
		if tc, ok := nc.(*net.TCPConn); ok {
			_ = tc.SetReadBuffer(64 << 10)
		}
		return nc, err
	}}
	ws, _, err := d.Dial(e.url+sioPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	sc := onlyConn(t, e)
	_ = sc.ws.NetConn().(*net.TCPConn).SetWriteBuffer(4096)

	const flood = 30000
	ping := func() {
		for range flood {
			_ = ws.SetWriteDeadline(time.Now().Add(waitLimit))
			if err := ws.WriteMessage(websocket.TextMessage, []byte("2")); err != nil {
				t.Fatalf("ping: %v", err)
			}
		}
	}
	check := func(when string) {
		t.Helper()
		pongs, items, qbytes, closing := queuedPongs(sc)
		t.Logf("%s: %d pongs among %d queued frames, %d bytes accounted", when, pongs, items, qbytes)
		if closing {
			t.Fatalf("%s: the connection is closing", when)
		}
		if pongs > 1 {
			t.Fatalf("%s: %d pongs queued for %d pings, want at most 1", when, pongs, flood)
		}
		if qbytes > e.s.opts.OutboundQueueBytes {
			t.Fatalf("%s: %d bytes queued, limit %d", when, qbytes, e.s.opts.OutboundQueueBytes)
		}
	}

	// Before authentication; the CONNECT that follows the pings tells when they were read.
	ping()
	if err := ws.WriteMessage(websocket.TextMessage, []byte(`40/interview,{"token":"`+e.token("alice", protocol.RoleInterviewer)+`"}`)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "authenticated", sc.authed.Load)
	check("before auth")

	// After authentication, with the writer certainly stalled: frames published to a
	// session fill the socket buffers and then the queue.
	joinedTo := func(id string) func() bool {
		return func() bool {
			sc.mu.Lock()
			defer sc.mu.Unlock()
			_, ok := sc.sessions[id]
			return ok
		}
	}
	_ = ws.WriteMessage(websocket.TextMessage, []byte(`42/interview,["session:join",{"sessionId":"s1"}]`))
	eventually(t, "joined s1", joinedTo("s1"))
	big := map[string]string{"sessionId": "s1", "text": strings.Repeat("y", 32<<10)}
	for i := 0; ; i++ {
		if _, _, qbytes, _ := queuedPongs(sc); qbytes >= 256<<10 {
			break
		}
		if i == 64 {
			t.Fatal("the writer did not stall")
		}
		e.s.Publish("s1", protocol.EventTranscriptionResult, big, nil, "")
	}
	// The join that follows the pings tells when they were read.
	ping()
	_ = ws.WriteMessage(websocket.TextMessage, []byte(`42/interview,["session:join",{"sessionId":"s2"}]`))
	eventually(t, "joined s2", joinedTo("s2"))
	check("after auth")

	// Another connection is served meanwhile.
	bob := joined(t, e, "bob", protocol.RoleCandidate, "s3")
	bob.sync()

	// The flooder reads again: what was queued arrives, and it is still served.
	c := startClient(t, ws, sioDecode(t))
	c.waitFor(protocol.EventConnectionSuccess)
	c.waitFor(protocol.EventSessionJoined)
	c.waitFor(protocol.EventSessionJoined)
	c.sioSend(`42/interview,["session:status",{"sessionId":"s2","status":"active"}]`)
	c.waitFor(protocol.EventSessionStatusUpdated)
}

// TestPreAuthReadLimit: before authentication a frame over 16 KiB cannot carry an
// acceptable token: it is refused as UNAUTHORIZED (4001) on both endpoints, without
// the server keeping more than 16 KiB of it; a frame over MaxMessageSize is 1009 as
// always. Once authenticated, frames up to MaxMessageSize are taken.
func TestPreAuthReadLimit(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.MaxMessageSize = 256 << 10 })
	pad := strings.Repeat("x", 20<<10)
	send := func(c *client, frame string) {
		t.Helper()
		_ = c.ws.SetWriteDeadline(time.Now().Add(waitLimit))
		_ = c.ws.WriteMessage(websocket.TextMessage, []byte(frame)) // may fail once the server closed
	}
	closes := func(c *client, want int) {
		t.Helper()
		if got := c.expectClose(); got != want {
			t.Fatalf("close %d, want %d", got, want)
		}
	}

	// Native, auth frame: refused by size before its token is looked at.
	c := e.dial("/interview", nil)
	send(c, `{"event":"auth","data":{"token":"`+e.token("alice", protocol.RoleInterviewer)+`"},"pad":"`+pad+`"}`)
	if perr := c.expectErr(protocol.EventConnectionError, protocol.CodeUnauthorized); !strings.Contains(perr.Message, "too large") {
		t.Fatalf("message %q", perr.Message)
	}
	closes(c, protocol.CloseUnauthorized)
	// Socket.IO, CONNECT.
	s := e.sioDial(nil)
	send(s, `40/interview,{"token":"`+e.token("alice", protocol.RoleInterviewer)+`","pad":"`+pad+`"}`)
	if f := s.expect("sio:connect_error"); !strings.Contains(string(f.Data), `"UNAUTHORIZED"`) {
		t.Fatalf("connect_error %s", f.raw)
	}
	closes(s, protocol.CloseUnauthorized)
	// Over MaxMessageSize: 1009 on both.
	huge := strings.Repeat("x", 300<<10)
	c = e.dial("/interview", nil)
	send(c, `{"event":"auth","pad":"`+huge+`"}`)
	closes(c, websocket.CloseMessageTooBig)
	s = e.sioDial(nil)
	send(s, `40/interview,{"pad":"`+huge+`"}`)
	closes(s, websocket.CloseMessageTooBig)
	eventually(t, "disconnects{unauthorized} = 2, {message_too_big} = 2", func() bool {
		return testutil.ToFloat64(e.s.m.disconnects.WithLabelValues(reasonUnauthorized)) == 2 &&
			testutil.ToFloat64(e.s.m.disconnects.WithLabelValues(reasonTooBig)) == 2
	})

	bigJoin := `{"event":"session:join","data":{"sessionId":"s1"},"pad":"` + pad + `"}`
	// Native, token in the header.
	a := e.connect("alice", protocol.RoleInterviewer)
	a.sendRaw([]byte(bigJoin))
	a.expect(protocol.EventSessionJoined)
	// Native, auth frame.
	b := e.dial("/interview", nil)
	b.send(protocol.EventAuth, map[string]string{"token": e.token("bob", protocol.RoleCandidate)})
	b.expect(protocol.EventConnectionSuccess)
	b.sendRaw([]byte(bigJoin))
	b.expect(protocol.EventSessionJoined)
	// Socket.IO.
	c = e.sioDial(nil)
	c.sioSend(`40/interview,{"token":"` + e.token("carol", protocol.RoleCandidate) + `"}`)
	c.expect("sio:connect")
	c.expect(protocol.EventConnectionSuccess)
	c.sioSend(`42/interview,["session:join",{"sessionId":"s1","pad":"` + pad + `"}]`)
	c.waitFor(protocol.EventSessionJoined)
}

// blockingPeers holds every offer until released (or its context ends) and then, as
// the real manager does, creates the peer unless the context ended; a created peer's
// audio is "transcribed" into the session at once.
type blockingPeers struct {
	pub     publisher
	entered chan struct{}
	release chan struct{}

	mu   sync.Mutex
	open map[string]bool
}

func (p *blockingPeers) Offer(ctx context.Context, o PeerOwner, _ string) (string, error) {
	p.entered <- struct{}{}
	select {
	case <-p.release:
	case <-ctx.Done():
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	p.mu.Lock()
	p.open[o.SessionID+"/"+o.UserID] = true
	p.mu.Unlock()
	p.pub.Publish(o.SessionID, protocol.EventTranscriptionResult, protocol.TranscriptionResult{
		SessionID: o.SessionID, StreamID: "webrtc", UserID: o.UserID, Text: "after leave", IsFinal: true, Words: []protocol.Word{}}, nil, "")
	return "answer", nil
}

func (p *blockingPeers) AddCandidate(context.Context, PeerOwner, protocol.ICECandidate) error {
	return nil
}

func (p *blockingPeers) Close(o PeerOwner) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	k := o.SessionID + "/" + o.UserID
	if !p.open[k] {
		return protocol.Errorf("NO_PEER", "no peer")
	}
	delete(p.open, k)
	return nil
}

func (p *blockingPeers) openPeers() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for k := range p.open {
		out = append(out, k)
	}
	return out
}

// blockingMedia holds every clip until released (or its context ends).
type blockingMedia struct {
	*fakeMedia
	entered chan struct{}
	release chan struct{}
}

func (m *blockingMedia) TranscribeClip(ctx context.Context, spec protocol.StreamSpec, audio []byte, requestID string) error {
	m.entered <- struct{}{}
	select {
	case <-m.release:
	case <-ctx.Done():
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return m.fakeMedia.TranscribeClip(ctx, spec, audio, requestID)
}

// TestLeaveEndsPendingCalls: a webrtc:offer or transcription:request still running
// when its sender leaves the session publishes nothing to the session afterwards, is
// refused with NOT_JOINED, and leaves no peer connection open.
func TestLeaveEndsPendingCalls(t *testing.T) {
	for _, kind := range []string{"offer", "clip"} {
		t.Run(kind, func(t *testing.T) {
			entered, release := make(chan struct{}, 1), make(chan struct{})
			peers := &blockingPeers{entered: entered, release: release, open: map[string]bool{}}
			media := &blockingMedia{fakeMedia: newFakeMedia(), entered: entered, release: release}
			e := newEnv(t, func(o *Options) { o.Peers = peers; o.Media = media })
			peers.pub, media.pub = e.s, e.s
			alice := joined(t, e, "alice", protocol.RoleInterviewer, "s1")
			bob := joined(t, e, "bob", protocol.RoleCandidate, "s1")
			alice.expect(protocol.EventUserJoined)

			var id int64
			if kind == "offer" {
				id = alice.request(protocol.EventWebRTCOffer, map[string]string{"sessionId": "s1", "sdp": "offer"})
			} else {
				id = alice.request(protocol.EventTranscriptionRequest, map[string]string{"sessionId": "s1",
					"audioData": base64.StdEncoding.EncodeToString([]byte("abc")), "format": "webm", "requestId": "r1"})
			}
			select {
			case <-entered:
			case <-time.After(waitLimit):
				t.Fatal("the call did not start")
			}
			alice.send(protocol.EventSessionLeave, map[string]string{"sessionId": "s1"})
			// Release the call once the leave is answered; then wait for its ack.
			var ack *frame
			left, released := false, false
			for ack == nil || !left {
				if left && !released {
					close(release)
					released = true
				}
				f := alice.next()
				switch {
				case f.Event == protocol.EventSessionLeft:
					left = true
				case f.Event == protocol.EventAck && f.ID != nil && *f.ID == id:
					ack = &f
				}
			}
			if !released {
				close(release)
			}
			bob.expect(protocol.EventUserLeft)
			bob.sync() // fails on a transcription:result published after the leave
			if open := peers.openPeers(); len(open) != 0 {
				t.Fatalf("peer connections left open: %v", open)
			}
			if ack.Error == nil || ack.Error.Code != protocol.CodeNotJoined {
				t.Fatalf("ack of the %s after leaving: %s, want NOT_JOINED", kind, ack.raw)
			}
		})
	}
}

// TestBinaryAfterSessionEnded: binary audio is refused with SESSION_ENDED once the
// session has ended, as audio:stream is.
func TestBinaryAfterSessionEnded(t *testing.T) {
	e := newEnv(t, nil)
	alice := joined(t, e, "alice", protocol.RoleInterviewer, "s1")
	alice.send(protocol.EventAudioStart, map[string]any{"sessionId": "s1", "format": "webm"})
	st := decodeInto[protocol.AudioStarted](t, alice.expect(protocol.EventAudioStarted).Data)
	alice.sendBinary([]byte("abc"))
	alice.sync()
	alice.send(protocol.EventSessionStatus, map[string]string{"sessionId": "s1", "status": protocol.StatusEnded})
	alice.expect(protocol.EventSessionStatusUpdated)
	alice.sendBinary([]byte("def"))
	if perr := alice.expectErr(protocol.EventAudioError, protocol.CodeSessionEnded); perr.SessionID != "s1" {
		t.Fatalf("sessionId %q", perr.SessionID)
	}
	if got := string(e.media.bytesOf(st.StreamID)); got != "abc" {
		t.Fatalf("stream got %q, want abc", got)
	}
}

// TestRefusedPeerIgnoringClose: a refused connection whose peer never answers the
// close frame is dropped about closeGrace after the close (well within waitLimit).
func TestRefusedPeerIgnoringClose(t *testing.T) {
	e := newEnv(t, nil)
	ws, _, err := e.dialRaw("/interview", http.Header{"Authorization": {"Bearer not-a-token"}})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	ws.SetCloseHandler(func(int, string) error { return nil }) // never answer the close
	_ = ws.SetReadDeadline(time.Now().Add(waitLimit))
	for {
		_, _, err := ws.ReadMessage()
		if err == nil {
			continue
		}
		if !websocket.IsCloseError(err, protocol.CloseUnauthorized) {
			t.Fatalf("read: %v, want close 4001", err)
		}
		break
	}
	// The server must drop the socket on its own.
	nc := ws.NetConn()
	_ = nc.SetReadDeadline(time.Now().Add(waitLimit))
	buf := make([]byte, 64)
	for {
		if _, err := nc.Read(buf); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("the server kept the refused connection open for %s after its close", waitLimit)
			}
			return
		}
	}
}

// TestAudioChunksHaveTheirOwnBudget: audio chunks (binary frames and audio:stream)
// are limited by AudioChunkRate, not by the event rate, so a client streaming
// 20 ms frames keeps its event budget for control events; chunks over their own
// budget get RATE_LIMITED.
func TestAudioChunksHaveTheirOwnBudget(t *testing.T) {
	e := newEnv(t, func(o *Options) {
		o.EventRate, o.EventBurst = 0.001, 5
		o.AudioChunkRate, o.AudioChunkBurst = 0.001, 30
	})
	alice := joined(t, e, "alice", protocol.RoleInterviewer, "s1") // event 1
	id := alice.request(protocol.EventAudioStart, map[string]any{"sessionId": "s1", "format": "pcm16", "sampleRate": 16000, "channels": 1})
	alice.expect(protocol.EventAudioStarted) // event 2
	alice.expectAck(id)
	b64 := base64.StdEncoding.EncodeToString([]byte("xy"))
	for i := range 30 { // the whole audio budget, far beyond the event budget
		if i%2 == 0 {
			alice.sendBinary([]byte("ab"))
		} else {
			alice.send(protocol.EventAudioStream, map[string]any{"sessionId": "s1", "format": "pcm16", "sampleRate": 16000, "channels": 1, "audioData": b64})
		}
	}
	// Control events still pass (events 3 and 4)...
	alice.send(protocol.EventSessionStatus, map[string]string{"sessionId": "s1", "status": "active"})
	alice.expect(protocol.EventSessionStatusUpdated)
	// ...and the 31st chunk is over the audio budget.
	alice.sendBinary([]byte("ab"))
	if perr := alice.expectErr(protocol.EventAudioError, protocol.CodeRateLimited); !strings.Contains(perr.Message, "audio chunks") {
		t.Fatalf("message %q", perr.Message)
	}
	id = alice.request(protocol.EventAudioStop, map[string]string{"sessionId": "s1"})
	if r := decodeInto[protocol.TranscriptionResult](t, alice.expect(protocol.EventTranscriptionResult).Data); len(r.Text) != 60 {
		t.Fatalf("stream got %d bytes, want the 30 chunks' 60", len(r.Text))
	}
	alice.expectAck(id)
}
