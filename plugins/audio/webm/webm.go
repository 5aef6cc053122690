// Package webm is a streaming demuxer for Opus audio in WebM/Matroska as browsers'
// MediaRecorder writes it: the bytes arrive in chunks cut anywhere (even inside an
// element), the Segment and its Clusters may have unknown sizes, and the header
// state (the Tracks) lasts for the whole stream.
//
// Only the elements the demuxer needs are buffered (the EBML header, Tracks, and
// one block at a time), each up to a maximum size; everything else is skipped as
// it streams past, so memory stays bounded whatever the input.
package webm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"
)

// ErrUnsupported marks a well-formed stream the demuxer cannot use (no Opus audio
// track, encrypted blocks).
var ErrUnsupported = errors.New("unsupported WebM stream")

// Element IDs (Matroska spec, IDs with their length marker bits).
const (
	idEBML           = 0x1A45DFA3
	idDocType        = 0x4282
	idSegment        = 0x18538067
	idSeekHead       = 0x114D9B74
	idInfo           = 0x1549A966
	idTracks         = 0x1654AE6B
	idCluster        = 0x1F43B675
	idCues           = 0x1C53BB6B
	idAttachments    = 0x1941A469
	idChapters       = 0x1043A770
	idTags           = 0x1254C367
	idVoid           = 0xEC
	idCRC32          = 0xBF
	idTimecode       = 0xE7
	idSilentTracks   = 0x5854
	idPosition       = 0xA7
	idPrevSize       = 0xAB
	idSimpleBlock    = 0xA3
	idBlockGroup     = 0xA0
	idBlock          = 0xA1
	idDiscardPadding = 0x75A2
	idEncryptedBlock = 0xAF
	idTrackEntry     = 0xAE
	idTrackNumber    = 0xD7
	idTrackType      = 0x83
	idCodecID        = 0x86
	idCodecPrivate   = 0x63A2
	idCodecDelay     = 0x56AA
	idAudio          = 0xE1
	idSamplingFreq   = 0xB5
	idChannels       = 0x9F
)

type action int

const (
	actSkip   action = iota + 1 // stream past the body
	actBuffer                   // collect the body and handle it whole
	actEnter                    // a master element whose children follow
)

// children lists, per parent (0 = top level), the elements the demuxer accepts
// and what it does with them. Anything else is corrupt input.
var children = map[uint32]map[uint32]action{
	0: {idEBML: actBuffer, idSegment: actEnter, idVoid: actSkip},
	idSegment: {
		idSeekHead: actSkip, idInfo: actSkip, idTracks: actBuffer, idCluster: actEnter,
		idCues: actSkip, idAttachments: actSkip, idChapters: actSkip, idTags: actSkip,
		idVoid: actSkip, idCRC32: actSkip,
	},
	idCluster: {
		idTimecode: actSkip, idSilentTracks: actSkip, idPosition: actSkip, idPrevSize: actSkip,
		idSimpleBlock: actBuffer, idBlockGroup: actBuffer, idEncryptedBlock: actBuffer,
		idVoid: actSkip, idCRC32: actSkip,
	},
}

// Track describes the audio track the demuxer follows.
type Track struct {
	Number       uint64
	CodecID      string // "A_OPUS"
	CodecPrivate []byte // for Opus: the OpusHead header
	CodecDelay   uint64 // nanoseconds of decoder delay to discard (Opus pre-skip)
	Channels     int
	SampleRate   float64
}

// Packet is one codec frame of the followed track.
type Packet struct {
	// Data is only valid during the callback.
	Data []byte
	// DiscardPadding is the duration of audio to drop from the end of this
	// packet's decoded output (Matroska DiscardPadding, used on the last block;
	// given with the block's last frame), 0 to MaxDiscardPadding.
	DiscardPadding time.Duration
}

