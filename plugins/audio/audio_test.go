package audio

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"slices"
	"sync"
	"testing"

	"github.com/earshot-dev/earshot/plugins/audio/ogg"
	"github.com/earshot-dev/earshot/plugins/sdk"
)

const sourceSeconds = 4.10 // duration of testdata/speech.wav

// TestDecodesRealFilesWholeAndCut decodes each real file whole and cut into
// random chunks (1-byte chunks and cuts inside elements included): the PCM must be
// identical, last as long as the source speech, carry its energy, and line up
// with it in time (which checks the Opus pre-skip).
func TestDecodesRealFilesWholeAndCut(t *testing.T) {
	ref := reference(t)
	webmFile := readFile(t, "speech.webm")
	cases := []struct {
		name   string
		f      sdk.Format
		data   []byte
		minSim float64
	}{
		{"wav 22.05kHz s16", sdk.Format{Container: "wav"}, readFile(t, "speech.wav"), 0.99},
		{"webm ffmpeg", sdk.Format{Container: "webm"}, webmFile, 0.9},
		{"webm ffmpeg live", sdk.Format{Container: "webm"}, readFile(t, "speech-live.webm"), 0.9},
		{"webm MediaRecorder layout", sdk.Format{Container: "webm"}, mediaRecorderWebM(t, webmFile, 0), 0.9},
		{"ogg", sdk.Format{Container: "ogg"}, readFile(t, "speech.ogg"), 0.9},
	}
	d := New()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			whole, err := decode(t, d, c.f, [][]byte{c.data})
			if err != nil {
				t.Fatalf("whole: %v", err)
			}
			for seed := range uint64(3) {
				parts := cut(c.data, seed)
				got, err := decode(t, d, c.f, parts)
				if err != nil {
					t.Fatalf("cut into %d chunks: %v", len(parts), err)
				}
				if !slices.Equal(got, whole) {
					t.Fatalf("cut into %d chunks (seed %d): %d samples differ from the whole decode's %d", len(parts), seed, len(got), len(whole))
				}
			}
			secs := float64(len(whole)) / 16000
			if math.Abs(secs-sourceSeconds)/sourceSeconds > 0.03 {
				t.Errorf("decoded %.3f s, source %.3f s", secs, sourceSeconds)
			}
			got := toFloat(whole)
			if diff := rmsDB(got) - rmsDB(ref); math.Abs(diff) > 1.5 {
				t.Errorf("level %.1f dB vs source %.1f dB", rmsDB(got), rmsDB(ref))
			}
			lag, sim := bestLag(ref, got, 160)
			t.Logf("%.3f s, level %.1f dB (source %.1f dB), best lag %d samples, similarity %.3f", secs, rmsDB(got), rmsDB(ref), lag, sim)
			if sim < c.minSim {
				t.Errorf("similarity to the source %.3f < %.2f", sim, c.minSim)
			}
			if lag < -16 || lag > 16 { // 1 ms
				t.Errorf("decoded audio is %d samples off the source (pre-skip not honoured?)", lag)
			}
		})
	}
}

