package webrtc

import (
	"context"
	"errors"
	"sync"
	"time"

	pion "github.com/pion/webrtc/v4"

	"github.com/earshot-dev/earshot/signaling/protocol"
)

// peer is one peer connection. Its goroutines (the track reader and the RTCP
// readers) are started by pion callbacks, counted in wg, and waited for by close.
type peer struct {
	m     *Manager
	key   peerKey
	owner Owner
	// startMu is held while the offer is answered; pc and started are set under it.
	startMu sync.Mutex
	pc      *pion.PeerConnection
	started bool

	// ctx is the peer's lifecycle, cancelled by close. Both are set before the peer
	// is visible in the Manager and never written again, so close reads them unlocked.
	ctx    context.Context
	cancel context.CancelFunc

	wg        sync.WaitGroup
	closeOnce sync.Once
	done      chan struct{}

	mu            sync.Mutex
	closing       bool
	trackTaken    bool
	stream        Stream
	streamStopped bool            // audio:stop or close drained it: the track's audio is ignored
	streamEnded   bool            // the runtime ended it by itself: the next packet re-opens one
	reported      map[string]bool // error codes already reported to the owner
}

func (p *peer) start(ctx context.Context, offerSDP string) (string, error) {
	pc, err := p.m.api.NewPeerConnection(p.m.cfg)
	if err != nil {
		return "", protocol.Errorf(protocol.CodeInternal, "cannot create a peer connection")
	}
	p.pc = pc
	sid := p.owner.SessionID
	pc.OnICECandidate(func(c *pion.ICECandidate) {
		if c == nil {
			return // gathering complete
		}
		init := c.ToJSON()
		p.owner.Emit(protocol.EventWebRTCCandidate, protocol.WebRTCCandidate{SessionID: sid, Candidate: protocol.ICECandidate{
			Candidate: init.Candidate, SDPMid: init.SDPMid, SDPMLineIndex: init.SDPMLineIndex, UsernameFragment: init.UsernameFragment,
		}})
	})
	pc.OnConnectionStateChange(func(s pion.PeerConnectionState) {
		p.m.log.Debug("peer connection state", "session", sid, "user", p.owner.UserID, "state", s.String())
		if p.isClosing() {
			return // the owner already knows: it closed the peer, or is gone
		}
		p.owner.Emit(protocol.EventWebRTCState, protocol.WebRTCState{SessionID: sid, State: s.String()})
		if s == pion.PeerConnectionStateFailed {
			p.closeAsync()
		}
	})
	pc.OnTrack(p.onTrack)

	if err := pc.SetRemoteDescription(pion.SessionDescription{Type: pion.SDPTypeOffer, SDP: offerSDP}); err != nil {
		return "", protocol.Errorf(protocol.CodeBadRequest, "the offer was refused: %v", err)
	}
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		return "", protocol.Errorf(protocol.CodeBadRequest, "cannot answer the offer: %v", err)
	}
	if err := pc.SetLocalDescription(answer); err != nil {
		return "", protocol.Errorf(protocol.CodeInternal, "cannot set the answer: %v", err)
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	p.started = true
	return answer.SDP, nil
}

func (p *peer) onTrack(track *pion.TrackRemote, receiver *pion.RTPReceiver) {
	p.mu.Lock()
	if p.closing {
		p.mu.Unlock()
		return
	}
	first := track.Kind() == pion.RTPCodecTypeAudio && !p.trackTaken
	if first {
		p.trackTaken = true
	}
	p.wg.Add(2)
	p.mu.Unlock()

	go p.drainRTCP(receiver)
	if first {
		go p.readTrack(track)
		return
	}
	// Other tracks are read and dropped so that pion's buffers never stall.
	go func() {
		defer p.wg.Done()
		buf := make([]byte, 1500)
		for {
			if _, _, err := track.Read(buf); err != nil {
				return
			}
		}
	}()
}

func (p *peer) drainRTCP(r *pion.RTPReceiver) {
	defer p.wg.Done()
	for {
		if _, _, err := r.ReadRTCP(); err != nil {
			return
		}
	}
}

