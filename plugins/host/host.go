// Package host finds, launches, configures and supervises earshot plugin processes
// (hashicorp/go-plugin over gRPC, AutoMTLS) and gives the pipeline runtime streams
// to them.
//
// One process serves every stream of a (plugin, configuration) pair: Stage starts
// it the first time it sees the pair and reuses it after. A plugin declared in two
// stages with different configurations runs as two processes, because Configure is
// called once per process. A supervisor per process checks its health, restarts it
// with exponential backoff (configuring it again) when it exits or stops answering,
// and gives up after too many failures in a window.
package host

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"github.com/hashicorp/hcl/v2"

	"github.com/earshot-dev/earshot/plugins/internal/handshake"
	"github.com/earshot-dev/earshot/plugins/internal/shim"
	"github.com/earshot-dev/earshot/plugins/internal/stageconfig"
	"github.com/earshot-dev/earshot/plugins/sdk"
)

// BinaryPrefix is the prefix of plugin binary names: earshot-plugin-<name>.
const BinaryPrefix = "earshot-plugin-"

// SupportedAPIVersions are the plugin API versions this host speaks.
func SupportedAPIVersions() []int { return sdk.SupportedAPIVersions() }

// Spec is what a `plugin "<name>"` block says about a plugin. All fields but Name
// are optional.
type Spec struct {
	Name string
	// Path of the binary; default: earshot-plugin-<name> found in Options.Dirs.
	Path string
	Args []string
	// Env is added to the daemon's environment for the plugin process.
	Env map[string]string
	// SHA256 pins the binary (hex); a mismatch refuses to start it.
	SHA256 string
	// CoalesceWindow overrides Options.CoalesceWindow for this plugin: 0 keeps
	// the host's, negative turns coalescing off.
	CoalesceWindow time.Duration
}

// Options configure a Host. Zero values take the defaults documented per field.
type Options struct {
	Logger hclog.Logger // default: a null logger
	// Dirs are searched in order for earshot-plugin-<name>; default: the directory
	// of the running executable, then $PATH.
	Dirs    []string
	Plugins []Spec

	HealthInterval time.Duration // default 5s
	HealthTimeout  time.Duration // default 2s
	CallTimeout    time.Duration // Info, ConfigSchema, Configure; default 30s
	StartTimeout   time.Duration // launch to handshake; default 30s
	BackoffMin     time.Duration // first restart delay; default 250ms
	BackoffMax     time.Duration // default 30s
	// MaxRestarts within RestartWindow make a plugin unavailable; defaults 5 and 5m.
	MaxRestarts   int
	RestartWindow time.Duration
	// CoalesceWindow is the longest the audio send of a real-time stream is held
	// when a plugin's connection carries many such streams, so that their frames
	// travel together (fewer wake-ups in both processes; see
	// docs/plugin-system.md). A connection with fewer than about two frames per
	// window never holds one. Default 8ms; negative turns it off.
	CoalesceWindow time.Duration
	// HideEnv names variables of the daemon's environment that plugin processes do
	// not inherit (the daemon's own secrets, such as its JWT signing key); a plugin
	// block's env may still set them for its plugin.
	HideEnv []string

	launched func(*plugin.Client) // tests: sees every go-plugin client created
}

func (o *Options) defaults() {
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.HealthInterval, 5*time.Second)
	def(&o.HealthTimeout, 2*time.Second)
	def(&o.CallTimeout, 30*time.Second)
	def(&o.StartTimeout, 30*time.Second)
	def(&o.BackoffMin, 250*time.Millisecond)
	def(&o.BackoffMax, 30*time.Second)
	def(&o.RestartWindow, 5*time.Minute)
	if o.CoalesceWindow == 0 {
		o.CoalesceWindow = shim.DefaultCoalesceWindow
	}
	if o.MaxRestarts <= 0 {
		o.MaxRestarts = 5
	}
	if o.Dirs == nil {
		if exe, err := os.Executable(); err == nil {
			o.Dirs = append(o.Dirs, filepath.Dir(exe))
		}
		o.Dirs = append(o.Dirs, filepath.SplitList(os.Getenv("PATH"))...)
	}
}

