package coach

import (
	"strings"
	"unicode"
)

// words splits text into lowercase words. Apostrophes are kept inside words
// ("what's") because question detection looks at contractions; everything else
// that is not a letter or digit separates words. PocketSphinx already gives
// lowercase text without punctuation; typed or LLM-produced text may not.
func words(text string) []string {
	var out []string
	var b strings.Builder
	flush := func() {
		if b.Len() > 0 {
			out = append(out, strings.Trim(b.String(), "'"))
			b.Reset()
		}
	}
	for _, r := range strings.ToLower(text) {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		case r == '\'' || r == '’':
			b.WriteRune('\'')
		default:
			flush()
		}
	}
	flush()
	// Trim can leave empty strings for a lone apostrophe.
	kept := out[:0]
	for _, w := range out {
		if w != "" {
			kept = append(kept, w)
		}
	}
	return kept
}

// stopWords carry no topic information in interview questions. Words that do
// discriminate between topics ("why", "yourself", "weakness", "five") stay.
var stopWords = set(
	"a", "about", "after", "again", "all", "also", "am", "an", "and", "any", "are", "as", "at",
	"be", "been", "before", "being", "both", "but", "by",
	"can", "could", "did", "do", "does", "doing", "done", "during",
	"each", "ever", "for", "from", "get", "got", "had", "has", "have", "having", "he", "her", "here",
	"him", "his", "how", "i", "if", "in", "into", "is", "it", "its", "just", "kind", "know", "let",
	"like", "maybe", "me", "might", "more", "most", "much", "my", "of", "ok", "okay", "on", "one",
	"or", "our", "out", "please", "really", "right", "say", "she", "should", "so", "some", "sort",
	"tell", "than", "that", "the", "their", "them", "then", "there", "these", "they", "thing",
	"things", "this", "those", "through", "to", "too", "uh", "um", "up", "us", "very", "was", "we",
	"well", "were", "what", "when", "where", "which", "while", "who", "will", "with", "would",
	"you", "your", "yours", "yeah", "s", "t", "d", "ll", "re", "ve", "m",
	"give", "example", "describe", "talk", "walk", "explain", "share", "go", "think",
	"want", "wanted", "mean", "time", "times", "situation", "moment", "ways", "way",
)

func set(ws ...string) map[string]bool {
	m := make(map[string]bool, len(ws))
	for _, w := range ws {
		m[w] = true
	}
	return m
}

// contractions expands the contractions that hide a content word.
var contractions = map[string][]string{
	"what's": {"what", "is"}, "how's": {"how", "is"}, "where's": {"where", "is"},
	"who's": {"who", "is"}, "why's": {"why", "is"}, "that's": {"that", "is"},
	"there's": {"there", "is"}, "it's": {"it", "is"}, "let's": {"let", "us"},
	"you're": {"you", "are"}, "you've": {"you", "have"}, "you'd": {"you", "would"},
	"you'll": {"you", "will"}, "i'm": {"i", "am"}, "i've": {"i", "have"}, "i'd": {"i", "would"},
	"i'll": {"i", "will"}, "we're": {"we", "are"}, "we've": {"we", "have"}, "we'd": {"we", "would"},
	"they're": {"they", "are"}, "don't": {"do", "not"}, "didn't": {"did", "not"},
	"doesn't": {"does", "not"}, "can't": {"can", "not"}, "won't": {"will", "not"},
	"wouldn't": {"would", "not"}, "couldn't": {"could", "not"}, "isn't": {"is", "not"},
	"aren't": {"are", "not"}, "wasn't": {"was", "not"}, "haven't": {"have", "not"},
}

// expand replaces contractions by their parts and drops possessive 's.
func expand(ws []string) []string {
	out := make([]string, 0, len(ws))
	for _, w := range ws {
		if parts, ok := contractions[w]; ok {
			out = append(out, parts...)
			continue
		}
		out = append(out, strings.TrimSuffix(w, "'s"))
	}
	return out
}

