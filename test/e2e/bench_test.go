package e2e

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/signaling/protocol"
)

// percentile returns the p-th percentile (0..100) of ds (nearest rank).
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// passConfig is the default pipeline with the e2epass transcriber (instant answers,
// energy endpointing) instead of PocketSphinx, and limits high enough that the
// benchmark is never rate-limited.
func passConfig() string {
	return speechConfig{
		EventRate:      100000,
		AudioRateLimit: "8MiB",
		ExtraPlugins:   `plugin "e2epass" { path = "{{TESTPLUGINS}}/earshot-plugin-e2epass" }`,
		Transcriber:    `transcriber "e2epass" {}`,
	}.hcl()
}

// tone is 20 ms frames of a loud 440 Hz tone, then one 20 ms frame of silence.
func toneUtterance(frames int) (speech [][]byte, silence []byte) {
	const rate = 16000
	n := rate / 50
	for f := 0; f < frames; f++ {
		b := make([]byte, 2*n)
		for i := 0; i < n; i++ {
			v := int16(8000 * math.Sin(2*math.Pi*440*float64(f*n+i)/rate))
			binary.LittleEndian.PutUint16(b[2*i:], uint16(v))
		}
		speech = append(speech, b)
	}
	return speech, make([]byte, 2*n)
}

// BenchmarkDaemonOverhead measures the daemon's own share of end-of-speech → final:
// a client sends 200 ms of tone and then a 20 ms silent frame (the end of speech);
// the e2epass transcriber answers that frame with a final at once and writes into
// it the wall-clock times at which it received the frame and sent the final. The
// daemon's overhead is the client's send → receive time minus the plugin's own time:
// WebSocket in, gateway, decoder plugin (gRPC), pipeline, transcriber plugin (gRPC)
// and back out to the client.
//
//	go test -run '^$' -bench DaemonOverhead -benchtime 1x ./test/e2e/
func BenchmarkDaemonOverhead(b *testing.B) {
	d := StartDaemon(b, DaemonOptions{Config: passConfig()})
	c := d.Connect(b, "bench-iv", interviewer)
	c.Join("overhead")
	streamID := c.StartAudio("overhead", protocol.FormatPCM16, 16000, 1)
	speech, silence := toneUtterance(10)
	const perIteration = 300
	var total, in, out []time.Duration
	b.ResetTimer()
	for range b.N {
		for i := 0; i < perIteration+10; i++ {
			for _, f := range speech {
				c.SendBinary(f)
			}
			from := c.Len()
			sent := time.Now()
			c.SendBinary(silence)
			ev := c.WaitEventFrom(from, 10*time.Second, IsFinalOf(streamID))
			var r protocol.TranscriptionResult
			ev.Decode(b, &r)
			f := strings.Fields(r.Text)
			if len(f) != 3 || f[0] != "pass" {
				b.Fatalf("final %q is not from e2epass", r.Text)
			}
			recv, _ := strconv.ParseInt(f[1], 10, 64)
			answered, _ := strconv.ParseInt(f[2], 10, 64)
			if i < 10 {
				continue // warm-up: connections, first streams
			}
			plugin := time.Duration(answered - recv)
			total = append(total, ev.At.Sub(sent)-plugin)
			in = append(in, time.Unix(0, recv).Sub(sent))
			out = append(out, ev.At.Sub(time.Unix(0, answered)))
		}
	}
	b.StopTimer()
	b.ReportMetric(ms(percentile(total, 50)), "ms-p50")
	b.ReportMetric(ms(percentile(total, 99)), "ms-p99")
	b.ReportMetric(ms(percentile(in, 50)), "ms-in-p50")
	b.ReportMetric(ms(percentile(out, 50)), "ms-out-p50")
	b.Logf("daemon overhead on end of speech → final over %d utterances: p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms (client→transcriber p50 %.2f ms p99 %.2f ms; transcriber→client p50 %.2f ms p99 %.2f ms)",
		len(total), ms(percentile(total, 50)), ms(percentile(total, 90)), ms(percentile(total, 99)), ms(percentile(total, 100)),
		ms(percentile(in, 50)), ms(percentile(in, 99)), ms(percentile(out, 50)), ms(percentile(out, 99)))
}

// capacityRun is the outcome of n concurrent real-time streams.
type capacityRun struct {
	n              int
	lagP50, lagP90 time.Duration // sentence end → its final at the speaker
	lagMax         time.Duration
	fallingBehind  int
	otherErrors    int
	wer            float64
	daemonCPU      time.Duration
	pluginCPU      map[string]time.Duration
	rssIdle        int64 // KiB, daemon + plugins before the streams
	rssPeak        int64 // KiB, daemon + plugins with the streams open
	daemonIdle     int64 // KiB, the daemon alone before the streams
	daemonPeak     int64 // KiB, the daemon alone with the streams open
	audio          time.Duration
}

