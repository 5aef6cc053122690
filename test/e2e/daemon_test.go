package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/signaling/auth"
	"github.com/earshot-dev/earshot/signaling/protocol"
)

// DaemonOptions says how to start `earshot serve`.
type DaemonOptions struct {
	// Config is the HCL text of a configuration file; empty runs the embedded default.
	// It is written to a temporary file; "{{BIN}}" and "{{TESTPLUGINS}}" are replaced
	// by the binaries' directories.
	Config string
	// Env is added to the daemon's environment (JWT_SECRET is always set).
	Env []string
	// Args are extra arguments after `serve`.
	Args []string
	// Addr is the listen address; empty picks a free loopback port.
	Addr string
}

// Daemon is a running `earshot serve` process.
type Daemon struct {
	t      testing.TB
	cmd    *exec.Cmd
	Addr   string // host:port
	Secret []byte
	log    *syncBuffer

	exited  chan struct{}
	waitErr error

	mu      sync.Mutex
	plugins map[int]string // every plugin child seen: pid → binary name
	stopped bool
}

// syncBuffer is a bytes.Buffer safe for the exec copier goroutine and readers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// baseEnv is the test's environment without the variables earshot reads.
func baseEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		switch strings.SplitN(kv, "=", 2)[0] {
		case "JWT_SECRET", "JWT_EXPIRES_IN", "FRONTEND_URL", "EARSHOT_TOKEN", "EARSHOT_LISTEN_TOKEN":
			continue
		}
		out = append(out, kv)
	}
	return out
}

// StartDaemon starts `earshot serve --listen <free loopback port>` with a generated
// JWT_SECRET, waits for /readyz and registers a cleanup that stops it with SIGTERM,
// asserts a clean exit and that no plugin process is left behind.
func StartDaemon(t testing.TB, o DaemonOptions) *Daemon {
	t.Helper()
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		t.Fatal(err)
	}
	d := &Daemon{
		t:       t,
		Addr:    freeAddr(t),
		Secret:  []byte(hex.EncodeToString(secret)),
		log:     &syncBuffer{},
		exited:  make(chan struct{}),
		plugins: map[int]string{},
	}
	if o.Addr != "" {
		d.Addr = o.Addr
	}
	args := []string{"serve", "--listen", d.Addr}
	if o.Config != "" {
		path := filepath.Join(t.TempDir(), "earshot.hcl")
		text := strings.NewReplacer("{{BIN}}", binDir, "{{TESTPLUGINS}}", testPluginDir).Replace(o.Config)
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--config", path)
	}
	args = append(args, o.Args...)
	d.cmd = exec.Command(filepath.Join(binDir, "earshot"), args...)
	d.cmd.Env = append(append(baseEnv(), "JWT_SECRET="+string(d.Secret)), o.Env...)
	d.cmd.Stdout = d.log
	d.cmd.Stderr = d.log
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("start earshot: %v", err)
	}
	go func() {
		d.waitErr = d.cmd.Wait()
		close(d.exited)
	}()
	t.Cleanup(d.Stop)
	if err := d.waitReady(90 * time.Second); err != nil {
		t.Fatalf("daemon not ready: %v\n--- daemon log ---\n%s", err, d.LogTail(8000))
	}
	d.scanPlugins()
	return d
}

// waitReady polls /readyz until it answers 200, the process exits, or the deadline.
func (d *Daemon) waitReady(timeout time.Duration) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		resp, err := client.Get(d.URL("/readyz"))
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-d.exited:
			return fmt.Errorf("earshot exited: %v", d.waitErr)
		case <-deadline.C:
			return fmt.Errorf("no 200 from /readyz within %v", timeout)
		case <-tick.C:
		}
	}
}

// URL is the daemon's http URL for path.
func (d *Daemon) URL(path string) string { return "http://" + d.Addr + path }

// WSURL is the native WebSocket endpoint.
func (d *Daemon) WSURL() string { return "ws://" + d.Addr + "/interview" }

// PID is the daemon's process id.
func (d *Daemon) PID() int { return d.cmd.Process.Pid }

// LogTail returns the last n bytes of the daemon's output.
func (d *Daemon) LogTail(n int) string {
	s := d.log.String()
	if len(s) > n {
		s = s[len(s)-n:]
	}
	return s
}

// Log returns the daemon's whole output so far.
func (d *Daemon) Log() string { return d.log.String() }

