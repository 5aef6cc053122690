package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/signaling/auth"
)

// binDir holds bin/earshot and the built-in plugins: $EARSHOT_BIN_DIR (make test sets
// it after `make build`), or a fresh build made by TestMain.
var binDir string

const testSecret = "cli-test-secret-0123456789abcdef0123456789"

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	binDir = os.Getenv("EARSHOT_BIN_DIR")
	if binDir == "" {
		dir, err := os.MkdirTemp("", "earshot-cli-test")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		root := filepath.Join("..", "..")
		for target, pkg := range map[string]string{
			"earshot": "./cmd/earshot", "earshot-plugin-audio": "./cmd/earshot-plugin-audio",
			"earshot-plugin-sphinx": "./cmd/earshot-plugin-sphinx", "earshot-plugin-coach": "./cmd/earshot-plugin-coach",
			"earshot-plugin-llm": "./cmd/earshot-plugin-llm", "earshot-plugin-whisper": "./examples/whisper-transcriber",
		} {
			cmd := exec.Command("go", "build", "-o", filepath.Join(dir, target), pkg)
			cmd.Dir = root
			if out, err := cmd.CombinedOutput(); err != nil {
				fmt.Fprintf(os.Stderr, "build %s: %v\n%s", target, err, out)
				return 1
			}
		}
		binDir = dir
	}
	return m.Run()
}

func earshot(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "earshot"), args...)
	cmd.Env = append(cleanEnv(), env...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	code = 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("run earshot: %v", err)
		}
		code = ee.ExitCode()
	}
	return o.String(), e.String(), code
}

// cleanEnv is the test's environment without the variables earshot reads.
func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		switch strings.SplitN(kv, "=", 2)[0] {
		case "JWT_SECRET", "JWT_EXPIRES_IN", "FRONTEND_URL", "EARSHOT_TOKEN":
			continue
		}
		out = append(out, kv)
	}
	return out
}

func TestVersionAndHelp(t *testing.T) {
	out, _, code := earshot(t, nil, "version")
	if code != 0 || !strings.HasPrefix(out, "earshot ") {
		t.Fatalf("version: %d %q", code, out)
	}
	for _, sub := range []string{"serve", "validate", "token", "stream", "version"} {
		_, errOut, code := earshot(t, nil, sub, "--help")
		if code != 0 || !strings.Contains(errOut, "Usage: earshot "+sub) {
			t.Errorf("%s --help: exit %d, %q", sub, code, errOut)
		}
	}
	if _, _, code := earshot(t, nil, "frobnicate"); code != 2 {
		t.Errorf("unknown command exit %d, want 2", code)
	}
}

func TestTokenClaimsVerify(t *testing.T) {
	out, errOut, code := earshot(t, []string{"JWT_SECRET=" + testSecret, "JWT_EXPIRES_IN=2h"},
		"token", "--sub", "alice", "--name", "Alice A", "--role", "interviewer", "--sessions", "s1, s2")
	if code != 0 {
		t.Fatalf("token: exit %d: %s", code, errOut)
	}
	v, err := auth.NewValidator(auth.Config{HMACSecret: []byte(testSecret)})
	if err != nil {
		t.Fatal(err)
	}
	c, err := v.Validate(strings.TrimSpace(out))
	if err != nil {
		t.Fatalf("minted token does not validate: %v", err)
	}
	if c.Subject != "alice" || c.Name != "Alice A" || c.Role != "interviewer" || strings.Join(c.Sessions, ",") != "s1,s2" {
		t.Errorf("claims %+v", c)
	}
	if life := time.Until(c.ExpiresAt); life < 119*time.Minute || life > 121*time.Minute {
		t.Errorf("lifetime %v, want 2h from JWT_EXPIRES_IN", life)
	}
	// --ttl wins over JWT_EXPIRES_IN; the default is 7 days.
	out, _, _ = earshot(t, []string{"JWT_SECRET=" + testSecret}, "token", "--sub", "bob")
	if c, err = v.Validate(strings.TrimSpace(out)); err != nil || c.Role != "candidate" || time.Until(c.ExpiresAt) < 167*time.Hour {
		t.Errorf("default token: %+v %v", c, err)
	}
	out, _, _ = earshot(t, []string{"JWT_SECRET=" + testSecret, "JWT_EXPIRES_IN=2h"}, "token", "--sub", "bob", "--ttl", "1d")
	if c, err = v.Validate(strings.TrimSpace(out)); err != nil || time.Until(c.ExpiresAt) < 23*time.Hour {
		t.Errorf("--ttl 1d: %+v %v", c, err)
	}
	// Signed with another secret: refused.
	other, _ := auth.NewValidator(auth.Config{HMACSecret: []byte(strings.Repeat("x", 40))})
	if _, err := other.Validate(strings.TrimSpace(out)); err == nil {
		t.Error("token validated with the wrong secret")
	}
}

