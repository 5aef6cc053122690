package pipeline

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/plugins/sdk"
	"github.com/earshot-dev/earshot/signaling/protocol"
)

// ---- recording publisher ----

type published struct {
	session, event string
	payload        any
	roles          []string
	except         string
	toUser         string // set for PublishToUser
}

type recorder struct {
	mu      sync.Mutex
	events  []published
	changed chan struct{}
}

func newRecorder() *recorder { return &recorder{changed: make(chan struct{})} }

func (r *recorder) add(p published) {
	r.mu.Lock()
	r.events = append(r.events, p)
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
}

func (r *recorder) Publish(sessionID, event string, payload any, roles []string, except string) {
	r.add(published{session: sessionID, event: event, payload: payload, roles: roles, except: except})
}

func (r *recorder) PublishToUser(sessionID, userID, event string, payload any) {
	r.add(published{session: sessionID, event: event, payload: payload, toUser: userID})
}

func (r *recorder) all() []published {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]published(nil), r.events...)
}

// wait blocks until cond holds over the recorded events, or fails the test.
func (r *recorder) wait(t testing.TB, what string, cond func([]published) bool) []published {
	t.Helper()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		evs := append([]published(nil), r.events...)
		ch := r.changed
		r.mu.Unlock()
		if cond(evs) {
			return evs
		}
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s; events:\n%s", what, dump(evs))
		}
	}
}

func dump(evs []published) string {
	var b strings.Builder
	for _, e := range evs {
		b.WriteString(e.event)
		b.WriteString(" ")
		switch p := e.payload.(type) {
		case protocol.TranscriptionResult:
			b.WriteString(p.UtteranceID + " rev=" + strconv.Itoa(p.Revision) + " final=" + strconv.FormatBool(p.IsFinal) + " " + strconv.Quote(p.Text))
		case protocol.TranscriptionError:
			b.WriteString(p.Code + " retrying=" + strconv.FormatBool(p.Retrying))
		case protocol.Error:
			b.WriteString(p.Code)
		case protocol.TranscriptionProcessing:
			b.WriteString(p.UtteranceID)
		case protocol.Suggestions:
			b.WriteString(p.UtteranceID + " " + p.SetID)
		}
		b.WriteString("\n")
	}
	return b.String()
}

func results(evs []published) []protocol.TranscriptionResult {
	var out []protocol.TranscriptionResult
	for _, e := range evs {
		if r, ok := e.payload.(protocol.TranscriptionResult); ok {
			out = append(out, r)
		}
	}
	return out
}

func finals(evs []published) []protocol.TranscriptionResult {
	var out []protocol.TranscriptionResult
	for _, r := range results(evs) {
		if r.IsFinal {
			out = append(out, r)
		}
	}
	return out
}

func countEvent(evs []published, event string) int {
	n := 0
	for _, e := range evs {
		if e.event == event {
			n++
		}
	}
	return n
}

func finalCount(n int) func([]published) bool {
	return func(evs []published) bool { return len(finals(evs)) >= n }
}

// ---- test audio: frames whose sample value is a word id (0 = silence) ----

const frameSamples = 320 // 20 ms at 16 kHz

func frame(v int16) []byte {
	b := make([]byte, 2*frameSamples)
	for i := 0; i < frameSamples; i++ {
		binary.LittleEndian.PutUint16(b[2*i:], uint16(v))
	}
	return b
}

// script turns tokens into frames: a word id is said for 3 frames, 0 is one frame of
// silence. Four silences end an utterance for the fake transcriber.
func script(tokens ...int) [][]byte {
	var out [][]byte
	for _, t := range tokens {
		if t == 0 {
			out = append(out, frame(0))
			continue
		}
		for i := 0; i < 3; i++ {
			out = append(out, frame(int16(t)))
		}
	}
	return out
}

func silence(n int) []int {
	s := make([]int, n)
	return s
}

func words(ids ...int) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = "w" + strconv.Itoa(id)
	}
	return strings.Join(parts, " ")
}

// ---- fake decoder: pass-through pcm16 (and WAV behind a 44-byte header) ----

type fakeDecoder struct {
	mu          sync.Mutex
	opens       int
	failAfter   map[int]int // open number → fail after this many chunks
	unavailable bool        // WaitReady gives up
	lag         bool        // hold each chunk's PCM until the next chunk (lost if the decoder dies)
	endOnError  bool        // like the host: a coded error ends the stream, Send says "ended", Recv says why
}

