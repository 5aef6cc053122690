package config

import (
	_ "embed"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

//go:embed default.hcl
var defaultSource []byte

// DefaultFilename is the name the embedded default configuration has in diagnostics.
const DefaultFilename = "default.hcl (embedded)"

// DefaultSource returns a copy of the embedded default configuration, for
// `earshot` to print as a starting point.
func DefaultSource() []byte { return append([]byte(nil), defaultSource...) }

// Loader loads configurations. The zero Loader reads the process environment.
type Loader struct {
	// LookupEnv resolves env() and the environment-derived defaults; nil means
	// os.LookupEnv. `earshot serve --dev` uses it to supply a generated JWT_SECRET
	// without changing the process environment.
	LookupEnv func(name string) (string, bool)
}

// Load reads, decodes and validates the configuration file at path.
func Load(path string) (*Config, hcl.Diagnostics) { return Loader{}.Load(path) }

// LoadDefault decodes and validates the embedded default configuration.
func LoadDefault() (*Config, hcl.Diagnostics) { return Loader{}.LoadDefault() }

// Parse decodes and validates configuration source; filename names it in
// diagnostics and its directory is the base of relative paths.
func Parse(src []byte, filename string) (*Config, hcl.Diagnostics) {
	return Loader{}.Parse(src, filename)
}

// Load reads, decodes and validates the configuration file at path.
//
// The returned Config is never nil, so that its Files can render the diagnostics;
// use it only when !diags.HasErrors(). Warnings do not stop loading.
func (l Loader) Load(path string) (*Config, hcl.Diagnostics) {
	src, err := os.ReadFile(path)
	if err != nil {
		c := l.newConfig(path, filepath.Dir(path))
		return c, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Cannot read configuration file",
			Detail:   fmt.Sprintf("The configuration file %s cannot be read: %v.", path, err),
		}}
	}
	return l.Parse(src, path)
}

// LoadDefault decodes and validates the embedded default configuration; relative
// paths in it resolve against the working directory.
func (l Loader) LoadDefault() (*Config, hcl.Diagnostics) {
	return l.parse(defaultSource, DefaultFilename, ".")
}

// Parse decodes and validates configuration source (see Load).
func (l Loader) Parse(src []byte, filename string) (*Config, hcl.Diagnostics) {
	return l.parse(src, filename, filepath.Dir(filename))
}

func (l Loader) newConfig(filename, dir string) *Config {
	lookup := l.LookupEnv
	if lookup == nil {
		lookup = os.LookupEnv
	}
	c := defaults(lookup)
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	c.Dir = dir
	c.Filename = filename
	c.files = map[string]*hcl.File{}
	return c
}

func (l Loader) parse(src []byte, filename, dir string) (*Config, hcl.Diagnostics) {
	c := l.newConfig(filename, dir)
	p := hclparse.NewParser()
	f, diags := p.ParseHCL(src, filename)
	c.files = p.Files()
	if diags.HasErrors() || f == nil {
		// A body with syntax errors decodes into confusing follow-up errors.
		return c, diags
	}
	d := &decoder{ctx: c.EvalContext(), c: c}
	d.root(f.Body)
	ExplainFunctionErrors(d.diags)
	diags = append(diags, d.diags...)
	diags = append(diags, c.Validate()...)
	sortDiagnostics(diags)
	return c, diags
}

// sortDiagnostics puts diagnostics in source order, so that users read them top to
// bottom and the output is the same on every run (HCL reports some from map walks).
func sortDiagnostics(diags hcl.Diagnostics) {
	slices.SortStableFunc(diags, func(a, b *hcl.Diagnostic) int {
		switch {
		case a.Subject == nil && b.Subject == nil:
			return 0
		case a.Subject == nil:
			return -1
		case b.Subject == nil:
			return 1
		}
		if c := strings.Compare(a.Subject.Filename, b.Subject.Filename); c != 0 {
			return c
		}
		return a.Subject.Start.Byte - b.Subject.Start.Byte
	})
}

