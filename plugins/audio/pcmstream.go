package audio

import (
	"context"

	"github.com/earshot-dev/earshot/plugins/audio/pcm"
	"github.com/earshot-dev/earshot/plugins/audio/resample"
	"github.com/earshot-dev/earshot/plugins/audio/wav"
	"github.com/earshot-dev/earshot/plugins/sdk"
)

// pcmStream decodes raw PCM (pcm16, f32) and WAV.
type pcmStream struct {
	out   *output
	wav   *wav.Parser // nil for raw PCM
	mixer *pcm.Mixer
	rs    *resample.Resampler
	mono  []float32
	res   []float32
}

func newPCMStream(f sdk.Format, o *output) (*pcmStream, error) {
	s := &pcmStream{out: o}
	if f.Container == "wav" {
		s.wav = wav.New() // the header tells the format
		return s, nil
	}
	enc := pcm.S16
	if f.Container == "f32" {
		enc = pcm.F32
	}
	channels := f.Channels
	if channels == 0 {
		channels = 1
	}
	if f.SampleRate == 0 {
		return nil, sdk.Errorf(sdk.CodeUnsupportedFormat, "%s audio needs its sample rate", f.Container)
	}
	if err := s.setup(enc, f.SampleRate, channels); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *pcmStream) setup(enc pcm.Encoding, rate, channels int) error {
	if rate < resample.MinRate || rate > resample.MaxRate {
		return sdk.Errorf(sdk.CodeUnsupportedFormat, "input sample rate %d Hz (supported %d..%d)", rate, resample.MinRate, resample.MaxRate)
	}
	m, err := pcm.NewMixer(enc, channels)
	if err != nil {
		return sdk.Errorf(sdk.CodeUnsupportedFormat, "%v", err)
	}
	s.mixer = m
	if rate != s.out.rate {
		rs, err := resample.New(rate, s.out.rate)
		if err != nil {
			return sdk.Errorf(sdk.CodeUnsupportedFormat, "%v", err)
		}
		s.rs = rs
	}
	return nil
}

func (s *pcmStream) write(ctx context.Context, chunk []byte) error {
	if s.wav == nil {
		return s.samples(ctx, chunk)
	}
	err := s.wav.Write(chunk, func(b []byte) error {
		if s.mixer == nil {
			f, _ := s.wav.Format()
			if err := s.setup(f.Encoding, f.SampleRate, f.Channels); err != nil {
				return err
			}
		}
		return s.samples(ctx, b)
	})
	if err != nil {
		return classify(err, wav.ErrUnsupported)
	}
	return nil
}

// pcmPiece is how many input bytes are converted at a time: upsampling 8-bit
// mono from 1 kHz to 48 kHz makes 48 samples of a byte, so whole chunks could
// need hundreds of megabytes.
const pcmPiece = 4096

func (s *pcmStream) samples(ctx context.Context, b []byte) error {
	for len(b) > 0 {
		piece := b[:min(len(b), pcmPiece)]
		b = b[len(piece):]
		s.mono = s.mixer.Mix(s.mono[:0], piece)
		out := s.mono
		if s.rs != nil {
			s.res = s.rs.Process(s.res[:0], s.mono)
			out = s.res
		}
		if err := s.out.putFloat(ctx, out); err != nil {
			return err
		}
	}
	return nil
}

func (s *pcmStream) end() error {
	if s.wav != nil {
		if err := s.wav.End(); err != nil {
			return classify(err, wav.ErrUnsupported)
		}
	}
	if s.mixer == nil {
		return nil // a WAV file with an empty data chunk
	}
	if s.rs != nil {
		// The resampler's tail: a few milliseconds, for Decode to flush.
		s.res = s.rs.Flush(s.res[:0])
		s.out.pending = pcm.ToS16(s.out.pending, s.res)
	}
	if n := s.mixer.Pending(); n > 0 {
		return sdk.Errorf(sdk.CodeInvalidAudio, "stream ends inside a sample frame (%d stray bytes)", n)
	}
	return nil
}

func (s *pcmStream) close() {}
