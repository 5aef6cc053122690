// Package config loads earshot's HCL configuration: the server, auth, sessions,
// webrtc, plugin and pipeline blocks, the env() and file() functions, durations and
// sizes, defaults, validation with source-ranged diagnostics, and the embedded
// default configuration.
package config
