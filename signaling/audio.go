package signaling

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"golang.org/x/time/rate"

	"github.com/earshot-dev/earshot/signaling/protocol"
)

// maxAsyncPerConn bounds a connection's concurrent long calls (audio:stop drains,
// transcription clips, WebRTC offers).
const maxAsyncPerConn = 4

var wireFormats = []string{protocol.FormatWebM, protocol.FormatOgg, protocol.FormatPCM16, protocol.FormatF32, protocol.FormatWAV}

// asProtocolError keeps a component's coded error and hides any other behind INTERNAL.
func (s *Server) asProtocolError(err error, sessionID, what string) *protocol.Error {
	var perr *protocol.Error
	if errors.As(err, &perr) {
		out := *perr
		if out.SessionID == "" {
			out.SessionID = sessionID
		}
		return &out
	}
	s.log.Error(what+" failed", "session", sessionID, "error", err)
	return &protocol.Error{Code: protocol.CodeInternal, Message: what + " failed", SessionID: sessionID}
}

// audioSession checks what every audio event needs: membership, a pipeline runtime,
// a session that has not ended.
func (s *Server) audioSession(c *conn, id string) (*membership, Media, *protocol.Error) {
	m, perr := c.joined(id)
	if perr != nil {
		return nil, nil, perr
	}
	media := s.getMedia()
	if media == nil {
		return nil, nil, &protocol.Error{Code: protocol.CodePipelineUnavailable, Message: "no pipeline runtime is configured", SessionID: id}
	}
	if m.sess.getStatus() == protocol.StatusEnded {
		return nil, nil, sessionEnded(id)
	}
	return m, media, nil
}

func sessionEnded(id string) *protocol.Error {
	return &protocol.Error{Code: protocol.CodeSessionEnded, Message: "session has ended", SessionID: id}
}

func (c *conn) streamSpec(sess *session, format string, sampleRate, channels int) protocol.StreamSpec {
	return protocol.StreamSpec{SessionID: sess.id, UserID: c.userID(), UserName: c.claims.Name, Role: c.claims.Role,
		Pipeline: sess.pipeline, Format: format, SampleRate: sampleRate, Channels: monoChannels(format, channels), Source: "websocket"}
}

// Rates and channel counts a stream may declare (the decoder's own range is wider).
const (
	minSampleRate, maxSampleRate = 1000, 384000
	maxChannels                  = 8
)

// checkFormat checks a stream's declared format before anything is opened: an
// unknown format or a rate or channel count out of range is UNSUPPORTED_FORMAT, a
// field the format needs and lacks is BAD_REQUEST. pcm16 needs sampleRate and
// channels (the contract); f32 needs sampleRate, and its channels default to 1
// (monoChannels). Containers carry their own; what they declare is only range-checked.
func checkFormat(id, format string, sampleRate, channels int) *protocol.Error {
	unsupported := func(msg string) *protocol.Error {
		return &protocol.Error{Code: protocol.CodeUnsupportedFormat, SessionID: id, Message: msg}
	}
	if !slices.Contains(wireFormats, format) {
		return unsupported("format must be one of webm, ogg, pcm16, f32, wav")
	}
	if format == protocol.FormatPCM16 && (sampleRate == 0 || channels == 0) {
		return &protocol.Error{Code: protocol.CodeBadRequest, SessionID: id, Message: "pcm16 needs sampleRate and channels"}
	}
	if format == protocol.FormatF32 && sampleRate == 0 {
		return &protocol.Error{Code: protocol.CodeBadRequest, SessionID: id, Message: "f32 needs sampleRate"}
	}
	if sampleRate != 0 && (sampleRate < minSampleRate || sampleRate > maxSampleRate) {
		return unsupported(fmt.Sprintf("sampleRate must be %d-%d Hz", minSampleRate, maxSampleRate))
	}
	if channels != 0 && (channels < 1 || channels > maxChannels) {
		return unsupported(fmt.Sprintf("channels must be 1-%d", maxChannels))
	}
	return nil
}

// monoChannels is the channel count of a stream: f32 without one is mono.
func monoChannels(format string, channels int) int {
	if format == protocol.FormatF32 && channels == 0 {
		return 1
	}
	return channels
}

// containerMagic is how the first bytes of a container stream begin.
var containerMagic = map[string][]byte{
	protocol.FormatWebM: {0x1a, 0x45, 0xdf, 0xa3}, // EBML
	protocol.FormatOgg:  []byte("OggS"),
	protocol.FormatWAV:  []byte("RIFF"),
}

