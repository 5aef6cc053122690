package audio_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/plugins/audio"
	"github.com/earshot-dev/earshot/plugins/sdk"
	"github.com/earshot-dev/earshot/plugins/sdk/sdktest"
)

func load(t *testing.T, pattern string) [][]byte {
	t.Helper()
	names, err := filepath.Glob(filepath.Join("testdata", pattern))
	if err != nil || len(names) == 0 {
		t.Fatalf("no testdata for %s: %v", pattern, err)
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

func samples(out []sdk.PCM) []int16 {
	var s []int16
	for _, p := range out {
		s = append(s, p.Samples...)
	}
	return s
}

// TestContract runs the SDK's decoder contract over the real gRPC shim with the
// chunks a real Chromium MediaRecorder produced.
func TestContract(t *testing.T) {
	chunks := load(t, "chromium-mediarecorder/chunk-*.bin")
	bad := sdk.Format{Container: "webm"}
	sdktest.CheckDecoder(t, audio.New, sdktest.DecoderCase{
		Format: sdk.Format{Container: "webm", OutputRate: 16000},
		Chunks: chunks,
		Check: func(t *testing.T, out []sdk.PCM) {
			var n int64
			for i, p := range out {
				if want := time.Duration(n * int64(time.Second) / 16000); p.Start != want {
					t.Fatalf("block %d starts at %v, want %v", i, p.Start, want)
				}
				n += int64(len(p.Samples))
			}
			if secs := float64(n) / 16000; secs < 4.5 || secs > 5.5 {
				t.Errorf("%.2f s decoded from a 5 s recording", secs)
			}
		},
		BadFormat: &bad,
		BadChunks: [][]byte{chunks[0], []byte("garbage in the middle of a cluster")},
	})
}

// TestOverTheShim decodes every container over the gRPC shim, several streams at
// once on one plugin (good and bad mixed), and checks the PCM equals what the
// implementation gives in process.
func TestOverTheShim(t *testing.T) {
	impl := audio.New()
	conn := sdktest.DecoderConn(t, impl)
	cases := []struct {
		f     sdk.Format
		parts [][]byte
		code  string
	}{
		{sdk.Format{Container: "webm"}, load(t, "chromium-mediarecorder/chunk-*.bin"), ""},
		{sdk.Format{Container: "ogg"}, load(t, "speech.ogg"), ""},
		{sdk.Format{Container: "wav"}, load(t, "speech.wav"), ""},
		{sdk.Format{Container: "wav", OutputRate: 8000}, load(t, "short-44k-stereo-s24.wav"), ""},
		{sdk.Format{Container: "pcm16", SampleRate: 8000, Channels: 1}, [][]byte{make([]byte, 1600)}, ""},
		{sdk.Format{Container: "ogg"}, [][]byte{[]byte("OggS garbage")}, sdk.CodeInvalidAudio},
		{sdk.Format{Container: "flac"}, [][]byte{{1}}, sdk.CodeUnsupportedFormat},
	}
	var wg sync.WaitGroup
	for i, c := range cases {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			out, err := sdktest.DecodeAll(ctx, conn, c.f, c.parts)
			if c.code != "" {
				var se *sdk.StreamError
				if !errors.As(err, &se) || se.Code != c.code {
					t.Errorf("case %d: %v, want %s", i, err, c.code)
				}
				return
			}
			if err != nil {
				t.Errorf("case %d (%s): %v", i, c.f.Container, err)
				return
			}
			var direct collect
			if err := impl.Decode(ctx, c.f, &feed{parts: slices.Clone(c.parts)}, &direct); err != nil {
				t.Errorf("case %d direct: %v", i, err)
				return
			}
			if got := samples(out); len(got) == 0 || !slices.Equal(got, direct.samples) {
				t.Errorf("case %d (%s): %d samples over the shim, %d in process", i, c.f.Container, len(got), len(direct.samples))
			}
		})
	}
	wg.Wait()
}

type feed struct{ parts [][]byte }

func (f *feed) Next(ctx context.Context) ([]byte, error) {
	if len(f.parts) == 0 {
		return nil, io.EOF
	}
	p := f.parts[0]
	f.parts = f.parts[1:]
	return p, nil
}

type collect struct{ samples []int16 }

func (c *collect) Write(ctx context.Context, p sdk.PCM) error {
	c.samples = append(c.samples, p.Samples...)
	return nil
}
