package pipeline

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/earshot-dev/earshot/plugins/sdk"
	"github.com/earshot-dev/earshot/signaling/protocol"
)

// errEarlyEOF: a stage ended its stream before its input ended.
var errEarlyEOF = errors.New("pipeline: plugin ended the stream early")

// errAborted is the cause of an aborted stream.
var errAborted = errors.New("pipeline: stream aborted")

type streamState int

const (
	stateOpen     streamState = iota
	stateDraining             // input closed, stages flushing
	stateEnded
)

// pcmItem is one transcriber input with the time it left the decoder.
type pcmItem struct {
	in  sdk.AudioInput
	enq time.Time
}

// stream is one pipeline instance: decoder → transcriber for one user's audio in one
// session.
//
// Goroutines, all owned by the stream and ended before done is closed:
//
//	run                  started by OpenStream/TranscribeClip (counted in Runtime.wg);
//	                     runs the transcriber supervisor, waits for the decoder one
//	  runDecode          decoder supervisor: receives PCM, re-opens a failed decoder
//	    sendChunks       one per decoder attempt: input queue → decoder
//	  runTranscribe      transcriber supervisor: receives events, publishes results,
//	                     re-opens a failed transcriber and replays
//	    sendAudio        one per transcriber attempt: replay log, then PCM queue → transcriber
//
// Everything ends by the input queue closing (Stop, idle, Close: a drain) or by ctx
// being cancelled (abort). Each attempt's goroutine is waited for by its supervisor.
type stream struct {
	rt   *Runtime
	sess *session
	def  *Definition
	spec protocol.StreamSpec
	id   string
	log  hclog.Logger
	rate int
	clip *clipState // non-nil for a transcription:request clip

	ctx    context.Context // the stream's lifecycle; cancelled by abort
	cancel context.CancelCauseFunc
	done   chan struct{}

	inQ    *queue[inItem]  // chunks (and finalize requests) waiting for the decoder
	pcmQ   *queue[pcmItem] // PCM and controls waiting for the transcriber
	replay *replayLog

	dec DecodeStream     // the first attempt's, from open
	tr  TranscribeStream // the first attempt's, from open

	mu        sync.Mutex
	state     streamState
	endErr    *protocol.Error // why the stream ended early, for later calls
	seq       int64
	lastWrite time.Time
	wrote     bool        // a chunk was written: a decoder's refusal is about audio
	idle      *time.Timer // started by startIdle once the stages are open
	idleFired bool
	hdrBuf    []byte // the stream's first bytes until the container header is found
	hdrState  headerState
	header    []byte // the prefix a re-opened decoder is fed first

	decoded     atomic.Int64 // samples out of the decoder so far
	sentEnd     atomic.Int64 // end (ns) of the audio last sent to the transcriber
	decPending  atomic.Int64 // unix ns of the oldest chunk sent with no PCM back yet
	behind      atomic.Bool  // FALLING_BEHIND reported, not yet recovered
	errAnnounce atomic.Bool  // retrying error published for the current fault episode

	marksMu sync.Mutex
	marks   []mark // recent transcriber inputs, for latency metrics

	// Owned by the transcriber supervisor.
	utt       *utterance
	nextUtt   int
	lastEnd   time.Duration // end of the last final: later utterances start no earlier
	tmap      timeMap
	restart   map[string][]time.Time // per stage, recent restarts
	rmu       sync.Mutex
	sentBytes int64        // stream bytes handed to decoders (sender goroutines only)
	sentDone  atomic.Int64 // of which a decoder accepted
	lastSend  atomic.Int64 // unix ns of the last chunk sent to a decoder
	lastPCM   atomic.Int64 // unix ns of the last PCM received from a decoder
	blog      *byteLog     // chunks handed to the decoder and not known decoded
	resyncing bool         // a re-opened decoder waits for a point it can continue from
	oggPages  *oggRenumber // after a decoder restart on Ogg: pages renumbered to follow the header
}

type mark struct {
	end       time.Duration
	enq, sent time.Time
}

func newStream(rt *Runtime, sess *session, def *Definition, spec protocol.StreamSpec, id string, clip *clipState) *stream {
	ctx, cancel := context.WithCancelCause(context.Background())
	s := &stream{
		rt: rt, sess: sess, def: def, spec: spec, id: id, clip: clip,
		log:     rt.log.With("stream", id, "session", spec.SessionID, "user", spec.UserID),
		rate:    def.OutputRate,
		ctx:     ctx,
		cancel:  cancel,
		done:    make(chan struct{}),
		inQ:     newQueue[inItem](rt.opts.InputQueueBytes),
		pcmQ:    newQueue[pcmItem](rt.opts.PCMQueueBytes),
		replay:  newReplayLog(def.OutputRate, def.ReplayBuffer),
		blog:    &byteLog{max: decoderReplayBytes},
		restart: map[string][]time.Time{},
	}
	return s
}