func (p *peer) readTrack(track *pion.TrackRemote) {
	defer p.wg.Done()
	codec := track.Codec()
	spec := protocol.StreamSpec{
		SessionID: p.owner.SessionID, UserID: p.owner.UserID, UserName: p.owner.UserName, Role: p.owner.Role,
		Pipeline: p.owner.Pipeline, Format: protocol.FormatOpus, SampleRate: int(codec.ClockRate),
		Channels: int(codec.Channels), Source: "webrtc",
	}
	st, err := p.m.opts.Open(p.ctx, spec)
	if err != nil {
		p.report(err)
		p.discard(track)
		return
	}
	p.mu.Lock()
	p.stream = st
	p.mu.Unlock()
	p.m.log.Info("webrtc audio stream open", "session", spec.SessionID, "user", spec.UserID, "stream", st.ID())

	var last uint16
	started := false
	var retryAt time.Time // when a failed re-open may be tried again
	backoff := reopenMin
	for {
		pkt, _, err := track.ReadRTP()
		if err != nil {
			break
		}
		if len(pkt.Payload) == 0 {
			continue
		}
		// Drop duplicates and packets that arrive after a later one: the decoder is fed
		// in order; a gap is left to the Opus decoder to conceal.
		if started && !seqAfter(pkt.SequenceNumber, last) {
			continue
		}
		started, last = true, pkt.SequenceNumber
		stopped, ended := p.streamState()
		if stopped {
			continue // audio:stop drained the stream; the peer connection stays up
		}
		if ended {
			// The runtime ended the stream (idle, a plugin given up): as with audio in
			// chunks, the user's next audio opens a new one.
			if time.Now().Before(retryAt) {
				continue
			}
			nst, err := p.m.opts.Open(p.ctx, spec)
			if err != nil {
				if p.ctx.Err() != nil {
					break
				}
				p.report(err)
				retryAt, backoff = time.Now().Add(backoff), min(2*backoff, reopenMax)
				continue
			}
			if !p.replaceStream(st, nst) { // stopped or closed meanwhile
				_ = nst.Stop(p.ctx)
				continue
			}
			p.m.log.Info("webrtc audio stream re-opened", "session", spec.SessionID, "user", spec.UserID, "ended", st.ID(), "stream", nst.ID())
			st, backoff = nst, reopenMin
		}
		if err := st.Write(p.ctx, pkt.Payload); err != nil {
			if p.ctx.Err() != nil {
				break
			}
			p.report(err)
		}
	}
	stopCtx, cancel := context.WithTimeout(context.Background(), p.m.opts.StopTimeout)
	defer cancel()
	if _, err := p.stopStream(stopCtx); err != nil {
		p.m.log.Warn("draining a webrtc stream failed", "session", spec.SessionID, "stream", st.ID(), "error", err)
	}
}

// Bounds of the wait between re-opens of a track's stream that keep failing.
const (
	reopenMin = time.Second
	reopenMax = 30 * time.Second
)

func (p *peer) streamState() (stopped, ended bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.streamStopped, p.streamEnded
}

// endedStream marks the track's stream as ended by the runtime if it is id.
func (p *peer) endedStream(id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stream != nil && p.stream.ID() == id && !p.streamStopped {
		p.streamEnded = true
	}
}

// replaceStream makes next the track's stream in place of old, unless the stream was
// stopped meanwhile (audio:stop, close).
func (p *peer) replaceStream(old, next Stream) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.streamStopped || p.closing || p.stream != old {
		return false
	}
	p.stream, p.streamEnded = next, false
	return true
}

// discard reads the track until it ends, so that pion never blocks on it.
func (p *peer) discard(track *pion.TrackRemote) {
	buf := make([]byte, 1500)
	for {
		if _, _, err := track.Read(buf); err != nil {
			return
		}
	}
}

func (p *peer) isClosing() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closing
}

// stopStream drains the track's stream once.
func (p *peer) stopStream(ctx context.Context) (bool, error) {
	p.mu.Lock()
	st, already := p.stream, p.streamStopped
	if st != nil {
		p.streamStopped = true
	}
	p.mu.Unlock()
	if st == nil {
		return false, nil
	}
	if already {
		return true, nil
	}
	return true, st.Stop(ctx)
}

// report sends a coded error to the owner once per code.
func (p *peer) report(err error) {
	var pe *protocol.Error
	if !errors.As(err, &pe) {
		pe = protocol.Errorf(protocol.CodeInternal, "the audio stream failed")
		p.m.log.Error("webrtc stream error", "session", p.owner.SessionID, "error", err)
	}
	p.mu.Lock()
	if p.reported == nil {
		p.reported = map[string]bool{}
	}
	seen := p.reported[pe.Code]
	p.reported[pe.Code] = true
	p.mu.Unlock()
	if !seen {
		p.owner.Emit(protocol.EventWebRTCError, protocol.Error{Code: pe.Code, Message: pe.Message, SessionID: p.owner.SessionID})
	}
}

// closeAsync closes the peer on a goroutine the Manager waits for in Shutdown:
// close waits for pion's goroutines, so it must not run inside pion's callback.
func (p *peer) closeAsync() {
	p.mu.Lock()
	if p.closing {
		p.mu.Unlock()
		return
	}
	p.m.closers.Add(1)
	p.mu.Unlock()
	go func() {
		defer p.m.closers.Done()
		p.close()
	}()
}

// close tears the peer down and waits for its goroutines (which drain its stream).
// It is idempotent.
func (p *peer) close() {
	p.closeOnce.Do(func() {
		p.mu.Lock()
		p.closing = true
		p.mu.Unlock()
		p.cancel()
		p.startMu.Lock() // an offer being answered sets pc under startMu
		pc := p.pc
		p.startMu.Unlock()
		if pc != nil {
			if err := pc.Close(); err != nil {
				p.m.log.Debug("closing a peer connection", "error", err)
			}
		}
		p.wg.Wait()
		p.m.remove(p)
		close(p.done)
	})
	<-p.done
}

// seqAfter reports whether RTP sequence number a comes after b (with wrap-around).
func seqAfter(a, b uint16) bool {
	return a != b && a-b < 1<<15
}
