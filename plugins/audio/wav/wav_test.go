package wav

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/earshot-dev/earshot/plugins/audio/pcm"
)

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type result struct {
	format   Format
	data     []byte
	err, end error
}

func parse(parts ...[]byte) result {
	p := New()
	var r result
	for _, b := range parts {
		r.err = p.Write(b, func(b []byte) error {
			r.data = append(r.data, b...)
			return nil
		})
		if r.err != nil {
			return r
		}
	}
	r.format, _ = p.Format()
	r.end = p.End()
	return r
}

func bytewise(b []byte) [][]byte {
	var out [][]byte
	for i := range b {
		out = append(out, b[i:i+1])
	}
	return out
}

func chunk(id string, body []byte) []byte {
	b := append([]byte(id), binary.LittleEndian.AppendUint32(nil, uint32(len(body)))...)
	b = append(b, body...)
	if len(body)%2 == 1 {
		b = append(b, 0)
	}
	return b
}

func fmtBody(tag, channels uint16, rate uint32, bits uint16) []byte {
	b := binary.LittleEndian.AppendUint16(nil, tag)
	b = binary.LittleEndian.AppendUint16(b, channels)
	b = binary.LittleEndian.AppendUint32(b, rate)
	b = binary.LittleEndian.AppendUint32(b, rate*uint32(channels*bits/8))
	b = binary.LittleEndian.AppendUint16(b, channels*bits/8)
	return binary.LittleEndian.AppendUint16(b, bits)
}

func riff(chunks ...[]byte) []byte {
	body := slices.Concat(append([][]byte{[]byte("WAVE")}, chunks...)...)
	return slices.Concat([]byte("RIFF"), binary.LittleEndian.AppendUint32(nil, uint32(len(body))), body)
}

func TestRealFiles(t *testing.T) {
	for _, c := range []struct {
		file string
		want Format
		data int
	}{
		{"speech.wav", Format{pcm.S16, 22050, 1}, 180756},
		{"short-44k-stereo-s24.wav", Format{pcm.S24, 44100, 2}, 26460},
		{"short-48k-f32.wav", Format{pcm.F32, 48000, 1}, 19200},
		{"short-8k-u8.wav", Format{pcm.U8, 8000, 1}, 800},
	} {
		t.Run(c.file, func(t *testing.T) {
			b := readFile(t, c.file)
			whole := parse(b)
			if whole.err != nil || whole.end != nil || whole.format != c.want || len(whole.data) != c.data {
				t.Fatalf("%v / %v, format %+v, %d data bytes", whole.err, whole.end, whole.format, len(whole.data))
			}
			ones := parse(bytewise(b)...)
			if ones.err != nil || !slices.Equal(ones.data, whole.data) {
				t.Fatalf("1-byte chunks: %v", ones.err)
			}
		})
	}
}

