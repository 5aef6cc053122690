package host_test

import (
	"context"
	"errors"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"weak"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"github.com/hashicorp/hcl/v2"

	"github.com/earshot-dev/earshot/plugins/host"
	"github.com/earshot-dev/earshot/plugins/sdk"
)

// hangLimit only detects a hang: the waits it bounds end within milliseconds.
const hangLimit = time.Minute

// closeWithin calls h.Close and fails the test if it does not return within
// hangLimit.
func closeWithin(t *testing.T, h *host.Host) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- h.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(hangLimit):
		t.Fatalf("Close did not return within %v", hangLimit)
	}
}

// TestRestartsDoNotKeepClients: a plugin that fails again and again is launched
// anew each time; every go-plugin client of a killed process must become garbage
// (go-plugin's managed clients stayed in a global list until CleanupClients).
func TestRestartsDoNotKeepClients(t *testing.T) {
	opts := fastOpts(pluginDir(t, "flaky"), host.Spec{Name: "flaky", Env: map[string]string{"TESTPLUGIN_MODE": "exitafter"}})
	opts.MaxRestarts = 3
	var mu sync.Mutex
	var clients []weak.Pointer[plugin.Client]
	host.SetLaunchHook(&opts, func(c *plugin.Client) {
		mu.Lock()
		clients = append(clients, weak.Make(c))
		mu.Unlock()
	})
	h := newHost(t, opts)
	s := stage(t, h, sdk.KindTranscriber, "flaky", "")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		err := s.WaitReady(ctx)
		if errors.Is(err, host.ErrUnavailable) {
			break
		}
		if err != nil {
			t.Fatalf("WaitReady: %v", err)
		}
		if st, err := s.OpenTranscribe(ctx, sdk.TranscribeStart{SampleRate: 16000}); err == nil {
			_, _ = st.Recv(ctx) // until this process fails
			st.Close()
		}
	}
	mu.Lock()
	n := len(clients)
	mu.Unlock()
	if n < opts.MaxRestarts+1 {
		t.Fatalf("%d launches, want at least %d", n, opts.MaxRestarts+1)
	}
	// The host gave up: every process is dead and its client released.
	waitFor(t, "the clients of killed plugins to be collected", 10*time.Second, func() bool {
		runtime.GC()
		mu.Lock()
		defer mu.Unlock()
		return !slices.ContainsFunc(clients, func(p weak.Pointer[plugin.Client]) bool { return p.Value() != nil })
	})
}

// TestStageConcurrentWithClose runs Stage and Close at the same time (under
// -race): no data race, Stage either succeeds or says the host closed, and no
// process is left.
func TestStageConcurrentWithClose(t *testing.T) {
	dir := pluginDir(t, "misbehave")
	for i := range 5 {
		h, err := host.New(fastOpts(dir))
		if err != nil {
			t.Fatal(err)
		}
		// The process launched for the schema serves "a"; "b" takes the spare
		// slot and launches its own while Close runs.
		stage(t, h, sdk.KindTranscriber, "misbehave", `label = "a"`)
		errs := make(chan hcl.Diagnostics, 1)
		go func() {
			_, diags := h.Stage(context.Background(), sdk.KindTranscriber, "misbehave", body(t, `label = "b"`), nil)
			errs <- diags
		}()
		if i%2 == 1 {
			runtime.Gosched()
		}
		closeWithin(t, h)
		if diags := <-errs; diags.HasErrors() && diags[0].Summary != "Plugin host closed" {
			t.Errorf("Stage during Close: %v", diags)
		}
		assertNoChildren(t)
	}
}

// TestCloseDuringSlowLaunch: a Close while Stage waits for a plugin that takes
// its time to start returns, makes Stage fail, and leaves no process behind.
func TestCloseDuringSlowLaunch(t *testing.T) {
	opts := fastOpts(pluginDir(t, "slow"), host.Spec{Name: "slow", Env: map[string]string{"TESTPLUGIN_MODE": "slowstart"}})
	opts.StartTimeout = 10 * time.Minute
	h := newHost(t, opts)
	errs := make(chan hcl.Diagnostics, 1)
	go func() {
		_, diags := h.Stage(context.Background(), sdk.KindTranscriber, "slow", body(t, ""), nil)
		errs <- diags
	}()
	waitFor(t, "the slow plugin to be started", 10*time.Second, func() bool { return len(children(t)) > 0 })
	closeWithin(t, h)
	select {
	case diags := <-errs:
		if !diags.HasErrors() {
			t.Error("Stage of a plugin that never started succeeded")
		}
	default:
		t.Error("Close returned while Stage was still under way")
	}
	assertNoChildren(t)
}

