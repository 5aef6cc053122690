package audio_test

import (
	"context"
	"errors"
	"io"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/hcl/v2/hclparse"

	"github.com/earshot-dev/earshot/plugins/audio"
	"github.com/earshot-dev/earshot/plugins/host"
	"github.com/earshot-dev/earshot/plugins/sdk"
)

// TestBuiltBinary builds earshot-plugin-audio and runs it the way the daemon does:
// launched by plugins/host, configured from an HCL block, serving good and bad
// streams from one process.
func TestBuiltBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the plugin binary")
	}
	dir := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(dir, host.BinaryPrefix+"audio"), "../../cmd/earshot-plugin-audio")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
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
	stage := func(src string) (*host.Stage, error) {
		f, diags := hclparse.NewParser().ParseHCL([]byte(src), "pipeline.hcl")
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		s, diags := h.Stage(ctx, sdk.KindDecoder, "audio", f.Body, nil)
		if diags.HasErrors() {
			return nil, diags
		}
		return s, nil
	}
	for _, bad := range []string{`sample_rate = 3`, `max_element_size = 10`, `colour = "blue"`} {
		if _, err := stage(bad); err == nil {
			t.Errorf("config %q accepted", bad)
		} else {
			t.Logf("config %q: %v", bad, err)
		}
	}
	s, err := stage("sample_rate = 16000\nmax_element_size = \"1MiB\"\n")
	if err != nil {
		t.Fatal(err)
	}
	if info := s.Info(); info.Name != "audio" || info.Kind != sdk.KindDecoder {
		t.Fatalf("Info %+v", info)
	}
	chunks := load(t, "chromium-mediarecorder/chunk-*.bin")
	var want collect
	if err := audio.New().Decode(ctx, sdk.Format{Container: "webm"}, &feed{parts: slices.Clone(chunks)}, &want); err != nil {
		t.Fatal(err)
	}
	run := func(f sdk.Format, parts [][]byte) ([]int16, error) {
		st, err := s.OpenDecode(ctx, f)
		if err != nil {
			return nil, err
		}
		defer st.Close()
		sent := make(chan error, 1)
		go func() {
			for _, p := range parts {
				if err := st.Send(ctx, p); err != nil {
					sent <- err
					return
				}
			}
			sent <- st.CloseSend()
		}()
		var got []int16
		for {
			p, err := st.Recv(ctx)
			if errors.Is(err, io.EOF) {
				return got, <-sent
			}
			if err != nil {
				<-sent
				return got, err
			}
			got = append(got, p.Samples...)
		}
	}
	pid := s.Pid()
	got, err := run(sdk.Format{Container: "webm", OutputRate: 16000}, chunks)
	if err != nil || !slices.Equal(got, want.samples) {
		t.Fatalf("webm through the binary: %v, %d samples, want %d", err, len(got), len(want.samples))
	}
	_, err = run(sdk.Format{Container: "webm"}, [][]byte{chunks[0], []byte("\x00 garbage")})
	var se *sdk.StreamError
	if !errors.As(err, &se) || se.Code != sdk.CodeInvalidAudio {
		t.Fatalf("garbage: %v, want INVALID_AUDIO", err)
	}
	_, err = run(sdk.Format{Container: "mp3"}, [][]byte{{1}})
	if !errors.As(err, &se) || se.Code != sdk.CodeUnsupportedFormat {
		t.Fatalf("mp3: %v, want UNSUPPORTED_FORMAT", err)
	}
	got, err = run(sdk.Format{Container: "webm"}, chunks)
	if err != nil || !slices.Equal(got, want.samples) {
		t.Fatalf("after bad streams: %v", err)
	}
	if s.Pid() != pid {
		t.Errorf("plugin process changed from %d to %d: bad input must not crash it", pid, s.Pid())
	}
}
