package pipeline

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"

	"github.com/earshot-dev/earshot/plugins/sdk"
	"github.com/earshot-dev/earshot/signaling/protocol"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type env struct {
	rt  *Runtime
	rec *recorder
	dec *fakeDecoder
	tr  *fakeTranscriber
	sug *fakeSuggester
	reg *prometheus.Registry
}

func newEnv(t testing.TB, mod func(*Options)) *env {
	t.Helper()
	e := &env{rec: newRecorder(), dec: &fakeDecoder{}, tr: &fakeTranscriber{}, sug: &fakeSuggester{}, reg: prometheus.NewRegistry()}
	opts := Options{
		Publisher:  e.rec,
		Registerer: e.reg,
		Definitions: []Definition{{
			Name: "p", Decoder: e.dec, Transcriber: e.tr, Suggester: e.sug, SuggesterName: "fake", ReplayBuffer: 30 * time.Second,
			SuggestFrom: []string{protocol.RoleInterviewer}, SuggestTo: []string{protocol.RoleCandidate},
		}},
		DefaultPipeline: "p",
		CallTimeout:     time.Second,
		DrainTimeout:    2 * time.Second,
	}
	if os.Getenv("PIPELINE_DEBUG") != "" {
		opts.Logger = hclog.New(&hclog.LoggerOptions{Level: hclog.Debug, Output: os.Stderr})
	}
	if mod != nil {
		mod(&opts)
	}
	rt, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	e.rt = rt
	t.Cleanup(func() { _ = rt.Close() })
	return e
}

func spec(session, user, role string) protocol.StreamSpec {
	return protocol.StreamSpec{SessionID: session, UserID: user, Role: role, Format: protocol.FormatPCM16, SampleRate: 16000, Channels: 1}
}

func (e *env) open(t testing.TB, sp protocol.StreamSpec) Stream {
	t.Helper()
	s, err := e.rt.OpenStream(context.Background(), sp)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func writeAll(t testing.TB, s Stream, frames [][]byte) {
	t.Helper()
	for _, f := range frames {
		if err := s.Write(context.Background(), f); err != nil {
			t.Fatalf("write: %v", err)
		}
	}
}

func stop(t testing.TB, s Stream) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Stop(ctx); err != nil {
		t.Fatalf("stop: %v", err)
	}
}

// checkGuarantees asserts the protocol's result guarantees over everything published.
func checkGuarantees(t testing.TB, evs []published) {
	t.Helper()
	type state struct {
		rev       int
		final     bool
		processed bool
	}
	utts := map[string]*state{}
	get := func(id string) *state {
		if utts[id] == nil {
			utts[id] = &state{}
		}
		return utts[id]
	}
	for _, e := range evs {
		switch p := e.payload.(type) {
		case protocol.TranscriptionProcessing:
			st := get(p.UtteranceID)
			if st.processed || st.rev > 0 {
				t.Errorf("processing for %s after it was announced", p.UtteranceID)
			}
			st.processed = true
		case protocol.TranscriptionResult:
			st := get(p.UtteranceID)
			if !st.processed {
				t.Errorf("result for %s before its processing event", p.UtteranceID)
			}
			if st.final {
				t.Errorf("result for %s after its final: rev %d %q", p.UtteranceID, p.Revision, p.Text)
			}
			if p.Revision != st.rev+1 {
				t.Errorf("%s: revision %d after %d", p.UtteranceID, p.Revision, st.rev)
			}
			if p.StartMs > p.EndMs || p.StartMs < 0 {
				t.Errorf("%s: bad times %d–%d", p.UtteranceID, p.StartMs, p.EndMs)
			}
			if p.EndOfTurn && !p.IsFinal {
				t.Errorf("%s: endOfTurn on a partial", p.UtteranceID)
			}
			st.rev = p.Revision
			st.final = p.IsFinal
		}
	}
	for id, st := range utts {
		if !st.final {
			t.Errorf("utterance %s has no final", id)
		}
	}
}

func finalTexts(evs []published) []string {
	var out []string
	for _, f := range finals(evs) {
		out = append(out, f.Text)
	}
	return out
}

func TestResultsAndGuarantees(t *testing.T) {
	e := newEnv(t, nil)
	s := e.open(t, spec("s1", "alice", protocol.RoleInterviewer))
	writeAll(t, s, script(append(append([]int{1, 2, 3}, silence(5)...), 4, 5)...))
	stop(t, s)
	evs := e.rec.all()
	checkGuarantees(t, evs)
	fs := finals(evs)
	if got, want := finalTexts(evs), []string{words(1, 2, 3), words(4, 5)}; !slices.Equal(got, want) {
		t.Fatalf("finals %q, want %q", got, want)
	}
	if !fs[0].EndOfTurn || fs[1].EndOfTurn {
		t.Errorf("endOfTurn: silence-ended %v (want true), stop-ended %v (want false)", fs[0].EndOfTurn, fs[1].EndOfTurn)
	}
	if fs[0].UtteranceID != s.ID()+"-1" || fs[1].UtteranceID != s.ID()+"-2" {
		t.Errorf("utterance ids %s, %s", fs[0].UtteranceID, fs[1].UtteranceID)
	}
	// Times: 9 frames of speech from 0; the second utterance starts after 9+5 frames.
	if fs[0].StartMs != 0 || fs[0].EndMs != 180 || fs[1].StartMs != 280 || fs[1].EndMs != 400 {
		t.Errorf("times %d–%d, %d–%d", fs[0].StartMs, fs[0].EndMs, fs[1].StartMs, fs[1].EndMs)
	}
	if fs[0].Revision != 4 || fs[0].Role != protocol.RoleInterviewer || fs[0].UserID != "alice" || fs[0].StreamID != s.ID() {
		t.Errorf("final %+v", fs[0])
	}
	if got := testutil.ToFloat64(e.rt.m.audioSeconds); got < 0.39 || got > 0.41 {
		t.Errorf("audio seconds %v, want 0.4", got)
	}
	if err := s.Write(context.Background(), frame(1)); !isCode(err, protocol.CodeNoStream) {
		t.Errorf("write after stop: %v, want NO_STREAM", err)
	}
}

