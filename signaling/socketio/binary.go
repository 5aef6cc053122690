package socketio

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// placeholder is how a binary attachment is referenced from a packet's JSON.
type placeholder struct {
	Placeholder bool `json:"_placeholder"`
	Num         int  `json:"num"`
}

// Placeholder returns a value that marshals to {"_placeholder":true,"num":n}, for
// building the payload of EncodeEvent.
func Placeholder(n int) any { return placeholder{Placeholder: true, Num: n} }

// IsPlaceholder reports whether raw is an attachment placeholder
// {"_placeholder":true,"num":N} and returns N. N must be a non-negative integer.
func IsPlaceholder(raw json.RawMessage) (num int, ok bool) {
	if firstByte(raw) != '{' || !bytes.Contains(raw, []byte(`"_placeholder"`)) {
		return 0, false // fast path: most values are not placeholders
	}
	var p struct {
		Placeholder *bool           `json:"_placeholder"`
		Num         json.RawMessage `json:"num"`
	}
	if json.Unmarshal(raw, &p) != nil || p.Placeholder == nil || !*p.Placeholder || len(p.Num) == 0 || !isDigit(p.Num[0]) {
		return 0, false // num must be a JSON number, not a numeric string
	}
	n, err := strconv.Atoi(string(p.Num))
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// Attachment returns the attachment raw refers to when raw is a placeholder with a
// num inside atts.
func Attachment(raw json.RawMessage, atts [][]byte) ([]byte, bool) {
	n, ok := IsPlaceholder(raw)
	if !ok || n >= len(atts) {
		return nil, false
	}
	return atts[n], true
}

// checkPlaceholders verifies that every placeholder object in data
// ({"_placeholder":true,…}) has an integer num in [0, n), as socket.io-parser
// requires when it reconstructs a packet.
func checkPlaceholders(data json.RawMessage, n int) error {
	if !bytes.Contains(data, []byte(`"_placeholder"`)) {
		return nil // unreferenced attachments are allowed, as in socket.io-parser
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return badPacket("payload is not valid JSON")
	}
	return walkPlaceholders(v, n)
}

func walkPlaceholders(v any, n int) error {
	switch v := v.(type) {
	case map[string]any:
		if p, ok := v["_placeholder"].(bool); ok && p {
			num, ok := v["num"].(json.Number)
			if !ok {
				return badPacket("placeholder without a numeric num")
			}
			i, err := strconv.Atoi(num.String())
			if err != nil || i < 0 || i >= n {
				return badPacket("placeholder num %s outside the %d attachments", num, n)
			}
			return nil
		}
		for _, e := range v {
			if err := walkPlaceholders(e, n); err != nil {
				return err
			}
		}
	case []any:
		for _, e := range v {
			if err := walkPlaceholders(e, n); err != nil {
				return err
			}
		}
	}
	return nil
}

// Assembler collects a binary packet (BINARY_EVENT or BINARY_ACK) and the binary
// frames that follow it. One Assembler serves one connection; it is not safe for
// concurrent use.
//
// Usage on a connection's read loop:
//
//	text frame  → p := Decode(…); if p has attachments: a.Start(p) …
//	binary frame → p, atts, done, err := a.Add(frame)
//
// While a packet is pending, a text packet is a protocol error (Start fails) and a
// binary frame without a pending packet is one too (Add fails), as in socket.io-parser.
// Any error resets the Assembler.
type Assembler struct {
	maxAttachments int
	maxBytes       int

	pending bool
	pkt     Packet
	atts    [][]byte
	size    int
}

// NewAssembler returns an Assembler that refuses packets announcing more than
// maxAttachments attachments or whose attachments total more than maxBytes.
func NewAssembler(maxAttachments, maxBytes int) *Assembler {
	if maxAttachments > MaxAttachments {
		maxAttachments = MaxAttachments
	}
	return &Assembler{maxAttachments: maxAttachments, maxBytes: maxBytes}
}

// Pending reports whether binary frames are expected.
func (a *Assembler) Pending() bool { return a.pending }

// PendingPacket returns the packet whose attachments are being collected.
func (a *Assembler) PendingPacket() (Packet, bool) { return a.pkt, a.pending }

// Reset drops a partly collected packet.
func (a *Assembler) Reset() {
	a.pending = false
	a.pkt = Packet{}
	a.atts = nil
	a.size = 0
}

// Start begins collecting the attachments of p, a decoded BINARY_EVENT or
// BINARY_ACK. When p announces no attachment it is complete at once: done is true and
// p is returned. When p itself is refused, pkt is p (for its ack id). The packet's placeholders are checked against its attachment count
// here, before any binary frame is buffered.
func (a *Assembler) Start(p Packet) (pkt Packet, atts [][]byte, done bool, err error) {
	if a.pending {
		n := a.pkt.Attachments - len(a.atts)
		a.Reset()
		return Packet{}, nil, false, badPacket("text packet while %d binary attachments were pending", n)
	}
	if p.Type != BinaryEvent && p.Type != BinaryAck {
		return Packet{}, nil, false, badPacket("%s has no attachments to assemble", p.Type)
	}
	if p.Attachments > a.maxAttachments {
		return p, nil, false, badPacket("%d attachments announced, limit %d", p.Attachments, a.maxAttachments)
	}
	if err := checkPlaceholders(p.Data, p.Attachments); err != nil {
		return p, nil, false, err
	}
	if p.Attachments == 0 {
		return p, nil, true, nil
	}
	a.pending = true
	a.pkt = p
	a.atts = make([][]byte, 0, p.Attachments)
	a.size = 0
	return Packet{}, nil, false, nil
}

// Add takes the next binary frame. frame is kept, not copied: the caller must not
// reuse its buffer. When the last announced attachment arrives, done is true and the
// packet and its attachments (in order: attachment i is placeholder num i) are
// returned and the Assembler is ready for the next packet.
func (a *Assembler) Add(frame []byte) (pkt Packet, atts [][]byte, done bool, err error) {
	if !a.pending {
		return Packet{}, nil, false, badPacket("binary frame without a pending binary packet")
	}
	if len(frame) > a.maxBytes-a.size {
		limit := a.maxBytes
		a.Reset()
		return Packet{}, nil, false, badPacket("attachments exceed %d bytes", limit)
	}
	a.size += len(frame)
	a.atts = append(a.atts, frame)
	if len(a.atts) < a.pkt.Attachments {
		return Packet{}, nil, false, nil
	}
	pkt, atts = a.pkt, a.atts
	a.Reset()
	return pkt, atts, true, nil
}

// EncodeEvent builds a server→client event as WebSocket frames: the text frame
// (with the Engine.IO '4') and the binary frames to send after it, in order.
// payload is marshalled with encoding/json and may contain Placeholder(n) values
// referring to attachments[n]. With attachments the text frame is
// 45<N>-<ns>,<id>["name",payload]; without, 42<ns>,<id>["name",payload]. It fails
// when a placeholder refers to no attachment. payload nil sends the event without
// argument.
func EncodeEvent(ns string, id *uint64, name string, payload any, attachments [][]byte) (text []byte, binaries [][]byte, err error) {
	var data []byte
	if payload != nil {
		if data, err = json.Marshal(payload); err != nil {
			return nil, nil, fmt.Errorf("socketio: encode %s payload: %w", name, err)
		}
		if err := checkPlaceholders(data, len(attachments)); err != nil {
			return nil, nil, fmt.Errorf("socketio: encode %s: %w", name, err)
		}
	}
	if len(attachments) == 0 {
		return EventFrame(ns, name, id, data), nil, nil
	}
	if len(attachments) > MaxAttachments {
		return nil, nil, fmt.Errorf("socketio: encode %s: %d attachments, limit %d", name, len(attachments), MaxAttachments)
	}
	b := make([]byte, 0, 16+len(ns)+len(name)+len(data)+24)
	b = append(b, byte(EngineMessage), '5')
	b = strconv.AppendInt(b, int64(len(attachments)), 10)
	b = append(b, '-')
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
	return append(b, ']'), attachments, nil
}
