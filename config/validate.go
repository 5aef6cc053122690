package config

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/pion/stun/v4"
)

// nameRe is what plugin and pipeline names may look like: plugin names become file
// names (earshot-plugin-<name>) and pipeline names travel in session:join.
var nameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)

// Log formats and levels server.log_format and server.log_level accept.
var (
	LogFormats = []string{"text", "json"}
	LogLevels  = []string{"trace", "debug", "info", "warn", "error", "off"}
)

// MinOutboundQueue is the smallest server.outbound_queue: the gateway refuses to
// start with a queue that cannot hold one ordinary event.
const MinOutboundQueue = 1 << 10

// AuthFraming is what the message carrying a token adds to it (event name, JSON or
// Socket.IO framing): server.max_message_size must be at least
// auth.max_token_size + AuthFraming, and the pre-authentication frame limit is
// raised to that when 16 KiB is not enough.
const AuthFraming = 1 << 10

// MaxCoalesceWindow bounds a plugin block's coalesce_window: one 20 ms frame.
const MaxCoalesceWindow = 20 * time.Millisecond

// validator collects the semantic checks that run after decoding.
type validator struct {
	c     *Config
	diags hcl.Diagnostics
}

// Validate is the validation pass that loading runs after decoding; it skips
// attributes whose decoding already failed, so a mistake is reported once. Call it
// again after changing a loaded Config (the CLI's --listen, say); diagnostics about
// changed values point at where the file set them, or at the top of the file.
func (c *Config) Validate() hcl.Diagnostics {
	v := &validator{c: c}
	v.server()
	v.auth()
	v.sessions()
	v.webrtc()
	v.plugins()
	v.pipelines()
	return v.diags
}

// report adds a diagnostic about path unless decoding already reported it. When the
// value came from an environment variable the detail says so.
func (v *validator) report(sev hcl.DiagnosticSeverity, path, summary, format string, args ...any) {
	if v.c.failed[path] {
		return
	}
	detail := fmt.Sprintf(format, args...)
	if env, ok := v.c.fromEnv[path]; ok {
		detail += fmt.Sprintf(" The value comes from the %s environment variable.", env)
	}
	rng := v.c.Range(path)
	v.diags = append(v.diags, &hcl.Diagnostic{Severity: sev, Summary: summary, Detail: detail, Subject: &rng})
}

func (v *validator) errorf(path, summary, format string, args ...any) {
	v.report(hcl.DiagError, path, summary, format, args...)
}

func (v *validator) positiveDuration(path string, d time.Duration) {
	if d <= 0 {
		v.errorf(path, "Invalid duration", "%s must be greater than zero, got %s.", attrName(path), d)
	}
}

func (v *validator) nonNegativeDuration(path string, d time.Duration) {
	if d < 0 {
		v.errorf(path, "Invalid duration", "%s must not be negative, got %s.", attrName(path), d)
	}
}

func (v *validator) positiveSize(path string, n int64) {
	if n <= 0 {
		v.errorf(path, "Invalid size", "%s must be greater than zero, got %d.", attrName(path), n)
	}
}

func (v *validator) atLeast(path string, n, min int) {
	if n < min {
		v.errorf(path, "Value out of range", "%s must be at least %d, got %d.", attrName(path), min, n)
	}
}

func (v *validator) oneOf(path, got string, allowed []string) {
	if !slices.Contains(allowed, got) {
		v.errorf(path, "Invalid value", "%s must be one of %s, got %q.", attrName(path), quoteList(allowed), got)
	}
}

func (v *validator) roles(path string, roles []string) {
	for _, r := range roles {
		if !slices.Contains(Roles, r) {
			v.errorf(path, "Unknown role", "%s names the role %q; roles are %s.", attrName(path), r, quoteList(Roles))
		}
	}
}

func quoteList(xs []string) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = strconv.Quote(x)
	}
	return strings.Join(q, ", ")
}

