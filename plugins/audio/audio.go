// Package audio is earshot's built-in decoder plugin: it turns the audio a client
// sends (Opus in WebM or Ogg, raw Opus packets from WebRTC, PCM s16le or float32,
// WAV) into s16le mono PCM at the rate the transcriber wants.
//
// Opus is decoded by libopus straight to the output rate; PCM and WAV at other
// rates go through a windowed-sinc resampler. Each stream's demuxer keeps its
// header state for the life of the stream and buffers at most one element, up to
// max_element_size, and holds back at most one output block of decoded samples.
// A stream's decoded audio may not run ahead of its wall-clock time by more than
// a margin that grows with the bytes received (see budgetMargin), which stops
// streams of tiny Opus packets that each conceal up to 120 ms. Bad input ends
// that stream with a coded error (INVALID_AUDIO or UNSUPPORTED_FORMAT); other
// streams are not affected.
package audio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"
	"time"

	"github.com/earshot-dev/earshot/plugins/audio/pcm"

	"github.com/earshot-dev/earshot/plugins/sdk"
)

// Version is the plugin's version.
const Version = "0.1.0"

// Defaults and limits of the configuration.
const (
	DefaultMaxElementSize = 1 << 20
	MinMaxElementSize     = 4 << 10
	MaxMaxElementSize     = 64 << 20
	DefaultSampleRate     = 16000
	MinOutputRate         = 8000
	MaxOutputRate         = 48000
)

// Decoder is the audio decoder plugin. One Decoder serves any number of
// concurrent streams.
type Decoder struct {
	mu  sync.RWMutex
	cfg config

	// For tests: the clock the duration budget reads (time.Now when nil), and
	// a look at each stream's output when Decode returns.
	now  func() time.Time
	done func(*output)
}

type config struct {
	MaxElementSize int
	SampleRate     int
}

// New returns a Decoder with the default configuration.
func New() *Decoder {
	return &Decoder{cfg: config{MaxElementSize: DefaultMaxElementSize, SampleRate: DefaultSampleRate}}
}

var _ sdk.Decoder = (*Decoder)(nil)

// Info describes the plugin.
func (d *Decoder) Info() sdk.Info {
	return sdk.Info{
		Name:        "audio",
		Kind:        sdk.KindDecoder,
		Version:     Version,
		Description: "Opus (WebM, Ogg, raw packets), PCM s16le/float32 and WAV to s16le mono PCM",
	}
}

// ConfigSchema lists the attributes of the decoder's stage block.
func (d *Decoder) ConfigSchema() sdk.Schema {
	return sdk.Schema{Attributes: []sdk.Attribute{
		{
			Name: "max_element_size", Type: sdk.TypeSize, Default: DefaultMaxElementSize,
			Description: fmt.Sprintf("largest container element (WebM block, Tracks, Ogg packet) a stream may buffer; larger ones are INVALID_AUDIO (%d bytes to %d MiB)", MinMaxElementSize, MaxMaxElementSize>>20),
		},
		{
			Name: "sample_rate", Type: sdk.TypeNumber, Default: DefaultSampleRate,
			Description: fmt.Sprintf("output rate in Hz when the stream does not ask for one (%d..%d)", MinOutputRate, MaxOutputRate),
		},
	}}
}

