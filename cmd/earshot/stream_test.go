package main

import (
	"bytes"
	"encoding/binary"
	"os"
	"strings"
	"testing"
	"time"
)

func wavBytes(rate, channels, bits, frames int) []byte {
	var b bytes.Buffer
	dataLen := frames * channels * bits / 8
	b.WriteString("RIFF")
	binary.Write(&b, binary.LittleEndian, uint32(36+dataLen))
	b.WriteString("WAVEfmt ")
	binary.Write(&b, binary.LittleEndian, uint32(16))
	binary.Write(&b, binary.LittleEndian, uint16(1))
	binary.Write(&b, binary.LittleEndian, uint16(channels))
	binary.Write(&b, binary.LittleEndian, uint32(rate))
	binary.Write(&b, binary.LittleEndian, uint32(rate*channels*bits/8))
	binary.Write(&b, binary.LittleEndian, uint16(channels*bits/8))
	binary.Write(&b, binary.LittleEndian, uint16(bits))
	b.WriteString("data")
	binary.Write(&b, binary.LittleEndian, uint32(dataLen))
	b.Write(make([]byte, dataLen))
	return b.Bytes()
}

func TestPaceWAV(t *testing.T) {
	data := wavBytes(16000, 1, 16, 16000) // one second
	chunks, err := paceChunks(data, streamOptions{format: "wav", chunk: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if len(chunks) != 10 {
		t.Fatalf("got %d chunks, want 10", len(chunks))
	}
	if got := chunks[len(chunks)-1].at; got != time.Second {
		t.Errorf("last chunk at %v, want 1s", got)
	}
	var joined []byte
	for i, c := range chunks {
		if i > 0 && c.at <= chunks[i-1].at {
			t.Fatalf("chunk %d not after chunk %d", i, i-1)
		}
		joined = append(joined, c.data...)
	}
	if !bytes.Equal(joined, data) {
		t.Fatal("chunks do not reassemble the file")
	}
	if len(chunks[0].data) != 44+3200 {
		t.Errorf("first chunk carries %d bytes, want header + 100ms", len(chunks[0].data))
	}
}

func TestWAVInfoErrors(t *testing.T) {
	for name, b := range map[string][]byte{
		"empty":     nil,
		"not riff":  []byte("RIFX0000WAVEfmt "),
		"no data":   wavBytes(16000, 1, 16, 0)[:36],
		"truncated": []byte("RIFF\x00\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01"),
	} {
		if _, _, _, _, err := wavInfo(b); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func oggPage(granule int64, payload []byte) []byte {
	var b bytes.Buffer
	b.WriteString("OggS")
	b.WriteByte(0)
	b.WriteByte(0)
	binary.Write(&b, binary.LittleEndian, granule)
	b.Write(make([]byte, 12)) // serial, sequence, crc (not checked by the pacer)
	b.WriteByte(1)
	b.WriteByte(byte(len(payload)))
	b.Write(payload)
	return b.Bytes()
}

func TestPaceOgg(t *testing.T) {
	data := append(oggPage(0, []byte("OpusHead")), oggPage(48000, []byte("audio"))...)
	data = append(data, oggPage(96000, []byte("more"))...)
	chunks, err := paceChunks(data, streamOptions{format: "ogg"})
	if err != nil {
		t.Fatal(err)
	}
	want := []time.Duration{0, time.Second, 2 * time.Second}
	if len(chunks) != len(want) {
		t.Fatalf("got %d pages, want %d", len(chunks), len(want))
	}
	for i, c := range chunks {
		if c.at != want[i] {
			t.Errorf("page %d at %v, want %v", i, c.at, want[i])
		}
	}
	if _, err := paceChunks(data[:len(data)-2], streamOptions{format: "ogg"}); err == nil {
		t.Error("truncated page accepted")
	}
}

func TestFormatFromName(t *testing.T) {
	for name, want := range map[string]string{"a.wav": "wav", "a.WEBM": "webm", "a.opus": "ogg", "a.ogg": "ogg", "a.raw": "pcm16", "a.f32": "f32"} {
		if got := formatFromName(name); got != want {
			t.Errorf("%s: %s, want %s", name, got, want)
		}
	}
}

func TestFastDue(t *testing.T) {
	for _, c := range []struct {
		i, sent, frames, bytes int
		want                   time.Duration
	}{
		{0, 0, 20, 1000, 0},
		{10, 0, 20, 1000, 500 * time.Millisecond}, // frame-bound
		{2, 3000, 20, 1000, 3 * time.Second},      // byte-bound
		{5, 100, 0, 0, 0},                         // unlimited
	} {
		if got := fastDue(c.i, c.sent, c.frames, c.bytes); got != c.want {
			t.Errorf("fastDue(%d,%d,%d,%d) = %v, want %v", c.i, c.sent, c.frames, c.bytes, got, c.want)
		}
	}
}

// Flag values that cannot pace a stream are refused with exit 2 before anything is
// sent (a zero rate used to divide by zero).
func TestStreamRefusesBadPacing(t *testing.T) {
	dir := t.TempDir()
	raw := dir + "/a.pcm"
	if err := os.WriteFile(raw, make([]byte, 3200), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, flags := range [][]string{
		{"--rate", "0"},
		{"--rate", "-8000"},
		{"--channels", "0"},
		{"--chunk", "0s"},
		{"--chunk", "-1s"},
		{"--chunk", "1ms"},
		{"--bitrate", "0"},
	} {
		args := append([]string{"stream", "--token", "t", "--url", "ws://127.0.0.1:1/interview"}, flags...)
		var out, errOut bytes.Buffer
		if code := run(append(args, raw), &out, &errOut); code != 2 {
			t.Errorf("%v: exit %d, want 2; stderr %q", flags, code, errOut.String())
		} else if !strings.Contains(errOut.String(), flags[0]) {
			t.Errorf("%v: stderr %q does not name the flag", flags, errOut.String())
		}
	}
}

func TestPaceRefusesUnpaceableInput(t *testing.T) {
	if _, err := cutByRate(make([]byte, 100), 0, 0, 100*time.Millisecond, 2); err == nil {
		t.Error("0 bytes per second: no error")
	}
	for name, b := range map[string][]byte{
		"4-bit samples": wavBytes(16000, 1, 4, 100),
		"zero channels": wavBytes(16000, 0, 16, 100),
		"zero rate":     wavBytes(0, 1, 16, 100),
		"1000 channels": wavBytes(16000, 1000, 16, 1),
	} {
		if _, err := paceChunks(b, streamOptions{format: "wav", chunk: 100 * time.Millisecond}); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := paceChunks(make([]byte, 100), streamOptions{format: "webm", chunk: 100 * time.Millisecond}); err == nil {
		t.Error("webm at bitrate 0: no error")
	}
}