func isCode(err error, code string) bool {
	var pe *protocol.Error
	return errors.As(err, &pe) && pe.Code == code
}

func TestOpenStreamErrors(t *testing.T) {
	e := newEnv(t, nil)
	bad := spec("s1", "u", "")
	bad.Format = "mp3"
	if _, err := e.rt.OpenStream(context.Background(), bad); !isCode(err, protocol.CodeUnsupportedFormat) {
		t.Errorf("mp3: %v", err)
	}
	bad = spec("s1", "u", "")
	bad.SampleRate = 0
	if _, err := e.rt.OpenStream(context.Background(), bad); !isCode(err, protocol.CodeUnsupportedFormat) {
		t.Errorf("pcm16 without rate: %v", err)
	}
	bad = spec("s1", "u", "")
	bad.Pipeline = "nope"
	if _, err := e.rt.OpenStream(context.Background(), bad); !isCode(err, protocol.CodePipelineUnavailable) {
		t.Errorf("unknown pipeline: %v", err)
	}
	s := e.open(t, spec("s1", "u", ""))
	if _, err := e.rt.OpenStream(context.Background(), spec("s1", "u", "")); !isCode(err, protocol.CodeStreamExists) {
		t.Errorf("second stream: %v", err)
	}
	e.open(t, spec("s2", "u", "")) // another session is fine
	stop(t, s)
	s = e.open(t, spec("s1", "u", "")) // and again after the first ended
	stop(t, s)
	if !e.rt.HasPipeline("p") || e.rt.HasPipeline("x") || e.rt.DefaultPipeline() != "p" {
		t.Error("HasPipeline/DefaultPipeline")
	}
}

func TestFinalize(t *testing.T) {
	e := newEnv(t, nil)
	s := e.open(t, spec("s1", "alice", ""))
	writeAll(t, s, script(1, 2))
	if err := s.Finalize(context.Background()); err != nil { // right after the writes
		t.Fatal(err)
	}
	e.rec.wait(t, "forced final", finalCount(1))
	writeAll(t, s, script(3, 4))
	stop(t, s)
	evs := e.rec.all()
	checkGuarantees(t, evs)
	if got, want := finalTexts(evs), []string{words(1, 2), words(3, 4)}; !slices.Equal(got, want) {
		t.Fatalf("finals %q, want %q", got, want)
	}
	if finals(evs)[0].EndOfTurn {
		t.Error("a forced final has endOfTurn")
	}
}

func waitDecoded(t testing.TB, st Stream, samples int) {
	t.Helper()
	s := st.(*stream)
	deadline := time.Now().Add(10 * time.Second)
	for s.decoded.Load() < int64(samples) {
		if time.Now().After(deadline) {
			t.Fatalf("decoded %d samples, want %d", s.decoded.Load(), samples)
		}
		time.Sleep(time.Millisecond) // polling a counter, not synchronising on time
	}
}

func TestReplayAfterTranscriberFailure(t *testing.T) {
	for _, relative := range []bool{false, true} {
		t.Run(map[bool]string{false: "absolute-times", true: "plugin-counts-samples"}[relative], func(t *testing.T) {
			e := newEnv(t, nil)
			e.tr.relative = relative
			// First open: one utterance completes, the second fails mid-way (input 16 of
			// the stream: after "w3" of the second utterance began).
			e.tr.failAfter = map[int]int{1: 16}
			s := e.open(t, spec("s1", "alice", ""))
			writeAll(t, s, script(append(append([]int{1, 2}, silence(4)...), 3, 4, 5)...))
			stop(t, s)
			evs := e.rec.all()
			checkGuarantees(t, evs)
			if got, want := finalTexts(evs), []string{words(1, 2), words(3, 4, 5)}; !slices.Equal(got, want) {
				t.Fatalf("finals %q, want %q\n%s", got, want, dump(evs))
			}
			fs := finals(evs)
			if fs[1].UtteranceID != s.ID()+"-2" || fs[1].StartMs != 200 || fs[1].EndMs != 380 {
				t.Errorf("second final %s %d–%d, want %s-2 200–380", fs[1].UtteranceID, fs[1].StartMs, fs[1].EndMs, s.ID())
			}
			var errs []protocol.TranscriptionError
			for _, ev := range evs {
				if p, ok := ev.payload.(protocol.TranscriptionError); ok {
					if ev.toUser != "alice" {
						t.Errorf("transcription:error to %q, want the owner", ev.toUser)
					}
					errs = append(errs, p)
				}
			}
			if len(errs) != 1 || !errs[0].Retrying {
				t.Errorf("errors %+v, want one retrying", errs)
			}
			if e.tr.openCount() != 2 {
				t.Errorf("transcriber opened %d times", e.tr.openCount())
			}
			if got := testutil.ToFloat64(e.rt.m.restarts.WithLabelValues("transcribe")); got != 1 {
				t.Errorf("restarts metric %v", got)
			}
		})
	}
}

func TestReplayDisabledStillClosesUtterance(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Definitions[0].ReplayBuffer = 0 })
	e.tr.failAfter = map[int]int{1: 5}
	s := e.open(t, spec("s1", "alice", ""))
	writeAll(t, s, script(1, 2, 3))
	stop(t, s)
	evs := e.rec.all()
	checkGuarantees(t, evs)
	// Without replay the restarted transcriber hears only what follows the failed
	// input ("w3"): the open utterance keeps its id and gets one final, words lost.
	fs := finals(evs)
	if len(fs) != 1 || fs[0].UtteranceID != s.ID()+"-1" || fs[0].Text != words(3) {
		t.Fatalf("finals %+v", fs)
	}
}

