package pipeline

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/earshot-dev/earshot/signaling/protocol"
)

// The files in testdata are 0.1–0.3 s of a sine tone made with ffmpeg (libopus in
// Ogg and WebM, s16le WAV).
func TestContainerHeader(t *testing.T) {
	for _, tc := range []struct {
		file, format string
		after        func(rest []byte) bool // what must follow the prefix
	}{
		{"short.wav", protocol.FormatWAV, func(rest []byte) bool { return len(rest) > 0 }},
		{"short.ogg", protocol.FormatOgg, func(rest []byte) bool {
			return bytes.HasPrefix(rest, []byte("OggS")) && binary.LittleEndian.Uint64(rest[6:14]) != 0
		}},
		{"short.webm", protocol.FormatWebM, func(rest []byte) bool { return bytes.HasPrefix(rest, []byte{0x1F, 0x43, 0xB6, 0x75}) }},
	} {
		t.Run(tc.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			h, st := containerHeader(tc.format, b)
			if st != headerDone || len(h) == 0 {
				t.Fatalf("state %v, %d bytes", st, len(h))
			}
			if tc.format == protocol.FormatWAV && !bytes.Equal(h[len(h)-8:len(h)-4], []byte("data")) {
				t.Errorf("WAV prefix does not end at the data chunk header")
			}
			if !tc.after(b[len(h):]) {
				t.Errorf("prefix of %d bytes is not followed by the first audio", len(h))
			}
			// Every shorter beginning asks for more or gives the same prefix.
			for n := 0; n < len(b); n++ {
				hh, st := containerHeader(tc.format, b[:n])
				switch {
				case st == headerNone:
					t.Fatalf("%d bytes: gave up", n)
				case st == headerDone && !bytes.Equal(hh, h):
					t.Fatalf("%d bytes: a different prefix (%d bytes)", n, len(hh))
				}
			}
		})
	}
	if _, st := containerHeader(protocol.FormatPCM16, []byte{1, 2}); st != headerNone {
		t.Error("pcm16 has no header")
	}
	if _, st := containerHeader(protocol.FormatOgg, []byte("not an ogg stream at all, clearly")); st != headerNone {
		t.Error("garbage ogg")
	}
}

