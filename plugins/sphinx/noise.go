package sphinx

import (
	"math"
	"math/rand/v2"
)

// noiseFloor makes sure the audio has at least a set noise floor, by adding
// deterministic white noise, as a microphone's own noise would.
//
// The acoustic model and the voice-activity detector expect a room's noise: on
// digital silence (TTS, muted microphones, zero padding) and in the empty
// spectral bands of synthetic speech the log energies collapse, cepstral mean
// normalisation drifts and recognition falls apart. Audio that already has
// that much noise is left alone: the stream's floor is tracked (minimum
// statistics: the quietest 10 ms block of the last second) and only the
// missing power is added.
type noiseFloor struct {
	target float64              // wanted floor, RMS in sample units; 0 = off
	recent [floorWindow]float64 // RMS of the last blocks, a ring
	n      int                  // blocks seen
	rng    *rand.Rand
}

// floorWindow is the number of 10 ms blocks the floor is the minimum of.
const floorWindow = 100

// noiseBlock is one 10 ms frame.
const noiseBlock = sampleRate / 100

func newNoiseFloor(dbfs float64) *noiseFloor {
	n := &noiseFloor{rng: rand.New(rand.NewPCG(0x5eed, 0xea75))} // fixed seed: runs are reproducible
	if dbfs != 0 {
		n.target = 32768 * math.Pow(10, dbfs/20)
	}
	return n
}

// apply lifts s in place to the floor.
func (n *noiseFloor) apply(s []int16) {
	if n.target == 0 {
		return
	}
	for i := 0; i < len(s); i += noiseBlock {
		b := s[i:min(i+noiseBlock, len(s))]
		var sum float64
		for _, v := range b {
			sum += float64(v) * float64(v)
		}
		n.recent[n.n%floorWindow] = math.Sqrt(sum / float64(len(b)))
		n.n++
		est := math.Inf(1)
		for _, r := range n.recent[:min(n.n, floorWindow)] {
			est = min(est, r)
		}
		if est >= n.target {
			continue
		}
		add := math.Sqrt(n.target*n.target - est*est)
		for j, v := range b {
			x := float64(v) + n.rng.NormFloat64()*add
			b[j] = int16(max(-32768, min(32767, math.Round(x))))
		}
	}
}
