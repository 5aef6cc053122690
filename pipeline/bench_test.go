package pipeline

import (
	"context"
	"runtime"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/signaling/protocol"
)

// benchPublisher counts events and signals finals; it keeps nothing.
type benchPublisher struct {
	n      atomic.Int64
	finals chan time.Time
}

func (p *benchPublisher) Publish(sessionID, event string, payload any, roles []string, except string) {
	p.n.Add(1)
	if r, ok := payload.(protocol.TranscriptionResult); ok && r.IsFinal && p.finals != nil {
		p.finals <- time.Now()
	}
}

func (p *benchPublisher) PublishToUser(sessionID, userID, event string, payload any) { p.n.Add(1) }

func benchRuntime(b *testing.B, pub Publisher) *Runtime {
	rt, err := New(Options{
		Publisher:       pub,
		Definitions:     []Definition{{Name: "p", Decoder: &fakeDecoder{}, Transcriber: &fakeTranscriber{outCap: 16}, ReplayBuffer: 30 * time.Second}},
		DefaultPipeline: "p",
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = rt.Close() })
	return rt
}

// BenchmarkFrameOverhead: the daemon's own cost per 20 ms frame through decoder →
// transcriber with stages that cost nothing (pass-through decoder, trivial
// recogniser), including partial/final publishing.
func BenchmarkFrameOverhead(b *testing.B) {
	rt := benchRuntime(b, &benchPublisher{})
	s, err := rt.OpenStream(context.Background(), spec("s", "u", ""))
	if err != nil {
		b.Fatal(err)
	}
	frames := script(append([]int{1, 2, 3}, silence(6)...)...) // 15 frames: speech, then a final
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if err := s.Write(ctx, frames[i%len(frames)]); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Stop(ctx); err != nil { // count the drain: every frame went all the way
		b.Fatal(err)
	}
}

// BenchmarkEndOfSpeechToFinal: from writing the frame that ends an utterance (the
// transcriber's endpoint) to the final being published, with zero-cost stages: the
// daemon's own share of end-of-speech → final.
func BenchmarkEndOfSpeechToFinal(b *testing.B) {
	pub := &benchPublisher{finals: make(chan time.Time, 1)}
	rt := benchRuntime(b, pub)
	s, err := rt.OpenStream(context.Background(), spec("s", "u", ""))
	if err != nil {
		b.Fatal(err)
	}
	frames := script(append([]int{1, 2}, silence(4)...)...)
	last := len(frames) - 1
	ctx := context.Background()
	var lat []time.Duration
	for b.Loop() {
		for _, f := range frames[:last] {
			if err := s.Write(ctx, f); err != nil {
				b.Fatal(err)
			}
		}
		t0 := time.Now()
		if err := s.Write(ctx, frames[last]); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, (<-pub.finals).Sub(t0))
	}
	_ = s.Stop(ctx)
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

// BenchmarkMemoryPerStream: heap and goroutines held by an open, idle stream (after
// its first chunk), with zero-cost stages.
func BenchmarkMemoryPerStream(b *testing.B) {
	const n = 500
	for b.Loop() {
		rt := benchRuntime(b, &benchPublisher{})
		runtime.GC()
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		g0 := runtime.NumGoroutine()
		streams := make([]Stream, n)
		for i := range streams {
			s, err := rt.OpenStream(context.Background(), spec("s"+strconv.Itoa(i), "u", ""))
			if err != nil {
				b.Fatal(err)
			}
			if err := s.Write(context.Background(), frame(1)); err != nil {
				b.Fatal(err)
			}
			streams[i] = s
		}
		for _, s := range streams {
			waitDecoded(b, s, frameSamples)
		}
		runtime.GC()
		runtime.ReadMemStats(&m1)
		g1 := runtime.NumGoroutine()
		b.ReportMetric(float64(m1.HeapInuse-m0.HeapInuse+m1.StackInuse-m0.StackInuse)/n, "bytes/stream")
		b.ReportMetric(float64(g1-g0)/n, "goroutines/stream")
		_ = rt.Close()
	}
}

// BenchmarkConcurrentStreams: the runtime's cost per 20 ms frame with 64 streams
// writing at once (zero-cost stages), i.e. under contention for the 2 cores.
func BenchmarkConcurrentStreams(b *testing.B) {
	const n = 64
	rt := benchRuntime(b, &benchPublisher{})
	streams := make([]Stream, n)
	for i := range streams {
		s, err := rt.OpenStream(context.Background(), spec("s"+strconv.Itoa(i), "u", ""))
		if err != nil {
			b.Fatal(err)
		}
		streams[i] = s
	}
	frames := script(append([]int{1, 2, 3}, silence(6)...)...)
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		s := streams[int(next.Add(1)-1)%n]
		for i := 0; pb.Next(); i++ {
			if err := s.Write(context.Background(), frames[i%len(frames)]); err != nil {
				b.Error(err)
				return
			}
		}
	})
	for _, s := range streams {
		if err := s.Stop(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}