// The bodies below give gohcl the fixed structure. Attributes stay expressions so
// that the decoder can convert durations and sizes itself and remember where each
// value came from for validation's diagnostics.

type rootBody struct {
	DefaultPipeline hcl.Expression  `hcl:"default_pipeline,optional"`
	PluginDirs      hcl.Expression  `hcl:"plugin_dirs,optional"`
	Server          *serverBody     `hcl:"server,block"`
	Auth            *authBody       `hcl:"auth,block"`
	Sessions        *sessionsBody   `hcl:"sessions,block"`
	WebRTC          *webrtcBody     `hcl:"webrtc,block"`
	Plugins         []*pluginBody   `hcl:"plugin,block"`
	Pipelines       []*pipelineBody `hcl:"pipeline,block"`
}

type serverBody struct {
	DefRange                 hcl.Range      `hcl:",def_range"`
	Listen                   hcl.Expression `hcl:"listen,optional"`
	AllowedOrigins           hcl.Expression `hcl:"allowed_origins,optional"`
	MaxMessageSize           hcl.Expression `hcl:"max_message_size,optional"`
	EventRate                hcl.Expression `hcl:"event_rate,optional"`
	EventBurst               hcl.Expression `hcl:"event_burst,optional"`
	OutboundQueue            hcl.Expression `hcl:"outbound_queue,optional"`
	PingInterval             hcl.Expression `hcl:"ping_interval,optional"`
	PongTimeout              hcl.Expression `hcl:"pong_timeout,optional"`
	AuthTimeout              hcl.Expression `hcl:"auth_timeout,optional"`
	MaxSessionsPerConnection hcl.Expression `hcl:"max_sessions_per_connection,optional"`
	AudioRateLimit           hcl.Expression `hcl:"audio_rate_limit,optional"`
	Demo                     hcl.Expression `hcl:"demo,optional"`
	LogFormat                hcl.Expression `hcl:"log_format,optional"`
	LogLevel                 hcl.Expression `hcl:"log_level,optional"`
	ShutdownTimeout          hcl.Expression `hcl:"shutdown_timeout,optional"`
	Metrics                  hcl.Expression `hcl:"metrics,optional"`
}

type authBody struct {
	DefRange      hcl.Range      `hcl:",def_range"`
	HMACSecret    hcl.Expression `hcl:"hmac_secret,optional"`
	PublicKeyFile hcl.Expression `hcl:"public_key_file,optional"`
	Algorithms    hcl.Expression `hcl:"algorithms,optional"`
	Leeway        hcl.Expression `hcl:"leeway,optional"`
	Issuer        hcl.Expression `hcl:"issuer,optional"`
	Audience      hcl.Expression `hcl:"audience,optional"`
	TokenTTL      hcl.Expression `hcl:"token_ttl,optional"`
	MaxTokenSize  hcl.Expression `hcl:"max_token_size,optional"`
}

type sessionsBody struct {
	DefRange        hcl.Range      `hcl:",def_range"`
	CleanupInterval hcl.Expression `hcl:"cleanup_interval,optional"`
	InactiveAfter   hcl.Expression `hcl:"inactive_after,optional"`
	MaxUsers        hcl.Expression `hcl:"max_users,optional"`
	MaxSessions     hcl.Expression `hcl:"max_sessions,optional"`
	MaxPerUser      hcl.Expression `hcl:"max_sessions_per_user,optional"`
	StatusRoles     hcl.Expression `hcl:"status_roles,optional"`
}

type webrtcBody struct {
	DefRange           hcl.Range        `hcl:",def_range"`
	Enabled            hcl.Expression   `hcl:"enabled,optional"`
	UDPPorts           hcl.Expression   `hcl:"udp_ports,optional"`
	ICEServers         hcl.Expression   `hcl:"ice_servers,optional"`
	ICEServerBlocks    []*iceServerBody `hcl:"ice_server,block"`
	PublicIPs          hcl.Expression   `hcl:"public_ips,optional"`
	IncludeLoopback    hcl.Expression   `hcl:"include_loopback,optional"`
	Interfaces         hcl.Expression   `hcl:"interfaces,optional"`
	MaxPeerConnections hcl.Expression   `hcl:"max_peer_connections,optional"`
}