// startIdle starts the idle timer once the stages are open: time spent opening (a
// plugin restarting can take up to ReadyTimeout) is not the user's silence.
func (s *stream) startIdle() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.clip != nil || s.state != stateOpen {
		return
	}
	s.lastWrite = time.Now()
	s.idle = time.AfterFunc(s.def.StreamIdleTimeout, s.idleCheck)
}

func (s *stream) format() sdk.Format {
	return sdk.Format{Container: s.spec.Format, SampleRate: s.spec.SampleRate, Channels: s.spec.Channels, OutputRate: s.rate}
}

// open opens the first decoder and transcriber streams. A plugin in the middle of a
// restart is waited for once.
func (s *stream) open(ctx context.Context) error {
	dec, err := openWithRetry(ctx, s.ctx, s.rt, s.def.Decoder.WaitReady, func(ctx context.Context) (DecodeStream, error) {
		return s.def.Decoder.OpenDecode(ctx, s.format())
	})
	if err != nil {
		return s.openError("decoder", err)
	}
	tr, err := openWithRetry(ctx, s.ctx, s.rt, s.def.Transcriber.WaitReady, s.openTranscribe)
	if err != nil {
		_ = dec.Close()
		return s.openError("transcriber", err)
	}
	s.dec, s.tr = dec, tr
	return nil
}

func (s *stream) openTranscribe(ctx context.Context) (TranscribeStream, error) {
	return s.def.Transcriber.OpenTranscribe(ctx, sdk.TranscribeStart{SampleRate: s.rate, Language: s.def.Language, Hints: s.def.Hints})
}

// closer is what every stage stream has.
type closer interface{ Close() error }

// openStage opens a stage stream. The plugin host ties a stream's life to the
// context given to Open, so that context is derived from life (the stream's or the
// session's lifecycle), never from a caller's request; the open itself is bounded by
// Options.CallTimeout and by the caller's ctx.
func openStage[T closer](caller, life context.Context, rt *Runtime, open func(context.Context) (T, error)) (T, error) {
	octx, cancel := context.WithCancelCause(life)
	timer := time.AfterFunc(rt.opts.CallTimeout, func() { cancel(errHung) })
	stop := context.AfterFunc(caller, func() { cancel(context.Cause(caller)) })
	v, err := open(octx)
	timedOut := !timer.Stop()
	stop()
	if err == nil && (timedOut || octx.Err() != nil) {
		_ = v.Close() // its context ended as it opened: the stream is dead already
		err = context.Cause(octx)
	}
	if err != nil {
		err = attemptErr(octx, err)
		cancel(nil)
		var zero T
		return zero, err
	}
	// cancel is released with life (the stream's or session's end).
	return v, nil
}

// openWithRetry opens a stage stream, waiting once for a plugin that is restarting.
func openWithRetry[T closer](caller, life context.Context, rt *Runtime, wait func(context.Context) error, open func(context.Context) (T, error)) (T, error) {
	for attempt := 0; ; attempt++ {
		v, err := openStage(caller, life, rt, open)
		if err == nil || attempt == 1 || caller.Err() != nil || life.Err() != nil || rt.classify(err) != FaultRestart {
			return v, err
		}
		wctx, cancel := context.WithTimeout(caller, rt.opts.ReadyTimeout)
		werr := wait(wctx)
		cancel()
		if werr != nil {
			return v, werr
		}
	}
}

// wireCode is the protocol code for a plugin's stream error. Plugins may use any
// code; clients get the contract's: the audio codes and INTERNAL pass, a plugin that
// cannot take the stream (UNAVAILABLE, e.g. all of sphinx's max_streams slots busy;
// BAD_CONFIG) is PIPELINE_UNAVAILABLE, and any other code is INTERNAL (the message
// keeps the plugin's words).
func wireCode(se *sdk.StreamError) string {
	switch se.Code {
	case protocol.CodeInvalidAudio, protocol.CodeUnsupportedFormat, protocol.CodeChunkTooLarge, protocol.CodeInternal:
		return se.Code
	case sdk.CodeUnavailable, sdk.CodeBadConfig:
		return protocol.CodePipelineUnavailable
	}
	return protocol.CodeInternal
}

func (s *stream) openError(stage string, err error) error {
	var se *sdk.StreamError
	if errors.As(err, &se) {
		switch se.Code {
		case protocol.CodeUnsupportedFormat, protocol.CodeInvalidAudio:
			return protocol.Errorf(se.Code, "%s", se.Message)
		}
		return protocol.Errorf(protocol.CodePipelineUnavailable, "%s: %s", stage, se.Message)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		if cause := context.Cause(s.ctx); cause == nil { // the caller's ctx, not a stage time-out
			return err
		}
	}
	s.log.Warn("cannot open stage", "stage", stage, "error", err)
	return protocol.Errorf(protocol.CodePipelineUnavailable, "the %s of pipeline %q is unavailable", stage, s.def.Name)
}

