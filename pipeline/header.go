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
