package coach

import (
	"bytes"
	_ "embed"
	"fmt"
	"os"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// DefaultKnowledgeFile is the name the embedded knowledge base is reported under
// in diagnostics.
const DefaultKnowledgeFile = "knowledge/interview.hcl"

//go:embed knowledge/interview.hcl
var defaultKnowledge []byte

// DefaultKnowledge returns the embedded default knowledge base (HCL source), so
// users can write it out and start their own from it.
func DefaultKnowledge() []byte { return bytes.Clone(defaultKnowledge) }

// Topic kinds a knowledge base may use.
var topicKinds = []string{"behavioural", "technical", "situational", "closing", "general"}

// Topic is one question family of a knowledge base and what to suggest for it.
type Topic struct {
	Name     string   // the block label, e.g. "tell-me-about-yourself"
	Kind     string   // behavioural, technical, situational, closing, general
	Title    string   // a human title; defaults to Name
	Match    []string // phrases interviewers use to ask it
	Points   []string // talking points
	Outline  []string // an answer outline, in order (e.g. STAR for behavioural)
	FollowUp []string // questions the candidate can ask back
}

// Knowledge is a parsed knowledge base.
type Knowledge struct {
	Topics []Topic
	// Fallback is suggested for a question no topic matches well; nil means send
	// nothing for such questions.
	Fallback *Topic
}

// LoadKnowledge reads and parses a knowledge base file. An empty path loads the
// embedded default. Mistakes in the file come back as hcl.Diagnostics with file
// and line; err is set for anything else (an unreadable file).
func LoadKnowledge(path string) (*Knowledge, map[string]*hcl.File, hcl.Diagnostics, error) {
	src, name := defaultKnowledge, DefaultKnowledgeFile
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("read knowledge base: %w", err)
		}
		src, name = b, path
	}
	p := hclparse.NewParser()
	kb, diags := ParseKnowledge(p, src, name)
	return kb, p.Files(), diags, nil
}

// ParseKnowledge parses knowledge base source with parser p (whose Files() then
// hold the source for rendering diagnostics).
func ParseKnowledge(p *hclparse.Parser, src []byte, filename string) (*Knowledge, hcl.Diagnostics) {
	f, diags := p.ParseHCL(src, filename)
	if diags.HasErrors() {
		return nil, diags
	}
	content, d := f.Body.Content(&hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{
		{Type: "topic", LabelNames: []string{"name"}}, {Type: "fallback"},
	}})
	diags = append(diags, d...)
	kb := &Knowledge{}
	seen := map[string]hcl.Range{}
	for _, b := range content.Blocks {
		switch b.Type {
		case "topic":
			name := b.Labels[0]
			if prev, dup := seen[name]; dup {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Duplicate topic",
					Detail:   fmt.Sprintf("A topic named %q was already defined at %s.", name, prev),
					Subject:  b.DefRange.Ptr(),
				})
				continue
			}
			seen[name] = b.DefRange
			t, d := decodeTopic(b, true)
			diags = append(diags, d...)
			kb.Topics = append(kb.Topics, t)
		case "fallback":
			if kb.Fallback != nil {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Duplicate fallback block",
					Detail:   "A knowledge base has at most one fallback block.",
					Subject:  b.DefRange.Ptr(),
				})
				continue
			}
			t, d := decodeTopic(b, false)
			diags = append(diags, d...)
			t.Name, t.Kind, t.Title = "fallback", "general", "General answer"
			kb.Fallback = &t
		}
	}
	if len(kb.Topics) == 0 && !diags.HasErrors() {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Empty knowledge base",
			Detail:   `A knowledge base needs at least one topic "<name>" { match = [...] points = [...] } block.`,
			Subject:  f.Body.MissingItemRange().Ptr(),
		})
	}
	if diags.HasErrors() {
		return nil, diags
	}
	return kb, diags
}