func (s *stream) ID() string { return s.id }

func (s *stream) endedError() error {
	if s.endErr != nil {
		return s.endErr
	}
	return protocol.Errorf(protocol.CodeNoStream, "stream %s has ended", s.id)
}

func (s *stream) Write(ctx context.Context, audio []byte) error {
	if limit := s.rt.opts.InputQueueBytes; len(audio) > limit {
		// Bigger than the stream's whole input buffer: it could only go in alone,
		// as seconds of audio at once, and then the stream falls behind.
		return protocol.Errorf(protocol.CodeChunkTooLarge, "audio chunk of %d bytes: the limit is %d (the stream's input buffer); send smaller chunks", len(audio), limit)
	}
	s.mu.Lock()
	if s.state != stateOpen {
		err := s.endedError()
		s.mu.Unlock()
		return err
	}
	s.lastWrite = time.Now()
	s.wrote = true
	if s.hdrState == headerMore {
		s.sniffHeader(audio)
	}
	s.mu.Unlock()

	chunk := bytes.Clone(audio)
	wctx, cancel := context.WithTimeout(ctx, s.rt.opts.WriteTimeout)
	err := s.inQ.Push(wctx, inItem{chunk: chunk}, len(chunk))
	cancel()
	switch {
	case errors.Is(err, errQueueClosed):
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.endedError()
	case err != nil && ctx.Err() == nil:
		s.reportBehind("the audio input queue is full")
		return protocol.Errorf(protocol.CodeFallingBehind, "the transcriber is falling behind real time; chunk refused, send it again later")
	case err != nil:
		return err
	}
	if s.def.RelayAudio {
		s.mu.Lock()
		seq := s.seq
		s.seq++
		rate, channels := s.relayFormatLocked()
		s.mu.Unlock()
		s.rt.pub.Publish(s.spec.SessionID, protocol.EventAudioReceived, protocol.AudioReceived{
			SessionID: s.spec.SessionID, FromUserID: s.spec.UserID,
			AudioData: base64.StdEncoding.EncodeToString(audio),
			Format:    s.spec.Format, SampleRate: rate, Channels: channels, Sequence: seq,
		}, nil, s.spec.UserID)
	}
	return nil
}

// relayFormatLocked is the rate and channel count audio:received announces: what
// the stream declared, else what its container says (a WAV header once read; Opus
// in WebM or Ogg is always 48 kHz, its channel count left to the container), else 0
// (not known yet).
func (s *stream) relayFormatLocked() (rate, channels int) {
	rate, channels = s.spec.SampleRate, s.spec.Channels
	switch s.spec.Format {
	case protocol.FormatWAV:
		if r, c := wavFormat(s.header); r > 0 { // the header wins, as in the decoder
			rate, channels = r, c
		}
	case protocol.FormatWebM, protocol.FormatOgg:
		rate, channels = 48000, 0 // channels: the container's to say
	}
	return rate, channels
}

// sniffHeader collects the stream's first bytes until the container header is known.
func (s *stream) sniffHeader(audio []byte) {
	if len(s.hdrBuf) == 0 {
		s.hdrBuf = audio // no copy until a second chunk is needed
	} else {
		s.hdrBuf = append(bytes.Clone(s.hdrBuf), audio...)
	}
	h, st := containerHeader(s.spec.Format, s.hdrBuf)
	switch {
	case st == headerDone:
		s.header = bytes.Clone(h)
	case st == headerMore && len(s.hdrBuf) < maxHeaderBytes:
		s.hdrBuf = bytes.Clone(s.hdrBuf)
		return
	case st != headerNone:
		s.log.Debug("no container header found", "format", s.spec.Format)
		st = headerNone
	}
	s.hdrState, s.hdrBuf = st, nil
}

func (s *stream) Finalize(ctx context.Context) error {
	s.mu.Lock()
	if s.state != stateOpen {
		err := s.endedError()
		s.mu.Unlock()
		return err
	}
	s.mu.Unlock()
	// In order with the chunks written before it: the decoder side passes it on once
	// their audio is decoded.
	err := s.inQ.Push(ctx, inItem{finalize: true}, 64)
	if errors.Is(err, errQueueClosed) {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.endedError()
	}
	return err
}

func (s *stream) Stop(ctx context.Context) error {
	s.beginDrain(false)
	select {
	case <-s.done:
	case <-ctx.Done():
		s.abort(context.Cause(ctx))
		<-s.done
		return ctx.Err()
	}
	if s.clip != nil {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.endErr != nil {
			return s.endErr
		}
	}
	return nil
}

