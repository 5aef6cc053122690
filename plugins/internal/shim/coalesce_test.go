package shim

import (
	"context"
	"errors"
	"testing"
	"time"
)

// The coalescer's decisions are tested with made-up arrival times; batches are
// released by hand (manualTimers) or by the test, never by a real timer the test
// would race (each wait below is bounded by a generous deadline that only a lost
// wake-up would reach).

const never = 10 * time.Second

func waitClosed(t *testing.T, b <-chan struct{}) {
	t.Helper()
	select {
	case <-b:
	case <-time.After(never):
		t.Fatal("batch never left")
	}
}

// busy feeds c paced arrivals gap apart until its mean gap has followed, and
// returns the time of the last one.
func busy(c *coalescer, t0 time.Time, gap time.Duration) time.Time {
	now := t0
	for range 10 * gapWeight {
		now = now.Add(gap)
		c.batchFor(time.Time{}, now)
	}
	return now
}

func TestCoalescerIdleConnectionSendsAtOnce(t *testing.T) {
	c := newCoalescer(4 * time.Millisecond)
	t0 := time.Unix(1000, 0)
	// Three real-time streams: 150 frames/s, 6.7 ms apart on average.
	now := busy(c, t0, 20*time.Millisecond/3)
	if b := c.batchFor(now.Add(-20*time.Millisecond), now.Add(time.Millisecond)); b != nil {
		t.Fatalf("a frame was held on a connection with %v between paced frames", c.meanGap)
	}
}

// manualTimers replaces c's release timer: each batch's release is queued, and
// the test runs it when it chooses, so no batch leaves while the test looks at it.
func manualTimers(c *coalescer) *[]func() {
	var pending []func()
	c.afterFunc = func(_ time.Duration, f func()) *time.Timer {
		pending = append(pending, f)
		return nil
	}
	return &pending
}

// fire runs the queued releases.
func fire(pending *[]func()) {
	fs := *pending
	*pending = nil
	for _, f := range fs {
		f()
	}
}

func TestCoalescerBusyConnectionBatches(t *testing.T) {
	c := newCoalescer(4 * time.Millisecond)
	timers := manualTimers(c)
	t0 := time.Unix(1000, 0)
	// A hundred real-time streams: 5,000 frames/s, 200 µs apart.
	now := busy(c, t0, 200*time.Microsecond)
	c.mu.Lock()
	warm := c.batch
	c.mu.Unlock()
	if warm == nil || len(*timers) != 1 {
		t.Fatalf("warming up formed batch %v with %d timers, want one batch and one timer", warm, len(*timers))
	}
	fire(timers) // let the batch formed while warming up leave
	waitClosed(t, warm)
	b1 := c.batchFor(now.Add(-20*time.Millisecond), now.Add(200*time.Microsecond))
	if b1 == nil {
		t.Fatalf("paced frame on a busy connection (mean gap %v) was not held", c.meanGap)
	}
	b2 := c.batchFor(now.Add(-20*time.Millisecond), now.Add(400*time.Microsecond))
	if b2 != b1 {
		t.Fatal("two frames arriving within the window joined different batches")
	}
	if len(*timers) != 1 {
		t.Fatalf("one batch scheduled %d releases", len(*timers))
	}
	// A stream catching up (its previous send 1 ms ago) is never held.
	if b := c.batchFor(now, now.Add(time.Millisecond)); b != nil {
		t.Fatal("a back-to-back send was held")
	}
	select {
	case <-b1:
		t.Fatal("the batch left before its timer fired")
	default:
	}
	fire(timers)
	waitClosed(t, b1)
	// The next paced frame starts a new batch.
	b3 := c.batchFor(now.Add(-20*time.Millisecond), now.Add(600*time.Microsecond))
	if b3 == nil || b3 == b1 {
		t.Fatal("a frame after the batch left did not start a new batch")
	}
	fire(timers)
	waitClosed(t, b3)
}

func TestCoalescerOff(t *testing.T) {
	c := newCoalescer(4 * time.Millisecond)
	c.setWindow(0)
	now := busy(c, time.Unix(1000, 0), 100*time.Microsecond)
	if b := c.batchFor(now.Add(-20*time.Millisecond), now.Add(100*time.Microsecond)); b != nil {
		t.Fatal("coalescing turned off still held a frame")
	}
}

// heldStream returns a paced stream on a busy connection whose window is an
// hour: its next send is held until the test releases the batch or ends the
// stream.
func heldStream(t *testing.T) *stream {
	t.Helper()
	c := &Client{co: newCoalescer(time.Hour)}
	c.co.last = time.Now()
	c.co.meanGap = 100 * time.Microsecond
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return &stream{c: c, ctx: ctx, cancel: cancel, lastSend: time.Now().Add(-20 * time.Millisecond)}
}

// formingBatch waits for c to have a forming batch and returns it.
func formingBatch(t *testing.T, c *coalescer) chan struct{} {
	t.Helper()
	deadline := time.Now().Add(never)
	for time.Now().Before(deadline) {
		c.mu.Lock()
		b := c.batch
		c.mu.Unlock()
		if b != nil {
			return b
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("the send never joined a batch")
	return nil
}

func TestPaceHeldUntilBatchLeaves(t *testing.T) {
	s := heldStream(t)
	done := make(chan error, 1)
	go func() { done <- s.pace(context.Background()) }()
	b := formingBatch(t, s.c.co)
	select {
	case err := <-done:
		t.Fatalf("pace returned (%v) before its batch left", err)
	default:
	}
	s.c.co.release(b)
	s.c.co.release(b) // a second release (the timer's, later) does nothing
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("pace: %v", err)
		}
	case <-time.After(never):
		t.Fatal("held send not released with its batch")
	}
}

func TestPaceCloseReleasesHeldSend(t *testing.T) {
	s := heldStream(t)
	done := make(chan error, 1)
	go func() { done <- s.pace(context.Background()) }()
	formingBatch(t, s.c.co) // the send is held
	s.Close()
	select {
	case err := <-done:
		if !errors.Is(err, ErrStreamClosed) {
			t.Fatalf("pace after Close: %v, want ErrStreamClosed", err)
		}
	case <-time.After(never):
		t.Fatal("Close did not release a held send")
	}
}

func TestPaceCallerContextAbortsStream(t *testing.T) {
	s := heldStream(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.pace(ctx) }()
	formingBatch(t, s.c.co) // the send is held
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("pace with a cancelled context: %v, want context.Canceled", err)
		}
	case <-time.After(never):
		t.Fatal("cancelling the caller's context did not release a held send")
	}
	if !errors.Is(s.ourCause(), context.Canceled) || s.ctx.Err() == nil {
		t.Fatalf("stream not aborted with the caller's error: cause %v", s.ourCause())
	}
}