// Token mints an HS256 token for a user with the daemon's secret.
func (d *Daemon) Token(t testing.TB, sub, role string) string {
	t.Helper()
	tok, err := auth.Mint(d.Secret, auth.Claims{Subject: sub, Name: sub, Role: role}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// Connect mints a token for sub/role and opens an authenticated native client.
func (d *Daemon) Connect(t testing.TB, sub, role string) *Client {
	t.Helper()
	return Dial(t, d.WSURL(), d.Token(t, sub, role))
}

// PluginPIDs returns the live earshot-plugin-* children of the daemon by binary name
// (and remembers them for the leak check at Stop).
func (d *Daemon) PluginPIDs() map[string][]int {
	return d.scanPlugins()
}

func (d *Daemon) scanPlugins() map[string][]int {
	out := map[string][]int{}
	for _, p := range childProcesses(d.PID()) {
		name := filepath.Base(p.exe)
		if !strings.HasPrefix(name, "earshot-plugin-") {
			continue
		}
		out[name] = append(out[name], p.pid)
		d.mu.Lock()
		d.plugins[p.pid] = name
		d.mu.Unlock()
	}
	return out
}

// WaitPlugin waits until the daemon has a child running earshot-plugin-<name> whose
// pid is not in exclude, and returns its pid.
func (d *Daemon) WaitPlugin(t testing.TB, name string, exclude int, timeout time.Duration) int {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		for _, pid := range d.scanPlugins()["earshot-plugin-"+name] {
			if pid != exclude {
				return pid
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no earshot-plugin-%s child of the daemon within %v", name, timeout)
		}
		select {
		case <-d.exited:
			t.Fatalf("daemon exited while waiting for plugin %s: %v", name, d.waitErr)
		case <-tick.C:
		}
	}
}

// Stop sends SIGTERM, waits for the exit, asserts exit status 0 and that none of the
// plugin processes the daemon started is still alive. It is idempotent.
func (d *Daemon) Stop() {
	d.mu.Lock()
	if d.stopped {
		d.mu.Unlock()
		return
	}
	d.stopped = true
	d.mu.Unlock()
	t := d.t
	d.scanPlugins()
	select {
	case <-d.exited:
		t.Errorf("earshot exited before the test stopped it: %v\n--- daemon log ---\n%s", d.waitErr, d.LogTail(8000))
		return
	default:
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
	case <-time.After(30 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.exited
		t.Errorf("earshot still running 30 s after SIGTERM (killed)\n--- daemon log ---\n%s", d.LogTail(8000))
		return
	}
	if d.waitErr != nil {
		t.Errorf("earshot exit after SIGTERM: %v\n--- daemon log ---\n%s", d.waitErr, d.LogTail(8000))
	}
	// The plugin processes are the host's to stop; none may outlive the daemon.
	d.mu.Lock()
	plugins := make(map[int]string, len(d.plugins))
	for pid, name := range d.plugins {
		plugins[pid] = name
	}
	d.mu.Unlock()
	deadline := time.Now().Add(5 * time.Second)
	for pid, name := range plugins {
		for processAlive(pid, name) {
			if time.Now().After(deadline) {
				t.Errorf("plugin %s (pid %d) still running after the daemon exited", name, pid)
				_ = syscall.Kill(pid, syscall.SIGKILL)
				break
			}
			time.Sleep(20 * time.Millisecond) // polling a foreign process's exit: no event to wait on
		}
	}
	if t.Failed() {
		t.Logf("--- daemon log (tail) ---\n%s", d.LogTail(6000))
	}
	// E2E_LOG_DIR keeps every daemon's whole log for a closer look.
	if dir := os.Getenv("E2E_LOG_DIR"); dir != "" {
		name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name()) + "-" + strconv.Itoa(d.PID()) + ".log"
		_ = os.WriteFile(filepath.Join(dir, name), []byte(d.Log()), 0o644)
	}
}

// proc is one process seen in /proc.
type proc struct {
	pid, ppid int
	exe       string // argv[0]
	state     byte
}

// readProc reads /proc/<pid>/stat and cmdline.
func readProc(pid int) (proc, bool) {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return proc{}, false
	}
	// pid (comm) state ppid …; comm may contain spaces and parentheses.
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+4 > len(s) {
		return proc{}, false
	}
	fields := strings.Fields(s[i+2:])
	if len(fields) < 2 {
		return proc{}, false
	}
	ppid, _ := strconv.Atoi(fields[1])
	p := proc{pid: pid, ppid: ppid, state: fields[0][0]}
	if cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline"); err == nil {
		p.exe = string(bytes.SplitN(cmdline, []byte{0}, 2)[0])
	}
	return p, true
}

