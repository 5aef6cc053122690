package coach

import "strings"

// Question detection works on transcripts without punctuation (PocketSphinx gives
// lowercase words only), so it looks for the shapes spoken questions take:
//
//   - a question word followed by an auxiliary or a question noun: "what is",
//     "why did", "how would", "what kind", "how many", "which";
//   - an auxiliary-verb inversion: "can you", "have you ever", "would you", "is there";
//   - an imperative prompt: "tell me about", "walk me through", "describe a time",
//     "give me an example";
//   - a stated curiosity: "i'm curious", "i'd love to hear", "help me understand".
//
// The cue must start a clause: at the beginning of the utterance, after filler or
// discourse words ("so", "okay", "and", "great"), or for the strongest cues
// anywhere. The returned question is the utterance from the cue onwards, which
// keeps a preamble ("thanks that was helpful") out of matching.

// fillers may precede a question cue at the start of a clause.
var fillers = set(
	"so", "okay", "ok", "and", "but", "um", "uh", "er", "ah", "oh", "well", "alright", "all",
	"right", "now", "then", "great", "good", "cool", "nice", "thanks", "thank", "perfect",
	"sure", "yeah", "yes", "no", "hmm", "mm", "interesting", "awesome", "got", "it", "fine",
	"next", "also", "actually", "just", "lastly", "finally", "first", "second", "maybe",
	"let's", "lets", "move", "on", "to", "switching", "gears", "another", "question",
	"one", "more", "my", "the", "is",
)

// auxiliaries that start a yes/no question when followed by a subject.
var auxiliaries = set(
	"can", "could", "would", "will", "do", "does", "did", "have", "has", "had", "are", "is",
	"was", "were", "should", "shall", "may", "might", "must",
)

// subjects that follow an inverted auxiliary.
var subjects = set(
	"you", "your", "we", "there", "they", "it", "that", "this", "he", "she", "i", "anyone",
	"someone", "people",
)

var questionWords = set("what", "why", "how", "when", "where", "which", "who", "whose", "whom")

// after a question word, these continue a question ("what is", "how many",
// "what kind"); a pronoun directly after one ("what we do here") is a statement.
var questionContinuations = set(
	"is", "are", "was", "were", "do", "does", "did", "would", "could", "can", "will",
	"should", "have", "has", "had", "made", "makes", "make", "kind", "type", "types", "sort",
	"sorts", "many", "much", "long", "often", "well", "big", "large", "motivates",
	"motivated", "interests", "interested", "attracted", "drew", "brings", "brought",
	"excites", "about", "part", "parts", "areas", "area", "tools", "language", "languages",
	"technologies", "frameworks", "approach", "steps", "happened", "happens", "went",
	"comes", "came", "not", "exactly", "specifically", "else", "percentage", "role",
	"was", "led", "keeps", "drives", "challenges", "would've", "is", "s",
)

// prompts are imperative or declarative phrasings that ask for an answer. They
// count anywhere in the utterance.
var prompts = [][]string{
	{"tell", "me"}, {"tell", "us"}, {"walk", "me", "through"}, {"walk", "us", "through"},
	{"talk", "me", "through"}, {"talk", "us", "through"},
	// PocketSphinx often hears "talk me through" as "talked me through".
	{"talked", "me", "through"}, {"walked", "me", "through"}, {"take", "me", "through"},
	{"take", "us", "through"}, {"give", "me", "an", "example"}, {"give", "us", "an", "example"},
	{"give", "me", "a"}, {"describe", "a"}, {"describe", "an"}, {"describe", "the"},
	{"describe", "your"}, {"describe", "how"}, {"describe", "yourself"}, {"explain", "how"},
	{"explain", "what"}, {"explain", "why"}, {"explain", "the"}, {"explain", "your"},
	{"talk", "about"}, {"share", "a"}, {"share", "an"}, {"share", "your"},
	{"i", "am", "curious"}, {"i", "would", "love", "to", "hear"},
	{"i", "would", "like", "to", "hear"}, {"i", "would", "like", "to", "know"},
	{"i", "want", "to", "hear"}, {"i", "want", "to", "know"}, {"i", "wonder"},
	{"i", "was", "wondering"}, {"help", "me", "understand"}, {"introduce", "yourself"},
	{"how", "about"}, {"what", "about"}, {"have", "you", "ever"},
	{"is", "there", "anything"}, {"are", "there", "any"}, {"do", "you", "have", "any"},
	{"any", "questions"}, {"design", "a"}, {"design", "an"}, {"how", "would", "you"}, {"what", "would", "you"},
}

