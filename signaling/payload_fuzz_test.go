package signaling

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"testing"

	"github.com/earshot-dev/earshot/signaling/protocol"
)

// FuzzDecodeData: every handler decodes the peer's data object with decodeData. It
// never panics, refuses with BAD_REQUEST and a short message that does not echo the
// payload, and accepts only a JSON object.
func FuzzDecodeData(f *testing.F) {
	for _, seed := range []string{
		`{"sessionId":"s1","audioData":"AAAA","format":"pcm16","sampleRate":16000,"channels":1,"sequence":3}`,
		`{"sessionId":"s1","audioData":{"_placeholder":true,"num":0},"format":"webm"}`,
		`{"sessionId":1}`, `{"sampleRate":"16000"}`, `{"sequence":1.5}`, `{"channels":1e999}`,
		`{"audioData":`, `[]`, `"x"`, `null`, ``, ` {}`, `{}`, "{\"format\":\"\xff\"}",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		req := &request{Event: protocol.EventAudioStream, Data: data}
		var p audioStreamPayload
		perr := decodeData(req, &p)
		if perr == nil {
			if data[0] != '{' || !json.Valid(data) {
				t.Fatalf("accepted %q, not a JSON object", data)
			}
			return
		}
		if perr.Code != protocol.CodeBadRequest {
			t.Fatalf("code %s: %v", perr.Code, perr)
		}
		if perr.Message == "" || len(perr.Message) > len(req.Event)+100 {
			t.Fatalf("message %q", perr.Message)
		}
	})
}

// FuzzAudioBytes: audioData of audio:stream is base64 text or a placeholder for a
// binary attachment. audioBytes never panics; the audio it returns is never larger
// than the frame that carried it (base64 text decodes to at most 3/4 of its length,
// an attachment is returned as it came), so the frame limit (MaxMessageSize) bounds
// it; a refusal is BAD_REQUEST or INVALID_AUDIO for the chunk's session.
func FuzzAudioBytes(f *testing.F) {
	for _, seed := range []string{
		`"AAECAw=="`, `"AAECAw"`, `"AA=A"`, `"not base64!"`, `"\u0041AAA"`, `""`, `"`,
		`{"_placeholder":true,"num":0}`, `{"_placeholder":true,"num":1}`, `{"_placeholder":true,"num":-1}`,
		`{"_placeholder":false,"num":0}`, `{"_placeholder":true}`, `{"num":0}`, `{"_placeholder":true,"num":1e3}`,
		`null`, ``, `123`, `[1,2]`, `true`,
	} {
		f.Add([]byte(seed), []byte("\x00\x01\x02"), uint8(1), "s1")
	}
	f.Fuzz(func(t *testing.T, raw, att []byte, natt uint8, id string) {
		atts := make([][]byte, natt%4)
		for i := range atts {
			atts[i] = att[:min(len(att), i*7)] // attachments of different sizes
		}
		out, perr := audioBytes(json.RawMessage(raw), atts, id)
		if perr != nil {
			if perr.Code != protocol.CodeBadRequest && perr.Code != protocol.CodeInvalidAudio {
				t.Fatalf("code %s: %v", perr.Code, perr)
			}
			if perr.SessionID != id {
				t.Fatalf("error for session %q, want %q", perr.SessionID, id)
			}
			if out != nil {
				t.Fatalf("%d bytes returned with an error", len(out))
			}
			return
		}
		switch raw[0] {
		case '"':
			if len(out) > len(raw)*3/4 {
				t.Fatalf("%d bytes decoded from %d bytes of text", len(out), len(raw))
			}
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				t.Fatalf("accepted %q, not a JSON string: %v", raw, err)
			}
			want, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				want, err = base64.RawStdEncoding.DecodeString(s)
			}
			if err != nil || !bytes.Equal(out, want) {
				t.Fatalf("decoded %q as %x, want %x (%v)", s, out, want, err)
			}
		case '{':
			found := false
			for _, a := range atts {
				found = found || bytes.Equal(out, a)
			}
			if !found {
				t.Fatalf("placeholder %q resolved to %x, not an attachment", raw, out)
			}
		default:
			t.Fatalf("accepted %q", raw)
		}
	})
}