type iceServerBody struct {
	DefRange   hcl.Range      `hcl:",def_range"`
	URLs       hcl.Expression `hcl:"urls"`
	Username   hcl.Expression `hcl:"username,optional"`
	Credential hcl.Expression `hcl:"credential,optional"`
}

type pluginBody struct {
	Name      string         `hcl:"name,label"`
	NameRange hcl.Range      `hcl:"name,label_range"`
	DefRange  hcl.Range      `hcl:",def_range"`
	Path      hcl.Expression `hcl:"path,optional"`
	Args      hcl.Expression `hcl:"args,optional"`
	Env       hcl.Expression `hcl:"env,optional"`
	SHA256    hcl.Expression `hcl:"sha256,optional"`
	Coalesce  hcl.Expression `hcl:"coalesce_window,optional"`
}

type pipelineBody struct {
	Name              string         `hcl:"name,label"`
	NameRange         hcl.Range      `hcl:"name,label_range"`
	DefRange          hcl.Range      `hcl:",def_range"`
	RelayAudio        hcl.Expression `hcl:"relay_audio,optional"`
	SuggestFrom       hcl.Expression `hcl:"suggest_from,optional"`
	SuggestTo         hcl.Expression `hcl:"suggest_to,optional"`
	StreamIdleTimeout hcl.Expression `hcl:"stream_idle_timeout,optional"`
	ReplayBuffer      hcl.Expression `hcl:"replay_buffer,optional"`
	OutputRate        hcl.Expression `hcl:"output_rate,optional"`
	Decoders          []*stageBody   `hcl:"decoder,block"`
	Transcribers      []*stageBody   `hcl:"transcriber,block"`
	Suggesters        []*stageBody   `hcl:"suggester,block"`
}

// stageBody keeps the stage's body for the plugin's own schema.
type stageBody struct {
	Plugin      string    `hcl:"plugin,label"`
	PluginRange hcl.Range `hcl:"plugin,label_range"`
	DefRange    hcl.Range `hcl:",def_range"`
	Body        hcl.Body  `hcl:",remain"`
}

// decoder turns the gohcl bodies into Config values, collecting diagnostics.
type decoder struct {
	ctx   *hcl.EvalContext
	c     *Config
	diags hcl.Diagnostics
}

