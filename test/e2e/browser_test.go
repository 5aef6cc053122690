package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/signaling/protocol"
)

// micClip is the fake microphone's recording: an interviewer's greeting, then two
// questions. The greeting is there because PocketSphinx's weakest utterance is the
// first one of a freshly loaded decoder, whose cepstral mean still comes from the
// model's prior: without it the first question was garbled in about one run in
// three ("describe a time you had a conflict" → "hit it right …"), although the
// captured audio matched the clean speech (similarity 0.98–1.0 per 100 ms). The
// word error rate is still counted over every word, greeting included; the key
// words are in the questions. See docs/sphinx.md, "Known limitations". The speech
// is 6 dB below espeak-ng's near-full-scale level, a realistic microphone level.
func micClip(t testing.TB) *Speech {
	return makeSpeech(t, speechSpec{Name: "mic48k", Rate: 48000, Gain: 0.5, Lead: 1500 * time.Millisecond, Gap: 1200 * time.Millisecond, Tail: 1500 * time.Millisecond,
		Sentences: []string{
			"hello and thank you for coming in today",
			"can you describe a time you had a conflict with a coworker",
			"why do you want to work here",
		}})
}

// levelProbe runs in the page before its scripts: it wraps getUserMedia to tap the
// microphone with an AnalyserNode and records, in wall-clock milliseconds, when the
// capture started and when a sample above 0.05 (speech; the noise floor is 0.003)
// was last seen, so a test can time "last spoken sample → final on screen".
const levelProbe = `(() => {
  const md = navigator.mediaDevices;
  if (!md || !md.getUserMedia) return;
  const orig = md.getUserMedia.bind(md);
  window.__e2e = { gumAt: 0, firstLoudAt: 0, lastLoudAt: 0, err: "", sent: [] };
  // Keep a copy of the binary frames the page sends (the MediaRecorder chunks).
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (d) {
    if (d instanceof ArrayBuffer) window.__e2e.sent.push(new Uint8Array(d.slice(0)));
    return send.call(this, d);
  };
  md.getUserMedia = async (c) => {
    const s = await orig(c);
    window.__e2e.gumAt = Date.now();
    try {
      const ctx = new AudioContext();
      const an = ctx.createAnalyser();
      an.fftSize = 512;
      ctx.createMediaStreamSource(s).connect(an);
      const buf = new Float32Array(an.fftSize);
      setInterval(() => {
        an.getFloatTimeDomainData(buf);
        let peak = 0;
        for (const v of buf) peak = Math.max(peak, Math.abs(v));
        if (peak > 0.05) {
          const now = Date.now();
          if (!window.__e2e.firstLoudAt) window.__e2e.firstLoudAt = now;
          window.__e2e.lastLoudAt = now;
        }
      }, 5);
    } catch (e) { window.__e2e.err = String(e); }
    return s;
  };
})();`

// demoState mirrors window.earshotDemo.
type demoState struct {
	Finals []struct {
		Text        string `json:"text"`
		UtteranceID string `json:"utteranceId"`
		At          int64  `json:"at"`
		UserID      string `json:"userId"`
	} `json:"finals"`
	Partials     int               `json:"partials"`
	Suggestions  []json.RawMessage `json:"suggestions"`
	Errors       []json.RawMessage `json:"errors"`
	State        string            `json:"state"`
	MicStartedAt int64             `json:"micStartedAt"`
	Now          int64             `json:"now"`
	Probe        struct {
		GumAt       int64  `json:"gumAt"`
		FirstLoudAt int64  `json:"firstLoudAt"`
		LastLoudAt  int64  `json:"lastLoudAt"`
		Err         string `json:"err"`
	} `json:"probe"`
}

// browserRun is what one browser session measured.
type browserRun struct {
	mode string
	// lastSampleToFinal: the last loud sample seen by the page's level probe → the
	// final of the last sentence in window.earshotDemo.finals.
	lastSampleToFinal time.Duration
	// byOffset: the same, with the last sample placed by its known offset in the WAV
	// after getUserMedia resolved (an upper bound: capture starts before that).
	byOffset time.Duration
	// daemon CPU (user+system) and RSS growth during the stream.
	daemonCPU time.Duration
	pluginCPU time.Duration
	streamed  time.Duration
	daemonRSS int64 // KiB at the end
	// daemonRSSBefore is the daemon's RSS (KiB) before the page loaded.
	daemonRSSBefore int64
	finals          []string
}

