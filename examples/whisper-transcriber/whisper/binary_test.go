package whisper

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/config"
	"github.com/earshot-dev/earshot/plugins/host"
	"github.com/earshot-dev/earshot/plugins/sdk"
	"github.com/hashicorp/hcl/v2/hclparse"
)

// TestBinary builds the example as the README says and runs it as the daemon
// does: stage block checked against the schema, a real process, one stream.
func TestBinary(t *testing.T) {
	dir := t.TempDir()
	out, err := exec.Command("go", "build", "-o", filepath.Join(dir, host.BinaryPrefix+"whisper"),
		"github.com/earshot-dev/earshot/examples/whisper-transcriber").CombinedOutput()
	if err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	srv := newFakeWhisper(t, textAnswer("from the binary"))
	h, err := host.New(host.Options{Dirs: []string{dir}, Plugins: []host.Spec{{Name: "whisper"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	f, diags := hclparse.NewParser().ParseHCL([]byte(`base_url = "`+srv.URL+`"`+"\n"+`hangover = "400ms"`), "stage.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	s, diags := h.Stage(context.Background(), sdk.KindTranscriber, "whisper", f.Body, nil)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := s.OpenTranscribe(ctx, sdk.TranscribeStart{SampleRate: 16000})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	audio := synth(16000, seg{false, 300 * time.Millisecond}, seg{true, 800 * time.Millisecond}, seg{false, 600 * time.Millisecond})
	go func() {
		for _, a := range frames(audio, 16000) {
			if st.Send(ctx, a) != nil {
				return
			}
		}
		_ = st.CloseSend()
	}()
	var kinds []host.TranscriptEventKind
	var final string
	for {
		ev, err := st.Recv(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		kinds = append(kinds, ev.Kind)
		if ev.Kind == host.Final {
			final = ev.Result.Text
		}
	}
	if len(kinds) != 2 || kinds[0] != host.SpeechStarted || final != "from the binary 1" {
		t.Fatalf("events %v, final %q", kinds, final)
	}

	// The README's configuration is valid earshot configuration whose whisper
	// stage the plugin accepts.
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("JWT_SECRET", strings.Repeat("x", 32)) // the daemon refuses to load without one
	var checked int
	for _, m := range regexp.MustCompile("(?s)```hcl\n(.*?)```").FindAllSubmatch(readme, -1) {
		cfg, diags := config.Parse(m[1], "README.md")
		if diags.HasErrors() {
			t.Fatalf("README configuration: %v", diags)
		}
		for _, p := range cfg.Pipelines {
			if p.Transcriber.Plugin != "whisper" {
				continue
			}
			checked++
			if _, diags := h.Stage(context.Background(), sdk.KindTranscriber, "whisper", p.Transcriber.Body, nil); diags.HasErrors() {
				t.Errorf("README pipeline %q: %v", p.Name, diags)
			}
		}
	}
	if checked == 0 {
		t.Error("no whisper pipeline found in README.md")
	}
}