// Host owns every plugin process of the daemon.
type Host struct {
	opts     Options
	log      hclog.Logger
	specs    map[string]Spec
	reattach map[string]*plugin.ReattachConfig

	// ctx ends when Close starts: launches and calls under way (in Stage and in
	// the supervisors' restarts) stop, and a process still starting is killed.
	ctx    context.Context
	cancel context.CancelFunc

	stageMu sync.Mutex // serialises Stage: start-up only, keeps one process per key

	mu     sync.Mutex
	metas  map[string]*meta
	procs  map[string]*proc
	closed bool
}

// meta is what the host learnt from a plugin's first launch.
type meta struct {
	info   sdk.Info
	schema sdk.Schema
	spare  *conn // guarded by Host.mu: the process launched to ask for the schema, not configured yet
}

// New returns a Host. It reads EARSHOT_PLUGIN_REATTACH (debug mode).
func New(opts Options) (*Host, error) {
	opts.defaults()
	h := &Host{
		opts:  opts,
		log:   opts.Logger.Named("plugins"),
		specs: map[string]Spec{},
		metas: map[string]*meta{},
		procs: map[string]*proc{},
	}
	for _, s := range opts.Plugins {
		if s.Name == "" {
			return nil, errors.New("plugin spec without a name")
		}
		if _, dup := h.specs[s.Name]; dup {
			return nil, fmt.Errorf("plugin %q declared twice", s.Name)
		}
		if s.SHA256 != "" {
			if b, err := hex.DecodeString(s.SHA256); err != nil || len(b) != sha256.Size {
				return nil, fmt.Errorf("plugin %q: sha256 %q is not 64 hex digits", s.Name, s.SHA256)
			}
		}
		h.specs[s.Name] = s
	}
	if v := os.Getenv(handshake.EnvReattach); v != "" {
		rc, err := handshake.ParseReattachEnv(v)
		if err != nil {
			return nil, err
		}
		h.reattach = rc
		for name := range rc {
			h.log.Warn("attaching to a plugin started by hand (debug mode); it will not be restarted", "plugin", name)
		}
	}
	h.ctx, h.cancel = context.WithCancel(context.Background())
	return h, nil
}

// bound returns ctx, ended also when the host closes.
func (h *Host) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(h.ctx, cancel)
	return ctx, func() { stop(); cancel() }
}

// ---- launching ----

// conn is one launched, handshaken plugin process.
type conn struct {
	client  *plugin.Client
	shim    *shim.Client
	cmd     *exec.Cmd // nil when attached in debug mode
	grpc    io.Closer // the connection, closed by hand for attached plugins
	info    sdk.Info
	version int
	log     hclog.Logger
	stdio   []*lineLogger // the plugin's stdout and stderr once it serves
	// release ends the context the process was started with; nil when attached.
	release context.CancelFunc

	killOnce sync.Once
}

func (c *conn) pid() int {
	if c.cmd != nil && c.cmd.Process != nil {
		return c.cmd.Process.Pid
	}
	if rc := c.client.ReattachConfig(); rc != nil {
		return rc.Pid
	}
	return 0
}

// gracePeriod bounds an orderly plugin shutdown; a plugin that does not exit in
// time (or is hung) is killed.
const gracePeriod = 2 * time.Second

