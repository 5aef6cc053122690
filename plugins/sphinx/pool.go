package sphinx

import (
	"context"
	"slices"
	"sync"

	"github.com/hashicorp/go-hclog"

	"github.com/earshot-dev/earshot/plugins/sdk"
	"github.com/earshot-dev/earshot/plugins/sphinx/internal/pocketsphinx"
)

// pool hands out decoders: warm ones when it has them, freshly loaded ones
// otherwise. Loading a decoder takes 0.3–0.45 s, so one goroutine (owned by the
// pool, stopped by close) keeps up to size decoders loaded ahead of demand.
// Decoders that served a stream cleanly go back to the pool: their cepstral
// mean estimate is warm, which helps the next stream's first utterance. They
// are primed for it (about 0.2–0.45 s of CPU) by a goroutine of their own,
// owned by the pool and waited for by close, so that the stream that used them
// returns at once; get waits for the primings in flight when it is called (not
// for later ones: a busy pool always has some), so a stream that starts right
// after one ended still gets the warm decoder.
type pool struct {
	log   hclog.Logger
	load  func() (*pocketsphinx.Decoder, error)
	prime func(*pocketsphinx.Decoder) error
	size  int

	slots chan struct{} // one token per stream allowed at once

	mu     sync.Mutex
	warm   []warmDecoder
	closed bool
	// priming holds one channel per used decoder being primed, closed when it
	// is done.
	priming []chan struct{}

	kick   chan struct{} // asks the filler to top up
	cancel context.CancelFunc
	done   chan struct{}

	// testHookWaiting, when set (tests only), is called by get with the
	// primings it is about to wait for.
	testHookWaiting func(priming []chan struct{})
}

// warmDecoder is a loaded decoder; used ones have a warm CMN estimate and are
// handed out first.
type warmDecoder struct {
	d    *pocketsphinx.Decoder
	used bool
}

func newPool(log hclog.Logger, load func() (*pocketsphinx.Decoder, error), prime func(*pocketsphinx.Decoder) error, size, maxStreams int, first *pocketsphinx.Decoder) *pool {
	ctx, cancel := context.WithCancel(context.Background())
	p := &pool{
		log: log, load: load, prime: prime, size: size,
		slots:  make(chan struct{}, maxStreams),
		kick:   make(chan struct{}, 1),
		cancel: cancel,
		done:   make(chan struct{}),
	}
	if first != nil {
		p.putWarm(first, false)
	}
	go p.fill(ctx)
	p.topUp()
	return p
}

// fill loads decoders while the pool is below size.
func (p *pool) fill(ctx context.Context) {
	defer close(p.done)
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.kick:
		}
		for {
			p.mu.Lock()
			need := !p.closed && len(p.warm) < p.size
			p.mu.Unlock()
			if !need || ctx.Err() != nil {
				break
			}
			d, err := p.load()
			if err != nil {
				p.log.Error("cannot load a decoder for the warm pool", "error", err)
				break
			}
			p.putWarm(d, false)
		}
	}
}

func (p *pool) topUp() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// putWarm keeps d if there is room (a used decoder may take the place of a
// fresh one), else frees it.
func (p *pool) putWarm(d *pocketsphinx.Decoder, used bool) {
	p.mu.Lock()
	switch {
	case p.closed:
	case len(p.warm) < p.size:
		p.warm = append(p.warm, warmDecoder{d, used})
		d = nil
	case used:
		for i, w := range p.warm {
			if !w.used {
				p.warm[i] = warmDecoder{d, true}
				d = w.d
				break
			}
		}
	}
	p.mu.Unlock()
	if d != nil {
		d.Close()
	}
}

// get returns a decoder for one stream, or UNAVAILABLE when max_streams
// streams are running. Release it with put.
func (p *pool) get(ctx context.Context) (*pocketsphinx.Decoder, error) {
	priming := p.primingNow()
	if p.testHookWaiting != nil {
		p.testHookWaiting(priming)
	}
	if err := waitAll(ctx, priming); err != nil {
		return nil, err
	}
	select {
	case p.slots <- struct{}{}:
	default:
		return nil, sdk.Errorf(sdk.CodeUnavailable, "sphinx: all %d stream slots are busy (max_streams)", cap(p.slots))
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		<-p.slots
		return nil, sdk.Errorf(sdk.CodeUnavailable, "sphinx: transcriber is shutting down")
	}
	var d *pocketsphinx.Decoder
	if n := len(p.warm); n > 0 {
		i := n - 1
		for j, w := range p.warm {
			if w.used {
				i = j
			}
		}
		d = p.warm[i].d
		p.warm = append(p.warm[:i], p.warm[i+1:]...)
	}
	p.mu.Unlock()
	p.topUp()
	if d != nil {
		return d, nil
	}
	if err := ctx.Err(); err != nil {
		<-p.slots
		return nil, err
	}
	d, err := p.load()
	if err != nil {
		<-p.slots
		return nil, err
	}
	return d, nil
}

// put ends a stream's use of d and returns at once. Reusable decoders (left
// between utterances) are primed again for the next stream and go back to the
// pool; others are freed. The stream's slot is free once that is done.
func (p *pool) put(d *pocketsphinx.Decoder, reusable bool) {
	done := make(chan struct{})
	p.mu.Lock()
	prime := reusable && !p.closed // a closed pool frees it
	if prime {
		p.priming = append(p.priming, done)
	}
	p.mu.Unlock()
	if !prime {
		d.Close()
		<-p.slots
		return
	}
	go func() {
		if err := p.prime(d); err != nil {
			p.log.Warn("cannot prime a used decoder; freeing it", "error", err)
			d.Close()
		} else {
			p.putWarm(d, true)
		}
		<-p.slots
		p.mu.Lock()
		p.priming = slices.DeleteFunc(p.priming, func(c chan struct{}) bool { return c == done })
		p.mu.Unlock()
		close(done)
	}()
}

// waitPrimed waits until the decoders being primed when it is called are
// done, or ctx ends.
func (p *pool) waitPrimed(ctx context.Context) error { return waitAll(ctx, p.primingNow()) }

// primingNow returns the done channels of the primings in flight.
func (p *pool) primingNow() []chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.priming)
}

// waitAll waits until every channel of chans is closed, or ctx ends.
func waitAll(ctx context.Context, chans []chan struct{}) error {
	for _, done := range chans {
		select {
		case <-done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// close stops the filler, waits for the primings in flight and frees the warm
// decoders. Decoders still held by streams are freed by put. Idempotent.
func (p *pool) close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	p.mu.Unlock()
	p.cancel()
	<-p.done
	_ = p.waitPrimed(context.Background())
	p.mu.Lock()
	warm := p.warm
	p.warm = nil
	p.mu.Unlock()
	for _, w := range warm {
		w.d.Close()
	}
}
