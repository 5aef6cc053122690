// Package config loads earshot's HCL configuration: the server, auth, sessions,
// webrtc, plugin and pipeline blocks, the env() and file() functions, durations and
// sizes, defaults, validation with source-ranged diagnostics, and the embedded
// default configuration.
//
// Loading runs in three steps: defaults (one function, defaults.go, including the
// FRONTEND_URL, JWT_SECRET and JWT_EXPIRES_IN environment variables), decoding of what
// the file sets (gohcl for the structure; every attribute converted with its source
// range remembered), and validation as its own pass (Validate). Every user mistake is
// an hcl.Diagnostic with a Subject; render them with WriteDiagnostics:
//
//	cfg, diags := config.Load(path)
//	if len(diags) > 0 {
//		config.WriteDiagnostics(os.Stderr, cfg.Files(), diags, 100, true)
//	}
//	if diags.HasErrors() {
//		return errInvalidConfig
//	}
//
// Pipeline stage blocks keep their body (Stage.Body) undecoded: the plugin host
// decodes each against the plugin's own schema with cfg.EvalContext(), so env() and
// file() work there too, and passes the result through ExplainFunctionErrors.
//
// The reference for users is docs/configuration.md.
package config
