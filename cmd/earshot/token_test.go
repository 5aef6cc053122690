package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/earshot-dev/earshot/config"
)

// tokenConfig is a configuration whose auth block differs from the default in
// everything `earshot token` must honour: the secret comes from a file, not
// JWT_SECRET; HS512 only; an issuer and an audience; a token_ttl.
const tokenConfig = `
auth {
  hmac_secret = trimspace(file("secret.txt"))
  algorithms  = ["HS512"]
  issuer      = "https://issuer.example.org"
  audience    = "earshot"
  token_ttl   = "3h"
}
plugin "audio" {}
plugin "sphinx" {}
pipeline "p" {
  decoder "audio" {}
  transcriber "sphinx" {}
}
`

func writeTokenConfig(t *testing.T, src string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "secret.txt"), []byte("file-secret-0123456789abcdef0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "earshot.hcl")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// A token minted with --config passes the validator serve builds from the same
// configuration.
func TestTokenFromConfig(t *testing.T) {
	path := writeTokenConfig(t, tokenConfig)
	cfg, diags := config.Load(path)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	v, err := newValidator(cfg.Auth)
	if err != nil {
		t.Fatal(err)
	}

	// JWT_SECRET is set to something else: the file's hmac_secret must win.
	out, errOut, code := earshot(t, []string{"JWT_SECRET=" + testSecret, "JWT_EXPIRES_IN=1m"},
		"token", "--config", path, "--sub", "alice", "--role", "interviewer")
	if code != 0 || errOut != "" {
		t.Fatalf("token --config: exit %d: %s", code, errOut)
	}
	tok := strings.TrimSpace(out)
	c, err := v.Validate(tok)
	if err != nil {
		t.Fatalf("the daemon would refuse the token: %v", err)
	}
	if c.Subject != "alice" || c.Role != "interviewer" {
		t.Errorf("claims %+v", c)
	}
	if life := time.Until(c.ExpiresAt); life < 179*time.Minute || life > 181*time.Minute {
		t.Errorf("lifetime %v, want the configuration's token_ttl 3h", life)
	}
	parsed, _, err := jwt.NewParser().ParseUnverified(tok, jwt.MapClaims{})
	if err != nil {
		t.Fatal(err)
	}
	if alg := parsed.Method.Alg(); alg != "HS512" {
		t.Errorf("alg %s, want the configured HS512", alg)
	}

	// --ttl overrides token_ttl.
	out, errOut, code = earshot(t, nil, "token", "--config", path, "--sub", "bob", "--ttl", "1h")
	if code != 0 {
		t.Fatalf("token --ttl: exit %d: %s", code, errOut)
	}
	if c, err = v.Validate(strings.TrimSpace(out)); err != nil || time.Until(c.ExpiresAt) > 61*time.Minute {
		t.Errorf("--ttl 1h: %+v %v", c, err)
	}

	// A daemon with another issuer or audience refuses it: iss and aud are really set.
	for _, other := range []string{
		strings.Replace(tokenConfig, "https://issuer.example.org", "https://other.example.org", 1),
		strings.Replace(tokenConfig, `audience    = "earshot"`, `audience    = "other"`, 1),
	} {
		ocfg, diags := config.Load(writeTokenConfig(t, other))
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		ov, err := newValidator(ocfg.Auth)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ov.Validate(tok); err == nil {
			t.Errorf("a daemon configured with issuer %q, audience %q accepts the token", ocfg.Auth.Issuer, ocfg.Auth.Audience)
		}
	}
}

func TestTokenConfigErrors(t *testing.T) {
	noHMAC := writeTokenConfig(t, strings.Replace(tokenConfig, `algorithms  = ["HS512"]`, `algorithms = ["EdDSA"]
  public_key_file = "key.pem"`, 1))
	key := "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n-----END PUBLIC KEY-----\n"
	if err := os.WriteFile(filepath.Join(filepath.Dir(noHMAC), "key.pem"), []byte(key), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		args []string
		msg  string
	}{
		{"missing file", []string{"--config", filepath.Join(t.TempDir(), "nope.hcl")}, "Cannot read configuration file"},
		{"no HS algorithm", []string{"--config", noHMAC}, "accepts no HS256, HS384 or HS512 tokens"},
	} {
		out, errOut, code := earshot(t, []string{"JWT_SECRET=" + testSecret}, append([]string{"token", "--sub", "a"}, c.args...)...)
		if code != 1 || !strings.Contains(errOut, c.msg) || out != "" {
			t.Errorf("%s: exit %d, stderr %q, stdout %q", c.name, code, errOut, out)
		}
	}
}