// checkFirstChunk refuses, before a stream is opened for it, a first chunk that
// cannot begin a container stream: typically a MediaRecorder chunk from the middle
// of a recording whose stream has ended (after an error, an idle time-out). Opening
// a stream for each such chunk would fail each time. Chunks shorter than the magic
// are left to the decoder.
func checkFirstChunk(id, format string, chunk []byte) *protocol.Error {
	magic, ok := containerMagic[format]
	if !ok || len(chunk) < len(magic) || bytes.HasPrefix(chunk, magic) ||
		(format == protocol.FormatWAV && bytes.HasPrefix(chunk, []byte("RF64"))) {
		return nil
	}
	return &protocol.Error{Code: protocol.CodeInvalidAudio, SessionID: id,
		Message: "this chunk cannot begin a stream in format " + format + ": it does not start with the container's header (restart the recorder to begin a new stream)"}
}

// openStream opens c's stream in sess through the runtime.
func (s *Server) openStream(c *conn, sess *session, media Media, spec protocol.StreamSpec) (*streamState, *protocol.Error) {
	c.mu.Lock()
	_, exists := c.streams[sess.id]
	c.mu.Unlock()
	if exists {
		return nil, &protocol.Error{Code: protocol.CodeStreamExists, Message: "a stream is already open in this session; send audio:stop first", SessionID: sess.id}
	}
	ctx, cancel := context.WithTimeout(c.ctx, s.opts.CallTimeout)
	defer cancel()
	ms, err := media.OpenStream(ctx, spec)
	if err != nil {
		return nil, s.asProtocolError(err, sess.id, "open stream")
	}
	burst := max(2*s.opts.AudioBytesPerSecond, int(s.opts.MaxMessageSize))
	st := &streamState{sessionID: sess.id, sess: sess, ms: ms, format: spec.Format,
		lim: rate.NewLimiter(rate.Limit(s.opts.AudioBytesPerSecond), burst)}
	c.mu.Lock()
	if c.streams == nil {
		c.streams = make(map[string]*streamState, 1)
	}
	c.streams[sess.id] = st
	c.mu.Unlock()
	s.streamOwners.Store(ms.ID(), c)
	return st, nil
}

// StreamEnded forgets a stream that ended without audio:stop (the runtime's idle
// time-out, a plugin that could not come back, refused audio), so that the owner's
// next audio:stream opens a new stream and binary frames get NO_STREAM. It is
// idempotent and safe to call from any goroutine.
func (s *Server) StreamEnded(streamID string) {
	v, ok := s.streamOwners.LoadAndDelete(streamID)
	if !ok {
		return
	}
	c := v.(*conn)
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, st := range c.streams {
		if st.ms.ID() == streamID {
			delete(c.streams, id)
			if c.binTarget == st {
				c.binTarget = nil
			}
		}
	}
}

// write hands one chunk to a stream after the per-stream byte-rate limit.
func (s *Server) write(c *conn, st *streamState, audio []byte) *protocol.Error {
	if len(audio) == 0 {
		return &protocol.Error{Code: protocol.CodeInvalidAudio, Message: "empty audio chunk", SessionID: st.sessionID}
	}
	if !st.lim.AllowN(timeNow(), len(audio)) {
		return &protocol.Error{Code: protocol.CodeRateLimited, SessionID: st.sessionID,
			Message: "audio faster than the per-stream limit; chunk dropped"}
	}
	ctx, cancel := context.WithTimeout(c.ctx, s.opts.CallTimeout)
	defer cancel()
	if err := st.ms.Write(ctx, audio); err != nil {
		return s.asProtocolError(err, st.sessionID, "write audio")
	}
	return nil
}

func handleAudioStart(s *Server, c *conn, req *request) {
	var p protocol.AudioStart
	if perr := decodeData(req, &p); perr != nil {
		c.fail(req, perr)
		return
	}
	m, media, perr := s.audioSession(c, p.SessionID)
	if perr == nil {
		perr = checkFormat(p.SessionID, p.Format, p.SampleRate, p.Channels)
	}
	if perr != nil {
		c.fail(req, perr)
		return
	}
	st, perr := s.openStream(c, m.sess, media, c.streamSpec(m.sess, p.Format, p.SampleRate, p.Channels))
	if perr != nil {
		c.fail(req, perr)
		return
	}
	c.mu.Lock()
	c.binTarget = st
	c.mu.Unlock()
	c.ok(req, protocol.EventAudioStarted, protocol.AudioStarted{SessionID: p.SessionID, StreamID: st.ms.ID()})
}

