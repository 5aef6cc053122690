package host_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/hcl/v2/hclparse"
	"golang.org/x/sys/unix"

	"github.com/earshot-dev/earshot/plugins/host"
	"github.com/earshot-dev/earshot/plugins/sdk"
)

// The benchmarks push 20 ms frames of 16 kHz PCM (640 bytes) through the
// pass-through transcriber in a real plugin process over the real connection
// (unix socket, AutoMTLS, gRPC). CPU is the daemon's (getrusage) plus the
// plugin's (its process CPU clock).
//
//	go test -run '^$' -bench . -benchtime 20000x ./plugins/host/

// benchStage starts the pass-through transcriber; partialEvery > 1 makes it
// answer only every partialEvery-th frame.
func benchStage(b *testing.B, partialEvery int) (*host.Host, *host.Stage) {
	b.Helper()
	d := b.TempDir()
	if err := os.Symlink(binary, d+"/"+host.BinaryPrefix+"passthrough"); err != nil {
		b.Fatal(err)
	}
	// BENCH_PLUGIN_GOMAXPROCS tries the plugin with another GOMAXPROCS;
	// BENCH_COALESCE sets host.Options.CoalesceWindow (e.g. -1ns: off, 8ms).
	var specs []host.Spec
	if v := os.Getenv("BENCH_PLUGIN_GOMAXPROCS"); v != "" {
		specs = append(specs, host.Spec{Name: "passthrough", Env: map[string]string{"GOMAXPROCS": v}})
	}
	opts := host.Options{Dirs: []string{d}, Plugins: specs, Logger: hclog.NewNullLogger()}
	if v := os.Getenv("BENCH_COALESCE"); v != "" {
		w, err := time.ParseDuration(v)
		if err != nil {
			b.Fatalf("BENCH_COALESCE: %v", err)
		}
		opts.CoalesceWindow = w
	}
	h, err := host.New(opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = h.Close() })
	f, diags := hclparse.NewParser().ParseHCL([]byte(fmt.Sprintf("partial_every = %d\n", max(partialEvery, 1))), "bench.hcl")
	if diags.HasErrors() {
		b.Fatal(diags)
	}
	s, diags := h.Stage(context.Background(), sdk.KindTranscriber, "passthrough", f.Body, nil)
	if diags.HasErrors() {
		b.Fatal(diags)
	}
	return h, s
}

// benchStream starts the pass-through transcriber, answering every frame, and
// opens one stream on it, closed when the benchmark ends.
func benchStream(b *testing.B) (*host.Stage, host.TranscribeStream) {
	b.Helper()
	_, s := benchStage(b, 1)
	st, err := s.OpenTranscribe(context.Background(), sdk.TranscribeStart{SampleRate: 16000})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = st.Close() })
	return s, st
}

type cpuClock struct {
	b      *testing.B
	self   syscall.Rusage
	plugin time.Duration
	pid    int
}

// pluginCPU is the CPU time the plugin process has used, to the nanosecond: the
// kernel's process CPU clock of pid (clock_getcpuclockid), not /proc/<pid>/stat,
// whose 10 ms ticks are a third of a point of a 3 s run's share of a core.
func pluginCPU(b *testing.B, pid int) time.Duration {
	// MAKE_PROCESS_CPUCLOCK(pid, CPUCLOCK_SCHED) from the kernel's posix-timers.h.
	clock := int32(^pid<<3 | 2)
	var ts unix.Timespec
	if err := unix.ClockGettime(clock, &ts); err != nil {
		b.Fatalf("CPU clock of plugin process %d: %v", pid, err)
	}
	return time.Duration(ts.Nano())
}

func startCPU(b *testing.B, pid int) cpuClock {
	c := cpuClock{b: b, pid: pid}
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &c.self); err != nil {
		b.Fatal(err)
	}
	c.plugin = pluginCPU(b, pid)
	return c
}

// since returns the daemon's and the plugin's CPU time since start.
func (c cpuClock) since() (daemon, plugin time.Duration) {
	var now syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &now); err != nil {
		c.b.Fatal(err)
	}
	tv := func(r syscall.Rusage) time.Duration {
		return time.Duration(r.Utime.Nano() + r.Stime.Nano())
	}
	return tv(now) - tv(c.self), pluginCPU(c.b, c.pid) - c.plugin
}

func pct(lat []time.Duration, p float64) time.Duration {
	if len(lat) == 0 {
		return 0
	}
	slices.Sort(lat)
	return lat[min(len(lat)-1, int(float64(len(lat))*p))]
}