func TestTokenErrors(t *testing.T) {
	cases := []struct {
		name string
		env  []string
		args []string
		code int
		msg  string
	}{
		{"no sub", []string{"JWT_SECRET=" + testSecret}, nil, 2, "--sub is required"},
		{"bad role", []string{"JWT_SECRET=" + testSecret}, []string{"--sub", "a", "--role", "boss"}, 2, "--role"},
		{"no secret", nil, []string{"--sub", "a"}, 1, "JWT_SECRET"},
		{"short secret", []string{"JWT_SECRET=short"}, []string{"--sub", "a"}, 1, "JWT secret too short"},
		{"bad ttl", []string{"JWT_SECRET=" + testSecret}, []string{"--sub", "a", "--ttl", "soon"}, 2, "--ttl"},
		{"zero ttl", []string{"JWT_SECRET=" + testSecret}, []string{"--sub", "a", "--ttl", "0"}, 2, "--ttl 0: the lifetime must be positive"},
		// JWT_EXPIRES_IN is auth.token_ttl's default: a configuration error.
		{"bad env ttl", []string{"JWT_SECRET=" + testSecret, "JWT_EXPIRES_IN=forever"}, []string{"--sub", "a"}, 1, `token_ttl      = env("JWT_EXPIRES_IN", "7d")`},
		{"zero env ttl", []string{"JWT_SECRET=" + testSecret, "JWT_EXPIRES_IN=0"}, []string{"--sub", "a"}, 1, "token_ttl must be greater than zero, got 0s"},
		{"negative env ttl", []string{"JWT_SECRET=" + testSecret, "JWT_EXPIRES_IN=-1h"}, []string{"--sub", "a"}, 1, "token_ttl must be greater than zero, got -1h0m0s"},
	}
	for _, c := range cases {
		out, errOut, code := earshot(t, c.env, append([]string{"token"}, c.args...)...)
		if code != c.code || !strings.Contains(errOut, c.msg) || out != "" {
			t.Errorf("%s: exit %d (want %d), stderr %q, stdout %q", c.name, code, c.code, errOut, out)
		}
		if strings.Contains(errOut, "JWT_EXPIRES_IN: JWT_EXPIRES_IN") {
			t.Errorf("%s: the variable is named twice: %q", c.name, errOut)
		}
	}
}

func TestValidateExitCodes(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.hcl")
	bad := filepath.Join(dir, "bad.hcl")
	os.WriteFile(good, []byte(`
auth { hmac_secret = env("JWT_SECRET") }
plugin "audio" {}
plugin "sphinx" {}
pipeline "p" {
  decoder "audio" {}
  transcriber "sphinx" {}
}
`), 0o644)
	os.WriteFile(bad, []byte(`
server {
  listen = "127.0.0.1:8080"
  ping_interval = "soon"
}
`), 0o644)
	env := []string{"JWT_SECRET=" + testSecret}
	if _, errOut, code := earshot(t, env, "validate", "--offline", good); code != 0 {
		t.Errorf("good config: exit %d: %s", code, errOut)
	}
	out, errOut, code := earshot(t, env, "validate", "--offline", bad)
	if code != 1 {
		t.Fatalf("bad config: exit %d", code)
	}
	all := out + errOut
	for _, want := range []string{"bad.hcl line 4", `ping_interval = "soon"`, "Invalid duration"} {
		if !strings.Contains(all, want) {
			t.Errorf("diagnostics lack %q:\n%s", want, all)
		}
	}
	if _, _, code := earshot(t, env, "validate", filepath.Join(dir, "missing.hcl")); code != 1 {
		t.Errorf("missing file: exit %d", code)
	}
	if _, _, code := earshot(t, env, "validate"); code != 2 {
		t.Errorf("no file: exit %d, want 2", code)
	}
	// The secret is required outside --dev: the diagnostic says what to set.
	_, errOut, code = earshot(t, nil, "validate", "--offline", good)
	if code != 1 || !strings.Contains(errOut, "JWT_SECRET") {
		t.Errorf("missing secret: exit %d: %s", code, errOut)
	}
}

