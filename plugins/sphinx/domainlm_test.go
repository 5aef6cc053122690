package sphinx

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/earshot-dev/earshot/plugins/sphinx/internal/lmgen/corpus"
)

// evaluationSentences is every sentence the tests speak.
func evaluationSentences() []string {
	all := slices.Concat(interviewQuestions, moreQuestions, streamQuestions)
	slices.Sort(all)
	return slices.Compact(all)
}

// TestDomainCorpusHeldOut checks that the domain model's corpus is held out
// from the accuracy sentences: the exclusion list lmgen used is exactly the
// sentences the tests speak, and no corpus sentence is near any of them.
func TestDomainCorpusHeldOut(t *testing.T) {
	excl, err := corpus.ReadLines("testdata/evaluation-questions.txt")
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(excl)
	if want := evaluationSentences(); !slices.Equal(slices.Compact(excl), want) {
		t.Errorf("testdata/evaluation-questions.txt is not the tests' sentences: got %q, want %q (update it and run go generate)", excl, want)
	}
	sents, err := corpus.ReadLines("testdata/interview-corpus.txt")
	if err != nil {
		t.Fatal(err)
	}
	if len(sents) < 100 {
		t.Fatalf("corpus has %d sentences", len(sents))
	}
	for _, s := range sents {
		for _, q := range evaluationSentences() {
			if corpus.Near(s, q) {
				t.Errorf("corpus sentence %q is near the test sentence %q", s, q)
			}
		}
	}
}

// TestNear pins the closeness rule the held-out claim rests on.
func TestNear(t *testing.T) {
	for _, c := range []struct {
		s, q string
		want bool
	}{
		{"tell me about yourself", "tell me about yourself", true},
		{"so tell me about yourself please", "tell me about yourself", true},
		{"conflict with a colleague", "how do you handle conflict with a colleague", true},
		{"why should i hire you", "why should we hire you", true},
		{"what are your strengths", "what are your greatest strengths", true},
		{"biggest weakness", "what is your biggest weakness", false},
		{"how do you handle stress", "how do you handle conflict with a colleague", false},
		{"what salary are you looking for", "what are your salary expectations", false},
	} {
		if got := corpus.Near(c.s, c.q); got != c.want {
			t.Errorf("Near(%q, %q) = %v, want %v", c.s, c.q, got, c.want)
		}
	}
}

// TestDomainLMUpToDate regenerates the model and checks it matches the
// committed interview.lm and corpus (run go generate after changing the
// corpus, the coach knowledge base or the generator).
func TestDomainLMUpToDate(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the generator")
	}
	dir := t.TempDir()
	lm, txt := filepath.Join(dir, "interview.lm"), filepath.Join(dir, "corpus.txt")
	cmd := exec.Command("go", "run", "./internal/lmgen", "-kb", "../coach/knowledge/interview.hcl",
		"-questions", "internal/lmgen/questions.txt", "-exclude", "testdata/evaluation-questions.txt",
		"-o", lm, "-corpus-out", txt)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("lmgen: %v\n%s", err, out)
	}
	for _, f := range [][2]string{{lm, "interview.lm"}, {txt, "testdata/interview-corpus.txt"}} {
		got, err := os.ReadFile(f[0])
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(f[1])
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is stale: run go generate ./plugins/sphinx/", f[1])
		}
	}
	if !bytes.Equal(interviewLM, mustRead(t, "interview.lm")) {
		t.Error("embedded model differs from interview.lm")
	}
	if !strings.HasPrefix(string(interviewLM), "Interview-domain") {
		t.Error("unexpected model header")
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
