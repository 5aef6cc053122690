package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/earshot-dev/earshot/signaling/protocol"
)

// TestSocketIOBinaryAudio speaks raw Engine.IO v4 / Socket.IO v5 over a WebSocket
// (the full socket.io-client suite is test/socketio): it authenticates in the
// namespace CONNECT, joins, streams a clip as audio:stream events with binary
// attachments (451-…) and stops with an ack; the final transcript arrives as a
// Socket.IO event.
func TestSocketIOBinaryAudio(t *testing.T) {
	d := StartDaemon(t, DaemonOptions{})
	clip := oneSentence(t)
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+d.Addr+"/socket.io/?EIO=4&transport=websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	read := func() string {
		t.Helper()
		_ = ws.SetReadDeadline(time.Now().Add(30 * time.Second))
		for {
			typ, b, err := ws.ReadMessage()
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			if typ == websocket.TextMessage && string(b) == "2" { // Engine.IO ping
				_ = ws.WriteMessage(websocket.TextMessage, []byte("3"))
				continue
			}
			return string(b)
		}
	}
	write := func(typ int, s []byte) {
		t.Helper()
		if err := ws.WriteMessage(typ, s); err != nil {
			t.Fatalf("write: %v", err)
		}
	}
	if open := read(); !strings.HasPrefix(open, `0{"sid"`) {
		t.Fatalf("Engine.IO open: %q", open)
	}
	write(websocket.TextMessage, []byte(`40/interview,{"token":"`+d.Token(t, "sio-iv", interviewer)+`"}`))
	if c := read(); !strings.HasPrefix(c, `40/interview,{"sid"`) {
		t.Fatalf("namespace connect: %q", c)
	}
	write(websocket.TextMessage, []byte(`42/interview,1["session:join",{"sessionId":"sio"}]`))
	// Events and acks arrive in any order: collect until the ack.
	var results []protocol.TranscriptionResult
	waitAck := func(id int) string {
		t.Helper()
		prefix := fmt.Sprintf("43/interview,%d", id)
		for {
			m := read()
			if strings.HasPrefix(m, prefix) {
				return strings.TrimPrefix(m, prefix)
			}
			if strings.HasPrefix(m, `42/interview,["transcription:result",`) {
				var args []json.RawMessage
				if err := json.Unmarshal([]byte(strings.TrimPrefix(m, "42/interview,")), &args); err != nil || len(args) != 2 {
					t.Fatalf("event %q: %v", m, err)
				}
				var r protocol.TranscriptionResult
				if err := json.Unmarshal(args[1], &r); err != nil {
					t.Fatal(err)
				}
				results = append(results, r)
			}
		}
	}
	if ack := waitAck(1); !strings.Contains(ack, `"sessionId":"sio"`) {
		t.Fatalf("join ack %s", ack)
	}
	seq := 0
	pace(pcmChunks(clip.PCM(), 16000, 100*time.Millisecond), sendSpeed, func(_ int, c timedChunk) {
		write(websocket.TextMessage, []byte(fmt.Sprintf(`451-/interview,["audio:stream",{"sessionId":"sio","format":"pcm16","sampleRate":16000,"channels":1,"sequence":%d,"audioData":{"_placeholder":true,"num":0}}]`, seq)))
		write(websocket.BinaryMessage, c.Data)
		seq++
	})
	write(websocket.TextMessage, []byte(`42/interview,2["audio:stop",{"sessionId":"sio"}]`))
	if ack := waitAck(2); strings.Contains(ack, `"error"`) {
		t.Fatalf("audio:stop ack %s", ack)
	}
	var finals []string
	for _, r := range results {
		if r.IsFinal {
			finals = append(finals, r.Text)
		}
	}
	checkTranscript(t, clip.Text(), strings.Join(finals, " "), maxWERSpeech, "software", "engineer")
	write(websocket.TextMessage, []byte("41/interview,"))
}
