package whisper

import (
	"math"
	"time"
)

// The endpointer cuts a PCM stream into utterances by loudness, in 20 ms windows:
//
//   - a window at or above the threshold (dBFS RMS) is voiced;
//   - an utterance starts at a voiced window, but counts only once it holds
//     min_speech of voiced audio (a door slam or a click never reaches it) —
//     that is when SpeechStarted is reported, with the time of the first voiced
//     window;
//   - it ends after hangover of unvoiced audio (the end of the speaker's turn),
//     or at max_utterance, or when the stream asks to finalize or ends;
//   - after a max_utterance cut the next utterance starts at once and needs no
//     min_speech (speech is going on), but it still counts only from its first
//     voiced window: an utterance without voice is never reported;
//   - the audio sent for transcription includes pre_roll before the first voiced
//     window and a little trailing silence, as soft word onsets and endings are
//     often below the threshold.
//
// It is deliberately simple; it works well for headset microphones and poorly
// in noisy rooms, where a real VAD (WebRTC VAD, Silero) does better.

// EndpointerConfig tunes the endpointer.
type EndpointerConfig struct {
	SampleRate      int
	ThresholdDBFS   float64
	Hangover        time.Duration
	MinSpeech       time.Duration
	MaxUtterance    time.Duration
	PreRoll         time.Duration
	TrailingSilence time.Duration
}

// Event is something the endpointer found: an onset (Samples nil) or a finished
// utterance. Times count from the first sample pushed.
type Event struct {
	// Onset marks SpeechStarted: At is the time of the first voiced window.
	Onset bool
	At    time.Duration
	// Samples of a finished utterance, Start the time of Samples[0]; Begin and End
	// bound the voiced part.
	Samples           []int16
	Start, Begin, End time.Duration
	// EndOfTurn: hangover of silence ended the utterance (not Flush or
	// max_utterance).
	EndOfTurn bool
}

// Endpointer finds utterances in a PCM stream. It is not safe for concurrent use.
type Endpointer struct {
	cfg    EndpointerConfig
	window int // samples per 20 ms window

	pending []int16 // samples of an incomplete window
	pos     int64   // index of the next sample to window

	preroll []int16 // recent unvoiced audio, at most PreRoll long

	inUtt     bool
	confirmed bool    // counts as speech: SpeechStarted reported
	cut       bool    // continues an utterance cut at max_utterance
	samples   []int16 // utterance audio, from the pre-roll on
	start     int64   // sample index of samples[0]
	begin     int64   // first voiced sample (valid once voiced > 0)
	lastVoice int64   // end of the last voiced window
	voiced    int64   // voiced samples so far
	silent    int64   // unvoiced samples since the last voiced window
}

// NewEndpointer returns an endpointer for cfg.
func NewEndpointer(cfg EndpointerConfig) *Endpointer {
	return &Endpointer{cfg: cfg, window: max(1, cfg.SampleRate/50)}
}

func (e *Endpointer) samplesOf(d time.Duration) int64 {
	return int64(d) * int64(e.cfg.SampleRate) / int64(time.Second)
}

func (e *Endpointer) timeOf(n int64) time.Duration {
	return time.Duration(n * int64(time.Second) / int64(e.cfg.SampleRate))
}

// Push feeds samples and returns what they completed.
func (e *Endpointer) Push(samples []int16) []Event {
	var evs []Event
	e.pending = append(e.pending, samples...)
	for len(e.pending) >= e.window {
		w := e.pending[:e.window]
		evs = e.step(w, evs)
		e.pending = e.pending[e.window:]
	}
	// Keep pending's backing array from growing without bound.
	e.pending = append([]int16(nil), e.pending...)
	return evs
}

// Flush ends the utterance in progress (finalize or end of stream). One that
// never counted as speech is dropped.
func (e *Endpointer) Flush() []Event {
	if len(e.pending) > 0 && e.inUtt {
		e.samples = append(e.samples, e.pending...)
	}
	e.pos += int64(len(e.pending))
	e.pending = e.pending[:0]
	if !e.inUtt {
		return nil
	}
	return e.finish(nil, false)
}

func (e *Endpointer) step(w []int16, evs []Event) []Event {
	voiced := dbfs(w) >= e.cfg.ThresholdDBFS
	at := e.pos
	e.pos += int64(len(w))
	if !e.inUtt {
		if !voiced {
			e.preroll = append(e.preroll, w...)
			if over := len(e.preroll) - int(e.samplesOf(e.cfg.PreRoll)); over > 0 {
				e.preroll = append(e.preroll[:0], e.preroll[over:]...)
			}
			return evs
		}
		e.inUtt, e.confirmed, e.cut = true, false, false
		e.samples = append(e.samples[:0], e.preroll...)
		e.start = at - int64(len(e.preroll))
		e.voiced, e.silent = 0, 0
		e.preroll = e.preroll[:0]
	}
	e.samples = append(e.samples, w...)
	if voiced {
		if e.voiced == 0 {
			e.begin = at
		}
		e.voiced += int64(len(w))
		e.silent = 0
		e.lastVoice = e.pos
	} else {
		e.silent += int64(len(w))
	}
	// A new utterance needs min_speech of voice; one continuing a cut, any.
	if !e.confirmed && e.voiced > 0 && (e.cut || e.voiced >= e.samplesOf(e.cfg.MinSpeech)) {
		e.confirmed = true
		evs = append(evs, Event{Onset: true, At: e.timeOf(e.begin)})
	}
	switch {
	case e.silent >= e.samplesOf(e.cfg.Hangover):
		if !e.confirmed {
			e.inUtt = false // a click, or silence after a cut: not speech
			return evs
		}
		return e.finish(evs, true)
	case e.confirmed && e.pos-e.start >= e.samplesOf(e.cfg.MaxUtterance):
		evs = e.finish(evs, false)
		// Speech may go on: the next utterance starts here, and counts from
		// its first voiced window.
		e.inUtt, e.confirmed, e.cut = true, false, true
		e.samples, e.start, e.voiced, e.silent = e.samples[:0], e.pos, 0, 0
	}
	return evs
}

// finish emits the utterance in progress, trimmed to TrailingSilence after the
// last voiced window. One that never counted as speech is dropped.
func (e *Endpointer) finish(evs []Event, endOfTurn bool) []Event {
	e.inUtt = false
	if !e.confirmed {
		return evs
	}
	end := min(e.lastVoice+e.samplesOf(e.cfg.TrailingSilence), e.start+int64(len(e.samples)))
	audio := append([]int16(nil), e.samples[:end-e.start]...)
	e.samples = e.samples[:0]
	return append(evs, Event{
		Samples: audio, Start: e.timeOf(e.start), Begin: e.timeOf(e.begin), End: e.timeOf(e.lastVoice),
		EndOfTurn: endOfTurn,
	})
}

// dbfs is the RMS level of w in dB relative to full scale (-inf for silence).
func dbfs(w []int16) float64 {
	var sum float64
	for _, s := range w {
		f := float64(s)
		sum += f * f
	}
	if sum == 0 {
		return math.Inf(-1)
	}
	return 20 * math.Log10(math.Sqrt(sum/float64(len(w)))/32768)
}