func TestHungTranscriberRestarts(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.CallTimeout = 50 * time.Millisecond })
	e.tr.hangAfter = map[int]int{1: 4}
	s := e.open(t, spec("s1", "alice", ""))
	writeAll(t, s, script(1, 2, 3))
	stop(t, s)
	evs := e.rec.all()
	checkGuarantees(t, evs)
	if got, want := finalTexts(evs), []string{words(1, 2, 3)}; !slices.Equal(got, want) {
		t.Fatalf("finals %q, want %q", got, want)
	}
}

func TestHungDrainRestarts(t *testing.T) {
	// The transcriber never answers after its input ends: the drain watchdog restarts
	// it and the replay yields the final.
	e := newEnv(t, func(o *Options) { o.DrainTimeout = 100 * time.Millisecond })
	e.tr.silentClose = map[int]bool{1: true}
	s := e.open(t, spec("s1", "alice", ""))
	writeAll(t, s, script(1, 2))
	stop(t, s)
	evs := e.rec.all()
	checkGuarantees(t, evs)
	if got, want := finalTexts(evs), []string{words(1, 2)}; !slices.Equal(got, want) {
		t.Fatalf("finals %q, want %q", got, want)
	}
	if e.tr.openCount() != 2 {
		t.Errorf("transcriber opened %d times, want a restart\n%s", e.tr.openCount(), dump(evs))
	}
}

func TestUnavailableClosesOnlyThatStream(t *testing.T) {
	e := newEnv(t, nil)
	e.tr.failAfter = map[int]int{1: 5}
	e.tr.unavailable = true
	s := e.open(t, spec("s1", "alice", ""))
	other := e.open(t, spec("s2", "bob", "")) // another session, whose stream works
	writeAll(t, s, script(1, 2))              // the 6th frame's Send fails
	evs := e.rec.wait(t, "retrying:false", func(evs []published) bool {
		for _, ev := range evs {
			if p, ok := ev.payload.(protocol.TranscriptionError); ok && !p.Retrying {
				return true
			}
		}
		return false
	})
	var got []protocol.TranscriptionError
	for _, ev := range evs {
		if p, ok := ev.payload.(protocol.TranscriptionError); ok {
			got = append(got, p)
		}
	}
	if len(got) != 2 || !got[0].Retrying || got[1].Retrying || got[1].Code != protocol.CodePipelineUnavailable {
		t.Errorf("errors %+v", got)
	}
	stop(t, s)
	checkGuarantees(t, e.rec.all())
	if err := s.Write(context.Background(), frame(1)); !isCode(err, protocol.CodePipelineUnavailable) {
		t.Errorf("write after give-up: %v", err)
	}
	writeAll(t, other, script(3, 4))
	stop(t, other)
	var texts []string
	for _, f := range finals(e.rec.all()) {
		if f.SessionID == "s2" {
			texts = append(texts, f.Text)
		}
	}
	if !slices.Equal(texts, []string{words(3, 4)}) {
		t.Errorf("the other session's finals %q", texts)
	}
}

func TestDecoderRestartRefeedsHeader(t *testing.T) {
	e := newEnv(t, nil)
	e.dec.failAfter = map[int]int{1: 4}
	e.dec.lag = true
	sp := spec("s1", "alice", "")
	sp.Format = protocol.FormatWAV
	s := e.open(t, sp)
	hdr := wavHeaderBytes()
	writeAll(t, s, append([][]byte{hdr}, script(1, 2, 3)...))
	stop(t, s)
	evs := e.rec.all()
	checkGuarantees(t, evs)
	// The chunk whose Send failed is re-sent after the header: nothing is lost.
	if got, want := finalTexts(evs), []string{words(1, 2, 3)}; !slices.Equal(got, want) {
		t.Fatalf("finals %q, want %q\n%s", got, want, dump(evs))
	}
	if e.dec.opens != 2 {
		t.Errorf("decoder opened %d times", e.dec.opens)
	}
	// Not a sample lost or repeated: the PCM the dead decoder had not delivered was
	// decoded again from the kept bytes.
	if f := finals(evs)[0]; f.StartMs != 0 || f.EndMs != 180 || s.(*stream).decoded.Load() != 9*frameSamples {
		t.Errorf("final %d–%d ms, %d samples decoded; want 0–180 ms, %d", f.StartMs, f.EndMs, s.(*stream).decoded.Load(), 9*frameSamples)
	}
}

func wavHeaderBytes() []byte {
	h := make([]byte, 44)
	copy(h, "RIFF\xff\xff\xff\xffWAVEfmt ")
	h[16] = 16
	h[20], h[22] = 1, 1                          // PCM, mono
	binary.LittleEndian.PutUint32(h[24:], 16000) // sample rate
	binary.LittleEndian.PutUint32(h[28:], 32000) // byte rate
	h[32], h[34] = 2, 16                         // block align, bits
	copy(h[36:], "data\xff\xff\xff\xff")
	return h
}

func TestDecoderRefusesAudio(t *testing.T) {
	for _, ended := range []bool{false, true} {
		t.Run(map[bool]string{false: "send-returns-code", true: "send-says-ended"}[ended], func(t *testing.T) {
			testDecoderRefusesAudio(t, ended)
		})
	}
}

// classifyEnded is the host's classifier as far as the fakes need it: a stream the
// plugin ended (errEnded) is FaultEnded.
func classifyEnded(o *Options) {
	o.Classify = func(err error) Fault {
		if errors.Is(err, errEnded) {
			return FaultEnded
		}
		return defaultClassify(err)
	}
}