// errEnded is what a fake's Send says after the plugin ended the stream.
var errEnded = errors.New("fake: stream ended by the plugin")

func (d *fakeDecoder) OpenDecode(ctx context.Context, f sdk.Format) (DecodeStream, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.opens++
	fs := &fakeDecodeStream{format: f, out: make(chan sdk.PCM, 4), failed: make(chan struct{}), failAfter: -1, life: ctx.Done()}
	if n, ok := d.failAfter[d.opens]; ok {
		fs.failAfter = n
	}
	fs.lag = d.lag
	fs.endOnError = d.endOnError
	fs.ended = make(chan struct{})
	return fs, nil
}

func (d *fakeDecoder) WaitReady(ctx context.Context) error {
	if d.unavailable {
		return ErrUnavailable
	}
	return nil
}

type fakeDecodeStream struct {
	life       <-chan struct{} // like the host's: the stream ends with its Open ctx
	format     sdk.Format
	mu         sync.Mutex
	out        chan sdk.PCM
	failed     chan struct{}
	failAfter  int
	chunks     int
	sawHeader  bool
	odd        []byte
	closed     bool
	lag        bool
	held       []int16
	endOnError bool
	ended      chan struct{}
	codedErr   error
}

func (s *fakeDecodeStream) Send(ctx context.Context, chunk []byte) error {
	if isDone(s.life) {
		return context.Canceled
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failAfter >= 0 && s.chunks >= s.failAfter {
		select {
		case <-s.failed:
		default:
			close(s.failed)
		}
		return ErrPluginFailed
	}
	s.chunks++
	if s.format.Container == protocol.FormatWAV && !s.sawHeader {
		if len(chunk) < 44 || !bytes.HasPrefix(chunk, []byte("RIFF")) {
			err := &sdk.StreamError{Code: sdk.CodeInvalidAudio, Message: "no WAV header"}
			if s.endOnError {
				if s.codedErr == nil {
					s.codedErr = err
					close(s.ended)
				}
				return errEnded
			}
			return err
		}
		s.sawHeader = true
		chunk = chunk[44:]
	}
	b := append(s.odd, chunk...)
	n := len(b) / 2
	pcm := make([]int16, n)
	for i := range pcm {
		pcm[i] = int16(binary.LittleEndian.Uint16(b[2*i:]))
	}
	s.odd = append([]byte(nil), b[2*n:]...)
	if s.lag {
		pcm, s.held = s.held, pcm
		n = len(pcm)
	}
	if n > 0 {
		select { // a bounded pipe, like a gRPC stream's window
		case s.out <- sdk.PCM{Samples: pcm}:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func (s *fakeDecodeStream) CloseSend() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		if len(s.held) > 0 {
			s.out <- sdk.PCM{Samples: s.held}
		}
		close(s.out)
	}
	return nil
}

func (s *fakeDecodeStream) Recv(ctx context.Context) (sdk.PCM, error) {
	select {
	case <-s.failed:
		return sdk.PCM{}, ErrPluginFailed
	case <-s.life:
		return sdk.PCM{}, context.Canceled
	default:
	}
	select {
	case p, ok := <-s.out:
		if !ok {
			s.mu.Lock()
			empty := s.format.Container == protocol.FormatWAV && s.chunks == 0
			s.mu.Unlock()
			if empty { // like the audio plugin's container parsers
				return sdk.PCM{}, &sdk.StreamError{Code: sdk.CodeInvalidAudio, Message: "empty WAV stream"}
			}
			return sdk.PCM{}, io.EOF
		}
		return p, nil
	case <-s.ended:
		return sdk.PCM{}, s.codedErr
	case <-s.failed:
		return sdk.PCM{}, ErrPluginFailed
	case <-ctx.Done():
		return sdk.PCM{}, ctx.Err()
	}
}

func (s *fakeDecodeStream) Close() error { return nil }

// slowOpenDecoder is a decoder stage whose first OpenDecode signals opened and then
// blocks until release is closed, like an open that waits for a restarting plugin.
type slowOpenDecoder struct {
	*fakeDecoder
	once    sync.Once
	opened  chan struct{}
	release chan struct{}
}

func (d *slowOpenDecoder) OpenDecode(ctx context.Context, f sdk.Format) (DecodeStream, error) {
	first := false
	d.once.Do(func() { first = true })
	if first {
		close(d.opened)
		select {
		case <-d.release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return d.fakeDecoder.OpenDecode(ctx, f)
}

// ---- fake transcriber: recognises word-id frames ----

// fakeTranscriber is a transcriber stage whose streams recognise the test audio: a
// run of frames of value v is the word "wv"; four silent frames end an utterance
// (a final with EndOfTurn). Behaviour per open number can be scripted.
type fakeTranscriber struct {
	mu          sync.Mutex
	opens       int
	failAfter   map[int]int // open number → fail (ErrPluginFailed) at this many inputs
	hangAfter   map[int]int // open number → Send blocks at this many inputs
	relative    bool        // time results by counted samples, not AudioInput.Start
	unavailable bool        // WaitReady gives up
	neverReady  bool        // WaitReady waits until its context ends
	gate        chan struct{}
	noFinal     bool          // never emit finals on silence (only on finalize/EOF)
	silentClose map[int]bool  // open number → CloseSend is swallowed (the plugin hangs at the end)
	outCap      int           // output buffer (default 8192 events)
	failErr     error         // what a failAfter failure is (default ErrPluginFailed)
	lookback    time.Duration // utterances start this much before their first word (a pre-speech buffer)
}

func (f *fakeTranscriber) OpenTranscribe(ctx context.Context, start sdk.TranscribeStart) (TranscribeStream, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.opens++
	if f.outCap == 0 {
		f.outCap = 8192
	}
	s := &fakeTranscribeStream{rate: start.SampleRate, out: make(chan TranscriptEvent, f.outCap), failed: make(chan struct{}),
		failAfter: -1, hangAfter: -1, relative: f.relative, gate: f.gate, noFinal: f.noFinal, life: ctx.Done()}
	s.failErr = cmp.Or(f.failErr, ErrPluginFailed)
	s.lookback = f.lookback
	if n, ok := f.failAfter[f.opens]; ok {
		s.failAfter = n
	}
	if n, ok := f.hangAfter[f.opens]; ok {
		s.hangAfter = n
	}
	s.silentClose = f.silentClose[f.opens]
	return s, nil
}

func (f *fakeTranscriber) WaitReady(ctx context.Context) error {
	if f.unavailable {
		return ErrUnavailable
	}
	if f.neverReady {
		<-ctx.Done()
		return ctx.Err()
	}
	return nil
}

func (f *fakeTranscriber) openCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.opens
}

type fakeTranscribeStream struct {
	life                 <-chan struct{} // like the host's: the stream ends with its Open ctx
	rate                 int
	mu                   sync.Mutex
	out                  chan TranscriptEvent
	failed               chan struct{}
	failErr              error
	lookback             time.Duration
	failAfter, hangAfter int
	relative             bool
	gate                 chan struct{}
	noFinal              bool
	silentClose          bool
	inputs               int
	counted              time.Duration
	closed               bool

	inUtt     bool
	words     []string
	start     time.Duration
	lastEnd   time.Duration
	silent    int
	lastValue int16
}

func (s *fakeTranscribeStream) Send(ctx context.Context, in sdk.AudioInput) error {
	if isDone(s.life) {
		return context.Canceled
	}
	if s.gate != nil {
		select {
		case <-s.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s.mu.Lock()
	if s.hangAfter >= 0 && s.inputs >= s.hangAfter {
		s.mu.Unlock()
		<-ctx.Done()
		return ctx.Err()
	}
	if s.failAfter >= 0 && s.inputs >= s.failAfter {
		select {
		case <-s.failed:
		default:
			close(s.failed)
		}
		s.mu.Unlock()
		return s.failErr
	}
	defer s.mu.Unlock()
	s.inputs++
	if in.Control == sdk.ControlFinalize {
		s.final(false)
		return nil
	}
	t0 := in.Start
	if s.relative {
		t0 = s.counted
	}
	s.counted += samplesDur(len(in.Samples), s.rate)
	for off := 0; off < len(in.Samples); off += frameSamples {
		v := in.Samples[off]
		ft := t0 + samplesDur(off, s.rate)
		fend := t0 + samplesDur(min(off+frameSamples, len(in.Samples)), s.rate)
		if v == 0 {
			s.lastValue = 0
			if s.inUtt {
				s.silent++
				if s.silent >= 4 && !s.noFinal {
					s.final(true)
				}
			}
			continue
		}
		if !s.inUtt {
			s.inUtt, s.start, s.words = true, max(ft-s.lookback, 0), nil
			s.emit(TranscriptEvent{Kind: SpeechStarted, At: ft})
		}
		s.silent = 0
		s.lastEnd = fend
		if v != s.lastValue {
			s.words = append(s.words, "w"+strconv.Itoa(int(v)))
			s.emit(TranscriptEvent{Kind: Partial, Result: s.result(false)})
		}
		s.lastValue = v
	}
	return nil
}

func (s *fakeTranscribeStream) result(eot bool) sdk.Result {
	return sdk.Result{Text: strings.Join(s.words, " "), Confidence: 0.9, Start: s.start, End: s.lastEnd, EndOfTurn: eot,
		Words: []sdk.WordResult{{Text: s.words[0], Start: s.start, End: s.lastEnd, Confidence: 0.9}}}
}

func (s *fakeTranscribeStream) final(eot bool) {
	if !s.inUtt {
		return
	}
	s.emit(TranscriptEvent{Kind: Final, Result: s.result(eot)})
	s.inUtt, s.words, s.silent, s.lastValue = false, nil, 0, 0
}

func (s *fakeTranscribeStream) emit(ev TranscriptEvent) { s.out <- ev }

func (s *fakeTranscribeStream) CloseSend() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed && !s.silentClose {
		s.final(false)
		s.closed = true
		close(s.out)
	}
	return nil
}

func (s *fakeTranscribeStream) Recv(ctx context.Context) (TranscriptEvent, error) {
	select {
	case <-s.failed: // a crashed process loses what it had not sent
		return TranscriptEvent{}, s.failErr
	case <-s.life:
		return TranscriptEvent{}, context.Canceled
	default:
	}
	select {
	case ev, ok := <-s.out:
		if !ok {
			return TranscriptEvent{}, io.EOF
		}
		return ev, nil
	case <-s.failed:
		return TranscriptEvent{}, s.failErr
	case <-ctx.Done():
		return TranscriptEvent{}, ctx.Err()
	}
}

func (s *fakeTranscribeStream) Close() error { return nil }

// ---- fake suggester: one set per utterance, superseding the previous one ----

type fakeSuggester struct {
	mu          sync.Mutex
	opens       int
	failAfter   map[int]int   // open number → the Send after this many fails (ErrPluginFailed)
	openErr     map[int]error // open number → OpenSuggest fails with this error
	unavailable bool          // WaitReady gives up
}

func (f *fakeSuggester) OpenSuggest(ctx context.Context, info sdk.SessionInfo) (SuggestStream, error) {
	f.mu.Lock()
	f.opens++
	if err := f.openErr[f.opens]; err != nil {
		f.mu.Unlock()
		return nil, err
	}
	fail := -1
	if n, ok := f.failAfter[f.opens]; ok {
		fail = n
	}
	f.mu.Unlock()
	return &fakeSuggestStream{out: make(chan sdk.SuggestionSet, 1024), life: ctx.Done(), failAfter: fail, failed: make(chan struct{})}, nil
}

func (f *fakeSuggester) openCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.opens
}

func (f *fakeSuggester) WaitReady(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.unavailable {
		return ErrUnavailable
	}
	return nil
}

type fakeSuggestStream struct {
	life      <-chan struct{}
	failAfter int
	sends     int
	failed    chan struct{}
	mu        sync.Mutex
	out       chan sdk.SuggestionSet
	last      string
	closed    bool
}

func (s *fakeSuggestStream) Send(ctx context.Context, u sdk.Utterance) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failAfter >= 0 && s.sends >= s.failAfter {
		select {
		case <-s.failed:
		default:
			close(s.failed)
		}
		return ErrPluginFailed
	}
	s.sends++
	set := sdk.SuggestionSet{ID: "set-" + u.UtteranceID, UtteranceID: u.UtteranceID, Question: u.Text,
		Suggestions: []sdk.Suggestion{{ID: "a", Text: "answer to " + u.Text, Kind: "answer", Score: 1}},
		Supersedes:  s.last, Final: true}
	s.last = set.ID
	s.out <- set
	return nil
}

func (s *fakeSuggestStream) CloseSend() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		close(s.out)
	}
	return nil
}

func (s *fakeSuggestStream) Recv(ctx context.Context) (sdk.SuggestionSet, error) {
	if isDone(s.life) {
		return sdk.SuggestionSet{}, context.Canceled
	}
	select {
	case <-s.failed:
		return sdk.SuggestionSet{}, ErrPluginFailed
	case set, ok := <-s.out:
		if !ok {
			return sdk.SuggestionSet{}, io.EOF
		}
		return set, nil
	case <-ctx.Done():
		return sdk.SuggestionSet{}, ctx.Err()
	}
}

func (s *fakeSuggestStream) Close() error { return nil }

var errTest = errors.New("test")

func isDone(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
