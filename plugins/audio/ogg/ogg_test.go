package ogg

import (
	"encoding/binary"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
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
	packets  [][]byte
	granules []int64
	eos      []bool
	err, end error
}

func demux(t testing.TB, max int, parts ...[]byte) result {
	d := New(max)
	var r result
	for _, p := range parts {
		r.err = d.Write(p, func(p Packet) error {
			r.packets = append(r.packets, slices.Clone(p.Data))
			r.granules = append(r.granules, p.Granule)
			r.eos = append(r.eos, p.EOS)
			return nil
		})
		if len(d.buf) > maxPageSize || len(d.pkt) > max {
			t.Fatalf("buffers grew to %d / %d bytes", len(d.buf), len(d.pkt))
		}
		if r.err != nil {
			return r
		}
	}
	r.end = d.End()
	return r
}

func split(b []byte, seed uint64) [][]byte {
	rng := rand.New(rand.NewPCG(seed, 1))
	var out [][]byte
	for len(b) > 0 {
		n := min(len(b), 1+rng.IntN(1+rng.IntN(3000)))
		out = append(out, b[:n])
		b = b[n:]
	}
	return out
}

// page builds one Ogg page with a correct CRC.
func page(flags byte, granule int64, serial, seq uint32, lacing []byte, body []byte) []byte {
	b := []byte("OggS\x00")
	b = append(b, flags)
	b = binary.LittleEndian.AppendUint64(b, uint64(granule))
	b = binary.LittleEndian.AppendUint32(b, serial)
	b = binary.LittleEndian.AppendUint32(b, seq)
	b = binary.LittleEndian.AppendUint32(b, 0)
	b = append(b, byte(len(lacing)))
	b = append(b, lacing...)
	b = append(b, body...)
	binary.LittleEndian.PutUint32(b[22:], checksum(b))
	return b
}

// lace returns the lacing values of one whole packet of n bytes.
func lace(n int) []byte {
	l := slices.Repeat([]byte{255}, n/255)
	return append(l, byte(n%255))
}

func TestRealFile(t *testing.T) {
	data := readFile(t, "speech.ogg")
	whole := demux(t, 1<<20, data)
	if whole.err != nil || whole.end != nil {
		t.Fatalf("%v / %v", whole.err, whole.end)
	}
	if len(whole.packets) != 71 || !strings.HasPrefix(string(whole.packets[0]), "OpusHead") || !strings.HasPrefix(string(whole.packets[1]), "OpusTags") {
		t.Fatalf("%d packets, first %q", len(whole.packets), whole.packets[0][:8])
	}
	last := len(whole.packets) - 1
	if !whole.eos[last] || whole.granules[last] <= 0 || slices.Contains(whole.eos[:last], true) {
		t.Errorf("end of stream not on the last packet: eos %v granule %d", whole.eos[last], whole.granules[last])
	}
	for seed := range uint64(5) {
		r := demux(t, 1<<20, split(data, seed)...)
		if r.err != nil || r.end != nil || !slices.EqualFunc(r.packets, whole.packets, slices.Equal) || !slices.Equal(r.granules, whole.granules) {
			t.Fatalf("split (seed %d): %v / %v", seed, r.err, r.end)
		}
	}
}