// totalRSS is the daemon's and its plugins' RSS in KiB.
func totalRSS(d *Daemon) int64 {
	sum := processRSS(d.PID())
	for _, v := range pluginsRSS(d) {
		sum += v
	}
	return sum
}

func pluginCPUByName(d *Daemon) map[string]time.Duration {
	out := map[string]time.Duration{}
	for name, pids := range d.PluginPIDs() {
		for _, pid := range pids {
			out[name] += processCPU(pid)
		}
	}
	return out
}

// runCapacity streams the questions clip in real time on n connections at once
// (each its own session, as n interviews) through the default pipeline.
func runCapacity(b *testing.B, d *Daemon, n int) capacityRun {
	clip := questions(b)
	res := capacityRun{n: n, pluginCPU: map[string]time.Duration{}}
	speakers := make([]*Client, n)
	streams := make([]string, n)
	for i := range speakers {
		speakers[i] = d.Connect(b, fmt.Sprintf("cap%d-%d", n, i), interviewer)
		session := fmt.Sprintf("cap%d-%d", n, i)
		speakers[i].Join(session)
		streams[i] = speakers[i].StartAudio(session, protocol.FormatPCM16, 16000, 1)
	}
	res.rssIdle = totalRSS(d)
	res.daemonIdle = processRSS(d.PID())
	cpu0, plug0 := processCPU(d.PID()), pluginCPUByName(d)
	chunks := pcmChunks(clip.PCM(), 16000, 50*time.Millisecond)
	starts := make([]time.Time, n)
	var wg sync.WaitGroup
	var peak, daemonPeak int64
	var peakMu sync.Mutex
	for i := range speakers {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			starts[i] = time.Now()
			pace(chunks, 1, func(k int, c timedChunk) {
				if err := speakers[i].TrySendBinary(c.Data); err != nil {
					b.Errorf("send: %v", err)
				}
				if i == 0 && k%20 == 0 {
					if r := totalRSS(d); r > 0 {
						peakMu.Lock()
						peak = max(peak, r)
						daemonPeak = max(daemonPeak, processRSS(d.PID()))
						peakMu.Unlock()
					}
				}
			})
		}(i)
	}
	wg.Wait()
	var lags []time.Duration
	var hyp, ref []string
	for i, sp := range speakers {
		ack := sp.AwaitAck(sp.RequestAsync(protocol.EventAudioStop, protocol.SessionRef{SessionID: fmt.Sprintf("cap%d-%d", n, i)}), 120*time.Second)
		if ack.Error != nil {
			b.Fatalf("audio:stop: %v", ack.Error)
		}
		finals := finalsOnly(streamResults(sp.Results(), streams[i]))
		for _, span := range clip.Spans {
			end := starts[i].Add(span[1])
			for _, f := range finals {
				mid := time.Duration(f.R.StartMs+f.R.EndMs) * time.Millisecond / 2
				if mid >= span[0] && mid <= span[1] {
					lags = append(lags, f.At.Sub(end))
					break
				}
			}
		}
		hyp = append(hyp, finalsText(finals))
		ref = append(ref, clip.Text())
		for _, e := range eventsNamed(sp.Events(), protocol.EventTranscriptionError) {
			var te protocol.TranscriptionError
			_ = json.Unmarshal(e.Data, &te)
			if te.Code == protocol.CodeFallingBehind {
				res.fallingBehind++
			} else {
				res.otherErrors++
			}
		}
	}
	res.daemonCPU = processCPU(d.PID()) - cpu0
	for name, v := range pluginCPUByName(d) {
		res.pluginCPU[name] = v - plug0[name]
	}
	res.rssPeak, res.daemonPeak = peak, daemonPeak
	res.audio = time.Duration(n) * clip.Duration()
	res.lagP50, res.lagP90, res.lagMax = percentile(lags, 50), percentile(lags, 90), percentile(lags, 100)
	if missing := len(clip.Spans)*n - len(lags); missing > 0 {
		res.lagMax = time.Hour // a sentence without its final: certainly not keeping up
	}
	res.wer = wer(strings.Join(ref, " "), strings.Join(hyp, " "))
	for _, sp := range speakers {
		sp.Close()
	}
	return res
}

