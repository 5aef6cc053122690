package config

import (
	"crypto"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/earshot-dev/earshot/signaling/protocol"
)

// Environment variables from the seed gateway; they keep their meaning.
const (
	// EnvFrontendURL is the browser origin allowed by default (server.allowed_origins).
	EnvFrontendURL = "FRONTEND_URL"
	// EnvJWTSecret is the HMAC secret tokens are signed with (auth.hmac_secret).
	EnvJWTSecret = "JWT_SECRET"
	// EnvJWTExpiresIn is the lifetime of minted tokens (auth.token_ttl).
	EnvJWTExpiresIn = "JWT_EXPIRES_IN"
)

// Defaults the CLI also needs outside a loaded configuration.
const (
	// MinSecretLen is the shortest HMAC secret accepted, in bytes (RFC 7518 §3.2 asks
	// for a key at least as long as the HS256 hash output).
	MinSecretLen = 32
	// DefaultFrontendURL is the allowed origin when FRONTEND_URL is unset.
	DefaultFrontendURL = "http://localhost:3000"
	// DefaultTokenTTL is the token lifetime when JWT_EXPIRES_IN is unset.
	DefaultTokenTTL = 7 * Day
	// DefaultListen is the server's default listen address.
	DefaultListen = "127.0.0.1:8080"
)

// Roles a token may carry, as signaling/protocol defines them; role lists in the
// configuration must use these.
var Roles = []string{protocol.RoleInterviewer, protocol.RoleCandidate, protocol.RoleObserver, protocol.RoleAdmin}

// Algorithms lists the JWT signing algorithms auth.algorithms accepts. "none" is
// never accepted.
var Algorithms = []string{
	"HS256", "HS384", "HS512",
	"RS256", "RS384", "RS512",
	"PS256", "PS384", "PS512",
	"ES256", "ES384", "ES512",
	"EdDSA",
}

// Config is a loaded earshot configuration with defaults applied and validated.
// Durations and sizes are already parsed; relative paths are resolved against Dir.
type Config struct {
	Server   Server
	Auth     Auth
	Sessions Sessions
	WebRTC   WebRTC
	// Plugins are the declared plugin blocks, in file order.
	Plugins []Plugin
	// PluginDirs are the directories searched for earshot-plugin-<name> binaries,
	// absolute; empty means the host's default (next to the earshot binary).
	PluginDirs []string
	// Pipelines are the pipeline blocks, in file order.
	Pipelines []Pipeline
	// DefaultPipeline names the pipeline sessions use when session:join names none.
	DefaultPipeline string
	// Dir is the directory of the configuration file (the working directory for the
	// embedded default); file() and relative paths resolve against it.
	Dir string
	// Filename is the configuration's file name as it appears in diagnostics.
	Filename string

	lookupEnv func(string) (string, bool)
	files     map[string]*hcl.File
	// ranges holds the value range of every attribute the file sets, by path
	// ("server.listen", "pipeline.interview.output_rate"), and the definition range
	// of every block by its path ("server", "pipeline.interview").
	ranges map[string]hcl.Range
	// failed marks attribute paths whose decoding already produced a diagnostic, so
	// that validation does not pile a second one on top.
	failed map[string]bool
	// fromEnv names the environment variable a default value came from, by path.
	fromEnv map[string]string
	// envErrs are environment-derived defaults that did not parse, by path.
	envErrs map[string]error
}

// Server configures the HTTP listener and the per-connection limits of the gateway.
type Server struct {
	Listen         string
	AllowedOrigins []string
	// MaxMessageSize bounds one inbound WebSocket message, in bytes.
	MaxMessageSize int64
	// EventRate and EventBurst are the per-connection token bucket for inbound events
	// (events per second, bucket size).
	EventRate  float64
	EventBurst int
	// OutboundQueue bounds the bytes queued to one connection before it is dropped as
	// a slow consumer.
	OutboundQueue            int64
	PingInterval             time.Duration
	PongTimeout              time.Duration
	AuthTimeout              time.Duration
	MaxSessionsPerConnection int
	// AudioRateLimit bounds the audio bytes per second of one stream.
	AudioRateLimit  int64
	Demo            bool
	LogFormat       string
	LogLevel        string
	ShutdownTimeout time.Duration
	Metrics         bool
}

