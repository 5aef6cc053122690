package config

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// testSecret is long enough for HS256.
const testSecret = "test-secret-0123456789abcdef0123456789"

// testLoader resolves env() from a fixed map instead of the process environment, so
// the tests do not depend on the machine they run on.
func testLoader(env map[string]string) Loader {
	return Loader{LookupEnv: func(name string) (string, bool) {
		v, ok := env[name]
		return v, ok
	}}
}

var testEnv = map[string]string{
	EnvJWTSecret:          testSecret,
	"EARSHOT_TEST_ORIGIN": "https://origin.example.org",
}

// want is one expected diagnostic: its summary and the line its Subject starts on.
type want struct {
	line    int
	summary string
}

func (w want) String() string { return fmt.Sprintf("line %d: %s", w.line, w.summary) }

// wantsIn reads the "# want: SUMMARY" comments of an invalid file: each names a
// diagnostic expected on the line it is written on; "; want: …" adds another.
func wantsIn(t *testing.T, src []byte) []want {
	t.Helper()
	var ws []want
	for i, line := range strings.Split(string(src), "\n") {
		_, comment, ok := strings.Cut(line, "# want: ")
		if !ok {
			continue
		}
		for _, s := range strings.Split(comment, "; want: ") {
			ws = append(ws, want{line: i + 1, summary: strings.TrimSpace(s)})
		}
	}
	return ws
}

func gotOf(t *testing.T, diags hcl.Diagnostics) []want {
	t.Helper()
	var got []want
	for _, d := range diags {
		if d.Subject == nil {
			t.Errorf("diagnostic %q (%s) has no source range", d.Summary, d.Detail)
			continue
		}
		got = append(got, want{line: d.Subject.Start.Line, summary: d.Summary})
	}
	return got
}

func sortWants(ws []want) {
	slices.SortFunc(ws, func(a, b want) int {
		if a.line != b.line {
			return a.line - b.line
		}
		return strings.Compare(a.summary, b.summary)
	})
}

func TestValidFiles(t *testing.T) {
	files, _ := filepath.Glob("testdata/valid/*.hcl")
	if len(files) == 0 {
		t.Fatal("no testdata/valid/*.hcl")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			c, diags := testLoader(testEnv).Load(f)
			if len(diags) > 0 {
				var buf bytes.Buffer
				_ = WriteDiagnostics(&buf, c.Files(), diags, 0, false)
				t.Fatalf("want no diagnostics, got:\n%s", buf.String())
			}
			if c.DefaultPipeline == "" {
				t.Error("no default pipeline")
			}
			for _, p := range c.Pipelines {
				for _, s := range p.Stages() {
					if s.Body == nil || s.Plugin == "" {
						t.Errorf("pipeline %s: stage %s has no plugin or body", p.Name, s.Kind)
					}
				}
			}
		})
	}
}

func TestInvalidFiles(t *testing.T) {
	files, _ := filepath.Glob("testdata/invalid/*.hcl")
	if len(files) == 0 {
		t.Fatal("no testdata/invalid/*.hcl")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			wants := wantsIn(t, src)
			if len(wants) == 0 {
				t.Fatal("the file has no # want: comments")
			}
			c, diags := testLoader(testEnv).Load(f)
			if !diags.HasErrors() {
				t.Fatal("want errors, got none")
			}
			if c == nil || c.Files()[f] == nil {
				t.Fatal("Load must return a Config with the parsed file even on errors")
			}
			got := gotOf(t, diags)
			sortWants(got)
			sortWants(wants)
			if !slices.Equal(got, wants) {
				var buf bytes.Buffer
				_ = WriteDiagnostics(&buf, c.Files(), diags, 0, false)
				t.Errorf("diagnostics differ\n got: %v\nwant: %v\n\n%s", got, wants, buf.String())
			}
		})
	}
}

