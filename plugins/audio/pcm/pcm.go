// Package pcm converts interleaved integer or float PCM bytes into mono float32
// samples, carrying partial frames across chunk boundaries.
package pcm

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Encoding is the sample encoding of interleaved PCM bytes (little endian).
type Encoding int

// The supported encodings.
const (
	U8  Encoding = iota + 1 // unsigned 8-bit, offset 128 (WAV's 8-bit)
	S16                     // signed 16-bit
	S24                     // signed 24-bit, packed in 3 bytes
	S32                     // signed 32-bit
	F32                     // IEEE float32
	F64                     // IEEE float64
)

// Size is the size of one sample in bytes.
func (e Encoding) Size() int {
	switch e {
	case U8:
		return 1
	case S16:
		return 2
	case S24:
		return 3
	case S32, F32:
		return 4
	case F64:
		return 8
	}
	return 0
}

func (e Encoding) String() string {
	switch e {
	case U8:
		return "u8"
	case S16:
		return "s16le"
	case S24:
		return "s24le"
	case S32:
		return "s32le"
	case F32:
		return "f32le"
	case F64:
		return "f64le"
	}
	return fmt.Sprintf("encoding(%d)", int(e))
}

// MaxChannels bounds the channel count a Mixer accepts.
const MaxChannels = 32

// Mixer turns interleaved frames into mono samples by averaging the channels.
// Bytes of an incomplete frame are kept for the next call, so callers may split
// the stream anywhere.
type Mixer struct {
	enc      Encoding
	channels int
	frame    int
	rem      []byte
}

// NewMixer returns a Mixer for the given encoding and channel count.
func NewMixer(enc Encoding, channels int) (*Mixer, error) {
	if enc.Size() == 0 {
		return nil, fmt.Errorf("unknown sample encoding %d", int(enc))
	}
	if channels < 1 || channels > MaxChannels {
		return nil, fmt.Errorf("channel count %d out of range 1..%d", channels, MaxChannels)
	}
	return &Mixer{enc: enc, channels: channels, frame: enc.Size() * channels}, nil
}

// Pending reports the number of bytes of an incomplete frame held back.
func (m *Mixer) Pending() int { return len(m.rem) }

// Mix appends the mono samples of the complete frames in p (after any bytes held
// back from earlier calls) to dst, scaled to [-1, 1].
func (m *Mixer) Mix(dst []float32, p []byte) []float32 {
	if len(m.rem) > 0 {
		need := m.frame - len(m.rem)
		if len(p) < need {
			m.rem = append(m.rem, p...)
			return dst
		}
		m.rem = append(m.rem, p[:need]...)
		dst = m.mixFrames(dst, m.rem)
		m.rem = m.rem[:0]
		p = p[need:]
	}
	whole := len(p) / m.frame * m.frame
	dst = m.mixFrames(dst, p[:whole])
	m.rem = append(m.rem, p[whole:]...)
	return dst
}

func (m *Mixer) mixFrames(dst []float32, p []byte) []float32 {
	size := m.enc.Size()
	inv := 1 / float32(m.channels)
	for off := 0; off+m.frame <= len(p); off += m.frame {
		var sum float32
		for c := 0; c < m.channels; c++ {
			sum += sample(m.enc, p[off+c*size:])
		}
		if m.channels > 1 {
			sum *= inv
		}
		dst = append(dst, sum)
	}
	return dst
}

func sample(enc Encoding, b []byte) float32 {
	switch enc {
	case U8:
		return (float32(b[0]) - 128) / 128
	case S16:
		return float32(int16(binary.LittleEndian.Uint16(b))) / 32768
	case S24:
		v := int32(uint32(b[0])<<8|uint32(b[1])<<16|uint32(b[2])<<24) >> 8
		return float32(v) / (1 << 23)
	case S32:
		return float32(float64(int32(binary.LittleEndian.Uint32(b))) / (1 << 31))
	case F32:
		return clean(float64(math.Float32frombits(binary.LittleEndian.Uint32(b))))
	case F64:
		return clean(math.Float64frombits(binary.LittleEndian.Uint64(b)))
	}
	return 0
}

// clean maps NaN to silence and clamps to [-1, 1] so that garbage float input
// cannot produce undefined integer conversions later on.
func clean(v float64) float32 {
	switch {
	case math.IsNaN(v):
		return 0
	case v > 1:
		return 1
	case v < -1:
		return -1
	}
	return float32(v)
}

// ToS16 appends src converted to 16-bit samples (rounded, clipped) to dst.
func ToS16(dst []int16, src []float32) []int16 {
	for _, v := range src {
		x := float64(v) * 32768
		switch {
		case x != x: // NaN
			x = 0
		case x > 32767:
			x = 32767
		case x < -32768:
			x = -32768
		}
		dst = append(dst, int16(math.Round(x)))
	}
	return dst
}