// beginDrain closes the input: the stages flush and the stream ends by itself.
func (s *stream) beginDrain(idle bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != stateOpen {
		return
	}
	s.state = stateDraining
	s.idleFired = idle
	s.inQ.Close()
	if s.idle != nil {
		s.idle.Stop()
	}
}

// abort ends the stream now: stage calls are cancelled, queued input is dropped.
func (s *stream) abort(cause error) {
	s.mu.Lock()
	if s.state == stateOpen {
		s.state = stateDraining
	}
	s.mu.Unlock()
	s.cancel(cause)
	s.inQ.Close()
	s.inQ.Discard()
	s.pcmQ.Close()
	s.pcmQ.Discard()
}

// fail ends the stream with a coded reason that later calls return.
func (s *stream) fail(err *protocol.Error) {
	s.mu.Lock()
	if s.endErr == nil {
		s.endErr = err
	}
	s.mu.Unlock()
	s.abort(errAborted)
}

func (s *stream) idleCheck() {
	s.mu.Lock()
	if s.state != stateOpen {
		s.mu.Unlock()
		return
	}
	idle := s.def.StreamIdleTimeout
	if since := time.Since(s.lastWrite); since < idle {
		s.idle.Reset(idle - since)
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	s.log.Debug("stream idle: draining")
	s.beginDrain(true)
}

func (s *stream) stopIdle() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.idle != nil {
		s.idle.Stop()
	}
}

// run is the stream's owner goroutine.
func (s *stream) run() {
	defer s.rt.wg.Done()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.runDecode(s.dec)
	}()
	s.runTranscribe(s.tr)
	s.abort(errAborted) // the transcriber is done: nothing more can be used
	wg.Wait()

	s.mu.Lock()
	s.state = stateEnded
	reason := s.endErr
	idle := s.idleFired && reason == nil
	s.mu.Unlock()
	s.stopIdle()
	s.rt.release(s)
	if idle {
		reason = &protocol.Error{
			Code:      CodeStreamIdle,
			Message:   fmt.Sprintf("no audio for %s: stream %s was drained and closed", s.def.StreamIdleTimeout, s.id),
			SessionID: s.spec.SessionID,
		}
		s.rt.pub.PublishToUser(s.spec.SessionID, s.spec.UserID, protocol.EventAudioError, *reason)
	}
	if s.clip == nil && s.rt.opts.OnStreamEnd != nil {
		s.rt.opts.OnStreamEnd(s.spec, s.id, reason)
	}
	close(s.done)
}

// progress lets a drain watchdog see whether a receiver still makes progress.
type progress struct {
	n    atomic.Int64
	busy atomic.Bool // blocked handing output on (backpressure, not a hang)
}

// watchDrain cancels an attempt whose receiver made no progress for d after its
// input ended: the plugin hangs.
func watchDrain(ctx context.Context, d time.Duration, p *progress, cancel context.CancelCauseFunc) {
	t := time.NewTimer(d)
	defer t.Stop()
	last := p.n.Load()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			cur := p.n.Load()
			if cur == last && !p.busy.Load() {
				cancel(errHung)
				return
			}
			last = cur
			t.Reset(d)
		}
	}
}

// attemptErr picks the error that ended an attempt: the cause the sender or the
// watchdog recorded, else the receiver's own.
func attemptErr(actx context.Context, err error) error {
	if actx.Err() != nil {
		if c := context.Cause(actx); c != nil && !errors.Is(c, context.Canceled) {
			return c
		}
	}
	return err
}

// ---- decoder side ----

func (s *stream) runDecode(dec DecodeStream) {
	defer s.pcmQ.Close() // tells the transcriber side the audio has ended
	for {
		err := s.decodeAttempt(dec)
		_ = dec.Close()
		if err == nil || s.ctx.Err() != nil {
			s.log.Debug("decoder side ended", "error", err, "aborted", context.Cause(s.ctx))
			return
		}
		var se *sdk.StreamError
		switch s.rt.classify(err) {
		case FaultFatal:
			s.mu.Lock()
			wrote := s.wrote
			s.mu.Unlock()
			if !wrote {
				// A stream that never got a byte (started, then stopped or left
				// idle) has no audio to be invalid: a container decoder's "empty
				// stream" is not the owner's business, and an idle stream still
				// ends with STREAM_IDLE.
				s.log.Debug("decoder ended a stream that had no audio", "error", err)
				s.endInput(nil)
				return
			}
			code, msg := protocol.CodeInvalidAudio, err.Error()
			if errors.As(err, &se) {
				code, msg = wireCode(se), se.Message
			}
			s.log.Info("decoder refused the stream", "code", code, "message", msg)
			if s.clip == nil { // a clip's refusal is the answer to its request, sent by the caller
				s.rt.pub.PublishToUser(s.spec.SessionID, s.spec.UserID, protocol.EventAudioError, protocol.Error{Code: code, Message: msg, SessionID: s.spec.SessionID})
			}
			s.endInput(protocol.Errorf(code, "%s", msg)) // the transcriber still drains what was decoded
			return
		case FaultUnavailable:
			s.giveUp("decoder", err)
			return
		}
		var ok bool
		if dec, ok = s.reopenDecoder(err); !ok {
			return
		}
	}
}

