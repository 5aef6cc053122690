package webm

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func chromium(t testing.TB) []byte {
	t.Helper()
	names, _ := filepath.Glob(filepath.Join("..", "testdata", "chromium-mediarecorder", "chunk-*.bin"))
	var out []byte
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b...)
	}
	if len(out) == 0 {
		t.Fatal("no MediaRecorder chunks")
	}
	return out
}

type result struct {
	packets [][]byte
	discard []time.Duration
	err     error
	end     error
}

// demux feeds parts to a fresh Demuxer and checks its buffer stays bounded.
func demux(t testing.TB, max int, parts ...[]byte) (*Demuxer, result) {
	d := New(max)
	var r result
	for _, p := range parts {
		r.err = d.Write(p, func(p Packet) error {
			r.packets = append(r.packets, slices.Clone(p.Data))
			r.discard = append(r.discard, p.DiscardPadding)
			return nil
		})
		// Held back: at most one element being collected (header + body) plus
		// the bytes of the chunk that followed it.
		if limit := max + 16 + len(p); len(d.buf) > limit {
			t.Fatalf("buffer grew to %d bytes (limit %d)", len(d.buf), limit)
		}
		if r.err != nil {
			return d, r
		}
	}
	r.end = d.End()
	return d, r
}

func split(b []byte, seed uint64) [][]byte {
	rng := rand.New(rand.NewPCG(seed, 1))
	var out [][]byte
	for len(b) > 0 {
		n := min(len(b), 1+rng.IntN(1+rng.IntN(2000)))
		out = append(out, b[:n])
		b = b[n:]
	}
	return out
}

func TestRealFiles(t *testing.T) {
	for _, c := range []struct {
		name     string
		data     []byte
		packets  int
		channels int
		discard  bool
	}{
		{"ffmpeg", readFile(t, "speech.webm"), 69, 2, true},
		{"ffmpeg live", readFile(t, "speech-live.webm"), 69, 2, true},
		{"chromium MediaRecorder", chromium(t), 83, 2, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			d, whole := demux(t, 1<<20, c.data)
			if whole.err != nil || whole.end != nil {
				t.Fatalf("errors %v / %v", whole.err, whole.end)
			}
			if len(whole.packets) != c.packets {
				t.Errorf("%d packets, want %d", len(whole.packets), c.packets)
			}
			tr, ok := d.Track()
			if !ok || tr.CodecID != "A_OPUS" || tr.Channels != c.channels || tr.SampleRate != 48000 || !strings.HasPrefix(string(tr.CodecPrivate), "OpusHead") {
				t.Errorf("track %+v", tr)
			}
			if got := whole.discard[len(whole.discard)-1] > 0; got != c.discard {
				t.Errorf("discard padding on the last packet: %v", whole.discard[len(whole.discard)-1])
			}
			for seed := range uint64(5) {
				_, r := demux(t, 1<<20, split(c.data, seed)...)
				if r.err != nil || r.end != nil || !slices.EqualFunc(r.packets, whole.packets, slices.Equal) {
					t.Fatalf("split (seed %d): %v / %v, %d packets", seed, r.err, r.end, len(r.packets))
				}
			}
			// One byte at a time.
			var ones [][]byte
			for i := range c.data {
				ones = append(ones, c.data[i:i+1])
			}
			if _, r := demux(t, 1<<20, ones...); r.err != nil || !slices.EqualFunc(r.packets, whole.packets, slices.Equal) {
				t.Fatalf("1-byte chunks: %v, %d packets", r.err, len(r.packets))
			}
		})
	}
}

// ---- a minimal EBML writer ----

func id(v uint32) []byte {
	b := binary.BigEndian.AppendUint32(nil, v)
	for len(b) > 1 && b[0] == 0 {
		b = b[1:]
	}
	return b
}

func el(v uint32, parts ...[]byte) []byte {
	body := slices.Concat(parts...)
	return slices.Concat(id(v), binary.BigEndian.AppendUint64(nil, uint64(len(body))|1<<56), body)
}

