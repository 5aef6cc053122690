package config

import (
	"strings"
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		err  string // substring of the error, "" for success
	}{
		{"0", 0, ""},
		{"500ms", 500 * time.Millisecond, ""},
		{"5m", 5 * time.Minute, ""},
		{"1h30m", 90 * time.Minute, ""},
		{"7d", 7 * 24 * time.Hour, ""},
		{"1d12h", 36 * time.Hour, ""},
		{"1.5d", 36 * time.Hour, ""},
		{".5d", 12 * time.Hour, ""},
		{"-2d", -48 * time.Hour, ""},
		{"+1d", 24 * time.Hour, ""},
		{"10us", 10 * time.Microsecond, ""},
		{"10µs", 10 * time.Microsecond, ""},
		{"1ns", 1, ""},
		{"106751d", 106751 * 24 * time.Hour, ""},
		{"106752d", 0, "out of range"},
		{"", 0, "empty"},
		{"5", 0, "missing unit"},
		{"7 days", 0, "unknown unit"},
		{"1w", 0, "unknown unit"},
		{"d", 0, "expected a number"},
		{".d", 0, "expected digits"},
		{"1.5.s", 0, "missing unit"},
		{"99999999999999999999s", 0, "out of range"},
	} {
		got, err := ParseDuration(tc.in)
		switch {
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("ParseDuration(%q) error = %v; want it to mention %q", tc.in, err, tc.err)
		}
	}
}

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		err  string
	}{
		{"0", 0, ""},
		{"4096", 4096, ""},
		{"1B", 1, ""},
		{"1MiB", 1 << 20, ""},
		{"64KiB", 64 << 10, ""},
		{"64 KiB", 64 << 10, ""},
		{"512KB", 512000, ""},
		{"512kb", 512000, ""},
		{"1GiB", 1 << 30, ""},
		{"2TB", 2e12, ""},
		{"1.5KiB", 1536, ""},
		{"8EiB", 0, "unknown unit"},
		{"8191PiB", 0, "unknown unit"},
		{"8388608TiB", 0, "out of range"},
		{"0.1B", 0, "whole number"},
		{"", 0, "expected a number"},
		{"-1", 0, "expected a number"},
		{"MiB", 0, "expected a number"},
		{"1.MiB", 0, "digits after the decimal point"},
		{"1 MeB", 0, "unknown unit"},
		{"1MiB 2KiB", 0, "unknown unit"},
	} {
		got, err := ParseSize(tc.in)
		switch {
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("ParseSize(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("ParseSize(%q) error = %v; want it to mention %q", tc.in, err, tc.err)
		}
	}
}

func TestFormatSize(t *testing.T) {
	for n, want := range map[int64]string{0: "0B", 1536: "1536B", 1 << 20: "1MiB", 3 << 30: "3GiB", 64 << 10: "64KiB", 5 << 40: "5TiB"} {
		if got := FormatSize(n); got != want {
			t.Errorf("FormatSize(%d) = %q, want %q", n, got, want)
		}
	}
}

// FuzzParseDuration holds ParseDuration to time.ParseDuration on every input without
// the "d" unit, and checks that days scale exactly.
func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"0", "500ms", "5m", "1h30m", "7d", "1d12h", "-1.5d", ".5s", "1.s", "+3µs", "9223372036854775807ns",
		"9223372036854775808ns", "-9223372036854775808ns", "106751d23h47m16.854775807s", "1.0000000000000000000001h", "", "d", "1x", "0.0000001d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseDuration(s)
		if !strings.Contains(s, "d") {
			want, werr := time.ParseDuration(s)
			if (err == nil) != (werr == nil) || got != want {
				t.Fatalf("ParseDuration(%q) = %v, %v; time.ParseDuration = %v, %v", s, got, err, want, werr)
			}
			return
		}
		// Replacing whole-number days by hours must give the same duration.
		num := strings.TrimLeft(strings.TrimSuffix(s, "d"), "+-")
		if err == nil && num != "" && strings.Trim(num, "0123456789") == "" && strings.HasSuffix(s, "d") {
			num = strings.TrimSuffix(s, "d")
			h, herr := ParseDuration(num + "h")
			if herr != nil || got != h*24 {
				t.Fatalf("ParseDuration(%q) = %v, want 24 × %v", s, got, h)
			}
		}
	})
}

// FuzzParseSize checks ParseSize never panics, never returns a negative size, and
// round-trips through FormatSize.
func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"0", "1MiB", "64 KiB", "512KB", "1.5GiB", "9223372036854775807", "9223372036854775808", "8388607TiB", "0.1B", "", "-1", "1e3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseSize(s)
		if err != nil {
			return
		}
		if n < 0 {
			t.Fatalf("ParseSize(%q) = %d", s, n)
		}
		back, err := ParseSize(FormatSize(n))
		if err != nil || back != n {
			t.Fatalf("ParseSize(FormatSize(%d) = %q) = %d, %v", n, FormatSize(n), back, err)
		}
	})
}
