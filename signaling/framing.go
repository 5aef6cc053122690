package signaling

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"

	"github.com/earshot-dev/earshot/signaling/protocol"
)

// framing turns server events and acks into text frames. The native endpoint and the
// Socket.IO endpoint differ only here and in how client frames are decoded: both feed
// the same handlers (one event core).
type framing interface {
	kind() framingKind
	// event frames a server event whose payload is already JSON.
	event(name string, payload json.RawMessage) []byte
	// ack frames the answer to client request id: data, or err when refused.
	ack(id int64, data json.RawMessage, err *protocol.Error) []byte
}

type framingKind uint8

const (
	framingNative framingKind = iota
	framingSocketIO
	numFramings
)

// request is one decoded client event, whatever its framing.
type request struct {
	Event       string
	Data        json.RawMessage
	ID          int64
	HasID       bool
	Attachments [][]byte // Socket.IO binary attachments, in order
}

// nativeFraming is the /interview framing: {"event","data"} and {"event":"ack","id"}.
type nativeFraming struct{}

func (nativeFraming) kind() framingKind { return framingNative }

func (nativeFraming) event(name string, payload json.RawMessage) []byte {
	b := make([]byte, 0, len(payload)+len(name)+22)
	b = append(b, `{"event":`...)
	b = appendJSONString(b, name)
	b = append(b, `,"data":`...)
	b = append(b, payload...)
	return append(b, '}')
}

func (nativeFraming) ack(id int64, data json.RawMessage, err *protocol.Error) []byte {
	b := make([]byte, 0, len(data)+48)
	b = append(b, `{"event":"ack","id":`...)
	b = strconv.AppendInt(b, id, 10)
	if err != nil {
		b = append(b, `,"error":`...)
		b = append(b, mustJSON(err)...)
	} else {
		b = append(b, `,"data":`...)
		b = append(b, data...)
	}
	return append(b, '}')
}

// appendJSONString appends s as a JSON string. Event names are plain ASCII, so the
// common case avoids encoding/json.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x7f {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

func mustJSON(v any) json.RawMessage {
	if raw, ok := v.(json.RawMessage); ok {
		return raw
	}
	b, err := json.Marshal(v)
	if err != nil {
		// Only our own payload types reach here; a failure is a programming error.
		b, _ = json.Marshal(protocol.Errorf(protocol.CodeInternal, "encode: %v", err))
	}
	return b
}

// maxAckID bounds client request ids to what JavaScript numbers hold exactly.
const maxAckID = 1<<53 - 1

// ackID reads a request id: a JSON number with an integer value from 0 to
// maxAckID, in any of JSON's spellings (7, 7.0, 7e0).
func ackID(raw json.RawMessage) (int64, bool) {
	if id, err := strconv.ParseInt(string(raw), 10, 64); err == nil {
		return id, id >= 0 && id <= maxAckID
	}
	// raw is valid JSON here: only a number parses as a float.
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || f != math.Trunc(f) || f < 0 || f > maxAckID {
		return 0, false
	}
	return int64(f), true
}

// decodeEnvelope parses a native text frame {"event","data","id"?}. On failure it
// returns a BAD_REQUEST error and, when the frame still carried a usable id, the
// request with HasID set so the caller can also refuse the ack.
func decodeEnvelope(b []byte) (request, *protocol.Error) {
	var env struct {
		Event *json.RawMessage `json:"event"`
		Data  json.RawMessage  `json:"data"`
		ID    json.RawMessage  `json:"id"`
	}
	var req request
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		return req, protocol.Errorf(protocol.CodeBadRequest, "frame is not a JSON object")
	}
	if err := json.Unmarshal(b, &env); err != nil {
		return req, protocol.Errorf(protocol.CodeBadRequest, "frame is not valid JSON: %s", jsonErrText(err))
	}
	if len(env.ID) > 0 && !bytes.Equal(env.ID, []byte("null")) {
		id, ok := ackID(env.ID)
		if !ok {
			return req, protocol.Errorf(protocol.CodeBadRequest, "id must be a non-negative integer")
		}
		req.ID, req.HasID = id, true
	}
	if env.Event == nil {
		return req, protocol.Errorf(protocol.CodeBadRequest, "frame has no event")
	}
	if err := json.Unmarshal(*env.Event, &req.Event); err != nil || req.Event == "" {
		return req, protocol.Errorf(protocol.CodeBadRequest, "event must be a non-empty string")
	}
	if len(req.Event) > 64 {
		return req, protocol.Errorf(protocol.CodeUnknownEvent, "unknown event")
	}
	req.Data = env.Data
	return req, nil
}

// jsonErrText describes a decoding error without echoing the client's bytes back.
func jsonErrText(err error) string {
	switch e := err.(type) {
	case *json.SyntaxError:
		return "syntax error at offset " + strconv.FormatInt(e.Offset, 10)
	case *json.UnmarshalTypeError:
		if e.Field != "" {
			return e.Field + " must be " + jsType(e.Type.Kind().String())
		}
		return "value must be " + jsType(e.Type.Kind().String())
	default:
		return "malformed"
	}
}

func jsType(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "int", "int64", "int32", "uint16", "uint32", "uint64", "float64":
		return "a number"
	case "bool":
		return "a boolean"
	case "slice":
		return "an array"
	case "struct", "map", "ptr":
		return "an object"
	default:
		return goKind
	}
}