func TestPages(t *testing.T) {
	head := []byte("OpusHead\x01\x01\x38\x01\x80\xbb\x00\x00\x00\x00\x00")
	big := slices.Repeat([]byte{7}, 70000) // spans two pages
	bigLacing := lace(len(big))
	first := bigLacing[:255]  // 255 × 255 = 65025 bytes, packet continues
	second := bigLacing[255:] // the rest
	bos := page(0x02, 0, 1, 0, lace(len(head)), head)
	cases := []struct {
		name    string
		data    []byte
		packets []int // sizes
		err     string
	}{
		{"packet spanning pages", slices.Concat(bos,
			page(0, -1, 1, 1, first, big[:65025]),
			page(0x05, 960, 1, 2, second, big[65025:])), []int{len(head), 70000}, ""},
		{"other logical stream skipped", slices.Concat(bos,
			page(0x02, 0, 2, 0, lace(3), []byte{1, 2, 3}),
			page(0, 960, 1, 1, lace(5), make([]byte, 5)),
			page(0, 0, 2, 1, lace(3), []byte{1, 2, 3})), []int{len(head), 5}, ""},
		{"chained stream followed", slices.Concat(bos,
			page(0x04, 960, 1, 1, lace(5), make([]byte, 5)),
			page(0x02, 0, 9, 0, lace(len(head)), head),
			page(0x04, 960, 9, 1, lace(6), make([]byte, 6))), []int{len(head), 5, len(head), 6}, ""},
		{"several packets on a page", slices.Concat(bos, page(0, 960, 1, 1, []byte{3, 4, 0}, make([]byte, 7))), []int{len(head), 3, 4, 0}, ""},
		{"missing page", slices.Concat(bos, page(0, 960, 1, 2, lace(5), make([]byte, 5))), []int{len(head)}, "missing page"},
		{"continuation without an open packet", slices.Concat(bos, page(0x01, 960, 1, 1, lace(5), make([]byte, 5))), []int{len(head)}, "continuation"},
		{"open packet not continued", slices.Concat(bos, page(0, -1, 1, 1, []byte{255}, make([]byte, 255)), page(0, 960, 1, 2, lace(5), make([]byte, 5))), []int{len(head)}, "continuation"},
		{"first page not BOS", page(0, 0, 1, 0, lace(len(head)), head), nil, "beginning-of-stream"},
		{"page version 1", append([]byte("OggS\x01"), bos[5:]...), nil, "version"},
		{"bad CRC", append(slices.Clone(bos[:len(bos)-1]), bos[len(bos)-1]^1), nil, "CRC"},
		{"page after EOS", slices.Concat(bos, page(0x04, 960, 1, 1, lace(5), make([]byte, 5)), page(0, 960, 1, 2, lace(5), make([]byte, 5))), []int{len(head), 5}, "after the end"},
		{"EOS inside a packet", slices.Concat(bos, page(0x04, 960, 1, 1, []byte{255}, make([]byte, 255))), []int{len(head)}, "inside a packet"},
		{"ends inside a continued packet", slices.Concat(bos, page(0, -1, 1, 1, []byte{255}, make([]byte, 255))), []int{len(head)}, "continued"},
		{"ends inside a page", slices.Concat(bos, page(0, 960, 1, 1, lace(5), make([]byte, 5))[:20]), []int{len(head)}, "inside a page"},
		{"packet over the limit", slices.Concat(bos, page(0, -1, 1, 1, first, big[:65025]), page(0x05, 960, 1, 2, second, big[65025:])), []int{len(head)}, "larger than"},
		{"garbage", []byte("this is not an ogg stream at all"), nil, "no Ogg page"},
		{"empty", nil, nil, "empty"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			max := 1 << 20
			if c.name == "packet over the limit" {
				max = 65536
			}
			for _, parts := range [][][]byte{{c.data}, split(c.data, 2)} {
				r := demux(t, max, parts...)
				err := r.err
				if err == nil {
					err = r.end
				}
				if c.err == "" && err != nil || c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)) {
					t.Fatalf("error %v, want %q", err, c.err)
				}
				var sizes []int
				for _, p := range r.packets {
					sizes = append(sizes, len(p))
				}
				if !slices.Equal(sizes, c.packets) {
					t.Fatalf("packet sizes %v, want %v", sizes, c.packets)
				}
			}
		})
	}
}

// FuzzDemuxer checks that the demuxer never panics, keeps its buffers bounded,
// and gives the same packets and verdict whether the input comes whole or in
// pieces.
func FuzzDemuxer(f *testing.F) {
	data := readFile(f, "speech.ogg")
	head := []byte("OpusHead\x01\x01\x38\x01\x80\xbb\x00\x00\x00\x00\x00")
	for _, seed := range [][]byte{
		data[:4000], // OpusHead, OpusTags and audio pages
		data[len(data)-3000:],
		slices.Concat(page(0x02, 0, 1, 0, lace(len(head)), head), page(0, -1, 1, 1, []byte{255}, make([]byte, 255)), page(0x05, 960, 1, 2, []byte{10}, make([]byte, 10))),
	} {
		f.Add(seed, uint16(1))
		f.Add(seed, uint16(1500))
	}
	f.Fuzz(func(t *testing.T, data []byte, step uint16) {
		whole := demux(t, 4096, data)
		n := int(step%4096) + 1
		var parts [][]byte
		for b := data; len(b) > 0; b = b[min(n, len(b)):] {
			parts = append(parts, b[:min(n, len(b))])
		}
		pieces := demux(t, 4096, parts...)
		if (whole.err == nil) != (pieces.err == nil) || (whole.end == nil) != (pieces.end == nil) {
			t.Fatalf("whole: %v / %v; in %d-byte pieces: %v / %v", whole.err, whole.end, n, pieces.err, pieces.end)
		}
		if whole.err == nil && !slices.EqualFunc(whole.packets, pieces.packets, slices.Equal) {
			t.Fatalf("whole gave %d packets, pieces %d", len(whole.packets), len(pieces.packets))
		}
	})
}