// Auth configures JWT verification. Its String and GoString redact the secret.
type Auth struct {
	// HMACSecret verifies HS256/HS384/HS512 tokens. Never log it.
	HMACSecret string
	// PublicKeyFile is the absolute path of the PEM public key for RS*/PS*/ES*/EdDSA,
	// or "" when none is configured; PublicKey is that key, parsed.
	PublicKeyFile string
	PublicKey     crypto.PublicKey
	Algorithms    []string
	Leeway        time.Duration
	Issuer        string
	Audience      string
	// TokenTTL is the lifetime of the tokens `earshot token` mints.
	TokenTTL     time.Duration
	MaxTokenSize int64
}

// UsesHMAC reports whether any HS* algorithm is accepted.
func (a Auth) UsesHMAC() bool {
	return slices.ContainsFunc(a.Algorithms, isHMAC)
}

// UsesPublicKey reports whether any asymmetric algorithm (RS*, PS*, ES*, EdDSA) is
// accepted.
func (a Auth) UsesPublicKey() bool {
	return slices.ContainsFunc(a.Algorithms, isAsymmetric)
}

func isHMAC(alg string) bool { return slices.Contains(Algorithms, alg) && strings.HasPrefix(alg, "HS") }

func isAsymmetric(alg string) bool {
	return slices.Contains(Algorithms, alg) && !strings.HasPrefix(alg, "HS")
}

// String renders Auth with the secret redacted, so that it can never leak into logs.
func (a Auth) String() string {
	return fmt.Sprintf("{HMACSecret:%s PublicKeyFile:%q Algorithms:%v Leeway:%s Issuer:%q Audience:%q TokenTTL:%s MaxTokenSize:%d}",
		redact(a.HMACSecret), a.PublicKeyFile, a.Algorithms, a.Leeway, a.Issuer, a.Audience, a.TokenTTL, a.MaxTokenSize)
}

// GoString is String for %#v.
func (a Auth) GoString() string { return "config.Auth" + a.String() }

// Format makes every verb (%v, %+v, %s, %#v, %q) go through the redacting String.
func (a Auth) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		fmt.Fprint(f, a.GoString())
		return
	}
	fmt.Fprint(f, a.String())
}

func redact(s string) string {
	if s == "" {
		return `""`
	}
	return fmt.Sprintf("[redacted %d bytes]", len(s))
}

// Sessions configures session (room) housekeeping.
type Sessions struct {
	CleanupInterval time.Duration
	InactiveAfter   time.Duration
	MaxUsers        int
	// MaxSessions bounds the sessions a node holds, empty ones awaiting removal included.
	MaxSessions int
	// MaxSessionsPerUser bounds the sessions one user created that the node still
	// holds, empty ones included, so one user's join/leave churn cannot use up MaxSessions.
	MaxSessionsPerUser int
	// StatusRoles are the roles allowed to change a session's status.
	StatusRoles []string
}

// WebRTC configures the pion peer connections.
type WebRTC struct {
	Enabled bool
	// UDPPortMin and UDPPortMax bound the ICE UDP ports (inclusive).
	UDPPortMin, UDPPortMax uint16
	ICEServers             []ICEServer
	PublicIPs              []string
	IncludeLoopback        bool
	Interfaces             []string
	MaxPeerConnections     int
}

// ICEServer is a STUN or TURN server offered to peers.
type ICEServer struct {
	URLs       []string
	Username   string
	Credential string

	// path is where URLs is declared, for diagnostics; URL i is element first+i of
	// that list (ice_servers entries become one ICEServer each).
	path  string
	first int
}

// String renders the server with the credential redacted.
func (s ICEServer) String() string {
	return fmt.Sprintf("{URLs:%v Username:%q Credential:%s}", s.URLs, s.Username, redact(s.Credential))
}

// GoString is String for %#v.
func (s ICEServer) GoString() string { return "config.ICEServer" + s.String() }

// Format makes every verb go through the redacting String.
func (s ICEServer) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		fmt.Fprint(f, s.GoString())
		return
	}
	fmt.Fprint(f, s.String())
}

