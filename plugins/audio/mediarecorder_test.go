package audio

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/earshot-dev/earshot/plugins/sdk"
)

// chromiumChunks returns the chunks a real Chromium MediaRecorder produced.
func chromiumChunks(t testing.TB) [][]byte {
	t.Helper()
	names, err := filepath.Glob(filepath.Join("testdata", "chromium-mediarecorder", "chunk-*.bin"))
	if err != nil || len(names) == 0 {
		t.Fatalf("no MediaRecorder chunks: %v", err)
	}
	var out [][]byte
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// envelope is the RMS of x in blocks of n samples.
func envelope(x []float32, n int) []float32 {
	var out []float32
	for i := 0; i+n <= len(x); i += n {
		var s float64
		for _, v := range x[i : i+n] {
			s += float64(v) * float64(v)
		}
		out = append(out, float32(math.Sqrt(s/float64(n))))
	}
	return out
}

// TestChromiumMediaRecorder decodes genuine MediaRecorder chunks (the Cluster
// after chunk 0 starts in chunk 0's last bytes) as they were delivered, joined and
// recut: the PCM must not depend on the cuts, and must be the source speech.
func TestChromiumMediaRecorder(t *testing.T) {
	parts := chromiumChunks(t)
	d := New()
	got, err := decode(t, d, sdk.Format{Container: "webm"}, parts)
	if err != nil {
		t.Fatal(err)
	}
	whole := slices.Concat(parts...)
	for seed := range uint64(3) {
		again, err := decode(t, d, sdk.Format{Container: "webm"}, cut(whole, seed))
		if err != nil || !slices.Equal(again, got) {
			t.Fatalf("recut (seed %d): err %v, identical %v", seed, err, slices.Equal(again, got))
		}
	}
	ref := reference(t)
	pcm := toFloat(got)
	secs := float64(len(pcm)) / 16000
	if secs < sourceSeconds {
		t.Fatalf("decoded %.2f s, shorter than the %.2f s source", secs, sourceSeconds)
	}
	// The fake microphone starts the file at an unknown point of the recording:
	// align on the 10 ms energy envelope, then refine on samples.
	envRef, envGot := envelope(ref, 160), envelope(pcm, 160)
	coarse, _ := bestLag(envRef, envGot, 50)
	lag, sim := bestLag(ref, pcm, 0)
	best := coarse * 160
	for l := best - 200; l <= best+200; l++ {
		if s := similarity(ref, pcm, l); s > sim {
			lag, sim = l, s
		}
	}
	t.Logf("%d chunks, %.2f s decoded, speech starts %d samples in, similarity %.3f, level %.1f dB vs source %.1f dB",
		len(parts), secs, lag, sim, rmsDB(pcm[max(lag, 0):]), rmsDB(ref))
	if sim < 0.8 {
		t.Errorf("similarity to the source speech %.3f", sim)
	}
	seg := pcm[max(lag, 0):min(len(pcm), max(lag, 0)+len(ref))]
	if diff := rmsDB(seg) - rmsDB(ref); math.Abs(diff) > 2 {
		t.Errorf("level %.1f dB vs source %.1f dB", rmsDB(seg), rmsDB(ref))
	}
}
