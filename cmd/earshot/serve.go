package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/hcl/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/earshot-dev/earshot/config"
	"github.com/earshot-dev/earshot/examples/web"
	"github.com/earshot-dev/earshot/signaling"
	"github.com/earshot-dev/earshot/signaling/auth"
	"github.com/earshot-dev/earshot/signaling/protocol"
	"github.com/earshot-dev/earshot/signaling/webrtc"
)

type serveFlags struct {
	config, listen, logFormat, logLevel string
	dev                                 bool
}

func runServe(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", "serve [--config FILE] [--listen ADDR] [--dev]", stderr)
	var f serveFlags
	fs.StringVar(&f.config, "config", "", "HCL configuration file (default: the embedded default configuration)")
	fs.StringVar(&f.listen, "listen", "", "address to listen on, overriding the configuration (e.g. 127.0.0.1:8080)")
	fs.BoolVar(&f.dev, "dev", false, "development mode: generate a JWT secret when JWT_SECRET is unset, print a demo token, serve the demo page")
	fs.StringVar(&f.logFormat, "log-format", "", "text or json (default: the configuration's server.log_format)")
	fs.StringVar(&f.logLevel, "log-level", "", "trace, debug, info, warn or error (default: the configuration's server.log_level)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return &exitError{code: 2, err: fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}

	if f.listen != "" {
		if err := config.CheckListenAddr(f.listen); err != nil {
			return &exitError{code: 2, err: fmt.Errorf("--listen: %w", err)}
		}
	}
	loader := config.Loader{}
	generatedSecret := false
	if f.dev && os.Getenv(config.EnvJWTSecret) == "" {
		secret, err := randomSecret()
		if err != nil {
			return err
		}
		// env("JWT_SECRET") in the configuration sees the generated secret; the
		// process environment (and so the plugins') does not.
		loader.LookupEnv = func(name string) (string, bool) {
			if name == config.EnvJWTSecret {
				return secret, true
			}
			return os.LookupEnv(name)
		}
		generatedSecret = true
	}

	cfg, diags := loadConfigWith(loader, f.config)
	if diags.HasErrors() {
		_ = config.WriteDiagnostics(stderr, cfg.Files(), diags, 100, false)
		if os.Getenv(config.EnvJWTSecret) == "" {
			fmt.Fprintln(stderr, "earshot: set JWT_SECRET (at least 32 bytes), or run `earshot serve --dev` to try it with a generated secret")
		}
		return &exitError{code: 1}
	}
	if len(diags) > 0 {
		_ = config.WriteDiagnostics(stderr, cfg.Files(), diags, 100, false) // warnings
	}
	if f.listen != "" {
		cfg.Server.Listen = f.listen
	}
	if f.logFormat != "" {
		cfg.Server.LogFormat = f.logFormat
	}
	if f.logLevel != "" {
		cfg.Server.LogLevel = f.logLevel
	}
	if f.dev {
		cfg.Server.Demo = true
	}
	log, err := newLogger(cfg.Server.LogFormat, cfg.Server.LogLevel, stderr)
	if err != nil {
		return &exitError{code: 2, err: err}
	}

	validator, err := newValidator(cfg.Auth)
	if err != nil {
		return &exitError{code: 1, err: err}
	}
	ln, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		return &exitError{code: 1, err: fmt.Errorf("listen on %s: %w", cfg.Server.Listen, err)}
	}
	addr := ln.Addr().String()
	if f.dev {
		// The demo page is served from this address: let it open the WebSocket.
		cfg.Server.AllowedOrigins = append(cfg.Server.AllowedOrigins, devOrigins(addr)...)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	returned := make(chan struct{}) // closed when serve returns: the signal handler ends
	defer close(returned)
	go handleSignals(cancel, log, returned)

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// Ready once the pipelines are set up, and then while every plugin process is up
	// (not while one is being restarted).
	var ready atomic.Bool
	var stack atomic.Pointer[mediaStack]
	var peersRef atomic.Pointer[webrtc.Manager]
	isReady := func() bool {
		m := stack.Load()
		return ready.Load() && m != nil && m.host.Ready()
	}
	// drain runs when shutdown begins, while the connections are still open: the
	// WebRTC tracks' streams and then every other stream are drained, so the final
	// of each utterance in progress reaches its session before the 1001 close.
	drain := func(ctx context.Context) {
		ready.Store(false)
		done := make(chan struct{})
		go func() { // owned by serve: the deferred media.Close waits for the runtime
			defer close(done)
			if p := peersRef.Load(); p != nil {
				p.Shutdown()
			}
			if m := stack.Load(); m != nil {
				_ = m.runtime.Close()
			}
		}()
		select {
		case <-done:
		case <-ctx.Done():
		}
	}
	srv, err := signaling.NewServer(signaling.Options{
		Logger:              log,
		Auth:                validator,
		TokenLeeway:         cfg.Auth.Leeway,
		AllowedOrigins:      cfg.Server.AllowedOrigins,
		MaxMessageSize:      cfg.Server.MaxMessageSize,
		EventRate:           cfg.Server.EventRate,
		EventBurst:          cfg.Server.EventBurst,
		OutboundQueueBytes:  int(cfg.Server.OutboundQueue),
		PingInterval:        cfg.Server.PingInterval,
		PongTimeout:         cfg.Server.PongTimeout,
		AuthTimeout:         cfg.Server.AuthTimeout,
		MaxSessionsPerConn:  cfg.Server.MaxSessionsPerConnection,
		MaxUsersPerSession:  cfg.Sessions.MaxUsers,
		MaxSessions:         cfg.Sessions.MaxSessions,
		MaxSessionsPerUser:  cfg.Sessions.MaxSessionsPerUser,
		AudioBytesPerSecond: int(cfg.Server.AudioRateLimit),
		CleanupInterval:     cfg.Sessions.CleanupInterval,
		InactiveAfter:       cfg.Sessions.InactiveAfter,
		StatusRoles:         cfg.Sessions.StatusRoles,
		Ready:               isReady,
		Static:              web.Handler(cfg.Server.Demo),
		Metrics:             reg,
		NoMetrics:           !cfg.Server.Metrics,
		ShutdownTimeout:     cfg.Server.ShutdownTimeout,
		Drain:               drain,
		// Before authentication a frame only carries the token: 16 KiB, or more when
		// auth.max_token_size needs it (validation keeps MaxMessageSize above that).
		AuthMessageSize: max(16<<10, cfg.Auth.MaxTokenSize+config.AuthFraming),
	})
	if err != nil {
		ln.Close()
		return err
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()
	log.Info("listening", "addr", addr, "config", configName(f.config), "demo", cfg.Server.Demo)

	media, err := startMedia(ctx, cfg, log, srv, reg, stderr)
	if err != nil {
		cancel()
		<-served
		return err
	}
	defer media.Close()
	srv.SetMedia(media.media)
	stack.Store(media)

	var peers *webrtc.Manager
	if cfg.WebRTC.Enabled {
		peers, err = newPeers(cfg.WebRTC, log, media)
		if err != nil {
			cancel()
			<-served
			return &exitError{code: 1, err: err}
		}
		defer peers.Shutdown()
		peersRef.Store(peers)
		srv.SetPeers(peerAdapter{peers})
	}
	ready.Store(true)
	log.Info("ready", "pipelines", len(cfg.Pipelines), "default_pipeline", cfg.DefaultPipeline, "webrtc", cfg.WebRTC.Enabled)
	if f.dev {
		printDevHelp(stdout, addr, cfg.Auth, generatedSecret)
	}

	err = <-served
	ready.Store(false)
	if peers != nil {
		peers.Shutdown()
	}
	log.Info("stopped")
	if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

func loadConfig(path string) (*config.Config, hcl.Diagnostics) {
	return loadConfigWith(config.Loader{}, path)
}

func loadConfigWith(l config.Loader, path string) (*config.Config, hcl.Diagnostics) {
	if path == "" {
		return l.LoadDefault()
	}
	return l.Load(path)
}

func configName(path string) string {
	if path == "" {
		return "(embedded default)"
	}
	return path
}

func randomSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate a secret: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// handleSignals cancels on the first SIGINT/SIGTERM and forces exit on the second,
// until done is closed.
func handleSignals(cancel context.CancelFunc, log hclog.Logger, done <-chan struct{}) {
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sig)
	select {
	case s := <-sig:
		log.Info("shutting down; send the signal again to force", "signal", s.String())
		cancel()
	case <-done:
		return
	}
	select {
	case <-sig:
		log.Warn("forced exit")
		os.Exit(1)
	case <-done:
	}
}

func newLogger(format, level string, w io.Writer) (hclog.Logger, error) {
	lvl := hclog.LevelFromString(level)
	if level == "" {
		lvl = hclog.Info
	}
	if lvl == hclog.NoLevel {
		return nil, fmt.Errorf("unknown log level %q (want trace, debug, info, warn or error)", level)
	}
	var jsonFormat bool
	switch format {
	case "", "text":
	case "json":
		jsonFormat = true
	default:
		return nil, fmt.Errorf("unknown log format %q (want text or json)", format)
	}
	return hclog.New(&hclog.LoggerOptions{
		Name:            "earshot",
		Level:           lvl,
		Output:          w,
		JSONFormat:      jsonFormat,
		IncludeLocation: false,
		TimeFormat:      time.RFC3339Nano,
	}), nil
}

func newValidator(a config.Auth) (*auth.Validator, error) {
	c := auth.Config{
		Algorithms:   a.Algorithms,
		Leeway:       a.Leeway,
		Issuer:       a.Issuer,
		Audience:     a.Audience,
		MaxTokenSize: int(a.MaxTokenSize),
	}
	if a.HMACSecret != "" {
		c.HMACSecret = []byte(a.HMACSecret)
	}
	if a.PublicKey != nil {
		c.PublicKeys = append(c.PublicKeys, a.PublicKey)
	}
	v, err := auth.NewValidator(c)
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	return v, nil
}

// devOrigins are the origins the demo page is served from in --dev mode.
func devOrigins(addr string) []string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil
	}
	out := []string{"http://" + net.JoinHostPort(host, port)}
	if ip := net.ParseIP(host); ip != nil && (ip.IsLoopback() || ip.IsUnspecified()) {
		out = append(out, "http://localhost:"+port, "http://127.0.0.1:"+port)
	}
	return out
}

