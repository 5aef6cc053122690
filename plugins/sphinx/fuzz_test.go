package sphinx

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/earshot-dev/earshot/plugins/sdk"
)

// FuzzStream feeds arbitrary audio and control sequences (what a network peer
// controls, through the decoder) and checks the stream never fails and keeps
// the sink contract: SpeechStarted before results, one final per utterance,
// times in order, confidences in [0, 1].
//
//	go test -run '^$' -fuzz FuzzStream -fuzztime 60s ./plugins/sphinx/
func FuzzStream(f *testing.F) {
	f.Add([]byte{1, 200, 0, 1, 200, 1, 0, 0, 0, 2, 255, 2})
	f.Add([]byte{3, 10, 3, 3, 255, 4, 0, 1, 1, 3, 255, 4, 3, 255, 4})
	f.Add([]byte{0, 0, 0, 0, 0, 0})
	f.Add([]byte{5, 255, 5, 5, 255, 5, 5, 255, 5, 0, 9, 9})
	tr := NewWithLogger(hclog.NewNullLogger())
	if err := tr.Configure(context.Background(), sdk.NewConfig([]byte(`{"max_utterance":"1s","pool_size":1}`))); err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { tr.Close() })
	f.Fuzz(func(t *testing.T, ops []byte) {
		var inputs []sdk.AudioInput
		var at time.Duration
		phase := 0.0
		for i := 0; i+2 < len(ops) && i < 3*200; i += 3 {
			if ops[i]%8 == 0 {
				inputs = append(inputs, sdk.AudioInput{Control: sdk.ControlFinalize})
				continue
			}
			n := int(ops[i+1]) * 13 // up to ~200 ms
			s := make([]int16, n)
			for j := range s {
				switch ops[i+2] % 6 {
				case 1: // tone
					phase += 2 * math.Pi * 440 / sampleRate
					s[j] = int16(8000 * math.Sin(phase))
				case 2: // full scale square wave
					s[j] = int16(32767 - 65535*((j/20)%2))
				case 3: // chirp-like buzz
					phase += 2 * math.Pi * float64(100+j%3000) / sampleRate
					s[j] = int16(12000 * math.Sin(phase))
				case 4: // the op bytes as samples
					s[j] = int16(uint16(ops[(i+j)%len(ops)]) << 8)
				case 5:
					s[j] = -32768
				}
			}
			inputs = append(inputs, sdk.AudioInput{Samples: s, Start: at})
			at += time.Duration(n) * time.Second / sampleRate
		}
		sink := transcribe(t, tr, inputs)
		var last time.Duration
		for _, e := range sink.events {
			r := e.r
			if r.Confidence < 0 || r.Confidence > 1 || r.End < r.Start {
				t.Errorf("bad result %+v", r)
			}
			if e.kind == "final" {
				if r.Start < last-400*time.Millisecond { // a forced final's successor re-hears the VAD's 200 ms lead-in and 100 ms trigger
					t.Errorf("final %+v starts before the previous one ended (%v)", r, last)
				}
				last = max(last, r.End)
			}
		}
	})
}