// kill ends the process and waits for go-plugin's goroutines. A failed plugin gets
// no grace; otherwise go-plugin asks it to shut down, which a hung process never
// answers, so the wait is bounded here. go-plugin's Kill also waits until the
// plugin's stderr reaches end of file, which never comes while a process the
// plugin started outside its process group (in a session of its own) holds it
// open: that wait is bounded too, and logged.
func (c *conn) kill(graceful bool) {
	c.killOnce.Do(func() {
		pid := 0
		if c.cmd != nil && c.cmd.Process != nil {
			pid = c.cmd.Process.Pid
		}
		if !graceful {
			killGroup(pid)
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			c.client.Kill()
			if c.cmd == nil && c.grpc != nil {
				// go-plugin leaves a process started by hand (and our
				// connection to it) alone; close the connection only.
				_ = c.grpc.Close()
			}
		}()
		t := time.NewTimer(gracePeriod)
		defer t.Stop()
		select {
		case <-done:
		case <-t.C:
			if graceful {
				killGroup(pid)
				t.Reset(gracePeriod)
				select {
				case <-done:
				case <-t.C:
				}
			}
		}
		select {
		case <-done:
		default:
			// go-plugin's goroutine finishes when the output closes.
			c.log.Error("plugin killed, but something still holds its output open (a process it started outside its process group?); no longer waiting for it", "pid", pid)
		}
		if c.release != nil {
			c.release()
		}
		for _, w := range c.stdio {
			w.flush()
		}
	})
}

// find resolves a plugin's binary.
func (h *Host) find(name string) (string, error) {
	if s, ok := h.specs[name]; ok && s.Path != "" {
		return s.Path, nil
	}
	bin := BinaryPrefix + name
	for _, d := range h.opts.Dirs {
		if d == "" {
			continue
		}
		p := filepath.Join(d, bin)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("plugin %q: no executable %s in %v (put it next to earshot, on $PATH, or give its path in a plugin %q block)", name, bin, h.opts.Dirs, name)
}

func fileSHA256(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return "unreadable: " + err.Error()
	}
	defer f.Close()
	hs := sha256.New()
	if _, err := io.Copy(hs, f); err != nil {
		return "unreadable: " + err.Error()
	}
	return hex.EncodeToString(hs.Sum(nil))
}

// inheritedEnv is env (KEY=value entries) without the variables named in hide.
func inheritedEnv(env, hide []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(hide, k) {
			out = append(out, kv)
		}
	}
	return out
}