// TestDiagnosticsGolden pins the rendered text users see for every invalid file.
func TestDiagnosticsGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/invalid/*.hcl")
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	for _, f := range files {
		c, diags := testLoader(testEnv).Load(f)
		// Absolute paths in details (file(), public keys) differ per checkout: replace
		// them before rendering, so that line wrapping does not depend on the path.
		for _, d := range diags {
			d.Summary = strings.ReplaceAll(d.Summary, wd, "$CONFIG_DIR")
			d.Detail = strings.ReplaceAll(d.Detail, wd, "$CONFIG_DIR")
		}
		fmt.Fprintf(&out, "=== %s\n", filepath.ToSlash(f))
		if err := WriteDiagnostics(&out, c.Files(), diags, 100, false); err != nil {
			t.Fatal(err)
		}
	}
	got := out.String()
	golden := filepath.Join("testdata", "diagnostics.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	wantText, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./config -run Golden -update)", err)
	}
	if got != string(wantText) {
		t.Errorf("rendered diagnostics differ from %s (run with -update after checking):\n%s", golden, got)
	}
}

func TestFullFile(t *testing.T) {
	c, diags := testLoader(testEnv).Load("testdata/valid/full.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	dir, _ := filepath.Abs("testdata/valid")
	s := c.Server
	checks := []struct {
		name      string
		got, want any
	}{
		{"listen", s.Listen, "0.0.0.0:9090"},
		{"origins", s.AllowedOrigins, []string{"https://app.example.org", "http://localhost:5173"}},
		{"max_message_size", s.MaxMessageSize, int64(2 << 20)},
		{"event_rate", s.EventRate, 12.5},
		{"event_burst", s.EventBurst, 20},
		{"outbound_queue", s.OutboundQueue, int64(8388608)},
		{"ping_interval", s.PingInterval, 15 * time.Second},
		{"pong_timeout", s.PongTimeout, 10 * time.Second},
		{"auth_timeout", s.AuthTimeout, 5 * time.Second},
		{"max_sessions_per_connection", s.MaxSessionsPerConnection, 2},
		{"audio_rate_limit", s.AudioRateLimit, int64(512000)},
		{"demo", s.Demo, true},
		{"log_format", s.LogFormat, "json"},
		{"log_level", s.LogLevel, "debug"},
		{"shutdown_timeout", s.ShutdownTimeout, 90 * time.Second},
		{"metrics", s.Metrics, false},
		{"hmac_secret", c.Auth.HMACSecret, "0123456789abcdef0123456789abcdef-full"},
		{"algorithms", c.Auth.Algorithms, []string{"HS256", "HS512"}},
		{"leeway", c.Auth.Leeway, time.Duration(0)},
		{"issuer", c.Auth.Issuer, "https://issuer.example.org"},
		{"audience", c.Auth.Audience, "earshot"},
		{"token_ttl", c.Auth.TokenTTL, 36 * time.Hour},
		{"max_token_size", c.Auth.MaxTokenSize, int64(4096)},
		{"cleanup_interval", c.Sessions.CleanupInterval, time.Minute},
		{"inactive_after", c.Sessions.InactiveAfter, 2 * time.Hour},
		{"max_users", c.Sessions.MaxUsers, 4},
		{"max_sessions", c.Sessions.MaxSessions, 500},
		{"max_sessions_per_user", c.Sessions.MaxSessionsPerUser, 7},
		{"status_roles", c.Sessions.StatusRoles, []string{"admin"}},
		{"webrtc.enabled", c.WebRTC.Enabled, false},
		{"udp ports", [2]uint16{c.WebRTC.UDPPortMin, c.WebRTC.UDPPortMax}, [2]uint16{40000, 40009}},
		{"ice servers", len(c.WebRTC.ICEServers), 2},
		{"ice[0]", c.WebRTC.ICEServers[0].URLs, []string{"stun:stun.example.org:3478"}},
		{"ice[1].username", c.WebRTC.ICEServers[1].Username, "earshot"},
		{"ice[1].credential", c.WebRTC.ICEServers[1].Credential, "turn-credential-value"},
		{"public_ips", c.WebRTC.PublicIPs, []string{"203.0.113.7", "2001:db8::7"}},
		{"include_loopback", c.WebRTC.IncludeLoopback, true},
		{"interfaces", c.WebRTC.Interfaces, []string{"eth0"}},
		{"max_peer_connections", c.WebRTC.MaxPeerConnections, 10},
		{"plugin_dirs", c.PluginDirs, []string{filepath.Join(dir, "plugins"), "/opt/earshot/plugins"}},
		{"plugins", len(c.Plugins), 4},
		{"plugin path", c.Plugins[0].Path, filepath.Join(dir, "bin/earshot-plugin-audio")},
		{"plugin args", c.Plugins[0].Args, []string{"--verbose"}},
		{"plugin env", c.Plugins[0].Env["AUDIO_THREADS"], "2"},
		{"plugin sha256", c.Plugins[0].SHA256, "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"},
		{"plugin coalesce_window unset", c.Plugins[0].CoalesceWindow == nil, true},
		{"plugin coalesce_window", c.Plugins[1].CoalesceWindow != nil && *c.Plugins[1].CoalesceWindow == 0, true},
		{"default_pipeline", c.DefaultPipeline, "plain"},
		{"dir", c.Dir, dir},
	}
	for _, ck := range checks {
		if fmt.Sprint(ck.got) != fmt.Sprint(ck.want) {
			t.Errorf("%s = %v, want %v", ck.name, ck.got, ck.want)
		}
	}
	p, ok := c.Pipeline("interview")
	if !ok {
		t.Fatal("no pipeline interview")
	}
	if !p.RelayAudio || p.OutputRate != 8000 || p.ReplayBuffer != 0 || p.StreamIdleTimeout != 30*time.Second ||
		!slices.Equal(p.SuggestFrom, []string{"interviewer", "observer"}) || !slices.Equal(p.SuggestTo, []string{"candidate", "admin"}) {
		t.Errorf("pipeline interview = %+v", p)
	}
	if p.Suggester == nil || p.Suggester.Plugin != "llm" || p.Decoder.Kind != KindDecoder || p.Transcriber.Plugin != "sphinx" {
		t.Errorf("stages = %+v", p.Stages())
	}
	plain, _ := c.Pipeline("plain")
	if plain.Suggester != nil || plain.OutputRate != 16000 || !slices.Equal(plain.SuggestTo, []string{"candidate"}) {
		t.Errorf("pipeline plain did not get the defaults: %+v", plain)
	}
}

func TestMinimalGetsDefaults(t *testing.T) {
	c, diags := testLoader(map[string]string{EnvJWTSecret: testSecret}).Load("testdata/valid/minimal.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	want := defaults(func(string) (string, bool) { return "", false })
	if fmt.Sprint(c.Server) != fmt.Sprint(want.Server) || fmt.Sprint(c.Sessions) != fmt.Sprint(want.Sessions) ||
		fmt.Sprint(c.WebRTC) != fmt.Sprint(want.WebRTC) {
		t.Errorf("defaults not applied:\n got %+v\nwant %+v", c.Server, want.Server)
	}
	if c.Auth.HMACSecret != testSecret {
		t.Error("without hmac_secret the secret must come from JWT_SECRET")
	}
	if c.DefaultPipeline != "interview" {
		t.Errorf("DefaultPipeline = %q, the only pipeline is the default", c.DefaultPipeline)
	}
	if c.Server.MaxMessageSize != 1<<20 || c.Server.AudioRateLimit != 256<<10 || c.Auth.TokenTTL != 7*24*time.Hour {
		t.Errorf("sizes/durations: %+v %v", c.Server, c.Auth.TokenTTL)
	}
}

func TestDefaultConfig(t *testing.T) {
	t.Run("with JWT_SECRET", func(t *testing.T) {
		c, diags := testLoader(map[string]string{EnvJWTSecret: testSecret}).LoadDefault()
		if len(diags) > 0 {
			t.Fatal(diags)
		}
		p, ok := c.Pipeline(c.DefaultPipeline)
		if !ok || p.Name != "interview" {
			t.Fatalf("default pipeline %q", c.DefaultPipeline)
		}
		if p.Decoder.Plugin != "audio" || p.Transcriber.Plugin != "sphinx" || p.Suggester == nil || p.Suggester.Plugin != "coach" {
			t.Errorf("stages: %+v", p.Stages())
		}
		// The plugin host decodes a stage body against the plugin's schema.
		var sphinx struct {
			EndpointSilence string `hcl:"endpoint_silence,optional"`
		}
		if diags := gohcl.DecodeBody(p.Transcriber.Body, c.EvalContext(), &sphinx); diags.HasErrors() {
			t.Fatal(diags)
		}
		if sphinx.EndpointSilence != "500ms" {
			t.Errorf("endpoint_silence = %q", sphinx.EndpointSilence)
		}
		if c.Auth.TokenTTL != DefaultTokenTTL || !slices.Equal(c.Server.AllowedOrigins, []string{DefaultFrontendURL}) {
			t.Errorf("auth %v origins %v", c.Auth, c.Server.AllowedOrigins)
		}
		if c.Filename != DefaultFilename || c.Files()[DefaultFilename] == nil {
			t.Errorf("files %v", c.Files())
		}
	})
	t.Run("seed environment variables", func(t *testing.T) {
		c, diags := testLoader(map[string]string{
			EnvJWTSecret: testSecret, EnvFrontendURL: "https://app.example.org", EnvJWTExpiresIn: "12h",
		}).LoadDefault()
		if len(diags) > 0 {
			t.Fatal(diags)
		}
		if !slices.Equal(c.Server.AllowedOrigins, []string{"https://app.example.org"}) || c.Auth.TokenTTL != 12*time.Hour {
			t.Errorf("origins %v ttl %v", c.Server.AllowedOrigins, c.Auth.TokenTTL)
		}
	})
	lineOf := func(s string) int {
		for i, l := range strings.Split(string(DefaultSource()), "\n") {
			if strings.Contains(l, s) {
				return i + 1
			}
		}
		t.Fatalf("%q not in default.hcl", s)
		return 0
	}
	t.Run("without JWT_SECRET", func(t *testing.T) {
		c, diags := testLoader(nil).LoadDefault()
		got := gotOf(t, diags)
		want := []want{{lineOf(`hmac_secret = env("JWT_SECRET")`), "Missing environment variable"}}
		if !slices.Equal(got, want) {
			t.Fatalf("got %v, want %v", got, want)
		}
		if d := diags[0]; !strings.Contains(d.Detail, "Set JWT_SECRET") || !strings.Contains(d.Detail, "32 bytes") {
			t.Errorf("detail does not say what to set: %s", d.Detail)
		}
		// The subject is the whole env() call, so the rendering underlines it.
		if r := diags[0].Subject; string(r.SliceBytes(c.Files()[DefaultFilename].Bytes)) != `env("JWT_SECRET")` {
			t.Errorf("subject %q", r.SliceBytes(c.Files()[DefaultFilename].Bytes))
		}
	})
	t.Run("short JWT_SECRET", func(t *testing.T) {
		_, diags := testLoader(map[string]string{EnvJWTSecret: "short"}).LoadDefault()
		got := gotOf(t, diags)
		want := []want{{lineOf(`hmac_secret = env("JWT_SECRET")`), "JWT secret too short"}}
		if !slices.Equal(got, want) {
			t.Fatalf("got %v, want %v", got, want)
		}
		if !strings.Contains(diags[0].Detail, "JWT_SECRET") {
			t.Errorf("detail: %s", diags[0].Detail)
		}
	})
	t.Run("bad JWT_EXPIRES_IN", func(t *testing.T) {
		_, diags := testLoader(map[string]string{EnvJWTSecret: testSecret, EnvJWTExpiresIn: "a week"}).LoadDefault()
		got := gotOf(t, diags)
		want := []want{{lineOf(`token_ttl`), "Invalid duration"}}
		if !slices.Equal(got, want) {
			t.Fatalf("got %v, want %v", got, want)
		}
	})
}

// Files without an auth block still honour the seed's environment variables, and
// report a missing or bad one where the auth block would be (the top of the file).
func TestEnvironmentDefaultsWithoutAuthBlock(t *testing.T) {
	src := []byte("plugin \"a\" {}\nplugin \"s\" {}\npipeline \"p\" {\n  decoder \"a\" {}\n  transcriber \"s\" {}\n}\n")
	cases := []struct {
		env  map[string]string
		want []want
		tail string // in the detail
	}{
		{map[string]string{}, []want{{1, "Missing JWT secret"}}, "JWT_SECRET"},
		{map[string]string{EnvJWTSecret: "short"}, []want{{1, "JWT secret too short"}}, "comes from the JWT_SECRET environment variable"},
		{map[string]string{EnvJWTSecret: testSecret, EnvJWTExpiresIn: "7days"}, []want{{1, "Invalid duration"}}, "JWT_EXPIRES_IN"},
		{map[string]string{EnvJWTSecret: testSecret, EnvJWTExpiresIn: "0"}, []want{{1, "Invalid duration"}}, "comes from the JWT_EXPIRES_IN environment variable"},
		{map[string]string{EnvJWTSecret: testSecret, EnvJWTExpiresIn: "-1h"}, []want{{1, "Invalid duration"}}, "comes from the JWT_EXPIRES_IN environment variable"},
		{map[string]string{EnvJWTSecret: testSecret, EnvFrontendURL: "localhost:3000"}, []want{{1, "Invalid allowed origin"}}, "FRONTEND_URL"},
		{map[string]string{EnvJWTSecret: testSecret}, nil, ""},
	}
	for i, tc := range cases {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			_, diags := testLoader(tc.env).Parse(src, "x.hcl")
			got := gotOf(t, diags)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			if tc.tail != "" && !strings.Contains(diags[0].Detail, tc.tail) {
				t.Errorf("detail %q does not mention %q", diags[0].Detail, tc.tail)
			}
		})
	}
	// A token_ttl in the file wins over a bad JWT_EXPIRES_IN.
	withTTL := append([]byte("auth {\n  token_ttl = \"1h\"\n}\n"), src...)
	c, diags := testLoader(map[string]string{EnvJWTSecret: testSecret, EnvJWTExpiresIn: "bad"}).Parse(withTTL, "x.hcl")
	if len(diags) > 0 || c.Auth.TokenTTL != time.Hour {
		t.Errorf("diags %v ttl %v", diags, c.Auth.TokenTTL)
	}
}

func TestFunctions(t *testing.T) {
	env := map[string]string{EnvJWTSecret: testSecret, "EARSHOT_TEST_ORIGIN": "https://o.example.org", "EARSHOT_TEST_SILENCE": "1s"}
	c, diags := testLoader(env).Load("testdata/valid/functions.hcl")
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	if c.Server.Listen != "127.0.0.1:0" {
		t.Errorf("env default: listen = %q", c.Server.Listen)
	}
	if !slices.Equal(c.Server.AllowedOrigins, []string{"https://o.example.org"}) {
		t.Errorf("env: origins = %v", c.Server.AllowedOrigins)
	}
	if c.Auth.HMACSecret != "a-file-secret-that-is-long-enough-0123456789" {
		t.Errorf("trimspace(file()) relative to the config file: %q", c.Auth.HMACSecret)
	}
	// Stage bodies are decoded later, with the same functions.
	p, _ := c.Pipeline("interview")
	var sphinx struct {
		EndpointSilence string `hcl:"endpoint_silence"`
	}
	if diags := gohcl.DecodeBody(p.Transcriber.Body, c.EvalContext(), &sphinx); diags.HasErrors() || sphinx.EndpointSilence != "1s" {
		t.Errorf("stage body env(): %q %v", sphinx.EndpointSilence, diags)
	}
	var coach struct {
		Knowledge string `hcl:"knowledge"`
	}
	if diags := gohcl.DecodeBody(p.Suggester.Body, c.EvalContext(), &coach); diags.HasErrors() || !strings.HasPrefix(coach.Knowledge, "a-file-secret") {
		t.Errorf("stage body file(): %q %v", coach.Knowledge, diags)
	}

	// A stage body's own mistake surfaces when the host decodes it, with a range.
	var strict struct {
		Other string `hcl:"other"`
	}
	diags = gohcl.DecodeBody(p.Transcriber.Body, c.EvalContext(), &strict)
	if !diags.HasErrors() || diags[0].Subject == nil || diags[0].Subject.Filename != "testdata/valid/functions.hcl" {
		t.Errorf("want ranged diagnostics from the stage body, got %v", diags)
	}
}

func TestFileFunctionLimits(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.txt")
	if err := os.WriteFile(big, bytes.Repeat([]byte("x"), maxFileSize+1), 0o600); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "bin.dat")
	if err := os.WriteFile(bin, []byte{0xff, 0xfe, 0x00}, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"big.txt", "bin.dat", ".", "missing"} {
		t.Run(name, func(t *testing.T) {
			src := fmt.Sprintf("server {\n  listen = file(%q)\n}\n", name)
			_, diags := testLoader(testEnv).Parse([]byte(src), filepath.Join(dir, "c.hcl"))
			var found bool
			for _, d := range diags {
				if d.Summary == "Cannot read file" && d.Subject != nil && d.Subject.Start.Line == 2 {
					found = true
				}
			}
			if !found {
				t.Errorf("no Cannot read file diagnostic on line 2: %v", diags)
			}
		})
	}
}

func TestSecretsNeverPrinted(t *testing.T) {
	c, diags := testLoader(testEnv).Load("testdata/valid/full.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	secrets := []string{c.Auth.HMACSecret, "turn-credential-value", "sk-test-not-a-real-key"}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
		for _, v := range []any{c.Auth, &c.Auth, *c, c.WebRTC, c.Plugins, c.WebRTC.ICEServers[1]} {
			out := fmt.Sprintf(verb, v)
			for _, s := range secrets {
				if strings.Contains(out, s) {
					t.Errorf("%s of %T leaks a secret: %s", verb, v, out)
				}
			}
		}
	}
	if !strings.Contains(c.Auth.String(), "redacted") {
		t.Errorf("Auth.String() = %s", c.Auth.String())
	}
}

func TestPublicKey(t *testing.T) {
	c, diags := testLoader(testEnv).Load("testdata/valid/public_key.hcl")
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	if _, ok := c.Auth.PublicKey.(ed25519.PublicKey); !ok {
		t.Errorf("PublicKey is %T", c.Auth.PublicKey)
	}
	if !c.Auth.UsesHMAC() || !c.Auth.UsesPublicKey() {
		t.Error("UsesHMAC/UsesPublicKey")
	}
	// A key with no asymmetric algorithm is a warning, not an error.
	src := "auth {\n  public_key_file = \"ed25519.pub.pem\"\n}\nplugin \"a\" {}\nplugin \"s\" {}\npipeline \"p\" {\n  decoder \"a\" {}\n  transcriber \"s\" {}\n}\n"
	_, diags = testLoader(testEnv).Parse([]byte(src), "testdata/valid/inline.hcl")
	if diags.HasErrors() || len(diags) != 1 || diags[0].Severity != hcl.DiagWarning || diags[0].Subject.Start.Line != 2 {
		t.Errorf("want one warning on line 2, got %v", diags)
	}
}

func TestLoadMissingFile(t *testing.T) {
	c, diags := Load(filepath.Join(t.TempDir(), "nope.hcl"))
	if !diags.HasErrors() || c == nil || diags[0].Summary != "Cannot read configuration file" {
		t.Fatalf("got %v", diags)
	}
	var buf bytes.Buffer
	if err := WriteDiagnostics(&buf, c.Files(), diags, 80, false); err != nil || !strings.Contains(buf.String(), "nope.hcl") {
		t.Errorf("render: %v %q", err, buf.String())
	}
}

func TestRange(t *testing.T) {
	c, _ := testLoader(testEnv).Load("testdata/valid/full.hcl")
	if r := c.Range("server.listen"); r.Start.Line != 3 {
		t.Errorf("server.listen at %v", r)
	}
	if r := c.Range("pipeline.interview.nonexistent"); r.Start.Line != c.Pipelines[0].DeclRange.Start.Line {
		t.Errorf("falls back to the block: %v", r)
	}
	if r := c.Range("nothing.here"); r.Start.Line != 1 || r.Filename != "testdata/valid/full.hcl" {
		t.Errorf("falls back to the file: %v", r)
	}
}

func TestAnyOriginIsAWarning(t *testing.T) {
	src := "server {\n  allowed_origins = [\"*\"]\n}\nplugin \"a\" {}\nplugin \"s\" {}\npipeline \"p\" {\n  decoder \"a\" {}\n  transcriber \"s\" {}\n}\n"
	c, diags := testLoader(testEnv).Parse([]byte(src), "x.hcl")
	if diags.HasErrors() || len(diags) != 1 || diags[0].Severity != hcl.DiagWarning || diags[0].Subject.Start.Line != 2 {
		t.Fatalf("want one warning on line 2, got %v", diags)
	}
	if !slices.Equal(c.Server.AllowedOrigins, []string{"*"}) {
		t.Errorf("origins %v", c.Server.AllowedOrigins)
	}
}

// TestDocsExample keeps the complete example of docs/configuration.md loadable.
func TestDocsExample(t *testing.T) {
	doc, err := os.ReadFile("../docs/configuration.md")
	if err != nil {
		t.Skipf("docs not present: %v", err)
	}
	_, rest, ok := strings.Cut(string(doc), "## A complete example")
	if !ok {
		t.Fatal("no complete example in docs/configuration.md")
	}
	_, rest, _ = strings.Cut(rest, "```hcl\n")
	example, _, ok := strings.Cut(rest, "```")
	if !ok {
		t.Fatal("unterminated example")
	}
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "keys"), 0o755); err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	if err := os.WriteFile(filepath.Join(dir, "keys", "idp-es256.pem"), pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "earshot.hcl")
	if err := os.WriteFile(file, []byte(example), 0o600); err != nil {
		t.Fatal(err)
	}
	c, diags := testLoader(map[string]string{EnvJWTSecret: testSecret, "TURN_PASSWORD": "pw", "OPENAI_API_KEY": "k"}).Load(file)
	if len(diags) > 0 {
		var buf bytes.Buffer
		_ = WriteDiagnostics(&buf, c.Files(), diags, 0, false)
		t.Fatalf("docs example:\n%s", buf.String())
	}
	if _, ok := c.Auth.PublicKey.(*ecdsa.PublicKey); !ok || len(c.Pipelines) != 2 || c.DefaultPipeline != "interview" {
		t.Errorf("example decoded to %+v", c)
	}
}

func TestValidateAfterOverride(t *testing.T) {
	c, diags := testLoader(testEnv).Load("testdata/valid/minimal.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	for addr, ok := range map[string]bool{"127.0.0.1:0": true, ":8080": true, "[::1]:9000": true, "localhost": false, "": false, "h:70000": false} {
		if err := CheckListenAddr(addr); (err == nil) != ok {
			t.Errorf("CheckListenAddr(%q) = %v", addr, err)
		}
	}
	c.Server.Listen = "nope"
	got := gotOf(t, c.Validate())
	if want := []want{{1, "Invalid listen address"}}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// The host decodes stage bodies itself; ExplainFunctionErrors gives its diagnostics
// the same wording as loading does.
func TestExplainStageBodyErrors(t *testing.T) {
	src := "plugin \"a\" {}\nplugin \"s\" {}\npipeline \"p\" {\n  decoder \"a\" {}\n  transcriber \"s\" {\n    key = env(\"EARSHOT_TEST_UNSET\")\n  }\n}\n"
	c, diags := testLoader(testEnv).Parse([]byte(src), "x.hcl")
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	var body struct {
		Key string `hcl:"key"`
	}
	p, _ := c.Pipeline("p")
	diags = gohcl.DecodeBody(p.Transcriber.Body, c.EvalContext(), &body)
	ExplainFunctionErrors(diags)
	// gohcl adds an "Unsuitable value type" of its own after the failed call.
	if got := gotOf(t, diags); !slices.Contains(got, want{6, "Missing environment variable"}) || slices.Contains(got, want{6, "Error in function call"}) {
		t.Errorf("got %v", got)
	}
}
