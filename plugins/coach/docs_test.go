package coach

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/earshot-dev/earshot/plugins/internal/stageconfig"
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
)

var hclBlock = regexp.MustCompile("(?s)```hcl\n(.*?)```")

// TestDocsExamples checks docs/suggesters.md against the code: the coach stage
// block decodes against the schema, and the knowledge-base example parses.
func TestDocsExamples(t *testing.T) {
	md, err := os.ReadFile("../../docs/suggesters.md")
	if err != nil {
		t.Fatal(err)
	}
	var stages, kbs int
	for i, m := range hclBlock.FindAllSubmatch(md, -1) {
		src := []byte(strings.ReplaceAll(string(m[1]), "# …", ""))
		if strings.Contains(string(src), "topic \"") {
			kbs++
			p := hclparse.NewParser()
			if _, diags := ParseKnowledge(p, src, "docs-example.hcl"); diags.HasErrors() {
				t.Errorf("knowledge base example %d:\n%s", i, RenderDiagnostics(p.Files(), diags))
			}
			continue
		}
		f, diags := hclparse.NewParser().ParseHCL(src, "snippet.hcl")
		if diags.HasErrors() {
			continue
		}
		content, _, _ := f.Body.PartialContent(&hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{
			{Type: "pipeline", LabelNames: []string{"name"}}}})
		for _, p := range content.Blocks {
			inner, _, _ := p.Body.PartialContent(&hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{
				{Type: "suggester", LabelNames: []string{"name"}}}})
			for _, b := range inner.Blocks {
				if b.Labels[0] != "coach" {
					continue
				}
				stages++
				schema := NewWithLogger(hclog.NewNullLogger()).ConfigSchema()
				if _, diags := stageconfig.Decode(b.Body, nil, schema); diags.HasErrors() {
					t.Errorf("coach stage example %d: %v", i, diags)
				}
			}
		}
	}
	if stages == 0 || kbs == 0 {
		t.Fatalf("found %d coach stage and %d knowledge base examples", stages, kbs)
	}
}