// launch starts (or attaches to) a plugin process, handshakes, checks the API
// version and asks for Info. If ctx ends or the host closes before it is done, the
// process is killed and launch fails.
func (h *Host) launch(ctx context.Context, name string) (*conn, error) {
	ctx, cancel := h.bound(ctx)
	defer cancel()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("plugin %q: not started: %w", name, err)
	}
	spec := h.specs[name]
	log := h.opts.Logger.Named(name)
	versions := SupportedAPIVersions()
	sets := map[int]plugin.PluginSet{}
	for _, v := range versions {
		sets[v] = shim.PluginSet()
	}
	cfg := &plugin.ClientConfig{
		HandshakeConfig:  handshake.Config(slices.Max(versions)),
		VersionedPlugins: sets,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		// Not managed: go-plugin would keep every client (with its copy of the
		// environment, TLS key and logger) in a global list for CleanupClients,
		// one more per restart, until the daemon exits. The host kills every
		// process itself (Close, the supervisor, failed launches).
		Managed:         false,
		Logger:          log,
		GRPCDialOptions: shim.DialOptions(),
		StartTimeout:    h.opts.StartTimeout,
	}
	var path string
	var cmd *exec.Cmd
	var release context.CancelFunc
	var stdio []*lineLogger
	detach := func() bool { return true }
	if rc, ok := h.reattach[name]; ok {
		cfg.Reattach = rc
		cfg.Plugins = shim.PluginSet() // go-plugin negotiates nothing on reattach
		path = fmt.Sprintf("debug-mode plugin (pid %d)", rc.Pid)
	} else {
		var err error
		if path, err = h.find(name); err != nil {
			return nil, err
		}
		// go-plugin's Client takes no context and waits up to StartTimeout for
		// the handshake. The process runs under a context of its own, ended
		// when ctx ends while the launch is under way: exec then kills the
		// process group, which ends go-plugin's wait at once. detach cuts that
		// link once the launch has succeeded.
		var pctx context.Context
		pctx, release = context.WithCancel(context.Background())
		detach = context.AfterFunc(ctx, release)
		cmd = exec.CommandContext(pctx, path, spec.Args...)
		cmd.Cancel = func() error {
			killGroup(cmd.Process.Pid)
			return nil
		}
		cmd.SysProcAttr = sysProcAttr()
		// go-plugin would put the daemon's environment after ours, so that it
		// wins; build it ourselves so the plugin block's env wins.
		cfg.SkipHostEnv = true
		cmd.Env = inheritedEnv(os.Environ(), h.opts.HideEnv)
		keys := make([]string, 0, len(spec.Env))
		for k := range spec.Env {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			cmd.Env = append(cmd.Env, k+"="+spec.Env[k])
		}
		cmd.Env = append(cmd.Env, handshake.EnvLogLevel+"="+levelName(h.opts.Logger))
		cfg.Cmd = cmd
		cfg.AutoMTLS = true
		if spec.SHA256 != "" {
			sum, _ := hex.DecodeString(spec.SHA256)
			cfg.SecureConfig = &plugin.SecureConfig{Checksum: sum, Hash: sha256.New()}
		}
		// Once the plugin serves, go-plugin carries what it writes to os.Stdout
		// and os.Stderr over the connection, and discards it unless told where
		// to put it. Its original stderr (sdk.Logger, a crash's trace) is read
		// by go-plugin itself and logged under the same name.
		plog := log.Named(filepath.Base(path))
		stdio = []*lineLogger{{log: plog.With("stdio", "stdout")}, {log: plog}}
		cfg.SyncStdout, cfg.SyncStderr = stdio[0], stdio[1]
	}
	client := plugin.NewClient(cfg)
	if h.opts.launched != nil {
		h.opts.launched(client)
	}
	c := &conn{client: client, cmd: cmd, log: log, stdio: stdio, release: release}
	fail := func(err error) (*conn, error) {
		c.kill(false)
		return nil, err
	}
	rpc, err := client.Client()
	if err != nil && ctx.Err() != nil {
		return fail(fmt.Errorf("plugin %q (%s): not started: %w", name, path, ctx.Err()))
	}
	if err != nil {
		switch {
		case errors.Is(err, plugin.ErrChecksumsDoNotMatch):
			return fail(fmt.Errorf("plugin %q: %s does not match its sha256 pin: want %s, the file has %s", name, path, spec.SHA256, fileSHA256(path)))
		case strings.Contains(err.Error(), "incompatible API version"):
			return fail(fmt.Errorf("plugin %q (%s): no plugin API version in common: earshot speaks %v; %v", name, path, versions, err))
		}
		return fail(fmt.Errorf("plugin %q (%s): start: %w", name, path, err))
	}
	if g, ok := rpc.(*plugin.GRPCClient); ok {
		c.grpc = g.Conn
	}
	raw, err := rpc.Dispense(handshake.SetTranscriber)
	if err != nil {
		return fail(fmt.Errorf("plugin %q: %w", name, err))
	}
	c.shim = raw.(*shim.Client)
	window := h.opts.CoalesceWindow
	if spec.CoalesceWindow != 0 {
		window = spec.CoalesceWindow
	}
	c.shim.SetCoalesceWindow(window)
	c.version = client.NegotiatedVersion()

	cctx, cancel := context.WithTimeout(ctx, h.opts.CallTimeout)
	defer cancel()
	info, err := c.shim.Info(cctx)
	if err != nil {
		return fail(fmt.Errorf("plugin %q (%s): Info: %w", name, path, err))
	}
	c.info = info
	common := 0
	for _, v := range info.APIVersions {
		if slices.Contains(versions, v) && v > common {
			common = v
		}
	}
	if common == 0 {
		return fail(fmt.Errorf("plugin %q (%s): no plugin API version in common: the plugin speaks %v, earshot speaks %v", name, path, info.APIVersions, versions))
	}
	if common != c.version {
		// The handshake picks the highest version both sides list, so this means the
		// plugin's Info disagrees with its handshake.
		return fail(fmt.Errorf("plugin %q (%s): handshake chose API version %d but Info lists %v", name, path, c.version, info.APIVersions))
	}
	if !detach() {
		// ctx ended: exec is killing the process.
		return fail(fmt.Errorf("plugin %q (%s): not started: %w", name, path, ctx.Err()))
	}
	log.Debug("plugin started", "path", path, "pid", c.pid(), "api_version", c.version, "version", info.Version)
	return c, nil
}

