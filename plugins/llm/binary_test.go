package llm

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/plugins/host"
	"github.com/earshot-dev/earshot/plugins/sdk"
	"github.com/hashicorp/hcl/v2/hclparse"
)

// TestBinary builds cmd/earshot-plugin-llm and runs it as the daemon does: HCL
// stage block checked against its schema, a real process, a session stream.
func TestBinary(t *testing.T) {
	dir := t.TempDir()
	out, err := exec.Command("go", "build", "-o", filepath.Join(dir, host.BinaryPrefix+"llm"),
		"github.com/earshot-dev/earshot/cmd/earshot-plugin-llm").CombinedOutput()
	if err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	srv := newFakeServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		streamChunks(w, "- from ", "the binary\n", "? and back")
	})
	h, err := host.New(host.Options{Dirs: []string{dir}, Plugins: []host.Spec{
		{Name: "llm", Env: map[string]string{"EARSHOT_TEST_LLM_BINARY_KEY": "sk-binary"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	stage := func(src string) (*host.Stage, string) {
		f, diags := hclparse.NewParser().ParseHCL([]byte(src), "stage.hcl")
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		s, diags := h.Stage(context.Background(), sdk.KindSuggester, "llm", f.Body, nil)
		if diags.HasErrors() {
			return nil, diags.Error()
		}
		return s, ""
	}
	if _, diags := stage("base_url = \"" + srv.URL + "\"\nmax_retries = \"many\""); !strings.Contains(diags, "stage.hcl:2") {
		t.Errorf("schema error not reported at its line: %s", diags)
	}
	if _, diags := stage(`prompt = "{{.Nope}}"`); !strings.Contains(diags, "prompt") {
		t.Errorf("bad template not reported: %s", diags)
	}
	s, diags := stage(`
base_url        = "` + srv.URL + `/v1"
model           = "m"
api_key_env     = "EARSHOT_TEST_LLM_BINARY_KEY"
update_interval = "0s"
`)
	if s == nil {
		t.Fatalf("Stage: %s", diags)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := s.OpenSuggest(ctx, sdk.SessionInfo{SessionID: "s1"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Send(ctx, sdk.Utterance{UtteranceID: "u1", Role: "interviewer", Text: "why should we hire you"}); err != nil {
		t.Fatal(err)
	}
	if err := st.CloseSend(); err != nil {
		t.Fatal(err)
	}
	var last sdk.SuggestionSet
	for {
		set, err := st.Recv(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		last = set
	}
	if !last.Final || len(last.Suggestions) != 2 || last.Suggestions[0].Text != "from the binary" {
		t.Fatalf("last set %+v", last)
	}
	if got := srv.recorded()[0].Auth; got != "Bearer sk-binary" {
		t.Errorf("authorization %q", got)
	}
}