func testDecoderRefusesAudio(t *testing.T, ended bool) {
	e := newEnv(t, classifyEnded)
	e.dec.endOnError = ended
	sp := spec("s1", "alice", "")
	sp.Format = protocol.FormatWAV
	s := e.open(t, sp)
	_ = s.Write(context.Background(), frame(1)) // no RIFF header
	e.rec.wait(t, "audio:error", func(evs []published) bool { return countEvent(evs, protocol.EventAudioError) == 1 })
	stop(t, s)
	if err := s.Write(context.Background(), frame(1)); !isCode(err, protocol.CodeInvalidAudio) {
		t.Errorf("write after refusal: %v", err)
	}
}

// idleEnv is an env whose streams close after 100 ms without audio; ended gets
// each stream's end reason.
func idleEnv(t *testing.T) (e *env, ended chan *protocol.Error) {
	ended = make(chan *protocol.Error, 2)
	e = newEnv(t, func(o *Options) {
		o.Definitions[0].StreamIdleTimeout = 100 * time.Millisecond
		o.OnStreamEnd = func(spec protocol.StreamSpec, id string, reason *protocol.Error) { ended <- reason }
	})
	return e, ended
}

func TestIdleTimeoutDrains(t *testing.T) {
	e, ended := idleEnv(t)
	s := e.open(t, spec("s1", "alice", ""))
	writeAll(t, s, script(1, 2))
	evs := e.rec.wait(t, "idle notice", func(evs []published) bool { return countEvent(evs, protocol.EventAudioError) == 1 })
	checkGuarantees(t, evs)
	if got := finalTexts(evs); !slices.Equal(got, []string{words(1, 2)}) {
		t.Errorf("finals %q", got)
	}
	last := evs[len(evs)-1]
	if p, ok := last.payload.(protocol.Error); !ok || p.Code != CodeStreamIdle || last.toUser != "alice" {
		t.Errorf("last event %+v, want STREAM_IDLE to alice after the final", last)
	}
	if err := s.Write(context.Background(), frame(1)); !isCode(err, protocol.CodeNoStream) {
		t.Errorf("write after idle close: %v", err)
	}
	if r := <-ended; r == nil || r.Code != CodeStreamIdle {
		t.Errorf("OnStreamEnd reason %v", r)
	}
	// The user can open a new stream.
	stop(t, e.open(t, spec("s1", "alice", "")))
	if r := <-ended; r != nil {
		t.Errorf("OnStreamEnd after Stop: %v", r)
	}
}

// TestPluginCodesOnTheWire: a plugin's own stream error codes reach clients as the
// contract's: UNAVAILABLE (a transcriber with every slot busy) and BAD_CONFIG as
// PIPELINE_UNAVAILABLE, unknown codes as INTERNAL, the audio codes as they are.
func TestPluginCodesOnTheWire(t *testing.T) {
	for _, tc := range []struct{ plugin, want string }{
		{sdk.CodeUnavailable, protocol.CodePipelineUnavailable},
		{sdk.CodeBadConfig, protocol.CodePipelineUnavailable},
		{"QUOTA_EXCEEDED", protocol.CodeInternal},
		{sdk.CodeInvalidAudio, protocol.CodeInvalidAudio},
	} {
		t.Run(tc.plugin, func(t *testing.T) {
			e := newEnv(t, nil)
			e.tr.failAfter = map[int]int{1: 0}
			e.tr.failErr = &sdk.StreamError{Code: tc.plugin, Message: "no"}
			s := e.open(t, spec("s1", "alice", ""))
			_ = s.Write(context.Background(), frame(1))
			evs := e.rec.wait(t, "transcription:error", func(evs []published) bool {
				return countEvent(evs, protocol.EventTranscriptionError) == 1
			})
			for _, ev := range evs {
				if p, ok := ev.payload.(protocol.TranscriptionError); ok && (p.Code != tc.want || p.Retrying) {
					t.Errorf("transcription:error %+v, want %s, not retrying", p, tc.want)
				}
			}
		})
	}
}

// TestUtterancesDoNotOverlap: a transcriber that starts an utterance on audio
// before its first word (a pre-speech buffer) would make it overlap the final
// before it, when that final was forced; published times never overlap.
func TestUtterancesDoNotOverlap(t *testing.T) {
	e := newEnv(t, nil)
	e.tr.lookback = 200 * time.Millisecond
	s := e.open(t, spec("s1", "alice", ""))
	writeAll(t, s, script(1, 2))
	if err := s.Finalize(context.Background()); err != nil {
		t.Fatal(err)
	}
	writeAll(t, s, script(3))
	stop(t, s)
	fs := finals(e.rec.wait(t, "two finals", finalCount(2)))
	if len(fs) != 2 {
		t.Fatalf("finals %+v", fs)
	}
	if fs[1].StartMs < fs[0].EndMs || fs[1].Words[0].StartMs < fs[0].EndMs {
		t.Errorf("second utterance starts at %d ms (first word %d ms), before the first ended at %d ms",
			fs[1].StartMs, fs[1].Words[0].StartMs, fs[0].EndMs)
	}
	if fs[1].EndMs < fs[1].StartMs {
		t.Errorf("second utterance %d-%d ms", fs[1].StartMs, fs[1].EndMs)
	}
}

// TestChunkTooLarge: a chunk bigger than the stream's input buffer is refused with
// CHUNK_TOO_LARGE and the stream carries on.
func TestChunkTooLarge(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.InputQueueBytes = 64 << 10 })
	s := e.open(t, spec("s1", "alice", ""))
	if err := s.Write(context.Background(), make([]byte, 64<<10+2)); !isCode(err, protocol.CodeChunkTooLarge) {
		t.Fatalf("oversized chunk: %v", err)
	}
	writeAll(t, s, script(1, 2))
	stop(t, s)
	if got := finalTexts(e.rec.wait(t, "final", finalCount(1))); !slices.Equal(got, []string{words(1, 2)}) {
		t.Errorf("finals %q", got)
	}
}