func unknown(v uint32) []byte { return append(id(v), 1, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF) }

func header(docType string) []byte { return el(idEBML, el(idDocType, []byte(docType))) }

func tracks(entries ...[]byte) []byte {
	var b []byte
	for _, e := range entries {
		b = append(b, el(idTrackEntry, e)...)
	}
	return el(idTracks, b)
}

func entry(number byte, kind byte, codec string) []byte {
	return slices.Concat(el(idTrackNumber, []byte{number}), el(idTrackType, []byte{kind}), el(idCodecID, []byte(codec)))
}

func simple(track byte, flags byte, data ...byte) []byte {
	return el(idSimpleBlock, append([]byte{0x80 | track, 0, 0, flags}, data...))
}

func stream(clusters ...[]byte) []byte {
	b := slices.Concat(header("webm"), unknown(idSegment), tracks(entry(1, 2, "A_OPUS")))
	for _, c := range clusters {
		b = append(b, unknown(idCluster)...)
		b = append(b, c...)
	}
	return b
}

func TestLacing(t *testing.T) {
	frames := [][]byte{{1, 2, 3}, slices.Repeat([]byte{4}, 300), {5}}
	xiph := []byte{2, 3, 255, 45} // 3 frames: 3, 300 bytes, rest
	ebml := []byte{2, 0x83}       // first size 3, then delta +297 (2-byte signed vint)
	delta := 297 + (1<<13 - 1)
	ebml = append(ebml, 0x40|byte(delta>>8), byte(delta))
	cases := []struct {
		name   string
		flags  byte
		lacing []byte
		want   [][]byte
	}{
		{"xiph", 0x82, xiph, frames},
		{"ebml", 0x86, ebml, frames},
		{"fixed", 0x84, []byte{1}, [][]byte{{7, 7}, {7, 7}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body := c.lacing
			for _, f := range c.want {
				body = append(body, f...)
			}
			data := stream(simple(1, c.flags, body...))
			_, r := demux(t, 1<<20, data)
			if r.err != nil || r.end != nil {
				t.Fatalf("%v / %v", r.err, r.end)
			}
			if !slices.EqualFunc(r.packets, c.want, slices.Equal) {
				t.Fatalf("frames %v", r.packets)
			}
		})
	}
}

