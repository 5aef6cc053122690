package signaling

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/earshot-dev/earshot/signaling/auth"
	"github.com/earshot-dev/earshot/signaling/protocol"
	"github.com/earshot-dev/earshot/signaling/socketio"
)

// sioDecode turns server frames into test frames: Engine.IO control packets become
// "eio:<type>", Socket.IO packets "sio:connect", "sio:connect_error",
// "sio:disconnect", events their name, acks "ack".
func sioDecode(t testing.TB) func([]byte) []frame {
	return func(b []byte) []frame {
		typ, data, err := socketio.ParseEngine(b)
		if err != nil {
			t.Errorf("server sent a bad Engine.IO frame %q: %v", b, err)
			return nil
		}
		if typ != socketio.EngineMessage {
			return []frame{{Event: "eio:" + typ.String(), Data: json.RawMessage(data), raw: b}}
		}
		p, err := socketio.Decode(data)
		if err != nil {
			t.Errorf("server sent a bad Socket.IO packet %q: %v", b, err)
			return nil
		}
		if p.Namespace != Namespace && p.Type != socketio.ConnectError {
			t.Errorf("packet outside %s: %q", Namespace, b)
		}
		f := frame{Data: p.Data, raw: b}
		switch p.Type {
		case socketio.Connect:
			f.Event = "sio:connect"
		case socketio.ConnectError:
			f.Event = "sio:connect_error"
		case socketio.Disconnect:
			f.Event = "sio:disconnect"
		case socketio.Event:
			name, args, err := socketio.EventArgs(p.Data)
			if err != nil || len(args) != 1 {
				t.Errorf("event %q: %v", b, err)
			}
			f.Event = name
			if len(args) > 0 {
				f.Data = args[0]
			}
		case socketio.Ack:
			f.Event = protocol.EventAck
			id := int64(*p.ID)
			f.ID = &id
			var args []json.RawMessage
			if err := json.Unmarshal(p.Data, &args); err != nil || len(args) != 1 {
				t.Errorf("ack %q", b)
			}
			var e struct{ Error *protocol.Error }
			if json.Unmarshal(args[0], &e) == nil && e.Error != nil {
				f.Error = e.Error
			} else {
				f.Data = args[0]
			}
		default:
			t.Errorf("unexpected packet %q", b)
		}
		return []frame{f}
	}
}

const sioPath = "/socket.io/?EIO=4&transport=websocket"

// sioDial opens the Engine.IO connection and checks the open packet.
func (e *env) sioDial(h http.Header) *client {
	e.t.Helper()
	ws, _, err := e.dialRaw(sioPath, h)
	if err != nil {
		e.t.Fatal(err)
	}
	c := startClient(e.t, ws, sioDecode(e.t))
	f := c.expect("eio:open")
	var open struct {
		SID          string   `json:"sid"`
		Upgrades     []string `json:"upgrades"`
		PingInterval int      `json:"pingInterval"`
		PingTimeout  int      `json:"pingTimeout"`
		MaxPayload   int      `json:"maxPayload"`
	}
	if err := json.Unmarshal(f.Data, &open); err != nil || open.SID == "" || open.Upgrades == nil || len(open.Upgrades) != 0 || open.MaxPayload == 0 {
		e.t.Fatalf("open packet %s", f.raw)
	}
	return c
}

func (c *client) sioSend(s string) { c.sendRaw([]byte(s)) }