func (v *validator) server() {
	s := v.c.Server
	if strings.TrimSpace(s.Listen) == "" {
		v.errorf("server.listen", "Empty listen address", "listen must be a HOST:PORT address such as %q.", DefaultListen)
	} else if err := CheckListenAddr(s.Listen); err != nil {
		v.errorf("server.listen", "Invalid listen address", "%v; write HOST:PORT, e.g. %q or \":8080\".", err, DefaultListen)
	}
	for _, o := range s.AllowedOrigins {
		if o == "*" {
			v.report(hcl.DiagWarning, "server.allowed_origins", "Any origin allowed",
				"allowed_origins contains \"*\": pages from any web site may open connections to earshot with a user's token. Fine for development; list your front-end origins in production.")
			continue
		}
		if err := checkOrigin(o); err != nil {
			v.errorf("server.allowed_origins", "Invalid allowed origin", "%q is not an origin: %v. Write SCHEME://HOST[:PORT] without a path, e.g. %q, or \"*\" to allow any origin.", o, err, DefaultFrontendURL)
		}
	}
	v.positiveSize("server.max_message_size", s.MaxMessageSize)
	if s.EventRate <= 0 {
		v.errorf("server.event_rate", "Value out of range", "event_rate must be greater than zero (events per second), got %g.", s.EventRate)
	}
	v.atLeast("server.event_burst", s.EventBurst, 1)
	if s.OutboundQueue < MinOutboundQueue {
		v.errorf("server.outbound_queue", "Invalid size",
			"outbound_queue must be at least %d bytes (\"1KiB\"), got %d: the gateway does not start with a queue too small for an ordinary event. The default is \"4MiB\".", MinOutboundQueue, s.OutboundQueue)
	}
	v.positiveDuration("server.ping_interval", s.PingInterval)
	v.positiveDuration("server.pong_timeout", s.PongTimeout)
	v.positiveDuration("server.auth_timeout", s.AuthTimeout)
	v.atLeast("server.max_sessions_per_connection", s.MaxSessionsPerConnection, 1)
	v.positiveSize("server.audio_rate_limit", s.AudioRateLimit)
	v.oneOf("server.log_format", s.LogFormat, LogFormats)
	v.oneOf("server.log_level", s.LogLevel, LogLevels)
	v.positiveDuration("server.shutdown_timeout", s.ShutdownTimeout)
}

// CheckListenAddr reports whether addr is a HOST:PORT listen address (HOST may be
// empty, PORT 0 to 65535). The CLI checks its --listen flag with it.
func CheckListenAddr(addr string) error {
	if strings.TrimSpace(addr) == "" {
		return errors.New("the listen address is empty")
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("listen address %q is not HOST:PORT (%v)", addr, err)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return fmt.Errorf("listen address %q has an invalid port %q (0 to 65535)", addr, port)
	}
	return nil
}

func checkOrigin(o string) error {
	if o == "*" {
		return nil
	}
	u, err := url.Parse(o)
	if err != nil {
		return errors.New("it does not parse as a URL")
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return errors.New("the scheme must be http or https")
	case u.Host == "":
		return errors.New("it has no host")
	case u.User != nil, u.Path != "" && u.Path != "/", u.RawQuery != "", u.Fragment != "":
		return errors.New("an origin has no user, path, query or fragment")
	}
	return nil
}

