package audio

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/plugins/audio/ogg"
	"github.com/earshot-dev/earshot/plugins/audio/opus"
	"github.com/earshot-dev/earshot/plugins/sdk"
)

// concealment is a valid 2-byte Opus packet that decodes to 120 ms of loss
// concealment: TOC config 3 (SILK NB, 60 ms) with code 3, then a frame count
// byte of 2 CBR frames of 0 bytes each.
var concealment = []byte{3<<3 | 3, 2}

var opusHead = []byte("OpusHead\x01\x01\x38\x01\x80\xbb\x00\x00\x00\x00\x00")

// oggPage builds one Ogg page with a correct CRC.
func oggPage(flags byte, granule int64, seq uint32, lacing, body []byte) []byte {
	b := []byte("OggS\x00")
	b = append(b, flags)
	b = binary.LittleEndian.AppendUint64(b, uint64(granule))
	b = binary.LittleEndian.AppendUint32(b, 1) // serial
	b = binary.LittleEndian.AppendUint32(b, seq)
	b = binary.LittleEndian.AppendUint32(b, 0)
	b = append(b, byte(len(lacing)))
	b = append(b, lacing...)
	b = append(b, body...)
	binary.LittleEndian.PutUint32(b[22:], oggCRC(b))
	return b
}

// oggBomb is a valid Ogg Opus stream of pages full of concealment packets:
// 255 packets (30.6 s) in 792 bytes per page.
func oggBomb(pages int) []byte {
	tags := []byte("OpusTags\x00\x00\x00\x00\x00\x00\x00\x00")
	b := slices.Concat(oggPage(0x02, 0, 0, []byte{byte(len(opusHead))}, opusHead),
		oggPage(0, 0, 1, []byte{byte(len(tags))}, tags))
	lacing := slices.Repeat([]byte{byte(len(concealment))}, 255)
	body := slices.Repeat(concealment, 255)
	for i := range pages {
		b = append(b, oggPage(0, int64(i+1)*255*5760, uint32(i+2), lacing, body)...)
	}
	return b
}

// webmHeader is the EBML header, an unknown-size Segment and the Tracks of a
// mono Opus stream.
func webmHeader() []byte {
	b := el(0x1A45DFA3, el(0x4282, []byte("webm")))
	b = append(b, unknownSize(0x18538067)...)
	return append(b, el(0x1654AE6B, el(0xAE, el(0xD7, []byte{1}), el(0x83, []byte{2}),
		el(0x86, []byte("A_OPUS")), el(0x63A2, opusHead)))...)
}

// webmBomb is a WebM stream of SimpleBlocks with Xiph lacing, each holding 256
// concealment packets (30.7 s) in 792 bytes.
func webmBomb(blocks int) []byte {
	b := append(webmHeader(), unknownSize(0x1F43B675)...)
	block := []byte{0x81, 0, 0, 0x82, 255} // track 1, keyframe, Xiph lacing, 256 frames
	block = append(block, slices.Repeat([]byte{byte(len(concealment))}, 255)...)
	block = append(block, slices.Repeat(concealment, 256)...)
	for range blocks {
		b = append(b, el(0xA3, block)...)
	}
	return b
}

// clock is a fake wall clock for the duration budget.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// streamStats is what a watched Decoder saw of its streams' outputs.
type streamStats struct {
	mu       sync.Mutex
	peak     int   // most samples pending at once, over all streams
	received int64 // input bytes of the last stream
}

func (s *streamStats) get() (peak int, received int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peak, s.received
}

// watched returns a Decoder on a stopped fake clock that records what its
// streams held back from the sink and how much input they read.
func watched() (*Decoder, *clock, *streamStats) {
	d := New()
	c := &clock{t: time.Unix(1e9, 0)}
	st := &streamStats{}
	d.now = c.now
	d.done = func(o *output) {
		st.mu.Lock()
		st.peak = max(st.peak, o.peak)
		st.received = o.received
		st.mu.Unlock()
	}
	return d, c, st
}

