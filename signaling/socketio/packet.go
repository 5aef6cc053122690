package socketio

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// PacketType is a Socket.IO v5 packet type.
type PacketType int

// Socket.IO v5 packet types.
const (
	Connect PacketType = iota
	Disconnect
	Event
	Ack
	ConnectError
	BinaryEvent
	BinaryAck
)

func (t PacketType) String() string {
	switch t {
	case Connect:
		return "CONNECT"
	case Disconnect:
		return "DISCONNECT"
	case Event:
		return "EVENT"
	case Ack:
		return "ACK"
	case ConnectError:
		return "CONNECT_ERROR"
	case BinaryEvent:
		return "BINARY_EVENT"
	case BinaryAck:
		return "BINARY_ACK"
	}
	return "PacketType(" + strconv.Itoa(int(t)) + ")"
}

// Bounds Decode enforces.
const (
	// MaxNamespaceLen is the longest namespace accepted, in bytes.
	MaxNamespaceLen = 128
	// MaxAttachments is the largest attachment count a packet header may announce.
	// An Assembler usually enforces a smaller limit.
	MaxAttachments = 256
	// maxIDDigits is the length of the largest uint64; ParseUint catches overflow.
	maxIDDigits = 20
	// MaxEventNameLen is the longest event name EventArgs accepts, in bytes.
	MaxEventNameLen = 128
)

// DefaultNamespace is the namespace of a packet without one.
const DefaultNamespace = "/"

// Packet is one Socket.IO packet.
type Packet struct {
	Type PacketType
	// Namespace is "/" when the packet names none.
	Namespace string
	// ID is the ack id: set on an event that expects an ack and on the ack itself.
	ID *uint64
	// Attachments is the number of binary frames that follow a BinaryEvent/BinaryAck.
	Attachments int
	// Data is the JSON payload (nil when absent). After Decode it aliases the input.
	Data json.RawMessage
}

// Decode parses a Socket.IO packet: the data of an Engine.IO message packet (after
// its '4'). It is strict: the type must be 0–6, an attachment count only appears on
// binary types and ends with '-', a namespace starts with '/' and ends with ',' or the
// packet, an ack id fits a uint64, and the payload must be valid JSON of the
// shape the type requires (CONNECT: object; DISCONNECT: none; EVENT/BINARY_EVENT:
// array whose first element is the event name string; ACK/BINARY_ACK: array;
// CONNECT_ERROR: object or string). Data aliases text. On error the Packet holds
// what was read of the header (type, namespace, ack id), without data.
func Decode(text []byte) (Packet, error) {
	var p Packet
	if len(text) == 0 {
		return p, badPacket("empty Socket.IO packet")
	}
	c := text[0]
	if c < '0' || c > '6' {
		return p, badPacket("unknown Socket.IO packet type %q", c)
	}
	p.Type = PacketType(c - '0')
	i := 1

	if p.Type == BinaryEvent || p.Type == BinaryAck {
		start := i
		for i < len(text) && isDigit(text[i]) {
			i++
			if i-start > 3 {
				return p, badPacket("attachment count longer than 3 digits")
			}
		}
		if i == start || i >= len(text) || text[i] != '-' {
			return p, badPacket("binary packet without <count>- attachment header")
		}
		n, _ := strconv.Atoi(string(text[start:i]))
		if n > MaxAttachments {
			return p, badPacket("%d attachments announced, limit %d", n, MaxAttachments)
		}
		p.Attachments = n
		i++ // '-'
	}

	p.Namespace = DefaultNamespace
	if i < len(text) && text[i] == '/' {
		start := i
		for i < len(text) && text[i] != ',' {
			if text[i] < 0x20 || text[i] == 0x7f {
				return p, badPacket("control character in namespace")
			}
			i++
			if i-start > MaxNamespaceLen {
				return p, badPacket("namespace longer than %d bytes", MaxNamespaceLen)
			}
		}
		ns := text[start:i]
		if !utf8.Valid(ns) {
			return p, badPacket("namespace is not UTF-8")
		}
		p.Namespace = internNamespace(ns)
		if i < len(text) {
			i++ // ','
		}
	}

	if i < len(text) && isDigit(text[i]) {
		start := i
		for i < len(text) && isDigit(text[i]) {
			i++
			if i-start > maxIDDigits {
				return p, badPacket("ack id longer than %d digits", maxIDDigits)
			}
		}
		id, err := strconv.ParseUint(string(text[start:i]), 10, 64)
		if err != nil {
			return p, badPacket("ack id out of range")
		}
		p.ID = &id
	}

	if i < len(text) {
		p.Data = json.RawMessage(text[i:])
	}
	if err := checkPayload(p); err != nil {
		// What was read of the header, so that the caller can refuse the ack.
		return Packet{Type: p.Type, Namespace: p.Namespace, ID: p.ID}, err
	}
	return p, nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// internNamespace avoids allocating a string for the namespaces every packet names.
func internNamespace(ns []byte) string {
	switch string(ns) { // no allocation: the compiler optimises string(b) in a switch
	case "/":
		return "/"
	case "/interview":
		return "/interview"
	}
	return string(ns)
}

func checkPayload(p Packet) error {
	d := p.Data
	if p.Type == Disconnect {
		if len(d) != 0 {
			return badPacket("DISCONNECT carries a payload")
		}
		return nil
	}
	if len(d) == 0 {
		switch p.Type {
		case Connect:
			return nil // CONNECT without auth: 40 or 40/ns,
		case ConnectError:
			return badPacket("CONNECT_ERROR without payload")
		default:
			return badPacket("%s without payload", p.Type)
		}
	}
	if !json.Valid(d) {
		return badPacket("%s payload is not valid JSON", p.Type)
	}
	first := firstByte(d)
	switch p.Type {
	case Connect:
		if first != '{' {
			return badPacket("CONNECT payload is not an object")
		}
	case ConnectError:
		if first != '{' && first != '"' {
			return badPacket("CONNECT_ERROR payload is not an object or string")
		}
	case Event, BinaryEvent:
		if first != '[' {
			return badPacket("%s payload is not an array", p.Type)
		}
		if firstByte(bytes.TrimLeft(d, " \t\r\n")[1:]) != '"' {
			return badPacket("%s payload does not start with an event name string", p.Type)
		}
	case Ack, BinaryAck:
		if first != '[' {
			return badPacket("%s payload is not an array", p.Type)
		}
	}
	return nil
}

func firstByte(b []byte) byte {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return c
	}
	return 0
}