// endInput refuses further input but lets decoded audio drain.
func (s *stream) endInput(reason *protocol.Error) {
	s.mu.Lock()
	if s.endErr == nil {
		s.endErr = reason
	}
	s.state = stateDraining
	s.mu.Unlock()
	s.inQ.Close()
	s.inQ.Discard()
	s.stopIdle()
}

func (s *stream) reopenDecoder(cause error) (DecodeStream, bool) {
	for {
		if !s.noteRestart("decode", cause) {
			return nil, false
		}
		d, err := restartStage(s, "decoder", s.def.Decoder.WaitReady, func(ctx context.Context) (DecodeStream, error) {
			return s.def.Decoder.OpenDecode(ctx, s.format())
		})
		if err != nil {
			if s.ctx.Err() == nil && s.rt.classify(err) == FaultRestart {
				cause = err
				continue
			}
			s.giveUp("decoder", err)
			return nil, false
		}
		s.mu.Lock()
		hdr := s.header
		s.mu.Unlock()
		s.resyncing = true
		s.oggPages = nil
		if s.spec.Format == protocol.FormatOgg && len(hdr) > 0 {
			s.oggPages = &oggRenumber{next: oggPages(hdr)}
		}
		s.log.Debug("decoder re-opened", "header", len(hdr), "sent", s.sentDone.Load())
		if len(hdr) > 0 {
			cctx, cancel := context.WithTimeoutCause(s.ctx, s.rt.opts.CallTimeout, errHung)
			err = d.Send(cctx, hdr)
			cancel()
			if err != nil {
				_ = d.Close()
				cause = err
				continue
			}
		}
		return d, true
	}
}

func (s *stream) decodeAttempt(dec DecodeStream) error {
	actx, cancel := context.WithCancelCause(s.ctx)
	var prog progress
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.sendChunks(actx, cancel, dec, &prog)
	}()
	defer func() {
		cancel(context.Canceled)
		wg.Wait()
	}()
	for {
		pcm, err := dec.Recv(actx)
		if err != nil {
			if errors.Is(err, io.EOF) && actx.Err() == nil {
				if s.inputEnded() {
					return nil
				}
				return errEarlyEOF
			}
			return attemptErr(actx, err)
		}
		prog.n.Add(1)
		if t := s.decPending.Swap(0); t != 0 {
			s.rt.m.stageLatency.WithLabelValues("decode").Observe(time.Since(time.Unix(0, t)).Seconds())
		}
		prog.busy.Store(true)
		// Not actx: decoded audio is kept even if the attempt fails meanwhile.
		err = s.pushPCM(s.ctx, pcm.Samples)
		prog.busy.Store(false)
		if err != nil {
			return attemptErr(actx, err)
		}
		s.ackDecoded()
		s.lastPCM.Store(time.Now().UnixNano())
	}
}

// inputEnded reports whether the decoder's input was closed (drain) and is empty.
func (s *stream) inputEnded() bool {
	s.inQ.mu.Lock()
	defer s.inQ.mu.Unlock()
	return s.inQ.closed && s.inQ.len() == 0
}

func (s *stream) sendChunks(actx context.Context, cancel context.CancelCauseFunc, dec DecodeStream, prog *progress) {
	if s.resyncing {
		// A re-opened decoder: first the bytes the old one may not have decoded.
		off, chunks := s.blog.From()
		s.log.Debug("replaying to the re-opened decoder", "from", off, "chunks", len(chunks))
		for _, b := range chunks {
			if err := s.sendBytes(actx, dec, b, off); err != nil {
				s.rt.sendFailed(actx, cancel, err)
				return
			}
			off += int64(len(b))
		}
	}
	for {
		chunk, err := s.inQ.Pop(actx)
		if errors.Is(err, io.EOF) {
			if err := dec.CloseSend(); err != nil {
				s.rt.sendFailed(actx, cancel, err)
				return
			}
			watchDrain(actx, s.rt.opts.DrainTimeout, prog, cancel)
			return
		}
		if err != nil {
			return // the attempt is over
		}
		if chunk.finalize {
			s.finalizeWhenDecoded(actx)
			continue
		}
		if err := s.sendChunk(actx, dec, chunk.chunk); err != nil {
			s.rt.sendFailed(actx, cancel, err) // the chunk stays in the byte log: a re-opened decoder gets it
			return
		}
	}
}

