package sphinx

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/earshot-dev/earshot/plugins/sdk"
)

const testdataDir = "/usr/share/pocketsphinx/test/data"

// recording is one test utterance file with its reference transcript.
type recording struct {
	name, path, ref string
}

// testdataRecordings are the recordings of Debian's pocketsphinx-testdata with
// the transcripts shipped next to them (goforward's is the one PocketSphinx's own
// tests use).
func testdataRecordings(t testing.TB) []recording {
	t.Helper()
	var recs []recording
	add := func(dir, transcription string) {
		b, err := os.ReadFile(testdataDir + "/" + dir + "/" + transcription)
		if err != nil {
			t.Skipf("pocketsphinx-testdata not installed: %v", err)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			open := strings.LastIndexByte(line, '(')
			id := strings.TrimSuffix(line[open+1:], ")")
			words := strings.Fields(line[:open])
			var ref []string
			for _, w := range words {
				if w != "<s>" && w != "</s>" {
					ref = append(ref, w)
				}
			}
			recs = append(recs, recording{name: dir + "/" + id, path: testdataDir + "/" + dir + "/" + id + ".wav", ref: strings.Join(ref, " ")})
		}
	}
	add("librivox", "transcription")
	add("cards", "cards.transcription")
	recs = append(recs, recording{name: "goforward", path: testdataDir + "/goforward.raw", ref: "go forward ten meters"})
	return recs
}

// readAudio reads a 16 kHz mono s16le WAV file or headerless raw file.
func readAudio(t testing.TB, path string) []int16 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.HasPrefix(b, []byte("RIFF")) {
		b, err = wavData(b)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}
	s := make([]int16, len(b)/2)
	for i := range s {
		s[i] = int16(binary.LittleEndian.Uint16(b[2*i:]))
	}
	return s
}

// wavData returns the data chunk of a 16 kHz mono 16-bit WAV file.
func wavData(b []byte) ([]byte, error) {
	if len(b) < 12 || string(b[8:12]) != "WAVE" {
		return nil, errors.New("not a WAVE file")
	}
	var fmtOK bool
	for p := 12; p+8 <= len(b); {
		id, n := string(b[p:p+4]), int(binary.LittleEndian.Uint32(b[p+4:]))
		body := b[p+8 : min(len(b), p+8+n)]
		switch id {
		case "fmt ":
			if len(body) < 16 {
				return nil, errors.New("short fmt chunk")
			}
			ch, rate, bits := binary.LittleEndian.Uint16(body[2:]), binary.LittleEndian.Uint32(body[4:]), binary.LittleEndian.Uint16(body[14:])
			if ch != 1 || rate != 16000 || bits != 16 {
				return nil, fmt.Errorf("want 16 kHz mono 16-bit, have %d Hz %d ch %d bit", rate, ch, bits)
			}
			fmtOK = true
		case "data":
			if !fmtOK {
				return nil, errors.New("data before fmt")
			}
			return body, nil
		}
		p += 8 + n + n%2
	}
	return nil, errors.New("no data chunk")
}

// espeak synthesises text with espeak-ng at 16 kHz (resampled by sox). sox -R:
// repeatable; otherwise sox seeds the dither of its resampler from the clock,
// and the same sentences moved WER by up to two words in 63 between runs.
func espeak(t testing.TB, voice string, wpm int, text string) []int16 {
	t.Helper()
	for _, tool := range []string{"espeak-ng", "sox"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	cmd := exec.Command("sh", "-c", `espeak-ng -v "$1" -s "$2" --stdout "$3" | sox -R -t wav - -t raw -r 16000 -e signed -b 16 -c 1 -`,
		"espeak", voice, fmt.Sprint(wpm), text)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("espeak-ng %q: %v: %s", text, err, stderr.String())
	}
	s := make([]int16, len(out)/2)
	for i := range s {
		s[i] = int16(binary.LittleEndian.Uint16(out[2*i:]))
	}
	return s
}