// TestStreamWithoutAudio: a container stream that never got a byte ends without
// the decoder's "empty stream" refusal reaching its owner: audio:stop ends it
// quietly, the idle timeout with STREAM_IDLE.
func TestStreamWithoutAudio(t *testing.T) {
	e, ended := idleEnv(t)
	sp := spec("s1", "alice", "")
	sp.Format = protocol.FormatWAV
	stop(t, e.open(t, sp))
	if r := <-ended; r != nil {
		t.Errorf("OnStreamEnd after Stop: %v", r)
	}
	e.open(t, sp)
	if r := <-ended; r == nil || r.Code != CodeStreamIdle {
		t.Errorf("OnStreamEnd reason %v, want STREAM_IDLE", r)
	}
	evs := e.rec.wait(t, "idle notice", func(evs []published) bool { return countEvent(evs, protocol.EventAudioError) >= 1 })
	for _, ev := range evs {
		if p, ok := ev.payload.(protocol.Error); ok && p.Code != CodeStreamIdle {
			t.Errorf("owner got %+v", p)
		}
	}
}

func TestBackpressureFallingBehind(t *testing.T) {
	gate := make(chan struct{})
	e := newEnv(t, func(o *Options) {
		o.InputQueueBytes = 4 * 640
		o.PCMQueueBytes = 8 * 640
		o.FallingBehindAfter = 100 * time.Millisecond
		o.WriteTimeout = 50 * time.Millisecond
		o.CallTimeout = time.Minute
	})
	e.tr.gate = gate
	s := e.open(t, spec("s1", "alice", ""))
	frames := script(1, 2, 3, 4, 5, 6, 7, 8, 9)
	var accepted []int
	refused := false
	for i, f := range frames {
		err := s.Write(context.Background(), f)
		if isCode(err, protocol.CodeFallingBehind) {
			refused = true
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		accepted = append(accepted, i)
	}
	if !refused {
		t.Fatal("Write never refused a chunk while the transcriber was stuck")
	}
	evs := e.rec.all()
	n := 0
	for _, ev := range evs {
		if p, ok := ev.payload.(protocol.TranscriptionError); ok && p.Code == protocol.CodeFallingBehind && p.Retrying {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d FALLING_BEHIND errors, want 1", n)
	}
	if got := testutil.ToFloat64(e.rt.m.fallingBehind); got != 1 {
		t.Errorf("falling behind metric %v", got)
	}
	close(gate)
	stop(t, s)
	// Every accepted frame was transcribed: nothing dropped silently.
	var ids []int
	for _, i := range accepted {
		if id := i/3 + 1; len(ids) == 0 || ids[len(ids)-1] != id {
			ids = append(ids, id)
		}
	}
	got := finalTexts(e.rec.all())
	if len(got) != 1 || got[0] != words(ids...) {
		t.Errorf("finals %q after %d accepted frames", got, len(accepted))
	}
	if s.(*stream).decoded.Load() != int64(len(accepted)*frameSamples) {
		t.Errorf("decoded %d samples, accepted %d frames", s.(*stream).decoded.Load(), len(accepted))
	}
}

func TestRelayAudio(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Definitions[0].RelayAudio = true })
	s := e.open(t, spec("s1", "alice", ""))
	writeAll(t, s, [][]byte{frame(1), frame(2)})
	stop(t, s)
	var got []protocol.AudioReceived
	for _, ev := range e.rec.all() {
		if p, ok := ev.payload.(protocol.AudioReceived); ok {
			if ev.except != "alice" || ev.roles != nil {
				t.Errorf("relay to roles %v except %q", ev.roles, ev.except)
			}
			got = append(got, p)
		}
	}
	if len(got) != 2 || got[0].Sequence != 0 || got[1].Sequence != 1 || got[0].FromUserID != "alice" || got[0].Format != protocol.FormatPCM16 {
		t.Fatalf("relays %+v", got)
	}
	if b, _ := base64.StdEncoding.DecodeString(got[1].AudioData); string(b) != string(frame(2)) {
		t.Error("relayed audio differs")
	}
}

// TestRelayFormat: audio:received says the rate and channels of container streams
// that did not declare them: the WAV header's, Opus's 48 kHz.
func TestRelayFormat(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Definitions[0].RelayAudio = true })
	hdr := make([]byte, 44)
	copy(hdr, "RIFF\x00\x00\x00\x00WAVEfmt ")
	binary.LittleEndian.PutUint32(hdr[16:], 16)
	binary.LittleEndian.PutUint16(hdr[20:], 1)     // PCM
	binary.LittleEndian.PutUint16(hdr[22:], 2)     // channels
	binary.LittleEndian.PutUint32(hdr[24:], 22050) // rate
	copy(hdr[36:], "data")
	for _, tc := range []struct {
		format         string
		first          []byte
		rate, channels int
	}{
		{protocol.FormatWAV, append(hdr, frame(1)...), 22050, 2},
		{protocol.FormatWebM, []byte{0x1a, 0x45, 0xdf, 0xa3}, 48000, 0},
	} {
		sp := spec("s1", "alice", "")
		sp.Format, sp.SampleRate, sp.Channels = tc.format, 0, 0
		s := e.open(t, sp)
		_ = s.Write(context.Background(), tc.first)
		_ = s.Stop(context.Background())
		var got *protocol.AudioReceived
		for _, ev := range e.rec.all() {
			if p, ok := ev.payload.(protocol.AudioReceived); ok && p.Format == tc.format {
				got = &p
			}
		}
		if got == nil || got.SampleRate != tc.rate || got.Channels != tc.channels {
			t.Errorf("%s: relay %+v, want %d Hz, %d channels", tc.format, got, tc.rate, tc.channels)
		}
	}
}