// printDevHelp prints demo tokens and what to do with them.
// The tokens satisfy the configuration's auth block (algorithm, issuer, audience).
func printDevHelp(w io.Writer, addr string, a config.Auth, generated bool) {
	secret := []byte(a.HMACSecret)
	alg := auth.HMACAlgorithm(a.Algorithms)
	if len(secret) == 0 || alg == "" {
		fmt.Fprintln(w, "earshot: no HMAC secret or HS* algorithm configured: mint tokens with your own key")
		return
	}
	ttl := a.TokenTTL
	if ttl <= 0 {
		ttl = 24 * time.Hour
	}
	o := auth.MintOptions{Algorithm: alg, Issuer: a.Issuer, Audience: a.Audience}
	interviewer, err1 := auth.MintWith(secret, auth.Claims{Subject: "demo-interviewer", Name: "Demo Interviewer", Role: protocol.RoleInterviewer}, ttl, o)
	candidate, err2 := auth.MintWith(secret, auth.Claims{Subject: "demo-candidate", Name: "Demo Candidate", Role: protocol.RoleCandidate}, ttl, o)
	if err := errors.Join(err1, err2); err != nil {
		fmt.Fprintln(w, "earshot: cannot mint demo tokens:", err)
		return
	}
	host, port, _ := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	base := "http://" + net.JoinHostPort(host, port)
	var b strings.Builder
	fmt.Fprintln(&b, "")
	fmt.Fprintln(&b, "earshot is running in dev mode.")
	if generated {
		fmt.Fprintln(&b, "  JWT_SECRET was not set: a random secret was generated for this process only.")
	}
	fmt.Fprintf(&b, "  Demo page (interviewer):  %s/#token=%s\n", base, url.QueryEscape(interviewer))
	fmt.Fprintf(&b, "  Demo page (candidate):    %s/#token=%s\n", base, url.QueryEscape(candidate))
	fmt.Fprintf(&b, "  Interviewer token: %s\n", interviewer)
	fmt.Fprintf(&b, "  Candidate token:   %s\n", candidate)
	fmt.Fprintln(&b, "  Stream a recording as the interviewer, seeing the candidate's suggestions:")
	fmt.Fprintf(&b, "    bin/earshot stream --url ws://%s/interview --token %s --listen-token %s --session demo speech.wav\n", net.JoinHostPort(host, port), interviewer, candidate)
	fmt.Fprintln(&b, "")
	_, _ = io.WriteString(w, b.String())
}