// TestCloseDuringSlowRestart: a Close while the supervisor waits for a
// restarted plugin to start returns without waiting for StartTimeout and leaves
// no process behind.
func TestCloseDuringSlowRestart(t *testing.T) {
	opts := fastOpts(pluginDir(t, "slow"), host.Spec{Name: "slow", Env: map[string]string{
		"TESTPLUGIN_MODE": "slowstart", "TESTPLUGIN_MARKER": filepath.Join(t.TempDir(), "started")}})
	opts.StartTimeout = 10 * time.Minute
	h := newHost(t, opts)
	s := stage(t, h, sdk.KindTranscriber, "slow", "")
	pid := s.Pid()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the plugin to be restarted", 10*time.Second, func() bool {
		return slices.ContainsFunc(children(t), func(c int) bool { return c != pid && alive(c) })
	})
	closeWithin(t, h)
	assertNoChildren(t)
}

// TestPluginDyingAsStreamOpens: a plugin that exits as soon as a stream opens
// fails the open or the stream's first Recv with ErrPluginFailed — what makes
// the pipeline wait for the restart and replay — and is restarted.
func TestPluginDyingAsStreamOpens(t *testing.T) {
	h := newHost(t, fastOpts(pluginDir(t, "dying"), host.Spec{Name: "dying", Env: map[string]string{"TESTPLUGIN_MODE": "dieonopen"}}))
	s := stage(t, h, sdk.KindTranscriber, "dying", "")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for range 3 {
		pid := s.Pid()
		st, err := s.OpenTranscribe(ctx, sdk.TranscribeStart{SampleRate: 16000})
		if err == nil {
			_, err = st.Recv(ctx)
			st.Close()
		}
		if !errors.Is(err, host.ErrPluginFailed) {
			t.Fatalf("stream on a plugin that died as it opened: %v, want ErrPluginFailed", err)
		}
		if err := s.WaitReady(ctx); err != nil {
			t.Fatal(err)
		}
		if s.Pid() == pid {
			t.Fatalf("ready again with the dead process %d", pid)
		}
	}
}

// TestRawStderrLogged: what a plugin prints to os.Stderr once it serves (go-plugin
// carries it over the connection) reaches the daemon's log under the plugin's
// name: at debug level, or at the level a "[WARN]"-style prefix names.
func TestRawStderrLogged(t *testing.T) {
	var buf syncBuf
	opts := fastOpts(pluginDir(t, "noisy"), host.Spec{Name: "noisy", Env: map[string]string{"TESTPLUGIN_MODE": "noisy"}})
	opts.Logger = hclog.New(&hclog.LoggerOptions{Output: &buf, Level: hclog.Debug})
	h := newHost(t, opts)
	stage(t, h, sdk.KindTranscriber, "noisy", "")
	want := []string{
		"[WARN]  noisy.earshot-plugin-noisy: [WARN] a raw warning after serving marker=noisy-raw-warn",
		"[DEBUG] noisy.earshot-plugin-noisy: a raw plain line after serving marker=noisy-raw-plain",
	}
	waitFor(t, "the plugin's raw stderr lines in the log", 10*time.Second, func() bool {
		out := buf.String()
		return !slices.ContainsFunc(want, func(w string) bool { return !strings.Contains(out, w) })
	})
}

// TestKillDoesNotWaitForeverOnHeldOutput: a plugin whose helper, in a session of
// its own (out of reach of the group kill), keeps the plugin's stderr open does
// not hang Close; the host says why it stopped waiting.
func TestKillDoesNotWaitForeverOnHeldOutput(t *testing.T) {
	var buf syncBuf
	opts := fastOpts(pluginDir(t, "orphan"), host.Spec{Name: "orphan", Env: map[string]string{"TESTPLUGIN_MODE": "orphan"}})
	opts.Logger = hclog.New(&hclog.LoggerOptions{Output: &buf, Level: hclog.Info})
	h := newHost(t, opts)
	stage(t, h, sdk.KindTranscriber, "orphan", "")
	var helper int
	waitFor(t, "the helper's pid in the log", 10*time.Second, func() bool {
		m := regexp.MustCompile(`helper started: pid=(\d+)`).FindStringSubmatch(buf.String())
		if m != nil {
			helper, _ = strconv.Atoi(m[1])
		}
		return helper > 0
	})
	t.Cleanup(func() {
		// Let go-plugin see the end of the output and reap the plugin.
		_ = syscall.Kill(helper, syscall.SIGKILL)
		waitFor(t, "the plugin to be reaped", 10*time.Second, func() bool { return len(children(t)) == 0 })
	})
	closeWithin(t, h)
	if out := buf.String(); !strings.Contains(out, "no longer waiting for it") {
		t.Errorf("Close gave up waiting without saying so:\n%s", out)
	}
	if !alive(helper) {
		t.Fatalf("the helper %d died: nothing held the output open, the test tests nothing", helper)
	}
}
