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
	ws := s.upgrade(w, r, "native")
	if ws == nil {
		return
	}
	token, _, hasToken := auth.TokenFromRequest(r)
	c := s.newConn(ws, nativeFraming{}, "native")
	if !s.track(c) {
		_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(protocol.CloseGoingAway, "server shutting down"), time.Now().Add(closeGrace))
		_ = ws.Close()
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
	// Token validation and JSON encoding grew this goroutine's stack; the read loop
	// of a long-lived, mostly idle connection starts afresh on a small one.
	go func() {
		defer c.teardown()
		c.readNative()
	}()
}

// nativeAuthFrame waits AuthTimeout for {"event":"auth","data":{"token"}}.
func (c *conn) nativeAuthFrame() bool {
	_ = c.ws.SetReadDeadline(time.Now().Add(c.s.opts.AuthTimeout))
	mt, b, err := c.ws.ReadMessage()
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			c.refuse(protocol.Errorf(protocol.CodeUnauthorized, "no authentication within %s", c.s.opts.AuthTimeout))
			return false
		}
		c.readEnded(err)
		return false
	}
	if mt != websocket.TextMessage {
		c.refuse(protocol.Errorf(protocol.CodeUnauthorized, "authenticate first: send {\"event\":\"auth\",\"data\":{\"token\":…}}"))
		return false
	}
	req, perr := decodeEnvelope(b)
	if perr != nil || req.Event != protocol.EventAuth {
		c.refuse(protocol.Errorf(protocol.CodeUnauthorized, "authenticate first: send {\"event\":\"auth\",\"data\":{\"token\":…}}"))
		return false
	}
	token, ok := auth.TokenFromAuthPayload(req.Data)
	if !ok {
		c.refuse(protocol.Errorf(protocol.CodeUnauthorized, "auth frame carries no token"))
		return false
	}
	return c.authenticate(token, &req)
}

// readNative is the authenticated read loop of /interview.
func (c *conn) readNative() {
	c.ws.SetPongHandler(func(string) error { c.extendRead(); return nil })
	for {
		mt, b, err := c.ws.ReadMessage()
		if err != nil {
			c.readEnded(err)
			return
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
			if !c.admit(&request{Event: protocol.EventError}) {
				continue
			}
			c.fail(&request{Event: protocol.EventError, ID: req.ID, HasID: req.HasID}, perr)
			continue
		}
		c.s.dispatch(c, &req)
	}
}