// FuzzContainerHeader: the sniffers read the first bytes a network peer sends;
// resync reads a chunk at any offset of the stream, for any channel count.
func FuzzContainerHeader(f *testing.F) {
	for _, name := range []string{"short.wav", "short.ogg", "short.webm"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, uint8(1), int64(0))
		f.Add(b[:len(b)/3], uint8(1), int64(len(b)))
		f.Add(b[len(b)/3:], uint8(2), int64(len(b)/3))
	}
	f.Add([]byte("RIFF\x00\x00\x00\x00WAVEdata"), uint8(0), int64(-1))
	f.Add([]byte{0x1A, 0x45, 0xDF, 0xA3, 0x01, 0xFF}, uint8(7), int64(5))
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7}, uint8(5), int64(9))
	f.Fuzz(func(t *testing.T, b []byte, ch uint8, offset int64) {
		channels := 1 + int(ch%8)
		for _, format := range []string{protocol.FormatWAV, protocol.FormatOgg, protocol.FormatWebM, protocol.FormatPCM16, protocol.FormatF32} {
			h, st := containerHeader(format, b)
			if st == headerDone && !bytes.HasPrefix(b, h) {
				t.Fatalf("%s: prefix is not a prefix of the input", format)
			}
			if format == protocol.FormatWAV && st == headerDone {
				if rate, _ := wavFormat(h); rate != 0 && !bytes.Contains(h, []byte("fmt ")) {
					t.Fatalf("wav: %d Hz read from a header without a fmt chunk", rate)
				}
			}
			rest, ok := resync(format, channels, h, b, offset)
			if !ok {
				if rest != nil {
					t.Fatalf("%s: resync found nothing but returned %d bytes", format, len(rest))
				}
				continue
			}
			switch format {
			case protocol.FormatWebM:
				// A tail of the input from a Cluster, or a synthetic Cluster start
				// followed by a tail of the input from a SimpleBlock.
				atCluster := bytes.HasPrefix(rest, clusterStart[:4]) && bytes.HasSuffix(b, rest)
				tail, synth := bytes.CutPrefix(rest, clusterStart)
				atBlock := synth && len(tail) > 0 && tail[0] == 0xA3 && bytes.HasSuffix(b, tail)
				if !atCluster && !atBlock {
					t.Fatalf("webm: resync returned %x, neither a tail of the input at a Cluster nor a Cluster start and a tail at a SimpleBlock", rest)
				}
			default:
				if !bytes.HasSuffix(b, rest) {
					t.Fatalf("%s: resync returned bytes that are not a tail of the input", format)
				}
			}
			align := map[string]int{protocol.FormatPCM16: 2, protocol.FormatF32: 4}[format] * channels
			if skip := len(b) - len(rest); align > 0 && offset >= 0 && ((offset%int64(align)+int64(skip))%int64(align) != 0 || skip >= align) {
				t.Fatalf("%s, %d channels, offset %d: resync skipped %d bytes, not to the next sample frame", format, channels, offset, skip)
			}
		}
		// The Ogg renumberer only ever emits whole pages.
		r := &oggRenumber{}
		out := r.feed(b[:len(b)/2])
		out = append(out, r.feed(b[len(b)/2:])...)
		for off := 0; off < len(out); {
			if !bytes.HasPrefix(out[off:], []byte("OggS")) || off+27 > len(out) {
				t.Fatalf("renumbered output is not whole pages")
			}
			size := 27 + int(out[off+26])
			for _, x := range out[off+27 : off+27+int(out[off+26])] {
				size += int(x)
			}
			off += size
		}
		_ = oggPages(b)
		_, _ = wavBlockAlign(b), wavSampleRate(b)
	})
}