// decodeTopic decodes a topic block (isTopic) or the fallback block, which has
// no kind, title or match.
func decodeTopic(b *hcl.Block, isTopic bool) (Topic, hcl.Diagnostics) {
	schema := &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "points"}, {Name: "outline"}, {Name: "follow_up"},
	}}
	if isTopic {
		schema.Attributes = append(schema.Attributes,
			hcl.AttributeSchema{Name: "kind"}, hcl.AttributeSchema{Name: "title"},
			hcl.AttributeSchema{Name: "match"})
	}
	content, diags := b.Body.Content(schema)
	t := Topic{}
	if isTopic {
		t.Name = b.Labels[0]
	}
	str := func(name string) string {
		a, ok := content.Attributes[name]
		if !ok {
			return ""
		}
		v, d := a.Expr.Value(nil)
		diags = append(diags, d...)
		if d.HasErrors() {
			return ""
		}
		if v.IsNull() || !v.IsKnown() || v.Type() != cty.String {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid " + name,
				Detail:   fmt.Sprintf("%s must be a string.", name),
				Subject:  a.Expr.Range().Ptr(),
			})
			return ""
		}
		return v.AsString()
	}
	list := func(name string) []string {
		a, ok := content.Attributes[name]
		if !ok {
			return nil
		}
		v, d := a.Expr.Value(nil)
		diags = append(diags, d...)
		if d.HasErrors() {
			return nil
		}
		lv, err := convert.Convert(v, cty.List(cty.String))
		if err != nil || lv.IsNull() || !lv.IsWhollyKnown() {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid " + name,
				Detail:   fmt.Sprintf("%s must be a list of strings.", name),
				Subject:  a.Expr.Range().Ptr(),
			})
			return nil
		}
		var out []string
		for _, e := range lv.AsValueSlice() {
			if e.IsNull() {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid " + name,
					Detail:   fmt.Sprintf("%s must not contain null.", name),
					Subject:  a.Expr.Range().Ptr(),
				})
				return nil
			}
			if s := strings.TrimSpace(e.AsString()); s != "" {
				out = append(out, s)
			}
		}
		return out
	}
	t.Kind, t.Title = str("kind"), str("title")
	t.Match, t.Points, t.Outline, t.FollowUp = list("match"), list("points"), list("outline"), list("follow_up")
	if t.Kind == "" {
		t.Kind = "general"
	}
	if t.Title == "" {
		t.Title = t.Name
	}
	if diags.HasErrors() {
		return t, diags
	}
	rangeOf := func(name string) *hcl.Range {
		if a, ok := content.Attributes[name]; ok {
			return a.Range.Ptr()
		}
		return b.DefRange.Ptr()
	}
	if isTopic && !contains(topicKinds, t.Kind) {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Unknown topic kind",
			Detail: fmt.Sprintf("Topic %q has kind %q; use one of %s.", t.Name, t.Kind,
				strings.Join(topicKinds, ", ")),
			Subject: rangeOf("kind"),
		})
	}
	if isTopic && len(t.Match) == 0 {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Topic without match phrases",
			Detail:   fmt.Sprintf("Topic %q needs match = [\"...\"]: the phrasings an interviewer uses to ask it.", t.Name),
			Subject:  rangeOf("match"),
		})
	}
	for _, m := range t.Match {
		if len(terms(m)) == 0 {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Match phrase without content words",
				Detail: fmt.Sprintf("Topic %q: the match phrase %q has only common words; add a word that identifies the question.",
					t.Name, m),
				Subject: rangeOf("match"),
			})
		}
	}
	if len(t.Points) == 0 && len(t.Outline) == 0 && len(t.FollowUp) == 0 {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Nothing to suggest",
			Detail:   "The block needs at least one of points, outline or follow_up.",
			Subject:  b.DefRange.Ptr(),
		})
	}
	return t, diags
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// RenderDiagnostics renders diags as text: one "file:line,col: summary" line per
// diagnostic, then the diagnostics with their source snippets, as earshot prints
// configuration diagnostics.
func RenderDiagnostics(files map[string]*hcl.File, diags hcl.Diagnostics) string {
	var b strings.Builder
	for _, d := range diags {
		if d.Subject != nil {
			fmt.Fprintf(&b, "%s:%d,%d: ", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column)
		}
		fmt.Fprintf(&b, "%s\n", d.Summary)
	}
	b.WriteString("\n")
	w := hcl.NewDiagnosticTextWriter(&b, files, 100, false)
	if err := w.WriteDiagnostics(diags); err != nil {
		return diags.Error()
	}
	return strings.TrimSpace(b.String())
}