func TestSuggestionsRolesAndSupersede(t *testing.T) {
	e := newEnv(t, nil)
	iv := e.open(t, spec("s1", "ivan", protocol.RoleInterviewer))
	ca := e.open(t, spec("s1", "cara", protocol.RoleCandidate))
	writeAll(t, iv, script(append([]int{1, 2}, silence(4)...)...))
	e.rec.wait(t, "first suggestion", func(evs []published) bool { return countEvent(evs, protocol.EventSuggestions) == 1 })
	writeAll(t, ca, script(append([]int{3}, silence(4)...)...))
	e.rec.wait(t, "candidate final", finalCount(2))
	writeAll(t, iv, script(append([]int{4}, silence(4)...)...))
	e.rec.wait(t, "second suggestion", func(evs []published) bool { return countEvent(evs, protocol.EventSuggestions) == 2 })
	stop(t, iv)
	stop(t, ca)
	e.rt.CloseSession("s1")
	if err := e.rt.Close(); err != nil {
		t.Fatal(err)
	}
	var sets []protocol.Suggestions
	for _, ev := range e.rec.all() {
		if p, ok := ev.payload.(protocol.Suggestions); ok {
			if !slices.Equal(ev.roles, []string{protocol.RoleCandidate}) {
				t.Errorf("suggestions to %v", ev.roles)
			}
			sets = append(sets, p)
		}
	}
	if len(sets) != 2 {
		t.Fatalf("%d suggestion sets, want 2 (the candidate's final triggers none)", len(sets))
	}
	if sets[0].Question != words(1, 2) || sets[0].Source != "fake" || sets[1].Question != words(4) {
		t.Errorf("sets %+v", sets)
	}
	// The suggester saw the candidate's final too, so the interviewer's second set
	// supersedes the (unpublished) set answering the candidate.
	if sets[1].Supersedes != "set-"+ca.ID()+"-1" {
		t.Errorf("supersedes %q", sets[1].Supersedes)
	}
	if e.sug.opens != 1 {
		t.Errorf("suggester opened %d times for one session", e.sug.opens)
	}
}

// askTwoQuestions streams two interviewer utterances, each followed by silence,
// waiting for each one's suggestion set, and stops the stream.
func askTwoQuestions(t *testing.T, e *env) []published {
	t.Helper()
	iv := e.open(t, spec("s1", "ivan", protocol.RoleInterviewer))
	writeAll(t, iv, script(append([]int{1}, silence(4)...)...))
	e.rec.wait(t, "first suggestion", func(evs []published) bool { return countEvent(evs, protocol.EventSuggestions) == 1 })
	writeAll(t, iv, script(append([]int{2}, silence(4)...)...))
	evs := e.rec.wait(t, "second suggestion", func(evs []published) bool { return countEvent(evs, protocol.EventSuggestions) == 2 })
	stop(t, iv)
	return evs
}

func TestSuggesterRestartResendsUnanswered(t *testing.T) {
	e := newEnv(t, nil)
	e.sug.failAfter = map[int]int{1: 1} // the second final kills the suggester
	evs := askTwoQuestions(t, e)
	var qs []string
	for _, ev := range evs {
		if p, ok := ev.payload.(protocol.Suggestions); ok {
			qs = append(qs, p.Question)
		}
	}
	if !slices.Equal(qs, []string{words(1), words(2)}) || e.sug.openCount() != 2 {
		t.Errorf("suggestions for %q after %d opens", qs, e.sug.openCount())
	}
	if got := testutil.ToFloat64(e.rt.m.restarts.WithLabelValues("suggest")); got != 1 {
		t.Errorf("suggest restarts %v", got)
	}
}

func TestTranscribeClip(t *testing.T) {
	e := newEnv(t, nil)
	var audio []byte
	for _, f := range script(append(append([]int{1, 2}, silence(5)...), 3)...) {
		audio = append(audio, f...)
	}
	if err := e.rt.TranscribeClip(context.Background(), spec("s1", "alice", ""), audio, "req-1"); err != nil {
		t.Fatal(err)
	}
	evs := e.rec.all()
	checkGuarantees(t, evs)
	rs := results(evs)
	if len(rs) != 1 || !rs[0].IsFinal || rs[0].Text != words(1, 2)+" "+words(3) || rs[0].RequestID == nil || *rs[0].RequestID != "req-1" {
		t.Fatalf("results %+v", rs)
	}
	if rs[0].StartMs != 0 || rs[0].EndMs != 280 {
		t.Errorf("clip span %d–%d", rs[0].StartMs, rs[0].EndMs)
	}
	var proc []protocol.TranscriptionProcessing
	for _, ev := range evs {
		if p, ok := ev.payload.(protocol.TranscriptionProcessing); ok {
			proc = append(proc, p)
		}
	}
	if len(proc) != 1 || proc[0].RequestID == nil || *proc[0].RequestID != "req-1" || proc[0].UtteranceID != rs[0].UtteranceID {
		t.Errorf("processing %+v", proc)
	}
	// A clip with no speech still gets its one final.
	if err := e.rt.TranscribeClip(context.Background(), spec("s1", "alice", ""), frame(0), "req-2"); err != nil {
		t.Fatal(err)
	}
	rs = results(e.rec.all())
	if len(rs) != 2 || rs[1].Text != "" || *rs[1].RequestID != "req-2" {
		t.Errorf("empty clip results %+v", rs)
	}
}

func TestTranscribeClipFailure(t *testing.T) {
	e := newEnv(t, nil)
	e.tr.failAfter = map[int]int{1: 2}
	e.tr.unavailable = true
	var audio []byte
	for _, f := range script(1, 2) {
		audio = append(audio, f...)
	}
	e.rt.opts.ClipChunkBytes = 640
	err := e.rt.TranscribeClip(context.Background(), spec("s1", "alice", ""), audio, "r")
	if !isCode(err, protocol.CodePipelineUnavailable) {
		t.Fatalf("clip error %v", err)
	}
	evs := e.rec.all()
	checkGuarantees(t, evs) // the announced utterance still gets its (empty) final
	if rs := results(evs); len(rs) != 1 || *rs[0].RequestID != "r" {
		t.Errorf("results %+v", rs)
	}
}

