package signaling

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/signaling/protocol"
)

// TestSessionLimit: a node holding MaxSessions refuses a join that would create one
// more with SESSION_LIMIT, still lets connections join the sessions it holds, and
// has room again once cleanup removed an empty session. Join/leave churn over new
// ids, which leaves empty sessions behind until cleanup, is bounded by it.
func TestSessionLimit(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.MaxSessions = 3; o.InactiveAfter = time.Minute })
	alice := e.connect("alice", protocol.RoleInterviewer)
	bob := e.connect("bob", protocol.RoleCandidate)

	alice.churn("s1", "s2", "s3")
	id := alice.request(protocol.EventSessionJoin, map[string]string{"sessionId": "s4"})
	perr := alice.expectErr(protocol.EventSessionError, protocol.CodeSessionLimit)
	if perr.SessionID != "s4" {
		t.Fatalf("sessionId %q, want s4", perr.SessionID)
	}
	if ack := alice.expectAck(id); ack.Error == nil || ack.Error.Code != protocol.CodeSessionLimit {
		t.Fatalf("ack %s, want SESSION_LIMIT", ack.raw)
	}
	// Another connection gets the same refusal; existing sessions still take joins.
	bob.send(protocol.EventSessionJoin, map[string]string{"sessionId": "s5"})
	bob.expectErr(protocol.EventSessionError, protocol.CodeSessionLimit)
	bob.send(protocol.EventSessionJoin, map[string]string{"sessionId": "s2"})
	bob.expect(protocol.EventSessionJoined)

	// s1 and s3 are empty; s2 has bob. Cleanup frees their places.
	if gone := e.s.cleanup(time.Now().Add(2 * time.Minute)); !sameSet(gone, []string{"s1", "s3"}) {
		t.Fatalf("cleanup removed %v, want s1 and s3", gone)
	}
	alice.send(protocol.EventSessionJoin, map[string]string{"sessionId": "s4"})
	if j := decodeInto[protocol.SessionJoined](t, alice.expect(protocol.EventSessionJoined).Data); j.SessionID != "s4" {
		t.Fatalf("joined %+v", j)
	}
	alice.send(protocol.EventSessionJoin, map[string]string{"sessionId": "s6"})
	alice.expect(protocol.EventSessionJoined)
	alice.send(protocol.EventSessionJoin, map[string]string{"sessionId": "s7"})
	alice.expectErr(protocol.EventSessionError, protocol.CodeSessionLimit)
	bob.sync()
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// closeRaceMedia lets a test act inside Media.CloseSession and see streams opened.
type closeRaceMedia struct {
	*fakeMedia
	onClose func(id string)
	opened  chan string // session ids of OpenStream calls
}

func (m *closeRaceMedia) OpenStream(ctx context.Context, spec protocol.StreamSpec) (MediaStream, error) {
	ms, err := m.fakeMedia.OpenStream(ctx, spec)
	m.opened <- spec.SessionID
	return ms, err
}

func (m *closeRaceMedia) CloseSession(id string) {
	m.fakeMedia.record("close " + id)
	if m.onClose != nil {
		m.onClose(id)
	}
	m.fakeMedia.CloseSession(id)
}

// TestCleanupClosesBeforeRejoin: the runtime is told a removed session is gone
// before a join can create it again, so a stream opened in the new session comes
// after the runtime closed the old one, never before (where the late close would shut
// the new stream down).
//
// Inside CloseSession a client joins the same id and starts audio; the test then
// waits a moment for that stream. With the registry locked around CloseSession the
// join cannot complete until it returns; if it could, the stream would open within
// the wait and be recorded before the close ended.
func TestCleanupClosesBeforeRejoin(t *testing.T) {
	media := &closeRaceMedia{fakeMedia: newFakeMedia(), opened: make(chan string, 4)}
	e := newEnv(t, func(o *Options) { o.Media = media; o.InactiveAfter = time.Minute })
	media.pub = e.s
	alice := joined(t, e, "alice", protocol.RoleInterviewer, "s1")
	bob := e.connect("bob", protocol.RoleCandidate)
	alice.send(protocol.EventSessionLeave, map[string]string{"sessionId": "s1"})
	alice.expect(protocol.EventSessionLeft)

	var openedDuringClose bool
	media.onClose = func(id string) {
		media.onClose = nil
		bob.send(protocol.EventSessionJoin, map[string]string{"sessionId": id})
		bob.send(protocol.EventAudioStart, map[string]any{"sessionId": id, "format": "webm"})
		select {
		case <-media.opened:
			openedDuringClose = true
		case <-time.After(300 * time.Millisecond):
		}
		media.record("close returns " + id)
	}
	if gone := e.s.cleanup(time.Now().Add(2 * time.Minute)); !slices.Equal(gone, []string{"s1"}) {
		t.Fatalf("cleanup removed %v", gone)
	}
	bob.expect(protocol.EventSessionJoined)
	bob.expect(protocol.EventAudioStarted)
	if openedDuringClose {
		t.Fatal("a join recreated the session and opened a stream while CloseSession of the old one ran")
	}
	media.mu.Lock()
	calls := slices.Clone(media.calls)
	media.mu.Unlock()
	closeAt := slices.Index(calls, "close returns s1")
	openAt := slices.IndexFunc(calls, func(c string) bool { return c == "open s1 bob webm interview" })
	if closeAt < 0 || openAt < closeAt {
		t.Fatalf("calls %q: the new session's stream must open after the old session's close", calls)
	}
}