// allProcesses lists every process in /proc.
func allProcesses() []proc {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []proc
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if p, ok := readProc(pid); ok {
			out = append(out, p)
		}
	}
	return out
}

// childProcesses lists the direct children of ppid.
func childProcesses(ppid int) []proc {
	var out []proc
	for _, p := range allProcesses() {
		if p.ppid == ppid {
			out = append(out, p)
		}
	}
	return out
}

// processAlive reports whether pid is still a (non-zombie) process running name.
func processAlive(pid int, name string) bool {
	p, ok := readProc(pid)
	if !ok || p.state == 'Z' {
		return false
	}
	return filepath.Base(p.exe) == name
}

// KillPlugin sends SIGKILL to a plugin process of the daemon.
func (d *Daemon) KillPlugin(t testing.TB, pid int) {
	t.Helper()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9 %d: %v", pid, err)
	}
}

// Metrics fetches /metrics and returns the value of every sample line, keyed by the
// metric name with its labels as printed.
func (d *Daemon) Metrics(t testing.TB) map[string]float64 {
	t.Helper()
	resp, err := http.Get(d.URL("/metrics"))
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		out[line[:i]] = v
	}
	return out
}

// speechConfig is the test configuration used where the embedded default does not
// fit: the default pipeline with the knobs a test needs. Values are HCL snippets.
type speechConfig struct {
	Demo            bool
	Loopback        bool
	Origins         []string
	IdleTimeout     string // stream_idle_timeout
	RelayAudio      bool
	EndpointSilence string
	Transcriber     string // a full transcriber block; default sphinx
	MaxStreams      int    // the default sphinx block's max_streams; 0: the plugin's default
	ExtraPlugins    string
	EventRate       int
	AudioRateLimit  string
	SuggestTo       []string // default ["candidate"]
}

// hcl renders the configuration.
func (c speechConfig) hcl() string {
	origins := make([]string, 0, len(c.Origins))
	for _, o := range c.Origins {
		origins = append(origins, strconv.Quote(o))
	}
	if c.EndpointSilence == "" {
		c.EndpointSilence = "500ms"
	}
	if c.IdleTimeout == "" {
		c.IdleTimeout = "10s"
	}
	if c.EventRate == 0 {
		c.EventRate = 50
	}
	if c.AudioRateLimit == "" {
		c.AudioRateLimit = "256KiB"
	}
	if len(c.SuggestTo) == 0 {
		c.SuggestTo = []string{candidate}
	}
	suggestTo := make([]string, 0, len(c.SuggestTo))
	for _, r := range c.SuggestTo {
		suggestTo = append(suggestTo, strconv.Quote(r))
	}
	transcriber := c.Transcriber
	if transcriber == "" {
		maxStreams := ""
		if c.MaxStreams > 0 {
			maxStreams = fmt.Sprintf("\n    max_streams = %d", c.MaxStreams)
		}
		transcriber = fmt.Sprintf("transcriber \"sphinx\" {\n    endpoint_silence = %q%s\n  }", c.EndpointSilence, maxStreams)
	}
	return fmt.Sprintf(`
server {
  allowed_origins  = [%s]
  demo             = %t
  event_rate       = %d
  event_burst      = %d
  audio_rate_limit = %q
  log_level        = "debug"
}
auth { hmac_secret = env("JWT_SECRET") }
webrtc {
  include_loopback = %t
}
plugin "audio" {}
plugin "sphinx" {}
plugin "coach" {}
%s
pipeline "interview" {
  relay_audio         = %t
  suggest_from        = ["interviewer"]
  suggest_to          = [%s]
  stream_idle_timeout = %q
  decoder "audio" {}
  %s
  suggester "coach" {}
}
`, strings.Join(origins, ", "), c.Demo, c.EventRate, 2*c.EventRate, c.AudioRateLimit, c.Loopback, c.ExtraPlugins, c.RelayAudio, strings.Join(suggestTo, ", "), c.IdleTimeout, transcriber)
}

// roles, for brevity.
const (
	interviewer = protocol.RoleInterviewer
	candidate   = protocol.RoleCandidate
)