// TestTranscribeClipInvalidAudio: a clip the decoder refuses is answered once,
// by the call's error; the runtime does not also send the owner audio:error.
func TestTranscribeClipInvalidAudio(t *testing.T) {
	e := newEnv(t, classifyEnded)
	e.dec.endOnError = true // as the host does
	sp := spec("s1", "alice", "")
	sp.Format = protocol.FormatWAV
	err := e.rt.TranscribeClip(context.Background(), sp, frame(1), "r") // no RIFF header
	if !isCode(err, protocol.CodeInvalidAudio) {
		t.Fatalf("clip error %v", err)
	}
	if n := countEvent(e.rec.all(), protocol.EventAudioError); n != 0 {
		t.Errorf("%d audio:error events published besides the call's error", n)
	}
}

func TestTranscribeClipSurvivesRestart(t *testing.T) {
	e := newEnv(t, nil)
	e.tr.failAfter = map[int]int{1: 3}
	var audio []byte
	for _, f := range script(1, 2, 3) {
		audio = append(audio, f...)
	}
	// One chunk per frame so the failure lands mid-clip.
	e.rt.opts.ClipChunkBytes = 640
	if err := e.rt.TranscribeClip(context.Background(), spec("s1", "alice", ""), audio, "r"); err != nil {
		t.Fatal(err)
	}
	rs := results(e.rec.all())
	if len(rs) != 1 || rs[0].Text != words(1, 2, 3) {
		t.Fatalf("results %+v", rs)
	}
}

func TestCloseSessionAndClose(t *testing.T) {
	e := newEnv(t, nil)
	a := e.open(t, spec("s1", "alice", protocol.RoleInterviewer))
	b := e.open(t, spec("s2", "bob", protocol.RoleInterviewer))
	writeAll(t, a, script(1, 2))
	writeAll(t, b, script(3))
	e.rt.CloseSession("s1")
	e.rec.wait(t, "s1 drained", func(evs []published) bool {
		for _, f := range finals(evs) {
			if f.SessionID == "s1" {
				return true
			}
		}
		return false
	})
	if err := b.Write(context.Background(), frame(0)); err != nil {
		t.Errorf("other session's stream: %v", err)
	}
	if err := e.rt.Close(); err != nil {
		t.Fatal(err)
	}
	_ = e.rt.Close() // idempotent
	evs := e.rec.all()
	checkGuarantees(t, evs)
	if got := finalTexts(evs); len(got) != 2 {
		t.Errorf("finals %q, want both streams drained", got)
	}
	if _, err := e.rt.OpenStream(context.Background(), spec("s3", "c", "")); !isCode(err, protocol.CodePipelineUnavailable) {
		t.Errorf("open after Close: %v", err)
	}
	if testutil.ToFloat64(e.rt.m.streamsActive) != 0 {
		t.Error("streams_active not back to 0")
	}
}

func TestStopAbortsOnContext(t *testing.T) {
	gate := make(chan struct{})
	defer close(gate)
	e := newEnv(t, func(o *Options) { o.CallTimeout = time.Minute })
	e.tr.gate = gate
	s := e.open(t, spec("s1", "alice", ""))
	writeAll(t, s, script(1))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Stop(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("stop: %v", err)
	}
}

// transcriptionErrors lists the transcription:error events published.
func transcriptionErrors(evs []published) []published {
	var out []published
	for _, ev := range evs {
		if _, ok := ev.payload.(protocol.TranscriptionError); ok {
			out = append(out, ev)
		}
	}
	return out
}

func hasGiveUp(evs []published) bool {
	for _, ev := range transcriptionErrors(evs) {
		if p := ev.payload.(protocol.TranscriptionError); !p.Retrying && p.Code == protocol.CodePipelineUnavailable {
			return true
		}
	}
	return false
}

func TestDecoderGiveUpStillTranscribesDecodedAudio(t *testing.T) {
	gate := make(chan struct{}) // holds the transcriber so decoded PCM waits in its queue
	ended := make(chan *protocol.Error, 1)
	e := newEnv(t, func(o *Options) {
		o.CallTimeout = time.Minute // the gated Send is not a hang
		o.OnStreamEnd = func(spec protocol.StreamSpec, id string, reason *protocol.Error) { ended <- reason }
	})
	e.tr.gate = gate
	e.dec.failAfter = map[int]int{1: 6} // the 7th chunk kills the decoder
	e.dec.unavailable = true            // and the host gives up on it
	s := e.open(t, spec("s1", "alice", ""))
	writeAll(t, s, script(1, 2))
	waitDecoded(t, s, 6*frameSamples)
	writeAll(t, s, [][]byte{frame(3)})
	e.rec.wait(t, "the decoder given up", hasGiveUp)
	if n := len(finals(e.rec.all())); n != 0 {
		t.Fatalf("%d finals while the transcriber was held", n)
	}
	close(gate)
	stop(t, s)
	evs := e.rec.all()
	checkGuarantees(t, evs)
	if got, want := finalTexts(evs), []string{words(1, 2)}; !slices.Equal(got, want) {
		t.Fatalf("finals %q, want the audio decoded before the give-up, %q\n%s", got, want, dump(evs))
	}
	errs := transcriptionErrors(evs)
	if len(errs) != 2 || !errs[0].payload.(protocol.TranscriptionError).Retrying || errs[1].toUser != "alice" {
		t.Errorf("errors:\n%s", dump(errs))
	}
	if err := s.Write(context.Background(), frame(1)); !isCode(err, protocol.CodePipelineUnavailable) {
		t.Errorf("write after give-up: %v", err)
	}
	if r := <-ended; r == nil || r.Code != protocol.CodePipelineUnavailable {
		t.Errorf("OnStreamEnd reason %v", r)
	}
}

