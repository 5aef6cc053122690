package signaling

import (
	"encoding/json"
	"github.com/gorilla/websocket"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/earshot-dev/earshot/signaling/auth"
	"github.com/earshot-dev/earshot/signaling/protocol"
)

func userIDs(us []protocol.User) []string {
	var ids []string
	for _, u := range us {
		ids = append(ids, u.UserID)
	}
	return ids
}

// TestSessionLifecycleThreeUsers walks join, broadcasts, status, leave and
// disconnect with three users.
func TestSessionLifecycleThreeUsers(t *testing.T) {
	e := newEnv(t, nil)
	alice := e.connect("alice", protocol.RoleInterviewer)
	bob := e.connect("bob", protocol.RoleCandidate)
	carol := e.connect("carol", protocol.RoleObserver)

	id := alice.request(protocol.EventSessionJoin, map[string]string{"sessionId": "s1"})
	f := alice.expect(protocol.EventSessionJoined)
	j := decodeInto[protocol.SessionJoined](t, f.Data)
	if j.SessionID != "s1" || j.Status != protocol.StatusWaiting || j.Pipeline != "interview" || !slices.Equal(userIDs(j.Users), []string{"alice"}) {
		t.Fatalf("joined %s", f.Data)
	}
	if ack := alice.expectAck(id); string(ack.Data) != string(f.Data) {
		t.Fatalf("ack data %s, want the session:joined payload %s", ack.Data, f.Data)
	}

	bob.send(protocol.EventSessionJoin, map[string]string{"sessionId": "s1"})
	j = decodeInto[protocol.SessionJoined](t, bob.expect(protocol.EventSessionJoined).Data)
	if !slices.Equal(userIDs(j.Users), []string{"alice", "bob"}) {
		t.Fatalf("users %v", j.Users)
	}
	ue := decodeInto[protocol.UserEvent](t, alice.expect(protocol.EventUserJoined).Data)
	if ue.SessionID != "s1" || ue.User != (protocol.User{UserID: "bob", Name: "Bob", Role: "candidate"}) {
		t.Fatalf("user:joined %+v", ue)
	}

	carol.send(protocol.EventSessionJoin, map[string]string{"sessionId": "s1"})
	carol.expect(protocol.EventSessionJoined)
	for _, c := range []*client{alice, bob} {
		if u := decodeInto[protocol.UserEvent](t, c.expect(protocol.EventUserJoined).Data); u.User.UserID != "carol" {
			t.Fatalf("user:joined %+v", u)
		}
	}

	// Status: a candidate may not; the interviewer may, and everyone hears it.
	id = bob.request(protocol.EventSessionStatus, map[string]string{"sessionId": "s1", "status": "active"})
	bob.expectErr(protocol.EventSessionError, protocol.CodeForbidden)
	if ack := bob.expectAck(id); ack.Error == nil || ack.Error.Code != protocol.CodeForbidden {
		t.Fatalf("ack %s", ack.raw)
	}
	id = alice.request(protocol.EventSessionStatus, map[string]string{"sessionId": "s1", "status": "active"})
	for _, c := range []*client{alice, bob, carol} {
		u := decodeInto[protocol.SessionStatusUpdated](t, c.expect(protocol.EventSessionStatusUpdated).Data)
		if u.Status != "active" || u.Previous != "waiting" || u.UpdatedBy != "alice" || u.SessionID != "s1" || u.At == 0 {
			t.Fatalf("status:updated %+v", u)
		}
	}
	alice.expectAck(id)
	alice.send(protocol.EventSessionStatus, map[string]string{"sessionId": "s1", "status": "finished"})
	alice.expectErr(protocol.EventSessionError, protocol.CodeBadRequest)

	// Leave: the leaver gets session:left, the others user:left.
	id = carol.request(protocol.EventSessionLeave, map[string]string{"sessionId": "s1"})
	if l := decodeInto[protocol.SessionRef](t, carol.expect(protocol.EventSessionLeft).Data); l.SessionID != "s1" {
		t.Fatalf("left %+v", l)
	}
	carol.expectAck(id)
	for _, c := range []*client{alice, bob} {
		if u := decodeInto[protocol.UserEvent](t, c.expect(protocol.EventUserLeft).Data); u.User.UserID != "carol" {
			t.Fatalf("user:left %+v", u)
		}
	}
	// After leaving, the session is closed to carol.
	carol.send(protocol.EventSessionStatus, map[string]string{"sessionId": "s1", "status": "paused"})
	carol.expectErr(protocol.EventSessionError, protocol.CodeNotJoined)

	// Disconnect without leave, with a close frame: user:disconnected, client_closed.
	_ = bob.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	ud := decodeInto[protocol.UserDisconnected](t, alice.expect(protocol.EventUserDisconnected).Data)
	if ud.UserID != "bob" || ud.SessionID != "s1" || ud.Reason != "client_closed" {
		t.Fatalf("user:disconnected %+v", ud)
	}
	alice.sync()
	carol.sync()
}

