package audio

import (
	"context"
	"encoding/binary"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/plugins/audio/pcm"
	"github.com/earshot-dev/earshot/plugins/audio/resample"
	"github.com/earshot-dev/earshot/plugins/audio/wav"
	"github.com/earshot-dev/earshot/plugins/audio/webm"
	"github.com/earshot-dev/earshot/plugins/sdk"
)

// chunks is a ChunkSource over fixed chunks.
type chunks struct {
	mu   sync.Mutex
	list [][]byte
}

func (c *chunks) Next(ctx context.Context) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.list) == 0 {
		return nil, io.EOF
	}
	b := c.list[0]
	c.list = c.list[1:]
	return b, nil
}

// sink collects PCM and checks that blocks are contiguous in time.
type sink struct {
	t       *testing.T
	rate    int
	samples []int16
	blocks  int
	badTime string
}

func (s *sink) Write(ctx context.Context, p sdk.PCM) error {
	if want := samplesToDuration(int64(len(s.samples)), s.rate); p.Start != want && s.badTime == "" {
		s.badTime = "block " + p.Start.String() + " want " + want.String()
	}
	if len(p.Samples) == 0 {
		s.badTime = "empty PCM block"
	}
	s.samples = append(s.samples, p.Samples...)
	s.blocks++
	return nil
}

func decode(t *testing.T, d *Decoder, f sdk.Format, parts [][]byte) ([]int16, error) {
	t.Helper()
	rate := f.OutputRate
	if rate == 0 {
		rate = d.config().SampleRate
	}
	s := &sink{t: t, rate: rate}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := d.Decode(ctx, f, &chunks{list: parts}, s)
	if s.badTime != "" {
		t.Errorf("PCM timestamps: %s", s.badTime)
	}
	return s.samples, err
}

// cut splits b at random places, with a share of 1-byte chunks.
func cut(b []byte, seed uint64) [][]byte {
	rng := rand.New(rand.NewPCG(seed, 7))
	var out [][]byte
	for len(b) > 0 {
		var n int
		switch rng.IntN(4) {
		case 0:
			n = 1
		case 1:
			n = 1 + rng.IntN(16)
		default:
			n = 1 + rng.IntN(3000)
		}
		n = min(n, len(b))
		out = append(out, b[:n])
		b = b[n:]
	}
	return out
}

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// reference is testdata/speech.wav resampled to 16 kHz with the resample package.
func reference(t testing.TB) []float32 {
	t.Helper()
	p := wav.New()
	var mono []float32
	var m *pcm.Mixer
	err := p.Write(readFile(t, "speech.wav"), func(b []byte) error {
		if m == nil {
			f, _ := p.Format()
			var err error
			if m, err = pcm.NewMixer(f.Encoding, f.Channels); err != nil {
				return err
			}
		}
		mono = m.Mix(mono, b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	f, _ := p.Format()
	r, err := resample.New(f.SampleRate, 16000)
	if err != nil {
		t.Fatal(err)
	}
	return r.Flush(r.Process(nil, mono))
}

func toFloat(x []int16) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = float32(v) / 32768
	}
	return out
}

func rmsDB(x []float32) float64 {
	var s float64
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	return 10 * math.Log10(s/float64(len(x))+1e-20)
}

// similarity is the normalised correlation of a and b shifted by lag samples.
func similarity(a, b []float32, lag int) float64 {
	var ab, aa, bb float64
	for i := range a {
		j := i + lag
		if j < 0 || j >= len(b) {
			continue
		}
		ab += float64(a[i]) * float64(b[j])
		aa += float64(a[i]) * float64(a[i])
		bb += float64(b[j]) * float64(b[j])
	}
	return ab / math.Sqrt(aa*bb+1e-20)
}

// bestLag finds the lag in [-max, max] that best aligns b with a.
func bestLag(a, b []float32, max int) (int, float64) {
	best, bestSim := 0, -2.0
	for lag := -max; lag <= max; lag++ {
		if s := similarity(a, b, lag); s > bestSim {
			best, bestSim = lag, s
		}
	}
	return best, bestSim
}

// ---- a minimal EBML writer, to build MediaRecorder-style WebM ----

func ebmlID(id uint32) []byte {
	switch {
	case id >= 1<<24:
		return []byte{byte(id >> 24), byte(id >> 16), byte(id >> 8), byte(id)}
	case id >= 1<<16:
		return []byte{byte(id >> 16), byte(id >> 8), byte(id)}
	case id >= 1<<8:
		return []byte{byte(id >> 8), byte(id)}
	}
	return []byte{byte(id)}
}

func el(id uint32, parts ...[]byte) []byte {
	var body []byte
	for _, p := range parts {
		body = append(body, p...)
	}
	size := make([]byte, 8)
	binary.BigEndian.PutUint64(size, uint64(len(body))|1<<56)
	return append(append(ebmlID(id), size...), body...)
}

func unknownSize(id uint32) []byte {
	return append(ebmlID(id), 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF)
}

func uintBytes(v uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	return b
}

// mediaRecorderWebM rewrites a WebM file the way Chromium's MediaRecorder lays one
// out: unknown-size Segment and Clusters, SimpleBlocks, no Cues or SeekHead.
// padPrivate bytes are appended to the OpusHead in CodecPrivate (to make a big
// Tracks element).
func mediaRecorderWebM(t testing.TB, file []byte, padPrivate int) []byte {
	t.Helper()
	d := webm.New(1 << 20)
	var packets [][]byte
	if err := d.Write(file, func(p webm.Packet) error {
		packets = append(packets, append([]byte(nil), p.Data...))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	tr, _ := d.Track()
	f64 := make([]byte, 8)
	binary.BigEndian.PutUint64(f64, math.Float64bits(48000))
	out := el(0x1A45DFA3, el(0x4286, []byte{1}), el(0x42F7, []byte{1}), el(0x42F2, []byte{4}),
		el(0x42F3, []byte{8}), el(0x4282, []byte("webm")), el(0x4287, []byte{4}), el(0x4285, []byte{2}))
	out = append(out, unknownSize(0x18538067)...)
	out = append(out, el(0x1549A966, el(0x2AD7B1, uintBytes(1000000)), el(0x4D80, []byte("Chrome")), el(0x5741, []byte("Chrome")))...)
	out = append(out, el(0x1654AE6B, el(0xAE,
		el(0xD7, []byte{1}), el(0x73C5, uintBytes(12345)), el(0x83, []byte{2}), el(0x86, []byte("A_OPUS")),
		el(0x63A2, append(slices.Clone(tr.CodecPrivate), make([]byte, padPrivate)...)), el(0xE1, el(0xB5, f64), el(0x9F, []byte{2}))))...)
	const perCluster = 40 // Chromium starts a Cluster every few seconds
	for i, p := range packets {
		if i%perCluster == 0 {
			out = append(out, unknownSize(0x1F43B675)...)
			out = append(out, el(0xE7, uintBytes(uint64(i*60)))...)
		}
		rel := (i % perCluster) * 60
		block := append([]byte{0x81, byte(rel >> 8), byte(rel), 0x80}, p...)
		out = append(out, el(0xA3, block)...)
	}
	return out
}
