package signaling

import (
	"encoding/json"
	"testing"

	"github.com/earshot-dev/earshot/signaling/protocol"
)

// FuzzDecodeEnvelope: any frame a peer sends is decoded or refused with a coded
// error, never a panic; what is accepted round-trips through the native framing.
func FuzzDecodeEnvelope(f *testing.F) {
	for _, seed := range []string{
		`{"event":"session:join","data":{"sessionId":"s1"},"id":7}`,
		`{"event":"auth","data":{"token":"a.b.c"}}`,
		`{"event":"audio:stream","data":{"sessionId":"s1","audioData":"AAAA","format":"webm"}}`,
		`{"event":"x","id":9007199254740991}`,
		`{"event":"x","id":9007199254740992}`,
		`{"event":"x","id":1.5}`,
		`{"event":"x","id":null}`,
		`{"event":"","data":null}`,
		`{"event":"\u0000"}`,
		`{"event":["a"]}`,
		`{}`, `[]`, `"event"`, ``, ` `, `{"event":"a"`, "\xff\xfe",
		`{"event":"a","event":"b"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		req, perr := decodeEnvelope(b)
		if perr != nil {
			if perr.Code != protocol.CodeBadRequest && perr.Code != protocol.CodeUnknownEvent {
				t.Fatalf("code %s", perr.Code)
			}
			if req.HasID && (req.ID < 0 || req.ID > maxAckID) {
				t.Fatalf("id %d out of range", req.ID)
			}
			return
		}
		if req.Event == "" {
			t.Fatal("accepted an empty event")
		}
		// Whatever we accept, we can frame back as valid JSON.
		data := req.Data
		if len(data) == 0 {
			data = json.RawMessage("null")
		}
		out := nativeFraming{}.event(req.Event, data)
		var back struct {
			Event string          `json:"event"`
			Data  json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("framed %q is not JSON: %v", out, err)
		}
		if back.Event != req.Event && json.Valid([]byte(`"`+req.Event+`"`)) {
			t.Fatalf("event %q came back as %q", req.Event, back.Event)
		}
		if req.HasID {
			ack := nativeFraming{}.ack(req.ID, json.RawMessage("{}"), nil)
			if !json.Valid(ack) {
				t.Fatalf("ack %q", ack)
			}
		}
	})
}
