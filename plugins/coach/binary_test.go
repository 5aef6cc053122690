package coach_test

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/plugins/host"
	"github.com/earshot-dev/earshot/plugins/sdk"
	"github.com/hashicorp/hcl/v2/hclparse"
)

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// pluginBinary builds cmd/earshot-plugin-coach once per test run.
func pluginBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "earshot-coach-bin")
		if buildErr != nil {
			return
		}
		out, err := exec.Command("go", "build", "-o", filepath.Join(binDir, host.BinaryPrefix+"coach"),
			"github.com/earshot-dev/earshot/cmd/earshot-plugin-coach").CombinedOutput()
		if err != nil {
			buildErr = errors.New(string(out))
		}
	})
	if buildErr != nil {
		t.Fatalf("build the plugin: %v", buildErr)
	}
	return binDir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// stageFrom starts the built plugin as the daemon does, with an HCL stage body.
func stageFrom(t *testing.T, src string) (*host.Stage, string) {
	t.Helper()
	h, err := host.New(host.Options{Dirs: []string{pluginBinary(t)}, Plugins: []host.Spec{{Name: "coach"}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	f, diags := hclparse.NewParser().ParseHCL([]byte(src), "stage.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	s, diags := h.Stage(context.Background(), sdk.KindSuggester, "coach", f.Body, nil)
	if diags.HasErrors() {
		return nil, diags.Error()
	}
	return s, ""
}

func TestBinary(t *testing.T) {
	kb, err := filepath.Abs("knowledge/interview.hcl")
	if err != nil {
		t.Fatal(err)
	}
	s, diags := stageFrom(t, `knowledge = "`+kb+`"`+"\n"+`trigger_roles = ["interviewer"]`)
	if s == nil {
		t.Fatalf("Stage: %s", diags)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := s.OpenSuggest(ctx, sdk.SessionInfo{SessionID: "s1", Pipeline: "interview"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	go func() {
		for _, u := range []sdk.Utterance{
			{UtteranceID: "u1", Role: "interviewer", Text: "what would you say is your greatest weakness"},
			{UtteranceID: "u2", Role: "interviewer", Text: "how would you design a url shortener"},
		} {
			if st.Send(ctx, u) != nil {
				return
			}
		}
		_ = st.CloseSend()
	}()
	var sets []sdk.SuggestionSet
	for {
		set, err := st.Recv(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		sets = append(sets, set)
	}
	if len(sets) != 2 || sets[1].Supersedes != sets[0].ID {
		t.Fatalf("got %+v", sets)
	}
	if !strings.Contains(sets[1].Suggestions[0].Text, "requirements") {
		t.Errorf("system design set starts with %q", sets[1].Suggestions[0].Text)
	}
}

func TestBinaryConfigDiagnostics(t *testing.T) {
	for name, c := range map[string]struct{ src, want string }{
		"knowledge base error": {`knowledge = "` + mustAbs(t, "testdata/bad/unknown-kind.hcl") + `"`,
			"unknown-kind.hcl:2"},
		"schema type error": {"\n\ntrigger_roles = 3", "stage.hcl:3"},
		"unknown attribute": {`knowlege = "x.hcl"`, "stage.hcl:1"},
		"missing file":      {`knowledge = "/nonexistent/kb.hcl"`, "/nonexistent/kb.hcl"},
	} {
		t.Run(name, func(t *testing.T) {
			s, diags := stageFrom(t, c.src)
			if s != nil {
				t.Fatal("the stage was accepted")
			}
			t.Logf("diagnostics:\n%s", diags)
			if !strings.Contains(diags, c.want) {
				t.Errorf("diagnostics lack %q:\n%s", c.want, diags)
			}
		})
	}
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
