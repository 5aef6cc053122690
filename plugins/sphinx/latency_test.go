package sphinx

import (
	"context"
	"os"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/earshot-dev/earshot/plugins/sdk"
)

// cpuNow is the process's CPU time. Costs are measured in CPU time, not wall
// time, so a machine busy with other work does not inflate them: the virtual
// clock then shows the latency on a core of its own.
func cpuNow() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_PROCESS_CPUTIME_ID, &ts); err != nil {
		return 0 // Linux always has it; a zero clock makes the figures obviously wrong
	}
	return time.Duration(ts.Nano())
}

// latencyReport is what one paced run over the espeak interview stream found.
type latencyReport struct {
	rtf                  float64         // processing time / audio time
	finals, firstPartial []time.Duration // per sentence
	wer                  float64
}

// measureLatency transcribes the espeak interview stream as if it arrived in
// real time, in chunk-sized pieces: the processing cost of every input is
// measured on the wall clock and laid onto a virtual clock where input i
// arrives when its last sample has been spoken and is processed as soon as the
// transcriber is free. So latencies include the endpoint silence, the decoding
// backlog and the end-of-utterance passes, without needing real-time waits.
func measureLatency(t testing.TB, cfg string, chunk time.Duration) latencyReport {
	tr := newConfigured(t, cfg)
	samples, bounds := espeakStream(t, "en-us+klatt", 140, -50)
	inputs := chunked(samples, chunk, 0)
	wallNext := make([]time.Duration, len(inputs)+1) // Next called for input i = input i-1 done
	wallRet := make([]time.Duration, len(inputs))
	src := &sliceSource{items: inputs}
	src.onNext = func(i int) {
		now := cpuNow()
		wallNext[i] = now
		if i < len(inputs) {
			wallRet[i] = now
		}
	}
	sink := &recSink{t: t, input: func() int { return src.i - 1 }, clock: cpuNow}
	if err := tr.Transcribe(context.Background(), sdk.TranscribeStart{SampleRate: sampleRate}, src, sink); err != nil {
		t.Fatal(err)
	}
	// The virtual clock.
	vstart := make([]time.Duration, len(inputs))
	var vdone, busy time.Duration
	for i, in := range inputs {
		arrival := in.Start + time.Duration(len(in.Samples))*time.Second/sampleRate
		vstart[i] = max(arrival, vdone)
		cost := wallNext[i+1] - wallRet[i]
		busy += cost
		vdone = vstart[i] + cost
	}
	vtime := func(e event) time.Duration {
		if e.input < 0 {
			return 0
		}
		return vstart[e.input] + e.cpu - wallRet[e.input]
	}
	sampleTime := func(n int) time.Duration { return time.Duration(n) * time.Second / sampleRate }
	sentenceOf := func(at time.Duration) int {
		k := 0
		for j, b := range bounds {
			if sampleTime(b[0])-300*time.Millisecond <= at {
				k = j
			}
		}
		return k
	}
	rep := latencyReport{rtf: float64(busy) / float64(sampleTime(len(samples)))}
	lastFinal := make([]time.Duration, len(bounds))
	firstPartial := make([]time.Duration, len(bounds))
	for i := range bounds {
		lastFinal[i], firstPartial[i] = -1, -1
	}
	for _, e := range sink.events {
		if e.r.Text == "" {
			continue
		}
		k := sentenceOf(e.r.Start)
		switch e.kind {
		case "final":
			lastFinal[k] = vtime(e) - sampleTime(bounds[k][1])
		case "partial":
			if firstPartial[k] < 0 {
				firstPartial[k] = vtime(e) - sampleTime(bounds[k][0])
			}
		}
	}
	for k := range bounds {
		if lastFinal[k] >= 0 {
			rep.finals = append(rep.finals, lastFinal[k])
		}
		if firstPartial[k] >= 0 {
			rep.firstPartial = append(rep.firstPartial, firstPartial[k])
		}
	}
	return rep
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return -1
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// BenchmarkLatency reports, for the default configuration at
// endpoint_silence=500ms, the latency from the last speech sample to the
// final (p50, p90, max), from speech onset to the first partial (p50), and the
// real-time factor, over the ten espeak-ng interview sentences fed in 20 ms
// chunks at real-time pace (see measureLatency).
//
//	go test -run '^$' -bench Latency -benchtime 3x ./plugins/sphinx/
func BenchmarkLatency(b *testing.B) {
	cfg := `{}`
	if v := os.Getenv("SPHINX_CFG"); v != "" {
		cfg = v
	}
	var finals, partials []time.Duration
	var rtf float64
	for b.Loop() {
		r := measureLatency(b, cfg, 20*time.Millisecond)
		finals = append(finals, r.finals...)
		partials = append(partials, r.firstPartial...)
		rtf += r.rtf
	}
	b.ReportMetric(ms(percentile(finals, 0.5)), "final_p50_ms")
	b.ReportMetric(ms(percentile(finals, 0.9)), "final_p90_ms")
	b.ReportMetric(ms(slices.Max(finals)), "final_max_ms")
	b.ReportMetric(ms(percentile(partials, 0.5)), "partial1_p50_ms")
	b.ReportMetric(ms(percentile(partials, 0.9)), "partial1_p90_ms")
	b.ReportMetric(rtf/float64(b.N), "rtf")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkPrime measures priming a used decoder for the next stream (done
// when a stream ends, off the latency path) and loading a fresh one.
//
//	go test -run '^$' -bench 'Prime|Load' -benchtime 5x ./plugins/sphinx/
func BenchmarkPrime(b *testing.B) {
	// No warm pool: its filler would load decoders on the process's CPU clock.
	cfg := `{"pool_size":0}`
	if v := os.Getenv("SPHINX_CFG"); v != "" {
		cfg = v
	}
	tr := newConfigured(b, cfg)
	d, err := tr.pool.get(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	defer tr.pool.put(d, false)
	start := cpuNow()
	for b.Loop() {
		if err := tr.cfg.prime(d); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(ms(cpuNow()-start)/float64(b.N), "cpu_ms/op")
}

// BenchmarkLoad measures loading (ps_init, the domain language model, extra
// words, priming) a decoder; SPHINX_CFG sets the configuration.
func BenchmarkLoad(b *testing.B) {
	cfg := `{}`
	if v := os.Getenv("SPHINX_CFG"); v != "" {
		cfg = v
	}
	tr := newConfigured(b, cfg)
	start := cpuNow()
	for b.Loop() {
		d, err := tr.cfg.newDecoder()
		if err != nil {
			b.Fatal(err)
		}
		d.Close()
	}
	b.ReportMetric(ms(cpuNow()-start)/float64(b.N), "cpu_ms/op")
}

// BenchmarkLatencyRealtime is BenchmarkLatency on the wall clock: the chunks
// are released at real-time pace (the stream takes ~35 s), so the figures
// include whatever else the machine is doing. It checks the virtual clock of
// BenchmarkLatency on a quiet machine.
//
//	go test -run '^$' -bench LatencyRealtime -benchtime 1x ./plugins/sphinx/
func BenchmarkLatencyRealtime(b *testing.B) {
	var finals, partials []time.Duration
	for b.Loop() {
		tr := newConfigured(b, `{}`)
		samples, bounds := espeakStream(b, "en-us+klatt", 140, -50)
		inputs := chunked(samples, 20*time.Millisecond, 0)
		start := time.Now()
		src := &sliceSource{items: inputs}
		src.onNext = func(i int) {
			if i < len(inputs) {
				in := inputs[i]
				// Pacing a real-time source, not synchronising: sleep is the point.
				time.Sleep(time.Until(start.Add(in.Start + time.Duration(len(in.Samples))*time.Second/sampleRate)))
			}
		}
		wall := func() time.Duration { return time.Since(start) }
		sink := &recSink{t: b, clock: wall}
		if err := tr.Transcribe(context.Background(), sdk.TranscribeStart{SampleRate: sampleRate}, src, sink); err != nil {
			b.Fatal(err)
		}
		at := func(n int) time.Duration { return time.Duration(n) * time.Second / sampleRate }
		last := make([]time.Duration, len(bounds))
		first := make([]time.Duration, len(bounds))
		for _, e := range sink.events {
			if e.r.Text == "" {
				continue
			}
			k := 0
			for j, bd := range bounds {
				if at(bd[0])-300*time.Millisecond <= e.r.Start {
					k = j
				}
			}
			switch {
			case e.kind == "final":
				last[k] = e.cpu - at(bounds[k][1])
			case e.kind == "partial" && first[k] == 0:
				first[k] = e.cpu - at(bounds[k][0])
			}
		}
		for k := range bounds {
			if last[k] != 0 {
				finals = append(finals, last[k])
			}
			if first[k] != 0 {
				partials = append(partials, first[k])
			}
		}
	}
	b.ReportMetric(ms(percentile(finals, 0.5)), "final_p50_ms")
	b.ReportMetric(ms(percentile(finals, 0.9)), "final_p90_ms")
	b.ReportMetric(ms(percentile(partials, 0.5)), "partial1_p50_ms")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkStreamEnd measures how long Transcribe takes to return once its
// input has ended (io.EOF) between utterances: what an audio:stop waits for
// after the last final. The decoder goes back to the pool for the next stream.
//
//	go test -run '^$' -bench StreamEnd -benchtime 10x ./plugins/sphinx/
func BenchmarkStreamEnd(b *testing.B) {
	tr := newConfigured(b, `{}`)
	inputs := chunked(addNoise(silence(time.Second), -50, 1), 20*time.Millisecond, 0)
	var ends []time.Duration
	for b.Loop() {
		var eof time.Time
		src := &sliceSource{items: inputs, onNext: func(i int) {
			if i == len(inputs) {
				eof = time.Now()
			}
		}}
		sink := &recSink{t: b}
		if err := tr.Transcribe(context.Background(), sdk.TranscribeStart{SampleRate: sampleRate}, src, sink); err != nil {
			b.Fatal(err)
		}
		ends = append(ends, time.Since(eof))
	}
	b.ReportMetric(ms(percentile(ends, 0.5)), "p50_ms")
	b.ReportMetric(ms(percentile(ends, 1)), "max_ms")
	b.ReportMetric(0, "ns/op")
}