func levelName(l hclog.Logger) string {
	switch {
	case l.IsTrace():
		return "trace"
	case l.IsDebug():
		return "debug"
	case l.IsInfo():
		return "info"
	case l.IsWarn():
		return "warn"
	}
	return "error"
}

// ---- stages ----

// Stage is one pipeline stage bound to its plugin process.
type Stage struct {
	p    *proc
	info sdk.Info
}

func diag(summary, detail string, rng hcl.Range) hcl.Diagnostics {
	return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: rng.Ptr()}}
}

// Stage starts (or reuses) the plugin process for this (plugin, config), checks
// its kind, negotiates the API version, decodes body against the plugin's schema
// (every mistake a diagnostic at its source range) and configures it.
func (h *Host) Stage(ctx context.Context, kind sdk.Kind, name string, body hcl.Body, ectx *hcl.EvalContext) (*Stage, hcl.Diagnostics) {
	h.stageMu.Lock()
	defer h.stageMu.Unlock()
	// Close waits for stageMu after ending h.ctx: what is under way here stops
	// at once and kills what it launched.
	ctx, cancel := h.bound(ctx)
	defer cancel()
	rng := body.MissingItemRange()
	h.mu.Lock()
	closed := h.closed
	m := h.metas[name]
	h.mu.Unlock()
	if closed {
		return nil, diag("Plugin host closed", "The daemon is shutting down.", rng)
	}
	if m == nil {
		c, err := h.launch(ctx, name)
		if err != nil {
			return nil, h.startDiag(err, rng)
		}
		cctx, cancel := context.WithTimeout(ctx, h.opts.CallTimeout)
		schema, err := c.shim.ConfigSchema(cctx)
		cancel()
		if err != nil {
			c.kill(false)
			return nil, diag("Plugin failed", fmt.Sprintf("plugin %q: ConfigSchema: %v", name, err), rng)
		}
		if err := stageconfig.Validate(schema); err != nil {
			c.kill(false)
			return nil, diag("Invalid plugin schema", fmt.Sprintf("plugin %q declares an invalid configuration schema (a bug in the plugin):\n%v", name, err), rng)
		}
		m = &meta{info: c.info, schema: schema, spare: c}
		h.mu.Lock()
		if h.closed {
			h.mu.Unlock()
			c.kill(true)
			return nil, diag("Plugin host closed", "The daemon is shutting down.", rng)
		}
		h.metas[name] = m
		h.mu.Unlock()
	}
	if m.info.Kind != kind {
		return nil, diag("Wrong plugin kind", fmt.Sprintf("plugin %q is a %s, not a %s", name, m.info.Kind, kind), rng)
	}
	js, diags := stageconfig.Decode(body, ectx, m.schema)
	if diags.HasErrors() {
		return nil, diags
	}
	key := name + "\x00" + string(js)
	_, debug := h.reattach[name]
	h.mu.Lock()
	p := h.procs[key]
	conflict := false // a debug-mode plugin already serves another configuration
	var c *conn
	if p == nil {
		for k := range h.procs {
			conflict = conflict || (debug && strings.HasPrefix(k, name+"\x00"))
		}
		if !conflict {
			c, m.spare = m.spare, nil
		}
	}
	h.mu.Unlock()
	if p != nil {
		return &Stage{p: p, info: m.info}, diags
	}
	if conflict {
		return nil, append(diags, diag("Plugin in debug mode", fmt.Sprintf("plugin %q runs in debug mode (one process), which can serve only one configuration; this stage's differs from an earlier one", name), rng)...)
	}
	if c == nil {
		var err error
		if c, err = h.launch(ctx, name); err != nil {
			return nil, append(diags, h.startDiag(err, rng)...)
		}
	}
	cfg := sdk.NewConfig(js)
	if err := h.configure(ctx, c, cfg); err != nil {
		c.kill(false)
		var se *sdk.StreamError
		if errors.As(err, &se) {
			return nil, append(diags, diag("Plugin refused its configuration", fmt.Sprintf("plugin %q: %s", name, se.Message), rng)...)
		}
		return nil, append(diags, diag("Plugin failed", fmt.Sprintf("plugin %q: Configure: %v", name, err), rng)...)
	}
	p = newProc(h, name, kind, cfg, c)
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		p.close()
		return nil, append(diags, diag("Plugin host closed", "The daemon is shutting down.", rng)...)
	}
	h.procs[key] = p
	h.mu.Unlock()
	return &Stage{p: p, info: m.info}, diags
}

