package whisper

import (
	"encoding/json"
	"testing"
	"time"
)

// FuzzResponse feeds arbitrary server answers through the response handling: no
// panic, confidences in [0, 1], word ends not before their starts.
func FuzzResponse(f *testing.F) {
	for _, seed := range []string{
		`{"text":" hello "}`,
		`{"text":"a b","segments":[{"start":0,"end":1,"text":"a b","avg_logprob":-0.3,"words":[{"word":"a","start":0.1,"end":0.2,"probability":0.5}]}]}`,
		`{"text":"x","words":[{"word":" x","start":2,"end":1,"probability":7}]}`,
		`{"text":"[BLANK_AUDIO] (music) ]["}`,
		`{"error":{"message":"nope"}}`,
		`not json`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = apiMessage(b)
		var r response
		if json.Unmarshal(b, &r) != nil {
			return
		}
		res := result(r, Event{Start: time.Second, Begin: time.Second, End: 2 * time.Second})
		if res.Confidence < 0 || res.Confidence > 1 {
			t.Fatalf("confidence %v", res.Confidence)
		}
		for _, w := range res.Words {
			if w.End < w.Start || w.Confidence < 0 || w.Confidence > 1 {
				t.Fatalf("word %+v", w)
			}
		}
	})
}
