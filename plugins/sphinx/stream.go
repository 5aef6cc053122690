package sphinx

import (
	"context"
	"strings"
	"time"

	"github.com/earshot-dev/earshot/plugins/sdk"
	"github.com/earshot-dev/earshot/plugins/sphinx/internal/pocketsphinx"
)

// feedSamples is how much audio goes to PocketSphinx per call, so the
// voice-activity state is seen at least every 20 ms: an endpoint and the start
// of the next utterance cannot fall into one call.
const feedSamples = 2 * noiseBlock

// stream is one transcription stream's state around its decoder. It runs on
// the goroutine of Transcribe only.
type stream struct {
	cfg   settings
	dec   *pocketsphinx.Decoder
	out   sdk.TranscriptSink
	noise *noiseFloor

	base    time.Duration // AudioInput.Start of the stream's first sample
	started bool          // base is set
	fed     int           // samples given to the decoder since the stream began
	uttOpen bool          // ps_start_utt called, ps_end_utt not yet
	// offset is the stream sample that PocketSphinx's frame 0 stands for
	// (negative: the decoder has heard priming audio, and the first
	// utterance again when it was decoded a second time).
	offset int
	// warm is set once the first utterance with speech has been decoded again
	// with the cepstral mean it taught the decoder; until then the audio of
	// the utterance in progress is kept in redo.
	warm bool
	redo []int16

	finals int // finals sent, for the log

	// The utterance in progress (inSpeech is set once the VAD triggered).
	inSpeech    bool
	speechAt    int  // sample where speech began (estimate)
	announced   bool // SpeechStarted sent: a Final must follow
	lastEmitAt  int  // sample position of the last emitted partial
	lastPartial string
	prevPartial string
}

func newStream(cfg settings, dec *pocketsphinx.Decoder, out sdk.TranscriptSink) *stream {
	return &stream{cfg: cfg, dec: dec, out: out, noise: newNoiseFloor(cfg.NoiseFloorDBFS)}
}

func (s *stream) begin() error {
	// The decoder was primed (see settings.prime): its voice-activity
	// detector knows the noise floor. ps_start_stream would forget that.
	s.offset = -int(s.dec.Samples())
	if s.cfg.CMNWeight > 0 {
		// The decoder's cepstral mean is the model's or the previous
		// stream's; this stream's microphone should take over fast.
		if err := s.dec.ReweightCMN(s.cfg.CMNWeight); err != nil {
			return err
		}
	}
	s.warm = !s.cfg.RedecodeFirst
	return s.startUtt()
}

func (s *stream) startUtt() error {
	if err := s.dec.StartUtt(); err != nil {
		return err
	}
	s.redo = s.redo[:0]
	s.uttOpen = true
	s.inSpeech, s.announced = false, false
	s.lastPartial, s.prevPartial = "", ""
	return nil
}

// at converts a sample position to stream time.
func (s *stream) at(sample int) time.Duration {
	return s.base + time.Duration(sample)*time.Second/sampleRate
}

func (s *stream) frameTime(frame int) time.Duration {
	return s.at(s.offset + frame*sampleRate/s.dec.FrameRate())
}

// keepRedo keeps the audio the first utterance may be decoded again from: all
// of it once speech started, else the last second (the detector's pre-speech
// window and noise estimate need some lead-in).
func (s *stream) keepRedo(b []int16) {
	if s.warm {
		return
	}
	s.redo = append(s.redo, b...)
	if !s.inSpeech && len(s.redo) > sampleRate {
		s.redo = append(s.redo[:0], s.redo[len(s.redo)-sampleRate:]...)
	}
}

// audio feeds one input's samples.
func (s *stream) audio(ctx context.Context, in sdk.AudioInput) error {
	if !s.started {
		s.started, s.base = true, in.Start
	}
	buf := append([]int16(nil), in.Samples...) // the noise floor writes in place
	s.noise.apply(buf)
	for len(buf) > 0 {
		n := min(len(buf), feedSamples)
		if err := s.dec.ProcessRaw(buf[:n]); err != nil {
			return err
		}
		s.keepRedo(buf[:n])
		buf = buf[n:]
		s.fed += n
		if err := s.step(ctx); err != nil {
			return err
		}
	}
	return nil
}

// step acts on the VAD state after each piece of audio.
func (s *stream) step(ctx context.Context) error {
	vad := s.dec.InSpeech()
	if !s.inSpeech {
		if !vad {
			return nil
		}
		// The detector fires after -vad_startspeech frames of speech.
		s.inSpeech = true
		s.speechAt = max(0, s.fed-s.cfg.startSpeechFrames()*sampleRate/100)
		s.lastEmitAt = -1 << 30
	}
	switch {
	case !vad:
		return s.final(ctx, true)
	case s.at(s.fed)-s.at(s.speechAt) >= s.cfg.MaxUtterance:
		return s.final(ctx, false)
	}
	return s.partial(ctx)
}