func TestSocketIOConnectAndEvents(t *testing.T) {
	e := newEnv(t, nil)
	// Pings as Engine.IO frames: pingInterval and pingTimeout come from Options.
	c := e.sioDial(nil)
	c.sioSend(`40/interview,{"token":"` + e.token("alice", protocol.RoleInterviewer) + `"}`)
	f := c.expect("sio:connect")
	var ok struct{ SID string }
	if json.Unmarshal(f.Data, &ok); ok.SID == "" {
		t.Fatalf("connect %s", f.raw)
	}
	cs := decodeInto[protocol.ConnectionSuccess](t, c.expect(protocol.EventConnectionSuccess).Data)
	if cs.UserID != "alice" || cs.ConnectionID != ok.SID {
		t.Fatalf("connection:success %+v", cs)
	}

	// A native client in the same session sees the Socket.IO client's events.
	bob := e.connect("bob", protocol.RoleCandidate)
	bob.send(protocol.EventSessionJoin, map[string]string{"sessionId": "s1"})
	bob.expect(protocol.EventSessionJoined)

	// Emit with an ack.
	c.sioSend(`42/interview,1["session:join",{"sessionId":"s1"}]`)
	j := decodeInto[protocol.SessionJoined](t, c.expect(protocol.EventSessionJoined).Data)
	if len(j.Users) != 2 {
		t.Fatalf("joined %+v", j)
	}
	if ack := c.expectAck(1); decodeInto[protocol.SessionJoined](t, ack.Data).SessionID != "s1" {
		t.Fatalf("ack %s", ack.raw)
	}
	bob.expect(protocol.EventUserJoined)
	// Without an ack.
	c.sioSend(`42/interview,["session:status",{"sessionId":"s1","status":"active"}]`)
	c.expect(protocol.EventSessionStatusUpdated)
	bob.expect(protocol.EventSessionStatusUpdated)
	// A refused ack.
	c.sioSend(`42/interview,2["session:leave",{"sessionId":"nope"}]`)
	c.expectErr(protocol.EventSessionError, protocol.CodeNotJoined)
	if ack := c.expectAck(2); ack.Error == nil || ack.Error.Code != protocol.CodeNotJoined {
		t.Fatalf("ack %s", ack.raw)
	}
	// Unknown events and malformed packets get coded errors; the connection stays.
	c.sioSend(`42/interview,["what:ever",{}]`)
	c.expectErr(protocol.EventError, protocol.CodeUnknownEvent)
	c.sioSend(`42/interview,[1,2]`)
	c.expectErr(protocol.EventError, protocol.CodeBadRequest)
	c.sioSend(`9`)
	c.expectErr(protocol.EventError, protocol.CodeBadRequest)

	// Binary attachment: audio:stream with the audio as attachment 0.
	c.sioSend(`451-/interview,3["audio:stream",{"sessionId":"s1","format":"pcm16","sampleRate":16000,"channels":1,"audioData":{"_placeholder":true,"num":0}}]`)
	if err := c.ws.WriteMessage(websocket.BinaryMessage, []byte("opus-bytes")); err != nil {
		t.Fatal(err)
	}
	c.expectAck(3)
	c.sioSend(`42/interview,4["audio:stop",{"sessionId":"s1"}]`)
	r := decodeInto[protocol.TranscriptionResult](t, c.expect(protocol.EventTranscriptionResult).Data)
	if r.Text != "opus-bytes" {
		t.Fatalf("attachment bytes %q", r.Text)
	}
	c.expectAck(4)
	if r := decodeInto[protocol.TranscriptionResult](t, bob.expect(protocol.EventTranscriptionResult).Data); r.UserID != "alice" {
		t.Fatalf("bob got %+v", r)
	}

	// Engine.IO close ends the connection with a close frame; bob hears it.
	c.sioSend(`1`)
	if ud := decodeInto[protocol.UserDisconnected](t, bob.expect(protocol.EventUserDisconnected).Data); ud.UserID != "alice" || ud.Reason != "client_closed" {
		t.Fatalf("%+v", ud)
	}
	if got := c.expectClose(); got != websocket.CloseNormalClosure {
		t.Fatalf("close %d after Engine.IO close, want 1000", got)
	}
	// So does a DISCONNECT of /interview.
	d := e.sioDial(nil)
	d.sioSend(`40/interview,{"token":"` + e.token("dave", protocol.RoleCandidate) + `"}`)
	d.expect("sio:connect")
	d.sioSend(`41/interview,`)
	if got := d.expectClose(); got != websocket.CloseNormalClosure {
		t.Fatalf("close %d after DISCONNECT, want 1000", got)
	}
}