// Plugin is a plugin "<name>" block: how to find and start earshot-plugin-<name>.
type Plugin struct {
	Name string
	// Path is the plugin binary's absolute path, or "" to search PluginDirs.
	Path string
	Args []string
	// Env is added to the plugin process's environment. It may hold API keys: String
	// prints its names only.
	Env map[string]string
	// SHA256 pins the binary (lower-case hex), or "".
	SHA256 string
	// CoalesceWindow is the longest an audio frame of a real-time stream is held
	// on a busy connection to this plugin so that many streams' frames travel
	// together; nil: the host's default (8ms); 0: off.
	CoalesceWindow *time.Duration
	DeclRange      hcl.Range
}

// String renders the plugin with environment values hidden.
func (p Plugin) String() string {
	keys := make([]string, 0, len(p.Env))
	for k := range p.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return fmt.Sprintf("{Name:%s Path:%q Args:%q EnvKeys:%v SHA256:%q}", p.Name, p.Path, p.Args, keys, p.SHA256)
}

// GoString is String for %#v.
func (p Plugin) GoString() string { return "config.Plugin" + p.String() }

// Format makes every verb go through String, which hides environment values.
func (p Plugin) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		fmt.Fprint(f, p.GoString())
		return
	}
	fmt.Fprint(f, p.String())
}

// Pipeline is a pipeline "<name>" block.
type Pipeline struct {
	Name string
	// RelayAudio forwards received audio to the other session members (audio:received).
	RelayAudio bool
	// SuggestFrom are the roles whose finals feed the suggester; SuggestTo the roles
	// that receive suggestions.
	SuggestFrom, SuggestTo []string
	// StreamIdleTimeout closes a stream that received no audio for that long.
	StreamIdleTimeout time.Duration
	// ReplayBuffer is how much audio since the last final is kept to replay into a
	// restarted transcriber.
	ReplayBuffer time.Duration
	// OutputRate is the sample rate (Hz) the decoder produces for the transcriber.
	OutputRate  int
	Decoder     Stage
	Transcriber Stage
	// Suggester is nil when the pipeline has no suggester.
	Suggester *Stage
	DeclRange hcl.Range
}

// Stage kinds.
const (
	KindDecoder     = "decoder"
	KindTranscriber = "transcriber"
	KindSuggester   = "suggester"
)

// Stage is one stage block of a pipeline. Body is left undecoded: the plugin host
// decodes it against the plugin's own schema, with Config.EvalContext.
type Stage struct {
	Kind     string
	Plugin   string
	Body     hcl.Body
	DefRange hcl.Range
	// PluginRange is the range of the plugin name label, for diagnostics about it.
	PluginRange hcl.Range
}

// Stages returns the pipeline's stages in data-flow order.
func (p *Pipeline) Stages() []Stage {
	s := []Stage{p.Decoder, p.Transcriber}
	if p.Suggester != nil {
		s = append(s, *p.Suggester)
	}
	return s
}

// Pipeline returns the pipeline named name.
func (c *Config) Pipeline(name string) (*Pipeline, bool) {
	for i := range c.Pipelines {
		if c.Pipelines[i].Name == name {
			return &c.Pipelines[i], true
		}
	}
	return nil, false
}

// Plugin returns the plugin block named name.
func (c *Config) Plugin(name string) (*Plugin, bool) {
	for i := range c.Plugins {
		if c.Plugins[i].Name == name {
			return &c.Plugins[i], true
		}
	}
	return nil, false
}

// Files returns the parsed source files by name, for rendering diagnostics.
func (c *Config) Files() map[string]*hcl.File { return c.files }

// Range returns where path is set in the configuration: the attribute's value
// ("server.listen", "pipeline.interview.output_rate"), else its block ("server",
// "pipeline.interview"), else the start of the file. Callers use it to point
// diagnostics of their own (a listen address that cannot be bound, say) at the source.
func (c *Config) Range(path string) hcl.Range {
	for p := path; p != ""; {
		if r, ok := c.ranges[p]; ok {
			return r
		}
		i := strings.LastIndexByte(p, '.')
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return hcl.Range{Filename: c.Filename, Start: hcl.InitialPos, End: hcl.InitialPos}
}

// isSet reports whether the file sets the attribute at path.
func (c *Config) isSet(path string) bool {
	_, ok := c.ranges[path]
	return ok
}