// TestRawOpusPackets feeds the Ogg file's Opus packets one per chunk, as they come
// off a WebRTC track.
func TestRawOpusPackets(t *testing.T) {
	var packets [][]byte
	dm := ogg.New(1 << 20)
	n := 0
	if err := dm.Write(readFile(t, "speech.ogg"), func(p ogg.Packet) error {
		if n++; n > 2 {
			packets = append(packets, slices.Clone(p.Data))
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	got, err := decode(t, New(), sdk.Format{Container: "opus"}, packets)
	if err != nil {
		t.Fatal(err)
	}
	if want := len(packets) * 960; len(got) != want { // 60 ms packets at 16 kHz
		t.Errorf("%d samples from %d packets, want %d", len(got), len(packets), want)
	}
	ref := reference(t)
	lag, sim := bestLag(ref, toFloat(got), 200)
	t.Logf("lag %d (the 312-sample pre-skip at 48 kHz is 104 at 16 kHz), similarity %.3f", lag, sim)
	if sim < 0.9 || lag != 104 {
		t.Errorf("raw packets: lag %d, similarity %.3f", lag, sim)
	}
}

// TestPCMTones checks the resampling path through the decoder: a 1 kHz tone
// passes, a tone above the output's Nyquist frequency is stopped, stereo is
// averaged.
func TestPCMTones(t *testing.T) {
	const in = 48000
	gen := func(left, right float64, enc string) []byte {
		var b []byte
		for i := range in { // one second
			l := 0.5 * math.Sin(2*math.Pi*left*float64(i)/in)
			r := 0.0
			if right > 0 {
				r = 0.5 * math.Sin(2*math.Pi*right*float64(i)/in)
			}
			for _, v := range []float64{l, r} {
				if enc == "f32" {
					b = binary.LittleEndian.AppendUint32(b, math.Float32bits(float32(v)))
				} else {
					b = binary.LittleEndian.AppendUint16(b, uint16(int16(math.Round(v*32767))))
				}
			}
		}
		return b
	}
	level := func(x []int16) float64 { return rmsDB(toFloat(x[800 : len(x)-800])) }
	full := 20 * math.Log10(0.5/math.Sqrt2)
	cases := []struct {
		name        string
		left, right float64
		enc         string
		rate        int
		min, max    float64 // dB relative to a full 0.5-amplitude tone
	}{
		{"1kHz both channels passes", 1000, 1000, "pcm16", 16000, -0.5, 0.5},
		{"1kHz both channels f32 passes", 1000, 1000, "f32", 16000, -0.5, 0.5},
		{"1kHz left only is halved by the downmix", 1000, 0, "pcm16", 16000, -6.5, -5.5},
		{"10kHz (aliases to 6kHz) stopped at 16kHz", 10000, 10000, "pcm16", 16000, -999, -40},
		{"6kHz stopped at 8kHz", 6000, 6000, "pcm16", 8000, -999, -40},
		{"6kHz in band at 16kHz passes", 6000, 6000, "f32", 16000, -0.5, 0.5},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data := gen(c.left, c.right, c.enc)
			got, err := decode(t, New(), sdk.Format{Container: c.enc, SampleRate: in, Channels: 2, OutputRate: c.rate}, cut(data, 1))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != c.rate {
				t.Fatalf("%d samples for one second at %d Hz", len(got), c.rate)
			}
			g := level(got) - full
			t.Logf("%.2f dB", g)
			if g < c.min || g > c.max {
				t.Errorf("level %.2f dB, want within [%g, %g]", g, c.min, c.max)
			}
		})
	}
}

// TestChainedOgg decodes two Ogg files one after the other in one stream: each
// link's headers and pre-skip are honoured.
func TestChainedOgg(t *testing.T) {
	one := readFile(t, "speech.ogg")
	single, err := decode(t, New(), sdk.Format{Container: "ogg"}, [][]byte{one})
	if err != nil {
		t.Fatal(err)
	}
	got, err := decode(t, New(), sdk.Format{Container: "ogg"}, cut(slices.Concat(one, one), 4))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2*len(single) {
		t.Fatalf("%d samples from two links, want %d", len(got), 2*len(single))
	}
	if sim := similarity(toFloat(single), toFloat(got[len(single):]), 0); sim < 0.99 {
		t.Errorf("second link differs from the first: similarity %.3f", sim)
	}
}

func TestShortWAVVariants(t *testing.T) {
	for _, c := range []struct {
		file string
		rate int
	}{
		{"short-44k-stereo-s24.wav", 44100},
		{"short-48k-f32.wav", 48000},
		{"short-8k-u8.wav", 8000},
	} {
		t.Run(c.file, func(t *testing.T) {
			data := readFile(t, c.file)
			whole, err := decode(t, New(), sdk.Format{Container: "wav"}, [][]byte{data})
			if err != nil {
				t.Fatal(err)
			}
			if want := 1600; len(whole) != want { // 0.1 s at 16 kHz
				t.Errorf("%d samples, want %d", len(whole), want)
			}
			if l := rmsDB(toFloat(whole)); l < -40 {
				t.Errorf("level %.1f dB: not the speech it holds", l)
			}
			got, err := decode(t, New(), sdk.Format{Container: "wav"}, cut(data, 9))
			if err != nil || !slices.Equal(got, whole) {
				t.Errorf("cut: err %v, equal %v", err, slices.Equal(got, whole))
			}
		})
	}
}

func TestOutputRates(t *testing.T) {
	for _, rate := range []int{8000, 16000, 22050, 44100, 48000} {
		for _, c := range []sdk.Format{{Container: "ogg"}, {Container: "wav"}} {
			file := "speech.ogg"
			if c.Container == "wav" {
				file = "speech.wav"
			}
			c.OutputRate = rate
			got, err := decode(t, New(), c, [][]byte{readFile(t, file)})
			if err != nil {
				t.Fatalf("%s at %d Hz: %v", c.Container, rate, err)
			}
			if secs := float64(len(got)) / float64(rate); math.Abs(secs-sourceSeconds) > 0.1 {
				t.Errorf("%s at %d Hz: %.3f s", c.Container, rate, secs)
			}
		}
	}
}

func TestBadInput(t *testing.T) {
	webmFile := readFile(t, "speech.webm")
	oggFile := readFile(t, "speech.ogg")
	wavFile := readFile(t, "speech.wav")
	garbage := make([]byte, 5000)
	for i := range garbage {
		garbage[i] = byte(i*7919 + i>>3)
	}
	flip := func(b []byte, at int) []byte {
		b = slices.Clone(b)
		b[at] ^= 0xFF
		return b
	}
	// A SimpleBlock declaring 2 MiB in an otherwise valid MediaRecorder stream.
	mr := mediaRecorderWebM(t, webmFile, 0)
	huge := append(slices.Clone(mr), 0xA3, 0x01, 0x00, 0x00, 0x00, 0x00, 0x20, 0x00, 0x00)
	huge = append(huge, make([]byte, 5000)...)
	cases := []struct {
		name string
		f    sdk.Format
		data []byte
		code string
	}{
		{"unknown container", sdk.Format{Container: "mp3"}, wavFile, sdk.CodeUnsupportedFormat},
		{"no container", sdk.Format{}, wavFile, sdk.CodeUnsupportedFormat},
		{"output rate too low", sdk.Format{Container: "wav", OutputRate: 7000}, wavFile, sdk.CodeUnsupportedFormat},
		{"pcm16 without a rate", sdk.Format{Container: "pcm16"}, wavFile, sdk.CodeUnsupportedFormat},
		{"pcm16 at 5 Hz", sdk.Format{Container: "pcm16", SampleRate: 5}, wavFile, sdk.CodeUnsupportedFormat},
		{"f32 with 99 channels", sdk.Format{Container: "f32", SampleRate: 48000, Channels: 99}, wavFile, sdk.CodeUnsupportedFormat},
		{"pcm16 ends mid-frame", sdk.Format{Container: "pcm16", SampleRate: 16000, Channels: 2}, make([]byte, 4001), sdk.CodeInvalidAudio},
		{"wav garbage", sdk.Format{Container: "wav"}, garbage, sdk.CodeInvalidAudio},
		{"wav declared but WebM", sdk.Format{Container: "wav"}, webmFile, sdk.CodeInvalidAudio},
		{"wav truncated header", sdk.Format{Container: "wav"}, wavFile[:30], sdk.CodeInvalidAudio},
		{"wav corrupt chunk id", sdk.Format{Container: "wav"}, flip(wavFile, 36), sdk.CodeInvalidAudio},
		{"wav a-law", sdk.Format{Container: "wav"}, alaw(wavFile), sdk.CodeUnsupportedFormat},
		{"wav empty", sdk.Format{Container: "wav"}, nil, sdk.CodeInvalidAudio},
		{"webm garbage", sdk.Format{Container: "webm"}, garbage, sdk.CodeInvalidAudio},
		{"webm declared but Ogg", sdk.Format{Container: "webm"}, oggFile, sdk.CodeInvalidAudio},
		{"webm truncated mid-block", sdk.Format{Container: "webm"}, webmFile[:50000], sdk.CodeInvalidAudio},
		{"webm truncated in header", sdk.Format{Container: "webm"}, webmFile[:200], sdk.CodeInvalidAudio},
		{"webm garbage after the header", sdk.Format{Container: "webm"}, append(slices.Clone(mr[:5000]), garbage...), sdk.CodeInvalidAudio},
		{"webm element over max_element_size", sdk.Format{Container: "webm"}, huge, sdk.CodeInvalidAudio},
		{"webm empty", sdk.Format{Container: "webm"}, nil, sdk.CodeInvalidAudio},
		{"ogg garbage", sdk.Format{Container: "ogg"}, garbage, sdk.CodeInvalidAudio},
		{"ogg declared but WAV", sdk.Format{Container: "ogg"}, wavFile, sdk.CodeInvalidAudio},
		{"ogg truncated", sdk.Format{Container: "ogg"}, oggFile[:50000], sdk.CodeInvalidAudio},
		{"ogg corrupt byte (CRC)", sdk.Format{Container: "ogg"}, flip(oggFile, 40000), sdk.CodeInvalidAudio},
		{"ogg not Opus", sdk.Format{Container: "ogg"}, notOpus(t, oggFile), sdk.CodeUnsupportedFormat},
		{"opus packet over max_element_size", sdk.Format{Container: "opus"}, make([]byte, 2<<20), sdk.CodeInvalidAudio},
		{"opus garbage packet", sdk.Format{Container: "opus"}, []byte{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}, sdk.CodeInvalidAudio},
	}
	d := New()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, parts := range [][][]byte{{c.data}, cut(c.data, 3)} {
				_, err := decode(t, d, c.f, parts)
				t.Logf("%d chunks: %v", len(parts), err)
				var se *sdk.StreamError
				if !errors.As(err, &se) {
					t.Fatalf("error %v (%T), want a %s StreamError", err, err, c.code)
				}
				if se.Code != c.code {
					t.Fatalf("code %s (%s), want %s", se.Code, se.Message, c.code)
				}
			}
		})
	}
}

