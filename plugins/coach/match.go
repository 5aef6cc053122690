package coach

import (
	"math"
	"sort"
)

// Matching scores a question against every topic's match phrases with weighted
// term overlap. Each term is weighted by how specific it is to a topic (an IDF
// over topics: "conflict" names one topic, "team" appears in several), and a
// phrase scores an F2 measure of the weighted overlap: recall (how much of the
// phrase the question contains) counts four times as much as precision (how much
// of the question the phrase explains), because spoken questions wrap the key
// phrase in preamble and speech-recognition noise. A phrase whose terms appear in
// the question in the same order gets a small bonus. A topic scores its best
// phrase. Scores are 0..1; 1 is the phrase's content words, alone.

// unknownWeight is the weight of a question term no topic uses: it dilutes the
// precision a little (the question may be about something else) without letting
// recogniser noise swamp a clear match.
const unknownWeight = 1.0

type phrase struct {
	terms  []string // distinct, in order of first appearance
	weight float64  // sum of the terms' weights
}

type indexedTopic struct {
	topic   *Topic
	phrases []phrase
}

// Index is a knowledge base prepared for matching.
type Index struct {
	topics []indexedTopic
	idf    map[string]float64
}

// Match is one topic's score for a question.
type Match struct {
	Topic *Topic
	Score float64
}

// NewIndex prepares kb for matching.
func NewIndex(kb *Knowledge) *Index {
	ix := &Index{idf: map[string]float64{}}
	df := map[string]int{}
	for i := range kb.Topics {
		t := &kb.Topics[i]
		it := indexedTopic{topic: t}
		inTopic := map[string]bool{}
		for _, m := range t.Match {
			ts := distinct(terms(m))
			if len(ts) == 0 {
				continue
			}
			it.phrases = append(it.phrases, phrase{terms: ts})
			for _, term := range ts {
				inTopic[term] = true
			}
		}
		for term := range inTopic {
			df[term]++
		}
		ix.topics = append(ix.topics, it)
	}
	n := float64(len(kb.Topics))
	for term, d := range df {
		ix.idf[term] = 1 + math.Log(n/float64(d))
	}
	for i := range ix.topics {
		for j := range ix.topics[i].phrases {
			p := &ix.topics[i].phrases[j]
			for _, term := range p.terms {
				p.weight += ix.idf[term]
			}
		}
	}
	return ix
}

func (ix *Index) weight(term string) float64 {
	if w, ok := ix.idf[term]; ok {
		return w
	}
	return unknownWeight
}

// Match scores question against every topic and returns the topics with a
// positive score, best first.
func (ix *Index) Match(question string) []Match {
	qs := terms(question)
	qset := map[string]int{} // term → first position
	for i, t := range qs {
		if _, ok := qset[t]; !ok {
			qset[t] = i
		}
	}
	var qweight float64
	for t := range qset {
		qweight += ix.weight(t)
	}
	var out []Match
	for _, it := range ix.topics {
		best := 0.0
		for _, p := range it.phrases {
			if s := ix.scorePhrase(p, qset, qweight); s > best {
				best = s
			}
		}
		if best > 0 {
			out = append(out, Match{Topic: it.topic, Score: best})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Score > out[j].Score })
	return out
}

func (ix *Index) scorePhrase(p phrase, qset map[string]int, qweight float64) float64 {
	if p.weight == 0 || qweight == 0 {
		return 0
	}
	var overlap float64
	inOrder, last := true, -1
	for _, t := range p.terms {
		pos, ok := qset[t]
		if !ok {
			continue
		}
		overlap += ix.idf[t]
		if pos < last {
			inOrder = false
		}
		last = pos
	}
	if overlap == 0 {
		return 0
	}
	recall := overlap / p.weight
	precision := overlap / qweight
	const beta2 = 4.0
	f := (1 + beta2) * precision * recall / (beta2*precision + recall)
	if inOrder && recall == 1 && len(p.terms) > 1 {
		// A multi-word phrase present whole and in order: close the gap to 1 by
		// a quarter.
		f += (1 - f) / 4
	}
	return math.Min(f, 1)
}

func distinct(ts []string) []string {
	seen := map[string]bool{}
	out := ts[:0:0]
	for _, t := range ts {
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	return out
}
