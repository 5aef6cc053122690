package signaling

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/gorilla/websocket"

	"github.com/earshot-dev/earshot/signaling/auth"
	"github.com/earshot-dev/earshot/signaling/protocol"
	"github.com/earshot-dev/earshot/signaling/socketio"
)

// Namespace is the Socket.IO namespace of the gateway.
const Namespace = "/interview"

// maxSIOAttachments bounds the binary attachments of one Socket.IO packet.
const maxSIOAttachments = 8

// sioFraming is the Socket.IO v5 framing of the event core, in namespace /interview.
type sioFraming struct{}

func (sioFraming) kind() framingKind { return framingSocketIO }

func (sioFraming) event(name string, payload json.RawMessage) []byte {
	return socketio.EventFrame(Namespace, name, nil, payload)
}

func (sioFraming) ack(id int64, data json.RawMessage, err *protocol.Error) []byte {
	if err != nil {
		data = mustJSON(struct {
			Error *protocol.Error `json:"error"`
		}{err})
	}
	return socketio.AckPacket(Namespace, uint64(id), data).Frame()
}

func sioConnectOK(sid string) []byte { return socketio.ConnectOK(Namespace, sid).Frame() }

func sioConnectError(perr *protocol.Error) []byte {
	p, err := socketio.ConnectErrorPacket(Namespace, perr.Message, map[string]string{"code": perr.Code})
	if err != nil {
		p, _ = socketio.ConnectErrorPacket(Namespace, "refused", nil)
	}
	return p.Frame()
}

func sioDisconnectPacket() []byte {
	return socketio.Packet{Type: socketio.Disconnect, Namespace: Namespace}.Frame()
}

// serveSocketIO upgrades GET /socket.io/?EIO=4&transport=websocket. Polling is not
// implemented: it is refused with Engine.IO's "Transport unknown".
func (s *Server) serveSocketIO(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	refuse := func(code int) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write(socketio.HandshakeError(code))
	}
	switch {
	case q.Get("EIO") != "4":
		refuse(socketio.EngineErrUnsupportedVersion)
		return
	case q.Get("transport") != "websocket":
		refuse(socketio.EngineErrTransportUnknown)
		return
	case q.Get("sid") != "":
		refuse(socketio.EngineErrSessionIDUnknown)
		return
	case r.Method != http.MethodGet:
		refuse(socketio.EngineErrBadHandshakeMethod)
		return
	}
	c, token, hasToken := s.accept(w, r, "socketio", sioFraming{})
	if c == nil {
		return
	}
	go c.runSocketIO(token, hasToken)
}

func (c *conn) runSocketIO(token string, hasToken bool) {
	c.enqueue(outItem{data: socketio.OpenPacket(newID(), c.s.opts.PingInterval, c.s.opts.PongTimeout, int(c.s.opts.MaxMessageSize))})
	if !c.sioConnect(token, hasToken) {
		c.drain()
		c.teardown()
		return
	}
	c.asm = socketio.NewAssembler(maxSIOAttachments, int(c.s.opts.MaxMessageSize))
	go c.sioLoop()
}

// sioLoop runs the read loop on fresh goroutines, as nativeLoop does: after a text
// event the loop continues on a new goroutine with a small stack.
func (c *conn) sioLoop() {
	if c.readSocketIO() {
		go c.sioLoop()
		return
	}
	c.teardown()
}

// sioConnect waits AuthTimeout for the CONNECT of /interview and authenticates with
// the request's token or the CONNECT auth object.
func (c *conn) sioConnect(token string, hasToken bool) bool {
	_ = c.ws.SetReadDeadline(time.Now().Add(c.s.opts.AuthTimeout))
	for {
		mt, b, tooBig, err := c.readPreAuth()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				c.refuse(protocol.Errorf(protocol.CodeUnauthorized, "no Socket.IO CONNECT within %s", c.s.opts.AuthTimeout))
				return false
			}
			c.readEnded(err)
			return false
		}
		if tooBig {
			c.refuse(c.preAuthTooBig())
			return false
		}
		if mt != websocket.TextMessage {
			c.refuse(protocol.Errorf(protocol.CodeUnauthorized, "connect to %s first", Namespace))
			return false
		}
		typ, data, err := socketio.ParseEngine(b)
		if err != nil {
			c.refuse(protocol.Errorf(protocol.CodeUnauthorized, "connect to %s first", Namespace))
			return false
		}
		switch typ {
		case socketio.EnginePong, socketio.EngineNoop:
			continue
		case socketio.EnginePing:
			c.enqueue(outItem{data: sioPong, kind: outPong})
			continue
		case socketio.EngineClose:
			c.readEnded(&websocket.CloseError{Code: websocket.CloseNormalClosure})
			return false
		case socketio.EngineMessage:
		default:
			c.refuse(protocol.Errorf(protocol.CodeUnauthorized, "connect to %s first", Namespace))
			return false
		}
		p, err := socketio.Decode(data)
		if err != nil {
			c.refuse(protocol.Errorf(protocol.CodeUnauthorized, "malformed Socket.IO packet before CONNECT: %v", err))
			return false
		}
		if p.Type != socketio.Connect {
			c.refuse(protocol.Errorf(protocol.CodeUnauthorized, "connect to %s first", Namespace))
			return false
		}
		if p.Namespace != Namespace {
			perr, _ := socketio.ConnectErrorPacket(p.Namespace, "Invalid namespace", nil)
			c.enqueue(outItem{data: perr.Frame()})
			continue
		}
		if !hasToken {
			var ok bool
			if token, ok = auth.TokenFromAuthPayload(p.Data); !ok {
				c.refuse(protocol.Errorf(protocol.CodeUnauthorized, "no token: pass auth:{token} (a string) or an Authorization header"))
				return false
			}
		}
		return c.authenticate(token, nil)
	}
}