// BenchmarkConcurrentStreams finds how many real-time streams the default pipeline
// (audio → sphinx → coach) sustains on this machine: for n = 1, 2, 3, … concurrent
// speakers (E2E_CAPACITY_MAX, default 6) it streams the 11 s questions clip in real
// time on each and reports the end of each sentence → its final (p50/p90/max), the
// FALLING_BEHIND reports, the WER, the CPU of the daemon against the plugins', and
// the memory (RSS of the daemon and its plugins) per active stream.
//
//	go test -run '^$' -bench ConcurrentStreams -benchtime 1x -timeout 30m ./test/e2e/
func BenchmarkConcurrentStreams(b *testing.B) {
	maxN := 6
	if v, err := strconv.Atoi(os.Getenv("E2E_CAPACITY_MAX")); err == nil && v > 0 {
		maxN = v
	}
	// max_streams above the plugin's default (1.5 per CPU): the benchmark looks
	// for the point where the finals fall behind.
	d := StartDaemon(b, DaemonOptions{Config: speechConfig{EventRate: 200, MaxStreams: maxN}.hcl()})
	// The first stream of a fresh plugin loads a decoder: do it before measuring.
	runCapacity(b, d, 1)
	for range b.N {
		for n := 1; n <= maxN; n++ {
			r := runCapacity(b, d, n)
			sphinx := r.pluginCPU["earshot-plugin-sphinx"]
			others := r.daemonCPU + r.pluginCPU["earshot-plugin-audio"] + r.pluginCPU["earshot-plugin-coach"]
			b.Logf("n=%d: sentence end → final p50 %v p90 %v max %v; FALLING_BEHIND %d, other errors %d; WER %.1f%%; CPU per audio second: daemon %.1f ms, sphinx %.1f ms, audio %.1f ms, coach %.1f ms (daemon+audio+coach = %.1f%% of sphinx); RSS idle %d MiB, with streams %d MiB (%.1f MiB per stream; the daemon alone %.1f → %.1f MiB, %.2f MiB per stream)",
				n, r.lagP50.Round(time.Millisecond), r.lagP90.Round(time.Millisecond), r.lagMax.Round(time.Millisecond), r.fallingBehind, r.otherErrors, 100*r.wer,
				ms(r.daemonCPU)/r.audio.Seconds(), ms(sphinx)/r.audio.Seconds(), ms(r.pluginCPU["earshot-plugin-audio"])/r.audio.Seconds(), ms(r.pluginCPU["earshot-plugin-coach"])/r.audio.Seconds(),
				100*float64(others)/float64(max(sphinx, 1)), r.rssIdle/1024, r.rssPeak/1024, float64(r.rssPeak-r.rssIdle)/1024/float64(n),
				float64(r.daemonIdle)/1024, float64(r.daemonPeak)/1024, float64(r.daemonPeak-r.daemonIdle)/1024/float64(n))
			b.ReportMetric(ms(r.lagP90), fmt.Sprintf("ms-lag-p90-n%d", n))
			if r.fallingBehind > 0 || r.lagMax > 5*time.Second {
				b.Logf("n=%d: falling behind; stopping", n)
				break
			}
		}
	}
}

// BenchmarkBrowser measures, per run of the demo page in headless Chromium, the time
// from the last spoken sample to the final on screen, and the daemon's CPU and
// memory for the stream, over WebRTC and over MediaRecorder chunks.
//
//	go test -run '^$' -bench Browser -benchtime 3x ./test/e2e/
func BenchmarkBrowser(b *testing.B) {
	for _, mode := range []string{"webrtc", "chunks"} {
		b.Run(mode, func(b *testing.B) {
			var lat, byOffset []time.Duration
			var cpuPerSec []float64
			for range b.N {
				r := runBrowser(b, mode, "")
				lat = append(lat, r.lastSampleToFinal)
				byOffset = append(byOffset, r.byOffset)
				cpuPerSec = append(cpuPerSec, ms(r.daemonCPU)/r.streamed.Seconds())
				b.Logf("%s: last sample → final on screen %v (probe) / %v (WAV offset); daemon CPU %v over %v (%.1f ms/s), plugins %v; daemon RSS %d KiB (+%d KiB for the stream)",
					mode, r.lastSampleToFinal, r.byOffset.Round(time.Millisecond), r.daemonCPU, r.streamed.Round(time.Millisecond),
					ms(r.daemonCPU)/r.streamed.Seconds(), r.pluginCPU, r.daemonRSS, r.daemonRSS-r.daemonRSSBefore)
			}
			b.ReportMetric(ms(percentile(lat, 50)), "ms-final-p50")
			b.ReportMetric(ms(percentile(lat, 100)), "ms-final-max")
			var sum float64
			for _, v := range cpuPerSec {
				sum += v
			}
			b.ReportMetric(sum/float64(len(cpuPerSec)), "daemon-cpu-ms/s")
		})
	}
}
