package audio

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/earshot-dev/earshot/plugins/audio/ogg"
	"github.com/earshot-dev/earshot/plugins/audio/opus"
	"github.com/earshot-dev/earshot/plugins/audio/pcm"
	"github.com/earshot-dev/earshot/plugins/audio/resample"
	"github.com/earshot-dev/earshot/plugins/audio/webm"
	"github.com/earshot-dev/earshot/plugins/sdk"
)

// opusStream decodes Opus from WebM, Ogg or raw packets.
type opusStream struct {
	container  string
	maxPacket  int // raw Opus: max_element_size
	out        *output
	dec        *opus.Decoder
	rs         *resample.Resampler // only for output rates libopus cannot produce
	webm       *webm.Demuxer
	ogg        *ogg.Demuxer
	oggPackets int   // packets of the Ogg stream seen so far
	started    bool  // pre-skip known (after OpusHead / Tracks)
	preSkip    int   // samples at the decode rate still to drop
	preSkip48  int64 // pre-skip in 48 kHz samples, for Ogg end trimming
	decoded48  int64 // 48 kHz samples decoded so far
	pcm        []int16
	f          []float32
	res        []float32
}

func newOpusStream(container string, cfg config, o *output) (*opusStream, error) {
	decRate := o.rate
	s := &opusStream{container: container, out: o, maxPacket: cfg.MaxElementSize}
	if !opus.CanDecodeAt(decRate) {
		decRate = 48000
		rs, err := resample.New(decRate, o.rate)
		if err != nil {
			return nil, sdk.Errorf(sdk.CodeUnsupportedFormat, "%v", err)
		}
		s.rs = rs
	}
	dec, err := opus.NewDecoder(decRate)
	if err != nil {
		return nil, fmt.Errorf("audio: %w", err)
	}
	s.dec = dec
	switch container {
	case "webm":
		s.webm = webm.New(cfg.MaxElementSize)
	case "ogg":
		s.ogg = ogg.New(cfg.MaxElementSize)
	case "opus":
		s.started = true // raw packets off a WebRTC track: no header, no pre-skip
	}
	return s, nil
}

func (s *opusStream) write(ctx context.Context, chunk []byte) error {
	var err error
	switch s.container {
	case "webm":
		err = s.webm.Write(chunk, func(p webm.Packet) error {
			if !s.started {
				if err := s.startWebM(); err != nil {
					return err
				}
			}
			return s.packet(ctx, p.Data, -1, p.DiscardPadding)
		})
		if err != nil {
			return classify(err, webm.ErrUnsupported, opus.ErrUnsupported, errUnsupportedCodec)
		}
	case "ogg":
		err = s.ogg.Write(chunk, func(p ogg.Packet) error { return s.oggPacket(ctx, p) })
		if err != nil {
			return classify(err, opus.ErrUnsupported, errUnsupportedCodec)
		}
	case "opus":
		if len(chunk) == 0 {
			return nil
		}
		if len(chunk) > s.maxPacket {
			return sdk.Errorf(sdk.CodeInvalidAudio, "%d-byte Opus packet (limit %d)", len(chunk), s.maxPacket)
		}
		return s.packet(ctx, chunk, -1, 0)
	}
	return nil
}

// startWebM reads the pre-skip from the track: OpusHead in CodecPrivate, or else
// CodecDelay (nanoseconds).
func (s *opusStream) startWebM() error {
	t, _ := s.webm.Track()
	s.started = true
	if len(t.CodecPrivate) > 0 {
		h, err := opus.ParseHead(t.CodecPrivate)
		if err != nil {
			return fmt.Errorf("WebM Opus CodecPrivate: %w", err)
		}
		s.setPreSkip(int64(h.PreSkip))
		return nil
	}
	if t.CodecDelay > 0 && t.CodecDelay < 1e9 {
		s.setPreSkip(int64(t.CodecDelay) * 48000 / 1e9)
	}
	return nil
}

