package sphinx

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// interviewQuestions is the espeak-ng accuracy set: typical interview lines.
var interviewQuestions = []string{
	"tell me about yourself",
	"why do you want to work here",
	"what are your greatest strengths",
	"describe a challenging project you worked on",
	"where do you see yourself in five years",
	"how do you handle conflict with a colleague",
	"what is your biggest weakness",
	"tell me about a time you failed",
	"why should we hire you",
	"do you have any questions for us",
}

// werTestdata transcribes each pocketsphinx-testdata recording as its own
// stream (50 ms chunks) and returns the word error rate.
func werTestdata(t testing.TB, cfg string) float64 {
	tr := newConfigured(t, cfg)
	var errs, n int
	for _, rec := range testdataRecordings(t) {
		sink := transcribe(t, tr, chunked(readAudio(t, rec.path), 50*time.Millisecond, 0))
		hyp := sink.text()
		e, m := wordErrors(rec.ref, hyp)
		errs, n = errs+e, n+m
		if e > 0 {
			t.Logf("%-50s %d/%d errors\n  ref: %s\n  hyp: %s", rec.name, e, m, rec.ref, hyp)
		}
	}
	wer := float64(errs) / float64(n)
	t.Logf("testdata WER %.1f%% (%d errors / %d words) cfg=%s", 100*wer, errs, n, cfg)
	return wer
}

// espeakStream is one stream of the interview questions spoken by espeak-ng,
// each followed by a second of digital silence, with optional microphone-like
// noise (0: none, exact zeros between sentences).
func espeakStream(t testing.TB, voice string, wpm int, noiseDBFS float64) (samples []int16, bounds [][2]int) {
	samples = append(samples, silence(500*time.Millisecond)...)
	for _, q := range interviewQuestions {
		s := espeak(t, voice, wpm, q)
		f, l := speechBounds(s)
		bounds = append(bounds, [2]int{len(samples) + f, len(samples) + l})
		samples = append(samples, s...)
		samples = append(samples, silence(time.Second)...)
	}
	if noiseDBFS != 0 {
		samples = addNoise(samples, noiseDBFS, 42)
	}
	return samples, bounds
}

func werEspeak(t testing.TB, cfg, voice string, wpm int, noiseDBFS float64) float64 {
	tr := newConfigured(t, cfg)
	samples, _ := espeakStream(t, voice, wpm, noiseDBFS)
	sink := transcribe(t, tr, chunked(samples, 50*time.Millisecond, 0))
	ref := strings.Join(interviewQuestions, " ")
	hyp := sink.text()
	e, n := wordErrors(ref, hyp)
	var finals []string
	for _, r := range sink.finals() {
		finals = append(finals, fmt.Sprintf("%q", r.Text))
	}
	wer := float64(e) / float64(n)
	t.Logf("espeak %s %d wpm noise %v dBFS: WER %.1f%% (%d/%d) cfg=%s\n  finals: %s", voice, wpm, noiseDBFS, 100*wer, e, n, cfg, strings.Join(finals, ", "))
	return wer
}

// TestAccuracyTestdata: target ≤ 23% WER on pocketsphinx-testdata with the
// default configuration.
func TestAccuracyTestdata(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	if wer := werTestdata(t, `{}`); wer > 0.23 {
		t.Errorf("WER %.1f%% > 23%%", 100*wer)
	}
}

// TestAccuracyEspeak: target ≤ 10% WER on espeak-ng speech (en-us+klatt,
// 140 wpm) with a -50 dBFS noise floor, and the plugin's own noise floor must
// rescue the same speech with exact-zero silence.
func TestAccuracyEspeak(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	if wer := werEspeak(t, `{}`, "en-us+klatt", 140, -50); wer > 0.10 {
		t.Errorf("WER %.1f%% > 10%%", 100*wer)
	}
	if wer := werEspeak(t, `{}`, "en-us+klatt", 140, 0); wer > 0.10 {
		t.Errorf("digital silence: WER %.1f%% > 10%%", 100*wer)
	}
}

// TestAccuracyMatrix compares configurations on every set; it only runs with
// SPHINX_MATRIX=1 (it takes minutes) and asserts nothing: it informs defaults.
// SPHINX_CFGS replaces the configurations (JSON objects separated by ";"),
// SPHINX_SETS picks sets (testdata, klatt, klatt0, default, m3).
func TestAccuracyMatrix(t *testing.T) {
	if os.Getenv("SPHINX_MATRIX") == "" {
		t.Skip("set SPHINX_MATRIX=1")
	}
	cfgs := []string{
		`{"fwdflat":true,"bestpath":true}`,
		`{"fwdflat":true,"bestpath":false}`,
		`{"fwdflat":false,"bestpath":true}`,
		`{"fwdflat":false,"bestpath":false}`,
	}
	if v := os.Getenv("SPHINX_CFGS"); v != "" {
		cfgs = strings.Split(v, ";")
	}
	sets := "testdata,klatt,klatt0,default,m3"
	if v := os.Getenv("SPHINX_SETS"); v != "" {
		sets = v
	}
	for _, cfg := range cfgs {
		for _, set := range strings.Split(sets, ",") {
			switch set {
			case "testdata":
				werTestdata(t, cfg)
			case "klatt":
				werEspeak(t, cfg, "en-us+klatt", 140, -50)
			case "klatt0":
				werEspeak(t, cfg, "en-us+klatt", 140, 0)
			case "default":
				werEspeak(t, cfg, "en-us", 160, -50)
			case "m3":
				werEspeak(t, cfg, "en-us+m3", 140, -50)
			}
		}
	}
}
