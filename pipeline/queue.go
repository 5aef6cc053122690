package pipeline

import (
	"context"
	"errors"
	"io"
	"sync"
)

// errQueueClosed is returned by Push after Close.
var errQueueClosed = errors.New("pipeline: queue closed")

// queue is a FIFO bounded by the sum of its items' sizes in bytes. Push blocks while
// the queue is full (an item larger than the bound is accepted into an empty queue, so
// nothing is ever refused for its size alone); Pop blocks while it is empty. After
// Close, Push fails and Pop drains what is left, then returns io.EOF.
type queue[T any] struct {
	mu      sync.Mutex
	items   []sized[T]
	head    int
	bytes   int
	limit   int
	closed  bool
	changed chan struct{} // closed and replaced on every change someone waits for
	watched bool
}

type sized[T any] struct {
	v    T
	size int
}

func newQueue[T any](limit int) *queue[T] {
	return &queue[T]{limit: limit, changed: make(chan struct{})}
}

// waitLocked returns a channel closed at the next change.
func (q *queue[T]) waitLocked() <-chan struct{} {
	q.watched = true
	return q.changed
}

func (q *queue[T]) notifyLocked() {
	if q.watched {
		close(q.changed)
		q.changed = make(chan struct{})
		q.watched = false
	}
}

func (q *queue[T]) len() int { return len(q.items) - q.head }

// TryPush adds v if there is room now. It reports whether it did; err is
// errQueueClosed after Close.
func (q *queue[T]) TryPush(v T, size int) (bool, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return false, errQueueClosed
	}
	if q.len() > 0 && q.bytes+size > q.limit {
		return false, nil
	}
	q.items = append(q.items, sized[T]{v, size})
	q.bytes += size
	q.notifyLocked()
	return true, nil
}

// Push adds v, waiting for room until ctx ends.
func (q *queue[T]) Push(ctx context.Context, v T, size int) error {
	for {
		q.mu.Lock()
		if q.closed {
			q.mu.Unlock()
			return errQueueClosed
		}
		if q.len() == 0 || q.bytes+size <= q.limit {
			q.items = append(q.items, sized[T]{v, size})
			q.bytes += size
			q.notifyLocked()
			q.mu.Unlock()
			return nil
		}
		ch := q.waitLocked()
		q.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Pop removes the oldest item, waiting until there is one, the queue is closed and
// empty (io.EOF), or ctx ends.
func (q *queue[T]) Pop(ctx context.Context) (T, error) {
	for {
		q.mu.Lock()
		if q.len() > 0 {
			it := q.items[q.head]
			var zero sized[T]
			q.items[q.head] = zero
			q.head++
			if q.head == len(q.items) {
				q.items, q.head = q.items[:0], 0
			} else if q.head > 64 && q.head*2 > len(q.items) {
				n := copy(q.items, q.items[q.head:])
				q.items, q.head = q.items[:n], 0
			}
			q.bytes -= it.size
			q.notifyLocked()
			q.mu.Unlock()
			return it.v, nil
		}
		if q.closed {
			q.mu.Unlock()
			var zero T
			return zero, io.EOF
		}
		ch := q.waitLocked()
		q.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			var zero T
			return zero, ctx.Err()
		}
	}
}

// Close makes Push fail; queued items can still be popped. Idempotent.
func (q *queue[T]) Close() {
	q.mu.Lock()
	q.closed = true
	q.notifyLocked()
	q.mu.Unlock()
}

// Discard drops every queued item (after an abort nobody will pop them).
func (q *queue[T]) Discard() {
	q.mu.Lock()
	q.items, q.head, q.bytes = nil, 0, 0
	q.notifyLocked()
	q.mu.Unlock()
}

// Bytes is the size of what is queued.
func (q *queue[T]) Bytes() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.bytes
}