func (d *decoder) root(body hcl.Body) {
	var r rootBody
	d.diags = append(d.diags, gohcl.DecodeBody(body, d.ctx, &r)...)
	c := d.c

	if v, ok := d.str("default_pipeline", r.DefaultPipeline); ok {
		c.DefaultPipeline = v
	}
	if v, ok := d.strings("plugin_dirs", r.PluginDirs); ok {
		c.PluginDirs = make([]string, len(v))
		for i, p := range v {
			c.PluginDirs[i] = resolvePath(c.Dir, p)
		}
	}
	if b := r.Server; b != nil {
		c.ranges["server"] = b.DefRange
		s := &c.Server
		d.setStr("server.listen", b.Listen, &s.Listen)
		if d.setStrings("server.allowed_origins", b.AllowedOrigins, &s.AllowedOrigins) {
			delete(c.fromEnv, "server.allowed_origins")
		}
		d.setSize("server.max_message_size", b.MaxMessageSize, &s.MaxMessageSize)
		d.setFloat("server.event_rate", b.EventRate, &s.EventRate)
		d.setInt("server.event_burst", b.EventBurst, &s.EventBurst)
		d.setSize("server.outbound_queue", b.OutboundQueue, &s.OutboundQueue)
		d.setDuration("server.ping_interval", b.PingInterval, &s.PingInterval)
		d.setDuration("server.pong_timeout", b.PongTimeout, &s.PongTimeout)
		d.setDuration("server.auth_timeout", b.AuthTimeout, &s.AuthTimeout)
		d.setInt("server.max_sessions_per_connection", b.MaxSessionsPerConnection, &s.MaxSessionsPerConnection)
		d.setSize("server.audio_rate_limit", b.AudioRateLimit, &s.AudioRateLimit)
		d.setBool("server.demo", b.Demo, &s.Demo)
		d.setStr("server.log_format", b.LogFormat, &s.LogFormat)
		d.setStr("server.log_level", b.LogLevel, &s.LogLevel)
		d.setDuration("server.shutdown_timeout", b.ShutdownTimeout, &s.ShutdownTimeout)
		d.setBool("server.metrics", b.Metrics, &s.Metrics)
	}
	if b := r.Auth; b != nil {
		c.ranges["auth"] = b.DefRange
		a := &c.Auth
		if d.setStr("auth.hmac_secret", b.HMACSecret, &a.HMACSecret) {
			delete(c.fromEnv, "auth.hmac_secret")
		}
		if v, ok := d.str("auth.public_key_file", b.PublicKeyFile); ok && v != "" {
			a.PublicKeyFile = resolvePath(c.Dir, v)
			key, err := readPublicKey(a.PublicKeyFile)
			if err != nil {
				d.invalid("auth.public_key_file", b.PublicKeyFile, "Invalid public key file",
					"%v. public_key_file must name a PEM file holding an RSA, ECDSA or Ed25519 public key (\"PUBLIC KEY\" or \"CERTIFICATE\"); a relative path is relative to the configuration file.", err)
			} else {
				a.PublicKey = key
			}
		}
		d.setStrings("auth.algorithms", b.Algorithms, &a.Algorithms)
		d.setDuration("auth.leeway", b.Leeway, &a.Leeway)
		d.setStr("auth.issuer", b.Issuer, &a.Issuer)
		d.setStr("auth.audience", b.Audience, &a.Audience)
		if d.setDuration("auth.token_ttl", b.TokenTTL, &a.TokenTTL) || d.c.failed["auth.token_ttl"] {
			delete(c.fromEnv, "auth.token_ttl")
			delete(c.envErrs, "auth.token_ttl")
		}
		d.setSize("auth.max_token_size", b.MaxTokenSize, &a.MaxTokenSize)
	}
	if b := r.Sessions; b != nil {
		c.ranges["sessions"] = b.DefRange
		s := &c.Sessions
		d.setDuration("sessions.cleanup_interval", b.CleanupInterval, &s.CleanupInterval)
		d.setDuration("sessions.inactive_after", b.InactiveAfter, &s.InactiveAfter)
		d.setInt("sessions.max_users", b.MaxUsers, &s.MaxUsers)
		d.setInt("sessions.max_sessions", b.MaxSessions, &s.MaxSessions)
		d.setInt("sessions.max_sessions_per_user", b.MaxPerUser, &s.MaxSessionsPerUser)
		d.setStrings("sessions.status_roles", b.StatusRoles, &s.StatusRoles)
	}
	if b := r.WebRTC; b != nil {
		d.webrtc(b)
	}

	for _, b := range r.Plugins {
		path := "plugin." + b.Name
		if prev, dup := c.Plugin(b.Name); dup {
			d.errorf(b.NameRange, "Duplicate plugin block",
				"A plugin named %q is already declared at %s; each plugin is declared once.", b.Name, prev.DeclRange)
			continue
		}
		c.ranges[path] = b.DefRange
		p := Plugin{Name: b.Name, DeclRange: b.DefRange}
		if v, ok := d.str(path+".path", b.Path); ok && v != "" {
			p.Path = resolvePath(c.Dir, v)
		}
		d.setStrings(path+".args", b.Args, &p.Args)
		d.setStrMap(path+".env", b.Env, &p.Env)
		d.setStr(path+".sha256", b.SHA256, &p.SHA256)
		var window time.Duration
		if d.setDuration(path+".coalesce_window", b.Coalesce, &window) {
			p.CoalesceWindow = &window
		}
		c.Plugins = append(c.Plugins, p)
	}

	for _, b := range r.Pipelines {
		if prev, dup := c.Pipeline(b.Name); dup {
			d.errorf(b.NameRange, "Duplicate pipeline block",
				"A pipeline named %q is already declared at %s; pipeline names must be unique.", b.Name, prev.DeclRange)
			continue
		}
		c.Pipelines = append(c.Pipelines, d.pipeline(b))
	}
}

