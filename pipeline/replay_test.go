package pipeline

import (
	"bytes"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/plugins/sdk"
)

func TestByteLog(t *testing.T) {
	l := &byteLog{max: 8}
	l.Add(100, []byte("abcd"))
	l.Add(104, []byte("efgh"))
	if off, b := l.From(); off != 100 || string(b) != "abcdefgh" {
		t.Fatalf("%d %q", off, b)
	}
	l.Add(108, []byte("ij")) // over the bound: the oldest go
	if off, b := l.From(); off != 102 || string(b) != "cdefghij" {
		t.Fatalf("after overflow %d %q", off, b)
	}
	l.TrimTo(105)
	if off, b := l.From(); off != 105 || string(b) != "fghij" {
		t.Fatalf("after trim %d %q", off, b)
	}
	l.TrimTo(200) // past the end: empty, and the next Add starts where it says
	l.Add(300, []byte("xy"))
	if off, b := l.From(); off != 300 || !bytes.Equal(b, []byte("xy")) {
		t.Fatalf("after reuse %d %q", off, b)
	}
}

func TestReplayLogTrim(t *testing.T) {
	r := newReplayLog(1000, 10*time.Second) // 1 sample = 1 ms
	r.Add(sdk.AudioInput{Samples: make([]int16, 100), Start: 0})
	r.Add(sdk.AudioInput{Control: sdk.ControlFinalize, Start: 100 * time.Millisecond})
	r.Add(sdk.AudioInput{Samples: make([]int16, 100), Start: 100 * time.Millisecond})
	r.TrimTo(150 * time.Millisecond) // cuts the second block in half, drops the answered control
	got := r.Snapshot()
	if len(got) != 1 || got[0].Start != 150*time.Millisecond || len(got[0].Samples) != 50 {
		t.Fatalf("%+v", got)
	}
	// The bound drops the oldest audio and says how much.
	r = newReplayLog(1000, 100*time.Millisecond)
	r.Add(sdk.AudioInput{Samples: make([]int16, 80)})
	if d := r.Add(sdk.AudioInput{Samples: make([]int16, 80), Start: 80 * time.Millisecond}); d != 80 || r.Dropped() != 80*time.Millisecond {
		t.Fatalf("dropped %d, %v", d, r.Dropped())
	}
}
