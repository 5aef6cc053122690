package signaling

import (
	"encoding/base64"
	"testing"

	"github.com/earshot-dev/earshot/signaling/protocol"
)

func joined(t *testing.T, e *env, sub, role, session string) *client {
	t.Helper()
	c := e.connect(sub, role)
	c.send(protocol.EventSessionJoin, map[string]string{"sessionId": session})
	c.expect(protocol.EventSessionJoined)
	return c
}

func TestAudioStartBinaryStop(t *testing.T) {
	e := newEnv(t, nil)
	alice := joined(t, e, "alice", protocol.RoleInterviewer, "s1")
	bob := joined(t, e, "bob", protocol.RoleCandidate, "s1")
	alice.expect(protocol.EventUserJoined)

	// No stream yet.
	alice.sendBinary([]byte("early"))
	alice.expectErr(protocol.EventAudioError, protocol.CodeNoStream)

	id := alice.request(protocol.EventAudioStart, map[string]any{"sessionId": "s1", "format": "pcm16", "sampleRate": 16000, "channels": 1})
	st := decodeInto[protocol.AudioStarted](t, alice.expect(protocol.EventAudioStarted).Data)
	if st.SessionID != "s1" || st.StreamID == "" {
		t.Fatalf("audio:started %+v", st)
	}
	if ack := alice.expectAck(id); decodeInto[protocol.AudioStarted](t, ack.Data) != st {
		t.Fatalf("ack %s", ack.raw)
	}
	alice.send(protocol.EventAudioStart, map[string]any{"sessionId": "s1", "format": "webm"})
	alice.expectErr(protocol.EventAudioError, protocol.CodeStreamExists)

	alice.sendBinary([]byte("hello "))
	alice.sendBinary([]byte("world"))
	alice.sendBinary([]byte("bad"))
	alice.expectErr(protocol.EventAudioError, protocol.CodeInvalidAudio)
	id = alice.request(protocol.EventAudioFinalize, map[string]string{"sessionId": "s1"})
	alice.expectAck(id)

	// audio:stop acks after the drain published the final to the whole session.
	id = alice.request(protocol.EventAudioStop, map[string]string{"sessionId": "s1"})
	for _, c := range []*client{alice, bob} {
		r := decodeInto[protocol.TranscriptionResult](t, c.expect(protocol.EventTranscriptionResult).Data)
		if r.Text != "hello world" || !r.IsFinal || r.UserID != "alice" || r.StreamID != st.StreamID {
			t.Fatalf("result %+v", r)
		}
	}
	alice.expectAck(id)
	alice.sendBinary([]byte("late"))
	alice.expectErr(protocol.EventAudioError, protocol.CodeNoStream)
	alice.send(protocol.EventAudioStop, map[string]string{"sessionId": "s1"})
	alice.expectErr(protocol.EventAudioError, protocol.CodeNoStream)
	bob.sync()
}

