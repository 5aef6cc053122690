package host_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"go.uber.org/goleak"

	"github.com/earshot-dev/earshot/plugins/host"
	"github.com/earshot-dev/earshot/plugins/sdk"
)

const trigger = 31337 // misbehave's trigger sample

// binary is the misbehave test plugin, built once by TestMain.
var binary string

func TestMain(m *testing.M) {
	if os.Getenv("HOSTTEST_DAEMON") != "" {
		daemon()
		return
	}
	dir, err := os.MkdirTemp("", "earshot-host-test")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "misbehave")
	cmd := exec.Command("go", "build", "-o", binary, "./internal/testplugins/misbehave")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building the test plugin:", err)
		os.Exit(1)
	}
	code := func() int {
		defer os.RemoveAll(dir)
		return m.Run()
	}()
	if code == 0 {
		// go-plugin watches a plugin started by hand (debug mode) by polling its
		// pid every second, until after that test's cleanup has stopped it.
		if err := goleak.Find(goleak.IgnoreTopFunction("github.com/hashicorp/go-plugin/internal/cmdrunner.pidWait")); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// pluginDir returns a directory holding earshot-plugin-<name> for each name.
func pluginDir(t *testing.T, names ...string) string {
	t.Helper()
	d := t.TempDir()
	for _, n := range names {
		if err := os.Symlink(binary, filepath.Join(d, host.BinaryPrefix+n)); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// fastOpts make supervision quick enough for tests.
func fastOpts(dir string, specs ...host.Spec) host.Options {
	return host.Options{
		Dirs:           []string{dir},
		Plugins:        specs,
		HealthInterval: 100 * time.Millisecond,
		HealthTimeout:  time.Second, // generous: CI machines are loaded
		CallTimeout:    10 * time.Second,
		BackoffMin:     20 * time.Millisecond,
		BackoffMax:     200 * time.Millisecond,
	}
}

func newHost(t *testing.T, opts host.Options) *host.Host {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = hclog.New(&hclog.LoggerOptions{Output: testWriter{t}, Level: hclog.Info})
	}
	h, err := host.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := h.Close(); err != nil {
			t.Error(err)
		}
		assertNoChildren(t)
	})
	return h
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func body(t *testing.T, src string) hcl.Body {
	t.Helper()
	f, diags := hclparse.NewParser().ParseHCL([]byte(src), "test.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return f.Body
}

func stage(t *testing.T, h *host.Host, kind sdk.Kind, name, src string) *host.Stage {
	t.Helper()
	s, diags := h.Stage(context.Background(), kind, name, body(t, src), nil)
	if diags.HasErrors() {
		t.Fatalf("Stage: %v", diags)
	}
	return s
}

func frame(i int, first int16) sdk.AudioInput {
	s := make([]int16, 320)
	s[0] = first
	return sdk.AudioInput{Samples: s, Start: time.Duration(i) * 20 * time.Millisecond}
}

// children lists the live (non-zombie) child processes of this test process.
func children(t *testing.T) []int {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Skip("no /proc")
	}
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		rest := string(b[bytes.LastIndexByte(b, ')')+2:])
		f := strings.Fields(rest)
		if len(f) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		if ppid == os.Getpid() {
			out = append(out, pid)
		}
	}
	return out
}

func assertNoChildren(t *testing.T) {
	t.Helper()
	if c := children(t); len(c) > 0 {
		t.Errorf("plugin processes left behind (children, zombies included): %v", c)
	}
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	rest := string(b[bytes.LastIndexByte(b, ')')+2:])
	return !strings.HasPrefix(rest, "Z")
}

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond) // polling the OS: there is no event to wait on
	}
}

