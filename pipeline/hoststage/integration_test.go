package hoststage

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/earshot-dev/earshot/pipeline"
	"github.com/earshot-dev/earshot/plugins/host"
	"github.com/earshot-dev/earshot/plugins/sdk"
	"github.com/earshot-dev/earshot/signaling/protocol"
)

// recorder is a Publisher keeping every event.
type recorder struct {
	mu      sync.Mutex
	events  []ev
	changed chan struct{}
}

type ev struct {
	event   string
	payload any
	roles   []string
	toUser  string
}

func (r *recorder) add(e ev) {
	r.mu.Lock()
	r.events = append(r.events, e)
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
}

func (r *recorder) Publish(session, event string, payload any, roles []string, except string) {
	r.add(ev{event: event, payload: payload, roles: roles})
}

func (r *recorder) PublishToUser(session, user, event string, payload any) {
	r.add(ev{event: event, payload: payload, toUser: user})
}

func (r *recorder) wait(t *testing.T, what string, d time.Duration, cond func([]ev) bool) []ev {
	t.Helper()
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		evs := append([]ev(nil), r.events...)
		ch := r.changed
		r.mu.Unlock()
		if cond(evs) {
			return evs
		}
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func results(evs []ev) []protocol.TranscriptionResult {
	var out []protocol.TranscriptionResult
	for _, e := range evs {
		if r, ok := e.payload.(protocol.TranscriptionResult); ok {
			out = append(out, r)
		}
	}
	return out
}

func finals(evs []ev) []protocol.TranscriptionResult {
	var out []protocol.TranscriptionResult
	for _, r := range results(evs) {
		if r.IsFinal {
			out = append(out, r)
		}
	}
	return out
}

// buildPlugins builds the built-in plugins the tests need into a temporary folder
// (removed by TestMain).
func buildPlugins() (string, error) {
	dir, err := os.MkdirTemp("", "earshot-plugins-")
	if err != nil {
		return "", err
	}
	cmd := exec.Command("go", "build", "-o", dir+string(os.PathSeparator),
		"./cmd/earshot-plugin-audio", "./cmd/earshot-plugin-sphinx", "./cmd/earshot-plugin-coach")
	cmd.Dir = filepath.Join("..", "..")
	if out, err := cmd.CombinedOutput(); err != nil {
		return dir, fmt.Errorf("go build plugins: %v\n%s", err, out)
	}
	return dir, nil
}

func TestMain(m *testing.M) {
	code := m.Run()
	if pluginDir != "" {
		_ = os.RemoveAll(pluginDir)
	}
	os.Exit(code)
}

// speech renders sentences with espeak-ng as one 16 kHz mono WAV, each sentence
// followed by 1.2 s of silence so the transcriber's endpointing ends it. It returns
// the WAV and the byte offset where each sentence starts.
func speech(t *testing.T, sentences ...string) ([]byte, []int) {
	t.Helper()
	dir := t.TempDir()
	var parts []string
	var starts []int
	off := 44
	for i, s := range sentences {
		raw := filepath.Join(dir, "raw"+string(rune('a'+i))+".wav")
		part := filepath.Join(dir, "part"+string(rune('a'+i))+".raw")
		if out, err := exec.Command("espeak-ng", "-v", "en-us+klatt", "-s", "140", "-w", raw, s).CombinedOutput(); err != nil {
			t.Fatalf("espeak-ng: %v\n%s", err, out)
		}
		if out, err := exec.Command("sox", "-R", raw, "-r", "16000", "-c", "1", "-b", "16", "-e", "signed-integer", "-t", "raw", part, "pad", "0.3", "1.2").CombinedOutput(); err != nil {
			t.Fatalf("sox: %v\n%s", err, out)
		}
		fi, err := os.Stat(part)
		if err != nil {
			t.Fatal(err)
		}
		starts = append(starts, off)
		off += int(fi.Size())
		parts = append(parts, part)
	}
	var pcm []byte
	for _, p := range parts {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		pcm = append(pcm, b...)
	}
	return append(wavHeader(len(pcm)), pcm...), starts
}

func wavHeader(n int) []byte {
	h := make([]byte, 44)
	le := func(b []byte, v uint32) { b[0], b[1], b[2], b[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24) }
	copy(h, "RIFF")
	le(h[4:], uint32(36+n))
	copy(h[8:], "WAVEfmt ")
	le(h[16:], 16)
	h[20], h[22] = 1, 1 // PCM, mono
	le(h[24:], 16000)
	le(h[28:], 32000)
	h[32], h[34] = 2, 16
	copy(h[36:], "data")
	le(h[40:], uint32(n))
	return h
}

func body(t *testing.T, src string) hcl.Body {
	t.Helper()
	f, diags := hclsyntax.ParseConfig([]byte(src), "test.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return f.Body
}

// rig is the real host with the built-in plugins and a runtime over them.
type rig struct {
	reg     *prometheus.Registry
	rt      *pipeline.Runtime
	rec     *recorder
	dec, tr *host.Stage
	ctx     context.Context
}

var (
	buildOnce sync.Once
	pluginDir string
	buildErr  error
)

func newRig(t *testing.T) *rig {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the real plugins")
	}
	for _, bin := range []string{"espeak-ng", "sox", "ffmpeg"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s not installed", bin)
		}
	}
	if _, err := os.Stat("/usr/share/pocketsphinx/model/en-us"); err != nil {
		t.Skip("pocketsphinx-en-us not installed")
	}
	buildOnce.Do(func() { pluginDir, buildErr = buildPlugins() })
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	log := hclog.New(&hclog.LoggerOptions{Name: "test", Level: hclog.Warn, Output: testWriter{t}})
	h, err := host.New(host.Options{Logger: log, Dirs: []string{pluginDir}, BackoffMin: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	stage := func(kind sdk.Kind, name, src string) *host.Stage {
		s, diags := h.Stage(ctx, kind, name, body(t, src), nil)
		if diags.HasErrors() {
			t.Fatalf("%s %s: %v", kind, name, diags)
		}
		return s
	}
	r := &rig{rec: &recorder{changed: make(chan struct{})}, ctx: ctx, reg: prometheus.NewRegistry()}
	r.dec = stage(sdk.KindDecoder, "audio", `sample_rate = 16000`)
	r.tr = stage(sdk.KindTranscriber, "sphinx", ``)
	sug := stage(sdk.KindSuggester, "coach", ``)
	r.rt, err = pipeline.New(pipeline.Options{
		Logger:     log,
		Publisher:  r.rec,
		Classify:   Classify,
		Registerer: r.reg,
		Definitions: []pipeline.Definition{{
			Name: "interview", Decoder: Decoder(r.dec), Transcriber: Transcriber(r.tr),
			Suggester: Suggester(sug), SuggesterName: "coach", ReplayBuffer: 30 * time.Second,
			SuggestFrom: []string{protocol.RoleInterviewer},
		}},
		DefaultPipeline: "interview",
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.rt.Close() })
	return r
}

// logLatencies logs the runtime's latency histograms (means), for the report.
func (r *rig) logLatencies(t *testing.T) {
	mfs, err := r.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			if h := m.GetHistogram(); h != nil && h.GetSampleCount() > 0 {
				label := ""
				for _, l := range m.GetLabel() {
					label += l.GetName() + "=" + l.GetValue()
				}
				t.Logf("%s{%s}: n=%d mean=%.1f ms", mf.GetName(), label, h.GetSampleCount(), 1000*h.GetSampleSum()/float64(h.GetSampleCount()))
			}
		}
	}
}