func TestResync(t *testing.T) {
	wav, err := os.ReadFile(filepath.Join("testdata", "short.wav"))
	if err != nil {
		t.Fatal(err)
	}
	wavHdr, _ := containerHeader(protocol.FormatWAV, wav)
	ogg, _ := os.ReadFile(filepath.Join("testdata", "short.ogg"))
	webm, _ := os.ReadFile(filepath.Join("testdata", "short.webm"))
	// The bytes from the middle of the first block of the file's Cluster: the resync
	// point is the second SimpleBlock.
	blocks := bytes.Index(webm, []byte{0xA3})
	for simpleBlockAt(webm, blocks) != blockSure {
		blocks += 1 + bytes.IndexByte(webm[blocks+1:], 0xA3)
	}
	midCluster := webm[blocks+3:]
	firstBlock := 0
	for midCluster[firstBlock] != 0xA3 || simpleBlockAt(midCluster, firstBlock) != blockSure {
		firstBlock++
	}
	oggHdr, _ := containerHeader(protocol.FormatOgg, ogg)
	webmHdr, _ := containerHeader(protocol.FormatWebM, webm)
	for _, tc := range []struct {
		name     string
		format   string
		channels int
		header   []byte
		chunk    []byte
		offset   int64
		want     []byte
		ok       bool
	}{
		{"pcm16 aligned", protocol.FormatPCM16, 1, nil, []byte{1, 2, 3, 4}, 6, []byte{1, 2, 3, 4}, true},
		{"pcm16 mid-sample", protocol.FormatPCM16, 1, nil, []byte{1, 2, 3, 4}, 7, []byte{2, 3, 4}, true},
		{"pcm16 stereo", protocol.FormatPCM16, 2, nil, []byte{1, 2, 3, 4, 5, 6}, 9, []byte{4, 5, 6}, true},
		{"f32 mid-sample", protocol.FormatF32, 1, nil, []byte{1, 2, 3, 4, 5}, 2, []byte{3, 4, 5}, true},
		{"wav after header", protocol.FormatWAV, 1, wavHdr, []byte{1, 2, 3}, int64(len(wavHdr)) + 1, []byte{2, 3}, true},
		{"opus packets", protocol.FormatOpus, 1, nil, []byte{9}, 5, []byte{9}, true},
		{"ogg mid-page", protocol.FormatOgg, 1, oggHdr, append([]byte("xyz"), ogg[len(oggHdr):]...), 0, ogg[len(oggHdr):], true},
		{"ogg no page", protocol.FormatOgg, 1, oggHdr, ogg[len(oggHdr)+4 : len(oggHdr)+20], 0, nil, false},
		{"webm before a cluster", protocol.FormatWebM, 1, webmHdr, append([]byte{0xA3, 0x81, 0x00}, webm[len(webmHdr):]...), 0, webm[len(webmHdr):], true},
		{"webm no block", protocol.FormatWebM, 1, webmHdr, []byte{0xA3, 0x81, 0x00}, 0, nil, false},
		{"webm mid-cluster", protocol.FormatWebM, 1, webmHdr, midCluster, 0, append(bytes.Clone(clusterStart), midCluster[firstBlock:]...), true},
	} {
		got, ok := resync(tc.format, tc.channels, tc.header, tc.chunk, tc.offset)
		if ok != tc.ok || !bytes.Equal(got, tc.want) {
			t.Errorf("%s: got %v %v, want %v %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
	if a := wavBlockAlign(wavHdr); a != 2 {
		t.Errorf("block align of a mono s16 WAV: %d", a)
	}
}

func TestOggRenumber(t *testing.T) {
	ogg, err := os.ReadFile(filepath.Join("testdata", "short.ogg"))
	if err != nil {
		t.Fatal(err)
	}
	hdr, _ := containerHeader(protocol.FormatOgg, ogg)
	if n := oggPages(hdr); n != 2 {
		t.Fatalf("%d header pages, want 2 (OpusHead, OpusTags)", n)
	}
	// The checksum matches the encoder's on every page of the file.
	for off := 0; off < len(ogg); {
		nseg := int(ogg[off+26])
		size := 27 + nseg
		for _, x := range ogg[off+27 : off+27+nseg] {
			size += int(x)
		}
		page := bytes.Clone(ogg[off : off+size])
		want := binary.LittleEndian.Uint32(page[22:])
		binary.LittleEndian.PutUint32(page[22:], 0)
		if got := oggCRC(page); got != want {
			t.Fatalf("page at %d: crc %08x, want %08x", off, got, want)
		}
		off += size
	}
	// Audio pages fed in 7-byte pieces come out whole, numbered from 5, checksums right.
	r := &oggRenumber{next: 5}
	var out []byte
	body := append([]byte("junk"), ogg[len(hdr):]...)
	for i := 0; i < len(body); i += 7 {
		out = append(out, r.feed(body[i:min(i+7, len(body))])...)
	}
	if len(out) != len(ogg)-len(hdr) {
		t.Fatalf("%d bytes out, want %d", len(out), len(ogg)-len(hdr))
	}
	seq := uint32(5)
	for off := 0; off < len(out); seq++ {
		nseg := int(out[off+26])
		size := 27 + nseg
		for _, x := range out[off+27 : off+27+nseg] {
			size += int(x)
		}
		page := bytes.Clone(out[off : off+size])
		if got := binary.LittleEndian.Uint32(page[18:]); got != seq {
			t.Errorf("page sequence %d, want %d", got, seq)
		}
		crc := binary.LittleEndian.Uint32(page[22:])
		binary.LittleEndian.PutUint32(page[22:], 0)
		if oggCRC(page) != crc {
			t.Errorf("page %d: bad checksum", seq)
		}
		off += size
	}
}
