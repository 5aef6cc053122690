// Package wav is a streaming parser for RIFF/WAVE (and RF64) PCM: the header may
// arrive split across any number of chunks, and the samples are passed on as
// they arrive without buffering the file.
package wav

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/earshot-dev/earshot/plugins/audio/pcm"
)

// ErrUnsupported marks a well-formed file in a format the parser does not decode
// (compressed WAV, odd sample sizes).
var ErrUnsupported = errors.New("unsupported WAV format")

// Limits.
const (
	maxFmtSize = 1024 // a fmt chunk is 16–40 bytes; anything larger is corrupt
	MinRate    = 1000
	MaxRate    = 384000
)

// Format is the sample format a WAV file declares.
type Format struct {
	Encoding   pcm.Encoding
	SampleRate int
	Channels   int
}

type state int

const (
	stRIFF state = iota
	stChunkHeader
	stFmt
	stSkip
	stData
)

// Parser parses one WAV stream. The zero value is not usable; call New.
type Parser struct {
	st       state
	hdr      []byte // partial RIFF or chunk header, or the fmt body being collected
	need     int    // bytes of hdr wanted for the current state
	skip     int64  // bytes left to skip (stSkip)
	left     int64  // data bytes left (stData); -1 means until the end of the stream
	pad      bool   // a pad byte follows the current chunk
	format   Format
	haveFmt  bool
	haveData bool
	rf64     bool
	offset   int64 // bytes consumed, for error messages
}

// New returns a Parser.
func New() *Parser { return &Parser{st: stRIFF, need: 12} }

// Format returns the declared format; ok is false until the fmt chunk is parsed.
func (p *Parser) Format() (f Format, ok bool) { return p.format, p.haveFmt }

// Write parses b and calls data with each run of sample bytes found in it (the
// runs may end in the middle of a sample frame). The slice passed to data is only
// valid during the call.
func (p *Parser) Write(b []byte, data func([]byte) error) error {
	for len(b) > 0 {
		switch p.st {
		case stRIFF, stChunkHeader, stFmt:
			n := min(p.need-len(p.hdr), len(b))
			p.hdr = append(p.hdr, b[:n]...)
			b = b[n:]
			p.offset += int64(n)
			if len(p.hdr) < p.need {
				return nil
			}
			if err := p.header(); err != nil {
				return err
			}
		case stSkip:
			n := int(min(p.skip, int64(len(b))))
			p.skip -= int64(n)
			b = b[n:]
			p.offset += int64(n)
			if p.skip == 0 {
				p.toChunkHeader()
			}
		case stData:
			n := len(b)
			if p.left >= 0 {
				n = int(min(p.left, int64(n)))
				p.left -= int64(n)
			}
			if n > 0 {
				if err := data(b[:n]); err != nil {
					return err
				}
			}
			b = b[n:]
			p.offset += int64(n)
			if p.left == 0 {
				p.skip = 0
				if p.pad {
					p.skip = 1
				}
				p.st = stSkip
				if p.skip == 0 {
					p.toChunkHeader()
				}
			}
		}
	}
	return nil
}

// End reports whether the stream may end here: a stream that ends before its
// first sample is invalid.
func (p *Parser) End() error {
	if !p.haveData {
		if p.offset == 0 {
			return errors.New("empty WAV stream")
		}
		return fmt.Errorf("WAV stream ends in its header after %d bytes", p.offset)
	}
	return nil
}

func (p *Parser) toChunkHeader() {
	p.st, p.need, p.hdr = stChunkHeader, 8, p.hdr[:0]
}

func (p *Parser) header() error {
	switch p.st {
	case stRIFF:
		id, form := string(p.hdr[:4]), string(p.hdr[8:12])
		if (id != "RIFF" && id != "RF64") || form != "WAVE" {
			return fmt.Errorf("not a RIFF/WAVE stream (starts with %q)", p.hdr[:4])
		}
		p.rf64 = id == "RF64"
		p.toChunkHeader()
	case stChunkHeader:
		id := p.hdr[:4]
		size := int64(binary.LittleEndian.Uint32(p.hdr[4:8]))
		for _, c := range id {
			if c < 0x20 || c > 0x7e {
				return fmt.Errorf("corrupt WAV chunk id %q at byte %d", id, p.offset-8)
			}
		}
		p.pad = size%2 == 1
		switch string(id) {
		case "fmt ":
			if p.haveFmt {
				return errors.New("second fmt chunk in WAV stream")
			}
			if size < 16 || size > maxFmtSize {
				return fmt.Errorf("WAV fmt chunk of %d bytes", size)
			}
			p.st, p.need, p.hdr = stFmt, int(size), p.hdr[:0]
			if p.pad {
				p.need++
			}
		case "data":
			if p.haveData {
				// Samples come from the first data chunk only.
				p.st, p.skip = stSkip, size
				if p.pad {
					p.skip++
				}
				if p.skip == 0 {
					p.toChunkHeader()
				}
				return nil
			}
			if !p.haveFmt {
				return errors.New("WAV data chunk before fmt chunk")
			}
			p.haveData = true
			p.st, p.left = stData, size
			// Streaming writers leave the size at 0 or 0xFFFFFFFF; RF64 keeps the
			// real size in ds64. Either way the samples run to the end.
			if size == 0 || size == 0xFFFFFFFF || p.rf64 {
				p.left, p.pad = -1, false
			}
		default:
			p.st, p.skip = stSkip, size
			if p.pad {
				p.skip++
			}
			if p.skip == 0 {
				p.toChunkHeader()
			}
		}
	case stFmt:
		if err := p.parseFmt(p.hdr); err != nil {
			return err
		}
		p.haveFmt = true
		p.toChunkHeader()
	}
	return nil
}

func (p *Parser) parseFmt(b []byte) error {
	tag := binary.LittleEndian.Uint16(b[0:2])
	channels := int(binary.LittleEndian.Uint16(b[2:4]))
	rate := int(binary.LittleEndian.Uint32(b[4:8]))
	bits := int(binary.LittleEndian.Uint16(b[14:16]))
	if tag == 0xFFFE { // WAVE_FORMAT_EXTENSIBLE: the real tag opens the sub-format GUID
		if len(b) < 40 {
			return fmt.Errorf("WAVE_FORMAT_EXTENSIBLE fmt chunk of %d bytes", len(b))
		}
		tag = binary.LittleEndian.Uint16(b[24:26])
	}
	if channels < 1 || channels > pcm.MaxChannels {
		return fmt.Errorf("WAV declares %d channels", channels)
	}
	if rate < MinRate || rate > MaxRate {
		return fmt.Errorf("WAV declares a sample rate of %d Hz (supported %d..%d)", rate, MinRate, MaxRate)
	}
	var enc pcm.Encoding
	switch {
	case tag == 1 && bits == 8:
		enc = pcm.U8
	case tag == 1 && bits == 16:
		enc = pcm.S16
	case tag == 1 && bits == 24:
		enc = pcm.S24
	case tag == 1 && bits == 32:
		enc = pcm.S32
	case tag == 3 && bits == 32:
		enc = pcm.F32
	case tag == 3 && bits == 64:
		enc = pcm.F64
	default:
		return fmt.Errorf("%w: format tag %#04x with %d bits per sample", ErrUnsupported, tag, bits)
	}
	p.format = Format{Encoding: enc, SampleRate: rate, Channels: channels}
	return nil
}