// handleBinary feeds a native binary frame to the stream opened last by audio:start.
func (s *Server) handleBinary(c *conn, data []byte) {
	req := &request{Event: protocol.EventAudioStream}
	s.events.add(timeNow())
	s.m.eventIn("binary", true)
	if !c.admit(req) {
		return
	}
	c.mu.Lock()
	st := c.binTarget
	c.mu.Unlock()
	if st == nil {
		c.fail(req, protocol.Errorf(protocol.CodeNoStream, "binary audio needs an open stream: send audio:start first"))
		return
	}
	if st.sess.getStatus() == protocol.StatusEnded {
		c.fail(req, sessionEnded(st.sessionID))
		return
	}
	if perr := s.write(c, st, data); perr != nil {
		c.fail(req, perr)
	}
}

// audioStreamPayload is audio:stream with audioData either base64 (a JSON string) or
// a Socket.IO binary attachment placeholder.
type audioStreamPayload struct {
	SessionID  string          `json:"sessionId"`
	AudioData  json.RawMessage `json:"audioData"`
	Format     string          `json:"format"`
	SampleRate int             `json:"sampleRate"`
	Channels   int             `json:"channels"`
	Sequence   *int64          `json:"sequence"`
	RequestID  string          `json:"requestId"`
}

// audioBytes resolves audioData: a base64 string or {"_placeholder":true,"num":N}.
func audioBytes(raw json.RawMessage, atts [][]byte, id string) ([]byte, *protocol.Error) {
	bad := func(msg string) *protocol.Error {
		return &protocol.Error{Code: protocol.CodeBadRequest, Message: msg, SessionID: id}
	}
	if len(raw) == 0 || string(raw) == "null" {
		return nil, bad("audioData is required")
	}
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, bad("audioData must be base64")
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			if b, err = base64.RawStdEncoding.DecodeString(s); err != nil {
				return nil, &protocol.Error{Code: protocol.CodeInvalidAudio, Message: "audioData is not valid base64", SessionID: id}
			}
		}
		return b, nil
	case '{':
		var ph struct {
			Placeholder bool `json:"_placeholder"`
			Num         *int `json:"num"`
		}
		if json.Unmarshal(raw, &ph) != nil || !ph.Placeholder || ph.Num == nil || *ph.Num < 0 || *ph.Num >= len(atts) {
			return nil, bad("audioData must be base64 or a binary attachment")
		}
		return atts[*ph.Num], nil
	default:
		return nil, bad("audioData must be base64 or a binary attachment")
	}
}

// handleAudioStream writes one chunk; the first chunk of a session opens the
// connection's stream there with the chunk's format.
func handleAudioStream(s *Server, c *conn, req *request) {
	var p audioStreamPayload
	if perr := decodeData(req, &p); perr != nil {
		c.fail(req, perr)
		return
	}
	m, media, perr := s.audioSession(c, p.SessionID)
	if perr != nil {
		c.fail(req, perr)
		return
	}
	audio, perr := audioBytes(p.AudioData, req.Attachments, p.SessionID)
	if perr != nil {
		c.fail(req, perr)
		return
	}
	if len(audio) == 0 { // before a stream is opened for it
		c.fail(req, &protocol.Error{Code: protocol.CodeInvalidAudio, Message: "empty audio chunk", SessionID: p.SessionID})
		return
	}
	c.mu.Lock()
	st := c.streams[p.SessionID]
	c.mu.Unlock()
	if st == nil {
		perr := checkFormat(p.SessionID, p.Format, p.SampleRate, p.Channels)
		if perr == nil {
			perr = checkFirstChunk(p.SessionID, p.Format, audio)
		}
		if perr != nil {
			c.fail(req, perr)
			return
		}
		if st, perr = s.openStream(c, m.sess, media, c.streamSpec(m.sess, p.Format, p.SampleRate, p.Channels)); perr != nil {
			c.fail(req, perr)
			return
		}
	} else if p.Format != "" && p.Format != st.format {
		c.fail(req, &protocol.Error{Code: protocol.CodeBadRequest, SessionID: p.SessionID,
			Message: "this session's stream is " + st.format + ": send audio:stop before streaming " + quote(p.Format)})
		return
	}
	if perr := s.write(c, st, audio); perr != nil {
		c.fail(req, perr)
		return
	}
	c.ok(req, "", nil)
}