func (d *decoder) webrtc(b *webrtcBody) {
	c := d.c
	c.ranges["webrtc"] = b.DefRange
	w := &c.WebRTC
	d.setBool("webrtc.enabled", b.Enabled, &w.Enabled)
	if v, ok := d.str("webrtc.udp_ports", b.UDPPorts); ok {
		lo, hi, err := parsePortRange(v)
		if err != nil {
			d.errorf(b.UDPPorts.Range(), "Invalid UDP port range",
				"udp_ports %q is not a port range: %v. Write \"FIRST-LAST\" with 1 <= FIRST <= LAST <= 65535, e.g. \"50000-50299\".", v, err)
			c.failed["webrtc.udp_ports"] = true
		} else {
			w.UDPPortMin, w.UDPPortMax = lo, hi
		}
	}
	if urls, ok := d.strings("webrtc.ice_servers", b.ICEServers); ok {
		d.elementRanges("webrtc.ice_servers", b.ICEServers, len(urls))
		for i, u := range urls {
			w.ICEServers = append(w.ICEServers, ICEServer{URLs: []string{u}, path: "webrtc.ice_servers", first: i})
		}
	}
	for i, ib := range b.ICEServerBlocks {
		path := fmt.Sprintf("webrtc.ice_server.%d", i)
		c.ranges[path] = ib.DefRange
		s := ICEServer{path: path + ".urls"}
		if d.setStrings(path+".urls", ib.URLs, &s.URLs) {
			d.elementRanges(path+".urls", ib.URLs, len(s.URLs))
		}
		d.setStr(path+".username", ib.Username, &s.Username)
		d.setStr(path+".credential", ib.Credential, &s.Credential)
		w.ICEServers = append(w.ICEServers, s)
	}
	d.setStrings("webrtc.public_ips", b.PublicIPs, &w.PublicIPs)
	d.setBool("webrtc.include_loopback", b.IncludeLoopback, &w.IncludeLoopback)
	d.setStrings("webrtc.interfaces", b.Interfaces, &w.Interfaces)
	d.setInt("webrtc.max_peer_connections", b.MaxPeerConnections, &w.MaxPeerConnections)
}

func (d *decoder) pipeline(b *pipelineBody) Pipeline {
	path := "pipeline." + b.Name
	d.c.ranges[path] = b.DefRange
	p := defaultPipeline(b.Name)
	p.DeclRange = b.DefRange
	d.setBool(path+".relay_audio", b.RelayAudio, &p.RelayAudio)
	d.setStrings(path+".suggest_from", b.SuggestFrom, &p.SuggestFrom)
	d.setStrings(path+".suggest_to", b.SuggestTo, &p.SuggestTo)
	d.setDuration(path+".stream_idle_timeout", b.StreamIdleTimeout, &p.StreamIdleTimeout)
	d.setDuration(path+".replay_buffer", b.ReplayBuffer, &p.ReplayBuffer)
	d.setInt(path+".output_rate", b.OutputRate, &p.OutputRate)

	// stage picks the one block of a kind; required kinds must be present.
	stage := func(kind string, blocks []*stageBody, required bool) *Stage {
		if len(blocks) == 0 {
			if required {
				d.errorf(b.DefRange, fmt.Sprintf("Missing %s block", kind),
					"Pipeline %q has no %s block. Every pipeline needs a decoder and a transcriber, e.g.\n  %s \"%s\" {}",
					b.Name, kind, kind, map[string]string{KindDecoder: "audio", KindTranscriber: "sphinx"}[kind])
			}
			return nil
		}
		for _, extra := range blocks[1:] {
			d.errorf(extra.DefRange, fmt.Sprintf("Duplicate %s block", kind),
				"Pipeline %q already has a %s block at %s; a pipeline has one %s.", b.Name, kind, blocks[0].DefRange, kind)
		}
		s := blocks[0]
		d.c.ranges[path+"."+kind] = s.DefRange
		return &Stage{Kind: kind, Plugin: s.Plugin, Body: s.Body, DefRange: s.DefRange, PluginRange: s.PluginRange}
	}
	if s := stage(KindDecoder, b.Decoders, true); s != nil {
		p.Decoder = *s
	}
	if s := stage(KindTranscriber, b.Transcribers, true); s != nil {
		p.Transcriber = *s
	}
	p.Suggester = stage(KindSuggester, b.Suggesters, false)
	return p
}