func TestSessionTwoConnectionsOneUser(t *testing.T) {
	e := newEnv(t, nil)
	a1 := e.connect("alice", protocol.RoleInterviewer)
	a2 := e.connect("alice", protocol.RoleInterviewer)
	bob := e.connect("bob", protocol.RoleCandidate)
	bob.send(protocol.EventSessionJoin, map[string]string{"sessionId": "s1"})
	bob.expect(protocol.EventSessionJoined)
	a1.send(protocol.EventSessionJoin, map[string]string{"sessionId": "s1"})
	a1.expect(protocol.EventSessionJoined)
	bob.expect(protocol.EventUserJoined)
	a2.send(protocol.EventSessionJoin, map[string]string{"sessionId": "s1"})
	j := decodeInto[protocol.SessionJoined](t, a2.expect(protocol.EventSessionJoined).Data)
	if !slices.Equal(userIDs(j.Users), []string{"alice", "bob"}) {
		t.Fatalf("users %v (a user counts once)", j.Users)
	}
	// Alice's first connection leaving is not alice leaving.
	a1.send(protocol.EventSessionLeave, map[string]string{"sessionId": "s1"})
	a1.expect(protocol.EventSessionLeft)
	bob.sync()
	_ = a2.ws.Close() // no close frame: the connection is lost
	if ud := decodeInto[protocol.UserDisconnected](t, bob.expect(protocol.EventUserDisconnected).Data); ud.UserID != "alice" || ud.Reason != "connection_error" {
		t.Fatalf("%+v", ud)
	}
	// Joining twice on one connection is idempotent and announces nothing.
	bob.send(protocol.EventSessionJoin, map[string]string{"sessionId": "s1"})
	bob.expect(protocol.EventSessionJoined)
	bob.sync()
}

func TestSessionIsolationAndClaims(t *testing.T) {
	e := newEnv(t, nil)
	alice := e.connect("alice", protocol.RoleInterviewer)
	bob := e.connect("bob", protocol.RoleCandidate, func(c *auth.Claims) { c.Sessions = []string{"s2"} })
	alice.send(protocol.EventSessionJoin, map[string]string{"sessionId": "s1"})
	alice.expect(protocol.EventSessionJoined)

	// The token's sessions claim.
	bob.send(protocol.EventSessionJoin, map[string]string{"sessionId": "s1"})
	if e := bob.expectErr(protocol.EventSessionError, protocol.CodeForbidden); e.SessionID != "s1" {
		t.Fatalf("error %+v", e)
	}
	bob.send(protocol.EventSessionJoin, map[string]string{"sessionId": "s2"})
	bob.expect(protocol.EventSessionJoined)

	// Every event naming a session bob has not joined is refused with
	// session:error NOT_JOINED, whatever its family (the contract's session isolation).
	for _, event := range []string{
		protocol.EventSessionLeave, protocol.EventSessionStatus,
		protocol.EventAudioStart, protocol.EventAudioStream, protocol.EventAudioFinalize, protocol.EventAudioStop,
		protocol.EventTranscriptionRequest,
		protocol.EventWebRTCOffer, protocol.EventWebRTCCandidate, protocol.EventWebRTCClose,
	} {
		bob.send(event, map[string]any{"sessionId": "s1", "status": "active", "format": "webm", "audioData": "AAAA", "sdp": "x"})
		if e := bob.expectErr(protocol.EventSessionError, protocol.CodeNotJoined); e.SessionID != "s1" {
			t.Fatalf("%s: %+v", event, e)
		}
	}
	// Nothing of s1 reached bob, nothing of s2 reached alice.
	e.s.Publish("s1", protocol.EventTranscriptionResult, map[string]string{"sessionId": "s1"}, nil, "")
	alice.expect(protocol.EventTranscriptionResult)
	bob.sync()
	alice.sync()

	// Session ids.
	// Absent and empty ids are ids of length 0: outside 1-128 characters.
	for _, bad := range []string{"has space", "x/y", strings.Repeat("a", 129), ""} {
		alice.send(protocol.EventSessionJoin, map[string]string{"sessionId": bad})
		alice.expectErr(protocol.EventSessionError, protocol.CodeInvalidSessionID)
	}
	alice.send(protocol.EventSessionJoin, map[string]string{})
	alice.expectErr(protocol.EventSessionError, protocol.CodeInvalidSessionID)
	alice.send(protocol.EventSessionJoin, map[string]string{"sessionId": strings.Repeat("a", 128)})
	alice.expect(protocol.EventSessionJoined)
}

