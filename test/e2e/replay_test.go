package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/signaling/protocol"
)

// TestReplayFile streams the audio file named by E2E_REPLAY (e.g. the chunks a
// browser run saved) through the daemon on the embedded default at real-time pace
// and prints the finals: a helper for looking into a transcript that went wrong.
//
//	E2E_REPLAY=/tmp/chunks.webm go test -run ReplayFile -v ./test/e2e/
func TestReplayFile(t *testing.T) {
	path := os.Getenv("E2E_REPLAY")
	if path == "" {
		t.Skip("set E2E_REPLAY to an audio file (.webm, .ogg, .wav)")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	format := strings.TrimPrefix(filepath.Ext(path), ".")
	var chunks []timedChunk
	switch format {
	case protocol.FormatWAV:
		rate, samples, err := parseWAV(data)
		if err != nil {
			t.Fatal(err)
		}
		chunks = wavChunks(data, rate, 100*time.Millisecond)
		t.Logf("%s: %d Hz, %v", path, rate, time.Duration(len(samples))*time.Second/time.Duration(rate))
	case protocol.FormatOgg:
		chunks = oggPages(t, data)
	case protocol.FormatWebM:
		// Paced as ~128 kbit/s MediaRecorder output, 250 ms chunks.
		const bps = 128000 / 8
		n := bps / 4
		for off := 0; off < len(data); off += n {
			end := min(off+n, len(data))
			chunks = append(chunks, timedChunk{At: time.Duration(end) * time.Second / bps, Data: data[off:end]})
		}
	default:
		t.Fatalf("unknown format %q", format)
	}
	d := StartDaemon(t, DaemonOptions{})
	c := d.Connect(t, "replay", interviewer)
	c.Join("replay")
	id := c.StartAudio("replay", format, 0, 0)
	pace(chunks, 1, func(_ int, ch timedChunk) { c.SendBinary(ch.Data) })
	c.Request(protocol.EventAudioStop, protocol.SessionRef{SessionID: "replay"}, 60*time.Second)
	t.Logf("finals:\n%s", describeFinals(streamResults(c.Results(), id)))
}