// MaxDiscardPadding is the most a block's DiscardPadding may trim: the 120 ms
// an Opus packet can hold. A larger one is corrupt input.
const MaxDiscardPadding = 120 * time.Millisecond

type level struct {
	id  uint32
	end int64 // absolute end offset; -1 when the size is unknown
}

// Demuxer demultiplexes one WebM stream. The zero value is not usable; call New.
type Demuxer struct {
	maxElement int
	buf        []byte
	offset     int64 // absolute offset of buf[0]
	skip       int64 // body bytes left to skip
	stack      []level
	haveHeader bool
	haveTracks bool
	track      Track
}

// New returns a Demuxer that refuses to buffer elements larger than maxElement bytes.
func New(maxElement int) *Demuxer { return &Demuxer{maxElement: maxElement} }

// Track returns the followed audio track once the Tracks element has been read.
func (d *Demuxer) Track() (Track, bool) { return d.track, d.haveTracks }

// Write parses b and calls fn with each packet of the audio track that b completes.
func (d *Demuxer) Write(b []byte, fn func(Packet) error) error {
	if d.skip > 0 && len(d.buf) == 0 {
		n := min(d.skip, int64(len(b)))
		d.skip -= n
		d.offset += n
		b = b[n:]
	}
	d.buf = append(d.buf, b...)
	pos := 0
	defer func() {
		n := copy(d.buf, d.buf[pos:])
		d.buf = d.buf[:n]
		d.offset += int64(pos)
	}()
	for pos < len(d.buf) {
		if d.skip > 0 {
			n := int(min(d.skip, int64(len(d.buf)-pos)))
			d.skip -= int64(n)
			pos += n
			continue
		}
		n, err := d.element(d.buf[pos:], d.offset+int64(pos), fn)
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		pos += n
	}
	return nil
}

// End reports whether the stream may end here: not inside an element, and not
// before the Tracks.
func (d *Demuxer) End() error {
	switch {
	case d.offset == 0 && len(d.buf) == 0:
		return errors.New("empty WebM stream")
	case len(d.buf) > 0 || d.skip > 0:
		return fmt.Errorf("WebM stream ends inside an element (byte %d)", d.offset+int64(len(d.buf)))
	case !d.haveTracks:
		return errors.New("WebM stream ends before its Tracks element")
	}
	return nil
}