// TestSocketIORefusedPacketsAnswered: a malformed or refused packet whose ack id
// was read gets a refused ack besides the error event, so that a client's
// emitWithAck does not wait for nothing; attachments of packets the server does
// not handle are consumed with them.
func TestSocketIORefusedPacketsAnswered(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.MaxMessageSize = 4096 })
	c := e.sioDial(nil)
	c.sioSend(`40/interview,{"token":"` + e.token("alice", protocol.RoleInterviewer) + `"}`)
	c.expect("sio:connect")
	c.expect(protocol.EventConnectionSuccess)
	refused := func(id int64) {
		t.Helper()
		c.expectErr(protocol.EventError, protocol.CodeBadRequest)
		if ack := c.expectAck(id); ack.Error == nil || ack.Error.Code != protocol.CodeBadRequest {
			t.Fatalf("ack %s", ack.raw)
		}
	}
	bin := func(n int) {
		t.Helper()
		if err := c.ws.WriteMessage(websocket.BinaryMessage, make([]byte, n)); err != nil {
			t.Fatal(err)
		}
	}
	// No event name.
	c.sioSend(`42/interview,5[1,{}]`)
	refused(5)
	// Attachments over the limit.
	c.sioSend(`452-/interview,6["audio:stream",{"sessionId":"s1","audioData":{"_placeholder":true,"num":0},"x":{"_placeholder":true,"num":1}}]`)
	bin(3000)
	bin(3000)
	refused(6)
	// A placeholder outside the attachments.
	c.sioSend(`451-/interview,7["audio:stream",{"audioData":{"_placeholder":true,"num":3}}]`)
	refused(7)
	// A text packet while attachments are pending: the pending packet is refused,
	// the text packet is handled.
	c.sioSend(`451-/interview,8["audio:stream",{"sessionId":"s1","audioData":{"_placeholder":true,"num":0}}]`)
	c.sioSend(`42/interview,9["session:join",{"sessionId":"s1"}]`)
	refused(8)
	c.expect(protocol.EventSessionJoined)
	c.expectAck(9)
	// An ack id JavaScript cannot hold: refused unanswered, not run.
	c.sioSend(`42/interview,9007199254740992["session:leave",{"sessionId":"s1"}]`)
	c.expectErr(protocol.EventError, protocol.CodeBadRequest)
	// Another namespace: an error, no ack (its id is that namespace's).
	c.sioSend(`42/other,10["session:leave",{"sessionId":"s1"}]`)
	if perr := c.expectErr(protocol.EventError, protocol.CodeBadRequest); !strings.Contains(perr.Message, "/other") {
		t.Fatalf("message %q", perr.Message)
	}
	// A client's BINARY_ACK and another namespace's binary event take their
	// attachments with them: the next binary frame is not stray.
	c.sioSend(`461-/interview,3[{"_placeholder":true,"num":0}]`)
	bin(10)
	c.sioSend(`451-/other,["audio:stream",{"audioData":{"_placeholder":true,"num":0}}]`)
	c.expectErr(protocol.EventError, protocol.CodeBadRequest) // the namespace, once
	bin(10)
	// Still serving, and nothing else was said: still joined to s1, and the
	// next answer is this one.
	c.sioSend(`42/interview,11["session:leave",{"sessionId":"s1"}]`)
	c.expect(protocol.EventSessionLeft)
	c.expectAck(11)
}

func TestSocketIOAuth(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.AuthTimeout = 300 * time.Millisecond })
	t.Run("header token", func(t *testing.T) {
		e := e.in(t)
		c := e.sioDial(http.Header{"Authorization": {"Bearer " + e.token("alice", protocol.RoleCandidate)}})
		c.sioSend(`40/interview,`)
		c.expect("sio:connect")
		c.expect(protocol.EventConnectionSuccess)
	})
	t.Run("query token", func(t *testing.T) {
		e := e.in(t)
		ws, _, err := e.dialRaw(sioPath+"&token="+e.token("alice", protocol.RoleCandidate), nil)
		if err != nil {
			t.Fatal(err)
		}
		c := startClient(t, ws, sioDecode(t))
		c.expect("eio:open")
		c.sioSend(`40/interview,{}`)
		c.expect("sio:connect")
	})
	refusals := []struct{ name, connect, code string }{
		{"no token", `40/interview,{}`, protocol.CodeUnauthorized},
		{"bad token", `40/interview,{"token":"x.y.z"}`, protocol.CodeUnauthorized},
		{"expired", `40/interview,{"token":"` + signHS(t, testSecret, mapWith(baseClaims(), "exp", time.Now().Add(-time.Hour).Unix())) + `"}`, protocol.CodeTokenExpired},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			e := e.in(t)
			c := e.sioDial(nil)
			c.sioSend(tc.connect)
			f := c.expect("sio:connect_error")
			var ce struct {
				Message string
				Data    struct{ Code string }
			}
			if err := json.Unmarshal(f.Data, &ce); err != nil || ce.Message == "" || ce.Data.Code != tc.code {
				t.Fatalf("connect_error %s, want code %s", f.raw, tc.code)
			}
			want := protocol.CloseUnauthorized
			if tc.code == protocol.CodeTokenExpired {
				want = protocol.CloseTokenExpired
			}
			if got := c.expectClose(); got != want {
				t.Fatalf("close %d, want %d", got, want)
			}
		})
	}
	t.Run("wrong namespace first", func(t *testing.T) {
		e := e.in(t)
		c := e.sioDial(nil)
		c.sioSend(`40`)
		f := c.next()
		if !strings.HasPrefix(string(f.raw), `44{"message":"Invalid namespace"`) {
			t.Fatalf("got %q", f.raw)
		}
		c.sioSend(`40/interview,{"token":"` + e.token("alice", protocol.RoleCandidate) + `"}`)
		c.expect("sio:connect")
	})
	t.Run("no connect", func(t *testing.T) {
		e := e.in(t)
		c := e.sioDial(nil)
		f := c.expect("sio:connect_error")
		var ce struct{ Data struct{ Code string } }
		if err := json.Unmarshal(f.Data, &ce); err != nil || ce.Data.Code != protocol.CodeUnauthorized {
			t.Fatalf("connect_error %s, want code %s", f.raw, protocol.CodeUnauthorized)
		}
		if got := c.expectClose(); got != protocol.CloseUnauthorized {
			t.Fatalf("close %d, want %d", got, protocol.CloseUnauthorized)
		}
	})
}

