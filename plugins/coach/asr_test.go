package coach

import "testing"

// TestMatchRecognisedSpeech measures question detection and topic matching on
// what PocketSphinx actually heard (testdata/matching-asr.txt, with its
// recognition errors). Not every question survives recognition, so the test
// holds the rates at or above what the current matcher reaches; a change that
// lowers them fails.
func TestMatchRecognisedSpeech(t *testing.T) {
	_, ix := defaultIndex(t)
	cases := readCases(t, "matching-asr.txt")
	var detected, top1 int
	for _, c := range cases {
		q, ok := DetectQuestion(c[1])
		if !ok {
			t.Logf("not detected: %q (%s)", c[1], c[0])
			continue
		}
		detected++
		ms := ix.Match(q)
		if len(ms) > 0 && ms[0].Topic.Name == c[0] && ms[0].Score >= DefaultMinScore {
			top1++
		} else if len(ms) > 0 {
			t.Logf("miss: %q → %s, want %s", c[1], ranking(ms), c[0])
		} else {
			t.Logf("miss: %q → nothing, want %s", c[1], c[0])
		}
	}
	n := len(cases)
	t.Logf("recognised speech: %d questions, detected %d (%.0f%%), right topic %d (%.0f%%)",
		n, detected, 100*float64(detected)/float64(n), top1, 100*float64(top1)/float64(n))
	if float64(detected) < 0.90*float64(n) {
		t.Errorf("detected %d of %d questions, want ≥ 90%%", detected, n)
	}
	if float64(top1) < minASRTop1*float64(n) {
		t.Errorf("right topic for %d of %d questions, want ≥ %.0f%%", top1, n, 100*minASRTop1)
	}
}

// minASRTop1 is the share of recognised questions whose top topic must be right.
const minASRTop1 = 0.81 // 44 of 54 when this was written
