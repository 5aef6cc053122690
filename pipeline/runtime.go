package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/earshot-dev/earshot/plugins/sdk"
	"github.com/earshot-dev/earshot/signaling/protocol"
)

// CodeStreamIdle is the audio:error code sent to a stream's owner when the stream was
// drained and closed for lack of audio (an extension of the protocol's codes).
const CodeStreamIdle = "STREAM_IDLE"

// Stream is one open audio stream: one user's audio in one session. The gateway's
// MediaStream has the same method set.
type Stream interface {
	// ID is the stream id sent in audio:started and in every result.
	ID() string
	// Write queues a chunk of container/codec bytes. It waits for queue space up to
	// Options.WriteTimeout, then refuses the chunk with FALLING_BEHIND. After the
	// stream ended it returns NO_STREAM (or the coded reason the stream ended).
	Write(ctx context.Context, audio []byte) error
	// Finalize asks the transcriber to finalize the utterance in progress now; the
	// stream stays open.
	Finalize(ctx context.Context) error
	// Stop drains the stream: every pending final is published before it returns.
	// If ctx ends first the stream is aborted and ctx's error returned.
	Stop(ctx context.Context) error
}

// Runtime runs the pipelines: one instance per audio stream, one suggester stream per
// session. Its methods are safe for concurrent use.
type Runtime struct {
	opts     Options
	log      hclog.Logger
	pub      Publisher
	defs     map[string]*Definition
	m        *metrics
	classify func(error) Fault

	// wg counts every goroutine the runtime starts (streams, suggesters, session
	// shut-downs); Close waits for it.
	wg        sync.WaitGroup
	nextID    atomic.Uint64
	closeOnce sync.Once

	mu       sync.Mutex
	closed   bool
	sessions map[string]*session
	active   int // streams and clips running
}

// New builds a runtime from its options.
func New(opts Options) (*Runtime, error) {
	opts.setDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, fmt.Errorf("pipeline: register metrics: %w", err)
	}
	rt := &Runtime{
		opts:     opts,
		log:      opts.Logger.Named("pipeline"),
		pub:      opts.Publisher,
		defs:     make(map[string]*Definition, len(opts.Definitions)),
		m:        m,
		sessions: make(map[string]*session),
	}
	for i := range opts.Definitions {
		rt.defs[opts.Definitions[i].Name] = &rt.opts.Definitions[i]
	}
	custom := opts.Classify
	rt.classify = func(err error) Fault {
		var se *sdk.StreamError
		switch {
		case errors.Is(err, errHung), errors.Is(err, errEarlyEOF):
			return FaultRestart
		case errors.As(err, &se):
			return FaultFatal
		case errors.Is(err, ErrUnavailable):
			// The runtime's own verdict (a plugin not ready within ReadyTimeout): a
			// custom classifier knows only its transport's errors.
			return FaultUnavailable
		case custom != nil:
			return custom(err)
		}
		return defaultClassify(err)
	}
	return rt, nil
}

// HasPipeline reports whether a pipeline of that name is configured.
func (rt *Runtime) HasPipeline(name string) bool {
	_, ok := rt.defs[name]
	return ok
}

// DefaultPipeline is the pipeline a session gets when it names none.
func (rt *Runtime) DefaultPipeline() string { return rt.opts.DefaultPipeline }

func (rt *Runtime) definition(name string) (*Definition, error) {
	if name == "" {
		name = rt.opts.DefaultPipeline
	}
	d, ok := rt.defs[name]
	if !ok {
		return nil, protocol.Errorf(protocol.CodePipelineUnavailable, "no pipeline named %q", name)
	}
	return d, nil
}

func checkFormat(spec protocol.StreamSpec) error {
	switch spec.Format {
	case protocol.FormatWebM, protocol.FormatOgg, protocol.FormatOpus, protocol.FormatWAV:
	case protocol.FormatPCM16, protocol.FormatF32:
		if spec.SampleRate <= 0 || spec.SampleRate > 384000 || spec.Channels < 0 || spec.Channels > 8 {
			return protocol.Errorf(protocol.CodeUnsupportedFormat, "format %s needs sampleRate (1–384000) and channels (1–8)", spec.Format)
		}
	default:
		return protocol.Errorf(protocol.CodeUnsupportedFormat, "unsupported audio format %q (webm, ogg, opus, pcm16, f32, wav)", spec.Format)
	}
	return nil
}

// OpenStream opens the pipeline instance of a new audio stream: it opens the
// decoder and transcriber streams and starts them. User mistakes come back as
// *protocol.Error: UNSUPPORTED_FORMAT, PIPELINE_UNAVAILABLE, STREAM_EXISTS (the
// user already streams in that session).
func (rt *Runtime) OpenStream(ctx context.Context, spec protocol.StreamSpec) (Stream, error) {
	s, err := rt.newStream(spec, nil)
	if err != nil {
		return nil, err
	}
	if err := s.open(ctx); err != nil {
		rt.release(s)
		close(s.done) // run never starts; a concurrent shutdown may wait for done
		return nil, err
	}
	s.startIdle()
	rt.wg.Add(1)
	go s.run()
	return s, nil
}