func TestAudioStreamBase64AndClip(t *testing.T) {
	e := newEnv(t, nil)
	alice := joined(t, e, "alice", protocol.RoleInterviewer, "s1")
	b64 := base64.StdEncoding.EncodeToString
	// A stream's first chunk that cannot begin it (a chunk from the middle of a
	// recording) opens no stream; nor does an empty one.
	alice.send(protocol.EventAudioStream, map[string]any{"sessionId": "s1", "format": "webm", "audioData": b64([]byte("middle"))})
	alice.expectErr(protocol.EventAudioError, protocol.CodeInvalidAudio)
	alice.send(protocol.EventAudioStream, map[string]any{"sessionId": "s1", "format": "webm", "audioData": ""})
	alice.expectErr(protocol.EventAudioError, protocol.CodeInvalidAudio)
	// Chunks shorter than the header's magic are left to the decoder.
	id := alice.request(protocol.EventAudioStream, map[string]any{"sessionId": "s1", "format": "webm", "audioData": b64([]byte("abc"))})
	alice.expectAck(id)
	alice.send(protocol.EventAudioStream, map[string]any{"sessionId": "s1", "format": "webm", "audioData": b64([]byte("def")), "sequence": 2})
	alice.send(protocol.EventAudioStream, map[string]any{"sessionId": "s1", "format": "webm", "audioData": "%%%"})
	alice.expectErr(protocol.EventAudioError, protocol.CodeInvalidAudio)
	alice.send(protocol.EventAudioStream, map[string]any{"sessionId": "s1", "format": "webm"})
	alice.expectErr(protocol.EventAudioError, protocol.CodeBadRequest)
	alice.send(protocol.EventAudioStream, map[string]any{"sessionId": "s1", "format": "webm", "audioData": 12})
	alice.expectErr(protocol.EventAudioError, protocol.CodeBadRequest)
	// Later chunks must be of the stream's format.
	alice.send(protocol.EventAudioStream, map[string]any{"sessionId": "s1", "format": "pcm16", "sampleRate": 16000, "channels": 1, "audioData": b64([]byte("gh"))})
	alice.expectErr(protocol.EventAudioError, protocol.CodeBadRequest)
	alice.send(protocol.EventAudioStop, map[string]string{"sessionId": "s1"})
	if r := decodeInto[protocol.TranscriptionResult](t, alice.expect(protocol.EventTranscriptionResult).Data); r.Text != "abcdef" {
		t.Fatalf("stream got %q", r.Text)
	}

	// Formats.
	alice.send(protocol.EventAudioStart, map[string]any{"sessionId": "s1", "format": "mp3"})
	alice.expectErr(protocol.EventAudioError, protocol.CodeUnsupportedFormat)
	alice.send(protocol.EventAudioStart, map[string]any{"sessionId": "s1", "format": "pcm16"})
	alice.expectErr(protocol.EventAudioError, protocol.CodeBadRequest)
	alice.send(protocol.EventAudioStart, map[string]any{"sessionId": "s1", "format": "f32"})
	alice.expectErr(protocol.EventAudioError, protocol.CodeBadRequest)
	// Rates and channel counts out of range are refused before a stream opens.
	for _, bad := range []map[string]any{
		{"format": "pcm16", "sampleRate": 999, "channels": 1},
		{"format": "pcm16", "sampleRate": 400000, "channels": 1},
		{"format": "pcm16", "sampleRate": 16000, "channels": 9},
		{"format": "f32", "sampleRate": -1},
		{"format": "webm", "sampleRate": 5},
	} {
		bad["sessionId"] = "s1"
		alice.send(protocol.EventAudioStart, bad)
		alice.expectErr(protocol.EventAudioError, protocol.CodeUnsupportedFormat)
	}
	// f32 without channels is mono.
	id = alice.request(protocol.EventAudioStart, map[string]any{"sessionId": "s1", "format": "f32", "sampleRate": 48000})
	alice.expect(protocol.EventAudioStarted)
	alice.expectAck(id)
	alice.send(protocol.EventAudioStop, map[string]string{"sessionId": "s1"})
	alice.expect(protocol.EventTranscriptionResult)
	// The runtime's own coded refusal passes through.
	alice.send(protocol.EventAudioStart, map[string]any{"sessionId": "s1", "format": "wav", "sampleRate": 1234})
	if e := alice.expectErr(protocol.EventAudioError, protocol.CodeInvalidAudio); e.SessionID != "s1" {
		t.Fatalf("%+v", e)
	}

	// A clip that is empty, or cannot begin its container, is refused before the
	// runtime (and so the session) sees it.
	for _, data := range []string{"", b64([]byte("garbage!"))} {
		id = alice.request(protocol.EventTranscriptionRequest, map[string]any{"sessionId": "s1", "format": "webm", "audioData": data})
		alice.expectErr(protocol.EventAudioError, protocol.CodeInvalidAudio)
		alice.expectAck(id)
	}
	// One-shot clip: the result (with requestId) reaches the session, then the ack.
	id = alice.request(protocol.EventTranscriptionRequest, map[string]any{"sessionId": "s1", "format": "pcm16", "sampleRate": 16000, "channels": 1, "audioData": b64([]byte("1234567")), "requestId": "r-1"})
	r := decodeInto[protocol.TranscriptionResult](t, alice.expect(protocol.EventTranscriptionResult).Data)
	if r.RequestID == nil || *r.RequestID != "r-1" || r.Text != "clip of 7" {
		t.Fatalf("clip result %+v", r)
	}
	alice.expectAck(id)
}

func TestAudioByteRateLimit(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.AudioBytesPerSecond = 1000; o.MaxMessageSize = 1000 })
	alice := joined(t, e, "alice", protocol.RoleInterviewer, "s1")
	alice.send(protocol.EventAudioStart, map[string]any{"sessionId": "s1", "format": "webm"})
	alice.expect(protocol.EventAudioStarted)
	chunk := make([]byte, 900)
	alice.sendBinary(chunk) // within the 2000-byte burst
	alice.sendBinary(chunk)
	alice.sendBinary(chunk) // over it
	if e := alice.expectErr(protocol.EventAudioError, protocol.CodeRateLimited); e.SessionID != "s1" {
		t.Fatalf("%+v", e)
	}
}

