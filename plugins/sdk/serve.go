package sdk

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/earshot-dev/earshot/plugins/internal/handshake"
)

// SupportedAPIVersions returns the plugin API versions this SDK implements, oldest
// first. A plugin built with this SDK offers these (or the subset its Info lists).
func SupportedAPIVersions() []int { return []int{APIVersion} }

// ServeDecoder serves a decoder plugin; call it from main:
//
//	func main() { sdk.ServeDecoder(mydecoder.New) }
//
// newFn builds the one instance that serves every stream of this process. Serve
// returns when the daemon has shut the plugin down (or, with -debug, on Ctrl-C);
// main should then return.
func ServeDecoder[T Decoder](newFn func() T) { serve(newFn()) }

// ServeTranscriber serves a transcriber plugin; see ServeDecoder.
func ServeTranscriber[T Transcriber](newFn func() T) { serve(newFn()) }

// ServeSuggester serves a suggester plugin; see ServeDecoder.
func ServeSuggester[T Suggester](newFn func() T) { serve(newFn()) }

// pluginLogger is built on first use, before go-plugin redirects os.Stderr.
var pluginLogger = sync.OnceValue(func() hclog.Logger {
	level := hclog.LevelFromString(os.Getenv(handshake.EnvLogLevel))
	if level == hclog.NoLevel {
		level = hclog.Info
	}
	// JSON on the process's original stderr: go-plugin on the host side parses
	// each line and logs it under the plugin's name at the line's level.
	return hclog.New(&hclog.LoggerOptions{Level: level, Output: os.Stderr, JSONFormat: true})
})

// Logger returns the plugin's logger: its lines reach the earshot daemon's log under
// the plugin's name, at their level. Use it instead of printing to stdout, which
// belongs to the plugin protocol.
func Logger() hclog.Logger { return pluginLogger() }

// pluginGCPercent is the GC target a plugin process runs with unless GOGC is set.
// A plugin's live Go heap is small (models live in C memory or are loaded once),
// while every audio frame allocates its request and reply, so at the default 100 the
// collector runs several times a second under load and its mark workers wake both
// processors each time. A higher target trades a few MB of heap for most of that.
const pluginGCPercent = 400

func serve(impl Plugin) {
	log := Logger()
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(pluginGCPercent)
	}
	sp, err := newServerPlugin(impl, log)
	if err != nil {
		log.Error("cannot serve plugin", "error", err)
		os.Exit(1)
	}
	if len(sp.versions) == 0 {
		// Without this the host would only see go-plugin's terse version error.
		log.Error("the plugin declares no API version this SDK implements",
			"plugin_api_versions", impl.Info().APIVersions, "sdk_api_versions", SupportedAPIVersions())
		os.Exit(1)
	}
	if hv := os.Getenv("PLUGIN_PROTOCOL_VERSIONS"); hv != "" && !overlaps(hv, sp.versions) {
		log.Error("no plugin API version in common with the earshot daemon",
			"plugin_api_versions", sp.versions, "daemon_api_versions", hv)
	}
	sets := make(map[int]plugin.PluginSet, len(sp.versions))
	for _, v := range sp.versions {
		sets[v] = plugin.PluginSet{string(sp.kind): sp}
	}
	cfg := &plugin.ServeConfig{
		HandshakeConfig:  handshake.Config(slices.Max(sp.versions)),
		VersionedPlugins: sets,
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			opts = append(opts, handshake.ServerOptions()...)
			return grpc.NewServer(opts...)
		},
		Logger: log.Named("go-plugin"),
	}
	if slices.Contains(os.Args[1:], "-debug") || slices.Contains(os.Args[1:], "--debug") {
		serveDebug(cfg, impl.Info().Name, log)
		return
	}
	plugin.Serve(cfg)
}

func overlaps(hostVersions string, ours []int) bool {
	for _, s := range strings.Split(hostVersions, ",") {
		if v, err := strconv.Atoi(strings.TrimSpace(s)); err == nil && slices.Contains(ours, v) {
			return true
		}
	}
	return false
}

// serveDebug runs the plugin in go-plugin's test mode: it listens without being
// launched by the daemon and prints the reattach configuration that the daemon
// accepts through EARSHOT_PLUGIN_REATTACH, so the plugin can run under a debugger.
func serveDebug(cfg *plugin.ServeConfig, name string, log hclog.Logger) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	reattachCh := make(chan *plugin.ReattachConfig, 1)
	closeCh := make(chan struct{})
	cfg.Test = &plugin.ServeTestConfig{Context: ctx, ReattachConfigCh: reattachCh, CloseCh: closeCh}
	go plugin.Serve(cfg)
	select {
	case rc := <-reattachCh:
		js, err := json.Marshal(map[string]handshake.Reattach{name: handshake.FromReattachConfig(rc)})
		if err != nil {
			log.Error("cannot encode the reattach configuration", "error", err)
			os.Exit(1)
		}
		// stdout is the user's terminal in debug mode; this is the one line they need.
		_, _ = io.WriteString(os.Stdout, "Plugin "+strconv.Quote(name)+" is serving in debug mode. Start earshot with:\n\n\t"+
			handshake.EnvReattach+"='"+string(js)+"'\n\nPress Ctrl-C to stop the plugin.\n")
	case <-closeCh:
		log.Error("the plugin stopped before it could serve")
		os.Exit(1)
	}
	<-closeCh
}
