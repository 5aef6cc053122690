package signaling

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"

	"github.com/earshot-dev/earshot/signaling/auth"
	"github.com/earshot-dev/earshot/signaling/protocol"
	"github.com/earshot-dev/earshot/signaling/socketio"
)

// timeNow is the clock of rate limits (a variable for tests).
var timeNow = time.Now

// closeGrace bounds the close handshake: writing our close frame and waiting for the
// peer's answer (and, after 1009, draining what the peer still sends).
const closeGrace = time.Second

// queueItemOverhead is what the outbound queue charges for one frame on top of its
// bytes: the queue entry and the allocation behind it. Without it a flood of tiny
// frames would hold far more memory than OutboundQueueBytes.
const queueItemOverhead = 64

// preAuthMessageSize is the default of Options.AuthMessageSize: an unauthenticated
// peer only sends its token (at most 8 KiB by default), so it may not make the
// server buffer MaxMessageSize.
const preAuthMessageSize = 16 << 10

// Disconnect reasons, used in metrics, logs and user:disconnected.
const (
	reasonClientClosed = "client_closed"
	reasonError        = "connection_error"
	reasonPingTimeout  = "ping_timeout"
	reasonSlow         = "slow_consumer"
	reasonRateLimited  = "rate_limited"
	reasonTooBig       = "message_too_big"
	reasonUnauthorized = "unauthorized"
	reasonExpired      = "token_expired"
	reasonShutdown     = "shutdown"
)

type outKind uint8

const (
	outText outKind = iota
	outBinary
	outPing // a WebSocket ping control frame
	outPong // an Engine.IO pong (a text frame): at most one is queued at a time
)

// sioPong is the Engine.IO pong frame; it is shared and never written to.
var sioPong = []byte(socketio.PongFrame)

type outItem struct {
	data []byte
	kind outKind
}

// conn is one authenticated (or authenticating) client connection, whatever its
// framing. Its read loop runs on goroutines of its own, one at a time (see
// nativeLoop), never on the HTTP handler's; its writes go through a byte-bounded queue drained by at most one writer goroutine,
// started on demand, so an idle connection holds one goroutine. Publishers never
// block on a connection: when its queue overflows it is closed with 4008.
type conn struct {
	s        *Server
	id       string
	ws       *websocket.Conn
	fr       framing
	endpoint string

	// claims is set once by authenticate; refresh only moves expiresAt.
	claims    auth.Claims
	authed    atomic.Bool
	expiresAt atomic.Int64 // unix ms

	// Owned by the reading goroutine (one at a time).
	asm         *socketio.Assembler // Socket.IO binary packets being assembled
	lim         *rate.Limiter
	audioLim    *rate.Limiter // audio chunks: binary frames, audio:stream
	strikes     int
	strikeStart time.Time

	mu        sync.Mutex // guards the maps below
	sessions  map[string]*membership
	streams   map[string]*streamState // by session id
	binTarget *streamState            // stream opened last by audio:start
	pending   int                     // running async calls (audio:stop, clips, offers)

	qmu     sync.Mutex // guards the outbound queue
	items   []outItem
	qbytes  int
	writing bool
	closing bool // a close is pending or done: nothing more is queued
	// pongQueued: an outPong is in items. Engine.IO v4 clients do not ping (the server
	// does), so one pending pong answers any number of client pings.
	pongQueued bool
	dead       bool
	closeCode  int
	closeText  string
	closeDone  chan struct{} // closed once the close frame was written (or failed)
	// closeTaken: the writer is writing the close frame; closeFinished: closeDone is closed.
	closeTaken, closeFinished bool
	reason                    string // first disconnect reason

	wg         sync.WaitGroup // the writer and async calls
	ctx        context.Context
	cancel     context.CancelFunc
	pingTimer  *time.Timer
	expTimer   *time.Timer
	timerMu    sync.Mutex
	tornDown   bool
	lastReadAt atomic.Int64
}

type streamState struct {
	sessionID string
	sess      *session
	ms        MediaStream
	lim       *rate.Limiter
	format    string // what the stream was opened with; later chunks must match
}

func (s *Server) newConn(ws *websocket.Conn, fr framing, endpoint string) *conn {
	c := &conn{s: s, id: newID(), ws: ws, fr: fr, endpoint: endpoint}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.lim = rate.NewLimiter(rate.Limit(s.opts.EventRate), s.opts.EventBurst)
	c.audioLim = rate.NewLimiter(rate.Limit(s.opts.AudioChunkRate), s.opts.AudioChunkBurst)
	ws.SetReadLimit(s.opts.MaxMessageSize)
	return c
}

