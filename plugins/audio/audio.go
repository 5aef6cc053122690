// Package audio is earshot's built-in decoder plugin: it turns the audio a client
// sends (Opus in WebM or Ogg, raw Opus packets from WebRTC, PCM s16le or float32,
// WAV) into s16le mono PCM at the rate the transcriber wants.
//
// Opus is decoded by libopus straight to the output rate; PCM and WAV at other
// rates go through a windowed-sinc resampler. Each stream's demuxer keeps its
// header state for the life of the stream and buffers at most one element, up to
// max_element_size. Bad input ends that stream with a coded error
// (INVALID_AUDIO or UNSUPPORTED_FORMAT); other streams are not affected.
package audio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"

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
	o := &output{sink: out, rate: rate, maxBlock: rate / 4}
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
		if err := s.write(chunk); err != nil {
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
	// write consumes one chunk, appending decoded samples to the output.
	write(chunk []byte) error
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

// output collects decoded samples and writes them to the sink in blocks.
type output struct {
	sink     sdk.PCMSink
	rate     int
	maxBlock int
	pending  []int16
	emitted  int64 // samples written so far
}

func (o *output) flush(ctx context.Context) error {
	rest := o.pending
	o.pending = o.pending[:0]
	for len(rest) > 0 {
		n := min(len(rest), o.maxBlock)
		// The sink may keep the block, so it gets its own copy.
		block := append([]int16(nil), rest[:n]...)
		pcm := sdk.PCM{Samples: block, Start: samplesToDuration(o.emitted, o.rate)}
		if err := o.sink.Write(ctx, pcm); err != nil {
			return err
		}
		o.emitted += int64(n)
		rest = rest[n:]
	}
	return nil
}

// classify turns a parser or decoder error into the coded error for the stream.
func classify(err error, unsupported ...error) error {
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