func TestStructure(t *testing.T) {
	blockGroup := el(idBlockGroup, el(idBlock, []byte{0x81, 0, 0, 0, 9, 9}), el(idDiscardPadding, []byte{0x01, 0x00}))
	cases := []struct {
		name    string
		data    []byte
		packets int
		err     string // substring of the error; "" for success
		unsupp  bool
	}{
		{"unknown-size clusters end at the next cluster", stream(simple(1, 0x80, 1), simple(1, 0x80, 2)), 2, "", false},
		{"unknown-size cluster ends at Cues", append(stream(simple(1, 0x80, 1)), el(idCues, []byte{1, 2})...), 1, "", false},
		{"known-size segment and cluster", slices.Concat(header("webm"), el(idSegment, tracks(entry(1, 2, "A_OPUS")), el(idCluster, el(idTimecode, []byte{0}), simple(1, 0x80, 1)))), 1, "", false},
		{"block group with discard padding", stream(blockGroup), 1, "", false},
		{"other tracks' blocks are skipped", slices.Concat(header("webm"), unknown(idSegment), tracks(entry(1, 1, "V_VP8"), entry(2, 2, "A_OPUS")), unknown(idCluster), simple(1, 0x80, 1), simple(2, 0x80, 2)), 1, "", false},
		{"matroska doc type", slices.Concat(header("matroska"), unknown(idSegment), tracks(entry(1, 2, "A_OPUS"))), 0, "", false},
		{"void and unknown-to-us segment children skipped", slices.Concat(header("webm"), unknown(idSegment), el(idVoid, make([]byte, 100)), el(idTags, make([]byte, 50)), tracks(entry(1, 2, "A_OPUS"))), 0, "", false},
		{"not EBML", []byte("RIFF....WAVEfmt "), 0, "", false},
		{"other doc type", slices.Concat(header("mkvx"), unknown(idSegment)), 0, "document type", true},
		{"vorbis", slices.Concat(header("webm"), unknown(idSegment), tracks(entry(1, 2, "A_VORBIS"))), 0, "A_VORBIS", true},
		{"video only", slices.Concat(header("webm"), unknown(idSegment), tracks(entry(1, 1, "V_VP8"))), 0, "no audio track", true},
		{"block before tracks", slices.Concat(header("webm"), unknown(idSegment), unknown(idCluster), simple(1, 0x80, 1)), 0, "before the Tracks", false},
		{"encrypted block", stream(el(idEncryptedBlock, []byte{1})), 0, "encrypted", true},
		{"unknown size on a skipped element", slices.Concat(header("webm"), unknown(idSegment), unknown(idTags)), 0, "unknown size", false},
		{"unknown size on a block", stream(unknown(idSimpleBlock)), 0, "unknown size", false},
		{"child overruns its parent", slices.Concat(header("webm"), id(idSegment), []byte{0x85}, tracks(entry(1, 2, "A_OPUS"))), 0, "overruns", false},
		{"unexpected element in a cluster", stream([]byte{0x86, 0x81, 0}), 0, "unexpected element", false},
		{"second EBML header", append(stream(simple(1, 0x80, 1)), header("webm")...), 1, "second EBML header", true},
		{"bad lacing", stream(simple(1, 0x82, 5, 255, 255)), 0, "Xiph", false},
		{"fixed lacing does not divide", stream(simple(1, 0x84, 1, 1, 2, 3)), 0, "divide", false},
		{"empty block", stream(simple(1, 0x80)), 0, "empty block", false},
		{"invalid vint", append(stream(), 0x00), 0, "invalid variable-length", false},
		{"ID too long", append(stream(), 0x08, 1, 2, 3, 4), 0, "too long", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, r := demux(t, 1<<20, c.data)
			err := r.err
			if err == nil {
				err = r.end
			}
			if c.name == "not EBML" {
				if err == nil || !strings.Contains(err.Error(), "no EBML header") && !strings.Contains(err.Error(), "unexpected") {
					t.Fatalf("error %v", err)
				}
				return
			}
			if c.err == "" && r.err != nil {
				t.Fatalf("error %v", r.err)
			}
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want one containing %q", err, c.err)
				}
				if errors.Is(err, ErrUnsupported) != c.unsupp {
					t.Fatalf("error %v: unsupported %v, want %v", err, errors.Is(err, ErrUnsupported), c.unsupp)
				}
			}
			if len(r.packets) != c.packets {
				t.Fatalf("%d packets, want %d", len(r.packets), c.packets)
			}
		})
	}
}

// hugeDiscard is a 7-byte DiscardPadding of 576460752303424 ns, whose product
// with a sample rate overflows int64.
var hugeDiscard = []byte{0x02, 0x0C, 0x49, 0xBA, 0x5E, 0x35, 0x40}

