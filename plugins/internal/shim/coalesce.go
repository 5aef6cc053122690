package shim

import (
	"context"
	"sync"
	"time"
)

// coalescer lines up the audio sends of real-time streams on one plugin
// connection.
//
// A real-time stream sends a frame every 20 ms. A hundred of them on one
// connection, each on its own schedule, make 5,000 separate writes a second in
// each direction, and every one of them wakes threads in both processes: those
// wake-ups, not the bytes, are most of what the hop costs (measured without
// coalescing: 42–52 µs of CPU per frame with the streams' schedules spread
// out, 20–26 µs when they happen to line up; docs/plugin-system.md). So when the
// connection is busy the coalescer holds a paced stream's frame until the batch
// it joined leaves, at most window after the batch's first frame: gRPC then
// writes the batch's frames together, the plugin reads and answers them
// together, and the answers come back together.
//
// Only paced sends wait, and only on a busy connection:
//   - a send that follows its stream's previous send within pacedGap (a stream
//     catching up, a file streamed as fast as it goes) leaves at once;
//   - while the paced sends on the connection arrive on average more than
//     window/2 apart (fewer than two expected per batch), nothing waits: a
//     lightly loaded connection pays no latency for a batch that would hold one
//     frame.
//
// A frame waits at most window; it keeps its order within its stream (Send is
// never concurrent with itself), and a held Send returns early when its stream is
// closed or its context ends.
type coalescer struct {
	window time.Duration // 0: off
	// afterFunc schedules a batch's release: time.AfterFunc, or the tests' own.
	afterFunc func(time.Duration, func()) *time.Timer

	mu      sync.Mutex
	batch   chan struct{} // closed when the forming batch leaves; nil when none forms
	last    time.Time     // the previous paced arrival on the connection
	meanGap time.Duration // moving mean of the gaps between paced arrivals
}

const (
	// pacedGap: a send this long or longer after its stream's previous one is
	// paced (real-time streams send every 10–60 ms).
	pacedGap = 5 * time.Millisecond
	// gapWeight: the moving mean follows a change of load within about this many
	// arrivals.
	gapWeight = 16
	// DefaultCoalesceWindow is the longest a frame is held on a busy connection:
	// less than a frame's period, so a held frame never waits past its stream's
	// next one, and small beside the half second of silence that ends an
	// utterance. 4 ms saved less (10.4–11.6% of a core for the spread streams
	// against 8.1–9.1% at 8 ms, in runs alternated with it); 12–16 ms saved
	// little more.
	DefaultCoalesceWindow = 8 * time.Millisecond
)

func newCoalescer(window time.Duration) *coalescer {
	return &coalescer{window: window, afterFunc: time.AfterFunc, meanGap: time.Second}
}

// setWindow changes the window; 0 or less turns coalescing off.
func (c *coalescer) setWindow(w time.Duration) {
	c.mu.Lock()
	c.window = max(w, 0)
	c.mu.Unlock()
}

// batchFor records a send arriving at now whose stream sent before at prev (zero:
// never) and returns the channel to wait on before sending, or nil to send at
// once.
func (c *coalescer) batchFor(prev, now time.Time) <-chan struct{} {
	if !prev.IsZero() && now.Sub(prev) < pacedGap {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.window <= 0 {
		return nil
	}
	if !c.last.IsZero() {
		gap := min(max(now.Sub(c.last), 0), time.Second)
		c.meanGap += (gap - c.meanGap) / gapWeight
	}
	c.last = now
	if 2*c.meanGap > c.window {
		return nil
	}
	if c.batch == nil {
		b := make(chan struct{})
		c.batch = b
		c.afterFunc(c.window, func() { c.release(b) })
	}
	return c.batch
}

// release lets batch b leave if it is still the forming one; once it has left,
// release does nothing.
func (c *coalescer) release(b chan struct{}) {
	c.mu.Lock()
	current := c.batch == b
	if current {
		c.batch = nil
	}
	c.mu.Unlock()
	if current {
		close(b)
	}
}

// pace holds an audio send of s while its batch forms (see coalescer). It returns
// nil when the send may go, or why the stream is over: the caller's context
// ended (which aborts the stream, as a Send blocked in gRPC would), or the stream
// was closed.
func (s *stream) pace(ctx context.Context) error {
	now := time.Now()
	prev := s.lastSend
	s.lastSend = now
	b := s.c.co.batchFor(prev, now)
	if b == nil {
		return nil
	}
	select {
	case <-b:
		return nil
	case <-s.ctx.Done():
		return s.classify(s.ctx.Err())
	case <-ctx.Done():
		s.abort(ctx.Err())
		return ctx.Err()
	}
}
