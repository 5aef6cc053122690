package pipeline

import (
	"sync"
	"time"

	"github.com/earshot-dev/earshot/plugins/sdk"
)

// replayLog keeps the transcriber inputs (audio and control messages, in order) sent
// since the last final, so that a re-opened transcriber stream can be given them again
// with their original times. It is bounded by an amount of audio; beyond it the
// oldest audio goes (and would be missing after a restart, which is counted).
type replayLog struct {
	mu      sync.Mutex
	items   []sdk.AudioInput
	samples int
	max     int // samples
	rate    int
	dropped int // samples dropped for the bound, since the last final
}

func newReplayLog(rate int, keep time.Duration) *replayLog {
	return &replayLog{rate: rate, max: int(keep.Seconds() * float64(rate))}
}

// Add appends an input. It returns the number of samples dropped to stay bounded.
func (r *replayLog) Add(in sdk.AudioInput) int {
	if r.max <= 0 {
		return 0 // replay disabled
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.items = append(r.items, in)
	r.samples += len(in.Samples)
	drop := 0
	for r.samples > r.max && len(r.items) > 1 {
		drop += len(r.items[0].Samples)
		r.samples -= len(r.items[0].Samples)
		r.items[0] = sdk.AudioInput{}
		r.items = r.items[1:]
	}
	r.dropped += drop
	return drop
}

// TrimTo forgets everything before t (the end of a final): that audio's words are
// published and must not be recognised twice. An input straddling t is cut at t.
func (r *replayLog) TrimTo(t time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	i := 0
	for ; i < len(r.items); i++ {
		in := r.items[i]
		if in.Control != sdk.ControlNone {
			continue // a control before the cut was answered by this final
		}
		end := in.Start + samplesDur(len(in.Samples), r.rate)
		if end <= t {
			r.samples -= len(in.Samples)
			continue
		}
		if in.Start < t {
			n := int((t - in.Start) * time.Duration(r.rate) / time.Second)
			if n > len(in.Samples) {
				n = len(in.Samples)
			}
			r.samples -= n
			in.Samples = in.Samples[n:]
			in.Start += samplesDur(n, r.rate)
			r.items[i] = in
		}
		break
	}
	clear(r.items[:i])
	r.items = r.items[i:]
	r.dropped = 0
}

// Snapshot returns the inputs to replay, oldest first.
func (r *replayLog) Snapshot() []sdk.AudioInput {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]sdk.AudioInput(nil), r.items...)
}

// Dropped is the audio lost to the bound since the last final.
func (r *replayLog) Dropped() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return samplesDur(r.dropped, r.rate)
}

func samplesDur(n, rate int) time.Duration {
	return time.Duration(n) * time.Second / time.Duration(rate)
}

// decoderReplayBytes bounds what is kept for a re-opened decoder (8 s of 16 kHz
// pcm16, a minute of Opus at 32 kbit/s).
const decoderReplayBytes = 256 << 10

// byteLog keeps the chunks sent to a decoder that it has not provably decoded, to give
// them again to a re-opened decoder. Chunks keep their boundaries (a raw Opus stream
// has one packet per chunk) and are not copied: a chunk is never modified once sent.
// Bounded; beyond it the oldest go.
type byteLog struct {
	mu     sync.Mutex
	start  int64 // stream offset of chunks[0]
	chunks [][]byte
	size   int
	max    int
}

// Add appends a chunk found at stream offset off.
func (l *byteLog) Add(off int64, b []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.chunks) == 0 {
		l.start = off
	}
	l.chunks = append(l.chunks, b)
	l.size += len(b)
	for l.size > l.max && len(l.chunks) > 1 {
		l.drop()
	}
}

func (l *byteLog) drop() {
	n := len(l.chunks[0])
	l.chunks[0] = nil
	l.chunks = l.chunks[1:]
	l.start += int64(n)
	l.size -= n
}

// TrimTo forgets the bytes before stream offset off; a chunk straddling it is cut.
func (l *byteLog) TrimTo(off int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for len(l.chunks) > 0 && l.start+int64(len(l.chunks[0])) <= off {
		l.drop()
	}
	if len(l.chunks) == 0 {
		l.chunks = l.chunks[:0]
		return
	}
	if n := off - l.start; n > 0 {
		l.chunks[0] = l.chunks[0][n:]
		l.start += n
		l.size -= int(n)
	}
}

// From returns the kept chunks and the stream offset they start at.
func (l *byteLog) From() (int64, [][]byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.start, append([][]byte(nil), l.chunks...)
}