func handleAudioFinalize(s *Server, c *conn, req *request) {
	id, m, perr := sessionRef(c, req)
	if perr != nil {
		c.fail(req, perr)
		return
	}
	c.mu.Lock()
	st := c.streams[id]
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(c.ctx, s.opts.CallTimeout)
	defer cancel()
	if st == nil {
		// The user's stream in this session may be a WebRTC track.
		if f, ok := s.getPeers().(AudioFinalizer); ok {
			found, err := f.FinalizeAudio(ctx, c.peerOwner(id, m.sess.pipeline))
			switch {
			case found && err != nil:
				c.fail(req, s.asProtocolError(err, id, "finalize"))
				return
			case found:
				c.ok(req, "", nil)
				return
			}
		}
		c.fail(req, &protocol.Error{Code: protocol.CodeNoStream, Message: "no open stream in this session", SessionID: id})
		return
	}
	if err := st.ms.Finalize(ctx); err != nil {
		c.fail(req, s.asProtocolError(err, id, "finalize"))
		return
	}
	c.ok(req, "", nil)
}

// handleAudioStop drains the stream on a goroutine of the connection and acks once
// every pending final was published. Binary frames sent after it get NO_STREAM.
func handleAudioStop(s *Server, c *conn, req *request) {
	id, _, perr := sessionRef(c, req)
	if perr != nil {
		c.fail(req, perr)
		return
	}
	// Refuse before taking the stream, which stays open for a later audio:stop: a
	// drain run inline would hold the read loop for up to DrainTimeout, longer than
	// the heartbeat allows. Only this goroutine starts calls, so the slot checked
	// here is still free at goAsync below.
	if c.asyncBusy(maxAsyncPerConn) {
		c.fail(req, tooManyInFlight(id))
		return
	}
	var drain func(ctx context.Context) error
	if st := c.takeStream(id); st != nil {
		drain = st.ms.Stop
	} else if stopper, ok := s.getPeers().(AudioStopper); ok {
		// No WebSocket stream: drain the WebRTC track's stream, keeping the peer connection.
		owner := c.peerOwner(id, "")
		drain = func(ctx context.Context) error {
			found, err := stopper.StopAudio(ctx, owner)
			if err == nil && !found {
				return &protocol.Error{Code: protocol.CodeNoStream, Message: "no open stream in this session", SessionID: id}
			}
			return err
		}
	}
	if drain == nil {
		c.fail(req, &protocol.Error{Code: protocol.CodeNoStream, Message: "no open stream in this session", SessionID: id})
		return
	}
	r := *req
	r.Data = nil
	run := func(ctx context.Context, req *request) {
		ctx, cancel := context.WithTimeout(ctx, s.opts.DrainTimeout)
		defer cancel()
		if err := drain(ctx); err != nil {
			c.fail(req, s.asProtocolError(err, id, "stop stream"))
			return
		}
		c.ok(req, "", nil)
	}
	if !c.goAsync(nil, maxAsyncPerConn, func(ctx context.Context) { run(ctx, &r) }) {
		// Not reached (the slot was checked above); drain inline rather than leak the stream.
		run(c.ctx, req)
	}
}

// tooManyInFlight refuses a long request beyond maxAsyncPerConn.
func tooManyInFlight(id string) *protocol.Error {
	return &protocol.Error{Code: protocol.CodeRateLimited, Message: "too many requests in flight on this connection", SessionID: id}
}

// takeStream removes c's stream in a session (and the binary target when it is that
// stream).
func (c *conn) takeStream(id string) *streamState {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.streams[id]
	if st == nil {
		return nil
	}
	c.s.streamOwners.Delete(st.ms.ID())
	delete(c.streams, id)
	if c.binTarget == st {
		c.binTarget = nil
	}
	return st
}

// stopStreams drains c's stream in a session it is leaving or has lost.
func (c *conn) stopStreams(id string) {
	st := c.takeStream(id)
	if st == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.s.opts.CallTimeout)
	defer cancel()
	if err := st.ms.Stop(ctx); err != nil {
		c.s.log.Debug("stop stream on leave", "conn", c.id, "session", id, "error", err)
	}
}