// TranscribeClip transcribes a one-shot clip (transcription:request): it publishes
// transcription:processing (with requestId), then exactly one final
// transcription:result carrying requestId whose text joins every utterance of the
// clip, and returns once that is published. A failure is published as
// transcription:error to the user and returned as *protocol.Error.
func (rt *Runtime) TranscribeClip(ctx context.Context, spec protocol.StreamSpec, audio []byte, requestID string) error {
	if spec.Format == protocol.FormatOpus {
		// Raw Opus is one packet per chunk; a clip is one message.
		return protocol.Errorf(protocol.CodeUnsupportedFormat, "a transcription:request clip cannot be raw opus packets; use ogg or webm")
	}
	s, err := rt.newStream(spec, &clipState{requestID: requestID})
	if err != nil {
		return err
	}
	if err := s.open(ctx); err != nil {
		rt.release(s)
		close(s.done)
		return err
	}
	s.openUtterance()
	s.publishProcessing()
	s.mu.Lock()
	s.wrote = len(audio) > 0 // pushed below without Write
	s.mu.Unlock()
	rt.wg.Add(1)
	go s.run()
	for off := 0; off < len(audio); off += rt.opts.ClipChunkBytes {
		chunk := audio[off:min(off+rt.opts.ClipChunkBytes, len(audio))]
		if err := s.inQ.Push(ctx, inItem{chunk: chunk}, len(chunk)); err != nil {
			break // the stream ended early (its reason is in endErr) or ctx ended
		}
	}
	return s.Stop(ctx)
}

// newStream validates a spec and reserves the stream's place in its session.
func (rt *Runtime) newStream(spec protocol.StreamSpec, clip *clipState) (*stream, error) {
	def, err := rt.definition(spec.Pipeline)
	if err != nil {
		return nil, err
	}
	if err := checkFormat(spec); err != nil {
		return nil, err
	}
	if spec.Channels == 0 {
		spec.Channels = 1
	}
	id := "st-" + strconv.FormatUint(rt.nextID.Add(1), 10)
	rt.mu.Lock()
	defer rt.mu.Unlock()
	switch {
	case rt.closed:
		return nil, protocol.Errorf(protocol.CodePipelineUnavailable, "the server is shutting down")
	case rt.active >= rt.opts.MaxStreams:
		return nil, protocol.Errorf(protocol.CodePipelineUnavailable, "stream limit (%d) reached", rt.opts.MaxStreams)
	}
	sess := rt.sessions[spec.SessionID]
	if sess == nil {
		sess = newSession(rt, spec.SessionID, def)
		rt.sessions[spec.SessionID] = sess
	}
	if clip == nil {
		for _, o := range sess.streams {
			if o.clip == nil && o.spec.UserID == spec.UserID {
				return nil, protocol.Errorf(protocol.CodeStreamExists, "user %s already streams in session %s (%s)", spec.UserID, spec.SessionID, o.id)
			}
		}
	}
	s := newStream(rt, sess, def, spec, id, clip)
	sess.streams[id] = s
	rt.active++
	rt.m.streamsActive.Inc()
	return s, nil
}

// release forgets a stream that ended (or never started).
func (rt *Runtime) release(s *stream) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	s.cancel(errAborted)
	if _, ok := s.sess.streams[s.id]; ok {
		delete(s.sess.streams, s.id)
		rt.active--
		rt.m.streamsActive.Dec()
	}
}

// CloseSession ends a session's pipelines: its streams are drained (bounded by
// Options.DrainTimeout, then aborted) and its suggester stream closed. It does not
// wait; Close waits for everything.
func (rt *Runtime) CloseSession(sessionID string) {
	rt.mu.Lock()
	sess := rt.sessions[sessionID]
	delete(rt.sessions, sessionID)
	if sess != nil {
		rt.wg.Add(1)
	}
	rt.mu.Unlock()
	if sess == nil {
		return
	}
	go func() {
		defer rt.wg.Done()
		sess.shutdown()
	}()
}

// Close drains every stream (bounded by Options.DrainTimeout), closes the suggester
// streams and waits for every goroutine of the runtime. It is idempotent.
func (rt *Runtime) Close() error {
	rt.closeOnce.Do(func() {
		rt.mu.Lock()
		rt.closed = true
		sessions := rt.sessions
		rt.sessions = map[string]*session{}
		rt.wg.Add(len(sessions))
		rt.mu.Unlock()
		for _, sess := range sessions {
			go func() {
				defer rt.wg.Done()
				sess.shutdown()
			}()
		}
	})
	rt.wg.Wait()
	return nil
}

// sendFailed ends a stage attempt after a failed Send or CloseSend. When the plugin
// had ended the stream itself, Recv reports why (a coded error, say): it gets the
// chance to, within DrainTimeout, rather than the Send's "stream closed".
func (rt *Runtime) sendFailed(actx context.Context, cancel context.CancelCauseFunc, err error) {
	if rt.classify(err) == FaultEnded {
		t := time.NewTimer(rt.opts.DrainTimeout)
		defer t.Stop()
		select {
		case <-actx.Done():
			return
		case <-t.C:
		}
	}
	cancel(err)
}

// publishError tells a stream's owner about a transcription failure.
func (rt *Runtime) publishError(s *stream, code, msg string, retrying bool) {
	rt.pub.PublishToUser(s.spec.SessionID, s.spec.UserID, protocol.EventTranscriptionError, protocol.TranscriptionError{
		Code: code, Message: msg, SessionID: s.spec.SessionID, StreamID: s.id, Retrying: retrying,
	})
}