// readPreAuth reads one message before authentication. A message over
// MaxMessageSize is refused as after authentication (1009), but of one only
// AuthMessageSize bytes are kept: a larger one cannot carry an acceptable token, so
// the caller refuses it as UNAUTHORIZED (tooBig) without the server holding more.
func (c *conn) readPreAuth() (mt int, b []byte, tooBig bool, err error) {
	mt, r, err := c.ws.NextReader()
	if err != nil {
		return 0, nil, false, err
	}
	limit := min(c.s.opts.AuthMessageSize, c.s.opts.MaxMessageSize)
	if b, err = io.ReadAll(io.LimitReader(r, limit+1)); err != nil {
		return 0, nil, false, err
	}
	if int64(len(b)) <= limit {
		return mt, b, false, nil
	}
	// The rest is read and dropped, so that a message over MaxMessageSize (sent in
	// fragments) still ends in 1009.
	if _, err := io.Copy(io.Discard, r); err != nil {
		return 0, nil, false, err
	}
	return mt, nil, true, nil
}

// preAuthTooBig is the refusal of a first frame over AuthMessageSize.
func (c *conn) preAuthTooBig() *protocol.Error {
	return protocol.Errorf(protocol.CodeUnauthorized, "frame before authentication over %d bytes: too large to carry an acceptable token",
		min(c.s.opts.AuthMessageSize, c.s.opts.MaxMessageSize))
}

// userID is the token's subject.
func (c *conn) userID() string { return c.claims.Subject }

func (c *conn) user() protocol.User {
	return protocol.User{UserID: c.claims.Subject, Name: c.claims.Name, Role: c.claims.Role}
}

// --- outbound ---------------------------------------------------------------

// enqueue queues one frame without blocking. It returns false when the frame was
// dropped: the connection is closing, or the frame overflowed the queue, in which
// case the connection is being closed as a slow consumer. A frame costs its bytes
// plus queueItemOverhead. An outPong while one is already queued is not queued again
// (and reported as sent).
func (c *conn) enqueue(it outItem) bool {
	n := len(it.data) + queueItemOverhead
	c.qmu.Lock()
	if c.closing || c.dead {
		c.qmu.Unlock()
		return false
	}
	if it.kind == outPong {
		if c.pongQueued {
			c.qmu.Unlock()
			return true
		}
		c.pongQueued = true
	}
	if c.qbytes > 0 && c.qbytes+n > c.s.opts.OutboundQueueBytes {
		dropped := c.qbytes
		c.clearQueueLocked()
		c.beginCloseLocked(protocol.CloseSlowConsumer, "slow consumer", reasonSlow)
		c.qmu.Unlock()
		c.s.m.queueBytes.Add(-int64(dropped))
		c.s.log.Warn("closing slow consumer", "conn", c.id, "user", c.userID(), "queued_bytes", dropped)
		return false
	}
	c.items = append(c.items, it)
	c.qbytes += n
	c.startWriterLocked()
	c.qmu.Unlock()
	c.s.m.queueBytes.Add(int64(n))
	return true
}

func (c *conn) startWriterLocked() {
	if !c.writing && !c.dead {
		c.writing = true
		c.wg.Add(1)
		go c.writeLoop()
	}
}

// closeWith queues a close frame after what is already queued (flush) or instead of
// it. Only the first close counts.
func (c *conn) closeWith(code int, text, reason string, flush bool) {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	if c.closing || c.dead {
		return
	}
	if !flush {
		dropped := c.qbytes
		c.clearQueueLocked()
		c.s.m.queueBytes.Add(-int64(dropped))
	}
	c.beginCloseLocked(code, text, reason)
}

// clearQueueLocked drops every queued frame; the caller updates the gauge.
func (c *conn) clearQueueLocked() {
	clear(c.items)
	c.items = c.items[:0]
	c.qbytes = 0
	c.pongQueued = false
}

func (c *conn) beginCloseLocked(code int, text, reason string) {
	c.closing = true
	c.closeCode, c.closeText = code, text
	if c.reason == "" {
		c.reason = reason
	}
	c.closeDone = make(chan struct{})
	c.startWriterLocked()
}

// finishCloseLocked releases whoever waits for the close frame to be written.
func (c *conn) finishCloseLocked() {
	if c.closeDone != nil && !c.closeFinished {
		c.closeFinished = true
		close(c.closeDone)
	}
}

