// Package corpus holds the text rules shared by the domain language model
// generator and the tests that check the model's corpus is held out from the
// accuracy sentences.
package corpus

import (
	"bufio"
	"os"
	"strings"
	"unicode"
)

// ReadLines returns the non-empty lines of a file that are not # comments.
func ReadLines(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		out = append(out, l)
	}
	return out, sc.Err()
}

// Split cuts text into sentences at . ? ! ; : and dashes.
func Split(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool {
		return strings.ContainsRune(".?!;:—–", r)
	})
}

// Words lower-cases a sentence and returns its words as the dictionary spells
// them: letters, digits and inner apostrophes; other characters separate words.
func Words(s string) []string {
	s = strings.ReplaceAll(strings.ToLower(s), "’", "'")
	fs := strings.FieldsFunc(s, func(r rune) bool {
		return !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '\'')
	})
	out := fs[:0]
	for _, f := range fs {
		if f = strings.Trim(f, "'"); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// Near reports whether a corpus sentence is too close to an evaluation
// sentence q for q to count as held out: one contains the other (the corpus
// sentence with at least three words), or their word edit distance is at
// most a third of q's length (at least 1).
func Near(sentence, q string) bool {
	s, t := Words(sentence), Words(q)
	if contains(s, t) || (len(s) >= 3 && contains(t, s)) {
		return true
	}
	return editDistance(s, t) <= max(1, len(t)/3)
}

// NearAny reports whether sentence is Near any of qs.
func NearAny(sentence string, qs []string) bool {
	for _, q := range qs {
		if Near(sentence, q) {
			return true
		}
	}
	return false
}

func contains(hay, needle []string) bool {
	if len(needle) == 0 {
		return false
	}
	for i := 0; i+len(needle) <= len(hay); i++ {
		match := true
		for j := range needle {
			if hay[i+j] != needle[j] {
				match = false
				break
			}
		}
		if match {
			return true
		}
	}
	return false
}

func editDistance(a, b []string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := prev[j-1]
			if a[i-1] != b[j-1] {
				c++
			}
			cur[j] = min(c, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
