package config

import (
	"time"

	"github.com/hashicorp/hcl/v2"
)

// defaults returns the configuration every file starts from; decoding overwrites
// only what the file sets. It is the one place defaults live (docs/configuration.md
// mirrors it). The three defaults that come from the environment are recorded in
// c.fromEnv so that diagnostics about them can name the variable.
func defaults(lookupEnv func(string) (string, bool)) *Config {
	c := &Config{
		Server: Server{
			Listen:                   DefaultListen,
			AllowedOrigins:           []string{DefaultFrontendURL},
			MaxMessageSize:           1 << 20,
			EventRate:                50,
			EventBurst:               100,
			OutboundQueue:            4 << 20,
			PingInterval:             25 * time.Second,
			PongTimeout:              20 * time.Second,
			AuthTimeout:              10 * time.Second,
			MaxSessionsPerConnection: 8,
			AudioRateLimit:           256 << 10,
			LogFormat:                "text",
			LogLevel:                 "info",
			ShutdownTimeout:          10 * time.Second,
			Metrics:                  true,
		},
		Auth: Auth{
			Algorithms:   []string{"HS256"},
			Leeway:       30 * time.Second,
			TokenTTL:     DefaultTokenTTL,
			MaxTokenSize: 8 << 10,
		},
		Sessions: Sessions{
			CleanupInterval:    5 * time.Minute,
			InactiveAfter:      30 * time.Minute,
			MaxUsers:           16,
			MaxSessions:        10000,
			MaxSessionsPerUser: 100,
			StatusRoles:        []string{"interviewer", "admin"},
		},
		WebRTC: WebRTC{
			Enabled:            true,
			UDPPortMin:         50000,
			UDPPortMax:         50299, // 300 ports: pion binds one per peer connection and local address
			MaxPeerConnections: 256,
		},
		lookupEnv: lookupEnv,
		ranges:    map[string]hcl.Range{},
		failed:    map[string]bool{},
		fromEnv:   map[string]string{},
		envErrs:   map[string]error{},
	}
	if v, ok := lookupEnv(EnvFrontendURL); ok && v != "" {
		c.Server.AllowedOrigins = []string{v}
		c.fromEnv["server.allowed_origins"] = EnvFrontendURL
	}
	if v, ok := lookupEnv(EnvJWTSecret); ok {
		c.Auth.HMACSecret = v
		c.fromEnv["auth.hmac_secret"] = EnvJWTSecret
	}
	if v, ok := lookupEnv(EnvJWTExpiresIn); ok && v != "" {
		c.fromEnv["auth.token_ttl"] = EnvJWTExpiresIn
		if d, err := ParseDuration(v); err != nil {
			c.envErrs["auth.token_ttl"] = err
		} else {
			c.Auth.TokenTTL = d
		}
	}
	return c
}

// defaultPipeline returns a pipeline block's defaults.
func defaultPipeline(name string) Pipeline {
	return Pipeline{
		Name:              name,
		SuggestFrom:       []string{"interviewer"},
		SuggestTo:         []string{"candidate"},
		StreamIdleTimeout: 10 * time.Second,
		ReplayBuffer:      30 * time.Second,
		OutputRate:        16000,
	}
}
