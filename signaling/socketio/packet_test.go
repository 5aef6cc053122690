package socketio

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

type decodeCase struct {
	Name string  `json:"name"`
	In   string  `json:"in"`
	Type int     `json:"type"`
	NS   string  `json:"ns"`
	ID   *uint64 `json:"id"`
	Att  int     `json:"att"`
	Data string  `json:"data"`
	Err  string  `json:"err"`
}

func loadDecodeCases(t testing.TB) []decodeCase {
	b, err := os.ReadFile("testdata/decode.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []decodeCase
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	return cases
}

func TestDecode(t *testing.T) {
	for _, tc := range loadDecodeCases(t) {
		t.Run(tc.Name, func(t *testing.T) {
			p, err := Decode([]byte(tc.In))
			if tc.Err != "" {
				if err == nil || !errors.Is(err, ErrBadPacket) || !strings.Contains(err.Error(), tc.Err) {
					t.Fatalf("Decode(%q) err = %v, want ErrBadPacket containing %q", tc.In, err, tc.Err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Decode(%q): %v", tc.In, err)
			}
			if int(p.Type) != tc.Type || p.Namespace != tc.NS || p.Attachments != tc.Att || string(p.Data) != tc.Data {
				t.Fatalf("Decode(%q) = %+v data %q", tc.In, p, p.Data)
			}
			if (p.ID == nil) != (tc.ID == nil) || (p.ID != nil && *p.ID != *tc.ID) {
				t.Fatalf("Decode(%q) id = %v, want %v", tc.In, p.ID, tc.ID)
			}
			// Round trip: encoding the decoded packet and decoding again gives the same packet.
			again, err := Decode(p.Encode())
			if err != nil {
				t.Fatalf("re-decode %q: %v", p.Encode(), err)
			}
			if again.Type != p.Type || again.Namespace != p.Namespace || again.Attachments != p.Attachments ||
				!bytes.Equal(again.Data, p.Data) || (again.ID == nil) != (p.ID == nil) || (p.ID != nil && *again.ID != *p.ID) {
				t.Fatalf("round trip %q → %q → %+v", tc.In, p.Encode(), again)
			}
		})
	}
}

func TestEncodeShapes(t *testing.T) {
	id := uint64(7)
	cases := []struct {
		name string
		got  []byte
		want string
	}{
		{"connect ok", ConnectOK("/interview", "a\"b").Frame(), `40/interview,{"sid":"a\"b"}`},
		{"connect ok default ns", ConnectOK("/", "x").Encode(), `0{"sid":"x"}`},
		{"ack", AckPacket("/interview", 7, json.RawMessage(`{"sessionId":"s1"}`)).Frame(), `43/interview,7[{"sessionId":"s1"}]`},
		{"ack no data", AckPacket("/interview", 7, nil).Frame(), `43/interview,7[]`},
		{"event frame", EventFrame("/interview", "user:joined", nil, json.RawMessage(`{"a":1}`)), `42/interview,["user:joined",{"a":1}]`},
		{"event frame with id", EventFrame("/interview", "x", &id, json.RawMessage(`{}`)), `42/interview,7["x",{}]`},
		{"event frame no data", EventFrame("/", "ping\n", nil, nil), `42["ping\n"]`},
		{"disconnect", Packet{Type: Disconnect, Namespace: "/interview"}.Frame(), `41/interview,`},
		{"binary packet", Packet{Type: BinaryEvent, Namespace: "/interview", Attachments: 1, Data: json.RawMessage(`["x",{"_placeholder":true,"num":0}]`)}.Encode(), `51-/interview,["x",{"_placeholder":true,"num":0}]`},
		{"open", OpenPacket("sid1", 25*time.Second, 20*time.Second, 1<<20), `0{"sid":"sid1","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1048576}`},
		{"handshake error", HandshakeError(EngineErrTransportUnknown), `{"code":0,"message":"Transport unknown"}`},
		{"handshake error unknown code", HandshakeError(42), `{"code":42,"message":"Bad request"}`},
	}
	for _, tc := range cases {
		if string(tc.got) != tc.want {
			t.Errorf("%s: got %s, want %s", tc.name, tc.got, tc.want)
		}
	}
	ce, err := ConnectErrorPacket("/interview", "token expired", map[string]string{"code": "TOKEN_EXPIRED"})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(ce.Frame()); got != `44/interview,{"message":"token expired","data":{"code":"TOKEN_EXPIRED"}}` {
		t.Fatalf("connect error = %s", got)
	}
	if _, err := ConnectErrorPacket("/", "x", func() {}); err == nil {
		t.Fatal("unmarshalable data accepted")
	}
}

func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{"", "plain", "quote\"back\\slash", "ctl\x00\x01\x1f\x7f", "utf8 é ✓ 😀", "bad \xff\xfe utf8", "sep\u2028\u2029", "<script>&"} {
		b := appendJSONString(nil, s)
		if !json.Valid(b) {
			t.Fatalf("%q → invalid JSON %s", s, b)
		}
		var back string
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if want := string([]rune(s)); back != want {
			t.Fatalf("%q → %s → %q", s, b, back)
		}
	}
}

func TestParseEngine(t *testing.T) {
	cases := []struct {
		in   string
		typ  EngineType
		data string
		err  bool
	}{
		{"2", EnginePing, "", false},
		{"3", EnginePong, "", false},
		{"2probe", EnginePing, "probe", false},
		{`40/interview,{"token":"x"}`, EngineMessage, `0/interview,{"token":"x"}`, false},
		{"1", EngineClose, "", false},
		{"6", EngineNoop, "", false},
		{`0{"sid":"x"}`, EngineOpen, `{"sid":"x"}`, false},
		{"", 0, "", true},
		{"7", 0, "", true},
		{"bAAAA", 0, "", true},
	}
	for _, tc := range cases {
		typ, data, err := ParseEngine([]byte(tc.in))
		if tc.err {
			if !errors.Is(err, ErrBadPacket) {
				t.Errorf("ParseEngine(%q) err = %v, want ErrBadPacket", tc.in, err)
			}
			continue
		}
		if err != nil || typ != tc.typ || string(data) != tc.data {
			t.Errorf("ParseEngine(%q) = %v %q %v", tc.in, typ, data, err)
		}
	}
	if EngineMessage.String() != "message" || EngineType('x').String() == "" {
		t.Fatal("String")
	}
}

func TestEventArgs(t *testing.T) {
	cases := []struct {
		in   string
		name string
		args []string
		err  string
	}{
		{`["session:join",{"sessionId":"s1"}]`, "session:join", []string{`{"sessionId":"s1"}`}, ""},
		{`["x"]`, "x", nil, ""},
		{` [ "x" , 1 , "two" , null ] `, "x", []string{"1", `"two"`, "null"}, ""},
		{`["es\"c\u0041"]`, `es"cA`, nil, ""},
		{`[]`, "", nil, "empty array"},
		{`[1]`, "", nil, "not a string"},
		{`[""]`, "", nil, "empty or longer"},
		{`["` + strings.Repeat("n", MaxEventNameLen+1) + `"]`, "", nil, "empty or longer"},
		{`{"a":1}`, "", nil, "not a JSON array"},
		{`["x"`, "", nil, "not a JSON array"},
		{``, "", nil, "not a JSON array"},
	}
	for _, tc := range cases {
		name, args, err := EventArgs(json.RawMessage(tc.in))
		if tc.err != "" {
			if !errors.Is(err, ErrBadPacket) || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("EventArgs(%s) err = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || name != tc.name || len(args) != len(tc.args) {
			t.Errorf("EventArgs(%s) = %q %q %v", tc.in, name, args, err)
			continue
		}
		for i := range args {
			if strings.TrimSpace(string(args[i])) != tc.args[i] {
				t.Errorf("EventArgs(%s) arg %d = %s, want %s", tc.in, i, args[i], tc.args[i])
			}
		}
	}
}

func BenchmarkDecodeEvent(b *testing.B) {
	in := []byte(`2/interview,7["session:join",{"sessionId":"interview-42","pipeline":"default"}]`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEventFrame(b *testing.B) {
	data := json.RawMessage(`{"sessionId":"interview-42","user":{"userId":"u1","name":"Alice","role":"interviewer"}}`)
	b.ReportAllocs()
	for b.Loop() {
		_ = EventFrame("/interview", "user:joined", nil, data)
	}
}
