package llm

import (
	"context"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/earshot-dev/earshot/plugins/internal/stageconfig"
	"github.com/earshot-dev/earshot/plugins/sdk"
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
)

var hclBlock = regexp.MustCompile("(?s)```hcl\n(.*?)```")

// TestDocsExamples decodes every `suggester "llm"` block of docs/suggesters.md
// against the plugin's schema and configures the plugin with it, so the
// documentation cannot drift from the code.
func TestDocsExamples(t *testing.T) {
	md, err := os.ReadFile("../../docs/suggesters.md")
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("OPENAI_API_KEY", "sk-docs-test")
	t.Setenv("VLLM_API_KEY", "docs-test")
	n := 0
	for i, m := range hclBlock.FindAllSubmatch(md, -1) {
		for _, b := range suggesterBlocks(t, m[1], "llm") {
			n++
			l := NewWithLogger(hclog.NewNullLogger())
			js, diags := stageconfig.Decode(b.Body, nil, l.ConfigSchema())
			if diags.HasErrors() {
				t.Errorf("example %d: %v", i, diags)
				continue
			}
			if err := l.Configure(context.Background(), sdk.NewConfig(js)); err != nil {
				t.Errorf("example %d: Configure: %v\n%s", i, err, m[1])
			}
			_ = l.Close()
		}
	}
	if n < 5 {
		t.Fatalf("found %d llm examples in docs/suggesters.md", n)
	}
}

// suggesterBlocks returns the `suggester "<name>"` blocks of src, at the top
// level or inside pipeline blocks. Snippets with "…" placeholders are
// completed to valid HCL first.
func suggesterBlocks(t *testing.T, src []byte, name string) []*hcl.Block {
	t.Helper()
	text := strings.ReplaceAll(string(src), "# …", "")
	f, diags := hclparse.NewParser().ParseHCL([]byte(text), "snippet.hcl")
	if diags.HasErrors() {
		return nil // not every snippet is HCL configuration
	}
	var out []*hcl.Block
	var walk func(body hcl.Body)
	walk = func(body hcl.Body) {
		content, _, _ := body.PartialContent(&hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{
			{Type: "suggester", LabelNames: []string{"name"}},
			{Type: "pipeline", LabelNames: []string{"name"}},
		}})
		for _, b := range content.Blocks {
			switch {
			case b.Type == "pipeline":
				walk(b.Body)
			case b.Labels[0] == name:
				out = append(out, b)
			}
		}
	}
	walk(f.Body)
	return out
}