// inItem is an entry of a stream's input queue: a chunk, or a finalize request.
type inItem struct {
	chunk    []byte
	finalize bool
}

// Finalize waits at most this long for the decoder to deliver the audio written
// before it, and takes the decoder as done once it was quiet this long.
const (
	finalizeMaxWait = 500 * time.Millisecond
	finalizeQuiet   = 30 * time.Millisecond
)

// finalizeWhenDecoded sends ControlFinalize to the transcriber once the decoder has
// delivered the PCM of every chunk sent before the request (exactly known for raw
// PCM and WAV; otherwise when the decoder has been quiet for a moment), so that the
// words written before audio:finalize are part of the forced final.
func (s *stream) finalizeWhenDecoded(actx context.Context) {
	deadline := time.Now().Add(finalizeMaxWait)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !s.decoderCaughtUp() && time.Now().Before(deadline) {
		select {
		case <-actx.Done():
			deadline = time.Time{} // the decoder failed: pass the request on anyway
		case <-tick.C:
		}
	}
	at := samplesDur(int(s.decoded.Load()), s.rate)
	_ = s.pcmQ.Push(s.ctx, pcmItem{in: sdk.AudioInput{Start: at, Control: sdk.ControlFinalize}, enq: time.Now()}, 64)
}

func (s *stream) decoderCaughtUp() bool {
	if off, ok := s.decodedOffset(); ok && off >= s.sentBytes {
		return true
	}
	last := max(s.lastPCM.Load(), s.lastSend.Load())
	return time.Since(time.Unix(0, last)) >= finalizeQuiet
}

// sendChunk sends the stream's next chunk. It goes into the byte log first, so that
// if the decoder fails before decoding it, a re-opened one gets it.
func (s *stream) sendChunk(actx context.Context, dec DecodeStream, chunk []byte) error {
	off := s.sentBytes
	s.blog.Add(off, chunk)
	s.sentBytes = off + int64(len(chunk))
	if err := s.sendBytes(actx, dec, chunk, off); err != nil {
		return err
	}
	s.sentDone.Store(s.sentBytes)
	return nil
}

// sendBytes sends bytes found at stream offset off; after a decoder restart it first
// skips to a point the new decoder can continue from.
func (s *stream) sendBytes(actx context.Context, dec DecodeStream, b []byte, off int64) error {
	payload := b
	if s.resyncing {
		s.mu.Lock()
		hdr := s.header
		s.mu.Unlock()
		var ok bool
		payload, ok = resync(s.spec.Format, s.spec.Channels, hdr, b, off)
		s.resyncing = !ok
		if ok {
			s.log.Debug("re-opened decoder resynchronised", "offset", off, "skipped", len(b)-len(payload))
		}
	}
	if s.oggPages != nil && len(payload) > 0 {
		payload = s.oggPages.feed(payload)
	}
	if len(payload) == 0 {
		return nil
	}
	s.decPending.CompareAndSwap(0, time.Now().UnixNano())
	cctx, cancel := context.WithTimeoutCause(actx, s.rt.opts.CallTimeout, errHung)
	defer cancel()
	if err := dec.Send(cctx, payload); err != nil {
		return attemptErr(cctx, err)
	}
	s.lastSend.Store(time.Now().UnixNano())
	return nil
}

// ackDecoded forgets the bytes the decoder has provably turned into PCM. For raw
// PCM and WAV the decoded samples give the exact byte offset. For compressed formats
// everything sent before this PCM arrived counts as decoded: the decoder keeps up
// with real-time input, and replaying audio twice would duplicate words.
func (s *stream) ackDecoded() {
	if off, ok := s.decodedOffset(); ok {
		s.blog.TrimTo(off)
		return
	}
	s.blog.TrimTo(s.sentDone.Load())
}

// decodedOffset is the stream byte offset of the first input sample not yet decoded,
// for formats whose bytes map to samples exactly.
func (s *stream) decodedOffset() (int64, bool) {
	ch := max(s.spec.Channels, 1)
	var start int64
	var align, rate int
	switch s.spec.Format {
	case protocol.FormatPCM16:
		align, rate = 2*ch, s.spec.SampleRate
	case protocol.FormatF32:
		align, rate = 4*ch, s.spec.SampleRate
	case protocol.FormatWAV:
		s.mu.Lock()
		hdr := s.header
		s.mu.Unlock()
		if hdr == nil {
			return 0, false
		}
		start, align, rate = int64(len(hdr)), wavBlockAlign(hdr), wavSampleRate(hdr)
	default:
		return 0, false
	}
	if align <= 0 || rate <= 0 {
		return 0, false
	}
	frames := s.decoded.Load() * int64(rate) / int64(s.rate)
	return start + frames*int64(align), true
}

