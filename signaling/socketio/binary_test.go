package socketio

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestIsPlaceholder(t *testing.T) {
	cases := []struct {
		in  string
		num int
		ok  bool
	}{
		{`{"_placeholder":true,"num":0}`, 0, true},
		{` { "num" : 3 , "_placeholder" : true } `, 3, true},
		{`{"_placeholder":false,"num":0}`, 0, false},
		{`{"_placeholder":true}`, 0, false},
		{`{"_placeholder":true,"num":-1}`, 0, false},
		{`{"_placeholder":true,"num":1.5}`, 0, false},
		{`{"_placeholder":true,"num":"1"}`, 0, false},
		{`{"_placeholder":"true","num":1}`, 0, false},
		{`"_placeholder"`, 0, false},
		{`[{"_placeholder":true,"num":0}]`, 0, false},
		{`AAAA`, 0, false},
		{``, 0, false},
	}
	for _, tc := range cases {
		n, ok := IsPlaceholder(json.RawMessage(tc.in))
		if n != tc.num || ok != tc.ok {
			t.Errorf("IsPlaceholder(%s) = %d %v, want %d %v", tc.in, n, ok, tc.num, tc.ok)
		}
	}
	if b, ok := Attachment(json.RawMessage(`{"_placeholder":true,"num":1}`), [][]byte{{1}, {2}}); !ok || b[0] != 2 {
		t.Fatal("Attachment")
	}
	if _, ok := Attachment(json.RawMessage(`{"_placeholder":true,"num":2}`), [][]byte{{1}, {2}}); ok {
		t.Fatal("Attachment out of range")
	}
}

// The audio:stream packet socket.io-client 4.x sends for
// emit("audio:stream", {sessionId, audioData: Buffer, format, sampleRate}).
const audioStream = `51-/interview,["audio:stream",{"sessionId":"s1","audioData":{"_placeholder":true,"num":0},"format":"pcm16","sampleRate":16000}]`

func TestAssemblerAudioStream(t *testing.T) {
	a := NewAssembler(4, 1<<20)
	p, err := Decode([]byte(audioStream))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, done, err := a.Start(p); err != nil || done || !a.Pending() {
		t.Fatalf("Start: done=%v err=%v", done, err)
	}
	audio := bytes.Repeat([]byte{1, 2}, 1600)
	got, atts, done, err := a.Add(audio)
	if err != nil || !done || a.Pending() {
		t.Fatalf("Add: done=%v err=%v", done, err)
	}
	name, args, err := EventArgs(got.Data)
	if err != nil || name != "audio:stream" || len(args) != 1 {
		t.Fatalf("EventArgs: %q %v", name, err)
	}
	var payload struct {
		AudioData json.RawMessage `json:"audioData"`
		Format    string          `json:"format"`
	}
	if err := json.Unmarshal(args[0], &payload); err != nil {
		t.Fatal(err)
	}
	b, ok := Attachment(payload.AudioData, atts)
	if !ok || !bytes.Equal(b, audio) || payload.Format != "pcm16" {
		t.Fatalf("attachment not resolved: ok=%v len=%d", ok, len(b))
	}
}