func handleTranscriptionRequest(s *Server, c *conn, req *request) {
	var p audioStreamPayload
	if perr := decodeData(req, &p); perr != nil {
		c.fail(req, perr)
		return
	}
	m, media, perr := s.audioSession(c, p.SessionID)
	if perr == nil {
		perr = checkFormat(p.SessionID, p.Format, p.SampleRate, p.Channels)
	}
	var audio []byte
	if perr == nil {
		audio, perr = audioBytes(p.AudioData, req.Attachments, p.SessionID)
	}
	if perr == nil && len(audio) == 0 {
		perr = &protocol.Error{Code: protocol.CodeInvalidAudio, Message: "empty audio clip", SessionID: p.SessionID}
	}
	if perr == nil {
		// Refused before the clip is announced to the session.
		perr = checkFirstChunk(p.SessionID, p.Format, audio)
	}
	if perr != nil {
		c.fail(req, perr)
		return
	}
	spec := c.streamSpec(m.sess, p.Format, p.SampleRate, p.Channels)
	r := *req
	r.Data, r.Attachments = nil, nil
	// Leaving the session cancels the clip (see detach).
	started := c.goAsync(m, maxAsyncPerConn, func(ctx context.Context) {
		ctx, cancel := context.WithTimeout(ctx, s.opts.DrainTimeout)
		defer cancel()
		if err := media.TranscribeClip(ctx, spec, audio, p.RequestID); err != nil {
			if m.ctx.Err() != nil {
				c.fail(&r, leftDuring(p.SessionID, "transcription"))
				return
			}
			c.fail(&r, s.asProtocolError(err, p.SessionID, "transcribe clip"))
			return
		}
		c.ok(&r, "", nil)
	})
	if !started {
		c.fail(req, tooManyInFlight(p.SessionID))
	}
}

// --- WebRTC -----------------------------------------------------------------

func (c *conn) peerOwner(sessionID, pipeline string) PeerOwner {
	return PeerOwner{ConnID: c.id, SessionID: sessionID, UserID: c.userID(), UserName: c.claims.Name,
		Role: c.claims.Role, Pipeline: pipeline, Emit: c.emit}
}

func (s *Server) webrtcSession(c *conn, id string) (*membership, Peers, *protocol.Error) {
	m, perr := c.joined(id)
	if perr != nil {
		return nil, nil, perr
	}
	p := s.getPeers()
	if p == nil {
		return nil, nil, &protocol.Error{Code: protocol.CodeBadRequest, Message: "WebRTC is disabled on this server", SessionID: id}
	}
	return m, p, nil
}

func handleWebRTCOffer(s *Server, c *conn, req *request) {
	var p protocol.WebRTCOffer
	if perr := decodeData(req, &p); perr != nil {
		c.fail(req, perr)
		return
	}
	m, peers, perr := s.webrtcSession(c, p.SessionID)
	if perr == nil && p.SDP == "" {
		perr = &protocol.Error{Code: protocol.CodeBadRequest, Message: "sdp is required", SessionID: p.SessionID}
	}
	if perr == nil && m.sess.getStatus() == protocol.StatusEnded {
		perr = sessionEnded(p.SessionID)
	}
	if perr != nil {
		c.fail(req, perr)
		return
	}
	owner := c.peerOwner(p.SessionID, m.sess.pipeline)
	r := *req
	r.Data = nil
	// Leaving the session cancels the offer and then closes the owner's peer
	// connection, made or not (see detach).
	started := c.goAsync(m, maxAsyncPerConn, func(ctx context.Context) {
		ctx, cancel := context.WithTimeout(ctx, s.opts.CallTimeout)
		defer cancel()
		answer, err := peers.Offer(ctx, owner, p.SDP)
		if m.ctx.Err() != nil {
			c.fail(&r, leftDuring(p.SessionID, "offer"))
			return
		}
		if err != nil {
			c.fail(&r, s.asProtocolError(err, p.SessionID, "webrtc offer"))
			return
		}
		c.ok(&r, protocol.EventWebRTCAnswer, protocol.WebRTCOffer{SessionID: p.SessionID, SDP: answer})
	})
	if !started {
		c.fail(req, tooManyInFlight(p.SessionID))
	}
}

func handleWebRTCCandidate(s *Server, c *conn, req *request) {
	var p protocol.WebRTCCandidate
	if perr := decodeData(req, &p); perr != nil {
		c.fail(req, perr)
		return
	}
	m, peers, perr := s.webrtcSession(c, p.SessionID)
	if perr != nil {
		c.fail(req, perr)
		return
	}
	ctx, cancel := context.WithTimeout(c.ctx, s.opts.CallTimeout)
	defer cancel()
	if err := peers.AddCandidate(ctx, c.peerOwner(p.SessionID, m.sess.pipeline), p.Candidate); err != nil {
		c.fail(req, s.asProtocolError(err, p.SessionID, "webrtc candidate"))
		return
	}
	c.ok(req, "", nil)
}

func handleWebRTCClose(s *Server, c *conn, req *request) {
	id, _, perr := sessionRef(c, req)
	var peers Peers
	var m *membership
	if perr == nil {
		m, peers, perr = s.webrtcSession(c, id)
	}
	if perr != nil {
		c.fail(req, perr)
		return
	}
	if err := peers.Close(c.peerOwner(id, m.sess.pipeline)); err != nil {
		c.fail(req, s.asProtocolError(err, id, "webrtc close"))
		return
	}
	c.ok(req, "", nil)
}
