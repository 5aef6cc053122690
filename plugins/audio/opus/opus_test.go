package opus

import (
	"errors"
	"testing"
)

func TestParseHead(t *testing.T) {
	good := []byte("OpusHead\x01\x02\x38\x01\x80\xbb\x00\x00\x00\x00\x00")
	h, err := ParseHead(good)
	if err != nil || h.Channels != 2 || h.PreSkip != 312 || h.InputSampleRate != 48000 {
		t.Fatalf("%+v, %v", h, err)
	}
	for _, c := range []struct {
		name   string
		b      []byte
		unsupp bool
	}{
		{"short", good[:12], false},
		{"magic", append([]byte("OpusHeaX"), good[8:]...), false},
		{"zero channels", append(append([]byte(nil), good[:9]...), append([]byte{0}, good[10:]...)...), false},
		{"version 16", append(append([]byte(nil), good[:8]...), append([]byte{16}, good[9:]...)...), true},
		{"surround", append(append([]byte(nil), good[:18]...), 1), true},
	} {
		_, err := ParseHead(c.b)
		if err == nil || errors.Is(err, ErrUnsupported) != c.unsupp {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}

func TestDecoder(t *testing.T) {
	if _, err := NewDecoder(44100); err == nil {
		t.Fatal("44.1 kHz accepted")
	}
	d, err := NewDecoder(16000)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	// A 20 ms CELT-only silence frame (TOC 0xF8: config 31, mono, one frame).
	out, err := d.Decode(nil, []byte{0xF8, 0xFF, 0xFE})
	if err != nil || len(out) != 320 {
		t.Fatalf("%d samples, %v", len(out), err)
	}
	if n, err := PacketDuration([]byte{0xF8, 0xFF, 0xFE}); n != 960 || err != nil {
		t.Fatalf("duration %d, %v", n, err)
	}
	for _, bad := range [][]byte{nil, {0xFF, 0xFF, 0xFF, 0xFF}, {0x03}} {
		if _, err := d.Decode(nil, bad); !errors.Is(err, ErrCorrupt) {
			t.Errorf("packet %x: %v", bad, err)
		}
	}
	d.Close()
	d.Close() // idempotent
	if _, err := d.Decode(nil, []byte{0xF8, 0xFF, 0xFE}); err == nil {
		t.Error("decode after Close succeeded")
	}
}