func (d *decoder) errorf(rng hcl.Range, summary, format string, args ...any) {
	d.diags = append(d.diags, &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  summary,
		Detail:   fmt.Sprintf(format, args...),
		Subject:  rng.Ptr(),
	})
}

// value evaluates expr and converts it to ty. ok is false when the attribute is
// absent or null (the default stays) or when a diagnostic was recorded. On success
// the attribute's range is remembered under path.
func (d *decoder) value(path string, expr hcl.Expression, ty cty.Type) (cty.Value, bool) {
	if expr == nil {
		return cty.NilVal, false
	}
	v, diags := expr.Value(d.ctx)
	d.diags = append(d.diags, diags...)
	if diags.HasErrors() {
		d.c.failed[path] = true
		return cty.NilVal, false
	}
	if v.IsNull() {
		return cty.NilVal, false
	}
	cv, err := convert.Convert(v, ty)
	if err == nil && !cv.IsWhollyKnown() {
		err = fmt.Errorf("value is not known")
	}
	if err == nil && (ty.IsListType() || ty.IsMapType()) {
		for it := cv.ElementIterator(); it.Next(); {
			if k, e := it.Element(); e.IsNull() {
				if k.Type() == cty.String {
					err = fmt.Errorf("the value of %q must not be null", k.AsString())
				} else {
					i, _ := k.AsBigFloat().Int64()
					err = fmt.Errorf("element %d must not be null", i)
				}
				break
			}
		}
	}
	if err != nil {
		d.diags = append(d.diags, &hcl.Diagnostic{
			Severity:    hcl.DiagError,
			Summary:     "Incorrect attribute value type",
			Detail:      fmt.Sprintf("Inappropriate value for attribute %q: %s.", attrName(path), err),
			Subject:     expr.Range().Ptr(),
			Expression:  expr,
			EvalContext: d.ctx,
		})
		d.c.failed[path] = true
		return cty.NilVal, false
	}
	d.c.ranges[path] = expr.Range()
	return cv, true
}

func attrName(path string) string { return path[lastDot(path)+1:] }

func lastDot(s string) int {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '.' {
			return i
		}
	}
	return -1
}

func (d *decoder) str(path string, expr hcl.Expression) (string, bool) {
	v, ok := d.value(path, expr, cty.String)
	if !ok {
		return "", false
	}
	return v.AsString(), true
}

func (d *decoder) strings(path string, expr hcl.Expression) ([]string, bool) {
	v, ok := d.value(path, expr, cty.List(cty.String))
	if !ok {
		return nil, false
	}
	out := make([]string, 0, v.LengthInt())
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		out = append(out, e.AsString())
	}
	return out, true
}

func (d *decoder) setStr(path string, expr hcl.Expression, dst *string) bool {
	v, ok := d.str(path, expr)
	if ok {
		*dst = v
	}
	return ok
}