// Configure validates and applies the stage block.
func (d *Decoder) Configure(ctx context.Context, cfg sdk.Config) error {
	var raw struct {
		MaxElementSize *float64 `json:"max_element_size"`
		SampleRate     *float64 `json:"sample_rate"`
	}
	if err := cfg.Decode(&raw); err != nil {
		return sdk.Errorf(sdk.CodeBadConfig, "%v", err)
	}
	c := config{MaxElementSize: DefaultMaxElementSize, SampleRate: DefaultSampleRate}
	if v := raw.MaxElementSize; v != nil {
		if *v != math.Trunc(*v) || *v < MinMaxElementSize || *v > MaxMaxElementSize {
			return sdk.Errorf(sdk.CodeBadConfig, "max_element_size = %v: must be a whole number of bytes from %d (4KiB) to %d (64MiB)", *v, MinMaxElementSize, MaxMaxElementSize)
		}
		c.MaxElementSize = int(*v)
	}
	if v := raw.SampleRate; v != nil {
		if *v != math.Trunc(*v) || *v < MinOutputRate || *v > MaxOutputRate {
			return sdk.Errorf(sdk.CodeBadConfig, "sample_rate = %v: must be a whole number of Hz from %d to %d", *v, MinOutputRate, MaxOutputRate)
		}
		c.SampleRate = int(*v)
	}
	d.mu.Lock()
	d.cfg = c
	d.mu.Unlock()
	return nil
}

func (d *Decoder) config() config {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.cfg
}

// Decode reads the chunks of one stream until io.EOF and writes its PCM to out.
func (d *Decoder) Decode(ctx context.Context, f sdk.Format, in sdk.ChunkSource, out sdk.PCMSink) error {
	cfg := d.config()
	rate := f.OutputRate
	if rate == 0 {
		rate = cfg.SampleRate
	}
	if rate < MinOutputRate || rate > MaxOutputRate {
		return sdk.Errorf(sdk.CodeUnsupportedFormat, "output rate %d Hz (supported %d..%d)", rate, MinOutputRate, MaxOutputRate)
	}
	now := d.now
	if now == nil {
		now = time.Now
	}
	o := &output{sink: out, rate: rate, maxBlock: rate / 4, now: now, start: now()}
	if d.done != nil {
		defer d.done(o)
	}
	s, err := newStream(f, cfg, o)
	if err != nil {
		return err
	}
	defer s.close()
	for {
		chunk, err := in.Next(ctx)
		if errors.Is(err, io.EOF) {
			endErr := s.end()
			if err := o.flush(ctx); err != nil {
				return err
			}
			return endErr
		}
		if err != nil {
			return err
		}
		o.received += int64(len(chunk))
		if err := s.write(ctx, chunk); err != nil {
			if sinkErr, ok := errors.AsType[sinkError](err); ok {
				return sinkErr.err
			}
			// Deliver what decoded cleanly before the fault, then report it.
			if ferr := o.flush(ctx); ferr != nil {
				return ferr
			}
			return err
		}
		if err := o.flush(ctx); err != nil {
			return err
		}
	}
}

// stream is the per-stream decoding state of one container.
type stream interface {
	// write consumes one chunk, putting decoded samples to the output.
	write(ctx context.Context, chunk []byte) error
	// end finishes the stream at io.EOF.
	end() error
	close()
}

func newStream(f sdk.Format, cfg config, o *output) (stream, error) {
	switch f.Container {
	case "webm", "ogg", "opus":
		return newOpusStream(f.Container, cfg, o)
	case "pcm16", "f32", "wav":
		return newPCMStream(f, o)
	case "":
		return nil, sdk.Errorf(sdk.CodeUnsupportedFormat, "no audio format given")
	}
	return nil, sdk.Errorf(sdk.CodeUnsupportedFormat, "audio format %q (supported: webm, ogg, opus, pcm16, f32, wav)", f.Container)
}

// The duration budget of a stream: its decoded audio may not run ahead of the
// wall-clock time since Decode began by more than budgetMargin plus
// budgetPerByte for every byte received. Real encodings stay far below the
// per-byte rate (Opus at its 6 kbit/s floor, 120 ms packets, even in silence:
// under 4 ms per byte in Ogg or WebM; PCM and WAV at 1 kHz: at most 1 ms),
// while packets of empty frames that libopus conceals give 30-60 ms per byte
// (a 2-byte packet is 120 ms), hours per MiB. Streamed live, the clock keeps
// any real stream inside the budget.
const (
	budgetMargin  = 60 * time.Second
	budgetPerByte = 8 * time.Millisecond
)