// TestConcealmentFlood decodes Ogg and WebM streams of 2-byte packets that each
// conceal 120 ms: they must end with INVALID_AUDIO once the audio runs past the
// duration budget, holding no more than a block and a packet in memory.
func TestConcealmentFlood(t *testing.T) {
	const units = 80 // 80 pages or blocks: 41 minutes of audio in 63 KB
	cases := []struct {
		name string
		f    sdk.Format
		data []byte
	}{
		{"ogg", sdk.Format{Container: "ogg"}, oggBomb(units)},
		{"webm xiph lacing", sdk.Format{Container: "webm"}, webmBomb(units)},
		{"ogg at 22.05 kHz (resampled)", sdk.Format{Container: "ogg", OutputRate: 22050}, oggBomb(units)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rate := c.f.OutputRate
			if rate == 0 {
				rate = DefaultSampleRate
			}
			for _, parts := range [][][]byte{{c.data}, cut(c.data, 5)} {
				d, _, st := watched()
				var out countSink
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				err := d.Decode(context.Background(), c.f, &chunks{list: parts}, &out)
				runtime.ReadMemStats(&after)
				var se *sdk.StreamError
				if !errors.As(err, &se) || se.Code != sdk.CodeInvalidAudio {
					t.Fatalf("%d chunks: error %v, want INVALID_AUDIO", len(parts), err)
				}
				peak, received := st.get()
				decoded := samplesToDuration(int64(out.n), rate)
				t.Logf("%d chunks: %v decoded from %d bytes read, peak %d samples pending: %v", len(parts), decoded, received, peak, err)
				// Refused as soon as a packet goes past the budget of the bytes
				// read so far (a stopped clock: no real time).
				if limit := budgetMargin + time.Duration(received)*budgetPerByte; decoded > limit || decoded < budgetMargin {
					t.Errorf("%v decoded from %d bytes, want more than %v and at most %v", decoded, received, budgetMargin, limit)
				}
				if len(parts) > 1 && received > int64(len(c.data))/4 {
					t.Errorf("read %d of %d bytes before the refusal", received, len(c.data))
				}
				// A block (250 ms) and the samples of one packet (120 ms).
				if bound := rate/4 + rate*120/1000 + 64; peak > bound {
					t.Errorf("%d samples pending at once, bound %d", peak, bound)
				}
				// The blocks copied for the sink are the only allocations that
				// grow with the audio; a pending buffer holding it all would
				// double that at least.
				if alloc, blocks := after.TotalAlloc-before.TotalAlloc, uint64(out.n)*2; alloc > blocks*3/2+8<<20 {
					t.Errorf("%d MB allocated for %d MB of PCM", alloc>>20, blocks>>20)
				}
			}
		})
	}
}

// TestBudgetFollowsTheClock feeds raw concealment packets at the pace they
// describe: real time never runs out of budget, however many there are, while
// the same packets all at once are refused.
func TestBudgetFollowsTheClock(t *testing.T) {
	const packets = 1000 // 120 s: past the 60 s margin and the bytes' 16 s
	parts := slices.Repeat([][]byte{concealment}, packets)

	d, c, _ := watched()
	out := &sink{t: t, rate: 16000}
	err := d.Decode(context.Background(), sdk.Format{Container: "opus"}, &paced{list: parts, clock: c, step: 120 * time.Millisecond}, out)
	if err != nil {
		t.Fatalf("real-time stream: %v", err)
	}
	if want := packets * 1920; len(out.samples) != want {
		t.Errorf("%d samples, want %d", len(out.samples), want)
	}

	d, _, _ = watched()
	got, err := decode(t, d, sdk.Format{Container: "opus"}, parts)
	var se *sdk.StreamError
	if !errors.As(err, &se) || se.Code != sdk.CodeInvalidAudio {
		t.Fatalf("all at once: error %v, want INVALID_AUDIO", err)
	}
	if secs := float64(len(got)) / 16000; secs < 60 || secs > 77 {
		t.Errorf("all at once: %.1f s delivered before the refusal, want 60 s + 16 ms per 2-byte packet", secs)
	}
}

// paced is a ChunkSource that moves a fake clock on by step per chunk.
type paced struct {
	list  [][]byte
	clock *clock
	step  time.Duration
}

func (p *paced) Next(ctx context.Context) ([]byte, error) {
	if len(p.list) == 0 {
		return nil, io.EOF
	}
	b := p.list[0]
	p.list = p.list[1:]
	p.clock.advance(p.step)
	return b, nil
}

