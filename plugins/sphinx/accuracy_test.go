package sphinx

import (
	"fmt"
	"os"
	"slices"
	"strconv"
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

// moreQuestions widens the espeak-ng set for choosing defaults (SPHINX_SETS
// "klatt40"): ten sentences move WER by 1.6 points per word.
var moreQuestions = []string{
	"what motivates you at work",
	"how would your manager describe you",
	"tell me about a mistake you made and what you learned",
	"how do you prioritize your work when everything is urgent",
	"describe a time you disagreed with your team",
	"what do you know about our company",
	"why are you leaving your current job",
	"what are your salary expectations",
	"how do you deal with pressure and tight deadlines",
	"give me an example of a goal you reached",
	"what is the most difficult decision you have made",
	"how do you keep your skills up to date",
	"tell me about a time you showed leadership",
	"what would you do in your first ninety days",
	"how do you handle feedback from your manager",
	"describe your ideal working environment",
	"what is your greatest professional achievement",
	"how do you work with people who are difficult",
	"why did you choose this career",
	"where would you like to be in ten years",
	"explain a technical problem you solved recently",
	"how do you test your code before you ship it",
	"what would your colleagues say about you",
	"can you walk me through your resume",
	"how do you make decisions without all the information",
	"tell me about a project that did not go as planned",
	"what kind of team do you like to work in",
	"how do you stay organized during a busy week",
	"what questions do you have about the role",
	"when can you start",
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
	return espeakSentences(t, interviewQuestions, voice, wpm, noiseDBFS)
}

func espeakSentences(t testing.TB, sentences []string, voice string, wpm int, noiseDBFS float64) (samples []int16, bounds [][2]int) {
	samples = append(samples, silence(500*time.Millisecond)...)
	for _, q := range sentences {
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
	return werSentences(t, interviewQuestions, cfg, voice, wpm, noiseDBFS)
}

func werSentences(t testing.TB, sentences []string, cfg, voice string, wpm int, noiseDBFS float64) float64 {
	tr := newConfigured(t, cfg)
	samples, _ := espeakSentences(t, sentences, voice, wpm, noiseDBFS)
	sink := transcribe(t, tr, chunked(samples, 50*time.Millisecond, 0))
	ref := strings.Join(sentences, " ")
	hyp := sink.text()
	e, n := wordErrors(ref, hyp)
	var finals []string
	for _, r := range sink.finals() {
		finals = append(finals, fmt.Sprintf("%q", r.Text))
	}
	wer := float64(e) / float64(n)
	t.Logf("espeak %d sentences %s %d wpm noise %v dBFS: WER %.1f%% (%d/%d) cfg=%s\n  finals: %s", len(sentences), voice, wpm, noiseDBFS, 100*wer, e, n, cfg, strings.Join(finals, ", "))
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

// werEspeakSeeds transcribes the ten interview questions (en-us+klatt, 140 wpm,
// one stream) under several realisations of -50 dBFS white noise, one stream
// each on the same transcriber (so the first stream gets the freshly loaded
// decoder, the others a used one, as in a daemon), and returns the WER over
// all of them. One realisation decides too little: the same speech under
// different noise moves WER by up to five words in 63 (3 to 8 errors over 24
// realisations).
func werEspeakSeeds(t testing.TB, cfg string, seeds int) float64 {
	tr := newConfigured(t, cfg)
	clean, _ := espeakSentences(t, interviewQuestions, "en-us+klatt", 140, 0)
	ref := strings.Join(interviewQuestions, " ")
	var errs, n int
	var per []string
	for seed := range uint64(seeds) {
		noisy := addNoise(slices.Clone(clean), -50, seed+1)
		hyp := transcribe(t, tr, chunked(noisy, 50*time.Millisecond, 0)).text()
		e, m := wordErrors(ref, hyp)
		errs, n = errs+e, n+m
		per = append(per, fmt.Sprint(e))
		if e > 0 {
			t.Logf("noise seed %d: %d/%d errors\n  hyp: %s", seed+1, e, m, hyp)
		}
	}
	wer := float64(errs) / float64(n)
	t.Logf("espeak 10 questions en-us+klatt 140 wpm, -50 dBFS noise, %d realisations: WER %.1f%% (%d/%d; errors per realisation %s) cfg=%s",
		seeds, 100*wer, errs, n, strings.Join(per, " "), cfg)
	return wer
}

// TestAccuracyEspeak measures WER on espeak-ng speech (en-us+klatt, 140 wpm) and
// holds it to the target: ≤ 10% with a -50 dBFS noise floor.
//
// The ten interview questions are decoded under 24 realisations of the noise (one
// stream each): one realisation moves WER by up to five words in 63, so six
// (10.6%, what was asserted before as a regression bound) decide too little; 24
// measure 8.9% (docs/sphinx.md). The forty-question set with digital silence
// between sentences (the plugin's own noise floor at work) is held to ≤ 9%
// (measured 5.0%).
func TestAccuracyEspeak(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	if wer := werEspeakSeeds(t, `{}`, 24); wer > 0.10 {
		t.Errorf("10 questions, -50 dBFS noise, 24 realisations: WER %.1f%% > 10%%", 100*wer)
	}
	all := append(slices.Clone(interviewQuestions), moreQuestions...)
	if wer := werSentences(t, all, `{}`, "en-us+klatt", 140, 0); wer > 0.09 {
		t.Errorf("40 questions, digital silence: WER %.1f%% > 9%%", 100*wer)
	}
}

// TestAccuracyMatrix compares configurations on several sets; it only runs
// with SPHINX_MATRIX=1 (it takes minutes) and asserts nothing: it informs
// defaults. SPHINX_CFGS replaces the configurations (JSON objects separated by
// ";"), SPHINX_SETS picks sets: testdata, klatt, klatt6 (the ten questions
// under six noise realisations, as TestAccuracyEspeak; klatt12, klatt24: 12, 24),
// klatt0 (digital silence),
// klatt40, klatt40z (forty questions, -50 dBFS / digital silence), klatt30
// (the thirty beyond the asserted ten, for tuning), default
// (voice en-us, 160 wpm), m3 (en-us+m3).
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
	sets := "testdata,klatt,klatt0,klatt40,klatt40z,default,m3"
	if v := os.Getenv("SPHINX_SETS"); v != "" {
		sets = v
	}
	all := append(slices.Clone(interviewQuestions), moreQuestions...)
	for _, cfg := range cfgs {
		for _, set := range strings.Split(sets, ",") {
			switch set {
			case "testdata":
				werTestdata(t, cfg)
			case "klatt":
				werEspeak(t, cfg, "en-us+klatt", 140, -50)
			case "klatt6": // the asserted set: six noise realisations
				werEspeakSeeds(t, cfg, 6)
			case "klatt12", "klatt24": // the same ten questions under more realisations
				n, _ := strconv.Atoi(strings.TrimPrefix(set, "klatt"))
				werEspeakSeeds(t, cfg, n)
			case "klatt0":
				werEspeak(t, cfg, "en-us+klatt", 140, 0)
			case "klatt40":
				werSentences(t, all, cfg, "en-us+klatt", 140, -50)
			case "klatt30": // tuning set: disjoint from the asserted ten questions
				werSentences(t, moreQuestions, cfg, "en-us+klatt", 140, -50)
			case "klatt40z":
				werSentences(t, all, cfg, "en-us+klatt", 140, 0)
			case "default":
				werEspeak(t, cfg, "en-us", 160, -50)
			case "m3":
				werEspeak(t, cfg, "en-us+m3", 140, -50)
			default:
				t.Errorf("unknown set %q", set)
			}
		}
	}
}