func (c *conn) isClosing() bool {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	return c.closing
}

// writeLoop is the connection's only writer. It exits when the queue is empty, and
// is restarted by the next enqueue.
func (c *conn) writeLoop() {
	defer c.wg.Done()
	var batch []outItem
	for {
		c.qmu.Lock()
		if c.dead {
			c.writing = false
			c.qmu.Unlock()
			return
		}
		if len(c.items) == 0 {
			c.writing = false
			if !c.closing || c.closeDone == nil || c.closeTaken {
				c.qmu.Unlock()
				return
			}
			c.closeTaken = true
			code, text := c.closeCode, c.closeText
			c.qmu.Unlock()
			c.writeClose(code, text)
			c.qmu.Lock()
			c.finishCloseLocked()
			c.qmu.Unlock()
			return
		}
		batch, c.items = c.items, batch[:0]
		n := c.qbytes
		c.qbytes = 0
		c.pongQueued = false // a pong in this batch is on its way
		c.qmu.Unlock()
		c.s.m.queueBytes.Add(-int64(n))
		for i := range batch {
			if err := c.writeItem(batch[i]); err != nil {
				clear(batch)
				c.writeFailed(err)
				return
			}
			batch[i] = outItem{}
		}
	}
}

func (c *conn) writeItem(it outItem) error {
	deadline := time.Now().Add(c.s.opts.WriteTimeout)
	switch it.kind {
	case outPing:
		return c.ws.WriteControl(websocket.PingMessage, nil, deadline)
	case outBinary:
		_ = c.ws.SetWriteDeadline(deadline)
		return c.ws.WriteMessage(websocket.BinaryMessage, it.data)
	default:
		_ = c.ws.SetWriteDeadline(deadline)
		return c.ws.WriteMessage(websocket.TextMessage, it.data)
	}
}

// writeFailed ends a connection whose socket no longer takes writes: the read loop
// sees the closed socket and tears the connection down.
func (c *conn) writeFailed(err error) {
	c.qmu.Lock()
	c.writing = false
	c.closing = true
	if c.reason == "" {
		c.reason = reasonError
	}
	dropped := c.qbytes
	c.clearQueueLocked()
	c.finishCloseLocked()
	c.qmu.Unlock()
	c.s.m.queueBytes.Add(-int64(dropped))
	c.s.log.Debug("write failed", "conn", c.id, "error", err)
	_ = c.ws.NetConn().Close()
}

// writeClose sends the close frame and gives the peer closeGrace to answer; the read
// loop ends on its answer or on that deadline.
func (c *conn) writeClose(code int, text string) {
	_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, text), time.Now().Add(closeGrace))
	_ = c.ws.NetConn().SetReadDeadline(time.Now().Add(closeGrace))
}

// emit sends a server event to this connection.
func (c *conn) emit(event string, payload any) {
	c.emitRaw(event, mustJSON(payload))
}

func (c *conn) emitRaw(event string, raw json.RawMessage) {
	if c.enqueue(outItem{data: c.fr.event(event, raw)}) {
		c.s.m.eventOut(event, 1)
	}
}

// ok answers a request: the named reply event (when reply is not empty) and, when the
// request carries an id, the ack with the same payload ({} when payload is nil).
func (c *conn) ok(req *request, reply string, payload any) {
	raw := json.RawMessage("{}")
	if payload != nil {
		raw = mustJSON(payload)
	}
	if reply != "" {
		c.emitRaw(reply, raw)
	}
	if req.HasID && c.enqueue(outItem{data: c.fr.ack(req.ID, raw, nil)}) {
		c.s.m.eventOut(protocol.EventAck, 1)
	}
}

// fail refuses a request: the family's error event and, with an id, a refused ack.
// NOT_JOINED is always session:error, whatever the event's family: the contract
// refuses every event naming a session the connection has not joined that way.
func (c *conn) fail(req *request, perr *protocol.Error) {
	c.s.m.errorCode(perr.Code)
	event := errorEventFor(req.Event)
	if perr.Code == protocol.CodeNotJoined {
		event = protocol.EventSessionError
	}
	c.emit(event, perr)
	if req.HasID && c.enqueue(outItem{data: c.fr.ack(req.ID, nil, perr)}) {
		c.s.m.eventOut(protocol.EventAck, 1)
	}
}

// --- timers -----------------------------------------------------------------

