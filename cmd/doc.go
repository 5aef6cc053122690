// Package cmd holds earshot's programs: cmd/earshot (the daemon and its command-line
// tools: serve, validate, token, stream, version) and cmd/earshot-plugin-<name>, the
// one-line mains of the built-in plugins.
package cmd