func TestAssemblerSequenceAndErrors(t *testing.T) {
	two := Packet{Type: BinaryEvent, Namespace: "/interview", Attachments: 2,
		Data: json.RawMessage(`["x",{"a":{"_placeholder":true,"num":1}},[{"_placeholder":true,"num":0}]]`)}

	t.Run("two attachments in order", func(t *testing.T) {
		a := NewAssembler(2, 100)
		if _, _, done, err := a.Start(two); err != nil || done {
			t.Fatal(done, err)
		}
		if _, _, done, err := a.Add([]byte("first")); err != nil || done {
			t.Fatal(done, err)
		}
		p, atts, done, err := a.Add([]byte("second"))
		if err != nil || !done || len(atts) != 2 || string(atts[0]) != "first" || string(atts[1]) != "second" || p.Attachments != 2 {
			t.Fatalf("%+v %q %v %v", p, atts, done, err)
		}
		// Ready for the next packet.
		if _, _, _, err := a.Start(two); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("zero attachments complete at once", func(t *testing.T) {
		a := NewAssembler(2, 100)
		p, atts, done, err := a.Start(Packet{Type: BinaryEvent, Data: json.RawMessage(`["x"]`)})
		if err != nil || !done || atts != nil || p.Type != BinaryEvent || a.Pending() {
			t.Fatal(done, err)
		}
	})
	errCases := []struct {
		name string
		run  func(a *Assembler) error
		msg  string
	}{
		{"too many attachments", func(a *Assembler) error {
			_, _, _, err := a.Start(Packet{Type: BinaryEvent, Attachments: 3, Data: json.RawMessage(`["x"]`)})
			return err
		}, "limit 2"},
		{"not binary", func(a *Assembler) error {
			_, _, _, err := a.Start(Packet{Type: Event, Data: json.RawMessage(`["x"]`)})
			return err
		}, "no attachments"},
		{"placeholder out of range", func(a *Assembler) error {
			_, _, _, err := a.Start(Packet{Type: BinaryEvent, Attachments: 1, Data: json.RawMessage(`["x",{"_placeholder":true,"num":1}]`)})
			return err
		}, "outside the 1 attachments"},
		{"placeholder without num", func(a *Assembler) error {
			_, _, _, err := a.Start(Packet{Type: BinaryEvent, Attachments: 1, Data: json.RawMessage(`["x",{"_placeholder":true}]`)})
			return err
		}, "without a numeric num"},
		{"placeholder negative", func(a *Assembler) error {
			_, _, _, err := a.Start(Packet{Type: BinaryEvent, Attachments: 1, Data: json.RawMessage(`["x",{"_placeholder":true,"num":-1}]`)})
			return err
		}, "outside"},
		{"binary without packet", func(a *Assembler) error {
			_, _, _, err := a.Add([]byte("x"))
			return err
		}, "without a pending"},
		{"text while pending", func(a *Assembler) error {
			if _, _, _, err := a.Start(two); err != nil {
				return nil
			}
			_, _, _, err := a.Start(two)
			return err
		}, "while 2 binary attachments were pending"},
		{"too many bytes", func(a *Assembler) error {
			if _, _, _, err := a.Start(two); err != nil {
				return nil
			}
			if _, _, _, err := a.Add(make([]byte, 60)); err != nil {
				return nil
			}
			_, _, _, err := a.Add(make([]byte, 41))
			return err
		}, "exceed 100 bytes"},
	}
	for _, tc := range errCases {
		t.Run(tc.name, func(t *testing.T) {
			a := NewAssembler(2, 100)
			err := tc.run(a)
			if !errors.Is(err, ErrBadPacket) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err = %v, want %q", err, tc.msg)
			}
			if a.Pending() {
				t.Fatal("assembler still pending after an error")
			}
		})
	}
}

func TestEncodeEvent(t *testing.T) {
	id := uint64(12)
	audio := []byte{0, 1, 2, 3}
	text, bins, err := EncodeEvent("/interview", nil, "audio:received",
		map[string]any{"sessionId": "s1", "audioData": Placeholder(0)}, [][]byte{audio})
	if err != nil {
		t.Fatal(err)
	}
	want := `451-/interview,["audio:received",{"audioData":{"_placeholder":true,"num":0},"sessionId":"s1"}]`
	if string(text) != want || len(bins) != 1 || !bytes.Equal(bins[0], audio) {
		t.Fatalf("got %s %v", text, bins)
	}
	// What we encode, our decoder and assembler read back.
	typ, rest, err := ParseEngine(text)
	if err != nil || typ != EngineMessage {
		t.Fatal(typ, err)
	}
	p, err := Decode(rest)
	if err != nil {
		t.Fatal(err)
	}
	a := NewAssembler(1, 10)
	if _, _, _, err := a.Start(p); err != nil {
		t.Fatal(err)
	}
	if _, atts, done, err := a.Add(bins[0]); err != nil || !done || !bytes.Equal(atts[0], audio) {
		t.Fatal(done, err)
	}

	text, bins, err = EncodeEvent("/interview", &id, "x", map[string]int{"a": 1}, nil)
	if err != nil || string(text) != `42/interview,12["x",{"a":1}]` || bins != nil {
		t.Fatalf("%s %v %v", text, bins, err)
	}
	text, _, err = EncodeEvent("/", nil, "x", nil, nil)
	if err != nil || string(text) != `42["x"]` {
		t.Fatalf("%s %v", text, err)
	}
	if _, _, err := EncodeEvent("/interview", nil, "x", []any{Placeholder(1)}, [][]byte{audio}); err == nil {
		t.Fatal("placeholder outside attachments accepted")
	}
	if _, _, err := EncodeEvent("/interview", nil, "x", func() {}, nil); err == nil {
		t.Fatal("unmarshalable payload accepted")
	}
}
