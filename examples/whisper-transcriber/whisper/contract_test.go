package whisper

import (
	"testing"
	"time"

	"github.com/earshot-dev/earshot/plugins/host"
	"github.com/earshot-dev/earshot/plugins/sdk"
	"github.com/earshot-dev/earshot/plugins/sdk/sdktest"
)

// TestContract runs the SDK's transcriber contract over the real gRPC shim, with
// a local transcription server.
func TestContract(t *testing.T) {
	srv := newFakeWhisper(t, textAnswer("hello"))
	audio := synth(16000, seg{false, 300 * time.Millisecond}, seg{true, time.Second}, seg{false, 700 * time.Millisecond},
		seg{true, 500 * time.Millisecond})
	var impl *Transcriber
	t.Cleanup(func() {
		if impl != nil {
			_ = impl.Close()
		}
	})
	bad := sdk.TranscribeStart{SampleRate: 1}
	sdktest.CheckTranscriber(t, func() *Transcriber { impl = New(); return impl }, sdktest.TranscriberCase{
		Config:   map[string]any{"base_url": srv.URL},
		Start:    sdk.TranscribeStart{SampleRate: 16000, Language: "en-US"},
		Audio:    sdktest.Frames(audio, 16000, 20*time.Millisecond),
		BadStart: &bad,
		Check: func(t *testing.T, events []host.TranscriptEvent) {
			finals := 0
			for _, ev := range events {
				if ev.Kind == host.Final {
					finals++
				}
			}
			if finals != 2 {
				t.Errorf("%d finals, want 2", finals)
			}
		},
	})
}
