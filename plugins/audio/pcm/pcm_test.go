package pcm

import (
	"encoding/binary"
	"math"
	"slices"
	"testing"
)

func TestEncodings(t *testing.T) {
	f32 := func(v float32) []byte { return binary.LittleEndian.AppendUint32(nil, math.Float32bits(v)) }
	f64 := func(v float64) []byte { return binary.LittleEndian.AppendUint64(nil, math.Float64bits(v)) }
	cases := []struct {
		enc  Encoding
		in   []byte
		want []float32
	}{
		{U8, []byte{0, 128, 255}, []float32{-1, 0, 127.0 / 128}},
		{S16, []byte{0x00, 0x80, 0x00, 0x00, 0xFF, 0x7F}, []float32{-1, 0, 32767.0 / 32768}},
		{S24, []byte{0x00, 0x00, 0x80, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x40}, []float32{-1, -1.0 / (1 << 23), 0.5}},
		{S32, []byte{0, 0, 0, 0x80, 0, 0, 0, 0x40}, []float32{-1, 0.5}},
		{F32, slices.Concat(f32(0.25), f32(float32(math.NaN())), f32(7), f32(float32(math.Inf(-1)))), []float32{0.25, 0, 1, -1}},
		{F64, slices.Concat(f64(-0.5), f64(2)), []float32{-0.5, 1}},
	}
	for _, c := range cases {
		m, err := NewMixer(c.enc, 1)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.Mix(nil, c.in); !slices.Equal(got, c.want) {
			t.Errorf("%v: %v, want %v", c.enc, got, c.want)
		}
	}
}

func TestMixAcrossChunks(t *testing.T) {
	// Stereo s16: frames (1000, 3000) and (-2000, 0).
	var b []byte
	for _, v := range []int16{1000, 3000, -2000, 0} {
		b = binary.LittleEndian.AppendUint16(b, uint16(v))
	}
	want := []float32{2000.0 / 32768, -1000.0 / 32768}
	for cut1 := range len(b) + 1 {
		for cut2 := cut1; cut2 <= len(b); cut2++ {
			m, _ := NewMixer(S16, 2)
			got := m.Mix(nil, b[:cut1])
			got = m.Mix(got, b[cut1:cut2])
			got = m.Mix(got, b[cut2:])
			if !slices.Equal(got, want) || m.Pending() != 0 {
				t.Fatalf("cuts %d/%d: %v (pending %d)", cut1, cut2, got, m.Pending())
			}
		}
	}
	m, _ := NewMixer(S16, 2)
	m.Mix(nil, b[:3])
	if m.Pending() != 3 {
		t.Fatalf("pending %d", m.Pending())
	}
}

func TestRejects(t *testing.T) {
	if _, err := NewMixer(Encoding(99), 1); err == nil {
		t.Error("unknown encoding accepted")
	}
	if _, err := NewMixer(S16, 0); err == nil {
		t.Error("0 channels accepted")
	}
	if _, err := NewMixer(S16, MaxChannels+1); err == nil {
		t.Error("too many channels accepted")
	}
}

func TestToS16(t *testing.T) {
	got := ToS16(nil, []float32{0, 1, -1, 2, -2, 0.5, float32(math.NaN())})
	if want := []int16{0, 32767, -32768, 32767, -32768, 16384, 0}; !slices.Equal(got, want) {
		t.Fatalf("%v, want %v", got, want)
	}
}
