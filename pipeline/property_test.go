package pipeline

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/earshot-dev/earshot/plugins/sdk"
	"github.com/earshot-dev/earshot/signaling/protocol"
)

// step is one action of a randomized scenario: a frame of audio or a finalize.
type step struct {
	frame    []byte
	finalize bool
}

func randomScenario(r *rand.Rand) []step {
	var steps []step
	last := 0
	for i := 0; i < 20+r.IntN(40); i++ {
		switch x := r.IntN(10); {
		case x < 5:
			id := 1 + r.IntN(9)
			if id == last {
				id = id%9 + 1
			}
			last = id
			for _, f := range script(id) {
				steps = append(steps, step{frame: f})
			}
		case x < 9:
			last = 0
			for n := 1 + r.IntN(5); n > 0; n-- {
				steps = append(steps, step{frame: frame(0)})
			}
		default:
			steps = append(steps, step{finalize: true})
		}
	}
	return steps
}

// expectedFinals runs the fake transcriber once, without failures, over the inputs
// the runtime should give it: the texts of its finals are what the pipeline must
// publish, whatever fails on the way.
func expectedFinals(steps []step) []string {
	ts := &fakeTranscribeStream{rate: 16000, out: make(chan TranscriptEvent, 1<<16), failed: make(chan struct{}), failAfter: -1, hangAfter: -1}
	var at int
	for _, st := range steps {
		in := sdk.AudioInput{Control: sdk.ControlFinalize, Start: samplesDur(at, 16000)}
		if !st.finalize {
			in = sdk.AudioInput{Samples: make([]int16, frameSamples), Start: samplesDur(at, 16000)}
			for i := range in.Samples {
				in.Samples[i] = int16(st.frame[0]) | int16(st.frame[1])<<8
			}
			at += frameSamples
		}
		_ = ts.Send(context.Background(), in)
	}
	_ = ts.CloseSend()
	var out []string
	for ev := range ts.out {
		if ev.Kind == Final && ev.Result.Text != "" {
			out = append(out, ev.Result.Text)
		}
	}
	return out
}

// TestPropertyGuaranteesUnderFailures streams randomized scenarios while the
// transcriber and the decoder crash at random points, and checks the protocol's guarantees and that
// the finals are exactly those of a run without failures: never duplicated, split or
// lost.
func TestPropertyGuaranteesUnderFailures(t *testing.T) {
	seeds := 40
	if testing.Short() {
		seeds = 8
	}
	for seed := 0; seed < seeds; seed++ {
		r := rand.New(rand.NewPCG(uint64(seed), 7))
		steps := randomScenario(r)
		want := expectedFinals(steps)
		e := newEnv(t, func(o *Options) { o.MaxRestarts = 10 })
		e.tr.relative = r.IntN(2) == 0
		e.tr.failAfter = map[int]int{}
		for open := 1; open <= r.IntN(4); open++ {
			e.tr.failAfter[open] = r.IntN(len(steps) + 10)
		}
		// The decoder dies too, holding back the PCM of its last chunk (lost with it).
		// (Not with finalize steps: the held PCM would make their order undefined.)
		e.dec.lag = r.IntN(2) == 0 && !slices.ContainsFunc(steps, func(st step) bool { return st.finalize })
		e.dec.failAfter = map[int]int{}
		for open := 1; open <= r.IntN(3); open++ {
			e.dec.failAfter[open] = 1 + r.IntN(len(steps))
		}
		s := e.open(t, spec("s", "u", protocol.RoleCandidate))
		for _, st := range steps {
			if st.finalize {
				// Finalize applies after the audio written before it, without waiting.
				if err := s.Finalize(context.Background()); err != nil {
					t.Fatalf("seed %d: finalize: %v", seed, err)
				}
				continue
			}
			if err := s.Write(context.Background(), st.frame); err != nil {
				t.Fatalf("seed %d: write: %v", seed, err)
			}
		}
		stop(t, s)
		evs := e.rec.all()
		checkGuarantees(t, evs)
		var got []string
		for _, f := range finals(evs) {
			if f.Text != "" {
				got = append(got, f.Text)
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("seed %d (relative times %v, transcriber failures %v, decoder failures %v): finals\n%q\nwant\n%q\n%s", seed, e.tr.relative, e.tr.failAfter, e.dec.failAfter, got, want, dump(evs))
		}
		_ = e.rt.Close()
	}
}
