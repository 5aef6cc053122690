package socketio

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// EngineType is an Engine.IO v4 packet type.
type EngineType byte

// Engine.IO v4 packet types, as the digit that starts a text frame.
const (
	EngineOpen    EngineType = '0'
	EngineClose   EngineType = '1'
	EnginePing    EngineType = '2'
	EnginePong    EngineType = '3'
	EngineMessage EngineType = '4'
	EngineUpgrade EngineType = '5'
	EngineNoop    EngineType = '6'
)

func (t EngineType) String() string {
	switch t {
	case EngineOpen:
		return "open"
	case EngineClose:
		return "close"
	case EnginePing:
		return "ping"
	case EnginePong:
		return "pong"
	case EngineMessage:
		return "message"
	case EngineUpgrade:
		return "upgrade"
	case EngineNoop:
		return "noop"
	}
	return fmt.Sprintf("EngineType(%d)", byte(t))
}

// Ready-made Engine.IO text frames. In v4 the server pings and the client answers.
const (
	PingFrame  = "2"
	PongFrame  = "3"
	CloseFrame = "1"
	NoopFrame  = "6"
)

// ErrBadPacket is wrapped by every decoding error; the wrapping message says what is
// wrong with the packet.
var ErrBadPacket = errors.New("socketio: bad packet")

func badPacket(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrBadPacket}, args...)...)
}

// ParseEngine splits an Engine.IO text frame into its type and data. data aliases
// frame. Binary WebSocket frames are not Engine.IO-prefixed in v4 and must not be
// passed here.
func ParseEngine(frame []byte) (typ EngineType, data []byte, err error) {
	if len(frame) == 0 {
		return 0, nil, badPacket("empty Engine.IO frame")
	}
	typ = EngineType(frame[0])
	if typ < EngineOpen || typ > EngineNoop {
		return 0, nil, badPacket("unknown Engine.IO packet type %q", frame[0])
	}
	return typ, frame[1:], nil
}

// OpenPacket is the Engine.IO open frame the server sends first:
// 0{"sid":…,"upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":…}.
// upgrades is empty because the WebSocket transport is the only one offered.
func OpenPacket(sid string, pingInterval, pingTimeout time.Duration, maxPayload int) []byte {
	b := make([]byte, 0, 96+len(sid))
	b = append(b, `0{"sid":`...)
	b = appendJSONString(b, sid)
	b = append(b, `,"upgrades":[],"pingInterval":`...)
	b = strconv.AppendInt(b, pingInterval.Milliseconds(), 10)
	b = append(b, `,"pingTimeout":`...)
	b = strconv.AppendInt(b, pingTimeout.Milliseconds(), 10)
	b = append(b, `,"maxPayload":`...)
	b = strconv.AppendInt(b, int64(maxPayload), 10)
	return append(b, '}')
}

// Engine.IO handshake error codes, sent as the JSON body of an HTTP 400 answer to a
// request the server will not upgrade.
const (
	EngineErrTransportUnknown   = 0
	EngineErrSessionIDUnknown   = 1
	EngineErrBadHandshakeMethod = 2
	EngineErrBadRequest         = 3
	EngineErrForbidden          = 4
	EngineErrUnsupportedVersion = 5
)

var engineErrMessages = [...]string{
	"Transport unknown",
	"Session ID unknown",
	"Bad handshake method",
	"Bad request",
	"Forbidden",
	"Unsupported protocol version",
}

// HandshakeError is the JSON body of an Engine.IO handshake error, e.g.
// {"code":0,"message":"Transport unknown"} for a polling request to a
// WebSocket-only server.
func HandshakeError(code int) []byte {
	msg := "Bad request"
	if code >= 0 && code < len(engineErrMessages) {
		msg = engineErrMessages[code]
	}
	b := append([]byte(`{"code":`), strconv.Itoa(code)...)
	b = append(b, `,"message":`...)
	b = appendJSONString(b, msg)
	return append(b, '}')
}
