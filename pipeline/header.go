package pipeline

import (
	"bytes"
	"encoding/binary"

	"github.com/earshot-dev/earshot/signaling/protocol"
)

// maxHeaderBytes bounds how much of a stream's beginning is searched for its
// container header (MediaRecorder's first chunk is about 4.4 KB).
const maxHeaderBytes = 64 << 10

// headerState is what the header sniffer concluded from a stream's first bytes.
type headerState int

const (
	headerMore headerState = iota // need more bytes
	headerDone                    // prefix found
	headerNone                    // the format has no header, or it was not found
)

// containerHeader returns the prefix of a stream's first bytes that a re-opened
// decoder needs before it can decode later bytes: the WAV header up to the data
// chunk, the Ogg pages before the first audio page, the WebM elements before the
// first Cluster. The audio after the prefix is not part of it, so re-feeding it does
// not repeat audio.
func containerHeader(format string, b []byte) ([]byte, headerState) {
	switch format {
	case protocol.FormatWAV:
		return wavHeader(b)
	case protocol.FormatOgg:
		return oggHeader(b)
	case protocol.FormatWebM:
		return webmHeader(b)
	}
	return nil, headerNone
}

func wavHeader(b []byte) ([]byte, headerState) {
	if len(b) < 12 {
		return nil, headerMore
	}
	if !bytes.Equal(b[:4], []byte("RIFF")) || !bytes.Equal(b[8:12], []byte("WAVE")) {
		return nil, headerNone
	}
	off := 12
	for {
		if off+8 > len(b) {
			return nil, headerMore
		}
		id := b[off : off+4]
		size := int(binary.LittleEndian.Uint32(b[off+4 : off+8]))
		if bytes.Equal(id, []byte("data")) {
			return b[:off+8], headerDone
		}
		if size < 0 || size > maxHeaderBytes {
			return nil, headerNone
		}
		off += 8 + size + size&1
	}
}

// wavFormat reads the rate and channel count from a complete WAV header (what
// wavHeader returned); zeros when it has no usable fmt chunk.
func wavFormat(h []byte) (rate, channels int) {
	for off := 12; off+8 <= len(h); {
		size := int(binary.LittleEndian.Uint32(h[off+4 : off+8]))
		if bytes.Equal(h[off:off+4], []byte("fmt ")) {
			if size < 8 || off+16 > len(h) {
				return 0, 0
			}
			return int(binary.LittleEndian.Uint32(h[off+12 : off+16])), int(binary.LittleEndian.Uint16(h[off+10 : off+12]))
		}
		off += 8 + size + size&1
	}
	return 0, 0
}

func oggHeader(b []byte) ([]byte, headerState) {
	off := 0
	for {
		if off+27 > len(b) {
			return nil, headerMore
		}
		if !bytes.Equal(b[off:off+4], []byte("OggS")) {
			return nil, headerNone
		}
		granule := binary.LittleEndian.Uint64(b[off+6 : off+14])
		if granule != 0 && granule != ^uint64(0) {
			if off == 0 {
				return nil, headerNone
			}
			return b[:off], headerDone
		}
		nseg := int(b[off+26])
		if off+27+nseg > len(b) {
			return nil, headerMore
		}
		n := 27 + nseg
		for _, s := range b[off+27 : off+27+nseg] {
			n += int(s)
		}
		off += n
	}
}

const (
	ebmlHeaderID = 0x1A45DFA3
	segmentID    = 0x18538067
	clusterID    = 0x1F43B675
)

func webmHeader(b []byte) ([]byte, headerState) {
	off := 0
	for {
		id, n, ok := ebmlID(b[off:])
		if !ok {
			return nil, headerMore
		}
		size, m, known, ok := ebmlSize(b[off+n:])
		if !ok {
			return nil, headerMore
		}
		switch {
		case off == 0 && id != ebmlHeaderID:
			return nil, headerNone
		case id == clusterID:
			return b[:off], headerDone
		case id == segmentID:
			off += n + m // descend: the header elements are the segment's children
			continue
		case !known || size > maxHeaderBytes:
			return nil, headerNone
		}
		off += n + m + int(size)
		if off > len(b) {
			return nil, headerMore
		}
	}
}

// ebmlID reads an EBML element id (1–4 bytes, marker bits kept).
func ebmlID(b []byte) (id uint32, n int, ok bool) {
	if len(b) == 0 || b[0] == 0 {
		return 0, 0, false
	}
	n = 1
	for mask := byte(0x80); b[0]&mask == 0; mask >>= 1 {
		n++
	}
	if n > 4 || len(b) < n {
		return 0, 0, false
	}
	for i := 0; i < n; i++ {
		id = id<<8 | uint32(b[i])
	}
	return id, n, true
}

