package audio

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/plugins/sdk"
)

var fuzzContainers = []string{"webm", "ogg", "opus", "wav", "pcm16", "f32"}

// FuzzDecode drives the whole decoder (demuxers, libopus, resampler) with
// arbitrary bytes: it must end every stream cleanly or with a coded error.
func FuzzDecode(f *testing.F) {
	mr := chromiumChunks(f)
	f.Add(uint8(0), mr[0], uint16(700))
	f.Add(uint8(1), readFile(f, "speech.ogg")[:3000], uint16(333))
	f.Add(uint8(2), []byte{0xFC, 0xFF, 0xFE}, uint16(3))
	f.Add(uint8(3), readFile(f, "short-8k-u8.wav"), uint16(100))
	f.Add(uint8(4), []byte{1, 2, 3, 4, 5, 6, 7, 8}, uint16(3))
	f.Add(uint8(5), []byte{0, 0, 0x80, 0x3f, 0, 0, 0x80, 0xbf}, uint16(5))
	// Floods of 2-byte packets that conceal 120 ms each (the duration budget).
	f.Add(uint8(0), webmBomb(10), uint16(2000))
	f.Add(uint8(1), oggBomb(10), uint16(792))
	// A DiscardPadding whose product with the rate overflows.
	f.Add(uint8(0), webmBlockGroup(opusHead, []byte{0x82, 2, 1, 1, 0xF8, 0xF8, 0xF8}, []byte{0x02, 0x0C, 0x49, 0xBA, 0x5E, 0x35, 0x40}), uint16(50))
	f.Fuzz(func(t *testing.T, kind uint8, data []byte, step uint16) {
		if len(data) > 8192 {
			// Tiny Opus packets decode to up to 120 ms each: keep each run short
			// so the fuzzer explores rather than decodes minutes of audio.
			return
		}
		format := sdk.Format{Container: fuzzContainers[int(kind)%len(fuzzContainers)], SampleRate: 44100, Channels: 2}
		n := int(step%2048) + 1
		var parts [][]byte
		for b := data; len(b) > 0; b = b[min(n, len(b)):] {
			parts = append(parts, b[:min(n, len(b))])
		}
		d := New()
		stopped := time.Unix(1e9, 0)
		d.now = func() time.Time { return stopped }
		var out countSink
		err := d.Decode(context.Background(), format, &chunks{list: parts}, &out)
		var se *sdk.StreamError
		if err != nil && (!errors.As(err, &se) || (se.Code != sdk.CodeInvalidAudio && se.Code != sdk.CodeUnsupportedFormat)) {
			t.Fatalf("%s: error %v is not INVALID_AUDIO or UNSUPPORTED_FORMAT", format.Container, err)
		}
		// Opus packets hold at most 120 ms; the PCM formats at most len/2 samples.
		if limit := 16000*len(data)/8 + 16000; out.n > limit {
			t.Fatalf("%s: %d samples out of %d bytes", format.Container, out.n, len(data))
		}
		// The duration budget, with the clock stopped: no more than the margin
		// and the bytes' share, give or take the packet that crossed it.
		if budget := budgetMargin + time.Duration(len(data))*budgetPerByte + 120*time.Millisecond; samplesToDuration(int64(out.n), 16000) > budget {
			t.Fatalf("%s: %d samples out of %d bytes, budget %v", format.Container, out.n, len(data), budget)
		}
	})
}