// elementRanges remembers the range of each element of a list written out in the
// file ("path.0", "path.1", …), so that a diagnostic about one element points at
// its own line; a list computed by a function keeps the whole expression's range.
func (d *decoder) elementRanges(path string, expr hcl.Expression, n int) {
	elems, diags := hcl.ExprList(expr)
	if diags.HasErrors() || len(elems) != n {
		return
	}
	for i, e := range elems {
		d.c.ranges[fmt.Sprintf("%s.%d", path, i)] = e.Range()
	}
}

func (d *decoder) setStrings(path string, expr hcl.Expression, dst *[]string) bool {
	v, ok := d.strings(path, expr)
	if ok {
		*dst = v
	}
	return ok
}

func (d *decoder) setStrMap(path string, expr hcl.Expression, dst *map[string]string) {
	v, ok := d.value(path, expr, cty.Map(cty.String))
	if !ok {
		return
	}
	m := make(map[string]string, v.LengthInt())
	for it := v.ElementIterator(); it.Next(); {
		k, e := it.Element()
		m[k.AsString()] = e.AsString()
	}
	*dst = m
}

func (d *decoder) setBool(path string, expr hcl.Expression, dst *bool) {
	if v, ok := d.value(path, expr, cty.Bool); ok {
		*dst = v.True()
	}
}

func (d *decoder) setFloat(path string, expr hcl.Expression, dst *float64) {
	if v, ok := d.value(path, expr, cty.Number); ok {
		f, _ := v.AsBigFloat().Float64()
		*dst = f
	}
}

func (d *decoder) setInt(path string, expr hcl.Expression, dst *int) {
	v, ok := d.value(path, expr, cty.Number)
	if !ok {
		return
	}
	n, ok := wholeNumber(v.AsBigFloat())
	if !ok || int64(int(n)) != n {
		d.invalid(path, expr, "Invalid number", "%s must be a whole number, got %s.", attrName(path), v.AsBigFloat().Text('g', -1))
		return
	}
	*dst = int(n)
}

func wholeNumber(f *big.Float) (int64, bool) {
	if !f.IsInt() {
		return 0, false
	}
	n, acc := f.Int64()
	return n, acc == big.Exact
}

func (d *decoder) setDuration(path string, expr hcl.Expression, dst *time.Duration) bool {
	v, ok := d.value(path, expr, cty.String)
	if !ok {
		return false
	}
	dur, err := ParseDuration(v.AsString())
	if err != nil {
		d.invalid(path, expr, "Invalid duration",
			"%s: %v. A duration is a string of numbers with units ms, s, m, h or d, e.g. \"500ms\", \"5m\", \"7d\", \"1d12h\".", attrName(path), err)
		return false
	}
	*dst = dur
	return true
}

func (d *decoder) setSize(path string, expr hcl.Expression, dst *int64) {
	v, ok := d.value(path, expr, cty.DynamicPseudoType)
	if !ok {
		return
	}
	switch v.Type() {
	case cty.Number:
		n, ok := wholeNumber(v.AsBigFloat())
		if !ok {
			d.invalid(path, expr, "Invalid size", "%s must be a whole number of bytes, got %s.", attrName(path), v.AsBigFloat().Text('g', -1))
			return
		}
		*dst = n
	case cty.String:
		n, err := ParseSize(v.AsString())
		if err != nil {
			d.invalid(path, expr, "Invalid size",
				"%s: %v. A size is a number of bytes or a string such as \"64KiB\", \"1MiB\", \"512KB\".", attrName(path), err)
			return
		}
		*dst = n
	default:
		d.invalid(path, expr, "Incorrect attribute value type",
			"Inappropriate value for attribute %q: a size (string such as \"1MiB\" or a number of bytes) is required, got %s.", attrName(path), v.Type().FriendlyName())
	}
}

// invalid records a diagnostic for a value that decoded but does not parse.
func (d *decoder) invalid(path string, expr hcl.Expression, summary, format string, args ...any) {
	d.diags = append(d.diags, &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  summary,
		Detail:   fmt.Sprintf(format, args...),
		Subject:  expr.Range().Ptr(),
	})
	d.c.failed[path] = true
	delete(d.c.ranges, path)
}
