package resample

import (
	"math"
	"math/rand/v2"
	"testing"
)

func tone(freq float64, rate, n int) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(0.5 * math.Sin(2*math.Pi*freq*float64(i)/float64(rate)))
	}
	return out
}

// rms of x, ignoring a margin at both ends (filter start-up and tail).
func rms(x []float32, margin int) float64 {
	x = x[margin : len(x)-margin]
	var s float64
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	return math.Sqrt(s / float64(len(x)))
}

func gainDB(t *testing.T, freq float64, in, out int) float64 {
	t.Helper()
	r, err := New(in, out)
	if err != nil {
		t.Fatal(err)
	}
	src := tone(freq, in, in) // one second
	dst := r.Process(nil, src)
	dst = r.Flush(dst)
	if want := out; len(dst) != want {
		t.Fatalf("%d Hz → %d Hz: %d output samples, want %d", in, out, len(dst), want)
	}
	return 20 * math.Log10(rms(dst, out/20)/rms(src, in/20))
}

func TestToneResponse(t *testing.T) {
	cases := []struct {
		name     string
		freq     float64
		in, out  int
		min, max float64 // gain bounds in dB
	}{
		{"1kHz 48k→16k passes", 1000, 48000, 16000, -0.5, 0.5},
		{"1kHz 44.1k→16k passes", 1000, 44100, 16000, -0.5, 0.5},
		{"1kHz 8k→16k passes", 1000, 8000, 16000, -0.5, 0.5},
		{"1kHz 22.05k→16k passes", 1000, 22050, 16000, -0.5, 0.5},
		{"6kHz 48k→16k is in band and passes", 6000, 48000, 16000, -0.5, 0.5},
		{"6kHz 48k→8k is stopped", 6000, 48000, 8000, -999, -40},
		{"10kHz 48k→16k (would alias to 6kHz) is stopped", 10000, 48000, 16000, -999, -40},
		{"9kHz 44.1k→16k is stopped", 9000, 44100, 16000, -999, -40},
		{"odd ratio 44101→16000 passes 1kHz", 1000, 44101, 16000, -0.5, 0.5},
		{"odd ratio 44101→16000 stops 10kHz", 10000, 44101, 16000, -999, -40},
		// Large odd ratios: few interpolated phases of a long filter.
		{"odd ratio 383999→16000 passes 1kHz", 1000, 383999, 16000, -0.5, 0.5},
		{"odd ratio 383999→16000 passes 6.5kHz", 6500, 383999, 16000, -0.5, 0.5},
		{"odd ratio 383999→16000 stops 10kHz", 10000, 383999, 16000, -999, -70},
		{"odd ratio 383999→8000 stops 9kHz", 9000, 383999, 8000, -999, -70},
		{"odd ratio 191999→8000 stops 5kHz", 5000, 191999, 8000, -999, -70},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := gainDB(t, c.freq, c.in, c.out)
			t.Logf("gain %.2f dB", g)
			if g < c.min || g > c.max {
				t.Errorf("gain %.2f dB, want within [%g, %g]", g, c.min, c.max)
			}
		})
	}
}

func TestChunkedEqualsWhole(t *testing.T) {
	for _, rates := range [][2]int{{48000, 16000}, {44100, 16000}, {8000, 16000}, {16000, 16000}, {44101, 16000}} {
		src := tone(440, rates[0], rates[0]/3)
		for i := range src {
			src[i] += float32(rand.NormFloat64() * 0.01)
		}
		whole, _ := New(rates[0], rates[1])
		want := whole.Flush(whole.Process(nil, src))
		r, _ := New(rates[0], rates[1])
		var got []float32
		rng := rand.New(rand.NewPCG(1, uint64(rates[0])))
		for rest := src; len(rest) > 0; {
			n := min(len(rest), rng.IntN(700))
			got = r.Process(got, rest[:n])
			rest = rest[n:]
		}
		got = r.Flush(got)
		if len(got) != len(want) {
			t.Fatalf("%v: chunked %d samples, whole %d", rates, len(got), len(want))
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("%v: sample %d differs: %v vs %v", rates, i, got[i], want[i])
			}
		}
		if again := r.Flush(nil); len(again) != 0 {
			t.Fatalf("second Flush returned %d samples", len(again))
		}
	}
}

// TestTableBound checks that no rate pair needs a coefficient table over
// maxTable, whatever its ratio, and that the shared cache stays within
// maxCacheBytes while odd rates come and go.
func TestTableBound(t *testing.T) {
	pairs := [][2]int{{383999, 16000}, {383999, 8000}, {384000, 1000}, {383999, 1000}, {1000, 383999}, {44101, 16000}, {8000, 383999}}
	for i := range 40 {
		pairs = append(pairs, [2]int{383999 - 2*i, 16000}) // odd, coprime with 16000 unless divisible by 5
	}
	for _, p := range pairs {
		r, err := New(p[0], p[1])
		if err != nil {
			t.Fatal(err)
		}
		if n := len(r.coef); n != (r.phases+1)*r.taps || n > maxTable || r.phases < 1 {
			t.Fatalf("%v: %d taps × %d phases: %d coefficients (bound %d)", p, r.taps, r.phases, n, maxTable)
		}
		tablesMu.Lock()
		size := tablesBytes
		tablesMu.Unlock()
		if size > maxCacheBytes {
			t.Fatalf("after %v: cache holds %d bytes, bound %d", p, size, maxCacheBytes)
		}
	}
	// A common rate pair is cached again after the odd ones, and shared.
	a, _ := New(44100, 16000)
	b, _ := New(44100, 16000)
	if &a.coef[0] != &b.coef[0] {
		t.Error("44.1 → 16 kHz table not shared by two streams")
	}
}

func TestRejectsBadRates(t *testing.T) {
	for _, rates := range [][2]int{{0, 16000}, {48000, 0}, {999, 16000}, {48000, 10_000_000}} {
		if _, err := New(rates[0], rates[1]); err == nil {
			t.Errorf("New(%d, %d) succeeded", rates[0], rates[1])
		}
	}
}

func BenchmarkResample48kTo16k(b *testing.B) {
	r, _ := New(48000, 16000)
	src := tone(440, 48000, 960) // 20 ms
	var dst []float32
	b.SetBytes(int64(len(src) * 4))
	for b.Loop() {
		dst = r.Process(dst[:0], src)
	}
}
