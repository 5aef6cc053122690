// Command lmgen builds the sphinx transcriber's interview-domain language model:
// an ARPA trigram model with absolute discounting, interpolated with the lower
// orders and written in backoff form (as SRILM writes interpolated models).
//
// The corpus is the interview-question text that exists independently of the
// accuracy tests: the `match` phrasings and `follow_up` questions of the coach
// knowledge base and a hand-written list of common interview questions. Words
// missing from the pronunciation dictionary cannot be recognised, so sentences
// containing them are dropped. Sentences close to any line of the -exclude file
// (the sentences the accuracy tests speak) are dropped too, so the tests
// measure the model on held-out questions. The sentences used are written next
// to the model (-corpus-out) so that tests can check that claim.
//
//	go run ./internal/lmgen -kb ../coach/knowledge/interview.hcl \
//	    -questions internal/lmgen/questions.txt -exclude testdata/evaluation-questions.txt \
//	    -dict /usr/share/pocketsphinx/model/en-us/cmudict-en-us.dict \
//	    -o interview.lm -corpus-out testdata/interview-corpus.txt
package main

import (
	"bufio"
	"flag"
	"fmt"
	"math"
	"os"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/earshot-dev/earshot/plugins/sphinx/internal/lmgen/corpus"
)

func main() {
	kb := flag.String("kb", "", "coach knowledge base (HCL): its match and follow_up strings are read")
	questions := flag.String("questions", "", "hand-written corpus, one sentence a line, # comments")
	exclude := flag.String("exclude", "", "sentences to keep out of the corpus (and near ones), one a line")
	dict := flag.String("dict", "/usr/share/pocketsphinx/model/en-us/cmudict-en-us.dict", "pronunciation dictionary")
	out := flag.String("o", "interview.lm", "ARPA output")
	corpusOut := flag.String("corpus-out", "", "write the sentences used here")
	discount := flag.Float64("d", 0.7, "absolute discount")
	flag.Parse()
	if err := run(*kb, *questions, *exclude, *dict, *out, *corpusOut, *discount); err != nil {
		fmt.Fprintln(os.Stderr, "lmgen:", err)
		os.Exit(1)
	}
}