func TestIdleTimerIgnoresSlowOpen(t *testing.T) {
	const idle = 250 * time.Millisecond
	dec := &slowOpenDecoder{fakeDecoder: &fakeDecoder{}, opened: make(chan struct{}), release: make(chan struct{})}
	e := newEnv(t, func(o *Options) {
		o.Definitions[0].Decoder = dec
		o.Definitions[0].StreamIdleTimeout = idle
		o.CallTimeout = time.Minute
	})
	type opened struct {
		s   Stream
		err error
	}
	res := make(chan opened, 1)
	go func() {
		s, err := e.rt.OpenStream(context.Background(), spec("s1", "alice", ""))
		res <- opened{s, err}
	}()
	<-dec.opened
	// The open outlasts the idle time-out several times over (a plugin restarting).
	<-time.After(3 * idle)
	close(dec.release)
	r := <-res
	if r.err != nil {
		t.Fatal(r.err)
	}
	writeAll(t, r.s, script(1, 2))
	stop(t, r.s)
	evs := e.rec.all()
	checkGuarantees(t, evs)
	if got, want := finalTexts(evs), []string{words(1, 2)}; !slices.Equal(got, want) {
		t.Fatalf("finals %q, want %q\n%s", got, want, dump(evs))
	}
	if n := countEvent(evs, protocol.EventAudioError); n != 0 {
		t.Errorf("%d audio:error events (idle), want none\n%s", n, dump(evs))
	}
}

func TestSuggesterReopensWithinBudget(t *testing.T) {
	e := newEnv(t, nil)
	e.sug.failAfter = map[int]int{1: 1} // the second final kills the suggester
	// The plugin is not serving yet when the first two re-opens are tried.
	e.sug.openErr = map[int]error{2: ErrPluginFailed, 3: ErrPluginFailed}
	evs := askTwoQuestions(t, e)
	if e.sug.openCount() != 4 {
		t.Errorf("suggester opened %d times, want 4", e.sug.openCount())
	}
	if hasGiveUp(evs) {
		t.Errorf("a give-up was published:\n%s", dump(evs))
	}
	if got := testutil.ToFloat64(e.rt.m.restarts.WithLabelValues("suggest")); got != 3 {
		t.Errorf("suggest restarts %v, want 3", got)
	}
}

func TestSuggesterGiveUpIsPublished(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(*fakeSuggester)
	}{
		{"restart-budget", func(f *fakeSuggester) {
			f.openErr = map[int]error{}
			for i := 2; i < 10; i++ {
				f.openErr[i] = ErrPluginFailed
			}
		}},
		{"unavailable", func(f *fakeSuggester) { f.unavailable = true }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, func(o *Options) { o.MaxRestarts = 2 })
			e.sug.failAfter = map[int]int{1: 1}
			tc.set(e.sug)
			iv := e.open(t, spec("s1", "ivan", protocol.RoleInterviewer))
			writeAll(t, iv, script(append([]int{1}, silence(4)...)...))
			e.rec.wait(t, "first suggestion", func(evs []published) bool { return countEvent(evs, protocol.EventSuggestions) == 1 })
			writeAll(t, iv, script(append([]int{2}, silence(4)...)...))
			evs := e.rec.wait(t, "the suggester given up", hasGiveUp)
			errs := transcriptionErrors(evs)
			if len(errs) != 1 {
				t.Fatalf("errors:\n%s", dump(errs))
			}
			ev, p := errs[0], errs[0].payload.(protocol.TranscriptionError)
			if ev.toUser != "" || !slices.Equal(ev.roles, []string{protocol.RoleCandidate}) || p.SessionID != "s1" || p.StreamID != "" {
				t.Errorf("give-up published to user %q roles %v: %+v", ev.toUser, ev.roles, p)
			}
			if n := e.sug.openCount(); n > 2+e.rt.opts.MaxRestarts {
				t.Errorf("suggester opened %d times, beyond the budget", n)
			}
			// The session's transcription goes on.
			writeAll(t, iv, script(3))
			stop(t, iv)
			if got := finalTexts(e.rec.all()); !slices.Equal(got, []string{words(1), words(2), words(3)}) {
				t.Errorf("finals %q", got)
			}
		})
	}
}

// A plugin not ready within ReadyTimeout is given up on even when the runtime's
// classifier is a custom one that knows only its transport's errors (as the plugin
// host's adapter does): the runtime's own ErrUnavailable decides, so the stream ends
// with PIPELINE_UNAVAILABLE instead of waiting for ever-new restarts.
func TestNotReadyGivesUpWithCustomClassifier(t *testing.T) {
	e := newEnv(t, func(o *Options) {
		// As with the defaults (30 s, 5 per minute): fewer waits fit in the window
		// than the budget allows, so the budget alone never ends the stream.
		o.ReadyTimeout = 50 * time.Millisecond
		o.MaxRestarts, o.RestartWindow = 5, 100*time.Millisecond
		o.Classify = func(error) Fault { return FaultRestart } // knows no runtime sentinel
	})
	e.tr.failAfter = map[int]int{1: 5}
	e.tr.neverReady = true
	s := e.open(t, spec("s1", "alice", ""))
	writeAll(t, s, script(1, 2)) // the 6th frame's Send fails; the restart waits for WaitReady
	e.rec.wait(t, "retrying:false", hasGiveUp)
	if n := e.tr.openCount(); n != 1 {
		t.Errorf("%d opens of the transcriber, want 1 (it never became ready)", n)
	}
	stop(t, s)
}
