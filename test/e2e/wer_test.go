package e2e

import (
	"strings"
	"testing"
	"unicode"
)

// words lowercases s, strips punctuation (apostrophes are kept inside words) and
// splits it into words.
func words(s string) []string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '\'':
			b.WriteRune(r)
		default:
			b.WriteRune(' ')
		}
	}
	out := strings.Fields(b.String())
	for i, w := range out {
		w = strings.Trim(w, "'")
		if v, ok := spellings[w]; ok {
			w = v
		}
		out[i] = w
	}
	return out
}

// spellings maps a recogniser's spelling to the reference's (PocketSphinx's
// dictionary writes "mr" where the LibriVox transcript says "mister").
var spellings = map[string]string{"mr": "mister", "mrs": "missus"}

// wordErrors is the Levenshtein distance between the word sequences of ref and hyp
// (substitutions, insertions, deletions) and the number of reference words.
func wordErrors(ref, hyp string) (errs, n int) {
	r, h := words(ref), words(hyp)
	prev := make([]int, len(h)+1)
	cur := make([]int, len(h)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(r); i++ {
		cur[0] = i
		for j := 1; j <= len(h); j++ {
			cost := 1
			if r[i-1] == h[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(h)], len(r)
}

// wer is the word error rate of hyp against ref.
func wer(ref, hyp string) float64 {
	e, n := wordErrors(ref, hyp)
	if n == 0 {
		if e == 0 {
			return 0
		}
		return 1
	}
	return float64(e) / float64(n)
}

// missingWords returns the key words absent from hyp.
func missingWords(hyp string, keys ...string) []string {
	have := map[string]bool{}
	for _, w := range words(hyp) {
		have[w] = true
	}
	var out []string
	for _, k := range keys {
		if !have[k] {
			out = append(out, k)
		}
	}
	return out
}

func TestWordErrors(t *testing.T) {
	cases := []struct {
		ref, hyp string
		errs, n  int
	}{
		{"tell me about yourself", "tell me about yourself", 0, 4},
		{"Tell me, about YOURSELF!", "tell me about yourself", 0, 4},
		{"tell me about yourself", "tell me about your self", 2, 4}, // 1 substitution + 1 insertion
		{"tell me about yourself", "tell about yourself", 1, 4},     // deletion
		{"tell me about yourself", "", 4, 4},
		{"", "noise", 1, 0},
		{"go forward ten meters", "go forward ten meters please", 1, 4},
		{"a b c d", "d c b a", 4, 4},
		{"don't stop", "dont stop", 1, 2},
		{"and mister john", "and mr john", 0, 3},
	}
	for _, c := range cases {
		e, n := wordErrors(c.ref, c.hyp)
		if e != c.errs || n != c.n {
			t.Errorf("wordErrors(%q, %q) = %d/%d, want %d/%d", c.ref, c.hyp, e, n, c.errs, c.n)
		}
	}
	if got := wer("a b c d", "a x c d"); got != 0.25 {
		t.Errorf("wer = %v, want 0.25", got)
	}
	if m := missingWords("Tell me about yourself.", "yourself", "conflict"); len(m) != 1 || m[0] != "conflict" {
		t.Errorf("missingWords = %v", m)
	}
}
