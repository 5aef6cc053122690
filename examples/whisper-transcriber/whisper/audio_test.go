package whisper

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os/exec"
	"testing"
	"time"
)

// segment of synthetic audio: speech-like (voiced) or a quiet noise floor.
type seg struct {
	voiced bool
	d      time.Duration
}

// synth makes speech-like audio: a 140 Hz harmonic series (a voice's pitch and
// formant-ish overtones) under a 4 Hz syllable envelope, at about −20 dBFS,
// with a −60 dBFS noise floor elsewhere. Deterministic (seeded).
func synth(rate int, segs ...seg) []int16 {
	r := rand.New(rand.NewPCG(1, 2))
	var out []int16
	for _, s := range segs {
		n := int(int64(rate) * int64(s.d) / int64(time.Second))
		for i := 0; i < n; i++ {
			t := float64(i) / float64(rate)
			v := (r.Float64()*2 - 1) * 32768 * 0.001 // −60 dBFS noise
			if s.voiced {
				env := 0.6 + 0.4*math.Sin(2*math.Pi*4*t)
				var h float64
				for k := 1; k <= 8; k++ {
					h += math.Sin(2*math.Pi*140*float64(k)*t) / float64(k)
				}
				v += 32768 * 0.1 * env * h / 2
			}
			out = append(out, int16(max(-32768, min(32767, v))))
		}
	}
	return out
}

// espeak synthesises text with espeak-ng (installed by `make deps`) and returns
// its samples and rate, with a −60 dBFS noise floor added (TTS silence is
// exact zero, which real microphones never give).
func espeak(t *testing.T, text string) ([]int16, int) {
	t.Helper()
	bin, err := exec.LookPath("espeak-ng")
	if err != nil {
		t.Fatalf("espeak-ng is needed for this test (make deps installs it): %v", err)
	}
	wav, err := exec.Command(bin, "-v", "en-us", "-s", "140", "--stdout", text).Output()
	if err != nil {
		t.Fatalf("espeak-ng: %v", err)
	}
	samples, rate, err := parseWAV(wav)
	if err != nil {
		t.Fatalf("espeak-ng output: %v", err)
	}
	r := rand.New(rand.NewPCG(3, 4))
	for i := range samples {
		samples[i] = int16(max(-32768, min(32767, float64(samples[i])+(r.Float64()*2-1)*32.768)))
	}
	return samples, rate
}

// parseWAV reads a 16-bit mono PCM WAV (as writeWAV and espeak-ng write it;
// espeak-ng's streamed header has placeholder sizes, so the data chunk runs to
// the end of the file).
func parseWAV(b []byte) ([]int16, int, error) {
	if len(b) < 12 || string(b[:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return nil, 0, fmt.Errorf("not a RIFF/WAVE file")
	}
	var rate int
	p := 12
	for p+8 <= len(b) {
		id, size := string(b[p:p+4]), int(binary.LittleEndian.Uint32(b[p+4:p+8]))
		p += 8
		switch id {
		case "fmt ":
			if p+16 > len(b) {
				return nil, 0, fmt.Errorf("short fmt chunk")
			}
			format := binary.LittleEndian.Uint16(b[p:])
			channels := binary.LittleEndian.Uint16(b[p+2:])
			rate = int(binary.LittleEndian.Uint32(b[p+4:]))
			bits := binary.LittleEndian.Uint16(b[p+14:])
			if format != 1 || channels != 1 || bits != 16 {
				return nil, 0, fmt.Errorf("format %d, %d channels, %d bits: want PCM mono 16-bit", format, channels, bits)
			}
		case "data":
			if rate == 0 {
				return nil, 0, fmt.Errorf("data before fmt")
			}
			end := p + size
			if size <= 0 || end > len(b) || end < p {
				end = len(b)
			}
			data := b[p:end]
			samples := make([]int16, len(data)/2)
			if err := binary.Read(bytes.NewReader(data[:len(samples)*2]), binary.LittleEndian, samples); err != nil {
				return nil, 0, err
			}
			return samples, rate, nil
		}
		if size < 0 || p+size > len(b) {
			break
		}
		p += size + size%2
	}
	return nil, 0, fmt.Errorf("no data chunk")
}

func TestWAVRoundTrip(t *testing.T) {
	in := synth(16000, seg{true, 300 * time.Millisecond})
	var buf bytes.Buffer
	if err := writeWAV(&buf, in, 16000); err != nil {
		t.Fatal(err)
	}
	out, rate, err := parseWAV(buf.Bytes())
	if err != nil || rate != 16000 || len(out) != len(in) || out[1234] != in[1234] {
		t.Fatalf("round trip: rate %d, %d samples, %v", rate, len(out), err)
	}
}