func benchFrame(i int) sdk.AudioInput {
	return sdk.AudioInput{Samples: make([]int16, 320), Start: time.Duration(i) * 20 * time.Millisecond}
}

// BenchmarkTranscribeThroughput: one stream, frames sent as fast as the
// connection takes them, partials received concurrently.
func BenchmarkTranscribeThroughput(b *testing.B) {
	s, st := benchStream(b)
	ctx := context.Background()
	frames := make([]sdk.AudioInput, 64)
	for i := range frames {
		frames[i] = benchFrame(i)
	}
	clock := startCPU(b, s.Pid())
	b.ResetTimer()
	start := time.Now()
	sendErr := make(chan error, 1)
	go func() {
		for i := range b.N {
			f := frames[i%len(frames)]
			if err := st.Send(ctx, f); err != nil {
				sendErr <- err
				return
			}
		}
		sendErr <- nil
	}()
	for range b.N {
		if _, err := st.Recv(ctx); err != nil {
			b.Fatal(err)
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	if err := <-sendErr; err != nil {
		b.Fatal(err)
	}
	d, p := clock.since()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "frames/s")
	b.ReportMetric(float64(d.Microseconds())/float64(b.N), "daemon-cpu-µs/frame")
	b.ReportMetric(float64(p.Microseconds())/float64(b.N), "plugin-cpu-µs/frame")
}

// BenchmarkTranscribeLatency: one frame in flight at a time; the time from Send to
// the frame's partial coming back is the latency the plugin hop adds.
func BenchmarkTranscribeLatency(b *testing.B) {
	_, st := benchStream(b)
	ctx := context.Background()
	f := benchFrame(0)
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		if err := st.Send(ctx, f); err != nil {
			b.Fatal(err)
		}
		if _, err := st.Recv(ctx); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	b.ReportMetric(float64(pct(lat, 0.50).Microseconds()), "p50-µs")
	b.ReportMetric(float64(pct(lat, 0.99).Microseconds()), "p99-µs")
}

// BenchmarkPaced100Streams: 100 streams, each sending a 20 ms frame every 20 ms
// (real time, 5,000 frames/s in all) for 3 s (BENCH_PACED_DURATION changes it);
// reports the CPU used as a share of one core, and the latency of each frame's
// round trip under that load.
//
// Two schedules: "aligned", all streams ticking together (what a benchmark that
// starts its streams at once gets), and "spread", their ticks spread evenly over
// the 20 ms (what streams opened by independent clients get). The second is the
// realistic one and, without coalescing, costs about twice as much: every frame
// travels alone and wakes threads in both processes.
//
// What is counted: the plugin process's CPU, and the daemon's CPU minus the cost
// of the callers. The 100 goroutines that pace the frames stand in for the
// pipeline's stages, not for the plugin transport, so the same callers first run
// alone for the same time (ticker, frame, latency record, no plugin call) and
// their CPU is reported as pacer-%core and subtracted from the daemon's. The raw
// figure (daemon-%core) is reported too.
func BenchmarkPaced100Streams(b *testing.B) {
	for _, sched := range []struct {
		name         string
		spread       bool
		partialEvery int
	}{
		{"aligned", false, 1},
		{"spread", true, 1},
		// A real transcriber answers every 200 ms (sphinx's partial_interval),
		// not every frame: half the messages of the two above.
		{"spread-partial200ms", true, 10},
	} {
		b.Run(sched.name, func(b *testing.B) { benchPaced(b, sched.spread, sched.partialEvery) })
	}
}

func benchPaced(b *testing.B, spread bool, partialEvery int) {
	const streams, period = 100, 20 * time.Millisecond
	dur := 3 * time.Second
	if v := os.Getenv("BENCH_PACED_DURATION"); v != "" {
		var err error
		if dur, err = time.ParseDuration(v); err != nil {
			b.Fatalf("BENCH_PACED_DURATION: %v", err)
		}
	}
	_, s := benchStage(b, partialEvery)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	var lat []time.Duration
	var total int
	// paced runs the callers for dur; call sends frame k and, if the plugin
	// answers it, waits for the answer.
	paced := func(call func(st host.TranscribeStream, f sdk.AudioInput, k int) error, open bool) (int, time.Duration) {
		start := time.Now()
		var wg sync.WaitGroup
		var n int
		errs := make(chan error, streams)
		for i := range streams {
			var st host.TranscribeStream
			if open {
				var err error
				if st, err = s.OpenTranscribe(ctx, sdk.TranscribeStart{SampleRate: 16000}); err != nil {
					b.Fatal(err)
				}
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				if st != nil {
					defer st.Close()
				}
				// The frame is the caller's: a pipeline hands over audio it already has.
				f := benchFrame(0)
				if spread {
					time.Sleep(time.Until(start.Add(time.Duration(i) * period / streams)))
				}
				tick := time.NewTicker(period)
				defer tick.Stop()
				local := make([]time.Duration, 0, int(dur/period)+1)
				sent := 0
				for k := 0; time.Since(start) < dur; k++ {
					<-tick.C
					t0 := time.Now()
					f.Start = time.Duration(k) * period
					if err := call(st, f, k); err != nil {
						errs <- err
						return
					}
					sent++
					if (k+1)%partialEvery == 0 { // a round trip
						local = append(local, time.Since(t0))
					}
				}
				mu.Lock()
				if open {
					lat = append(lat, local...)
				}
				n += sent
				mu.Unlock()
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			b.Fatal(err)
		}
		return n, time.Since(start)
	}
	for range b.N {
		// The callers alone.
		clock := startCPU(b, s.Pid())
		_, elapsed := paced(func(host.TranscribeStream, sdk.AudioInput, int) error { return nil }, false)
		pacer, _ := clock.since()
		pacerShare := pacer.Seconds() / elapsed.Seconds()

		clock = startCPU(b, s.Pid())
		n, elapsed := paced(func(st host.TranscribeStream, f sdk.AudioInput, k int) error {
			if err := st.Send(ctx, f); err != nil {
				return err
			}
			if (k+1)%partialEvery != 0 {
				return nil
			}
			ev, err := st.Recv(ctx)
			if err == nil && ev.Result.Start != f.Start {
				err = fmt.Errorf("partial for the frame at %v, want %v", ev.Result.Start, f.Start)
			}
			return err
		}, true)
		total += n
		d, p := clock.since()
		transport := d + p - time.Duration(pacerShare*float64(elapsed))
		b.ReportMetric(100*pacerShare, "pacer-%core")
		b.ReportMetric(100*d.Seconds()/elapsed.Seconds(), "daemon-%core")
		b.ReportMetric(100*p.Seconds()/elapsed.Seconds(), "plugin-%core")
		b.ReportMetric(float64(n)/elapsed.Seconds(), "frames/s")
		b.ReportMetric(float64(transport.Microseconds())/float64(n), "cpu-µs/frame")
		// The share of one core 5,000 frames/s cost at the measured transport cost per frame.
		b.ReportMetric(100*5000*transport.Seconds()/float64(n), "%core@5000fps")
	}
	b.ReportMetric(float64(pct(lat, 0.50).Microseconds()), "p50-µs")
	b.ReportMetric(float64(pct(lat, 0.99).Microseconds()), "p99-µs")
}

// BenchmarkBatchRoundTrip measures what one round trip costs when the
// connection is otherwise idle, as it is between the batches of the paced
// streams: one stream sends a message every 8 ms (the coalescing window, so the
// rate at which the spread schedule's batches leave) and waits for its answer.
// "frame" sends one 20 ms frame, "40frames" one message of 40 frames, about what
// a batch of the spread schedule carries in 40 messages. Nothing is
// subtracted: the one ticker costs little beside the round trip.
//
//	/tmp/host.test -test.run '^$' -test.bench BatchRoundTrip -test.benchtime 1x
func BenchmarkBatchRoundTrip(b *testing.B) {
	for _, c := range []struct {
		name   string
		frames int
	}{{"frame", 1}, {"40frames", 40}} {
		b.Run(c.name, func(b *testing.B) {
			const period, dur = 8 * time.Millisecond, 3 * time.Second
			s, st := benchStream(b)
			ctx := context.Background()
			f := sdk.AudioInput{Samples: make([]int16, c.frames*320)}
			for range b.N {
				tick := time.NewTicker(period)
				clock := startCPU(b, s.Pid())
				start := time.Now()
				n := 0
				for ; time.Since(start) < dur; n++ {
					<-tick.C
					f.Start = time.Duration(n) * period
					if err := st.Send(ctx, f); err != nil {
						b.Fatal(err)
					}
					if _, err := st.Recv(ctx); err != nil {
						b.Fatal(err)
					}
				}
				tick.Stop()
				elapsed := time.Since(start)
				d, p := clock.since()
				b.ReportMetric(100*d.Seconds()/elapsed.Seconds(), "daemon-%core")
				b.ReportMetric(100*p.Seconds()/elapsed.Seconds(), "plugin-%core")
				b.ReportMetric(float64((d+p).Microseconds())/float64(n), "cpu-µs/roundtrip")
				b.ReportMetric(float64(n)/elapsed.Seconds(), "roundtrips/s")
			}
		})
	}
}