// element handles the element starting at b (absolute offset at). It returns the
// bytes consumed, or 0 if b does not hold enough of the element yet.
func (d *Demuxer) element(b []byte, at int64, fn func(Packet) error) (int, error) {
	// Close known-size masters that end here.
	for len(d.stack) > 0 {
		top := d.stack[len(d.stack)-1]
		if top.end < 0 || at < top.end {
			break
		}
		if at > top.end {
			return 0, fmt.Errorf("WebM element at byte %d overruns its parent %#x", at, top.id)
		}
		d.stack = d.stack[:len(d.stack)-1]
	}
	id, idLen, ok, err := readID(b)
	if err != nil {
		return 0, fmt.Errorf("WebM: %w at byte %d", err, at)
	}
	if !ok {
		return 0, nil
	}
	size, sizeLen, ok, err := readSize(b[idLen:])
	if err != nil {
		return 0, fmt.Errorf("WebM: %w at byte %d", err, at)
	}
	if !ok {
		return 0, nil
	}
	hdr := idLen + sizeLen
	// Find the parent that accepts this element: an element that does not belong
	// in an unknown-size master ends it (how unknown-size Clusters end).
	var act action
	for {
		parent := uint32(0)
		if len(d.stack) > 0 {
			parent = d.stack[len(d.stack)-1].id
		}
		act = children[parent][id]
		if act != 0 {
			break
		}
		if len(d.stack) == 0 || d.stack[len(d.stack)-1].end >= 0 {
			return 0, fmt.Errorf("WebM: unexpected element %#x in %s at byte %d", id, name(parent), at)
		}
		d.stack = d.stack[:len(d.stack)-1]
	}
	if err := d.checkOrder(id); err != nil {
		return 0, err
	}
	if size >= 0 && len(d.stack) > 0 {
		if top := d.stack[len(d.stack)-1]; top.end >= 0 && at+int64(hdr)+size > top.end {
			return 0, fmt.Errorf("WebM element %#x at byte %d overruns its parent %s", id, at, name(top.id))
		}
	}
	switch act {
	case actEnter:
		end := int64(-1)
		if size >= 0 {
			end = at + int64(hdr) + size
		}
		d.stack = append(d.stack, level{id: id, end: end})
		return hdr, nil
	case actSkip:
		if size < 0 {
			return 0, fmt.Errorf("WebM element %#x at byte %d has unknown size", id, at)
		}
		d.skip = size
		return hdr, nil
	}
	if size < 0 {
		return 0, fmt.Errorf("WebM element %#x at byte %d has unknown size", id, at)
	}
	if size > int64(d.maxElement) {
		return 0, fmt.Errorf("WebM element %#x at byte %d is %d bytes (limit %d)", id, at, size, d.maxElement)
	}
	if int64(len(b)) < int64(hdr)+size {
		return 0, nil
	}
	body := b[hdr : hdr+int(size)]
	switch id {
	case idEBML:
		if err := d.header(body); err != nil {
			return 0, err
		}
	case idTracks:
		if err := d.tracks(body); err != nil {
			return 0, err
		}
	case idSimpleBlock:
		if err := d.block(body, 0, fn); err != nil {
			return 0, fmt.Errorf("WebM block at byte %d: %w", at, err)
		}
	case idBlockGroup:
		var block []byte
		var discard int64
		err := walk(body, func(id uint32, data []byte) error {
			switch id {
			case idBlock:
				block = data
			case idDiscardPadding:
				v, err := readUint(data)
				discard = int64(v)
				if len(data) > 0 && len(data) < 8 && data[0]&0x80 != 0 {
					discard -= 1 << (8 * len(data)) // a signed integer
				}
				if err == nil && discard > int64(MaxDiscardPadding) {
					err = fmt.Errorf("DiscardPadding of %d ns: more than the %v a packet can hold", discard, MaxDiscardPadding)
				}
				return err
			}
			return nil
		})
		if err == nil && block != nil {
			// Negative padding (at the start of the block) is not used for
			// Opus, whose pre-skip says the same; it is ignored.
			err = d.block(block, time.Duration(max(discard, 0)), fn)
		}
		if err != nil {
			return 0, fmt.Errorf("WebM block group at byte %d: %w", at, err)
		}
	case idEncryptedBlock:
		return 0, fmt.Errorf("%w: encrypted blocks", ErrUnsupported)
	}
	return hdr + int(size), nil
}

func (d *Demuxer) checkOrder(id uint32) error {
	switch {
	case !d.haveHeader && id != idEBML:
		return errors.New("not a WebM stream: no EBML header")
	case d.haveHeader && id == idEBML:
		return fmt.Errorf("%w: a second EBML header (chained streams)", ErrUnsupported)
	case (id == idSimpleBlock || id == idBlockGroup) && !d.haveTracks:
		return errors.New("WebM block before the Tracks element")
	}
	return nil
}