// speechBounds returns the first and last sample louder than -40 dBFS.
func speechBounds(s []int16) (first, last int) {
	first, last = -1, -1
	for i, v := range s {
		if v > 328 || v < -328 {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	return first, last
}

// addNoise mixes Gaussian noise at dbfs (RMS) into s, as a microphone's noise
// floor; the seed makes it reproducible. dbfs is relative to a full-scale square
// wave (RMS 32768), as sox and Audacity report RMS levels; SPHINX_NOISE_REF=aes17
// (for TestAccuracyMatrix) takes AES17's reference instead, a full-scale sine (RMS
// 32768/√2), which makes the same dbfs 3 dB quieter.
func addNoise(s []int16, dbfs float64, seed uint64) []int16 {
	rng := rand.New(rand.NewPCG(seed, 1))
	ref := 32768.0
	if os.Getenv("SPHINX_NOISE_REF") == "aes17" {
		ref /= math.Sqrt2
	}
	rms := ref * math.Pow(10, dbfs/20)
	out := make([]int16, len(s))
	for i, v := range s {
		out[i] = int16(max(-32768, min(32767, math.Round(float64(v)+rng.NormFloat64()*rms))))
	}
	return out
}

func silence(d time.Duration) []int16 { return make([]int16, int(d*sampleRate/time.Second)) }

// wordErrors is the word-level edit distance between ref and hyp.
func wordErrors(ref, hyp string) (errs, n int) {
	r, h := strings.Fields(ref), strings.Fields(hyp)
	prev := make([]int, len(h)+1)
	cur := make([]int, len(h)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(r); i++ {
		cur[0] = i
		for j := 1; j <= len(h); j++ {
			sub := prev[j-1]
			if r[i-1] != h[j-1] {
				sub++
			}
			cur[j] = min(sub, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(h)], len(r)
}

func TestWordErrors(t *testing.T) {
	for _, c := range []struct {
		ref, hyp string
		want     int
	}{
		{"a b c", "a b c", 0}, {"a b c", "a c", 1}, {"a b c", "a x b c", 1},
		{"a b c", "x y z", 3}, {"a b", "", 2}, {"", "a", 1},
	} {
		if got, _ := wordErrors(c.ref, c.hyp); got != c.want {
			t.Errorf("wordErrors(%q, %q) = %d, want %d", c.ref, c.hyp, got, c.want)
		}
	}
}

// chunked turns samples into audio inputs of chunk length starting at offset.
func chunked(s []int16, chunk time.Duration, offset time.Duration) []sdk.AudioInput {
	n := int(chunk * sampleRate / time.Second)
	var out []sdk.AudioInput
	for i := 0; i < len(s); i += n {
		out = append(out, sdk.AudioInput{
			Samples: s[i:min(i+n, len(s))],
			Start:   offset + time.Duration(i)*time.Second/sampleRate,
		})
	}
	return out
}

// sliceSource plays inputs then io.EOF. onNext, when set, is called before each
// Next returns (used to time processing).
type sliceSource struct {
	items  []sdk.AudioInput
	i      int
	onNext func(i int)
}

func (s *sliceSource) Next(ctx context.Context) (sdk.AudioInput, error) {
	if err := ctx.Err(); err != nil {
		return sdk.AudioInput{}, err
	}
	if s.onNext != nil {
		s.onNext(s.i)
	}
	if s.i >= len(s.items) {
		return sdk.AudioInput{}, io.EOF
	}
	s.i++
	return s.items[s.i-1], nil
}

// event is one call on the sink.
type event struct {
	kind  string // speech, partial, final
	at    time.Duration
	r     sdk.Result
	input int           // index of the input being processed when it happened
	cpu   time.Duration // when it happened, by the sink's clock
}

// recSink records events and checks the sink contract: SpeechStarted first,
// then partials, then exactly one final per utterance.
type recSink struct {
	t      testing.TB
	mu     sync.Mutex
	events []event
	open   bool
	input  func() int
	clock  func() time.Duration // for event.cpu; nil: not recorded
}

func (s *recSink) add(e event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.clock != nil {
		e.cpu = s.clock()
	}
	if s.input != nil {
		e.input = s.input()
	}
	switch e.kind {
	case "speech":
		if s.open {
			s.t.Errorf("SpeechStarted at %v inside an open utterance", e.at)
		}
		s.open = true
	case "partial", "final":
		if !s.open {
			s.t.Errorf("%s %q without SpeechStarted", e.kind, e.r.Text)
		}
		if e.kind == "final" {
			s.open = false
		}
	}
	s.events = append(s.events, e)
	return nil
}

func (s *recSink) SpeechStarted(_ context.Context, at time.Duration) error {
	return s.add(event{kind: "speech", at: at})
}
func (s *recSink) Partial(_ context.Context, r sdk.Result) error {
	return s.add(event{kind: "partial", r: r})
}
func (s *recSink) Final(_ context.Context, r sdk.Result) error {
	return s.add(event{kind: "final", r: r})
}

func (s *recSink) finals() []sdk.Result {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []sdk.Result
	for _, e := range s.events {
		if e.kind == "final" {
			out = append(out, e.r)
		}
	}
	return out
}

func (s *recSink) text() string {
	var parts []string
	for _, r := range s.finals() {
		if r.Text != "" {
			parts = append(parts, r.Text)
		}
	}
	return strings.Join(parts, " ")
}

// newConfigured returns a configured Transcriber closed at the end of the test.
func newConfigured(t testing.TB, cfgJSON string) *Transcriber {
	t.Helper()
	tr := NewWithLogger(hclog.NewNullLogger())
	if err := tr.Configure(context.Background(), sdk.NewConfig([]byte(cfgJSON))); err != nil {
		t.Fatalf("Configure(%s): %v", cfgJSON, err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

// transcribe runs one stream over inputs and returns the sink.
func transcribe(t testing.TB, tr *Transcriber, inputs []sdk.AudioInput) *recSink {
	t.Helper()
	src := &sliceSource{items: inputs}
	sink := &recSink{t: t, input: func() int { return src.i - 1 }}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := tr.Transcribe(ctx, sdk.TranscribeStart{SampleRate: sampleRate, Language: "en-US"}, src, sink); err != nil {
		t.Fatalf("Transcribe: %v", err)
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if sink.open {
		t.Errorf("stream ended with an utterance open")
	}
	return sink
}

func sdkCfg(s string) sdk.Config { return sdk.NewConfig([]byte(s)) }