// output collects decoded samples and writes them to the sink in blocks.
type output struct {
	sink     sdk.PCMSink
	rate     int
	maxBlock int
	pending  []int16
	emitted  int64 // samples written so far
	peak     int   // most samples pending at once (for tests)

	now      func() time.Time
	start    time.Time
	received int64 // input bytes
}

// sinkError carries an error of the sink through the streams' error
// classification unchanged: it is not the audio's fault.
type sinkError struct{ err error }

func (e sinkError) Error() string { return e.err.Error() }
func (e sinkError) Unwrap() error { return e.err }

// put appends samples and writes out whole blocks, so that at most a block
// and one put's worth of samples are pending.
func (o *output) put(ctx context.Context, samples []int16) error {
	if err := o.admit(len(samples)); err != nil {
		return err
	}
	o.pending = append(o.pending, samples...)
	return o.drain(ctx)
}

// putFloat is put for samples in [-1, 1].
func (o *output) putFloat(ctx context.Context, samples []float32) error {
	if err := o.admit(len(samples)); err != nil {
		return err
	}
	o.pending = pcm.ToS16(o.pending, samples)
	return o.drain(ctx)
}

// admit checks that n more samples keep the stream within its duration budget.
func (o *output) admit(n int) error {
	total := samplesToDuration(o.emitted+int64(len(o.pending))+int64(n), o.rate)
	elapsed := max(o.now().Sub(o.start), 0)
	limit := time.Duration(math.MaxInt64)
	if o.received < int64((limit-budgetMargin-elapsed)/budgetPerByte) {
		limit = elapsed + budgetMargin + time.Duration(o.received)*budgetPerByte
	}
	if total <= limit {
		return nil
	}
	return sdk.Errorf(sdk.CodeInvalidAudio,
		"%v of audio from %d bytes in %v: more than %v per byte received plus %v ahead of real time (a flood of Opus loss-concealment packets?)",
		total.Round(time.Millisecond), o.received, elapsed.Round(time.Millisecond), budgetPerByte, budgetMargin)
}

// drain writes the whole blocks of pending to the sink.
func (o *output) drain(ctx context.Context) error {
	o.peak = max(o.peak, len(o.pending))
	if len(o.pending) < o.maxBlock {
		return nil
	}
	n := len(o.pending) - len(o.pending)%o.maxBlock
	if err := o.write(ctx, o.pending[:n]); err != nil {
		return sinkError{err}
	}
	o.pending = o.pending[:copy(o.pending, o.pending[n:])]
	return nil
}

// flush writes all of pending to the sink.
func (o *output) flush(ctx context.Context) error {
	o.peak = max(o.peak, len(o.pending))
	err := o.write(ctx, o.pending)
	o.pending = o.pending[:0]
	return err
}

func (o *output) write(ctx context.Context, samples []int16) error {
	for len(samples) > 0 {
		n := min(len(samples), o.maxBlock)
		// The sink may keep the block, so it gets its own copy.
		block := append([]int16(nil), samples[:n]...)
		pcm := sdk.PCM{Samples: block, Start: samplesToDuration(o.emitted, o.rate)}
		if err := o.sink.Write(ctx, pcm); err != nil {
			return err
		}
		o.emitted += int64(n)
		samples = samples[n:]
	}
	return nil
}

// classify turns a parser or decoder error into the coded error for the stream.
func classify(err error, unsupported ...error) error {
	if sinkErr, ok := errors.AsType[sinkError](err); ok {
		return sinkErr
	}
	var se *sdk.StreamError
	if errors.As(err, &se) {
		return se
	}
	for _, u := range unsupported {
		if errors.Is(err, u) {
			return sdk.Errorf(sdk.CodeUnsupportedFormat, "%v", err)
		}
	}
	return sdk.Errorf(sdk.CodeInvalidAudio, "%v", err)
}