func (r *rig) events() []ev {
	r.rec.mu.Lock()
	defer r.rec.mu.Unlock()
	return append([]ev(nil), r.rec.events...)
}

func (r *rig) writer(t *testing.T, st pipeline.Stream, chunk int) func([]byte) {
	return func(b []byte) {
		for off := 0; off < len(b); off += chunk {
			if err := st.Write(r.ctx, b[off:min(off+chunk, len(b))]); err != nil {
				t.Fatalf("write: %v", err)
			}
		}
	}
}

// checkOnce asserts the result guarantees over real results, and returns the finals'
// texts joined.
func checkOnce(t *testing.T, evs []ev) string {
	t.Helper()
	fs := finals(evs)
	seen := map[string]bool{}
	for _, r := range results(evs) {
		if seen[r.UtteranceID] {
			t.Errorf("result after the final of %s", r.UtteranceID)
		}
		if r.IsFinal {
			seen[r.UtteranceID] = true
		}
	}
	for _, r := range results(evs) {
		if !seen[r.UtteranceID] {
			t.Errorf("utterance %s has no final", r.UtteranceID)
		}
	}
	var all []string
	for _, f := range fs {
		t.Logf("final %s rev %d %d–%d ms: %q", f.UtteranceID, f.Revision, f.StartMs, f.EndMs, f.Text)
		all = append(all, f.Text)
	}
	retrying := 0
	for _, e := range evs {
		// FALLING_BEHIND may come too: the tests write faster than real time.
		if p, ok := e.payload.(protocol.TranscriptionError); ok && p.Retrying && p.Code == protocol.CodePipelineUnavailable {
			retrying++
		}
	}
	if retrying != 1 {
		t.Errorf("%d retrying PIPELINE_UNAVAILABLE transcription:error events, want 1", retrying)
	}
	return strings.Join(all, " | ")
}

