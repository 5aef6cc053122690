// Package pluginpb holds the earshot plugin protocol (plugin.proto) and the Go code
// generated from it. It is internal: plugin authors use plugins/sdk, whose plain Go
// types the shim (plugins/internal/shim) converts to and from these.
package pluginpb

// Regenerate with `go generate ./plugins/internal/...`. It needs protoc (Debian
// protobuf-compiler); the Go generators are the tool dependencies pinned in go.mod,
// run through the scripts in tools/, so it works offline. TestGeneratedCodeIsCurrent
// fails when the committed code is stale.
//go:generate protoc --plugin=protoc-gen-go=tools/protoc-gen-go --plugin=protoc-gen-go-grpc=tools/protoc-gen-go-grpc --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative plugin.proto
