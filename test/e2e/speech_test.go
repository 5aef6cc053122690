package e2e

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Speech is a generated clip: espeak-ng sentences (voice en-us+klatt, 140 wpm)
// separated by silence, with a white-noise floor over the whole clip (sox synth
// whitenoise vol 0.003: about −50 dBFS peak, −60 dBFS RMS), as mono s16le.
type Speech struct {
	Name      string
	Rate      int
	Sentences []string
	Spans     [][2]time.Duration // speech start and end of each sentence in the clip
	Samples   []int16
	WAV       string // path of the WAV file (noise included)
}

// Duration is the clip's length.
func (s *Speech) Duration() time.Duration {
	return time.Duration(len(s.Samples)) * time.Second / time.Duration(s.Rate)
}

// Text is the reference transcript: the sentences joined.
func (s *Speech) Text() string { return strings.Join(s.Sentences, " ") }

// PCM is the clip as s16le bytes.
func (s *Speech) PCM() []byte {
	b := make([]byte, 2*len(s.Samples))
	for i, v := range s.Samples {
		binary.LittleEndian.PutUint16(b[2*i:], uint16(v))
	}
	return b
}

// WAVBytes is the WAV file's content.
func (s *Speech) WAVBytes(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile(s.WAV)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Ogg is the clip encoded as Ogg/Opus at 32 kbit/s (ffmpeg, libopus).
func (s *Speech) Ogg(t testing.TB) []byte {
	t.Helper()
	return s.encode(t, "ogg", "-c:a", "libopus", "-b:a", "32k")
}

// WebM is the clip encoded as WebM/Opus at 32 kbit/s with 60 ms frames, like
// Chromium's MediaRecorder.
func (s *Speech) WebM(t testing.TB) []byte {
	t.Helper()
	return s.encode(t, "webm", "-c:a", "libopus", "-b:a", "32k", "-frame_duration", "60")
}

func (s *Speech) encode(t testing.TB, ext string, args ...string) []byte {
	t.Helper()
	out := strings.TrimSuffix(s.WAV, ".wav") + "." + ext
	speechMu.Lock()
	defer speechMu.Unlock()
	if b, err := os.ReadFile(out); err == nil {
		return b
	}
	full := append([]string{"-nostdin", "-loglevel", "error", "-y", "-i", s.WAV}, args...)
	full = append(full, out)
	run(t, "ffmpeg", full...)
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var (
	speechMu    sync.Mutex
	speechCache = map[string]*Speech{}
)

// speechSpec describes a clip to generate.
type speechSpec struct {
	Name            string
	Rate            int
	Lead, Gap, Tail time.Duration
	Sentences       []string
	// Gain scales the speech (not the noise floor); 0 means 1, espeak-ng's own
	// level, which peaks within 1 dB of full scale.
	Gain float64
}

// makeSpeech generates (once per test binary run) the clip spec describes.
func makeSpeech(t testing.TB, spec speechSpec) *Speech {
	t.Helper()
	speechMu.Lock()
	defer speechMu.Unlock()
	if s, ok := speechCache[spec.Name]; ok {
		return s
	}
	for _, tool := range []string{"espeak-ng", "sox", "ffmpeg"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not installed (make deps installs it): %v", tool, err)
		}
	}
	dir := filepath.Join(workDir, "speech", spec.Name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	silence := func(d time.Duration) []int16 { return make([]int16, int(d*time.Duration(spec.Rate)/time.Second)) }
	clip := &Speech{Name: spec.Name, Rate: spec.Rate, Sentences: spec.Sentences}
	samples := silence(spec.Lead)
	for i, sentence := range spec.Sentences {
		raw := filepath.Join(dir, fmt.Sprintf("s%d-22k.wav", i))
		conv := filepath.Join(dir, fmt.Sprintf("s%d.wav", i))
		run(t, "espeak-ng", "-v", "en-us+klatt", "-s", "140", "-w", raw, sentence)
		run(t, "sox", "-R", raw, "-r", fmt.Sprint(spec.Rate), "-c", "1", "-b", "16", conv)
		_, s := readWAV(t, conv)
		s = trimSilence(s, 64)
		if len(s) == 0 {
			t.Fatalf("espeak-ng produced no speech for %q", sentence)
		}
		if i > 0 {
			samples = append(samples, silence(spec.Gap)...)
		}
		start := len(samples)
		samples = append(samples, s...)
		clip.Spans = append(clip.Spans, [2]time.Duration{
			time.Duration(start) * time.Second / time.Duration(spec.Rate),
			time.Duration(len(samples)) * time.Second / time.Duration(spec.Rate),
		})
	}
	samples = append(samples, silence(spec.Tail)...)
	clean := filepath.Join(dir, "clean.wav")
	writeWAV(t, clean, spec.Rate, samples)
	noise := filepath.Join(dir, "noise.wav")
	run(t, "sox", "-R", "-n", "-r", fmt.Sprint(spec.Rate), "-c", "1", "-b", "16", noise, "synth", fmt.Sprintf("%ds", len(samples)), "whitenoise", "vol", "0.003")
	clip.WAV = filepath.Join(dir, spec.Name+".wav")
	gain := spec.Gain
	if gain == 0 {
		gain = 1
	}
	// -v on both inputs: sox -m would otherwise halve each.
	run(t, "sox", "-R", "-m", "-v", fmt.Sprint(gain), clean, "-v", "1", noise, "-b", "16", clip.WAV)
	_, clip.Samples = readWAV(t, clip.WAV)
	speechCache[spec.Name] = clip
	return clip
}

// run runs a tool and fails the test with its output on error.
func run(t testing.TB, name string, args ...string) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// trimSilence drops leading and trailing samples quieter than thr.
func trimSilence(s []int16, thr int16) []int16 {
	loud := func(v int16) bool { return v > thr || v < -thr }
	i, j := 0, len(s)
	for i < j && !loud(s[i]) {
		i++
	}
	for j > i && !loud(s[j-1]) {
		j--
	}
	return s[i:j]
}

// readWAV reads a 16-bit PCM WAV file (mono, or the first channel).
func readWAV(t testing.TB, path string) (rate int, samples []int16) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rate, samples, err = parseWAV(b)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return rate, samples
}

func parseWAV(b []byte) (int, []int16, error) {
	if len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return 0, nil, errors.New("not a RIFF/WAVE file")
	}
	var rate, channels, bits int
	for p := 12; p+8 <= len(b); {
		id, size := string(b[p:p+4]), int(binary.LittleEndian.Uint32(b[p+4:p+8]))
		body := p + 8
		switch id {
		case "fmt ":
			if body+16 > len(b) {
				return 0, nil, errors.New("short fmt chunk")
			}
			channels = int(binary.LittleEndian.Uint16(b[body+2:]))
			rate = int(binary.LittleEndian.Uint32(b[body+4:]))
			bits = int(binary.LittleEndian.Uint16(b[body+14:]))
		case "data":
			if bits != 16 || channels < 1 {
				return 0, nil, fmt.Errorf("want 16-bit PCM, have %d bits %d channels", bits, channels)
			}
			end := min(body+size, len(b))
			n := (end - body) / (2 * channels)
			out := make([]int16, n)
			for i := range out {
				out[i] = int16(binary.LittleEndian.Uint16(b[body+2*channels*i:]))
			}
			return rate, out, nil
		}
		p = body + size + size%2
	}
	return 0, nil, errors.New("no data chunk")
}