func TestHeaders(t *testing.T) {
	pcm16 := chunk("fmt ", fmtBody(1, 1, 16000, 16))
	ext := fmtBody(0xFFFE, 2, 48000, 32)
	ext = binary.LittleEndian.AppendUint16(ext, 22)                                     // cbSize
	ext = binary.LittleEndian.AppendUint16(ext, 32)                                     // valid bits
	ext = binary.LittleEndian.AppendUint32(ext, 3)                                      // channel mask
	ext = append(ext, 3, 0, 0, 0, 0, 0, 0x10, 0, 0x80, 0, 0, 0xAA, 0, 0x38, 0x9B, 0x71) // KSDATAFORMAT_SUBTYPE_IEEE_FLOAT
	streaming := slices.Concat([]byte("RIFF\xff\xff\xff\xffWAVE"), pcm16, []byte("data\xff\xff\xff\xff"), []byte{1, 2, 3, 4, 5, 6})
	cases := []struct {
		name   string
		data   []byte
		format Format
		out    []byte
		err    string
		unsupp bool
	}{
		{"LIST before fmt and odd-sized chunk padded", riff(chunk("LIST", []byte{1, 2, 3}), pcm16, chunk("data", []byte{1, 2, 3, 4})), Format{pcm.S16, 16000, 1}, []byte{1, 2, 3, 4}, "", false},
		{"chunks after data skipped", riff(pcm16, chunk("data", []byte{1, 2}), chunk("LIST", []byte{9, 9, 9}), chunk("data", []byte{7, 7})), Format{pcm.S16, 16000, 1}, []byte{1, 2}, "", false},
		{"streaming sizes run to the end", streaming, Format{pcm.S16, 16000, 1}, []byte{1, 2, 3, 4, 5, 6}, "", false},
		{"RF64", append([]byte("RF64"), riff(chunk("ds64", make([]byte, 28)), pcm16, chunk("data", []byte{1, 2}))[4:]...), Format{pcm.S16, 16000, 1}, []byte{1, 2}, "", false},
		{"extensible float", riff(chunk("fmt ", ext), chunk("data", make([]byte, 8))), Format{pcm.F32, 48000, 2}, make([]byte, 8), "", false},
		{"empty data chunk then more", riff(pcm16, chunk("data", nil)), Format{pcm.S16, 16000, 1}, nil, "", false},
		{"not RIFF", []byte("OggS\x00\x02 this is not a wav file"), Format{}, nil, "not a RIFF", false},
		{"AVI", []byte("RIFF\x10\x00\x00\x00AVI LIST"), Format{}, nil, "not a RIFF", false},
		{"data before fmt", riff(chunk("data", []byte{1, 2})), Format{}, nil, "before fmt", false},
		{"two fmt chunks", riff(pcm16, pcm16), Format{}, nil, "second fmt", false},
		{"fmt too short", riff(chunk("fmt ", make([]byte, 10))), Format{}, nil, "fmt chunk of 10", false},
		{"fmt too long", riff(chunk("fmt ", make([]byte, 5000))), Format{}, nil, "fmt chunk of 5000", false},
		{"zero channels", riff(chunk("fmt ", fmtBody(1, 0, 16000, 16))), Format{}, nil, "0 channels", false},
		{"absurd rate", riff(chunk("fmt ", fmtBody(1, 1, 3, 16))), Format{}, nil, "sample rate of 3", false},
		{"mu-law", riff(chunk("fmt ", fmtBody(7, 1, 8000, 8))), Format{}, nil, "format tag 0x0007", true},
		{"12-bit", riff(chunk("fmt ", fmtBody(1, 1, 8000, 12))), Format{}, nil, "12 bits", true},
		{"binary chunk id", riff(pcm16, []byte("\x00\x01\x02\x03\x04\x00\x00\x00")), Format{}, nil, "corrupt WAV chunk id", false},
		{"ends in the header", riff(pcm16)[:30], Format{}, nil, "ends in its header", false},
		{"ends before data", riff(pcm16), Format{}, nil, "ends in its header", false},
		{"empty", nil, Format{}, nil, "empty", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, parts := range [][][]byte{{c.data}, bytewise(c.data)} {
				r := parse(parts...)
				err := r.err
				if err == nil {
					err = r.end
				}
				if c.err == "" {
					if err != nil || r.format != c.format || !slices.Equal(r.data, c.out) {
						t.Fatalf("%v, format %+v, data %v", err, r.format, r.data)
					}
					continue
				}
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want %q", err, c.err)
				}
				if errors.Is(err, ErrUnsupported) != c.unsupp {
					t.Fatalf("error %v: unsupported %v", err, !c.unsupp)
				}
			}
		})
	}
}

// FuzzParser checks that the parser never panics and gives the same samples and
// verdict whether the input comes whole or in pieces.
func FuzzParser(f *testing.F) {
	for _, name := range []string{"short-8k-u8.wav", "short-48k-f32.wav", "short-44k-stereo-s24.wav"} {
		b := readFile(f, name)
		f.Add(b[:min(len(b), 600)], uint16(1))
		f.Add(b[:min(len(b), 600)], uint16(37))
	}
	f.Add(riff(chunk("LIST", []byte{1, 2, 3}), chunk("fmt ", fmtBody(1, 2, 16000, 16)), chunk("data", []byte{1, 2, 3, 4})), uint16(5))
	f.Fuzz(func(t *testing.T, data []byte, step uint16) {
		whole := parse(data)
		n := int(step%512) + 1
		var parts [][]byte
		for b := data; len(b) > 0; b = b[min(n, len(b)):] {
			parts = append(parts, b[:min(n, len(b))])
		}
		pieces := parse(parts...)
		if (whole.err == nil) != (pieces.err == nil) || (whole.end == nil) != (pieces.end == nil) {
			t.Fatalf("whole: %v / %v; in %d-byte pieces: %v / %v", whole.err, whole.end, n, pieces.err, pieces.end)
		}
		if whole.err == nil && (!slices.Equal(whole.data, pieces.data) || whole.format != pieces.format) {
			t.Fatalf("whole and pieces differ")
		}
		if whole.err == nil && len(whole.data) > 0 {
			if whole.format.Encoding.Size() == 0 || whole.format.Channels < 1 {
				t.Fatalf("samples with format %+v", whole.format)
			}
		}
	})
}