func (h *Host) startDiag(err error, rng hcl.Range) hcl.Diagnostics {
	if h.ctx.Err() != nil {
		return diag("Plugin host closed", "The daemon is shutting down.", rng)
	}
	return diag("Plugin failed to start", err.Error(), rng)
}

func (h *Host) configure(ctx context.Context, c *conn, cfg sdk.Config) error {
	cctx, cancel := context.WithTimeout(ctx, h.opts.CallTimeout)
	defer cancel()
	return c.shim.Configure(cctx, cfg)
}

// Ready reports whether every stage's process is up.
func (h *Host) Ready() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	for _, p := range h.procs {
		if p.state() != stateReady {
			return false
		}
	}
	return true
}

// Close kills every plugin process and waits for their supervisors and for a
// Stage under way (which it stops; a process still starting is killed). When it
// returns, no process it launched is left. Idempotent.
func (h *Host) Close() error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	h.cancel()
	procs := make([]*proc, 0, len(h.procs))
	for _, p := range h.procs {
		procs = append(procs, p)
	}
	var spares []*conn
	for _, m := range h.metas {
		if m.spare != nil {
			spares = append(spares, m.spare)
			m.spare = nil
		}
	}
	h.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range procs {
		wg.Add(1)
		go func() { defer wg.Done(); p.close() }()
	}
	for _, c := range spares {
		wg.Add(1)
		go func() { defer wg.Done(); c.kill(true) }()
	}
	// A Stage under way has seen h.ctx end: it kills what it launched (closed is
	// set, so it publishes nothing) and returns.
	h.stageMu.Lock()
	h.stageMu.Unlock() //nolint:staticcheck // only waiting for the Stage under way
	wg.Wait()
	return nil
}

// Info is the plugin's Info.
func (s *Stage) Info() sdk.Info { return s.info }

// WaitReady blocks while the plugin process is being restarted. It returns
// ErrUnavailable when the host gave up on the plugin (or is closed).
func (s *Stage) WaitReady(ctx context.Context) error { return s.p.waitReady(ctx) }

// OpenDecode opens a decoder stream. While the process is being restarted it fails
// with ErrPluginFailed (call WaitReady); ErrUnavailable when the host gave up.
func (s *Stage) OpenDecode(ctx context.Context, f sdk.Format) (DecodeStream, error) {
	c, err := s.p.current()
	if err != nil {
		return nil, err
	}
	st, err := c.shim.OpenDecode(ctx, f)
	if err != nil {
		return nil, err
	}
	return st, nil
}

// OpenTranscribe opens a transcriber stream; see OpenDecode.
func (s *Stage) OpenTranscribe(ctx context.Context, start sdk.TranscribeStart) (TranscribeStream, error) {
	c, err := s.p.current()
	if err != nil {
		return nil, err
	}
	st, err := c.shim.OpenTranscribe(ctx, start)
	if err != nil {
		return nil, err
	}
	return st, nil
}

// OpenSuggest opens a suggester stream; see OpenDecode.
func (s *Stage) OpenSuggest(ctx context.Context, si sdk.SessionInfo) (SuggestStream, error) {
	c, err := s.p.current()
	if err != nil {
		return nil, err
	}
	st, err := c.shim.OpenSuggest(ctx, si)
	if err != nil {
		return nil, err
	}
	return st, nil
}

// Pid is the process id of the stage's plugin process, 0 while it is restarting.
// For diagnostics and tests.
func (s *Stage) Pid() int {
	c, err := s.p.current()
	if err != nil {
		return 0
	}
	return c.pid()
}
