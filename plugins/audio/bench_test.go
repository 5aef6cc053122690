package audio

import (
	"context"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/plugins/sdk"
)

type countSink struct{ n int }

func (c *countSink) Write(ctx context.Context, p sdk.PCM) error {
	c.n += len(p.Samples)
	return nil
}

// benchDecode decodes parts once per iteration and reports the cost per 20 ms of
// audio, per Opus packet (when given), and the real-time factor.
func benchDecode(b *testing.B, f sdk.Format, parts [][]byte, packets int) {
	d := New()
	ctx := context.Background()
	var bytes int
	for _, p := range parts {
		bytes += len(p)
	}
	b.SetBytes(int64(bytes))
	var out countSink
	cpu0 := cpuTime()
	for b.Loop() {
		out = countSink{}
		if err := d.Decode(ctx, f, &chunks{list: slices.Clone(parts)}, &out); err != nil {
			b.Fatal(err)
		}
	}
	// Wall time on a shared machine says little; the process's CPU time per
	// iteration is what a stream costs.
	cpu := float64(cpuTime()-cpu0) / float64(b.N)
	audio := time.Duration(out.n) * time.Second / 16000
	b.ReportMetric(cpu/float64(audio/(20*time.Millisecond))/1e3, "cpu-µs/20ms")
	b.ReportMetric(cpu/float64(audio), "cpu-RTF")
	if packets > 0 {
		b.ReportMetric(cpu/float64(packets)/1e3, "cpu-µs/packet")
		b.ReportMetric(float64(packets)*1e9/cpu, "packets/cpu-s")
	}
}

// cpuTime is the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func BenchmarkDecodeWebMMediaRecorder(b *testing.B) {
	// 83 Opus packets of 60 ms, in the chunks Chromium delivered.
	benchDecode(b, sdk.Format{Container: "webm"}, chromiumChunks(b), 83)
}

func BenchmarkDecodeOgg(b *testing.B) {
	benchDecode(b, sdk.Format{Container: "ogg"}, cut(readFile(b, "speech.ogg"), 1), 69)
}

func BenchmarkDecodeWAV22kTo16k(b *testing.B) {
	benchDecode(b, sdk.Format{Container: "wav"}, cut(readFile(b, "speech.wav"), 1), 0)
}

func BenchmarkDecodePCM48kStereoTo16k(b *testing.B) {
	benchDecode(b, sdk.Format{Container: "pcm16", SampleRate: 48000, Channels: 2}, slices.Repeat([][]byte{make([]byte, 48000*2*2/50)}, 200), 0)
}