func (c *conn) startPing() {
	c.timerMu.Lock()
	defer c.timerMu.Unlock()
	if c.tornDown {
		return
	}
	c.pingTimer = time.AfterFunc(c.s.opts.PingInterval, c.pingTick)
}

func (c *conn) pingTick() {
	c.enqueue(c.pingItem())
	c.timerMu.Lock()
	if !c.tornDown {
		c.pingTimer.Reset(c.s.opts.PingInterval)
	}
	c.timerMu.Unlock()
}

func (c *conn) pingItem() outItem {
	if c.fr.kind() == framingSocketIO {
		return outItem{data: []byte{'2'}} // Engine.IO ping
	}
	return outItem{kind: outPing}
}

// armExpiry closes the connection with TOKEN_EXPIRED at the token's expiry unless a
// refresh moved it.
func (c *conn) armExpiry(exp time.Time) {
	c.expiresAt.Store(exp.UnixMilli())
	c.timerMu.Lock()
	defer c.timerMu.Unlock()
	if c.tornDown {
		return
	}
	d := time.Until(exp) + c.s.opts.TokenLeeway
	if c.expTimer == nil {
		c.expTimer = time.AfterFunc(d, c.expire)
	} else {
		c.expTimer.Reset(d)
	}
}

func (c *conn) expire() {
	if d := time.Until(time.UnixMilli(c.expiresAt.Load())) + c.s.opts.TokenLeeway; d > 0 {
		c.timerMu.Lock()
		if !c.tornDown {
			c.expTimer.Reset(d)
		}
		c.timerMu.Unlock()
		return
	}
	c.refuse(protocol.Errorf(protocol.CodeTokenExpired, "token expired"))
}

// refuse ends the connection for an authentication problem: connection:error, then
// close 4001 (4002 for TOKEN_EXPIRED).
func (c *conn) refuse(perr *protocol.Error) { c.refuseReq(nil, perr) }

// refuseReq is refuse for a request that may carry an ack id (the native auth
// frame, or another first frame): the ack is refused too, after
// connection:error and before the close, as for any request with an id.
func (c *conn) refuseReq(req *request, perr *protocol.Error) {
	code, reason := protocol.CloseUnauthorized, reasonUnauthorized
	if perr.Code == protocol.CodeTokenExpired {
		code, reason = protocol.CloseTokenExpired, reasonExpired
	}
	c.s.m.errorCode(perr.Code)
	if c.fr.kind() == framingSocketIO && !c.authed.Load() {
		c.enqueue(outItem{data: sioConnectError(perr)})
	} else {
		c.emit(protocol.EventConnectionError, perr)
		if req != nil && req.HasID && c.enqueue(outItem{data: c.fr.ack(req.ID, nil, perr)}) {
			c.s.m.eventOut(protocol.EventAck, 1)
		}
		if c.fr.kind() == framingSocketIO {
			c.enqueue(outItem{data: sioDisconnectPacket()})
		}
	}
	c.closeWith(code, perr.Code, reason, true)
}

// --- inbound ----------------------------------------------------------------

// extendRead moves the read deadline: a live peer answers pings within
// PingInterval+PongTimeout.
func (c *conn) extendRead() {
	now := time.Now()
	// SetReadDeadline costs a timer update: skip it when the last one is recent
	// compared with the deadline it set.
	window := c.s.opts.PingInterval + c.s.opts.PongTimeout
	if now.UnixMilli()-c.lastReadAt.Load() < min(window/4, time.Second).Milliseconds() {
		return
	}
	c.lastReadAt.Store(now.UnixMilli())
	if c.isClosing() {
		return
	}
	_ = c.ws.SetReadDeadline(now.Add(window))
}

// admit applies the event rate limit. Sustained abuse closes the connection with 4029.
func (c *conn) admit(req *request) bool {
	lim, what, perSec := c.lim, "events", c.s.opts.EventRate
	if req.Event == protocol.EventAudioStream {
		lim, what, perSec = c.audioLim, "audio chunks", c.s.opts.AudioChunkRate
	}
	if lim.Allow() {
		return true
	}
	now := time.Now()
	if now.Sub(c.strikeStart) > c.s.opts.RateLimitWindow {
		c.strikeStart, c.strikes = now, 0
	}
	c.strikes++
	if c.strikes > c.s.opts.RateLimitStrikes {
		c.s.m.errorCode(protocol.CodeRateLimited)
		c.closeWith(protocol.CloseRateLimited, "rate limit", reasonRateLimited, true)
		return false
	}
	c.fail(req, protocol.Errorf(protocol.CodeRateLimited, "too many %s: limit is %g per second", what, perSec))
	return false
}