// alaw rewrites the WAV's format tag to A-law (6).
func alaw(b []byte) []byte {
	b = slices.Clone(b)
	binary.LittleEndian.PutUint16(b[20:], 6)
	binary.LittleEndian.PutUint16(b[34:], 8)
	return b
}

// notOpus replaces the OpusHead magic with another codec's and fixes the CRC.
func notOpus(t *testing.T, b []byte) []byte {
	b = slices.Clone(b)
	i := 27 + int(b[26])
	copy(b[i:], "OpusHeaX")
	binary.LittleEndian.PutUint32(b[22:], 0)
	binary.LittleEndian.PutUint32(b[22:], oggCRC(b[:i+int(b[27])]))
	return b
}

func oggCRC(page []byte) uint32 {
	var crc uint32
	for _, c := range page {
		crc ^= uint32(c) << 24
		for range 8 {
			if crc&0x80000000 != 0 {
				crc = crc<<1 ^ 0x04c11db7
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// TestBadStreamDoesNotDisturbOthers runs good and bad streams at once on one
// Decoder.
func TestBadStreamDoesNotDisturbOthers(t *testing.T) {
	d := New()
	good := readFile(t, "speech.ogg")
	want, err := decode(t, d, sdk.Format{Container: "ogg"}, [][]byte{good})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 8 {
		wg.Go(func() {
			if i%2 == 0 {
				got, err := decode(t, d, sdk.Format{Container: "ogg"}, cut(good, uint64(i)))
				if err != nil || !slices.Equal(got, want) {
					errs <- errors.New("good stream disturbed")
				}
				return
			}
			bad := slices.Clone(good)
			bad[30000+i] ^= 0x55
			if _, err := decode(t, d, sdk.Format{Container: "ogg"}, cut(bad, uint64(i))); err == nil {
				errs <- errors.New("bad stream accepted")
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestConfigure(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		json string
		ok   bool
	}{
		{`{}`, true},
		{`{"max_element_size": 1048576, "sample_rate": 16000}`, true},
		{`{"max_element_size": 4096, "sample_rate": 8000}`, true},
		{`{"max_element_size": 100}`, false},
		{`{"max_element_size": 1e12}`, false},
		{`{"max_element_size": 4096.5}`, false},
		{`{"sample_rate": 4000}`, false},
		{`{"sample_rate": 96000}`, false},
		{`{"sample_rate": "fast"}`, false},
	} {
		d := New()
		err := d.Configure(ctx, sdk.NewConfig([]byte(c.json)))
		if c.ok != (err == nil) {
			t.Errorf("%s: error %v", c.json, err)
		}
		var se *sdk.StreamError
		if err != nil && (!errors.As(err, &se) || se.Code != sdk.CodeBadConfig) {
			t.Errorf("%s: error %v is not BAD_CONFIG", c.json, err)
		}
	}
	// sample_rate is the output rate when the stream asks for none.
	d := New()
	if err := d.Configure(ctx, sdk.NewConfig([]byte(`{"sample_rate": 8000}`))); err != nil {
		t.Fatal(err)
	}
	got, err := decode(t, d, sdk.Format{Container: "ogg"}, [][]byte{readFile(t, "speech.ogg")})
	if err != nil || math.Abs(float64(len(got))/8000-sourceSeconds) > 0.1 {
		t.Errorf("sample_rate 8000: %d samples, err %v", len(got), err)
	}
	// max_element_size bounds what a stream buffers: a 6 KB Tracks element.
	big := mediaRecorderWebM(t, readFile(t, "speech.webm"), 6000)
	if _, err := decode(t, d, sdk.Format{Container: "webm"}, cut(big, 1)); err != nil {
		t.Fatalf("6 KB Tracks within the default limit: %v", err)
	}
	if err := d.Configure(ctx, sdk.NewConfig([]byte(`{"max_element_size": 4096}`))); err != nil {
		t.Fatal(err)
	}
	_, err = decode(t, d, sdk.Format{Container: "webm"}, cut(big, 1))
	if se := (*sdk.StreamError)(nil); !errors.As(err, &se) || se.Code != sdk.CodeInvalidAudio {
		t.Fatalf("6 KB Tracks over a 4 KiB limit: %v, want INVALID_AUDIO", err)
	}
}

func TestCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := New().Decode(ctx, sdk.Format{Container: "ogg"}, &chunks{list: [][]byte{readFile(t, "speech.ogg")}}, &sink{rate: 16000})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
}
