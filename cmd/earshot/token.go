package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/earshot-dev/earshot/config"
	"github.com/earshot-dev/earshot/signaling/auth"
	"github.com/earshot-dev/earshot/signaling/protocol"
)

var validRoles = []string{protocol.RoleInterviewer, protocol.RoleCandidate, protocol.RoleObserver, protocol.RoleAdmin}

func runToken(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("token", "token --sub ID [--name N] [--role R] [--sessions a,b] [--ttl D]", stderr)
	sub := fs.String("sub", "", "user id (the token's sub claim; required)")
	name := fs.String("name", "", "display name (defaults to the user id)")
	role := fs.String("role", protocol.RoleCandidate, "role: interviewer, candidate, observer or admin")
	sessions := fs.String("sessions", "", "comma-separated session ids the user may join (empty: any)")
	ttl := fs.String("ttl", "", "lifetime such as 1h or 7d (default: $JWT_EXPIRES_IN, else 7d)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *sub == "" {
		fs.Usage()
		return &exitError{code: 2, err: errors.New("--sub is required")}
	}
	if !contains(validRoles, *role) {
		return &exitError{code: 2, err: fmt.Errorf("--role %q: want one of %s", *role, strings.Join(validRoles, ", "))}
	}
	lifetime, err := tokenTTL(*ttl)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	secret := os.Getenv("JWT_SECRET")
	if len(secret) < config.MinSecretLen {
		return &exitError{code: 1, err: fmt.Errorf("set JWT_SECRET to the daemon's secret (at least %d bytes)", config.MinSecretLen)}
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
	tok, err := auth.Mint([]byte(secret), c, lifetime)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, tok)
	return nil
}

// tokenTTL picks the token lifetime: the flag, then JWT_EXPIRES_IN, then 7 days.
func tokenTTL(flagValue string) (time.Duration, error) {
	if flagValue == "" {
		d, err := config.TokenTTLFromEnv(os.LookupEnv)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", config.EnvJWTExpiresIn, err)
		}
		return d, nil
	}
	d, err := config.ParseDuration(flagValue)
	if err != nil {
		return 0, fmt.Errorf("--ttl: %w", err)
	}
	if d <= 0 {
		return 0, errors.New("--ttl: the lifetime must be positive")
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