// pushPCM gives decoded audio to the transcriber side, timed by the samples decoded
// so far (the daemon's own clock of the stream, unaffected by decoder restarts).
func (s *stream) pushPCM(ctx context.Context, samples []int16) error {
	if len(samples) == 0 {
		return nil
	}
	start := samplesDur(int(s.decoded.Add(int64(len(samples))))-len(samples), s.rate)
	s.rt.m.audioSeconds.Add(float64(len(samples)) / float64(s.rate))
	it := pcmItem{in: sdk.AudioInput{Samples: samples, Start: start}, enq: time.Now()}
	size := 2 * len(samples)
	ok, err := s.pcmQ.TryPush(it, size)
	if err != nil {
		return err
	}
	if !ok {
		s.reportBehind("the transcriber input queue is full")
		return s.pcmQ.Push(ctx, it, size)
	}
	queued := samplesDur(s.pcmQ.Bytes()/2, s.rate)
	switch {
	case queued > s.rt.opts.FallingBehindAfter:
		s.reportBehind(fmt.Sprintf("%s of audio waits for the transcriber", queued.Round(time.Millisecond)))
	case queued < s.rt.opts.FallingBehindAfter/2:
		s.behind.Store(false)
	}
	return nil
}

// reportBehind reports once per episode that the transcriber falls behind real time.
// No audio is dropped: the queues apply backpressure up to Write.
func (s *stream) reportBehind(why string) {
	if !s.behind.CompareAndSwap(false, true) {
		return
	}
	s.rt.m.fallingBehind.Inc()
	s.log.Warn("transcriber falling behind real time", "why", why)
	s.rt.publishError(s, protocol.CodeFallingBehind, "the transcriber is falling behind real time: "+why, true)
}

// ---- transcriber side ----

func (s *stream) runTranscribe(tr TranscribeStream) {
	defer s.closeOpen()
	for {
		err := s.transcribeAttempt(tr)
		_ = tr.Close()
		if err == nil || s.ctx.Err() != nil {
			s.log.Debug("transcriber side ended", "error", err, "aborted", context.Cause(s.ctx))
			return
		}
		var se *sdk.StreamError
		switch s.rt.classify(err) {
		case FaultFatal:
			code, msg := protocol.CodeInternal, "the transcriber failed"
			if errors.As(err, &se) {
				code, msg = wireCode(se), se.Message
			}
			s.log.Error("transcriber stream failed", "error", err)
			s.rt.publishError(s, code, msg, false)
			s.fail(protocol.Errorf(code, "%s", msg))
			return
		case FaultUnavailable:
			s.giveUp("transcriber", err)
			return
		}
		var ok bool
		if tr, ok = s.reopenTranscriber(err); !ok {
			return
		}
	}
}

func (s *stream) reopenTranscriber(cause error) (TranscribeStream, bool) {
	for {
		if !s.noteRestart("transcribe", cause) {
			return nil, false
		}
		tr, err := restartStage(s, "transcriber", s.def.Transcriber.WaitReady, s.openTranscribe)
		if err == nil {
			return tr, true
		}
		if s.ctx.Err() != nil || s.rt.classify(err) != FaultRestart {
			s.giveUp("transcriber", err)
			return nil, false
		}
		cause = err
	}
}

// stageNames maps a stage's metric label to its name in messages.
var stageNames = map[string]string{"decode": "decoder", "transcribe": "transcriber"}

// noteRestart counts a restart against the stream's budget; false means the budget
// is spent and the stream was given up. stage is the metric label.
func (s *stream) noteRestart(stage string, cause error) bool {
	if s.ctx.Err() != nil {
		return false
	}
	now := time.Now()
	s.rmu.Lock()
	recent := s.restart[stage][:0]
	for _, t := range s.restart[stage] {
		if now.Sub(t) < s.rt.opts.RestartWindow {
			recent = append(recent, t)
		}
	}
	recent = append(recent, now)
	s.restart[stage] = recent
	n := len(recent)
	s.rmu.Unlock()
	s.log.Warn("plugin stream failed: restarting", "stage", stage, "error", cause, "restarts", n)
	if n > s.rt.opts.MaxRestarts {
		s.giveUp(stageNames[stage], fmt.Errorf("%d restarts within %s: %w", n-1, s.rt.opts.RestartWindow, cause))
		return false
	}
	s.rt.m.restarts.WithLabelValues(stage).Inc()
	if s.errAnnounce.CompareAndSwap(false, true) {
		s.rt.publishError(s, protocol.CodePipelineUnavailable, "a plugin of the pipeline failed; restarting it, no audio is lost", true)
	}
	return true
}