// blockingStopMedia holds every stream's Stop until released (or its context ends).
type blockingStopMedia struct {
	*fakeMedia
	entered chan string
	release chan struct{}
}

func (m *blockingStopMedia) OpenStream(ctx context.Context, spec protocol.StreamSpec) (MediaStream, error) {
	ms, err := m.fakeMedia.OpenStream(ctx, spec)
	if err != nil {
		return nil, err
	}
	return &blockingStopStream{fakeStream: ms.(*fakeStream), m: m}, nil
}

type blockingStopStream struct {
	*fakeStream
	m *blockingStopMedia
}

func (s *blockingStopStream) Stop(ctx context.Context) error {
	s.m.entered <- s.spec.SessionID
	select {
	case <-s.m.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	return s.fakeStream.Stop(ctx)
}

// TestAudioStopBeyondLimit: with 4 long requests running, a fifth audio:stop is
// refused with RATE_LIMITED at once rather than drained on the read loop (which
// would stall the connection for up to DrainTimeout, past the heartbeat); its stream
// stays open, and a later audio:stop drains it.
func TestAudioStopBeyondLimit(t *testing.T) {
	media := &blockingStopMedia{fakeMedia: newFakeMedia(), entered: make(chan string, 8), release: make(chan struct{})}
	e := newEnv(t, func(o *Options) { o.Media = media })
	media.pub = e.s
	alice := e.connect("alice", protocol.RoleInterviewer)
	sessions := []string{"s1", "s2", "s3", "s4", "s5"}
	for _, id := range sessions {
		alice.send(protocol.EventSessionJoin, map[string]string{"sessionId": id})
		alice.expect(protocol.EventSessionJoined)
		alice.send(protocol.EventAudioStart, map[string]any{"sessionId": id, "format": "webm"})
		alice.expect(protocol.EventAudioStarted)
	}
	released := false
	defer func() {
		if !released {
			close(media.release)
		}
	}()
	acks := map[int64]string{}
	for _, id := range sessions[:maxAsyncPerConn] {
		acks[alice.request(protocol.EventAudioStop, map[string]string{"sessionId": id})] = id
	}
	for range maxAsyncPerConn {
		select {
		case <-media.entered:
		case <-time.After(waitLimit):
			t.Fatal("the drains did not start")
		}
	}
	fifth := alice.request(protocol.EventAudioStop, map[string]string{"sessionId": "s5"})
	if perr := alice.expectErr(protocol.EventAudioError, protocol.CodeRateLimited); perr.SessionID != "s5" {
		t.Fatalf("sessionId %q, want s5", perr.SessionID)
	}
	if ack := alice.expectAck(fifth); ack.Error == nil || ack.Error.Code != protocol.CodeRateLimited {
		t.Fatalf("ack %s, want RATE_LIMITED", ack.raw)
	}
	// The refused stop left the stream open: binary frames (its target) still reach it.
	alice.sendBinary([]byte("kept"))
	alice.sync()

	close(media.release)
	released = true
	for len(acks) > 0 {
		f := alice.next()
		if f.Event == protocol.EventAck && f.ID != nil {
			if f.Error != nil {
				t.Fatalf("stop of %s refused: %s", acks[*f.ID], f.raw)
			}
			delete(acks, *f.ID)
		}
	}
	id := alice.request(protocol.EventAudioStop, map[string]string{"sessionId": "s5"})
	r := decodeInto[protocol.TranscriptionResult](t, alice.waitFor(protocol.EventTranscriptionResult).Data)
	if r.SessionID != "s5" || r.Text != "kept" {
		t.Fatalf("final %+v, want s5's stream with its audio", r)
	}
	alice.expectAck(id)
}
