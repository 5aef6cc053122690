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

// FuzzContainerHeader: the sniffers read the first bytes a network peer sends.
func FuzzContainerHeader(f *testing.F) {
	for _, name := range []string{"short.wav", "short.ogg", "short.webm"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)/3])
	}
	f.Add([]byte("RIFF\x00\x00\x00\x00WAVEdata"))
	f.Add([]byte{0x1A, 0x45, 0xDF, 0xA3, 0x01, 0xFF})
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, format := range []string{protocol.FormatWAV, protocol.FormatOgg, protocol.FormatWebM} {
			h, st := containerHeader(format, b)
			if st == headerDone && !bytes.HasPrefix(b, h) {
				t.Fatalf("%s: prefix is not a prefix of the input", format)
			}
		}
	})
}