// runBrowser starts a daemon with the demo page and loopback ICE, a candidate
// listening on the native endpoint, and headless Chromium whose fake microphone
// plays micClip; it opens the demo page with autostart in mode and waits until both
// sides have the final of each sentence. screenshot, when not empty, receives a PNG
// of the page once the suggestions are shown.
func runBrowser(t testing.TB, mode, screenshot string) browserRun {
	t.Helper()
	clip := micClip(t)
	addr := freeAddr(t)
	origin := "http://" + addr
	cfg := speechConfig{Demo: true, Loopback: true, Origins: []string{origin}, SuggestTo: []string{candidate, interviewer}, Transcriber: os.Getenv("E2E_TRANSCRIBER")}
	d := StartDaemon(t, DaemonOptions{Config: cfg.hcl(), Addr: addr})
	session := "browser-" + mode
	listener := d.Connect(t, "browser-cand", candidate)
	listener.Join(session)

	b := StartBrowser(t, clip.WAV)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	page := b.NewPage(ctx, 1280, 860, levelProbe)
	tok := d.Token(t, "browser-iv", interviewer)
	pageURL := fmt.Sprintf("%s/?session=%s&mode=%s&autostart=1#token=%s", origin, session, mode, url.QueryEscape(tok))
	cpu0, plug0 := processCPU(d.PID()), pluginsCPU(d)
	rss0 := processRSS(d.PID())
	start := time.Now()
	page.Navigate(ctx, pageURL)

	// Wait for the page to show the final of the last sentence (polling the page is
	// the only way to observe it; every poll is bounded by the context). The probe
	// says when speech was heard: once it has heard as much speech as the clip holds
	// (first to last loud sample), the first final after the last loud sample is the
	// last sentence's.
	speechLen := clip.Spans[len(clip.Spans)-1][1] - clip.Spans[0][0]
	var st demoState
	reported := 0
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if err := page.Eval(ctx, `({...window.earshotDemo, probe: {...(window.__e2e || {}), sent: undefined}, now: Date.now()})`, &st); err != nil {
			t.Fatalf("read window.earshotDemo: %v", err)
		}
		for _, raw := range st.Errors[reported:] {
			reported++
			var e struct {
				Event    string `json:"event"`
				Code     string `json:"code"`
				Retrying bool   `json:"retrying"`
			}
			_ = json.Unmarshal(raw, &e)
			if e.Event == protocol.EventTranscriptionError && e.Retrying {
				// The daemon recovers (a plugin restarted, or the CPUs — shared with
				// other test processes — fell behind); the transcript is still checked.
				t.Logf("the page got %s", raw)
				continue
			}
			t.Fatalf("the page reports an error: %s\nfinals: %+v\n--- daemon log ---\n%s", raw, st.Finals, d.LogTail(6000))
		}
		if st.Probe.Err != "" {
			t.Fatalf("level probe: %s", st.Probe.Err)
		}
		heard := time.Duration(st.Probe.LastLoudAt-st.Probe.FirstLoudAt) * time.Millisecond
		ended := st.Probe.FirstLoudAt > 0 && heard > speechLen-400*time.Millisecond && st.Now-st.Probe.LastLoudAt > 300
		if ended && len(st.Finals) > 0 && st.Finals[len(st.Finals)-1].At > st.Probe.LastLoudAt {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the page showed no final after the speech ended; state %q, finals %+v, probe %+v\n--- daemon log ---\n%s\n--- chromium ---\n%s",
				st.State, st.Finals, st.Probe, d.LogTail(6000), tail(b.Log(), 3000))
		case <-tick.C:
		}
	}
	run := browserRun{mode: mode, streamed: time.Since(start)}
	run.daemonCPU = processCPU(d.PID()) - cpu0
	run.pluginCPU = pluginsCPU(d) - plug0
	run.daemonRSS = processRSS(d.PID())
	run.daemonRSSBefore = rss0
	var pageText []string
	for _, f := range st.Finals {
		pageText = append(pageText, f.Text)
		run.finals = append(run.finals, f.Text)
		if f.UserID != "browser-iv" {
			t.Errorf("final from %q, want browser-iv", f.UserID)
		}
	}
	lastFinal := st.Finals[len(st.Finals)-1]
	run.lastSampleToFinal = time.Duration(lastFinal.At-st.Probe.LastLoudAt) * time.Millisecond
	speechEnd := clip.Spans[len(clip.Spans)-1][1]
	run.byOffset = time.Duration(lastFinal.At-st.Probe.GumAt)*time.Millisecond - speechEnd
	t.Logf("%s: page finals %q; last sample → final on screen %v (probe), %v (by WAV offset after getUserMedia); %d partials, %d suggestion sets",
		mode, pageText, run.lastSampleToFinal, run.byOffset, st.Partials, len(st.Suggestions))
	if checkTranscript(t, clip.Text(), strings.Join(pageText, " "), maxWERSpeech, "conflict", "want") > maxWERSpeech && mode == "chunks" {
		// Keep what the page sent, to replay it through the native endpoint.
		var chunks []string
		if err := page.Eval(ctx, `window.__e2e.sent.map((u) => btoa(String.fromCharCode(...u)))`, &chunks); err == nil {
			var all []byte
			for _, c := range chunks {
				b, _ := base64.StdEncoding.DecodeString(c)
				all = append(all, b...)
			}
			if dir := os.Getenv("E2E_LOG_DIR"); dir != "" {
				path := filepath.Join(dir, fmt.Sprintf("chunks-%d.webm", time.Now().UnixNano()))
				_ = os.WriteFile(path, all, 0o644)
				t.Logf("the page's %d chunks (%d bytes) saved to %s", len(chunks), len(all), path)
			}
		}
	}

	// The daemon side: the candidate saw the interviewer's finals with the key words.
	listener.WaitEvent(30*time.Second, func(e Event) bool {
		var r protocol.TranscriptionResult
		return e.Name == protocol.EventTranscriptionResult && json.Unmarshal(e.Data, &r) == nil &&
			r.IsFinal && r.UserID == "browser-iv" && len(missingWords(r.Text, "conflict")) == 0
	})
	var streamID string
	for _, r := range listener.Finals() {
		if r.R.UserID == "browser-iv" {
			streamID = r.R.StreamID
		}
	}
	rs := streamResults(listener.Results(), streamID)
	checkOrdering(t, rs, nil, time.Since(start))
	checkTranscript(t, clip.Text(), finalsText(rs), maxWERSpeech, "conflict", "want")
	// And the conflict question's suggestions reached the candidate.
	listener.WaitEvent(30*time.Second, func(e Event) bool {
		var s protocol.Suggestions
		return e.Name == protocol.EventSuggestions && json.Unmarshal(e.Data, &s) == nil && s.Final &&
			strings.Contains(s.Question, "conflict") && anySuggestionMentions(s, "conflict", "disagree")
	})

	if screenshot != "" {
		// Wait until the page renders the suggestions, then capture it.
		for {
			var n int
			if err := page.Eval(ctx, `document.querySelectorAll("#suggestions .set li").length`, &n); err != nil {
				t.Fatal(err)
			}
			if n > 0 {
				break
			}
			select {
			case <-ctx.Done():
				t.Fatalf("no suggestions rendered in the page")
			case <-tick.C:
			}
		}
		// The token box shows its placeholder rather than a (throw-away) token.
		if err := page.Eval(ctx, `document.getElementById("token").value = ""`, nil); err != nil {
			t.Fatal(err)
		}
		png := page.Screenshot(ctx)
		if err := os.WriteFile(screenshot, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s (%d KB)", screenshot, len(png)/1024)
	}

	// Stop the microphone from the page: the daemon drains the stream first.
	if err := page.Eval(ctx, `(async () => { document.getElementById("mic-stop").click(); })()`, nil); err != nil {
		t.Fatal(err)
	}
	b.Stop()
	noErrors(t, listener, "candidate")
	listener.Close()
	d.Stop() // here rather than at the test's end: benchmarks run this in a loop
	return run
}

