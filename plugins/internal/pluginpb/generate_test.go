package pluginpb

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestGeneratedCodeIsCurrent regenerates the code into a temporary directory and
// compares it with the committed files, so a change to plugin.proto without
// `go generate` fails the build.
func TestGeneratedCodeIsCurrent(t *testing.T) {
	if _, err := exec.LookPath("protoc"); err != nil {
		t.Skip("protoc is not installed (Debian: protobuf-compiler); cannot check that the generated code is current")
	}
	out := t.TempDir()
	cmd := exec.Command("protoc",
		"--plugin=protoc-gen-go=tools/protoc-gen-go",
		"--plugin=protoc-gen-go-grpc=tools/protoc-gen-go-grpc",
		"--go_out="+out, "--go_opt=paths=source_relative",
		"--go-grpc_out="+out, "--go-grpc_opt=paths=source_relative",
		"plugin.proto")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("protoc: %v\n%s", err, b)
	}
	for _, name := range []string{"plugin.pb.go", "plugin_grpc.pb.go"} {
		want, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is stale: run `go generate ./plugins/internal/...` and commit the result", name)
		}
	}
}
