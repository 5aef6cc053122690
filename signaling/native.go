package signaling

import (
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/gorilla/websocket"

	"github.com/earshot-dev/earshot/signaling/auth"
	"github.com/earshot-dev/earshot/signaling/protocol"
)

// serveNative upgrades GET /interview. Everything after the upgrade runs on a fresh
// goroutine so the handler's grown stack and net/http's buffers are released (about
// half the memory of an idle connection).
func (s *Server) serveNative(w http.ResponseWriter, r *http.Request) {
	c, token, hasToken := s.accept(w, r, "native", nativeFraming{})
	if c == nil {
		return
	}
	go c.runNative(token, hasToken)
}

func (c *conn) runNative(token string, hasToken bool) {
	ok := false
	if hasToken {
		ok = c.authenticate(token, nil)
	} else {
		ok = c.nativeAuthFrame()
	}
	if !ok {
		c.drain()
		c.teardown()
		return
	}
	c.ws.SetPongHandler(func(string) error { c.extendRead(); return nil })
	go c.nativeLoop()
}

// nativeLoop runs the read loop on a fresh goroutine. Handling an event (token
// validation, JSON, the handlers) grows a goroutine's stack to 8 KiB, which the GC
// does not shrink while the parked read uses more than a quarter of it; so after a
// text event the loop continues on a new goroutine with a small stack, and an idle
// connection keeps about 4 KiB of stack instead of 8. Binary audio frames, the
// high-rate path, stay on the same goroutine.
func (c *conn) nativeLoop() {
	if c.readNative() {
		go c.nativeLoop()
		return
	}
	c.teardown()
}

// nativeAuthFrame waits AuthTimeout for {"event":"auth","data":{"token"}}.
func (c *conn) nativeAuthFrame() bool {
	_ = c.ws.SetReadDeadline(time.Now().Add(c.s.opts.AuthTimeout))
	mt, b, tooBig, err := c.readPreAuth()
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			c.refuse(protocol.Errorf(protocol.CodeUnauthorized, "no authentication within %s", c.s.opts.AuthTimeout))
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
		c.refuse(protocol.Errorf(protocol.CodeUnauthorized, "authenticate first: send {\"event\":\"auth\",\"data\":{\"token\":…}}"))
		return false
	}
	// A refused first frame that carries an id gets its refused ack too.
	req, perr := decodeEnvelope(b)
	if perr != nil || req.Event != protocol.EventAuth {
		c.refuseReq(&req, protocol.Errorf(protocol.CodeUnauthorized, "authenticate first: send {\"event\":\"auth\",\"data\":{\"token\":…}}"))
		return false
	}
	token, ok := auth.TokenFromAuthPayload(req.Data)
	if !ok {
		c.refuseReq(&req, protocol.Errorf(protocol.CodeUnauthorized, "auth frame carries no token"))
		return false
	}
	return c.authenticate(token, &req)
}

// readNative reads until the connection ends (false) or a text event was handled
// (true: the loop continues on a fresh goroutine).
func (c *conn) readNative() bool {
	for {
		mt, b, err := c.ws.ReadMessage()
		if err != nil {
			c.readEnded(err)
			return false
		}
		c.extendRead()
		if c.isClosing() {
			continue // a close is on its way; wait for the peer's answer
		}
		if mt == websocket.BinaryMessage {
			c.s.handleBinary(c, b)
			continue
		}
		req, perr := decodeEnvelope(b)
		if perr != nil {
			c.s.m.eventIn("invalid", false)
			if !c.admit(&request{Event: protocol.EventError, ID: req.ID, HasID: req.HasID}) {
				continue
			}
			c.fail(&request{Event: protocol.EventError, ID: req.ID, HasID: req.HasID}, perr)
			return true
		}
		c.s.dispatch(c, &req)
		return true
	}
}
