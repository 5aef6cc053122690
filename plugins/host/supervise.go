package host

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/earshot-dev/earshot/plugins/sdk"
)

type procState int

const (
	stateReady procState = iota
	stateRestarting
	stateUnavailable
	stateClosed
)

// proc is one supervised plugin process serving one (plugin, config) pair.
type proc struct {
	h    *Host
	name string
	kind sdk.Kind
	cfg  sdk.Config
	log  hclog.Logger

	kick chan struct{} // asks the supervisor to check now (a stream saw a failure)

	ctx    context.Context // the supervisor's lifetime
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	cur     *conn
	st      procState
	changed chan struct{} // closed on every state change
	lastErr error
}

func newProc(h *Host, name string, kind sdk.Kind, cfg sdk.Config, c *conn) *proc {
	ctx, cancel := context.WithCancel(h.ctx)
	p := &proc{
		h: h, name: name, kind: kind, cfg: cfg,
		log:  h.log.With("plugin", name),
		kick: make(chan struct{}, 1),
		ctx:  ctx, cancel: cancel,
		done:    make(chan struct{}),
		changed: make(chan struct{}),
	}
	p.adopt(c)
	go p.supervise()
	return p
}

func (p *proc) adopt(c *conn) {
	c.shim.OnFailure(func() { p.suspect(c) })
	p.setState(stateReady, c, nil)
}

// suspect is called when a stream of c saw a transport failure: until the
// supervisor has checked the process, new opens fail and WaitReady waits, so a
// caller that re-opens after WaitReady does not land on the dead process.
func (p *proc) suspect(c *conn) {
	p.mu.Lock()
	if p.st == stateReady && p.cur == c {
		p.st = stateRestarting
		close(p.changed)
		p.changed = make(chan struct{})
	}
	p.mu.Unlock()
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

func (p *proc) setState(st procState, c *conn, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.st == stateClosed {
		return
	}
	p.st, p.cur, p.lastErr = st, c, err
	close(p.changed)
	p.changed = make(chan struct{})
}

func (p *proc) state() procState {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.st
}

// current returns the live connection or the error a caller should act on.
func (p *proc) current() (*conn, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch p.st {
	case stateReady:
		return p.cur, nil
	case stateRestarting:
		return nil, fmt.Errorf("plugin %q is restarting: %w", p.name, ErrPluginFailed)
	case stateUnavailable:
		return nil, fmt.Errorf("plugin %q: %w: %v", p.name, ErrUnavailable, p.lastErr)
	}
	return nil, fmt.Errorf("plugin %q: %w: host closed", p.name, ErrUnavailable)
}

func (p *proc) waitReady(ctx context.Context) error {
	for {
		p.mu.Lock()
		st, ch, lastErr := p.st, p.changed, p.lastErr
		p.mu.Unlock()
		switch st {
		case stateReady:
			return nil
		case stateUnavailable:
			return fmt.Errorf("plugin %q: %w: %v", p.name, ErrUnavailable, lastErr)
		case stateClosed:
			return fmt.Errorf("plugin %q: %w: host closed", p.name, ErrUnavailable)
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// close stops the supervisor and kills the process. Idempotent.
func (p *proc) close() {
	p.cancel()
	<-p.done
	p.mu.Lock()
	c := p.cur
	p.cur = nil
	if p.st != stateClosed {
		p.st = stateClosed
		close(p.changed)
		p.changed = make(chan struct{})
	}
	p.mu.Unlock()
	if c != nil {
		c.kill(true)
	}
}

// supervise checks the process every HealthInterval (or at once when a stream saw
// a failure) and restarts it when it exited or did not answer in HealthTimeout.
func (p *proc) supervise() {
	defer close(p.done)
	o := &p.h.opts
	t := time.NewTicker(o.HealthInterval)
	defer t.Stop()
	var failures []time.Time
	for {
		select {
		case <-p.ctx.Done():
			return
		case <-t.C:
		case <-p.kick:
		}
		p.mu.Lock()
		c := p.cur
		p.mu.Unlock()
		if c == nil {
			continue
		}
		reason := p.check(c)
		if reason == nil {
			p.mu.Lock()
			suspected := p.st == stateRestarting && p.cur == c
			p.mu.Unlock()
			if suspected {
				p.setState(stateReady, c, nil)
			}
			continue
		}
		// Failed: kill first so every open stream errors out now, then restart.
		p.log.Error("plugin failed; restarting", "pid", c.pid(), "reason", reason)
		p.setState(stateRestarting, nil, reason)
		c.kill(false)
		for {
			now := time.Now()
			failures = append(failures, now)
			for len(failures) > 0 && now.Sub(failures[0]) > o.RestartWindow {
				failures = failures[1:]
			}
			if len(failures) > o.MaxRestarts {
				p.log.Error("plugin failed too often; giving up", "failures", len(failures), "window", o.RestartWindow)
				p.setState(stateUnavailable, nil, fmt.Errorf("%d failures within %v, last: %v", len(failures), o.RestartWindow, reason))
				return
			}
			if _, debug := p.h.reattach[p.name]; debug {
				p.setState(stateUnavailable, nil, fmt.Errorf("a debug-mode plugin cannot be restarted: %v", reason))
				return
			}
			delay := o.BackoffMin << (len(failures) - 1)
			if delay > o.BackoffMax || delay <= 0 {
				delay = o.BackoffMax
			}
			select {
			case <-p.ctx.Done():
				return
			case <-time.After(delay):
			}
			nc, err := p.restart()
			if err == nil {
				p.log.Info("plugin restarted", "pid", nc.pid(), "failures", len(failures))
				p.adopt(nc)
				break
			}
			if p.ctx.Err() != nil {
				return
			}
			reason = err
			p.log.Error("plugin restart failed", "error", err)
		}
		// Drain a kick raised by the streams of the process just replaced.
		select {
		case <-p.kick:
		default:
		}
	}
}

func (p *proc) check(c *conn) error {
	if c.client.Exited() {
		return fmt.Errorf("the process exited")
	}
	ctx, cancel := context.WithTimeout(p.ctx, p.h.opts.HealthTimeout)
	defer cancel()
	if err := c.shim.Ping(ctx); err != nil {
		if p.ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("health check: %w", err)
	}
	return nil
}

func (p *proc) restart() (*conn, error) {
	c, err := p.h.launch(p.ctx, p.name)
	if err != nil {
		return nil, err
	}
	if c.info.Kind != p.kind {
		c.kill(false)
		return nil, fmt.Errorf("plugin %q is now a %s, not a %s", p.name, c.info.Kind, p.kind)
	}
	if err := p.h.configure(p.ctx, c, p.cfg); err != nil {
		c.kill(false)
		return nil, fmt.Errorf("Configure: %w", err)
	}
	return c, nil
}