func TestSessionLimitsAndPipelines(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.MaxUsersPerSession = 2; o.MaxSessionsPerConn = 2 })
	alice := e.connect("alice", protocol.RoleInterviewer)
	bob := e.connect("bob", protocol.RoleCandidate)
	carol := e.connect("carol", protocol.RoleObserver)
	for _, c := range []*client{alice, bob} {
		c.send(protocol.EventSessionJoin, map[string]string{"sessionId": "s1"})
		c.expect(protocol.EventSessionJoined)
	}
	alice.expect(protocol.EventUserJoined)
	id := carol.request(protocol.EventSessionJoin, map[string]string{"sessionId": "s1"})
	carol.expectErr(protocol.EventSessionError, protocol.CodeSessionFull)
	carol.expectAck(id)

	alice.send(protocol.EventSessionJoin, map[string]string{"sessionId": "s2", "pipeline": "other"})
	if j := decodeInto[protocol.SessionJoined](t, alice.expect(protocol.EventSessionJoined).Data); j.Pipeline != "other" {
		t.Fatalf("pipeline %q", j.Pipeline)
	}
	alice.send(protocol.EventSessionJoin, map[string]string{"sessionId": "s3"})
	alice.expectErr(protocol.EventSessionError, protocol.CodeTooManySessions)

	// Pipelines: unknown, and different from the session's.
	carol.send(protocol.EventSessionJoin, map[string]string{"sessionId": "s4", "pipeline": "nope"})
	carol.expectErr(protocol.EventSessionError, protocol.CodePipelineUnavailable)
	// A huge name is not echoed back whole.
	carol.send(protocol.EventSessionJoin, map[string]string{"sessionId": "s4", "pipeline": strings.Repeat("é", 50000)})
	if e := carol.expectErr(protocol.EventSessionError, protocol.CodePipelineUnavailable); len(e.Message) > 200 || !utf8.ValidString(e.Message) {
		t.Fatalf("message of %d bytes: %.80q", len(e.Message), e.Message)
	}
	carol.send(protocol.EventSessionJoin, map[string]string{"sessionId": "s2", "pipeline": "interview"})
	carol.expectErr(protocol.EventSessionError, protocol.CodeBadRequest)
	carol.send(protocol.EventSessionJoin, map[string]string{"sessionId": "s2"})
	carol.expect(protocol.EventSessionJoined)
}