func restartStage[T closer](s *stream, stage string, wait func(context.Context) error, open func(context.Context) (T, error)) (T, error) {
	wctx, cancel := context.WithTimeout(s.ctx, s.rt.opts.ReadyTimeout)
	err := wait(wctx)
	cancel()
	if err != nil {
		if s.ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("%s not ready after %s: %w", stage, s.rt.opts.ReadyTimeout, ErrUnavailable)
		}
		var zero T
		return zero, err
	}
	return openStage(s.ctx, s.ctx, s.rt, open)
}

// giveUp ends the stream: the plugin cannot come back. When it is the decoder, the
// input ends but the PCM already decoded is still transcribed (its finals published),
// as when the decoder refuses the audio; when it is the transcriber, nothing queued
// can be used and the stream is aborted.
func (s *stream) giveUp(stage string, err error) {
	if s.ctx.Err() != nil {
		return
	}
	s.log.Error("plugin unavailable: stream closed", "stage", stage, "error", err)
	msg := fmt.Sprintf("the %s of pipeline %q is unavailable; the stream was closed", stage, s.def.Name)
	s.rt.publishError(s, protocol.CodePipelineUnavailable, msg, false)
	reason := protocol.Errorf(protocol.CodePipelineUnavailable, "%s", msg)
	if stage == "decoder" {
		s.endInput(reason) // runDecode returns next, closing the PCM queue: the transcriber drains
		return
	}
	s.fail(reason)
}

func (s *stream) transcribeAttempt(tr TranscribeStream) error {
	actx, cancel := context.WithCancelCause(s.ctx)
	snapshot := s.replay.Snapshot()
	base := time.Duration(s.sentEnd.Load())
	if len(snapshot) > 0 {
		base = snapshot[0].Start
	}
	s.tmap = timeMap{base: base}
	var prog progress
	return runAttempt(actx, cancel, &prog,
		func(sentAll chan struct{}) { s.sendAudio(actx, cancel, tr, snapshot, sentAll, &prog) },
		tr.Recv,
		func(ev TranscriptEvent) {
			s.errAnnounce.Store(false) // the plugin works again: a new fault is a new episode
			s.onEvent(ev)
		})
}

func (s *stream) sendAudio(actx context.Context, cancel context.CancelCauseFunc, tr TranscribeStream, replay []sdk.AudioInput, sentAll chan struct{}, prog *progress) {
	for _, in := range replay {
		if err := s.sendInput(actx, tr, in, time.Time{}); err != nil {
			s.rt.sendFailed(actx, cancel, err)
			return
		}
	}
	for {
		it, err := s.pcmQ.Pop(actx)
		if errors.Is(err, io.EOF) {
			close(sentAll) // before CloseSend: the receiver may see io.EOF at once
			if err := tr.CloseSend(); err != nil {
				s.rt.sendFailed(actx, cancel, err)
				return
			}
			watchDrain(actx, s.rt.opts.DrainTimeout, prog, cancel)
			return
		}
		if err != nil {
			return
		}
		if d := s.replay.Add(it.in); d > 0 {
			s.rt.m.replayDropped.Add(float64(d) / float64(s.rate))
		}
		if err := s.sendInput(actx, tr, it.in, it.enq); err != nil {
			s.rt.sendFailed(actx, cancel, err)
			return
		}
	}
}

func (s *stream) sendInput(actx context.Context, tr TranscribeStream, in sdk.AudioInput, enq time.Time) error {
	cctx, cancel := context.WithTimeoutCause(actx, s.rt.opts.CallTimeout, errHung)
	defer cancel()
	if err := tr.Send(cctx, in); err != nil {
		return attemptErr(cctx, err)
	}
	if len(in.Samples) > 0 {
		end := in.Start + samplesDur(len(in.Samples), s.rate)
		s.sentEnd.Store(int64(end))
		if !enq.IsZero() {
			s.addMark(mark{end: end, enq: enq, sent: time.Now()})
		}
	}
	return nil
}

const maxMarks = 256

func (s *stream) addMark(m mark) {
	s.marksMu.Lock()
	if len(s.marks) == maxMarks {
		copy(s.marks, s.marks[maxMarks/2:])
		s.marks = s.marks[:maxMarks/2]
	}
	s.marks = append(s.marks, m)
	s.marksMu.Unlock()
}

// markFor finds the input that carried the audio at t.
func (s *stream) markFor(t time.Duration) (mark, bool) {
	s.marksMu.Lock()
	defer s.marksMu.Unlock()
	for _, m := range s.marks {
		if m.end >= t {
			return m, true
		}
	}
	return mark{}, false
}
