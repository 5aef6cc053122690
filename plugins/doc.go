// Package plugins is the home of earshot's plugin system: plugins/sdk (the one
// package plugin authors import), plugins/host (discovery, launch, handshake,
// schema-checked configuration and supervision of plugin processes) and the
// implementations of the built-in plugins (audio, sphinx, coach, llm).
package plugins
