package e2e

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/earshot-dev/earshot/signaling/protocol"
)

// TestShutdownDeliversFinals: SIGTERM while a user is in the middle of an
// utterance. The daemon stops accepting, drains the streams while the connections
// are still open, and only then closes them: the client gets the final of what it
// said, then close 1001 (going away).
func TestShutdownDeliversFinals(t *testing.T) {
	d := StartDaemon(t, DaemonOptions{})
	clip := oneSentence(t)
	speaker := d.Connect(t, "leaver", interviewer)
	speaker.Join("bye")
	// The speech only: without the silence after it nothing ends the utterance
	// before stream_idle_timeout (10 s) but the shutdown.
	head, _ := chunksUntil(pcmChunks(clip.PCM(), 16000, 100*time.Millisecond), clip.Spans[0][1]+100*time.Millisecond)
	streamID := speaker.StartAudio("bye", protocol.FormatPCM16, 16000, 1)
	pace(head, sendSpeed, func(_ int, c timedChunk) { speaker.SendBinary(c.Data) })
	speaker.WaitEvent(20*time.Second, func(e Event) bool {
		var r protocol.TranscriptionResult
		return e.Name == protocol.EventTranscriptionResult && json.Unmarshal(e.Data, &r) == nil && r.StreamID == streamID
	})
	if fs := finalsOnly(streamResults(speaker.Results(), streamID)); len(fs) > 0 {
		t.Fatalf("a final before the shutdown (the test needs an open utterance): %q", fs[0].R.Text)
	}

	stopped := time.Now()
	d.Stop()
	if err := speaker.WaitClosed(5 * time.Second); !websocket.IsCloseError(err, protocol.CloseGoingAway) {
		t.Errorf("connection closed with %v, want close %d (going away)", err, protocol.CloseGoingAway)
	}
	finals := finalsOnly(streamResults(speaker.Results(), streamID))
	if len(finals) != 1 {
		t.Fatalf("%d finals for the open utterance after SIGTERM, want 1; events:\n%s", len(finals), speaker.Dump())
	}
	t.Logf("final %q; daemon exited %v after SIGTERM", finals[0].R.Text, time.Since(stopped).Round(10*time.Millisecond))
	checkTranscript(t, clip.Text(), finals[0].R.Text, maxWERSpeech, "software", "engineer")
}
