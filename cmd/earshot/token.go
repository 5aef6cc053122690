package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/earshot-dev/earshot/config"
	"github.com/earshot-dev/earshot/signaling/auth"
	"github.com/earshot-dev/earshot/signaling/protocol"
)

var validRoles = []string{protocol.RoleInterviewer, protocol.RoleCandidate, protocol.RoleObserver, protocol.RoleAdmin}

func runToken(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("token", "token [--config FILE] --sub ID [--name N] [--role R] [--sessions a,b] [--ttl D]", stderr)
	cfgPath := fs.String("config", "", "HCL configuration whose auth block the token must satisfy: secret, algorithm, issuer, audience, token_ttl (default: the embedded default configuration)")
	sub := fs.String("sub", "", "user id (the token's sub claim; required)")
	name := fs.String("name", "", "display name (defaults to the user id)")
	role := fs.String("role", protocol.RoleCandidate, "role: interviewer, candidate, observer or admin")
	sessions := fs.String("sessions", "", "comma-separated session ids the user may join (empty: any)")
	ttl := fs.String("ttl", "", "lifetime such as 1h or 7d (default: the configuration's auth.token_ttl, whose default is $JWT_EXPIRES_IN, else 7d)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return &exitError{code: 2, err: fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	if *sub == "" {
		fs.Usage()
		return &exitError{code: 2, err: errors.New("--sub is required")}
	}
	if !contains(validRoles, *role) {
		return &exitError{code: 2, err: fmt.Errorf("--role %q: want one of %s", *role, strings.Join(validRoles, ", "))}
	}
	var lifetime time.Duration
	if *ttl != "" {
		d, err := parseTTLFlag(*ttl)
		if err != nil {
			return &exitError{code: 2, err: err}
		}
		lifetime = d
	}

	// The token must pass the daemon's checks, so it is made from the same
	// configuration: its hmac_secret (JWT_SECRET by default), algorithms, issuer,
	// audience and token_ttl (JWT_EXPIRES_IN by default).
	cfg, diags := loadConfig(*cfgPath)
	if len(diags) > 0 {
		_ = writeDiags(stderr, cfg, diags) // errors, or warnings that do not stop us
	}
	if diags.HasErrors() {
		return &exitError{code: 1, err: fmt.Errorf("cannot mint a token: the configuration %s has errors", configName(*cfgPath))}
	}
	a := cfg.Auth
	alg := auth.HMACAlgorithm(a.Algorithms)
	if alg == "" {
		return &exitError{code: 1, err: fmt.Errorf("%s accepts no HS256, HS384 or HS512 tokens (auth.algorithms = %q): earshot token signs with the HMAC secret; mint tokens with your own key", configName(*cfgPath), a.Algorithms)}
	}
	if lifetime == 0 {
		lifetime = a.TokenTTL // validated: greater than zero
	}

	c := auth.Claims{Subject: *sub, Name: *name, Role: *role}
	if c.Name == "" {
		c.Name = *sub
	}
	if *sessions != "" {
		for _, s := range strings.Split(*sessions, ",") {
			if s = strings.TrimSpace(s); s != "" {
				c.Sessions = append(c.Sessions, s)
			}
		}
	}
	tok, err := auth.MintWith([]byte(a.HMACSecret), c, lifetime, auth.MintOptions{Algorithm: alg, Issuer: a.Issuer, Audience: a.Audience})
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, tok)
	return nil
}

// parseTTLFlag parses --ttl: a positive duration.
func parseTTLFlag(s string) (time.Duration, error) {
	d, err := config.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("--ttl: %w", err)
	}
	if d <= 0 {
		return 0, fmt.Errorf("--ttl %s: the lifetime must be positive", s)
	}
	return d, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