// irregular maps word forms a suffix stripper gets wrong onto one stem.
var irregular = map[string]string{
	"led": "lead", "leading": "lead", "leader": "lead", "leaders": "lead", "leadership": "lead",
	"failed": "fail", "failure": "fail", "failures": "fail", "failing": "fail",
	"hardest": "hard", "harder": "hard", "toughest": "tough", "tougher": "tough",
	"biggest": "big", "bigger": "big", "greatest": "great", "largest": "large",
	"weaknesses": "weak", "weakness": "weak", "weak": "weak",
	"strengths": "strong", "strength": "strong", "strong": "strong", "strongest": "strong",
	"mistakes": "mistake", "mistake": "mistake", "wrong": "mistake",
	"went": "go", "gone": "go", "made": "make", "making": "make",
	"chose": "choose", "chosen": "choose", "choice": "choose", "choices": "choose",
	"decided": "decide", "decision": "decide", "decisions": "decide",
	// Interviewers use these interchangeably for one family of questions.
	"disagree": "conflict", "disagreed": "conflict", "disagreement": "conflict",
	"disagreements": "conflict", "disagreeing": "conflict", "conflicts": "conflict",
	"conflicting": "conflict", "argument": "conflict", "arguments": "conflict",
	"clash": "conflict", "clashed": "conflict",
	"coworker": "colleague", "coworkers": "colleague", "co": "co", "colleagues": "colleague",
	"teammate": "colleague", "teammates": "colleague", "peer": "colleague", "peers": "colleague",
	"boss": "manager", "supervisor": "manager", "managers": "manager",
	"salary": "salary", "compensation": "salary", "pay": "salary", "paid": "salary",
	"years": "year", "yrs": "year",
	"bugs": "bug", "debugging": "debug", "debugged": "debug", "troubleshoot": "debug",
	"troubleshooting": "debug", "troubleshooted": "debug",
	"scaling": "scale", "scaled": "scale", "scalable": "scale", "scalability": "scale",
	"tests": "test", "testing": "test", "tested": "test",
	"databases": "database", "db": "database", "sql": "sql",
	"apis": "api", "designed": "design", "designing": "design", "designs": "design",
	"architected": "architecture", "architect": "architecture",
	"proudest": "proud", "prouder": "proud",
	"hired": "hire", "hiring": "hire",
	"leaving": "leave", "left": "leave", "quit": "leave", "quitting": "leave",
	"deadlines": "deadline", "priorities": "prioritize", "prioritise": "prioritize",
	"prioritising": "prioritize", "prioritizing": "prioritize", "priority": "prioritize",
	"reviews": "review", "reviewing": "review", "reviewed": "review",
	"mentored": "mentor", "mentoring": "mentor", "mentorship": "mentor", "coached": "mentor",
	"coaching": "mentor",
	"pressure": "stress", "stressful": "stress", "stressed": "stress",
	"learned": "learn", "learnt": "learn", "learning": "learn",
	"feedback": "feedback", "criticism": "feedback", "criticized": "feedback",
	"criticised": "feedback",
	"yourself":   "yourself",
	"outage":     "incident", "outages": "incident", "incidents": "incident", "production": "production",
	"motivates": "motivate", "motivated": "motivate", "motivation": "motivate",
	"ambiguous": "ambiguity", "unclear": "ambiguity", "vague": "ambiguity",
	"tradeoff": "tradeoff", "tradeoffs": "tradeoff", "trade": "tradeoff", "offs": "tradeoff",
}

// stem is a deliberately small suffix stripper ("stemming-lite"): it folds plural
// and verb endings so that "handled", "handling" and "handle" meet, without the
// surprises of a full Porter stemmer on short interview vocabulary.
func stem(w string) string {
	if s, ok := irregular[w]; ok {
		// Irregular targets go through the suffix rules too, so that the target
		// word itself ("colleague") and its irregular forms meet on one stem.
		w = s
	}
	if len(w) <= 3 {
		return w
	}
	for _, suf := range []struct{ from, to string }{
		{"ies", "y"}, {"ied", "y"}, {"ing", ""}, {"ed", ""}, {"es", ""}, {"s", ""},
	} {
		if !strings.HasSuffix(w, suf.from) || len(w)-len(suf.from) < 3 {
			continue
		}
		if suf.from == "s" && strings.HasSuffix(w, "ss") {
			return w
		}
		if suf.from == "es" && !strings.HasSuffix(w, "sses") && !strings.HasSuffix(w, "ches") &&
			!strings.HasSuffix(w, "shes") && !strings.HasSuffix(w, "xes") {
			// "handles" → "handle", not "handl".
			suf.from, suf.to = "s", ""
		}
		base := w[:len(w)-len(suf.from)] + suf.to
		// Undo the consonant doubling of "planned", "debugging".
		if (suf.from == "ing" || suf.from == "ed") && len(base) >= 4 {
			n := len(base)
			if base[n-1] == base[n-2] && !strings.ContainsRune("aeiouls", rune(base[n-1])) {
				base = base[:n-1]
			}
		}
		// "handl" + e: an -ed/-ing word whose base ended in e loses it; fold both
		// forms onto the e-less base by trimming a trailing e everywhere.
		return strings.TrimSuffix(base, "e")
	}
	return strings.TrimSuffix(w, "e")
}

// terms turns text into the content terms used for matching: words, contractions
// expanded, stop words dropped, stems.
func terms(text string) []string {
	ws := expand(words(text))
	out := make([]string, 0, len(ws))
	for _, w := range ws {
		if stopWords[w] {
			continue
		}
		out = append(out, stem(w))
	}
	return out
}