func (v *validator) auth() {
	a := v.c.Auth
	if len(a.Algorithms) == 0 {
		v.errorf("auth.algorithms", "No signing algorithm", "algorithms must name at least one JWT algorithm, e.g. [\"HS256\"].")
	}
	for _, alg := range a.Algorithms {
		switch {
		case strings.EqualFold(alg, "none"):
			v.errorf("auth.algorithms", "Algorithm \"none\" is not allowed", "Unsigned tokens (alg \"none\") would let anyone in. Use HS256, or RS256/ES256/EdDSA with public_key_file.")
		case !slices.Contains(Algorithms, alg):
			v.errorf("auth.algorithms", "Unknown algorithm", "%q is not a supported JWT algorithm; use one of %s.", alg, quoteList(Algorithms))
		}
	}
	if a.UsesHMAC() && !v.c.failed["auth.hmac_secret"] {
		path := "auth.hmac_secret"
		switch {
		case a.HMACSecret == "":
			v.errorf(path, "Missing JWT secret",
				"The HS* algorithms need a secret. Set the %s environment variable to a random string of at least %d bytes, for example: export %s=\"$(openssl rand -hex 32)\" (the configuration reads it with hmac_secret = env(%q)).",
				EnvJWTSecret, MinSecretLen, EnvJWTSecret, EnvJWTSecret)
		case len(a.HMACSecret) < MinSecretLen:
			v.errorf(path, "JWT secret too short",
				"The HMAC secret is %d bytes; at least %d are required. Set %s to a random string of at least %d bytes, for example: export %s=\"$(openssl rand -hex 32)\", and read it with hmac_secret = env(%q).",
				len(a.HMACSecret), MinSecretLen, EnvJWTSecret, MinSecretLen, EnvJWTSecret, EnvJWTSecret)
		}
	}
	if a.UsesPublicKey() && a.PublicKey == nil && !v.c.failed["auth.public_key_file"] {
		v.errorf("auth.algorithms", "Missing public key",
			"The asymmetric algorithms in %s need a public key to verify tokens; set public_key_file to a PEM file.", quoteList(a.Algorithms))
	}
	if a.PublicKey != nil {
		for _, alg := range a.Algorithms {
			if !isAsymmetric(alg) {
				continue
			}
			if !keyFits(alg, a.PublicKey) {
				v.errorf("auth.public_key_file", "Public key does not match algorithm",
					"Algorithm %s cannot verify with the %s key in %s.", alg, keyKind(a.PublicKey), a.PublicKeyFile)
			}
		}
		if !a.UsesPublicKey() {
			v.report(hcl.DiagWarning, "auth.public_key_file", "Unused public key",
				"public_key_file is set but algorithms has no RS*, PS*, ES* or EdDSA algorithm, so the key is never used.")
		}
	}
	v.nonNegativeDuration("auth.leeway", a.Leeway)
	if err, ok := v.c.envErrs["auth.token_ttl"]; ok {
		v.errorf("auth.token_ttl", "Invalid duration",
			"%s=%q: %v. Write a duration such as \"7d\", \"12h\" or \"30m\".", EnvJWTExpiresIn, v.envValue(EnvJWTExpiresIn), err)
	} else if a.TokenTTL <= 0 {
		v.errorf("auth.token_ttl", "Invalid duration",
			"token_ttl must be greater than zero, got %s: `earshot token` would mint tokens that have already expired. Set it, or %s (its default), to a duration such as \"7d\", \"12h\" or \"30m\".",
			a.TokenTTL, EnvJWTExpiresIn)
	}
	v.positiveSize("auth.max_token_size", a.MaxTokenSize)
	v.authFrame()
}

// authFrame checks that the message that carries the token fits in
// server.max_message_size: before authentication the server reads frames of at
// most min(max(16KiB, max_token_size+AuthFraming), max_message_size) bytes.
func (v *validator) authFrame() {
	msg, tok := v.c.Server.MaxMessageSize, v.c.Auth.MaxTokenSize
	if msg <= 0 || tok <= 0 || v.c.failed["server.max_message_size"] || v.c.failed["auth.max_token_size"] {
		return // reported already
	}
	if msg >= tok+AuthFraming {
		return
	}
	path := "server.max_message_size"
	if v.c.isSet("auth.max_token_size") && !v.c.isSet(path) {
		path = "auth.max_token_size"
	}
	v.errorf(path, "Message size too small for the token",
		"server.max_message_size (%d bytes) must be at least auth.max_token_size (%d bytes) plus %d bytes for the message that carries the token (%d bytes): otherwise a client with a token of the allowed size cannot authenticate. Raise max_message_size or lower max_token_size.",
		msg, tok, AuthFraming, tok+AuthFraming)
}

func (v *validator) envValue(name string) string {
	s, _ := v.c.lookupEnv(name)
	return s
}

func keyFits(alg string, key crypto.PublicKey) bool {
	switch key.(type) {
	case *rsa.PublicKey:
		return strings.HasPrefix(alg, "RS") || strings.HasPrefix(alg, "PS")
	case *ecdsa.PublicKey:
		return strings.HasPrefix(alg, "ES")
	case ed25519.PublicKey:
		return alg == "EdDSA"
	}
	return false
}