// partial emits the hypothesis when it changed, at most every partial_interval,
// and holds back changes that look like flicker (a word dropped and likely to
// come back, or a return to the hypothesis before the last).
func (s *stream) partial(ctx context.Context) error {
	if s.cfg.PartialInterval == 0 {
		return nil
	}
	if s.at(s.fed)-s.at(s.lastEmitAt) < s.cfg.PartialInterval {
		return nil
	}
	hyp := s.dec.Hyp()
	if hyp == "" || hyp == s.lastPartial || hyp == s.prevPartial ||
		strings.HasPrefix(s.lastPartial, hyp+" ") {
		return nil
	}
	r := s.result(s.dec.Segments(), false)
	if r.Text == "" || r.Text == s.lastPartial {
		return nil
	}
	if err := s.announce(ctx); err != nil {
		return err
	}
	s.prevPartial, s.lastPartial = s.lastPartial, hyp
	s.lastEmitAt = s.fed
	r.End = max(r.End, s.at(s.fed))
	return s.out.Partial(ctx, r)
}

func (s *stream) announce(ctx context.Context) error {
	if s.announced {
		return nil
	}
	s.announced = true
	return s.out.SpeechStarted(ctx, s.at(s.speechAt))
}

// final ends the utterance, emits its final (unless it was only noise and
// nothing about it was sent) and starts the next one.
func (s *stream) final(ctx context.Context, endOfTurn bool) error {
	if err := s.endUtt(ctx, endOfTurn); err != nil {
		return err
	}
	return s.startUtt()
}

// endUtt ends the utterance without starting another.
func (s *stream) endUtt(ctx context.Context, endOfTurn bool) error {
	if !s.uttOpen {
		return nil
	}
	s.uttOpen = false
	if err := s.dec.EndUtt(); err != nil {
		return err
	}
	if !s.inSpeech {
		return nil
	}
	if !s.warm {
		if err := s.redecode(); err != nil {
			return err
		}
	}
	r := s.result(s.dec.Segments(), true)
	if r.Text == "" && !s.announced {
		return nil // noise: not an utterance
	}
	if err := s.announce(ctx); err != nil {
		return err
	}
	if r.Start == 0 && r.End == 0 {
		r.Start = s.at(s.speechAt)
	}
	r.End = max(r.End, r.Start)
	r.EndOfTurn = endOfTurn
	s.finals++
	return s.out.Final(ctx, r)
}

// redecode decodes the stream's first utterance again. Its first pass ran
// with a cepstral mean from elsewhere (the model's or another microphone's),
// which costs many words; ending it taught the decoder this stream's mean.
func (s *stream) redecode() error {
	s.warm = true
	buf := s.redo
	s.redo = nil
	s.offset -= len(buf) // the decoder hears these samples twice
	if err := s.dec.StartUtt(); err != nil {
		return err
	}
	for len(buf) > 0 {
		n := min(len(buf), feedSamples)
		if err := s.dec.ProcessRaw(buf[:n]); err != nil {
			return err
		}
		buf = buf[n:]
	}
	return s.dec.EndUtt()
}

// finalize handles ControlFinalize: the utterance in progress, if any, ends now.
func (s *stream) finalize(ctx context.Context) error {
	if !s.inSpeech {
		return nil
	}
	return s.final(ctx, false)
}

// end handles the end of the stream.
func (s *stream) end(ctx context.Context) error {
	return s.endUtt(ctx, false)
}

// isFiller reports PocketSphinx's non-words: <s>, </s>, <sil>, [NOISE], ++UH++.
func isFiller(w string) bool {
	return w == "" || w[0] == '<' || w[0] == '[' || strings.HasPrefix(w, "++")
}

// baseWord strips the alternative-pronunciation suffix: "read(2)" → "read".
func baseWord(w string) string {
	if i := strings.IndexByte(w, '('); i > 0 && strings.HasSuffix(w, ")") {
		return w[:i]
	}
	return w
}

// result builds a Result from the decoder's segments.
func (s *stream) result(segs []pocketsphinx.Segment, final bool) sdk.Result {
	var r sdk.Result
	var words []string
	var confSum float64
	for _, sg := range segs {
		if isFiller(sg.Word) {
			continue
		}
		w := sdk.WordResult{
			Text:       baseWord(sg.Word),
			Start:      s.frameTime(sg.StartFrame),
			End:        s.frameTime(sg.EndFrame + 1),
			Confidence: s.confidence(sg, final),
		}
		confSum += w.Confidence
		r.Words = append(r.Words, w)
		words = append(words, w.Text)
	}
	r.Text = strings.Join(words, " ")
	if n := len(r.Words); n > 0 {
		r.Start, r.End = r.Words[0].Start, r.Words[n-1].End
		r.Confidence = confSum / float64(n)
	}
	return r
}
