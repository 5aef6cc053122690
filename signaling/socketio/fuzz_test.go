package socketio

import (
	"bytes"
	"encoding/json"
	"testing"
)

func FuzzDecode(f *testing.F) {
	for _, tc := range loadDecodeCases(f) {
		f.Add([]byte(tc.In))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		p, err := Decode(in)
		if err != nil {
			return
		}
		if p.Type < Connect || p.Type > BinaryAck || p.Namespace == "" || len(p.Namespace) > MaxNamespaceLen ||
			p.Attachments < 0 || p.Attachments > MaxAttachments {
			t.Fatalf("Decode(%q) accepted out-of-bounds packet %+v", in, p)
		}
		if len(p.Data) > 0 && !json.Valid(p.Data) {
			t.Fatalf("Decode(%q) accepted invalid JSON", in)
		}
		// Whatever we accept re-encodes to something we accept identically.
		again, err := Decode(p.Encode())
		if err != nil {
			t.Fatalf("re-decode of %q (%q): %v", in, p.Encode(), err)
		}
		if again.Type != p.Type || again.Namespace != p.Namespace || again.Attachments != p.Attachments || !bytes.Equal(again.Data, p.Data) {
			t.Fatalf("round trip %q → %q → %+v", in, p.Encode(), again)
		}
		if p.Type == Event || p.Type == BinaryEvent {
			_, _, _ = EventArgs(p.Data)
		}
	})
}

func FuzzParseEngine(f *testing.F) {
	for _, s := range []string{"0", "1", "2", "3", "2probe", "4", `42/interview,["x"]`, "5", "6", "", "7", "b", "\xff"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		typ, data, err := ParseEngine(in)
		if err != nil {
			return
		}
		if typ < EngineOpen || typ > EngineNoop || len(data) != len(in)-1 {
			t.Fatalf("ParseEngine(%q) = %v %q", in, typ, data)
		}
	})
}

func FuzzEventArgs(f *testing.F) {
	for _, s := range []string{`["x"]`, `["session:join",{"sessionId":"s1"}]`, `[]`, `[1]`, `{"a":1}`, `["x",1,2,3]`, `[""]`, `["\u0000"]`, `[ "x" ]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		name, args, err := EventArgs(in)
		if err != nil {
			return
		}
		if name == "" || len(name) > MaxEventNameLen {
			t.Fatalf("EventArgs(%q) accepted name %q", in, name)
		}
		for _, a := range args {
			if !json.Valid(a) {
				t.Fatalf("EventArgs(%q) returned invalid arg %q", in, a)
			}
		}
		// A name we accept survives our own encoder.
		if n2, _, err := EventArgs(EventFrame("/", name, nil, nil)[2:]); err != nil || n2 != name {
			t.Fatalf("name %q does not round trip: %q %v", name, n2, err)
		}
	})
}

// FuzzAssembler feeds a text packet and a sequence of binary frames (split from the
// second input at 0xff bytes) and checks the Assembler's invariants.
func FuzzAssembler(f *testing.F) {
	f.Add([]byte(audioStream), []byte("\x01\x02\x03"), uint8(0))
	f.Add([]byte(`52-/interview,9["x",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`), []byte("ab\xffcd"), uint8(1))
	f.Add([]byte(`50-["x"]`), []byte(""), uint8(2))
	f.Add([]byte(`53-["x",{"_placeholder":true,"num":5}]`), []byte("a\xffb\xffc"), uint8(0))
	f.Add([]byte(`61-/interview,4[{"_placeholder":true,"num":0}]`), bytes.Repeat([]byte("z"), 100), uint8(3))
	f.Fuzz(func(t *testing.T, text, bins []byte, mode uint8) {
		const maxAtt, maxBytes = 4, 64
		a := NewAssembler(maxAtt, maxBytes)
		p, err := Decode(text)
		if err != nil {
			// Binary frames without a packet are refused.
			if _, _, _, err := a.Add(bins); err == nil {
				t.Fatal("binary frame accepted with nothing pending")
			}
			return
		}
		frames := bytes.Split(bins, []byte{0xff})
		if mode%2 == 1 { // interleave a text packet: must fail if pending
			if _, _, _, err := a.Start(p); err == nil && a.Pending() {
				if _, _, _, err := a.Start(p); err == nil || a.Pending() {
					t.Fatal("second Start while pending accepted or left pending")
				}
			}
			return
		}
		got, atts, done, err := a.Start(p)
		if err != nil {
			if a.Pending() {
				t.Fatal("pending after Start error")
			}
			return
		}
		total := 0
		for _, fr := range frames {
			if done {
				break
			}
			got, atts, done, err = a.Add(fr)
			if err != nil {
				if a.Pending() {
					t.Fatal("pending after Add error")
				}
				return
			}
			total += len(fr)
		}
		if !done {
			if !a.Pending() {
				t.Fatal("not done and not pending")
			}
			return
		}
		if a.Pending() || len(atts) != p.Attachments || got.Attachments != p.Attachments || total > maxBytes || len(atts) > maxAtt {
			t.Fatalf("done with %d attachments (%d bytes) for %+v", len(atts), total, p)
		}
	})
}