func keyKind(key crypto.PublicKey) string {
	switch key.(type) {
	case *rsa.PublicKey:
		return "RSA"
	case *ecdsa.PublicKey:
		return "ECDSA"
	case ed25519.PublicKey:
		return "Ed25519"
	}
	return fmt.Sprintf("%T", key)
}

// readPublicKey reads the first PEM public key or certificate in path.
func readPublicKey(path string) (crypto.PublicKey, error) {
	b, err := readSmallFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %v", path, err)
	}
	for rest := b; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			return nil, fmt.Errorf("%s holds no PEM public key", path)
		}
		var key crypto.PublicKey
		switch blk.Type {
		case "PUBLIC KEY":
			key, err = x509.ParsePKIXPublicKey(blk.Bytes)
		case "RSA PUBLIC KEY":
			key, err = x509.ParsePKCS1PublicKey(blk.Bytes)
		case "CERTIFICATE":
			var cert *x509.Certificate
			if cert, err = x509.ParseCertificate(blk.Bytes); err == nil {
				key = cert.PublicKey
			}
		default:
			if strings.Contains(blk.Type, "PRIVATE") {
				return nil, fmt.Errorf("%s holds a private key; give earshot the public key only", path)
			}
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %s block: %v", path, blk.Type, err)
		}
		if keyKind(key) != "RSA" && keyKind(key) != "ECDSA" && keyKind(key) != "Ed25519" {
			return nil, fmt.Errorf("%s: unsupported key type %s", path, keyKind(key))
		}
		return key, nil
	}
}

func (v *validator) sessions() {
	s := v.c.Sessions
	v.positiveDuration("sessions.cleanup_interval", s.CleanupInterval)
	v.positiveDuration("sessions.inactive_after", s.InactiveAfter)
	v.atLeast("sessions.max_users", s.MaxUsers, 1)
	v.atLeast("sessions.max_sessions", s.MaxSessions, 1)
	v.atLeast("sessions.max_sessions_per_user", s.MaxSessionsPerUser, 1)
	v.roles("sessions.status_roles", s.StatusRoles)
}

// parsePortRange parses "FIRST-LAST" (or a single port).
func parsePortRange(s string) (lo, hi uint16, err error) {
	a, b, ok := strings.Cut(strings.TrimSpace(s), "-")
	if !ok {
		b = a
	}
	pa, err := strconv.ParseUint(strings.TrimSpace(a), 10, 16)
	if err != nil || pa == 0 {
		return 0, 0, fmt.Errorf("%q is not a port between 1 and 65535", a)
	}
	pb, err := strconv.ParseUint(strings.TrimSpace(b), 10, 16)
	if err != nil || pb == 0 {
		return 0, 0, fmt.Errorf("%q is not a port between 1 and 65535", b)
	}
	if pa > pb {
		return 0, 0, fmt.Errorf("the first port %d is above the last %d", pa, pb)
	}
	return uint16(pa), uint16(pb), nil
}

