// Package resample converts a mono float32 stream between sample rates with a
// Kaiser-windowed sinc polyphase filter, streaming across calls.
//
// The low-pass filter passes up to 43.75% of the lower of the two rates and
// reaches its full stop-band attenuation (about 80 dB) at half of it, the
// Nyquist frequency of the lower rate: 48 kHz → 16 kHz passes 0–7 kHz and stops
// everything from 8 kHz up, so nothing above the output's Nyquist frequency
// aliases into the speech band.
package resample

import (
	"fmt"
	"math"
	"slices"
	"sync"
)

// Filter design figures (see the package comment).
const (
	passFraction = 0.4375 // pass band edge, as a fraction of the lower rate
	stopFraction = 0.5    // stop band edge, as a fraction of the lower rate
	attenuation  = 80.0   // stop band attenuation in dB
	maxPhases    = 1024   // above this, coefficients are interpolated between phases
	// maxTable bounds the coefficients of one table (taps × (phases+1), 512 KiB):
	// a large decimation ratio needs many taps, so it gets fewer phases. Its
	// filter is narrow (cut-off ≈ 0.47 / ratio cycles per input sample) and
	// smooth, so linear interpolation between even a few phases per input sample
	// stays far below the stop band: 383,999 Hz → 8 kHz has 3,856 taps and 32
	// phases.
	maxTable = 1 << 17
	// MinRate and MaxRate bound the rates a Resampler accepts.
	MinRate = 1000
	MaxRate = 384000
)

// Resampler converts one mono stream from InRate to OutRate.
type Resampler struct {
	inRate, outRate int
	l, m            int64 // output sample n sits at input time n*m/l
	taps            int   // coefficients per phase (even)
	phases          int   // phases in the table
	coef            []float32

	buf      []float32 // input samples, buf[0] has absolute index bufStart
	bufStart int64
	inTotal  int64 // input samples received
	next     int64 // index of the next output sample
	flushed  bool
}

// New returns a Resampler from inRate to outRate (Hz).
func New(inRate, outRate int) (*Resampler, error) {
	if inRate < MinRate || inRate > MaxRate || outRate < MinRate || outRate > MaxRate {
		return nil, fmt.Errorf("resample %d Hz → %d Hz: rates must be within %d..%d Hz", inRate, outRate, MinRate, MaxRate)
	}
	g := gcd(inRate, outRate)
	r := &Resampler{inRate: inRate, outRate: outRate, l: int64(outRate / g), m: int64(inRate / g)}
	if r.l == r.m {
		return r, nil
	}
	low := float64(min(inRate, outRate))
	pass, stop := passFraction*low, stopFraction*low
	cutoff := (pass + stop) / 2 / float64(inRate) // cycles per input sample
	width := (stop - pass) / float64(inRate)
	n := (attenuation - 7.95) / (2.285 * 2 * math.Pi * width)
	r.taps = int(math.Ceil(n/2)) * 2
	r.phases = int(min(r.l, maxPhases, int64(max(maxTable/r.taps-1, 1))))
	r.coef = coefficients(inRate, outRate, r.taps, r.phases, cutoff)
	r.buf = make([]float32, r.taps/2-1)
	r.bufStart = -int64(r.taps/2 - 1)
	return r, nil
}

// InRate is the input rate in Hz.
func (r *Resampler) InRate() int { return r.inRate }

// OutRate is the output rate in Hz.
func (r *Resampler) OutRate() int { return r.outRate }

// Taps is the filter length per output sample (0 when the rates are equal).
func (r *Resampler) Taps() int { return r.taps }

// Process appends to dst the output samples that the input so far determines.
// Output lags input by Taps()/2 input samples until Flush.
func (r *Resampler) Process(dst, in []float32) []float32 {
	if r.flushed {
		return dst
	}
	if r.taps == 0 {
		r.inTotal += int64(len(in))
		return append(dst, in...)
	}
	r.inTotal += int64(len(in))
	r.buf = append(r.buf, in...)
	return r.run(dst)
}

// Flush appends the remaining output, as if the input were followed by silence,
// up to the output sample that corresponds to the end of the input. Later calls
// to Process or Flush return nothing more.
func (r *Resampler) Flush(dst []float32) []float32 {
	if r.flushed {
		return dst
	}
	r.flushed = true
	if r.taps == 0 {
		return dst
	}
	end := (r.inTotal*r.l + r.m - 1) / r.m // outputs covering the input
	r.buf = append(r.buf, make([]float32, r.taps/2+1)...)
	for r.next < end {
		before := r.next
		dst = r.run(dst)
		if r.next == before {
			break
		}
	}
	if r.next > end {
		over := int(r.next - end)
		dst = dst[:len(dst)-over]
	}
	return dst
}