// ebmlSize reads an EBML data size (1–8 bytes); all ones means unknown.
func ebmlSize(b []byte) (size uint64, n int, known, ok bool) {
	if len(b) == 0 || b[0] == 0 {
		return 0, 0, false, false
	}
	n = 1
	mask := byte(0x80)
	for ; b[0]&mask == 0; mask >>= 1 {
		n++
	}
	if len(b) < n {
		return 0, 0, false, false
	}
	size = uint64(b[0] & (mask - 1))
	allOnes := size == uint64(mask-1)
	for i := 1; i < n; i++ {
		size = size<<8 | uint64(b[i])
		allOnes = allOnes && b[i] == 0xFF
	}
	return size, n, !allOnes, true
}

// resync drops the beginning of chunk (which starts at byte offset of the stream) up
// to the first point a decoder that was just given the container header can continue
// from: a sample-frame boundary for raw PCM and WAV, the next Ogg page, the next WebM
// Cluster. It reports whether that point was found; if not the whole chunk is dropped
// and the next chunk is searched.
func resync(format string, channels int, header, chunk []byte, offset int64) ([]byte, bool) {
	if channels <= 0 {
		channels = 1
	}
	align := 0
	switch format {
	case protocol.FormatPCM16:
		align = 2 * channels
	case protocol.FormatF32:
		align = 4 * channels
	case protocol.FormatWAV:
		align = wavBlockAlign(header)
		offset -= int64(len(header))
	case protocol.FormatOgg:
		return oggPageStart(chunk)
	case protocol.FormatWebM:
		return webmResync(chunk)
	default:
		return chunk, true // one packet per chunk (opus): nothing to align
	}
	if align <= 0 || offset < 0 {
		return chunk, true
	}
	skip := int((int64(align) - offset%int64(align)) % int64(align))
	if skip > len(chunk) {
		return nil, false
	}
	return chunk[skip:], true
}

// clusterStart opens a Cluster of unknown size with timecode 0: what a re-opened
// WebM decoder is given before blocks found in the middle of a Cluster. (Block
// timecodes do not matter: the runtime times audio by counting samples.)
var clusterStart = []byte{0x1F, 0x43, 0xB6, 0x75, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xE7, 0x81, 0x00}

// webmResync finds where a re-opened WebM decoder can continue: the next Cluster, or
// sooner the next SimpleBlock (given a synthetic Cluster start). MediaRecorder cuts
// its chunks in the middle of elements and its Clusters last seconds, so resuming at
// a block loses at most the block the bytes started in.
func webmResync(chunk []byte) ([]byte, bool) {
	cluster := bytes.Index(chunk, clusterStart[:4])
	limit := len(chunk)
	if cluster >= 0 {
		limit = cluster
	}
	weak := -1
	for i := 0; i < limit; i++ {
		if chunk[i] != 0xA3 {
			continue
		}
		switch simpleBlockAt(chunk, i) {
		case blockSure:
			return append(bytes.Clone(clusterStart), chunk[i:]...), true
		case blockLikely:
			if weak < 0 {
				weak = i
			}
		}
	}
	switch {
	case cluster >= 0:
		return chunk[cluster:], true
	case weak >= 0:
		return append(bytes.Clone(clusterStart), chunk[weak:]...), true
	}
	return nil, false
}

type blockGuess int

const (
	blockNo     blockGuess = iota
	blockLikely            // its header is plausible; the chunk ends inside it
	blockSure              // and a plausible element follows it
)

// simpleBlockAt tells whether a SimpleBlock element starts at chunk[i]: a plausible
// size, a one-byte track number, no lacing and the keyframe flag (as browsers write
// Opus), and, where the chunk shows it, a plausible element right after it.
func simpleBlockAt(chunk []byte, i int) blockGuess {
	size, n, known, ok := ebmlSize(chunk[i+1:])
	if !ok || !known || size < 5 || size > 1<<16 {
		return blockNo
	}
	body := i + 1 + n
	if body+4 > len(chunk) || chunk[body]&0x80 == 0 || chunk[body] == 0xFF {
		return blockNo
	}
	if flags := chunk[body+3]; flags&0x06 != 0 || flags&0x80 == 0 {
		return blockNo
	}
	next := body + int(size)
	switch {
	case next > len(chunk):
		return blockLikely
	case next == len(chunk):
		return blockSure
	}
	switch chunk[next] {
	case 0xA3, 0xA0: // SimpleBlock, BlockGroup
		return blockSure
	}
	if id, _, ok := ebmlID(chunk[next:]); ok && (id == clusterID || id == 0x1C53BB6B || id == 0x1254C367) { // Cluster, Cues, Tags
		return blockSure
	}
	return blockNo
}