// TestLowBitrateClipAtOnce decodes a long, mostly silent 6 kbit/s Ogg stream
// (120 ms packets: one of the leanest real encodings, ~2.5 ms per byte) sent in
// one message, with the clock stopped: the budget lets all of it through.
func TestLowBitrateClipAtOnce(t *testing.T) {
	var head []byte
	var packets [][]byte
	n := 0
	if err := ogg.New(1<<20).Write(readFile(t, "speech-6k-120ms.ogg"), func(p ogg.Packet) error {
		switch n++; n {
		case 1:
			head = slices.Clone(p.Data)
		case 2:
		default:
			packets = append(packets, slices.Clone(p.Data))
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// Ten times the file's 30 s: five minutes, far past the 60 s margin.
	data := oggStream(head, slices.Repeat(packets, 10))
	d, _, _ := watched()
	got, err := decode(t, d, sdk.Format{Container: "ogg"}, [][]byte{data})
	if err != nil {
		t.Fatal(err)
	}
	secs := float64(len(got)) / 16000
	perByte := secs * 1000 / float64(len(data))
	t.Logf("%.1f s from %d bytes (%.2f ms per byte)", secs, len(data), perByte)
	if secs < 299 || perByte < 2 {
		t.Errorf("%.1f s decoded at %.2f ms per byte, want 300 s at over 2 ms per byte", secs, perByte)
	}
}

// oggStream muxes an Opus stream: head, an empty OpusTags, then the packets on
// pages of up to 50 packets, the last page marked end of stream.
func oggStream(head []byte, packets [][]byte) []byte {
	tags := []byte("OpusTags\x00\x00\x00\x00\x00\x00\x00\x00")
	b := slices.Concat(oggPage(0x02, 0, 0, []byte{byte(len(head))}, head),
		oggPage(0, 0, 1, []byte{byte(len(tags))}, tags))
	var granule int64
	seq := uint32(2)
	for len(packets) > 0 {
		page := packets[:min(50, len(packets))]
		packets = packets[len(page):]
		var lacing, body []byte
		for _, p := range page {
			lacing = append(lacing, slices.Repeat([]byte{255}, len(p)/255)...)
			lacing = append(lacing, byte(len(p)%255))
			body = append(body, p...)
			d, _ := opus.PacketDuration(p)
			granule += int64(d)
		}
		flags := byte(0)
		if len(packets) == 0 {
			flags = 0x04
		}
		b = append(b, oggPage(flags, granule, seq, lacing, body)...)
		seq++
	}
	return b
}

// webmBlockGroup is a WebM stream with one BlockGroup of track 1: block holds
// the flags byte and the frames, discard the DiscardPadding's bytes.
func webmBlockGroup(head []byte, block []byte, discard []byte) []byte {
	b := el(0x1A45DFA3, el(0x4282, []byte("webm")))
	b = append(b, unknownSize(0x18538067)...)
	b = append(b, el(0x1654AE6B, el(0xAE, el(0xD7, []byte{1}), el(0x83, []byte{2}),
		el(0x86, []byte("A_OPUS")), el(0x63A2, head)))...)
	b = append(b, unknownSize(0x1F43B675)...)
	return append(b, el(0xA0, el(0xA1, append([]byte{0x81, 0, 0}, block...)), el(0x75A2, discard))...)
}

// TestDiscardPadding trims a laced block's DiscardPadding from its last frame
// only, and refuses a DiscardPadding no packet can hold with INVALID_AUDIO
// (it used to overflow and panic).
func TestDiscardPadding(t *testing.T) {
	noPreSkip := slices.Clone(opusHead)
	noPreSkip[10], noPreSkip[11] = 0, 0
	// Three 1-byte packets of 20 ms (CELT FB, one empty frame), Xiph laced.
	laced := []byte{0x82, 2, 1, 1, 0xF8, 0xF8, 0xF8}
	ms10 := []byte{0x00, 0x98, 0x96, 0x80} // 10,000,000 ns
	for _, c := range []struct {
		name    string
		data    []byte
		samples int
		code    string
	}{
		{"10 ms off the last of three frames", webmBlockGroup(noPreSkip, laced, ms10), 3*320 - 160, ""},
		{"negative (start) padding ignored", webmBlockGroup(noPreSkip, laced, []byte{0xFF}), 3 * 320, ""},
		{"120 ms drops the whole last frame only", webmBlockGroup(noPreSkip, laced, []byte{0x07, 0x27, 0x0E, 0x00}), 2 * 320, ""},
		{"a 7-byte DiscardPadding", webmBlockGroup(noPreSkip, laced, []byte{0x02, 0x0C, 0x49, 0xBA, 0x5E, 0x35, 0x40}), 0, sdk.CodeInvalidAudio},
		{"121 ms", webmBlockGroup(noPreSkip, laced, []byte{0x07, 0x36, 0x50, 0x40}), 0, sdk.CodeInvalidAudio},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := decode(t, New(), sdk.Format{Container: "webm"}, [][]byte{c.data})
			if c.code == "" {
				if err != nil || len(got) != c.samples {
					t.Fatalf("%d samples, error %v; want %d samples", len(got), err, c.samples)
				}
				return
			}
			var se *sdk.StreamError
			if !errors.As(err, &se) || se.Code != c.code {
				t.Fatalf("error %v, want %s", err, c.code)
			}
		})
	}
}