// statementsBefore marks "why"/"how" used inside a statement ("that's why we",
// "this is how it works").
var statementsBefore = set("that", "is", "reason", "which", "exactly", "know", "see", "matter")

// DetectQuestion reports whether text (one final transcript) asks something, and
// returns the question part: the text from the first question cue onwards.
func DetectQuestion(text string) (question string, ok bool) {
	ws := dedupe(expand(words(text)))
	if len(ws) < 2 {
		return "", false
	}
	at := cueIndex(ws)
	if at < 0 {
		return "", false
	}
	return strings.Join(ws[at:], " "), true
}

// dedupe drops immediate repetitions ("what what would you"), a common
// disfluency that hides the question shape.
func dedupe(ws []string) []string {
	out := ws[:0:0]
	for i, w := range ws {
		if i > 0 && w == ws[i-1] {
			continue
		}
		out = append(out, w)
	}
	return out
}

// cueIndex returns the index of the first word of the first question cue, or -1.
func cueIndex(ws []string) int {
	for i := range ws {
		for _, p := range prompts {
			if hasPrefixAt(ws, i, p) && promptApplies(ws, i, p) {
				return i
			}
		}
		clauseStart := i == 0 || onlyFillersBefore(ws, i) || clauseBreak(ws[i-1])
		w := ws[i]
		switch {
		case questionWords[w]:
			if i > 0 && statementsBefore[ws[i-1]] {
				continue
			}
			if i+1 >= len(ws) {
				// A trailing "why" / "how come" alone is a question only when it is
				// nearly all the utterance says.
				if clauseStart && len(ws) <= 3 {
					return i
				}
				continue
			}
			next := ws[i+1]
			if questionContinuations[next] || (w == "which" && !subjects[next]) ||
				(w == "why" && clauseStart) || (w == "how" && next == "come") ||
				(w == "who" && !subjects[next]) {
				return i
			}
		case auxiliaries[w] && clauseStart:
			if i+1 < len(ws) && subjects[ws[i+1]] {
				// "is it" / "it is" after fillers ("ok it is") is not inverted; demand a
				// verb-ish word after the subject for the weak auxiliaries.
				return i
			}
		}
	}
	return -1
}

// promptApplies rules out the prompts' statement uses: "let me tell you about",
// "you told me", "people talk about".
func promptApplies(ws []string, i int, p []string) bool {
	switch p[0] {
	case "talk", "talked", "walked":
		// "talk about" asks only when addressed: "can you talk about", "let's talk
		// about", or at the start of a clause.
		return i == 0 || onlyFillersBefore(ws, i) || ws[i-1] == "you" || ws[i-1] == "us"
	case "how", "what":
		// "how about" / "what about" are follow-up questions only at a clause start.
		return i == 0 || onlyFillersBefore(ws, i) || clauseBreak(ws[i-1])
	case "design":
		return i == 0 || onlyFillersBefore(ws, i) || ws[i-1] == "you" || ws[i-1] == "would"
	case "describe", "explain", "share", "give", "tell", "walk", "take":
		// "i'll tell you", "we share a", "to give me a": a first-person or infinitive
		// subject in front makes it a statement.
		if i > 0 {
			switch ws[i-1] {
			case "i", "we", "they", "will", "to", "he", "she", "lets", "let":
				return false
			}
		}
		return true
	}
	return true
}

// hasPrefixAt reports whether ws[i:] starts with p.
func hasPrefixAt(ws []string, i int, p []string) bool {
	if i+len(p) > len(ws) {
		return false
	}
	for j, w := range p {
		if ws[i+j] != w {
			return false
		}
	}
	return true
}

func onlyFillersBefore(ws []string, i int) bool {
	for _, w := range ws[:i] {
		if !fillers[w] {
			return false
		}
	}
	return true
}

// clauseBreak reports whether w usually ends a clause or introduces a new one
// in speech without punctuation.
func clauseBreak(w string) bool {
	switch w {
	case "so", "okay", "ok", "and", "but", "now", "then", "alright", "great", "cool", "thanks",
		"good", "interesting", "perfect", "nice", "awesome", "right", "well", "sense", "question":
		return true
	}
	return false
}