// wavBlockAlign reads the block alignment from a WAV header's fmt chunk (0 if absent).
func wavBlockAlign(h []byte) int {
	off := 12
	for off+8 <= len(h) {
		size := int(binary.LittleEndian.Uint32(h[off+4 : off+8]))
		if bytes.Equal(h[off:off+4], []byte("fmt ")) {
			if off+8+14 > len(h) {
				return 0
			}
			return int(binary.LittleEndian.Uint16(h[off+8+12:]))
		}
		if size < 0 || size > maxHeaderBytes {
			return 0
		}
		off += 8 + size + size&1
	}
	return 0
}

// wavSampleRate reads the sample rate from a WAV header's fmt chunk (0 if absent).
func wavSampleRate(h []byte) int {
	off := 12
	for off+8 <= len(h) {
		size := int(binary.LittleEndian.Uint32(h[off+4 : off+8]))
		if bytes.Equal(h[off:off+4], []byte("fmt ")) {
			if off+8+8 > len(h) {
				return 0
			}
			return int(binary.LittleEndian.Uint32(h[off+8+4:]))
		}
		if size < 0 || size > maxHeaderBytes {
			return 0
		}
		off += 8 + size + size&1
	}
	return 0
}

// oggPageStart finds the first page in chunk that does not continue a packet from the
// page before it (that packet's beginning was not given to the decoder).
func oggPageStart(chunk []byte) ([]byte, bool) {
	for off := 0; ; {
		i := bytes.Index(chunk[off:], []byte("OggS"))
		if i < 0 {
			return nil, false
		}
		i += off
		if i+5 >= len(chunk) || chunk[i+5]&0x01 == 0 {
			return chunk[i:], true
		}
		off = i + 4
	}
}

// oggPages counts the pages of an Ogg header prefix.
func oggPages(h []byte) uint32 {
	var n uint32
	for off := 0; off+27 <= len(h); n++ {
		nseg := int(h[off+26])
		if off+27+nseg > len(h) {
			break
		}
		size := 27 + nseg
		for _, x := range h[off+27 : off+27+nseg] {
			size += int(x)
		}
		off += size
	}
	return n
}

// oggRenumber rewrites the sequence numbers (and CRCs) of the Ogg pages that follow
// the header pages given to a re-opened decoder, so that the decoder sees one
// continuous logical stream rather than a gap where the old decoder died.
type oggRenumber struct {
	next uint32
	buf  []byte
}

// feed takes stream bytes and returns the complete pages among them, renumbered;
// the bytes of an incomplete page wait for the next call.
func (r *oggRenumber) feed(b []byte) []byte {
	r.buf = append(r.buf, b...)
	var out []byte
	for len(r.buf) >= 27 {
		if !bytes.HasPrefix(r.buf, []byte("OggS")) {
			i := bytes.Index(r.buf, []byte("OggS"))
			if i < 0 {
				r.buf = append(r.buf[:0], r.buf[len(r.buf)-3:]...)
				break
			}
			r.buf = r.buf[i:]
			continue
		}
		nseg := int(r.buf[26])
		if len(r.buf) < 27+nseg {
			break
		}
		size := 27 + nseg
		for _, x := range r.buf[27 : 27+nseg] {
			size += int(x)
		}
		if len(r.buf) < size {
			break
		}
		page := append([]byte(nil), r.buf[:size]...)
		binary.LittleEndian.PutUint32(page[18:], r.next)
		r.next++
		binary.LittleEndian.PutUint32(page[22:], 0)
		binary.LittleEndian.PutUint32(page[22:], oggCRC(page))
		out = append(out, page...)
		r.buf = r.buf[size:]
	}
	if len(r.buf) == 0 {
		r.buf = nil
	} else if cap(r.buf) > 2*maxOggPage {
		r.buf = append([]byte(nil), r.buf...)
	}
	return out
}

const maxOggPage = 27 + 255 + 255*255

var oggCRCTable = func() (t [256]uint32) {
	for i := range t {
		r := uint32(i) << 24
		for j := 0; j < 8; j++ {
			if r&0x80000000 != 0 {
				r = r<<1 ^ 0x04C11DB7
			} else {
				r <<= 1
			}
		}
		t[i] = r
	}
	return t
}()

// oggCRC is the Ogg page checksum (CRC-32, polynomial 0x04C11DB7, no reflection).
func oggCRC(b []byte) uint32 {
	var crc uint32
	for _, x := range b {
		crc = crc<<8 ^ oggCRCTable[byte(crc>>24)^x]
	}
	return crc
}