func TestDiscardPadding(t *testing.T) {
	group := func(block []byte, discard []byte) []byte {
		return stream(el(idBlockGroup, el(idBlock, append([]byte{0x81, 0, 0}, block...)), el(idDiscardPadding, discard)))
	}
	laced := []byte{0x82, 2, 1, 1, 7, 8, 9} // three Xiph-laced 1-byte frames
	cases := []struct {
		name    string
		data    []byte
		discard []time.Duration // per packet
		err     string
	}{
		{"one frame", group([]byte{0, 9}, []byte{0x01, 0x00}), []time.Duration{256}, ""},
		{"laced: the last frame only", group(laced, []byte{0x01, 0x00}), []time.Duration{0, 0, 256}, ""},
		{"negative: ignored", group([]byte{0, 9}, []byte{0xFF, 0x00}), []time.Duration{0}, ""},
		{"120 ms", group([]byte{0, 9}, []byte{0x07, 0x27, 0x0E, 0x00}), []time.Duration{MaxDiscardPadding}, ""},
		{"past 120 ms", group([]byte{0, 9}, []byte{0x07, 0x27, 0x0E, 0x01}), nil, "DiscardPadding"},
		{"7 bytes", group([]byte{0, 9}, hugeDiscard), nil, "DiscardPadding"},
		{"8 bytes, top bit set: negative", group([]byte{0, 9}, []byte{0xFF, 0, 0, 0, 0, 0, 0, 0}), []time.Duration{0}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, r := demux(t, 1<<20, c.data)
			if c.err != "" {
				if r.err == nil || !strings.Contains(r.err.Error(), c.err) {
					t.Fatalf("error %v, want one containing %q", r.err, c.err)
				}
				return
			}
			if r.err != nil || !slices.Equal(r.discard, c.discard) {
				t.Fatalf("%v, discard %v, want %v", r.err, r.discard, c.discard)
			}
		})
	}
}

func TestElementLimit(t *testing.T) {
	data := stream(simple(1, 0x80, make([]byte, 5000)...))
	if _, r := demux(t, 4096, data); r.err == nil || !strings.Contains(r.err.Error(), "limit 4096") {
		t.Fatalf("error %v", r.err)
	}
	// The limit is checked from the element header, before the body arrives.
	hdr := stream(append(id(idSimpleBlock), 0x01, 0, 0, 0, 0x40, 0, 0, 0)) // 1 GiB block
	if _, r := demux(t, 4096, hdr); r.err == nil {
		t.Fatal("a 1 GiB block header was accepted")
	}
	if _, r := demux(t, 8192, data); r.err != nil {
		t.Fatalf("within the limit: %v", r.err)
	}
}

// FuzzDemuxer checks that the demuxer never panics, keeps its buffer bounded, and
// gives the same packets and verdict whether the input comes whole or in pieces.
func FuzzDemuxer(f *testing.F) {
	mr := chromium(f)
	for _, seed := range [][]byte{
		mr[:1500],                         // chunk 0 and the start of chunk 1
		readFile(f, "speech.webm")[:1500], // SeekHead, Void, known-size clusters
		readFile(f, "speech-live.webm")[:1500],
		stream(simple(1, 0x82, 2, 3, 255, 45, 1, 2, 3), simple(1, 0x86, 1, 0x82, 1, 2, 3)),
		stream(el(idBlockGroup, el(idBlock, []byte{0x81, 0, 0, 0, 9}), el(idDiscardPadding, []byte{0x01, 0x00}))),
		stream(el(idBlockGroup, el(idBlock, []byte{0x81, 0, 0, 0x82, 2, 1, 1, 7, 8, 9}), el(idDiscardPadding, hugeDiscard))),
	} {
		f.Add(seed, uint16(1))
		f.Add(seed, uint16(977))
	}
	f.Fuzz(func(t *testing.T, data []byte, step uint16) {
		_, whole := demux(t, 4096, data)
		n := int(step%4096) + 1
		var parts [][]byte
		for b := data; len(b) > 0; b = b[min(n, len(b)):] {
			parts = append(parts, b[:min(n, len(b))])
		}
		_, pieces := demux(t, 4096, parts...)
		if (whole.err == nil) != (pieces.err == nil) || (whole.end == nil) != (pieces.end == nil) {
			t.Fatalf("whole: %v / %v; in %d-byte pieces: %v / %v", whole.err, whole.end, n, pieces.err, pieces.end)
		}
		if whole.err == nil && !slices.EqualFunc(whole.packets, pieces.packets, slices.Equal) {
			t.Fatalf("whole gave %d packets, pieces %d", len(whole.packets), len(pieces.packets))
		}
	})
}