// A warning (here: fewer UDP ports than peer connections) is printed but fails
// neither validate nor serve's start-up.
func TestConfigWarningsDoNotFail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "warn.hcl")
	os.WriteFile(path, []byte(`
auth { hmac_secret = env("JWT_SECRET") }
webrtc {
  udp_ports            = "50000-50009"
  max_peer_connections = 20
}
plugin "audio" {}
plugin "sphinx" {}
pipeline "p" {
  decoder "audio" {}
  transcriber "sphinx" {}
}
`), 0o644)
	env := []string{"JWT_SECRET=" + testSecret}
	const warning = "Warning: Too few UDP ports for the peer connections"
	out, errOut, code := earshot(t, env, "validate", "--offline", path)
	if code != 0 || !strings.Contains(out, "valid") || !strings.Contains(errOut, warning) || !strings.Contains(errOut, "warn.hcl line 4") {
		t.Errorf("validate: exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	// serve goes past the configuration to the next step: listening on an address
	// that is taken, which fails.
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	_, errOut, code = earshot(t, env, "serve", "--config", path, "--listen", taken.Addr().String())
	if code != 1 || !strings.Contains(errOut, warning) || !strings.Contains(errOut, "listen on "+taken.Addr().String()) {
		t.Errorf("serve: exit %d, stderr %s", code, errOut)
	}
}

func TestValidateChecksPluginSchemas(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "stage.hcl")
	os.WriteFile(bad, []byte(`
auth { hmac_secret = env("JWT_SECRET") }
plugin "audio" {}
plugin "sphinx" {}
pipeline "p" {
  decoder "audio" {}
  transcriber "sphinx" {
    endpoint_silence = "later"
  }
}
`), 0o644)
	out, errOut, code := earshot(t, []string{"JWT_SECRET=" + testSecret}, "validate", bad)
	if code != 1 || !strings.Contains(out+errOut, "stage.hcl line 8") || !strings.Contains(out+errOut, "endpoint_silence") {
		t.Errorf("stage attribute checked against the plugin schema: exit %d\n%s%s", code, out, errOut)
	}
}

// The example configurations are valid, stage blocks included (checked against each
// plugin's own schema by the started plugins).
func TestExampleConfigsValidate(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "examples", "configs", "*.hcl"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no example configs: %v", err)
	}
	for _, f := range files {
		out, errOut, code := earshot(t, []string{"JWT_SECRET=" + testSecret}, "validate", f)
		if code != 0 || !strings.Contains(out, "valid") {
			t.Errorf("%s: exit %d\n%s%s", f, code, out, errOut)
		}
	}
}

func TestServeRefusesWithoutSecret(t *testing.T) {
	_, errOut, code := earshot(t, nil, "serve", "--listen", "127.0.0.1:0")
	if code != 1 || !strings.Contains(errOut, "JWT_SECRET") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
	_, errOut, code = earshot(t, []string{"JWT_SECRET=short"}, "serve", "--listen", "127.0.0.1:0")
	if code != 1 || !strings.Contains(errOut, "32") {
		t.Errorf("short secret: exit %d, stderr %q", code, errOut)
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func TestServeDevAnswersAndStops(t *testing.T) {
	addr := freePort(t)
	cmd := exec.Command(filepath.Join(binDir, "earshot"), "serve", "--dev", "--listen", addr)
	cmd.Env = cleanEnv()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()

	tokens := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		re := regexp.MustCompile(`Interviewer token: (\S+)`)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				tokens <- m[1]
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var tok string
	select {
	case tok = <-tokens:
	case <-ctx.Done():
		t.Fatalf("no dev token printed; stderr:\n%s", stderr.String())
	}
	if strings.Count(tok, ".") != 2 {
		t.Fatalf("printed token %q is not a JWT", tok)
	}
	for _, path := range []string{"/healthz", "/readyz", "/", "/client.js"} {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("GET %s: %d", path, resp.StatusCode)
		}
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("still running 30s after SIGTERM\n%s", stderr.String())
	}
	if strings.Contains(stderr.String(), tok) {
		t.Error("the token appears in the log")
	}
}