func openTranscribe(t *testing.T, s *host.Stage) host.TranscribeStream {
	t.Helper()
	st, err := s.OpenTranscribe(context.Background(), sdk.TranscribeStart{SampleRate: 16000})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// roundTrip sends a normal frame and waits for its partial.
func roundTrip(t *testing.T, st host.TranscribeStream, i int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := st.Send(ctx, frame(i, 0)); err != nil {
		t.Fatalf("Send: %v", err)
	}
	ev, err := st.Recv(ctx)
	if err != nil {
		t.Fatalf("Recv: %v", err)
	}
	if ev.Kind != host.Partial || ev.Result.Start != time.Duration(i)*20*time.Millisecond {
		t.Fatalf("got %+v, want the partial of frame %d", ev, i)
	}
}

func TestStreamEndToEnd(t *testing.T) {
	h := newHost(t, fastOpts(pluginDir(t, "misbehave")))
	s := stage(t, h, sdk.KindTranscriber, "misbehave", `label = "x"`+"\n"+`silence = "1s"`)
	if s.Info().Name != "misbehave" || s.Info().Kind != sdk.KindTranscriber {
		t.Fatalf("Info: %+v", s.Info())
	}
	st := openTranscribe(t, s)
	for i := range 5 {
		roundTrip(t, st, i)
	}
	if err := st.Send(context.Background(), sdk.AudioInput{Control: sdk.ControlFinalize}); err != nil {
		t.Fatal(err)
	}
	ev, err := st.Recv(context.Background())
	if err != nil || ev.Kind != host.Final || ev.Result.Text != "5 frames" {
		t.Fatalf("after finalize: %+v %v", ev, err)
	}
	if err := st.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Recv(context.Background()); !errors.Is(err, io.EOF) {
		t.Fatalf("after CloseSend: %v, want io.EOF", err)
	}
	if !h.Ready() {
		t.Error("Ready() = false with a healthy plugin")
	}
}

func TestOneProcessPerConfig(t *testing.T) {
	h := newHost(t, fastOpts(pluginDir(t, "misbehave")))
	a := stage(t, h, sdk.KindTranscriber, "misbehave", `label = "a"`)
	a2 := stage(t, h, sdk.KindTranscriber, "misbehave", `label = "a"`)
	b := stage(t, h, sdk.KindTranscriber, "misbehave", `label = "b"`)
	if a.Pid() == 0 || a.Pid() != a2.Pid() {
		t.Errorf("same config: pids %d and %d, want one process", a.Pid(), a2.Pid())
	}
	if a.Pid() == b.Pid() {
		t.Errorf("different configs share pid %d", a.Pid())
	}
	// Streams of one process run concurrently.
	s1, s2 := openTranscribe(t, a), openTranscribe(t, a2)
	roundTrip(t, s1, 0)
	roundTrip(t, s2, 0)
	roundTrip(t, s1, 1)
}

func TestStageDiagnostics(t *testing.T) {
	h := newHost(t, fastOpts(pluginDir(t, "misbehave")))
	cases := []struct {
		src, summary string
		line         int
	}{
		{"label = \"x\"\nbogus = 1", "Unsupported argument", 2},
		{"\n\nsilence = \"soon\"", "Invalid value for \"silence\"", 3},
		{"buffer = \"12 parsecs\"", "Invalid value for \"buffer\"", 1},
		{"buffer = -1", "Invalid value for \"buffer\"", 1},
		{"label = [1]", "Incorrect attribute value type", 1},
		{"label = \"refuse\"", "Plugin refused its configuration", 0},
		{"partial_every = 0", "Plugin refused its configuration", 0},
		{"partial_every = 1e300", "Plugin refused its configuration", 0},
		{"partial_every = 2.5", "Plugin refused its configuration", 0},
	}
	for _, c := range cases {
		_, diags := h.Stage(context.Background(), sdk.KindTranscriber, "misbehave", body(t, c.src), nil)
		if !diags.HasErrors() {
			t.Errorf("%q: no error", c.src)
			continue
		}
		d := diags[0]
		if d.Summary != c.summary {
			t.Errorf("%q: summary %q, want %q (%v)", c.src, d.Summary, c.summary, diags)
		}
		if c.line > 0 && (d.Subject == nil || d.Subject.Start.Line != c.line || d.Subject.Filename != "test.hcl") {
			t.Errorf("%q: subject %v, want test.hcl line %d", c.src, d.Subject, c.line)
		}
	}
}

func TestStartErrors(t *testing.T) {
	dir := pluginDir(t, "misbehave", "garbage", "oldapi")
	sum := "0000000000000000000000000000000000000000000000000000000000000000"
	h := newHost(t, fastOpts(dir,
		host.Spec{Name: "garbage", Env: map[string]string{"TESTPLUGIN_MODE": "garbage"}},
		host.Spec{Name: "oldapi", Env: map[string]string{"TESTPLUGIN_MODE": "wrongversion"}},
		host.Spec{Name: "pinned", Path: binary, SHA256: sum},
		host.Spec{Name: "decoder", Path: binary, Env: map[string]string{"TESTPLUGIN_KIND": "decoder"}},
	))
	cases := []struct {
		name string
		kind sdk.Kind
		want []string
	}{
		{"missing", sdk.KindTranscriber, []string{"no executable earshot-plugin-missing"}},
		{"garbage", sdk.KindTranscriber, []string{"this is not a handshake"}},
		{"oldapi", sdk.KindTranscriber, []string{"no plugin API version in common", "99", "[1]"}},
		{"pinned", sdk.KindTranscriber, []string{binary, "does not match its sha256 pin", sum}},
		{"decoder", sdk.KindTranscriber, []string{`plugin "decoder" is a decoder, not a transcriber`}},
	}
	for _, c := range cases {
		_, diags := h.Stage(context.Background(), c.kind, c.name, body(t, ""), nil)
		if !diags.HasErrors() {
			t.Errorf("%s: no error", c.name)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(diags.Error(), w) {
				t.Errorf("%s: %q does not mention %q", c.name, diags.Error(), w)
			}
		}
	}
	// The good plugin still works next to the bad ones.
	roundTrip(t, openTranscribe(t, stage(t, h, sdk.KindTranscriber, "misbehave", "")), 0)
}

func TestSHA256Pin(t *testing.T) {
	sum := sha256Hex(t, binary)
	h := newHost(t, fastOpts(t.TempDir(), host.Spec{Name: "pinned", Path: binary, SHA256: sum}))
	roundTrip(t, openTranscribe(t, stage(t, h, sdk.KindTranscriber, "pinned", "")), 0)
}

func TestLogsForwardedAtTheirLevel(t *testing.T) {
	var buf syncBuf
	opts := fastOpts(pluginDir(t, "noisy"), host.Spec{Name: "noisy", Env: map[string]string{"TESTPLUGIN_MODE": "noisy"}})
	opts.Logger = hclog.New(&hclog.LoggerOptions{Output: &buf, Level: hclog.Info})
	h := newHost(t, opts)
	stage(t, h, sdk.KindTranscriber, "noisy", "")
	if err := h.Close(); err != nil { // flushes the plugin's stderr
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.Contains(out, "[WARN]  noisy.earshot-plugin-noisy: configured with a warning: marker=noisy-warn") {
		t.Errorf("warning not forwarded under the plugin's name at WARN:\n%s", out)
	}
	if strings.Contains(out, "noisy-debug") {
		t.Errorf("a debug line passed an info-level daemon logger:\n%s", out)
	}
}

// The daemon's secrets named in HideEnv do not reach plugin processes; the rest of
// its environment does, and a plugin block's env may still set a hidden name.
func TestHiddenEnvNotInherited(t *testing.T) {
	t.Setenv("HOSTTEST_SECRET", "jwt-signing-key")
	t.Setenv("HOSTTEST_VISIBLE", "inherited")
	dir := t.TempDir()
	plain, given := filepath.Join(dir, "plain.env"), filepath.Join(dir, "given.env")
	opts := fastOpts(pluginDir(t, "plain", "given"),
		host.Spec{Name: "plain", Env: map[string]string{"TESTPLUGIN_MODE": "env", "TESTPLUGIN_ENVFILE": plain}},
		host.Spec{Name: "given", Env: map[string]string{"TESTPLUGIN_MODE": "env", "TESTPLUGIN_ENVFILE": given, "HOSTTEST_SECRET": "for-this-plugin"}})
	opts.HideEnv = []string{"HOSTTEST_SECRET"}
	h := newHost(t, opts)
	stage(t, h, sdk.KindTranscriber, "plain", "")
	stage(t, h, sdk.KindTranscriber, "given", "")
	read := func(p string) []string {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return strings.Split(string(b), "\n")
	}
	env := read(plain)
	if !slices.Contains(env, "HOSTTEST_VISIBLE=inherited") {
		t.Errorf("the daemon's environment was not inherited: %q", env)
	}
	for _, kv := range env {
		if strings.HasPrefix(kv, "HOSTTEST_SECRET=") {
			t.Errorf("a hidden variable reached the plugin: %s", kv)
		}
	}
	if env := read(given); !slices.Contains(env, "HOSTTEST_SECRET=for-this-plugin") {
		t.Errorf("the plugin block's own value of a hidden name is missing: %q", env)
	}
}

func TestCrashMidStreamRestarts(t *testing.T) {
	h := newHost(t, fastOpts(pluginDir(t, "crashy", "misbehave"),
		host.Spec{Name: "crashy", Env: map[string]string{"TESTPLUGIN_MODE": "crash"}}))
	s := stage(t, h, sdk.KindTranscriber, "crashy", "")
	other := openTranscribe(t, stage(t, h, sdk.KindTranscriber, "misbehave", ""))
	pid := s.Pid()
	st1, st2 := openTranscribe(t, s), openTranscribe(t, s)
	roundTrip(t, st1, 0)
	roundTrip(t, st2, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := st1.Send(ctx, frame(1, trigger)); err != nil {
		t.Fatal(err)
	}
	// Both streams of the crashed process fail promptly with ErrPluginFailed.
	for _, st := range []host.TranscribeStream{st1, st2} {
		if _, err := st.Recv(ctx); !errors.Is(err, host.ErrPluginFailed) {
			t.Fatalf("Recv after crash: %v, want ErrPluginFailed", err)
		}
	}
	// Another plugin's stream is unaffected.
	roundTrip(t, other, 0)
	if err := s.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	if s.Pid() == pid || alive(pid) {
		t.Errorf("after restart: pid %d (was %d, alive=%v)", s.Pid(), pid, alive(pid))
	}
	roundTrip(t, openTranscribe(t, s), 0)
}

func TestHangIsDetectedAndRestarted(t *testing.T) {
	h := newHost(t, fastOpts(pluginDir(t, "hangs"), host.Spec{Name: "hangs", Env: map[string]string{"TESTPLUGIN_MODE": "hang"}}))
	s := stage(t, h, sdk.KindTranscriber, "hangs", "")
	pid := s.Pid()
	st := openTranscribe(t, s)
	roundTrip(t, st, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := st.Send(ctx, frame(1, trigger)); err != nil {
		t.Fatal(err)
	}
	// The partial of the trigger frame may slip out before the process stops.
	if _, err := recvUntilErr(ctx, st); !errors.Is(err, host.ErrPluginFailed) {
		t.Fatalf("Recv on a hung plugin: %v, want ErrPluginFailed", err)
	}
	if err := s.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	if alive(pid) {
		t.Errorf("hung process %d still alive", pid)
	}
	roundTrip(t, openTranscribe(t, s), 0)
}

func TestOversizedMessage(t *testing.T) {
	h := newHost(t, fastOpts(pluginDir(t, "big"), host.Spec{Name: "big", Env: map[string]string{"TESTPLUGIN_MODE": "oversized"}}))
	s := stage(t, h, sdk.KindTranscriber, "big", "")
	pid := s.Pid()
	st := openTranscribe(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := st.Send(ctx, frame(0, trigger)); err != nil {
		t.Fatal(err)
	}
	_, err := st.Recv(ctx)
	if !errors.Is(err, host.ErrProtocol) {
		t.Fatalf("oversized message: %v, want ErrProtocol", err)
	}
	t.Logf("oversized: %v", err)
	// The process keeps serving other streams.
	roundTrip(t, openTranscribe(t, s), 0)
	if s.Pid() != pid {
		t.Errorf("an oversized message restarted the plugin")
	}
}

func TestGivesUpAfterRepeatedFailures(t *testing.T) {
	opts := fastOpts(pluginDir(t, "flaky"), host.Spec{Name: "flaky", Env: map[string]string{"TESTPLUGIN_MODE": "exitafter"}})
	opts.MaxRestarts = 2
	h := newHost(t, opts)
	s := stage(t, h, sdk.KindTranscriber, "flaky", "")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		err := s.WaitReady(ctx)
		if errors.Is(err, host.ErrUnavailable) {
			break
		}
		if err != nil {
			t.Fatalf("WaitReady: %v", err)
		}
		// Wait for the next failure before asking again.
		st, err := s.OpenTranscribe(ctx, sdk.TranscribeStart{SampleRate: 16000})
		if err == nil {
			_, err = st.Recv(ctx)
			st.Close()
		}
		if err != nil && !errors.Is(err, host.ErrPluginFailed) && !errors.Is(err, host.ErrUnavailable) {
			t.Fatalf("stream on a flaky plugin: %v", err)
		}
	}
	if _, err := s.OpenTranscribe(ctx, sdk.TranscribeStart{SampleRate: 16000}); !errors.Is(err, host.ErrUnavailable) {
		t.Errorf("OpenTranscribe after giving up: %v, want ErrUnavailable", err)
	}
	if h.Ready() {
		t.Error("Ready() with an unavailable plugin")
	}
}

func TestSIGKILLOfPluginMidStream(t *testing.T) {
	h := newHost(t, fastOpts(pluginDir(t, "misbehave")))
	s := stage(t, h, sdk.KindTranscriber, "misbehave", "")
	st := openTranscribe(t, s)
	roundTrip(t, st, 0)
	pid := s.Pid()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := st.Recv(ctx); !errors.Is(err, host.ErrPluginFailed) {
		t.Fatalf("Recv: %v, want ErrPluginFailed", err)
	}
	if err := s.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the killed plugin to be reaped", 5*time.Second, func() bool { return !alive(pid) })
	for _, c := range children(t) {
		if c == pid {
			t.Errorf("killed plugin %d left as a zombie", pid)
		}
	}
	roundTrip(t, openTranscribe(t, s), 0)
}

func TestCloseIsIdempotentAndStopsStreams(t *testing.T) {
	h := newHost(t, fastOpts(pluginDir(t, "misbehave")))
	s := stage(t, h, sdk.KindTranscriber, "misbehave", "")
	st := openTranscribe(t, s)
	roundTrip(t, st, 0)
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	assertNoChildren(t)
	if _, err := st.Recv(context.Background()); err == nil {
		t.Error("stream survived Close")
	}
	if err := s.WaitReady(context.Background()); !errors.Is(err, host.ErrUnavailable) {
		t.Errorf("WaitReady after Close: %v", err)
	}
}

// TestNoPluginOutlivesAKilledDaemon runs a daemon (this test binary) that starts a
// plugin, SIGKILLs the daemon and checks the plugin dies with it.
func TestNoPluginOutlivesAKilledDaemon(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "HOSTTEST_DAEMON="+pluginDir(t, "misbehave"))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = testWriter{t}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("daemon: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || !alive(pid) {
		t.Fatalf("daemon reported plugin pid %q (alive=%v)", line, alive(pid))
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	waitFor(t, "the orphaned plugin to die", 10*time.Second, func() bool { return !alive(pid) })
}

// daemon is the body of TestNoPluginOutlivesAKilledDaemon's child process.
func daemon() {
	h, err := host.New(host.Options{Dirs: []string{os.Getenv("HOSTTEST_DAEMON")}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	f, _ := hclparse.NewParser().ParseHCL(nil, "empty.hcl")
	s, diags := h.Stage(context.Background(), sdk.KindTranscriber, "misbehave", f.Body, nil)
	if diags.HasErrors() {
		fmt.Fprintln(os.Stderr, diags)
		os.Exit(1)
	}
	fmt.Println(s.Pid())
	select {} // until SIGKILLed
}

func TestDebugModeReattach(t *testing.T) {
	cmd := exec.Command(binary, "-debug")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = testWriter{t}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	})
	r := bufio.NewReader(out)
	var env string
	for env == "" {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("reading the debug banner: %v", err)
		}
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "EARSHOT_PLUGIN_REATTACH="); ok {
			env = strings.Trim(v, "'")
		}
	}
	go func() { _, _ = io.Copy(io.Discard, r) }()
	t.Setenv("EARSHOT_PLUGIN_REATTACH", env)
	h, err := host.New(fastOpts(t.TempDir())) // no binary to find: it must attach
	if err != nil {
		t.Fatal(err)
	}
	s := stage(t, h, sdk.KindTranscriber, "misbehave", "")
	if s.Pid() != cmd.Process.Pid {
		t.Errorf("attached to pid %d, want %d", s.Pid(), cmd.Process.Pid)
	}
	roundTrip(t, openTranscribe(t, s), 0)
	if _, diags := h.Stage(context.Background(), sdk.KindTranscriber, "misbehave", body(t, `label = "other"`), nil); !diags.HasErrors() {
		t.Error("a second configuration of a debug-mode plugin was accepted")
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if !alive(cmd.Process.Pid) {
		t.Error("Close killed a plugin started by hand")
	}
}

func recvUntilErr(ctx context.Context, st host.TranscribeStream) (int, error) {
	for n := 0; ; n++ {
		if _, err := st.Recv(ctx); err != nil {
			return n, err
		}
	}
}

// TestCoalescedPacedStreams: fifty real-time streams on one plugin connection
// (2,500 frames/s: the connection is busy, so frames are held and sent in
// batches) each get every frame through, in order, answered on their own
// stream.
func TestCoalescedPacedStreams(t *testing.T) {
	const streams, frames = 50, 15
	opts := fastOpts(pluginDir(t, "misbehave"))
	opts.CoalesceWindow = 4 * time.Millisecond
	h := newHost(t, opts)
	s := stage(t, h, sdk.KindTranscriber, "misbehave", "")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	errs := make(chan error, streams)
	var wg sync.WaitGroup
	for n := range streams {
		st, err := s.OpenTranscribe(ctx, sdk.TranscribeStart{SampleRate: 16000})
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer st.Close()
			errs <- func() error {
				// Spread the streams' schedules over the 20 ms.
				time.Sleep(time.Duration(n) * 20 * time.Millisecond / streams)
				tick := time.NewTicker(20 * time.Millisecond)
				defer tick.Stop()
				for i := range frames {
					<-tick.C
					f := frame(i, int16(n))
					if err := st.Send(ctx, f); err != nil {
						return fmt.Errorf("stream %d frame %d: Send: %w", n, i, err)
					}
					ev, err := st.Recv(ctx)
					if err != nil {
						return fmt.Errorf("stream %d frame %d: Recv: %w", n, i, err)
					}
					if ev.Kind != host.Partial || ev.Result.Start != f.Start {
						return fmt.Errorf("stream %d frame %d: got %v at %v, want the partial of the frame at %v", n, i, ev.Kind, ev.Result.Start, f.Start)
					}
				}
				if err := st.Send(ctx, sdk.AudioInput{Control: sdk.ControlFinalize}); err != nil {
					return err
				}
				ev, err := st.Recv(ctx)
				if err != nil || ev.Kind != host.Final || ev.Result.Text != fmt.Sprintf("%d frames", frames) {
					return fmt.Errorf("stream %d: after finalize: %+v %v", n, ev, err)
				}
				return nil
			}()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}