func (r *rig) killWhenPartial(t *testing.T, stage *host.Stage, after int) {
	t.Helper()
	r.rec.wait(t, "a new partial", 30*time.Second, func(evs []ev) bool { return len(results(evs)) > after })
	pid := stage.Pid()
	if pid == 0 {
		t.Fatal("no plugin process")
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
}

// TestRealPluginsKillTranscriber streams espeak-ng speech through the real host and
// the built-in plugins (audio → sphinx, coach suggester), kills the transcriber with
// SIGKILL in the middle of the last utterance, and checks that every utterance still
// gets exactly one final — the interrupted one replayed, not duplicated — and the
// interviewer's questions a suggestion.
func TestRealPluginsKillTranscriber(t *testing.T) {
	r := newRig(t)
	// A warm-up sentence first: a cold PocketSphinx decoder garbles its first utterance.
	wav, starts := speech(t, "good morning and welcome", "tell me about yourself", "why do you want to work here")
	st, err := r.rt.OpenStream(r.ctx, protocol.StreamSpec{SessionID: "s1", UserID: "ivan", Role: protocol.RoleInterviewer,
		Format: protocol.FormatWAV, SampleRate: 16000, Channels: 1})
	if err != nil {
		t.Fatal(err)
	}
	write := r.writer(t, st, 3200) // 100 ms chunks
	write(wav[:starts[2]])
	r.rec.wait(t, "the first finals", time.Minute, func(evs []ev) bool {
		fs := finals(evs)
		return len(fs) > 0 && fs[len(fs)-1].EndMs > int64(starts[1]-44)/32
	})
	// The last sentence up to about its middle, then the kill, then the rest.
	half := starts[2] + ((len(wav)-starts[2])/2)&^1
	n := len(results(r.events()))
	write(wav[starts[2]:half])
	r.killWhenPartial(t, r.tr, n)
	write(wav[half:])
	if err := st.Stop(r.ctx); err != nil {
		t.Fatal(err)
	}

	text := checkOnce(t, r.events())
	r.logLatencies(t)
	if !strings.Contains(text, "about") && !strings.Contains(text, "yourself") {
		t.Errorf("finals %q lack the second sentence", text)
	}
	if n := strings.Count(text, "want"); n != 1 {
		t.Errorf("finals %q: \"want\" %d times, want once", text, n)
	}
	for _, f := range finals(r.events()) {
		if strings.Contains(f.Text, "want") && f.StartMs < int64(starts[2]-44)/32-300 {
			t.Errorf("the replayed final starts at %d ms, before the last sentence (%d ms)", f.StartMs, (starts[2]-44)/32)
		}
	}
	r.rec.wait(t, "a suggestion for the interviewer's questions", 30*time.Second, func(evs []ev) bool {
		for _, e := range evs {
			if s, ok := e.payload.(protocol.Suggestions); ok && strings.HasPrefix(s.UtteranceID, st.ID()+"-") && len(s.Suggestions) > 0 && s.Source == "coach" {
				t.Logf("suggestions for %q: %q …", s.Question, s.Suggestions[0].Text)
				return true
			}
		}
		return false
	})
}

// TestRealPluginsKillDecoder streams Ogg/Opus (100 ms pages) and WebM/Opus (5 s
// Clusters) speech in 1 KiB chunks cut anywhere, and kills the audio decoder in the
// middle of an utterance: the re-opened decoder gets the container header, then the
// bytes the dead one had not decoded from the next page or block on (Ogg pages
// renumbered to follow the header, WebM blocks under a synthetic Cluster start), and
// the utterance and the speech after it are still transcribed.
func TestRealPluginsKillDecoder(t *testing.T) {
	for _, tc := range []struct {
		format, ext string
		args        []string
	}{
		{protocol.FormatOgg, "ogg", []string{"-page_duration", "100000"}},
		{protocol.FormatWebM, "webm", []string{"-cluster_time_limit", "5000"}},
	} {
		t.Run(tc.format, func(t *testing.T) {
			r := newRig(t)
			wav, starts := speech(t, "good morning and welcome", "tell me about yourself", "why do you want to work here")
			dir := t.TempDir()
			in, out := filepath.Join(dir, "in.wav"), filepath.Join(dir, "out."+tc.ext)
			if err := os.WriteFile(in, wav, 0o600); err != nil {
				t.Fatal(err)
			}
			args := append([]string{"-loglevel", "error", "-i", in, "-c:a", "libopus", "-b:a", "32k"}, tc.args...)
			if b, err := exec.Command("ffmpeg", append(args, out)...).CombinedOutput(); err != nil {
				t.Fatalf("ffmpeg: %v\n%s", err, b)
			}
			enc, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			st, err := r.rt.OpenStream(r.ctx, protocol.StreamSpec{SessionID: "s1", UserID: "ivan", Role: protocol.RoleInterviewer,
				Format: tc.format, SampleRate: 48000, Channels: 1})
			if err != nil {
				t.Fatal(err)
			}
			write := r.writer(t, st, 1024)
			// The bytes up to about the middle of the second sentence, by its share of the audio.
			cut := int(float64(len(enc)) * float64(starts[1]+(starts[2]-starts[1])/2) / float64(len(wav)))
			n := len(results(r.events()))
			write(enc[:cut])
			r.killWhenPartial(t, r.dec, n)
			write(enc[cut:])
			if err := st.Stop(r.ctx); err != nil {
				t.Fatal(err)
			}
			text := checkOnce(t, r.events())
			if !strings.Contains(text, "about") && !strings.Contains(text, "yourself") {
				t.Errorf("finals %q lack the sentence the decoder died in", text)
			}
			if !strings.Contains(text, "want") && !strings.Contains(text, "work") {
				t.Errorf("finals %q lack the last sentence, which came after the decoder restart", text)
			}
			for _, e := range r.events() {
				if e.event == protocol.EventAudioError {
					t.Errorf("audio:error %+v", e.payload)
				}
			}
		})
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
