package pipeline

import (
	"bytes"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/plugins/sdk"
)

func TestByteLog(t *testing.T) {
	l := &byteLog{max: 8}
	joined := func() (int64, string) {
		off, cs := l.From()
		return off, string(bytes.Join(cs, nil))
	}
	l.Add(100, []byte("abcd"))
	l.Add(104, []byte("efgh"))
	if off, b := joined(); off != 100 || b != "abcdefgh" {
		t.Fatalf("%d %q", off, b)
	}
	l.Add(108, []byte("ij")) // over the bound: the oldest chunk goes
	if off, b := joined(); off != 104 || b != "efghij" {
		t.Fatalf("after overflow %d %q", off, b)
	}
	l.TrimTo(105) // cuts a chunk; the others keep their boundaries
	if off, cs := l.From(); off != 105 || len(cs) != 2 || string(cs[0]) != "fgh" || string(cs[1]) != "ij" {
		t.Fatalf("after trim %d %q", off, cs)
	}
	l.TrimTo(200) // past the end: empty, and the next Add starts where it says
	l.Add(300, []byte("xy"))
	if off, b := joined(); off != 300 || b != "xy" {
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
