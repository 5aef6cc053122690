// Package ogg is a streaming demuxer for Ogg (RFC 3533): it reassembles the
// packets of the first logical stream from pages that may arrive split across any
// number of chunks, and checks page CRCs and sequence numbers. Other multiplexed
// (concurrent) logical streams are skipped; a stream chained after the end of the
// current one is followed.
package ogg

import (
	"encoding/binary"
	"errors"
	"fmt"
)

const (
	headerSize  = 27
	maxPageSize = headerSize + 255 + 255*255
)

// Page header flags.
const (
	flagContinued = 0x01
	flagBOS       = 0x02
	flagEOS       = 0x04
)

// Packet is one packet of the selected logical stream.
type Packet struct {
	// Data is only valid during the callback.
	Data []byte
	// Granule is the granule position of the page this packet ends on when it is
	// the last packet ending on that page, and -1 otherwise (RFC 3533).
	Granule int64
	// EOS marks the last packet of the logical stream.
	EOS bool
	// BOS marks the first packet of a logical stream: the first one, or one
	// chained after the previous stream's end (RFC 3533 §4).
	BOS bool
}

// Demuxer demultiplexes one Ogg stream. The zero value is not usable; call New.
type Demuxer struct {
	maxPacket int
	buf       []byte
	pkt       []byte // the packet being reassembled
	open      bool   // pkt continues on the next page
	serial    uint32
	selected  bool
	ended     bool
	first     bool // the next packet is the first of its logical stream
	nextSeq   uint32
	pages     int64
	offset    int64 // stream offset of buf[0]
}

// New returns a Demuxer that refuses packets larger than maxPacket bytes.
func New(maxPacket int) *Demuxer { return &Demuxer{maxPacket: maxPacket} }

// Write parses b and calls fn with each packet of the selected logical stream
// that b completes.
func (d *Demuxer) Write(b []byte, fn func(Packet) error) error {
	d.buf = append(d.buf, b...)
	pos := 0
	defer func() {
		n := copy(d.buf, d.buf[pos:])
		d.buf = d.buf[:n]
		d.offset += int64(pos)
	}()
	for {
		n, err := d.page(d.buf[pos:], d.offset+int64(pos), fn)
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		pos += n
	}
}

// End reports whether the stream may end here.
func (d *Demuxer) End() error {
	switch {
	case d.pages == 0 && len(d.buf) == 0:
		return errors.New("empty Ogg stream")
	case len(d.buf) > 0:
		return fmt.Errorf("Ogg stream ends inside a page at byte %d", d.offset)
	case d.open:
		return errors.New("Ogg stream ends inside a packet continued on a missing page")
	}
	return nil
}

// page parses one page at the start of b, returning its size, or 0 if b does not
// hold a whole page yet.
func (d *Demuxer) page(b []byte, at int64, fn func(Packet) error) (int, error) {
	if len(b) < 4 {
		if string(b) != "OggS"[:len(b)] {
			return 0, fmt.Errorf("no Ogg page at byte %d", at)
		}
		return 0, nil
	}
	if string(b[:4]) != "OggS" {
		return 0, fmt.Errorf("no Ogg page at byte %d", at)
	}
	if len(b) < headerSize {
		return 0, nil
	}
	if b[4] != 0 {
		return 0, fmt.Errorf("Ogg page version %d", b[4])
	}
	flags := b[5]
	granule := int64(binary.LittleEndian.Uint64(b[6:14]))
	serial := binary.LittleEndian.Uint32(b[14:18])
	seq := binary.LittleEndian.Uint32(b[18:22])
	sum := binary.LittleEndian.Uint32(b[22:26])
	nseg := int(b[26])
	if len(b) < headerSize+nseg {
		return 0, nil
	}
	lacing := b[headerSize : headerSize+nseg]
	size := headerSize + nseg
	for _, l := range lacing {
		size += int(l)
	}
	if len(b) < size {
		return 0, nil
	}
	if got := checksum(b[:size]); got != sum {
		return 0, fmt.Errorf("Ogg page at byte %d: CRC %08x, header says %08x", at, got, sum)
	}
	d.pages++
	if d.pages == 1 && flags&flagBOS == 0 {
		return 0, fmt.Errorf("Ogg stream does not start with a beginning-of-stream page")
	}
	bos := flags&flagBOS != 0
	if !d.selected || d.ended && bos {
		// The first logical stream, or the next link of a chained stream.
		d.selected, d.ended, d.serial, d.nextSeq, d.first = true, false, serial, seq, true
	}
	if serial != d.serial {
		return size, nil // another multiplexed logical stream
	}
	if d.ended {
		return 0, fmt.Errorf("Ogg page after the end of its logical stream")
	}
	if seq != d.nextSeq {
		return 0, fmt.Errorf("Ogg page sequence %d, want %d (missing page)", seq, d.nextSeq)
	}
	d.nextSeq++
	if continued := flags&flagContinued != 0; continued != d.open {
		return 0, fmt.Errorf("Ogg page continuation flag does not match the previous page")
	}
	lastEnd := -1
	for i, l := range lacing {
		if l < 255 {
			lastEnd = i
		}
	}
	body := b[headerSize+nseg : size]
	for i, l := range lacing {
		if len(d.pkt)+int(l) > d.maxPacket {
			return 0, fmt.Errorf("Ogg packet larger than %d bytes", d.maxPacket)
		}
		d.pkt = append(d.pkt, body[:l]...)
		body = body[l:]
		if l == 255 {
			d.open = true
			continue
		}
		p := Packet{Data: d.pkt, Granule: -1, BOS: d.first}
		d.first = false
		if i == lastEnd {
			p.Granule = granule
			p.EOS = flags&flagEOS != 0
		}
		if err := fn(p); err != nil {
			return 0, err
		}
		d.pkt, d.open = d.pkt[:0], false
	}
	if flags&flagEOS != 0 {
		if d.open {
			return 0, fmt.Errorf("Ogg stream ends inside a packet")
		}
		d.ended = true
	}
	return size, nil
}

var crcTable = func() (t [256]uint32) {
	for i := range t {
		r := uint32(i) << 24
		for range 8 {
			if r&0x80000000 != 0 {
				r = r<<1 ^ 0x04c11db7
			} else {
				r <<= 1
			}
		}
		t[i] = r
	}
	return t
}()

// checksum is the Ogg page CRC with the page's own CRC field taken as zero.
func checksum(page []byte) uint32 {
	var crc uint32
	for i, c := range page {
		if i >= 22 && i < 26 {
			c = 0
		}
		crc = crc<<8 ^ crcTable[byte(crc>>24)^c]
	}
	return crc
}