func mapWith(m map[string]any, k string, v any) map[string]any {
	m[k] = v
	return m
}

func TestSocketIOHandshakeRefusals(t *testing.T) {
	e := newEnv(t, nil)
	for _, tc := range []struct{ query, body string }{
		{"EIO=4&transport=polling", `{"code":0,"message":"Transport unknown"}`},
		{"EIO=3&transport=websocket", `{"code":5,"message":"Unsupported protocol version"}`},
		{"EIO=4&transport=websocket&sid=abc", `{"code":1,"message":"Session ID unknown"}`},
	} {
		resp, err := http.Get(e.hs.URL + "/socket.io/?" + tc.query)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || string(b) != tc.body {
			t.Fatalf("%s: %d %s", tc.query, resp.StatusCode, b)
		}
	}
}

func TestSocketIOHeartbeatAndShutdown(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.PingInterval = 100 * time.Millisecond; o.PongTimeout = 300 * time.Millisecond })
	c := e.sioDial(nil)
	c.sioSend(`40/interview,{"token":"` + e.token("alice", protocol.RoleCandidate) + `"}`)
	c.expect("sio:connect")
	c.expect(protocol.EventConnectionSuccess)
	// Answer a few pings: the connection outlives several ping timeouts.
	for range 5 {
		c.expect("eio:ping")
		c.sioSend(`3`)
	}
	// Shutdown: close 1001 and no DISCONNECT packet, after which socket.io-client
	// would not reconnect.
	if err := e.s.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	for f := range c.frames {
		if f.Event == "sio:disconnect" {
			t.Fatalf("DISCONNECT before the close: %s", f.raw)
		}
	}
	if got := c.expectClose(); got != protocol.CloseGoingAway {
		t.Fatalf("close %d", got)
	}
}

func TestSocketIOPongTimeout(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.PingInterval = 100 * time.Millisecond; o.PongTimeout = 300 * time.Millisecond })
	// A client that stops answering pings is closed.
	silent := e.sioDial(nil)
	silent.sioSend(`40/interview,{"token":"` + e.token("bob", protocol.RoleCandidate) + `"}`)
	silent.expect("sio:connect")
	deadline := time.After(waitLimit)
wait:
	for {
		select {
		case _, ok := <-silent.frames:
			if !ok {
				break wait
			}
		case <-deadline:
			t.Fatal("silent Socket.IO client not closed")
		}
	}
}

// TestSocketIOTokenExpiry: connection:error TOKEN_EXPIRED, DISCONNECT, close 4002.
func TestSocketIOTokenExpiry(t *testing.T) {
	e := newEnv(t, nil)
	tok, err := auth.Mint(testSecret, auth.Claims{Subject: "alice", Role: protocol.RoleCandidate}, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c := e.sioDial(nil)
	c.sioSend(`40/interview,{"token":"` + tok + `"}`)
	c.expect("sio:connect")
	c.expect(protocol.EventConnectionSuccess)
	f := c.waitFor(protocol.EventConnectionError) // heartbeat frames may come first
	if pe := decodeInto[protocol.Error](t, f.Data); pe.Code != protocol.CodeTokenExpired {
		t.Fatalf("connection:error %s", f.Data)
	}
	c.expect("sio:disconnect")
	if got := c.expectClose(); got != protocol.CloseTokenExpired {
		t.Fatalf("close %d, want 4002", got)
	}
}