func (r *Resampler) run(dst []float32) []float32 {
	half := int64(r.taps / 2)
	avail := r.bufStart + int64(len(r.buf)) // one past the last input sample held
	for {
		num := r.next * r.m
		base := num / r.l
		if base+half >= avail {
			break
		}
		first := int(base - half + 1 - r.bufStart)
		x := r.buf[first : first+r.taps]
		var acc float32
		if int64(r.phases) == r.l {
			row := r.coef[int(num%r.l)*r.taps:][:r.taps]
			for i, c := range row {
				acc += c * x[i]
			}
		} else {
			pos := float64(num%r.l) / float64(r.l) * float64(r.phases)
			p := int(pos)
			a := float32(pos - float64(p))
			row0 := r.coef[p*r.taps:][:r.taps]
			row1 := r.coef[(p+1)*r.taps:][:r.taps]
			for i := range x {
				acc += (row0[i] + a*(row1[i]-row0[i])) * x[i]
			}
		}
		dst = append(dst, acc)
		r.next++
	}
	// Drop input no longer needed by the next output sample.
	keepFrom := (r.next*r.m)/r.l - half + 1
	if drop := keepFrom - r.bufStart; drop > 0 {
		if drop > int64(len(r.buf)) {
			drop = int64(len(r.buf))
		}
		n := copy(r.buf, r.buf[drop:])
		r.buf = r.buf[:n]
		r.bufStart += drop
	}
	return dst
}

// Coefficient tables are read-only once built, so streams with the same rates
// share one (a 44.1 → 16 kHz table is about 140 KB). The cache holds at most
// maxCacheBytes and drops the least recently used table to make room: odd
// rates cannot pin it, and a stream keeps its own table alive however long it
// runs.
var (
	tablesMu    sync.Mutex
	tables      = map[[2]int][]float32{}
	tableOrder  [][2]int // least recently used first
	tablesBytes int
)

const maxCacheBytes = 4 << 20

func cached(key [2]int) ([]float32, bool) {
	tablesMu.Lock()
	defer tablesMu.Unlock()
	coef, ok := tables[key]
	if ok {
		i := slices.Index(tableOrder, key)
		tableOrder = append(slices.Delete(tableOrder, i, i+1), key)
	}
	return coef, ok
}

func cache(key [2]int, coef []float32) {
	tablesMu.Lock()
	defer tablesMu.Unlock()
	if _, ok := tables[key]; ok {
		return // built by another stream meanwhile
	}
	size := 4 * len(coef)
	for len(tableOrder) > 0 && tablesBytes+size > maxCacheBytes {
		old := tableOrder[0]
		tableOrder = tableOrder[1:]
		tablesBytes -= 4 * len(tables[old])
		delete(tables, old)
	}
	tables[key] = coef
	tableOrder = append(tableOrder, key)
	tablesBytes += size
}

func coefficients(inRate, outRate, taps, phases int, cutoff float64) []float32 {
	key := [2]int{inRate, outRate}
	if coef, ok := cached(key); ok {
		return coef
	}
	beta := 0.1102 * (attenuation - 8.7)
	half := float64(taps / 2)
	coef := make([]float32, (phases+1)*taps)
	vals := make([]float64, taps)
	for p := 0; p <= phases; p++ {
		frac := float64(p) / float64(phases)
		var sum float64
		for i := range vals {
			// Tap i multiplies input sample base-taps/2+1+i; tau is the distance
			// from that sample to the output instant, in input samples.
			tau := frac + half - 1 - float64(i)
			v := 2 * cutoff * sinc(2*cutoff*tau) * kaiser(tau/half, beta)
			vals[i] = v
			sum += v
		}
		row := coef[p*taps : (p+1)*taps]
		for i, v := range vals {
			row[i] = float32(v / sum) // unity gain at DC for every phase
		}
	}
	cache(key, coef)
	return coef
}

func sinc(x float64) float64 {
	if x == 0 {
		return 1
	}
	return math.Sin(math.Pi*x) / (math.Pi * x)
}

func kaiser(x, beta float64) float64 {
	if x < -1 || x > 1 {
		return 0
	}
	return bessel0(beta*math.Sqrt(1-x*x)) / bessel0(beta)
}

// bessel0 is the zeroth-order modified Bessel function of the first kind.
func bessel0(x float64) float64 {
	sum, term := 1.0, 1.0
	for k := 1; k < 50; k++ {
		term *= (x / (2 * float64(k))) * (x / (2 * float64(k)))
		sum += term
		if term < 1e-12*sum {
			break
		}
	}
	return sum
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