func (v *validator) webrtc() {
	w := v.c.WebRTC
	for _, s := range w.ICEServers {
		path := s.path
		if len(s.URLs) == 0 {
			v.errorf(path, "Missing ICE server URL", "An ice_server block needs at least one URL in urls, e.g. [\"stun:stun.example.org:3478\"].")
		}
		for i, u := range s.URLs {
			upath := fmt.Sprintf("%s.%d", path, s.first+i)
			uri, err := parseICEURL(u)
			switch {
			case err != nil:
				why := " The WebRTC stack (pion) refuses such a URL, and with it every offer."
				if errors.Is(err, errICEPort) {
					why = ""
				}
				v.errorf(upath, "Invalid ICE server URL",
					"%q is not a valid STUN or TURN URL: %v. Write stun:HOST[:PORT] or turn:HOST[:PORT][?transport=udp|tcp] (stuns: and turns: likewise).%s", u, err, why)
			case (uri.Scheme == stun.SchemeTypeTURN || uri.Scheme == stun.SchemeTypeTURNS) && (s.Username == "" || s.Credential == ""):
				v.errorf(upath, "Missing TURN credentials", "TURN server %q needs a username and a credential; declare it in an ice_server block with urls, username and credential.", u)
			}
		}
	}
	for _, ip := range w.PublicIPs {
		if net.ParseIP(ip) == nil {
			v.errorf("webrtc.public_ips", "Invalid IP address", "%q in public_ips is not an IP address.", ip)
		}
	}
	for _, name := range w.Interfaces {
		if strings.TrimSpace(name) == "" {
			v.errorf("webrtc.interfaces", "Invalid interface name", "interfaces must not contain empty names.")
		}
	}
	v.atLeast("webrtc.max_peer_connections", w.MaxPeerConnections, 1)
	// Without a UDP mux pion binds a port of udp_ports for every local address of
	// every peer connection, and frees it when the connection closes: a range
	// smaller than max_peer_connections leaves the last peers without candidates.
	if ports := int(w.UDPPortMax) - int(w.UDPPortMin) + 1; w.Enabled && !v.c.failed["webrtc.udp_ports"] &&
		!v.c.failed["webrtc.max_peer_connections"] && w.MaxPeerConnections > ports {
		path := "webrtc.udp_ports"
		if v.c.isSet("webrtc.max_peer_connections") && !v.c.isSet(path) {
			path = "webrtc.max_peer_connections"
		}
		v.report(hcl.DiagWarning, path, "Too few UDP ports for the peer connections",
			"max_peer_connections is %d but udp_ports %d-%d has %d ports. Each WebRTC peer connection binds at least one port of the range for each local address (two on a host with IPv4 and IPv6), plus one for each STUN server, until it closes; once the range is used up new peer connections get no ICE candidates and their audio never arrives. Widen udp_ports to at least %d ports (and open them in the firewall), or lower max_peer_connections to %d.",
			w.MaxPeerConnections, w.UDPPortMin, w.UDPPortMax, ports, w.MaxPeerConnections, ports)
	}
}

// errICEPort is a port pion lets through although no server can listen on it.
var errICEPort = errors.New("not between 1 and 65535")

// parseICEURL parses a STUN or TURN URL the way pion does when it creates a peer
// connection, so that a URL it would refuse is reported at load time, with a
// reason a person can act on: pion drops the query of a URL that starts with
// "stun" (case-sensitively), then parses it with stun.ParseURI.
func parseICEURL(u string) (*stun.URI, error) {
	parsed := u
	if strings.HasPrefix(parsed, "stun") {
		parsed, _, _ = strings.Cut(parsed, "?")
	}
	uri, err := stun.ParseURI(parsed)
	if err == nil {
		if uri.Port < 1 || uri.Port > 65535 {
			return nil, fmt.Errorf("the port %d is %w", uri.Port, errICEPort)
		}
		return uri, nil
	}
	scheme, rest, _ := strings.Cut(u, ":")
	switch {
	case errors.Is(err, stun.ErrSchemeType):
		return nil, errors.New("the scheme must be stun, stuns, turn or turns")
	case strings.HasPrefix(rest, "//"):
		return nil, fmt.Errorf("there is no \"//\" after the scheme (%s:%s)", scheme, strings.TrimPrefix(rest, "//"))
	case errors.Is(err, stun.ErrSTUNQuery):
		return nil, errors.New("a STUN URL takes no query (?transport= is for TURN URLs)")
	case errors.Is(err, stun.ErrProtoType), errors.Is(err, stun.ErrInvalidQuery):
		return nil, errors.New("the only query a TURN URL takes is ?transport=udp or ?transport=tcp")
	case errors.Is(err, stun.ErrPort):
		return nil, errors.New("the port is not a number")
	case errors.Is(err, stun.ErrHost):
		return nil, errors.New("it has no host")
	case strings.Count(rest, ":") > 1 && !strings.HasPrefix(rest, "["):
		return nil, fmt.Errorf("an IPv6 address needs brackets, e.g. %s:[2001:db8::1]:3478", scheme)
	}
	return nil, err
}