func (s *opusStream) setPreSkip(skip48 int64) {
	s.preSkip48 = skip48
	s.preSkip = int(skip48 * int64(s.dec.Rate()) / 48000)
}

func (s *opusStream) oggPacket(ctx context.Context, p ogg.Packet) error {
	if p.BOS {
		// A new link of a chained stream has its own headers, pre-skip and
		// granule positions.
		s.oggPackets, s.decoded48 = 0, 0
	}
	s.oggPackets++
	switch s.oggPackets {
	case 1:
		h, err := opus.ParseHead(p.Data)
		if err != nil {
			if errors.Is(err, opus.ErrUnsupported) {
				return err
			}
			return fmt.Errorf("%w: the first Ogg packet is not an OpusHead header (only Opus in Ogg is supported)", errUnsupportedCodec)
		}
		s.setPreSkip(int64(h.PreSkip))
		s.started = true
		return nil
	case 2:
		if len(p.Data) < 8 || string(p.Data[:8]) != "OpusTags" {
			return errors.New("the second Ogg packet is not an OpusTags header")
		}
		return nil
	}
	return s.packet(ctx, p.Data, granuleEnd(p), 0)
}

// granuleEnd is the end position, in 48 kHz samples, that an Ogg end-of-stream
// page declares; -1 when the packet does not end the stream.
func granuleEnd(p ogg.Packet) int64 {
	if p.EOS && p.Granule >= 0 {
		return p.Granule
	}
	return -1
}

var errUnsupportedCodec = errors.New("unsupported codec")

// packet decodes one Opus packet. end, when not -1, is the granule position the
// stream ends at: samples past it are padding and are dropped (RFC 7845 §4.5);
// WebM says the same with the packet's discard padding.
func (s *opusStream) packet(ctx context.Context, data []byte, end int64, discard time.Duration) error {
	dur, err := opus.PacketDuration(data)
	if err != nil {
		return sdk.Errorf(sdk.CodeInvalidAudio, "%v", err)
	}
	s.pcm, err = s.dec.Decode(s.pcm[:0], data)
	if err != nil {
		return sdk.Errorf(sdk.CodeInvalidAudio, "%v", err)
	}
	s.decoded48 += int64(dur)
	out := s.pcm
	if end >= 0 && s.decoded48 > end {
		drop := min(s.decoded48-end, opus.MaxPacketDuration) * int64(s.dec.Rate()) / 48000
		out = out[:len(out)-min(int(drop), len(out))]
	}
	if discard > 0 {
		// The demuxer refuses more than a packet holds; the bound also keeps
		// the product in range.
		d := min(discard, opus.MaxPacketDuration*time.Second/48000)
		drop := int(int64(d) * int64(s.dec.Rate()) / int64(time.Second))
		out = out[:len(out)-min(drop, len(out))]
	}
	if s.preSkip > 0 {
		n := min(s.preSkip, len(out))
		out = out[n:]
		s.preSkip -= n
	}
	if s.rs == nil {
		return s.out.put(ctx, out)
	}
	s.f = s.f[:0]
	for _, v := range out {
		s.f = append(s.f, float32(v)/32768)
	}
	s.res = s.rs.Process(s.res[:0], s.f)
	return s.out.putFloat(ctx, s.res)
}

func (s *opusStream) end() error {
	var err error
	switch s.container {
	case "webm":
		err = s.webm.End()
	case "ogg":
		err = s.ogg.End()
		if err == nil && s.oggPackets < 2 {
			err = errors.New("Ogg stream ends before its Opus headers")
		}
	}
	if s.rs != nil {
		// The resampler's tail: a few milliseconds, for Decode to flush.
		s.res = s.rs.Flush(s.res[:0])
		s.out.pending = pcm.ToS16(s.out.pending, s.res)
	}
	if err != nil {
		return classify(err, webm.ErrUnsupported, opus.ErrUnsupported, errUnsupportedCodec)
	}
	return nil
}

func (s *opusStream) close() { s.dec.Close() }