func (d *Demuxer) header(body []byte) error {
	docType := ""
	err := walk(body, func(id uint32, data []byte) error {
		if id == idDocType {
			docType = string(trimNUL(data))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("WebM EBML header: %w", err)
	}
	if docType != "webm" && docType != "matroska" {
		return fmt.Errorf("%w: EBML document type %q", ErrUnsupported, docType)
	}
	d.haveHeader = true
	return nil
}

func (d *Demuxer) tracks(body []byte) error {
	if d.haveTracks {
		return nil // a repeated Tracks element; the first one stands
	}
	var found, audio bool
	var codecs []string
	err := walk(body, func(id uint32, data []byte) error {
		if id != idTrackEntry || found {
			return nil
		}
		t, kind, err := trackEntry(data)
		if err != nil {
			return err
		}
		if kind != 2 { // not audio
			return nil
		}
		audio = true
		codecs = append(codecs, t.CodecID)
		if t.CodecID == "A_OPUS" && t.Number > 0 {
			d.track, found = t, true
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("WebM Tracks: %w", err)
	}
	if !found {
		if !audio {
			return fmt.Errorf("%w: no audio track", ErrUnsupported)
		}
		return fmt.Errorf("%w: audio codec %q (only A_OPUS)", ErrUnsupported, codecs)
	}
	d.haveTracks = true
	return nil
}

func trackEntry(b []byte) (t Track, kind uint64, err error) {
	err = walk(b, func(id uint32, data []byte) error {
		var err error
		switch id {
		case idTrackNumber:
			t.Number, err = readUint(data)
		case idTrackType:
			kind, err = readUint(data)
		case idCodecID:
			t.CodecID = string(trimNUL(data))
		case idCodecPrivate:
			t.CodecPrivate = append([]byte(nil), data...)
		case idCodecDelay:
			t.CodecDelay, err = readUint(data)
		case idAudio:
			err = walk(data, func(id uint32, data []byte) error {
				switch id {
				case idSamplingFreq:
					f, err := readFloat(data)
					t.SampleRate = f
					return err
				case idChannels:
					c, err := readUint(data)
					if c > 255 {
						return fmt.Errorf("%d channels", c)
					}
					t.Channels = int(c)
					return err
				}
				return nil
			})
		}
		return err
	})
	return t, kind, err
}

// block handles a (Simple)Block body: track number, timecode, flags, frames.
// discard is the block's DiscardPadding, which trims the end of the block: it
// goes with the last frame.
func (d *Demuxer) block(b []byte, discard time.Duration, fn func(Packet) error) error {
	track, n, ok, err := readVint(b, 8)
	if err != nil || !ok {
		return errors.New("corrupt block header")
	}
	if len(b) < n+3 {
		return errors.New("short block header")
	}
	flags := b[n+2]
	data := b[n+3:]
	if track != d.track.Number {
		return nil
	}
	lacing := flags & 0x06 >> 1
	if lacing == 0 {
		if len(data) == 0 {
			return errors.New("empty block")
		}
		return fn(Packet{Data: data, DiscardPadding: discard})
	}
	if len(data) < 1 {
		return errors.New("laced block without a frame count")
	}
	count := int(data[0]) + 1
	data = data[1:]
	sizes := make([]int, count)
	switch lacing {
	case 1: // Xiph
		for i := 0; i < count-1; i++ {
			for {
				if len(data) == 0 {
					return errors.New("truncated Xiph lacing")
				}
				v := int(data[0])
				data = data[1:]
				sizes[i] += v
				if v < 255 {
					break
				}
			}
		}
	case 3: // EBML
		first, l, ok, err := readVint(data, 8)
		if err != nil || !ok || first > uint64(len(data)) {
			return errors.New("corrupt EBML lacing")
		}
		data = data[l:]
		sizes[0] = int(first)
		for i := 1; i < count-1; i++ {
			raw, l, ok, err := readVint(data, 8)
			if err != nil || !ok {
				return errors.New("corrupt EBML lacing")
			}
			data = data[l:]
			delta := int64(raw) - (int64(1)<<(7*l-1) - 1)
			v := int64(sizes[i-1]) + delta
			if v < 0 || v > int64(len(b)) {
				return errors.New("corrupt EBML lacing")
			}
			sizes[i] = int(v)
		}
	case 2: // fixed
		if len(data)%count != 0 {
			return errors.New("fixed lacing does not divide the block evenly")
		}
		for i := range sizes {
			sizes[i] = len(data) / count
		}
	}
	if lacing != 2 {
		sum := 0
		for _, s := range sizes[:count-1] {
			sum += s
		}
		if sum > len(data) {
			return errors.New("laced frames overrun the block")
		}
		sizes[count-1] = len(data) - sum
	}
	for i, s := range sizes {
		if s == 0 {
			return errors.New("empty laced frame")
		}
		p := Packet{Data: data[:s]}
		if i == count-1 {
			p.DiscardPadding = discard
		}
		if err := fn(p); err != nil {
			return err
		}
		data = data[s:]
	}
	return nil
}

// walk calls fn for each child element of a fully buffered master element body.
func walk(b []byte, fn func(id uint32, data []byte) error) error {
	for len(b) > 0 {
		id, idLen, ok, err := readID(b)
		if err != nil {
			return err
		}
		if !ok {
			return errors.New("truncated element ID")
		}
		size, sizeLen, ok, err := readSize(b[idLen:])
		if err != nil {
			return err
		}
		if !ok || size < 0 || int64(len(b)-idLen-sizeLen) < size {
			return fmt.Errorf("element %#x overruns its parent", id)
		}
		start := idLen + sizeLen
		if err := fn(id, b[start:start+int(size)]); err != nil {
			return err
		}
		b = b[start+int(size):]
	}
	return nil
}

// readVint reads an EBML variable-length integer of at most maxLen bytes,
// returning the value without its length marker. ok is false if b is too short.
func readVint(b []byte, maxLen int) (v uint64, n int, ok bool, err error) {
	if len(b) == 0 {
		return 0, 0, false, nil
	}
	first := b[0]
	if first == 0 {
		return 0, 0, false, errors.New("invalid variable-length integer")
	}
	n = 1
	for mask := byte(0x80); first&mask == 0; mask >>= 1 {
		n++
	}
	if n > maxLen {
		return 0, 0, false, errors.New("variable-length integer too long")
	}
	if len(b) < n {
		return 0, 0, false, nil
	}
	v = uint64(first & (0xFF >> n))
	for _, c := range b[1:n] {
		v = v<<8 | uint64(c)
	}
	return v, n, true, nil
}

// readID reads an element ID, keeping its length marker as Matroska writes IDs.
func readID(b []byte) (id uint32, n int, ok bool, err error) {
	_, n, ok, err = readVint(b, 4)
	if err != nil || !ok {
		return 0, 0, ok, err
	}
	for _, c := range b[:n] {
		id = id<<8 | uint32(c)
	}
	return id, n, true, nil
}

// readSize reads an element size; -1 means unknown (all value bits set).
func readSize(b []byte) (size int64, n int, ok bool, err error) {
	v, n, ok, err := readVint(b, 8)
	if err != nil || !ok {
		return 0, 0, ok, err
	}
	if v == 1<<(7*n)-1 {
		return -1, n, true, nil
	}
	if v > math.MaxInt64/2 {
		return 0, 0, false, errors.New("element size out of range")
	}
	return int64(v), n, true, nil
}

func readUint(b []byte) (uint64, error) {
	if len(b) > 8 {
		return 0, fmt.Errorf("%d-byte unsigned integer", len(b))
	}
	var v uint64
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return v, nil
}

func readFloat(b []byte) (float64, error) {
	switch len(b) {
	case 0:
		return 0, nil
	case 4:
		return float64(math.Float32frombits(binary.BigEndian.Uint32(b))), nil
	case 8:
		return math.Float64frombits(binary.BigEndian.Uint64(b)), nil
	}
	return 0, fmt.Errorf("%d-byte float", len(b))
}

func trimNUL(b []byte) []byte {
	for len(b) > 0 && b[len(b)-1] == 0 {
		b = b[:len(b)-1]
	}
	return b
}

func name(id uint32) string {
	switch id {
	case 0:
		return "the top level"
	case idSegment:
		return "Segment"
	case idCluster:
		return "Cluster"
	}
	return fmt.Sprintf("element %#x", id)
}
