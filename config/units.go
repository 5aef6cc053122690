package config

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"strings"
	"time"
)

// Day is the "d" unit that ParseDuration accepts on top of Go's units: token lifetimes
// and retention periods are naturally said in days ("7d").
const Day = 24 * time.Hour

// durationUnits are Go's time.ParseDuration units plus "d".
var durationUnits = map[string]uint64{
	"ns": uint64(time.Nanosecond),
	"us": uint64(time.Microsecond),
	"µs": uint64(time.Microsecond), // U+00B5 micro sign
	"μs": uint64(time.Microsecond), // U+03BC Greek mu
	"ms": uint64(time.Millisecond),
	"s":  uint64(time.Second),
	"m":  uint64(time.Minute),
	"h":  uint64(time.Hour),
	"d":  uint64(Day),
}

// errDurationRange is returned for durations that do not fit a time.Duration.
var errDurationRange = errors.New("out of range")

// ParseDuration parses a duration string: Go's time.ParseDuration syntax ("500ms",
// "1h30m", "-5s") plus the unit "d" for 24 hours ("7d", "1d12h", "1.5d"). For every
// input without a "d" unit it returns what time.ParseDuration returns; the fuzz test
// holds it to that.
func ParseDuration(s string) (time.Duration, error) {
	orig := s
	invalid := func(why string) error {
		return fmt.Errorf("invalid duration %q: %s", orig, why)
	}
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	// A bare zero needs no unit, as in Go.
	if s == "0" {
		return 0, nil
	}
	if s == "" {
		return 0, invalid("empty")
	}
	var total uint64
	for s != "" {
		if !(s[0] == '.' || isDigit(s[0])) {
			return 0, invalid("expected a number")
		}
		// Integer part.
		var v uint64
		i := 0
		for ; i < len(s) && isDigit(s[i]); i++ {
			if v > 1<<63/10 {
				return 0, invalid(errDurationRange.Error())
			}
			v = v*10 + uint64(s[i]-'0')
			if v > 1<<63 {
				return 0, invalid(errDurationRange.Error())
			}
		}
		pre := i > 0
		s = s[i:]
		// Fraction: digits past what fits in the accumulator are dropped, as in Go.
		var f uint64
		scale := 1.0
		post := false
		if s != "" && s[0] == '.' {
			s = s[1:]
			i = 0
			overflow := false
			for ; i < len(s) && isDigit(s[i]); i++ {
				if overflow {
					continue
				}
				if f > (1<<63-1)/10 {
					overflow = true
					continue
				}
				y := f*10 + uint64(s[i]-'0')
				if y > 1<<63 {
					overflow = true
					continue
				}
				f = y
				scale *= 10
			}
			post = i > 0
			s = s[i:]
		}
		if !pre && !post {
			return 0, invalid("expected digits")
		}
		// Unit.
		i = 0
		for ; i < len(s) && s[i] != '.' && !isDigit(s[i]); i++ {
		}
		if i == 0 {
			return 0, invalid("missing unit (use ms, s, m, h or d)")
		}
		u := s[:i]
		s = s[i:]
		unit, ok := durationUnits[u]
		if !ok {
			return 0, invalid(fmt.Sprintf("unknown unit %q (use ms, s, m, h or d)", u))
		}
		if v > 1<<63/unit {
			return 0, invalid(errDurationRange.Error())
		}
		v *= unit
		if f > 0 {
			v += uint64(float64(f) * (float64(unit) / scale))
			if v > 1<<63 {
				return 0, invalid(errDurationRange.Error())
			}
		}
		total += v
		if total > 1<<63 {
			return 0, invalid(errDurationRange.Error())
		}
	}
	if neg {
		return -time.Duration(total), nil
	}
	if total > 1<<63-1 {
		return 0, invalid(errDurationRange.Error())
	}
	return time.Duration(total), nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// sizeUnits maps lower-cased size suffixes to their byte multiples: SI (KB = 1000)
// and binary (KiB = 1024) prefixes, as written on the tin.
var sizeUnits = map[string]int64{
	"":    1,
	"b":   1,
	"kb":  1000,
	"mb":  1000 * 1000,
	"gb":  1000 * 1000 * 1000,
	"tb":  1000 * 1000 * 1000 * 1000,
	"kib": 1 << 10,
	"mib": 1 << 20,
	"gib": 1 << 30,
	"tib": 1 << 40,
}

// ParseSize parses a byte size: a non-negative number with an optional unit, B, KB, MB,
// GB, TB (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024), case-insensitive,
// optionally separated by spaces: "1MiB", "64 KiB", "512KB", "1.5GiB", "4096". The
// result must be a whole number of bytes that fits an int64.
func ParseSize(s string) (int64, error) {
	orig := s
	invalid := func(why string) error {
		return fmt.Errorf("invalid size %q: %s", orig, why)
	}
	s = strings.TrimSpace(s)
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	if i == 0 {
		return 0, invalid("expected a number of bytes, optionally followed by a unit (B, KB, MB, GB, KiB, MiB, GiB)")
	}
	if i < len(s) && s[i] == '.' {
		i++
		j := i
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		if i == j {
			return 0, invalid("expected digits after the decimal point")
		}
	}
	num, unit := s[:i], strings.ToLower(strings.TrimSpace(s[i:]))
	mult, ok := sizeUnits[unit]
	if !ok {
		return 0, invalid(fmt.Sprintf("unknown unit %q (use B, KB, MB, GB, TB, KiB, MiB, GiB or TiB)", strings.TrimSpace(s[i:])))
	}
	// Exact rational arithmetic: "1.5KiB" is exactly 1536 bytes, "0.1B" is not a size.
	r, ok := new(big.Rat).SetString(num)
	if !ok {
		return 0, invalid("not a number")
	}
	r.Mul(r, new(big.Rat).SetInt64(mult))
	if !r.IsInt() {
		return 0, invalid("not a whole number of bytes")
	}
	n := r.Num()
	if !n.IsInt64() || n.Int64() > math.MaxInt64 {
		return 0, invalid(errDurationRange.Error())
	}
	return n.Int64(), nil
}

// FormatSize renders n bytes in the largest binary unit that divides it exactly:
// 1048576 → "1MiB", 1536 → "1536B". ParseSize(FormatSize(n)) == n for n >= 0.
func FormatSize(n int64) string {
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n != 0 && n%u.mult == 0 {
			return fmt.Sprintf("%d%s", n/u.mult, u.suffix)
		}
	}
	return fmt.Sprintf("%dB", n)
}