// readErrReason classifies why the read loop ended.
func (c *conn) readErrReason(err error) string {
	var ne net.Error
	switch {
	case websocket.IsCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway, websocket.CloseNoStatusReceived):
		return reasonClientClosed
	case errors.Is(err, websocket.ErrReadLimit):
		return reasonTooBig
	case errors.As(err, &ne) && ne.Timeout():
		return reasonPingTimeout
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return reasonError // ended without a close frame
	default:
		// gorilla reports a TCP connection that ended without a close frame as a
		// 1006 close (abnormal closure): the connection was lost, not closed.
		var ce *websocket.CloseError
		if errors.As(err, &ce) && ce.Code != websocket.CloseAbnormalClosure {
			return reasonClientClosed
		}
		return reasonError
	}
}

// readEnded records why reading stopped; after an oversized frame it drains what the
// peer still sends so that it reads our 1009 close instead of a reset.
func (c *conn) readEnded(err error) {
	reason := c.readErrReason(err)
	c.qmu.Lock()
	if c.reason == "" {
		c.reason = reason
	}
	c.closing = true
	c.qmu.Unlock()
	if reason == reasonTooBig {
		c.s.m.errorCode("MESSAGE_TOO_BIG")
		nc := c.ws.NetConn()
		_ = nc.SetReadDeadline(time.Now().Add(closeGrace))
		_, _ = io.Copy(io.Discard, io.LimitReader(nc, 64<<20))
	}
}

// drain reads and discards frames until the peer answers our close or closeGrace
// passes, so the close handshake completes cleanly. The grace starts once the close
// frame is written (as writeClose's does): a deadline set before that would replace
// the one writeClose set.
func (c *conn) drain() {
	c.awaitCloseFrame()
	_ = c.ws.SetReadDeadline(time.Now().Add(closeGrace))
	for {
		if _, _, err := c.ws.NextReader(); err != nil {
			return
		}
	}
}

// awaitCloseFrame waits, at most WriteTimeout + closeGrace, until a pending close
// frame has been written (or its write failed); it returns at once when none is.
func (c *conn) awaitCloseFrame() {
	c.qmu.Lock()
	done := c.closeDone
	c.qmu.Unlock()
	if done == nil {
		return
	}
	t := time.NewTimer(c.s.opts.WriteTimeout + closeGrace)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
}

// teardown releases everything the connection holds. Runs on the read goroutine.
func (c *conn) teardown() {
	c.timerMu.Lock()
	c.tornDown = true
	if c.pingTimer != nil {
		c.pingTimer.Stop()
	}
	if c.expTimer != nil {
		c.expTimer.Stop()
	}
	c.timerMu.Unlock()

	// Let a pending close frame go out before the socket closes.
	c.awaitCloseFrame()
	c.qmu.Lock()
	c.dead, c.closing = true, true
	dropped := c.qbytes
	c.clearQueueLocked()
	c.items = nil
	if c.reason == "" {
		c.reason = reasonError
	}
	reason := c.reason
	c.qmu.Unlock()
	c.s.m.queueBytes.Add(-int64(dropped))
	_ = c.ws.Close()
	c.cancel()
	if c.authed.Load() {
		c.s.leaveAll(c, reason)
	}
	c.wg.Wait()
	c.s.unregister(c, reason)
}

// asyncBusy reports whether limit calls started with goAsync are running.
func (c *conn) asyncBusy(limit int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pending >= limit
}

// goAsync runs f on a goroutine the connection owns (waited for in teardown), for
// calls that may take long: draining a stream, a clip, a WebRTC offer. With a
// membership m, f gets m's context and leaving the session cancels f and waits for
// it (see detach); without, f gets the connection's. It runs on the reading
// goroutine, as leaving does, so a call is never added to a membership being left.
func (c *conn) goAsync(m *membership, limit int, f func(ctx context.Context)) bool {
	c.mu.Lock()
	if c.pending >= limit {
		c.mu.Unlock()
		return false
	}
	c.pending++
	c.wg.Add(1)
	c.mu.Unlock()
	ctx := c.ctx
	if m != nil {
		m.calls.Add(1)
		ctx = m.ctx
	}
	go func() {
		defer c.wg.Done()
		defer func() {
			c.mu.Lock()
			c.pending--
			c.mu.Unlock()
		}()
		if m != nil {
			defer m.calls.Done()
		}
		f(ctx)
	}()
	return true
}