func (v *validator) plugins() {
	for _, p := range v.c.Plugins {
		path := "plugin." + p.Name
		if !nameRe.MatchString(p.Name) {
			v.diags = append(v.diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid plugin name",
				Detail:   fmt.Sprintf("Plugin name %q must be 1 to 64 letters, digits, '-' or '_', starting with a letter or digit; the binary is earshot-plugin-<name>.", p.Name),
				Subject:  p.DeclRange.Ptr(),
			})
		}
		if p.SHA256 != "" {
			if b, err := hex.DecodeString(p.SHA256); err != nil || len(b) != 32 {
				v.errorf(path+".sha256", "Invalid SHA-256", "sha256 must be 64 hexadecimal digits (the output of sha256sum), got %q.", p.SHA256)
			}
		}
		if w := p.CoalesceWindow; w != nil && (*w < 0 || *w > MaxCoalesceWindow) {
			v.errorf(path+".coalesce_window", "Invalid coalesce window",
				"coalesce_window must be between 0s (off) and %v (a frame's period: a held frame must not wait past its stream's next one), got %v.", MaxCoalesceWindow, *w)
		}
		for k := range p.Env {
			if k == "" || strings.ContainsAny(k, "=\x00") {
				v.errorf(path+".env", "Invalid environment variable name", "%q cannot be an environment variable name.", k)
			}
		}
	}
}

func (v *validator) pipelines() {
	c := v.c
	for i := range c.Pipelines {
		p := &c.Pipelines[i]
		path := "pipeline." + p.Name
		if !nameRe.MatchString(p.Name) {
			v.diags = append(v.diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid pipeline name",
				Detail:   fmt.Sprintf("Pipeline name %q must be 1 to 64 letters, digits, '-' or '_', starting with a letter or digit.", p.Name),
				Subject:  p.DeclRange.Ptr(),
			})
		}
		v.roles(path+".suggest_from", p.SuggestFrom)
		v.roles(path+".suggest_to", p.SuggestTo)
		v.positiveDuration(path+".stream_idle_timeout", p.StreamIdleTimeout)
		v.nonNegativeDuration(path+".replay_buffer", p.ReplayBuffer)
		if p.OutputRate < 8000 || p.OutputRate > 192000 {
			v.errorf(path+".output_rate", "Value out of range", "output_rate is a sample rate in Hz between 8000 and 192000 (PocketSphinx wants 16000), got %d.", p.OutputRate)
		}
		for _, s := range p.Stages() {
			if s.Plugin == "" && s.Body == nil {
				continue // a missing required stage, already reported
			}
			if _, ok := c.Plugin(s.Plugin); !ok {
				v.diags = append(v.diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Undeclared plugin",
					Detail: fmt.Sprintf("The %s of pipeline %q uses plugin %q, which has no plugin block. Declare every plugin a pipeline uses, even with an empty block:\n  plugin %q {}",
						s.Kind, p.Name, s.Plugin, s.Plugin),
					Subject: s.PluginRange.Ptr(),
				})
			}
		}
	}

	switch {
	case c.DefaultPipeline != "":
		if _, ok := c.Pipeline(c.DefaultPipeline); !ok {
			v.errorf("default_pipeline", "Unknown default pipeline", "default_pipeline is %q, but no pipeline block has that name; pipelines: %s.", c.DefaultPipeline, quoteList(v.pipelineNames()))
		}
	case len(c.Pipelines) == 1:
		c.DefaultPipeline = c.Pipelines[0].Name
	case len(c.Pipelines) == 0:
		if !v.c.failed["default_pipeline"] {
			rng := c.Range("")
			v.diags = append(v.diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "No pipeline",
				Detail:   "The configuration declares no pipeline block; audio needs one. See docs/configuration.md for an example.",
				Subject:  &rng,
			})
		}
	default:
		if !v.c.failed["default_pipeline"] {
			rng := c.Range("")
			v.diags = append(v.diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Missing default_pipeline",
				Detail:   fmt.Sprintf("There are several pipelines (%s); set default_pipeline at the top level to the one sessions use when session:join names none.", quoteList(v.pipelineNames())),
				Subject:  &rng,
			})
		}
	}
}

func (v *validator) pipelineNames() []string {
	names := make([]string, len(v.c.Pipelines))
	for i, p := range v.c.Pipelines {
		names[i] = p.Name
	}
	return names
}
