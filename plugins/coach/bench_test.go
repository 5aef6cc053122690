package coach

import (
	"strings"
	"testing"
)

// BenchmarkQuestion measures detecting and matching one question against the
// default knowledge base — the coach's whole per-utterance cost.
func BenchmarkQuestion(b *testing.B) {
	kb, _, diags, err := LoadKnowledge("")
	if err != nil || diags.HasErrors() {
		b.Fatal(err, diags)
	}
	ix := NewIndex(kb)
	text := "okay great thanks so tell me about a time you had a conflict with a coworker and how you resolved it"
	b.ReportAllocs()
	for b.Loop() {
		q, ok := DetectQuestion(text)
		if !ok || ix.Match(q)[0].Topic.Name != "conflict" {
			b.Fatal("no match")
		}
	}
}

// FuzzDetectQuestion: no panic, and the question is the tail of the normalised
// utterance; matching any question is safe.
func FuzzDetectQuestion(f *testing.F) {
	for _, s := range []string{
		"tell me about yourself", "so what we do here is build payments", "what's your greatest weakness?",
		"can you", "why", "", "'''", "i'd love to hear about it", "how about", "design a",
	} {
		f.Add(s)
	}
	kb, _, _, err := LoadKnowledge("")
	if err != nil {
		f.Fatal(err)
	}
	ix := NewIndex(kb)
	f.Fuzz(func(t *testing.T, s string) {
		q, ok := DetectQuestion(s)
		if !ok {
			return
		}
		if !strings.HasSuffix(strings.Join(dedupe(expand(words(s))), " "), q) {
			t.Fatalf("question %q is not the tail of %q", q, s)
		}
		for _, m := range ix.Match(q) {
			if m.Score <= 0 || m.Score > 1 {
				t.Fatalf("score %v", m.Score)
			}
		}
	})
}
