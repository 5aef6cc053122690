package whisper

import (
	"testing"
	"time"
)

func testEndpointer(rate int) *Endpointer {
	return NewEndpointer(EndpointerConfig{
		SampleRate: rate, ThresholdDBFS: -40, Hangover: 500 * time.Millisecond,
		MinSpeech: 250 * time.Millisecond, MaxUtterance: 5 * time.Second,
		PreRoll: 200 * time.Millisecond, TrailingSilence: 300 * time.Millisecond,
	})
}

// run feeds audio in chunks of chunk samples, then flushes.
func run(e *Endpointer, audio []int16, chunk int) []Event {
	var evs []Event
	for i := 0; i < len(audio); i += chunk {
		evs = append(evs, e.Push(audio[i:min(i+chunk, len(audio))])...)
	}
	return append(evs, e.Flush()...)
}

func near(a, b time.Duration) bool { return a-b < 45*time.Millisecond && b-a < 45*time.Millisecond }

func TestEndpointer(t *testing.T) {
	ms := time.Millisecond
	type utt struct {
		begin, end time.Duration
		endOfTurn  bool // ended by hangover of silence
	}
	cases := []struct {
		name string
		segs []seg
		want []utt
	}{
		{"silence only", []seg{{false, 3 * time.Second}}, nil},
		{"one utterance", []seg{{false, 500 * ms}, {true, 1000 * ms}, {false, 800 * ms}},
			[]utt{{500 * ms, 1500 * ms, true}}},
		{"click is not speech", []seg{{false, 500 * ms}, {true, 100 * ms}, {false, 800 * ms}}, nil},
		{"short pause stays in one utterance", []seg{{false, 300 * ms}, {true, 600 * ms}, {false, 300 * ms}, {true, 600 * ms}, {false, 700 * ms}},
			[]utt{{300 * ms, 1800 * ms, true}}},
		{"two utterances", []seg{{false, 300 * ms}, {true, 600 * ms}, {false, 900 * ms}, {true, 700 * ms}, {false, 700 * ms}},
			[]utt{{300 * ms, 900 * ms, true}, {1800 * ms, 2500 * ms, true}}},
		{"speech at the very start", []seg{{true, 400 * ms}, {false, 600 * ms}}, []utt{{0, 400 * ms, true}}},
		{"end of stream inside speech", []seg{{false, 200 * ms}, {true, 600 * ms}}, []utt{{200 * ms, 800 * ms, false}}},
		{"long speech is cut at max_utterance", []seg{{false, 100 * ms}, {true, 7 * time.Second}, {false, 600 * ms}},
			[]utt{{100 * ms, 5000 * ms, false}, {5000 * ms, 7100 * ms, true}}}, // max_utterance counts the pre-roll
		{"silence after a cut is not an utterance", []seg{{false, 100 * ms}, {true, 4900 * ms}, {false, 3 * time.Second}},
			[]utt{{100 * ms, 5000 * ms, false}}},
		{"speech after a cut needs no min_speech", []seg{{false, 100 * ms}, {true, 5000 * ms}, {false, time.Second}},
			[]utt{{100 * ms, 5000 * ms, false}, {5000 * ms, 5100 * ms, true}}},
	}
	for _, c := range cases {
		for _, chunk := range []int{160, 320, 1000, 16000} {
			e := testEndpointer(16000)
			evs := run(e, synth(16000, c.segs...), chunk)
			var got []utt
			onsets := 0
			for i, ev := range evs {
				if ev.Onset {
					onsets++
					if i+1 >= len(evs) || evs[i+1].Onset {
						t.Errorf("%s/%d: onset without its utterance", c.name, chunk)
					}
					continue
				}
				if i == 0 || !evs[i-1].Onset || !near(evs[i-1].At, ev.Begin) {
					t.Errorf("%s/%d: utterance not preceded by its onset", c.name, chunk)
				}
				if ev.Start > ev.Begin || ev.Begin-ev.Start > 200*ms {
					t.Errorf("%s/%d: pre-roll %v", c.name, chunk, ev.Begin-ev.Start)
				}
				audio := time.Duration(len(ev.Samples)) * time.Second / 16000
				if ev.Start+audio < ev.End || ev.Start+audio > ev.End+300*ms+20*ms {
					t.Errorf("%s/%d: audio [%v, %v] for voiced [%v, %v]", c.name, chunk, ev.Start, ev.Start+audio, ev.Begin, ev.End)
				}
				if ev.End <= ev.Begin {
					t.Errorf("%s/%d: utterance without voice [%v, %v]", c.name, chunk, ev.Begin, ev.End)
				}
				got = append(got, utt{ev.Begin, ev.End, ev.EndOfTurn})
			}
			if len(got) != len(c.want) || onsets != len(c.want) {
				t.Errorf("%s/%d: got %v (%d onsets), want %v", c.name, chunk, got, onsets, c.want)
				continue
			}
			for i := range got {
				if !near(got[i].begin, c.want[i].begin) || !near(got[i].end, c.want[i].end) || got[i].endOfTurn != c.want[i].endOfTurn {
					t.Errorf("%s/%d: utterance %d = %v, want %v", c.name, chunk, i, got[i], c.want[i])
				}
			}
		}
	}
}

// A hangover longer than max_utterance is refused by Configure; even so, the
// endpointer reports nothing for the silence after a cut (it used to report an
// utterance of silence every max_utterance).
func TestEndpointerHangoverOverMaxUtterance(t *testing.T) {
	e := NewEndpointer(EndpointerConfig{
		SampleRate: 16000, ThresholdDBFS: -40, Hangover: 3 * time.Second,
		MinSpeech: 250 * time.Millisecond, MaxUtterance: time.Second,
		PreRoll: 200 * time.Millisecond, TrailingSilence: 300 * time.Millisecond,
	})
	evs := run(e, synth(16000, seg{false, 200 * time.Millisecond}, seg{true, 800 * time.Millisecond}, seg{false, 10 * time.Second}), 320)
	if len(evs) != 2 || !evs[0].Onset || evs[1].Onset || evs[1].End <= evs[1].Begin {
		t.Fatalf("%d events, want one onset and one voiced utterance", len(evs))
	}
}

func TestEndpointerOnRealSpeech(t *testing.T) {
	a, rate := espeak(t, "tell me about a time you had a conflict with a coworker")
	b, _ := espeak(t, "how did you resolve it")
	gap := synth(rate, seg{false, time.Second})
	audio := append(append(append(append([]int16{}, gap...), a...), gap...), b...)
	audio = append(audio, gap...)
	evs := run(testEndpointer(rate), audio, rate/50)
	var utts []Event
	for _, ev := range evs {
		if !ev.Onset {
			utts = append(utts, ev)
		}
	}
	if len(utts) != 2 {
		t.Fatalf("got %d utterances from two spoken sentences", len(utts))
	}
	// espeak-ng's own leading/trailing silence is part of each clip, so the
	// voiced span sits inside it.
	first := time.Second + time.Duration(len(a))*time.Second/time.Duration(rate)
	if utts[0].Begin < time.Second || utts[0].End > first {
		t.Errorf("first utterance [%v, %v] outside its clip [1s, %v]", utts[0].Begin, utts[0].End, first)
	}
	if utts[1].Begin < first+time.Second {
		t.Errorf("second utterance starts at %v, before its clip at %v", utts[1].Begin, first+time.Second)
	}
}