func TestAudioWithoutMediaOrPeers(t *testing.T) {
	e := newEnv(t, nil)
	e.s.SetMedia(nil)
	alice := joined(t, e, "alice", protocol.RoleInterviewer, "s1")
	alice.send(protocol.EventAudioStart, map[string]any{"sessionId": "s1", "format": "webm"})
	alice.expectErr(protocol.EventAudioError, protocol.CodePipelineUnavailable)
	alice.send(protocol.EventSessionJoin, map[string]any{"sessionId": "s2", "pipeline": "interview"})
	alice.expectErr(protocol.EventSessionError, protocol.CodePipelineUnavailable)
	alice.send(protocol.EventWebRTCOffer, map[string]any{"sessionId": "s1", "sdp": "v=0"})
	alice.expectErr(protocol.EventWebRTCError, protocol.CodeBadRequest)
}

// TestMediaCalls checks what the gateway hands the runtime: the stream spec and the
// calls a client's events turn into.
func TestMediaCalls(t *testing.T) {
	e := newEnv(t, nil)
	alice := joined(t, e, "alice", protocol.RoleInterviewer, "s1")
	alice.send(protocol.EventAudioStart, map[string]any{"sessionId": "s1", "format": "ogg", "sampleRate": 48000})
	st := decodeInto[protocol.AudioStarted](t, alice.expect(protocol.EventAudioStarted).Data)
	alice.send(protocol.EventAudioFinalize, map[string]string{"sessionId": "s1"})
	id := alice.request(protocol.EventAudioStop, map[string]string{"sessionId": "s1"})
	alice.expect(protocol.EventTranscriptionResult)
	alice.expectAck(id)
	e.media.mu.Lock()
	calls := append([]string(nil), e.media.calls...)
	e.media.mu.Unlock()
	want := []string{"open s1 alice ogg interview", "finalize " + st.StreamID, "stop " + st.StreamID}
	if len(calls) != len(want) {
		t.Fatalf("calls %q, want %q", calls, want)
	}
	for i := range want {
		if calls[i] != want[i] {
			t.Fatalf("calls %q, want %q", calls, want)
		}
	}
	// A stream still open when its connection goes away is drained, and its final
	// still reaches the session.
	bob := joined(t, e, "bob", protocol.RoleCandidate, "s1")
	alice.expect(protocol.EventUserJoined)
	bob.send(protocol.EventAudioStart, map[string]any{"sessionId": "s1", "format": "webm"})
	bob.expect(protocol.EventAudioStarted)
	bob.sendBinary([]byte("bye"))
	bob.sync()
	_ = bob.ws.Close()
	if r := decodeInto[protocol.TranscriptionResult](t, alice.expect(protocol.EventTranscriptionResult).Data); r.Text != "bye" || r.UserID != "bob" {
		t.Fatalf("drained result %+v", r)
	}
	alice.expect(protocol.EventUserDisconnected)

	// Leaving with an open stream drains it first: the leaver gets its own final.
	alice.send(protocol.EventAudioStart, map[string]any{"sessionId": "s1", "format": "webm"})
	alice.expect(protocol.EventAudioStarted)
	alice.sendBinary([]byte("last words"))
	alice.send(protocol.EventSessionLeave, map[string]string{"sessionId": "s1"})
	if r := decodeInto[protocol.TranscriptionResult](t, alice.expect(protocol.EventTranscriptionResult).Data); r.Text != "last words" {
		t.Fatalf("final on leave %+v", r)
	}
	alice.expect(protocol.EventSessionLeft)
}

// A stream the runtime ended by itself (idle time-out, plugin gone) is forgotten: the
// next binary frame gets NO_STREAM and audio:start opens a new stream.
func TestStreamEndedByRuntime(t *testing.T) {
	e := newEnv(t, nil)
	alice := joined(t, e, "alice", protocol.RoleInterviewer, "s1")
	alice.send(protocol.EventAudioStart, map[string]any{"sessionId": "s1", "format": "webm"})
	first := decodeInto[protocol.AudioStarted](t, alice.expect(protocol.EventAudioStarted).Data)
	e.s.StreamEnded("no-such-stream") // unknown ids are ignored
	e.s.StreamEnded(first.StreamID)
	e.s.StreamEnded(first.StreamID) // idempotent
	alice.sendBinary([]byte("late"))
	alice.expectErr(protocol.EventAudioError, protocol.CodeNoStream)
	alice.send(protocol.EventAudioStart, map[string]any{"sessionId": "s1", "format": "webm"})
	second := decodeInto[protocol.AudioStarted](t, alice.expect(protocol.EventAudioStarted).Data)
	if second.StreamID == first.StreamID {
		t.Fatalf("no new stream: %+v", second)
	}
}