// writeWAV writes mono 16-bit PCM.
func writeWAV(t testing.TB, path string, rate int, s []int16) {
	t.Helper()
	var b bytes.Buffer
	n := 2 * len(s)
	b.WriteString("RIFF")
	binary.Write(&b, binary.LittleEndian, uint32(36+n))
	b.WriteString("WAVEfmt ")
	binary.Write(&b, binary.LittleEndian, uint32(16))
	binary.Write(&b, binary.LittleEndian, uint16(1)) // PCM
	binary.Write(&b, binary.LittleEndian, uint16(1)) // mono
	binary.Write(&b, binary.LittleEndian, uint32(rate))
	binary.Write(&b, binary.LittleEndian, uint32(2*rate))
	binary.Write(&b, binary.LittleEndian, uint16(2))
	binary.Write(&b, binary.LittleEndian, uint16(16))
	b.WriteString("data")
	binary.Write(&b, binary.LittleEndian, uint32(n))
	binary.Write(&b, binary.LittleEndian, s)
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// ---- chunking and pacing ----

// timedChunk is a piece of a stream and the media time at which a live source
// would have it (the media time of its last byte).
type timedChunk struct {
	At   time.Duration
	Data []byte
}

// pcmChunks cuts s16le mono PCM into chunks of per.
func pcmChunks(pcm []byte, rate int, per time.Duration) []timedChunk {
	n := int(per * time.Duration(rate) / time.Second * 2)
	var out []timedChunk
	for off := 0; off < len(pcm); off += n {
		end := min(off+n, len(pcm))
		out = append(out, timedChunk{At: time.Duration(end/2) * time.Second / time.Duration(rate), Data: pcm[off:end]})
	}
	return out
}

// wavChunks cuts a WAV file: the first chunk carries the header and the first
// samples, the rest are whole samples.
func wavChunks(wav []byte, rate int, per time.Duration) []timedChunk {
	off := bytes.Index(wav, []byte("data")) + 8
	chunks := pcmChunks(wav[off:], rate, per)
	chunks[0].Data = append(append([]byte(nil), wav[:off]...), chunks[0].Data...)
	return chunks
}

// oggPages cuts an Ogg stream at page boundaries, each at its granule's media time.
func oggPages(t testing.TB, b []byte) []timedChunk {
	t.Helper()
	var out []timedChunk
	for p := 0; p < len(b); {
		if p+27 > len(b) || string(b[p:p+4]) != "OggS" {
			t.Fatalf("not an Ogg page at %d", p)
		}
		granule := int64(binary.LittleEndian.Uint64(b[p+6:]))
		nseg := int(b[p+26])
		size := 27 + nseg
		for _, l := range b[p+27 : p+27+nseg] {
			size += int(l)
		}
		at := time.Duration(0)
		if granule > 0 {
			at = time.Duration(granule) * time.Second / 48000
		} else if len(out) > 0 {
			at = out[len(out)-1].At
		}
		out = append(out, timedChunk{At: at, Data: b[p : p+size]})
		p += size
	}
	return out
}

// webmChunks cuts a WebM file the way MediaRecorder delivers it: the first chunk is
// the header (EBML, Segment, Info, Tracks) plus the start of the first Cluster, the
// rest are cut at random byte offsets (mid-element), about every 300 ms of media.
func webmChunks(t testing.TB, b []byte, dur time.Duration, seed uint64) []timedChunk {
	t.Helper()
	cluster := bytes.Index(b, []byte{0x1F, 0x43, 0xB6, 0x75})
	if cluster < 0 {
		t.Fatal("WebM without a Cluster")
	}
	rng := rand.New(rand.NewPCG(seed, 7))
	perChunk := float64(len(b)) * float64(300*time.Millisecond) / float64(dur)
	var out []timedChunk
	at := func(end int) time.Duration { return time.Duration(float64(dur) * float64(end) / float64(len(b))) }
	first := min(cluster+int(perChunk*(0.5+rng.Float64())), len(b))
	out = append(out, timedChunk{At: at(first), Data: b[:first]})
	for off := first; off < len(b); {
		n := int(perChunk * (0.5 + rng.Float64()))
		end := min(off+max(n, 1), len(b))
		out = append(out, timedChunk{At: at(end), Data: b[off:end]})
		off = end
	}
	return out
}

// pace sends chunks in order, each when a live source sped up by speed would have
// it (speed ≤ 0: as fast as possible). Pacing a live source is the one place a
// test waits on the clock.
func pace(chunks []timedChunk, speed float64, send func(i int, c timedChunk)) {
	began := time.Now()
	for i, c := range chunks {
		if speed > 0 {
			if d := time.Until(began.Add(time.Duration(float64(c.At) / speed))); d > 0 {
				time.Sleep(d)
			}
		}
		send(i, c)
	}
}

// ---- the clips the suites use ----

// questions is the interviewer's clip: two interview questions the coach suggester
// knows, then one more line.
func questions(t testing.TB) *Speech {
	return makeSpeech(t, speechSpec{Name: "questions", Rate: 16000, Lead: 500 * time.Millisecond, Gap: 1200 * time.Millisecond, Tail: 1200 * time.Millisecond,
		Sentences: []string{
			"tell me about yourself",
			"can you describe a time you had a conflict with a coworker",
			"why do you want to work here",
		}})
}

// answer is a candidate's clip: a statement, no question.
func answer(t testing.TB) *Speech {
	return makeSpeech(t, speechSpec{Name: "answer", Rate: 16000, Lead: 500 * time.Millisecond, Gap: 1200 * time.Millisecond, Tail: 1200 * time.Millisecond,
		Sentences: []string{
			"i have worked as a software engineer for five years",
			"i like to solve hard problems with my team",
		}})
}

// oneSentence is a short single-utterance clip.
func oneSentence(t testing.TB) *Speech {
	return makeSpeech(t, speechSpec{Name: "one", Rate: 16000, Lead: 500 * time.Millisecond, Tail: 800 * time.Millisecond,
		Sentences: []string{"i have worked as a software engineer for five years"}})
}

// TestSpeechClips checks the generated clips themselves: lengths, spans inside the
// clip, a noise floor (no digital silence) and the encoders' outputs.
func TestSpeechClips(t *testing.T) {
	for _, clip := range []*Speech{questions(t), answer(t), oneSentence(t)} {
		if clip.Rate != 16000 || len(clip.Spans) != len(clip.Sentences) {
			t.Fatalf("%s: rate %d, %d spans for %d sentences", clip.Name, clip.Rate, len(clip.Spans), len(clip.Sentences))
		}
		prev := time.Duration(0)
		for _, sp := range clip.Spans {
			if sp[0] < prev || sp[1] <= sp[0] || sp[1] > clip.Duration() {
				t.Errorf("%s: span %v out of order or outside %v", clip.Name, sp, clip.Duration())
			}
			prev = sp[1]
		}
		zeros := 0
		for _, v := range clip.Samples[:clip.Rate/4] {
			if v == 0 {
				zeros++
			}
		}
		if zeros > clip.Rate/40 {
			t.Errorf("%s: %d exact zeros in the lead-in: no noise floor", clip.Name, zeros)
		}
		t.Logf("%s: %v, spans %v", clip.Name, clip.Duration(), clip.Spans)
	}
	clip := questions(t)
	ogg := oggPages(t, clip.Ogg(t))
	if last := ogg[len(ogg)-1].At; last < clip.Duration()-100*time.Millisecond || last > clip.Duration()+100*time.Millisecond {
		t.Errorf("Ogg ends at %v, clip is %v", last, clip.Duration())
	}
	webm := webmChunks(t, clip.WebM(t), clip.Duration(), 1)
	if len(webm) < int(clip.Duration()/(600*time.Millisecond)) || !bytes.HasPrefix(webm[0].Data, []byte{0x1A, 0x45, 0xDF, 0xA3}) {
		t.Errorf("WebM cut into %d chunks; first starts % x", len(webm), webm[0].Data[:4])
	}
	t.Logf("ogg: %d pages; webm: %d chunks, first %d bytes", len(ogg), len(webm), len(webm[0].Data))
}