// TestBrowser opens the demo page in headless Chromium with a fake microphone and
// streams the interviewer's questions over WebRTC and over MediaRecorder chunks.
// Set E2E_DEMO_PNG=docs/demo.png to save a screenshot of the WebRTC run, and
// E2E_TRANSCRIBER to a transcriber block to try other transcriber settings, e.g.
// E2E_TRANSCRIBER='transcriber "sphinx" { cmn_prior_frames = 100 }'.
//
// The key words are "conflict" and "want": the first word the stream's first
// utterance needs, "describe", is the one PocketSphinx most often loses on a cold
// decoder ("just arrive"); the WER bound still covers it.
func TestBrowser(t *testing.T) {
	for _, mode := range []string{"webrtc", "chunks"} {
		t.Run(mode, func(t *testing.T) {
			shot := ""
			if mode == "webrtc" {
				shot = os.Getenv("E2E_DEMO_PNG")
			}
			r := runBrowser(t, mode, shot)
			t.Logf("%s: daemon CPU %v, plugins CPU %v over %v; daemon RSS %d KiB", mode, r.daemonCPU, r.pluginCPU, r.streamed, r.daemonRSS)
		})
	}
}

// ---- /proc accounting ----

// clockTicks is USER_HZ on Linux.
const clockTicks = 100

// processCPU is the user+system CPU time a process has used.
func processCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	f := strings.Fields(s[i+2:])
	// fields after ")": state(0) ppid(1) … utime(11) stime(12)
	var ut, st int64
	fmt.Sscan(f[11], &ut)
	fmt.Sscan(f[12], &st)
	return time.Duration(ut+st) * time.Second / clockTicks
}

// processRSS is a process's resident set in KiB.
func processRSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			var kb int64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(line, "VmRSS:"), "kB")), &kb)
			return kb
		}
	}
	return 0
}

// pluginsCPU sums the CPU time of the daemon's plugin processes.
func pluginsCPU(d *Daemon) time.Duration {
	var sum time.Duration
	for _, pids := range d.PluginPIDs() {
		for _, pid := range pids {
			sum += processCPU(pid)
		}
	}
	return sum
}

// pluginsRSS sums the RSS (KiB) of the daemon's plugin processes by name.
func pluginsRSS(d *Daemon) map[string]int64 {
	out := map[string]int64{}
	for name, pids := range d.PluginPIDs() {
		for _, pid := range pids {
			out[name] += processRSS(pid)
		}
	}
	return out
}
