package sphinx

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"

	"github.com/earshot-dev/earshot/plugins/host"
	"github.com/earshot-dev/earshot/plugins/sdk"
	"github.com/earshot-dev/earshot/plugins/sdk/sdktest"
)

// eventsText joins the finals' text of host events.
func eventsText(evs []host.TranscriptEvent) (finals []sdk.Result, text string) {
	var parts []string
	for _, e := range evs {
		if e.Kind == host.Final {
			finals = append(finals, e.Result)
			if e.Result.Text != "" {
				parts = append(parts, e.Result.Text)
			}
		}
	}
	return finals, strings.Join(parts, " ")
}

// TestContract runs the SDK's transcriber contract over the real gRPC shim.
func TestContract(t *testing.T) {
	audio := append(speech(t, "why should we hire you"), addNoise(silence(time.Second), -50, 5)...)
	sdktest.CheckTranscriber(t, func() *Transcriber {
		tr := NewWithLogger(hclog.NewNullLogger())
		t.Cleanup(func() { tr.Close() })
		return tr
	}, sdktest.TranscriberCase{
		Start: sdk.TranscribeStart{SampleRate: 16000, Language: "en-US"},
		Audio: sdktest.Frames(audio, 16000, 20*time.Millisecond),
		Check: func(t *testing.T, evs []host.TranscriptEvent) {
			sdktest.CheckEventOrder(t, evs)
			finals, text := eventsText(evs)
			if len(finals) != 1 || !finals[0].EndOfTurn {
				t.Errorf("want one end-of-turn final, have %+v", finals)
			}
			if e, n := wordErrors("why should we hire you", text); e > n/2 {
				t.Errorf("transcript %q", text)
			}
		},
		BadStart: &sdk.TranscribeStart{SampleRate: 44100},
	})
}

// TestBinary builds cmd/earshot-plugin-sphinx and drives it as a real plugin
// process through the daemon's plugin host: configuration from an HCL block,
// one stream, a clean shutdown.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the plugin binary")
	}
	dir := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(dir, "earshot-plugin-sphinx"), "github.com/earshot-dev/earshot/cmd/earshot-plugin-sphinx")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		t.Fatalf("go build: %v", err)
	}
	h, err := host.New(host.Options{Dirs: []string{dir}, Logger: hclog.NewNullLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := h.Close(); err != nil {
			t.Error(err)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// A mistake in the block is reported as a diagnostic before any audio.
	if _, diags := h.Stage(ctx, sdk.KindTranscriber, "sphinx", hclBody(t, `endpoint_silence = "5ms"`), nil); !diags.HasErrors() {
		t.Errorf("endpoint_silence = 5ms accepted")
	}
	stage, diags := h.Stage(ctx, sdk.KindTranscriber, "sphinx", hclBody(t, `
endpoint_silence = "500ms"
partial_interval = "200ms"
words = { kubernetes = "K UW B ER N EH T IY Z" }
`), nil)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if err := stage.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	s, err := stage.OpenTranscribe(ctx, sdk.TranscribeStart{SampleRate: 16000})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	audio := append(speech(t, "tell me about yourself"), addNoise(silence(time.Second), -50, 5)...)
	go func() {
		for _, in := range sdktest.Frames(audio, 16000, 20*time.Millisecond) {
			if s.Send(ctx, in) != nil {
				return
			}
		}
		s.CloseSend()
	}()
	var evs []host.TranscriptEvent
	for {
		ev, err := s.Recv(ctx)
		if err != nil {
			break
		}
		evs = append(evs, ev)
	}
	sdktest.CheckEventOrder(t, evs)
	finals, text := eventsText(evs)
	if e, n := wordErrors("tell me about yourself", text); len(finals) != 1 || e > n/2 {
		t.Errorf("finals %+v", finals)
	}
}

func hclBody(t *testing.T, src string) hcl.Body {
	t.Helper()
	f, diags := hclparse.NewParser().ParseHCL([]byte(src), "sphinx.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return f.Body
}