// Append appends the encoded packet (without the Engine.IO '4') to dst. The
// attachment header is written for the binary types; a namespace other than "/" is
// written followed by ','. Data is written as is: it must be valid JSON.
func (p Packet) Append(dst []byte) []byte {
	dst = append(dst, byte('0'+p.Type))
	if p.Type == BinaryEvent || p.Type == BinaryAck {
		dst = strconv.AppendInt(dst, int64(p.Attachments), 10)
		dst = append(dst, '-')
	}
	if p.Namespace != "" && p.Namespace != DefaultNamespace {
		dst = append(dst, p.Namespace...)
		dst = append(dst, ',')
	}
	if p.ID != nil {
		dst = strconv.AppendUint(dst, *p.ID, 10)
	}
	return append(dst, p.Data...)
}

// Encode returns the encoded packet without the Engine.IO '4' prefix.
func (p Packet) Encode() []byte {
	return p.Append(make([]byte, 0, p.encodedLen()))
}

// Frame returns the WebSocket text frame for p: the Engine.IO message type '4'
// followed by the encoded packet.
func (p Packet) Frame() []byte {
	b := make([]byte, 0, 1+p.encodedLen())
	return p.Append(append(b, byte(EngineMessage)))
}

func (p Packet) encodedLen() int {
	return 1 + 4 + len(p.Namespace) + 1 + 20 + len(p.Data)
}

// EventArgs splits an EVENT payload ["name", arg0, arg1…] into the event name and its
// arguments. The arguments alias data.
func EventArgs(data json.RawMessage) (name string, args []json.RawMessage, err error) {
	var all []json.RawMessage
	if err := json.Unmarshal(data, &all); err != nil {
		return "", nil, badPacket("event payload is not a JSON array")
	}
	if len(all) == 0 {
		return "", nil, badPacket("event payload is an empty array")
	}
	if firstByte(all[0]) != '"' {
		return "", nil, badPacket("event name is not a string")
	}
	if err := json.Unmarshal(all[0], &name); err != nil {
		return "", nil, badPacket("event name is not a string")
	}
	if name == "" || len(name) > MaxEventNameLen {
		return "", nil, badPacket("event name empty or longer than %d bytes", MaxEventNameLen)
	}
	return name, all[1:], nil
}

// EventFrame builds the WebSocket text frame of an event without attachments:
// 42<ns>,["name",data]. data must be valid JSON (nil sends the event without
// argument).
func EventFrame(ns, name string, id *uint64, data json.RawMessage) []byte {
	b := make([]byte, 0, 8+len(ns)+len(name)+len(data)+24)
	b = append(b, byte(EngineMessage), '2')
	if ns != "" && ns != DefaultNamespace {
		b = append(b, ns...)
		b = append(b, ',')
	}
	if id != nil {
		b = strconv.AppendUint(b, *id, 10)
	}
	b = append(b, '[')
	b = appendJSONString(b, name)
	if data != nil {
		b = append(b, ',')
		b = append(b, data...)
	}
	return append(b, ']')
}

// ConnectOK is the server's answer to a successful CONNECT: 40<ns>,{"sid":…}.
func ConnectOK(ns, sid string) Packet {
	d := appendJSONString(append(make([]byte, 0, len(sid)+10), `{"sid":`...), sid)
	return Packet{Type: Connect, Namespace: ns, Data: append(d, '}')}
}

// ConnectErrorPacket is the server's refusal of a CONNECT:
// 44<ns>,{"message":…,"data":…}. socket.io-client hands message and data to
// connect_error as err.message and err.data. data may be nil.
func ConnectErrorPacket(ns, message string, data any) (Packet, error) {
	body := struct {
		Message string `json:"message"`
		Data    any    `json:"data,omitempty"`
	}{message, data}
	b, err := json.Marshal(body)
	if err != nil {
		return Packet{}, fmt.Errorf("socketio: connect error payload: %w", err)
	}
	return Packet{Type: ConnectError, Namespace: ns, Data: b}, nil
}

// AckPacket answers the event with ack id id: 43<ns>,<id>[data]. data must be valid
// JSON (nil acks with no argument).
func AckPacket(ns string, id uint64, data json.RawMessage) Packet {
	b := make([]byte, 0, len(data)+2)
	b = append(b, '[')
	b = append(b, data...)
	return Packet{Type: Ack, Namespace: ns, ID: &id, Data: append(b, ']')}
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD so the
// client's JSON.parse never fails on what we send (one bad payload makes
// socket.io-client drop the connection).
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c < 0x20:
				switch c {
				case '\n':
					b = append(b, '\\', 'n')
				case '\r':
					b = append(b, '\\', 'r')
				case '\t':
					b = append(b, '\\', 't')
				default:
					b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
				}
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else if r == '\u2028' || r == '\u2029' {
			b = append(b, `\u202`...)
			b = append(b, hexDigits[r&0xf])
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