// readSocketIO is the authenticated read loop of the Socket.IO endpoint. It returns
// false when the connection ended, true after a text event (see sioLoop).
func (c *conn) readSocketIO() bool {
	asm := c.asm
	for {
		mt, b, err := c.ws.ReadMessage()
		if err != nil {
			c.readEnded(err)
			return false
		}
		c.extendRead()
		if c.isClosing() {
			continue
		}
		if mt == websocket.BinaryMessage {
			pending, _ := asm.PendingPacket() // the packet the frame belongs to, if any
			p, atts, done, err := asm.Add(b)
			if err != nil {
				c.sioBad(err, ourAck(pending))
				continue
			}
			// Only our namespace's events are handled; the attachments of others
			// (a client's BINARY_ACK, another namespace's packet) are dropped.
			if done && p.Type == socketio.BinaryEvent && p.Namespace == Namespace {
				c.sioEvent(p, atts)
			}
			continue
		}
		typ, data, err := socketio.ParseEngine(b)
		if err != nil {
			c.sioBad(err, nil)
			continue
		}
		switch typ {
		case socketio.EnginePong, socketio.EngineNoop:
			continue
		case socketio.EnginePing:
			c.enqueue(outItem{data: sioPong, kind: outPong})
			continue
		case socketio.EngineClose:
			c.clientClosed()
			return false
		case socketio.EngineMessage:
		default:
			c.sioBad(errors.New("unexpected Engine.IO packet"), nil)
			continue
		}
		if asm.Pending() {
			// A Socket.IO packet while attachments are pending: the pending
			// packet is refused (as socket.io-parser refuses it), this one is read.
			pending, _ := asm.PendingPacket()
			asm.Reset()
			c.sioBad(errors.New("text packet while binary attachments were pending"), ourAck(pending))
		}
		p, err := socketio.Decode(data)
		if err != nil {
			c.sioBad(err, ourAck(p))
			continue
		}
		if p.Type == socketio.BinaryEvent || p.Type == socketio.BinaryAck {
			// Collected whatever they are, so that their attachments do not
			// become stray frames; only /interview's events are handled.
			if p.Type == socketio.BinaryEvent && p.Namespace != Namespace {
				c.sioBad(notConnected(p.Namespace), nil)
			}
			var atts [][]byte
			var done bool
			if p, atts, done, err = asm.Start(p); err != nil {
				c.sioBad(err, ourAck(p))
				continue
			}
			if !done {
				continue // the event is handled when its last attachment arrives
			}
			if p.Type == socketio.BinaryEvent && p.Namespace == Namespace {
				c.sioEvent(p, atts)
			}
			continue
		}
		if p.Namespace != Namespace {
			switch p.Type {
			case socketio.Connect:
				perr, _ := socketio.ConnectErrorPacket(p.Namespace, "Invalid namespace", nil)
				c.enqueue(outItem{data: perr.Frame()})
			case socketio.Event:
				// No ack: its id is that namespace's, not ours.
				c.sioBad(notConnected(p.Namespace), nil)
			}
			continue
		}
		switch p.Type {
		case socketio.Event:
			c.sioEvent(p, nil)
			return true
		case socketio.Disconnect:
			// The client left the only namespace: end the connection.
			c.clientClosed()
			return false
		case socketio.Connect:
			// Already connected: the same sid again. A token in it is not looked
			// at; use auth:refresh.
			c.enqueue(outItem{data: sioConnectOK(c.id)})
		default:
			// Acks from the client: the server asks for none.
		}
	}
}

// sioEvent turns an EVENT/BINARY_EVENT into a request for the event core.
func (c *conn) sioEvent(p socketio.Packet, atts [][]byte) {
	name, args, err := socketio.EventArgs(p.Data)
	if err != nil {
		c.sioBad(err, ourAck(p))
		return
	}
	req := request{Event: name, Attachments: atts}
	if len(args) > 0 {
		req.Data = args[0]
	}
	if p.ID != nil {
		if *p.ID > maxAckID {
			// An ack that JavaScript cannot match: refuse the event unanswered
			// rather than run it without its ack.
			c.sioBad(errors.New("ack id over 2^53-1"), nil)
			return
		}
		req.ID, req.HasID = int64(*p.ID), true
	}
	c.s.dispatch(c, &req)
}

func notConnected(ns string) error {
	return fmt.Errorf("event for namespace %s, which is not connected (connect to %s)", quote(ns), Namespace)
}

// ourAck is the ack id of a refused packet when the client waits for it on our
// namespace: an EVENT or BINARY_EVENT of /interview.
func ourAck(p socketio.Packet) *uint64 {
	if p.Namespace != Namespace || (p.Type != socketio.Event && p.Type != socketio.BinaryEvent) {
		return nil
	}
	return p.ID
}

// clientClosed ends the connection the client asked to end (Engine.IO close,
// Socket.IO DISCONNECT) with a close frame, so that it sees 1000, not a dropped
// connection.
func (c *conn) clientClosed() {
	c.closeWith(websocket.CloseNormalClosure, "", reasonClientClosed, true)
	c.drain()
}

// sioBad answers a malformed packet with error BAD_REQUEST, and its ack id (when
// the packet's id could be read) with a refused ack; the connection stays up.
func (c *conn) sioBad(err error, id *uint64) {
	c.s.m.eventIn("invalid", false)
	req := &request{Event: protocol.EventError}
	if id != nil && *id <= maxAckID {
		req.ID, req.HasID = int64(*id), true
	}
	if !c.admit(req) {
		return
	}
	c.fail(req, protocol.Errorf(protocol.CodeBadRequest, "malformed Socket.IO packet: %v", err))
}