// TestSessionEndedAndCleanup: ended is final (no joins, no status change), members
// may stay; an empty session is removed after InactiveAfter and its id can be reused.
func TestSessionEndedAndCleanup(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.InactiveAfter = time.Minute })
	alice := e.connect("alice", protocol.RoleInterviewer)
	bob := e.connect("bob", protocol.RoleCandidate)
	alice.send(protocol.EventSessionJoin, map[string]string{"sessionId": "s1"})
	alice.expect(protocol.EventSessionJoined)
	alice.send(protocol.EventSessionStatus, map[string]string{"sessionId": "s1", "status": "ended"})
	alice.expect(protocol.EventSessionStatusUpdated)
	bob.send(protocol.EventSessionJoin, map[string]string{"sessionId": "s1"})
	bob.expectErr(protocol.EventSessionError, protocol.CodeSessionEnded)
	alice.send(protocol.EventSessionStatus, map[string]string{"sessionId": "s1", "status": "active"})
	alice.expectErr(protocol.EventSessionError, protocol.CodeSessionEnded)
	alice.send(protocol.EventAudioStart, map[string]any{"sessionId": "s1", "format": "webm"})
	alice.expectErr(protocol.EventAudioError, protocol.CodeSessionEnded)

	alice.send(protocol.EventSessionLeave, map[string]string{"sessionId": "s1"})
	alice.expect(protocol.EventSessionLeft)
	now := time.Now()
	if gone := e.s.cleanup(now); len(gone) != 0 {
		t.Fatalf("removed %v before InactiveAfter", gone)
	}
	if gone := e.s.cleanup(now.Add(2 * time.Minute)); !slices.Equal(gone, []string{"s1"}) {
		t.Fatalf("removed %v", gone)
	}
	if got := e.media.closedSessions(); !slices.Equal(got, []string{"s1"}) {
		t.Fatalf("Media.CloseSession calls %v", got)
	}
	bob.send(protocol.EventSessionJoin, map[string]string{"sessionId": "s1"})
	if j := decodeInto[protocol.SessionJoined](t, bob.expect(protocol.EventSessionJoined).Data); j.Status != protocol.StatusWaiting {
		t.Fatalf("reused session %+v", j)
	}
}

// TestPublishTargets checks the Publisher: roles, except, one user.
func TestPublishTargets(t *testing.T) {
	e := newEnv(t, nil)
	alice := e.connect("alice", protocol.RoleInterviewer)
	bob := e.connect("bob", protocol.RoleCandidate)
	for _, c := range []*client{alice, bob} {
		c.send(protocol.EventSessionJoin, map[string]string{"sessionId": "s1"})
		c.expect(protocol.EventSessionJoined)
	}
	alice.expect(protocol.EventUserJoined)
	e.s.Publish("s1", protocol.EventSuggestions, map[string]string{"n": "1"}, []string{protocol.RoleInterviewer}, "")
	e.s.Publish("s1", protocol.EventSuggestions, map[string]string{"n": "2"}, nil, "alice")
	e.s.PublishToUser("s1", "alice", protocol.EventSuggestions, map[string]string{"n": "3"})
	var got []string
	for range 2 {
		var p map[string]string
		_ = json.Unmarshal(alice.expect(protocol.EventSuggestions).Data, &p)
		got = append(got, p["n"])
	}
	if !slices.Equal(got, []string{"1", "3"}) {
		t.Fatalf("alice got %v", got)
	}
	var p map[string]string
	_ = json.Unmarshal(bob.expect(protocol.EventSuggestions).Data, &p)
	if p["n"] != "2" {
		t.Fatalf("bob got %v", p)
	}
	alice.sync()
	bob.sync()
}

// TestBusSpansServers: two gateways sharing a bus deliver each other's session events
// to their own members — the seam a broker-backed Bus (NATS) plugs into.
func TestBusSpansServers(t *testing.T) {
	bus := NewMemoryBus()
	a := newEnv(t, func(o *Options) { o.Bus = bus })
	b := newEnv(t, func(o *Options) { o.Bus = bus })
	alice := joined(t, a, "alice", protocol.RoleInterviewer, "s1")
	bob := joined(t, b, "bob", protocol.RoleCandidate, "s1")
	// bob's join on node b is announced to alice on node a.
	if u := decodeInto[protocol.UserEvent](t, alice.expect(protocol.EventUserJoined).Data); u.User.UserID != "bob" {
		t.Fatalf("%+v", u)
	}
	a.s.Publish("s1", protocol.EventTranscriptionResult, map[string]string{"sessionId": "s1", "from": "a"}, nil, "")
	bob.expect(protocol.EventTranscriptionResult)
	alice.expect(protocol.EventTranscriptionResult)
	alice.sync()
	bob.sync()
}
