// Package opus decodes Opus packets with libopus (cgo, Debian libopus-dev) and
// parses the OpusHead identification header that Ogg and WebM carry.
package opus

/*
#cgo pkg-config: opus
#include <opus.h>
*/
import "C"

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"unsafe"
)

// Rates libopus can decode to directly.
var decodeRates = map[int]bool{8000: true, 12000: true, 16000: true, 24000: true, 48000: true}

// CanDecodeAt reports whether libopus decodes straight to rate.
func CanDecodeAt(rate int) bool { return decodeRates[rate] }

// MaxPacketDuration is the longest audio one Opus packet can hold (120 ms), in
// samples at 48 kHz.
const MaxPacketDuration = 5760

// Decoder is a mono libopus decoder. It is not safe for concurrent use.
type Decoder struct {
	dec  *C.OpusDecoder
	rate int
}

// NewDecoder returns a decoder that outputs mono samples at rate, which must be
// one of 8000, 12000, 16000, 24000 or 48000. Stereo packets are downmixed by
// libopus. Call Close to free it.
func NewDecoder(rate int) (*Decoder, error) {
	if !CanDecodeAt(rate) {
		return nil, fmt.Errorf("opus cannot decode at %d Hz", rate)
	}
	var cerr C.int
	dec := C.opus_decoder_create(C.opus_int32(rate), 1, &cerr)
	if cerr != C.OPUS_OK || dec == nil {
		return nil, fmt.Errorf("opus_decoder_create: %s", strerror(cerr))
	}
	return &Decoder{dec: dec, rate: rate}, nil
}

// Rate is the output rate in Hz.
func (d *Decoder) Rate() int { return d.rate }

// ErrCorrupt is returned for packets libopus refuses.
var ErrCorrupt = errors.New("corrupt opus packet")

// Decode appends the samples of one packet to dst.
func (d *Decoder) Decode(dst []int16, packet []byte) ([]int16, error) {
	if d.dec == nil {
		return dst, errors.New("opus decoder is closed")
	}
	if len(packet) == 0 {
		return dst, fmt.Errorf("%w: empty packet", ErrCorrupt)
	}
	// Check the packet's table of contents first: opus_decode would accept a
	// too-long packet into a larger buffer, and the duration check bounds output.
	n := C.opus_packet_get_nb_samples((*C.uchar)(unsafe.Pointer(&packet[0])), C.opus_int32(len(packet)), C.opus_int32(d.rate))
	if n < 0 {
		return dst, fmt.Errorf("%w: %s", ErrCorrupt, strerror(n))
	}
	maxOut := MaxPacketDuration * d.rate / 48000
	if int(n) > maxOut {
		return dst, fmt.Errorf("%w: %d samples in one packet", ErrCorrupt, int(n))
	}
	start := len(dst)
	dst = slices.Grow(dst, maxOut)
	out := dst[start : start+maxOut]
	got := C.opus_decode(d.dec, (*C.uchar)(unsafe.Pointer(&packet[0])), C.opus_int32(len(packet)),
		(*C.opus_int16)(unsafe.Pointer(&out[0])), C.int(maxOut), 0)
	if got < 0 {
		return dst, fmt.Errorf("%w: %s", ErrCorrupt, strerror(got))
	}
	return dst[:start+int(got)], nil
}

// Close frees the decoder. It is safe to call more than once.
func (d *Decoder) Close() {
	if d.dec != nil {
		C.opus_decoder_destroy(d.dec)
		d.dec = nil
	}
}

// PacketDuration returns the duration of a packet in samples at 48 kHz.
func PacketDuration(packet []byte) (int, error) {
	if len(packet) == 0 {
		return 0, fmt.Errorf("%w: empty packet", ErrCorrupt)
	}
	n := C.opus_packet_get_nb_samples((*C.uchar)(unsafe.Pointer(&packet[0])), C.opus_int32(len(packet)), 48000)
	if n < 0 {
		return 0, fmt.Errorf("%w: %s", ErrCorrupt, strerror(n))
	}
	return int(n), nil
}

func strerror(code C.int) string { return C.GoString(C.opus_strerror(code)) }

// Head is the OpusHead identification header (RFC 7845 §5.1).
type Head struct {
	Version         int
	Channels        int
	PreSkip         int // samples at 48 kHz to drop from the start of the decoded stream
	InputSampleRate int // informational only
	OutputGain      int // Q7.8 dB
	MappingFamily   int
}

// ErrUnsupported marks a valid header this package cannot decode (multichannel
// mapping families).
var ErrUnsupported = errors.New("unsupported opus stream")

// ParseHead parses an OpusHead packet.
func ParseHead(b []byte) (Head, error) {
	if len(b) < 19 || string(b[:8]) != "OpusHead" {
		return Head{}, errors.New("not an OpusHead header")
	}
	h := Head{
		Version:         int(b[8]),
		Channels:        int(b[9]),
		PreSkip:         int(binary.LittleEndian.Uint16(b[10:12])),
		InputSampleRate: int(binary.LittleEndian.Uint32(b[12:16])),
		OutputGain:      int(int16(binary.LittleEndian.Uint16(b[16:18]))),
		MappingFamily:   int(b[18]),
	}
	if h.Version>>4 != 0 { // major version 0 only (RFC 7845: 15 and below, minor bits free)
		return h, fmt.Errorf("%w: OpusHead version %d", ErrUnsupported, h.Version)
	}
	if h.Channels == 0 {
		return h, errors.New("OpusHead declares 0 channels")
	}
	if h.MappingFamily != 0 || h.Channels > 2 {
		return h, fmt.Errorf("%w: %d channels with mapping family %d (only mono/stereo)", ErrUnsupported, h.Channels, h.MappingFamily)
	}
	return h, nil
}