func run(kb, questions, exclude, dict, out, corpusOut string, d float64) error {
	var raw []string
	if kb != "" {
		s, err := kbSentences(kb)
		if err != nil {
			return err
		}
		raw = append(raw, s...)
	}
	if questions != "" {
		s, err := corpus.ReadLines(questions)
		if err != nil {
			return err
		}
		raw = append(raw, s...)
	}
	var excl []string
	if exclude != "" {
		s, err := corpus.ReadLines(exclude)
		if err != nil {
			return err
		}
		excl = s
	}
	vocab, err := readDict(dict)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	var sents []string
	var oov, near int
	for _, r := range raw {
		// A sentence may hold several questions ("Why? And how?"): split them.
		for _, part := range corpus.Split(r) {
			ws := corpus.Words(part)
			if len(ws) == 0 {
				continue
			}
			ok := true
			for _, w := range ws {
				if !vocab[w] {
					ok = false
				}
			}
			if !ok {
				oov++
				continue
			}
			s := strings.Join(ws, " ")
			if seen[s] {
				continue
			}
			seen[s] = true
			if corpus.NearAny(s, excl) {
				near++
				continue
			}
			sents = append(sents, s)
		}
	}
	sort.Strings(sents)
	fmt.Fprintf(os.Stderr, "lmgen: %d sentences (%d dropped for unknown words, %d near an excluded sentence)\n", len(sents), oov, near)
	if corpusOut != "" {
		if err := os.WriteFile(corpusOut, []byte(strings.Join(sents, "\n")+"\n"), 0o644); err != nil {
			return err
		}
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	writeARPA(w, sents, d)
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// kbSentences reads every string of the `match` and `follow_up` lists of the
// knowledge base's topic blocks.
func kbSentences(path string) ([]string, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	file, diags := hclsyntax.ParseConfig(src, path, hcl.InitialPos)
	if diags.HasErrors() {
		return nil, diags
	}
	var out []string
	for _, b := range file.Body.(*hclsyntax.Body).Blocks {
		for name, attr := range b.Body.Attributes {
			if name != "match" && name != "follow_up" {
				continue
			}
			v, diags := attr.Expr.Value(nil)
			if diags.HasErrors() {
				return nil, diags
			}
			if !v.CanIterateElements() {
				continue
			}
			for it := v.ElementIterator(); it.Next(); {
				_, e := it.Element()
				if e.Type() == cty.String && e.IsKnown() && !e.IsNull() {
					out = append(out, e.AsString())
				}
			}
		}
	}
	return out, nil
}

// readDict returns the dictionary's words (alternative pronunciations such
// as "read(2)" count as the word).
func readDict(path string) (map[string]bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	words := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		w, _, _ := strings.Cut(sc.Text(), " ")
		if i := strings.IndexByte(w, '('); i > 0 {
			w = w[:i]
		}
		if w != "" {
			words[w] = true
		}
	}
	return words, sc.Err()
}

const (
	bos = "<s>"
	eos = "</s>"
)

// writeARPA writes an interpolated absolute-discounting trigram model of the
// sentences in ARPA backoff form. For a context h seen c(h) times with n1(h)
// distinct followers,
//
//	P(w|h) = max(c(h,w)-d, 0)/c(h) + d·n1(h)/c(h) · P(w|h')
//
// The stored probability of a seen n-gram is that interpolated value and the
// backoff weight of h is d·n1(h)/c(h), which makes the backoff form exact.
// Unigrams are interpolated the same way with the uniform distribution.
func writeARPA(w *bufio.Writer, sents []string, d float64) {
	counts := [4]map[string]int{nil, {}, {}, {}} // by order, key: words joined by " "
	for _, s := range sents {
		ws := append(append([]string{bos}, strings.Fields(s)...), eos)
		for i := range ws {
			for n := 1; n <= 3 && i+n <= len(ws); n++ {
				counts[n][strings.Join(ws[i:i+n], " ")]++
			}
		}
	}
	// ctx[n][h]: total count and distinct followers of context h (n-1 words).
	type ctxStat struct{ total, distinct int }
	ctx := [4]map[string]*ctxStat{nil, {}, {}, {}}
	for n := 1; n <= 3; n++ {
		for k, c := range counts[n] {
			h := ""
			if i := strings.LastIndexByte(k, ' '); i >= 0 {
				h = k[:i]
			}
			st := ctx[n][h]
			if st == nil {
				st = &ctxStat{}
				ctx[n][h] = st
			}
			st.total += c
			st.distinct++
		}
	}
	// Unigrams: <s> is never predicted; its count is not part of the mass.
	uni := ctx[1][""]
	uni.total -= counts[1][bos]
	uni.distinct--
	vocab := len(counts[1]) - 1
	prob := map[string]float64{}
	p1 := func(word string) float64 {
		c := float64(counts[1][word])
		return math.Max(c-d, 0)/float64(uni.total) + d*float64(uni.distinct)/float64(uni.total)/float64(vocab)
	}
	for k := range counts[1] {
		if k != bos {
			prob[k] = p1(k)
		}
	}
	var pn func(ws []string) float64
	pn = func(ws []string) float64 {
		if len(ws) == 1 {
			return p1(ws[0])
		}
		h := strings.Join(ws[:len(ws)-1], " ")
		st := ctx[len(ws)][h]
		lower := pn(ws[1:])
		if st == nil {
			return lower
		}
		c := float64(counts[len(ws)][strings.Join(ws, " ")])
		return math.Max(c-d, 0)/float64(st.total) + d*float64(st.distinct)/float64(st.total)*lower
	}
	bow := func(h string, order int) (float64, bool) {
		st := ctx[order+1][h]
		if st == nil {
			return 0, false
		}
		return d * float64(st.distinct) / float64(st.total), true
	}
	keys := func(n int) []string {
		ks := make([]string, 0, len(counts[n]))
		for k := range counts[n] {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		return ks
	}
	fmt.Fprintf(w, "Interview-domain trigram model written by plugins/sphinx/internal/lmgen\n")
	fmt.Fprintf(w, "(absolute discounting d=%g, interpolated, %d sentences).\n\n", d, len(sents))
	fmt.Fprintf(w, "\\data\\\n")
	for n := 1; n <= 3; n++ {
		fmt.Fprintf(w, "ngram %d=%d\n", n, len(counts[n]))
	}
	for n := 1; n <= 3; n++ {
		fmt.Fprintf(w, "\n\\%d-grams:\n", n)
		for _, k := range keys(n) {
			var lp float64
			switch {
			case k == bos:
				lp = -99
			case n == 1:
				lp = math.Log10(prob[k])
			default:
				lp = math.Log10(pn(strings.Fields(k)))
			}
			if n < 3 {
				if b, ok := bow(k, n); ok {
					fmt.Fprintf(w, "%.6f\t%s\t%.6f\n", lp, k, math.Log10(b))
					continue
				}
			}
			fmt.Fprintf(w, "%.6f\t%s\n", lp, k)
		}
	}
	fmt.Fprintf(w, "\n\\end\\\n")
}
