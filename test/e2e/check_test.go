package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/signaling/protocol"
)

// Key words are chosen among those PocketSphinx gets right on these clips across
// its configurations ("want" rather than "work": "work here" is sometimes heard as
// "wear care"); the WER bound catches general degradation.
//
// Word error rate bounds. Measured with this suite on the 2-core CI machine (see
// docs/benchmarks.md): espeak-ng sentences 0–9% over every format, the
// pocketsphinx-testdata recordings ≈ 23%. The bounds leave margin for Opus coding
// and CPU contention, and still catch a broken decoder, resampler or replay (those
// give 60–100%).
const (
	maxWERSpeech   = 0.35 // espeak-ng clips, per clip
	maxWERTestdata = 0.35 // pocketsphinx-testdata recordings, pooled
)

// streamResults keeps one stream's results.
func streamResults(rs []Result, streamID string) []Result {
	var out []Result
	for _, r := range rs {
		if r.R.StreamID == streamID {
			out = append(out, r)
		}
	}
	return out
}

// finalsText joins the finals' texts.
func finalsText(rs []Result) string {
	var parts []string
	for _, r := range rs {
		if r.R.IsFinal && strings.TrimSpace(r.R.Text) != "" {
			parts = append(parts, r.R.Text)
		}
	}
	return strings.Join(parts, " ")
}

// checkOrdering asserts the protocol's guarantees on one stream's results, in the
// order a client received them:
//   - revision starts at 1 and rises by one per update of an utterance;
//   - exactly one isFinal per utterance, and nothing about it after that;
//   - startMs ≤ endMs, both within the clip (relative to the stream's first audio);
//   - finals are monotone: each starts no earlier than the previous one and ends no earlier;
//   - transcription:processing for an utterance comes before its first result.
//
// processing holds the client's transcription:processing events (may be nil).
func checkOrdering(t testing.TB, rs []Result, processing []Event, clipDur time.Duration) {
	t.Helper()
	type utt struct {
		rev   int
		final bool
		first int // Seq of the first result
	}
	utts := map[string]*utt{}
	var prevFinal *protocol.TranscriptionResult
	for _, r := range rs {
		u := utts[r.R.UtteranceID]
		if u == nil {
			u = &utt{first: r.Seq}
			utts[r.R.UtteranceID] = u
		}
		if u.final {
			t.Errorf("utterance %s: result (rev %d, final %v) after its final", r.R.UtteranceID, r.R.Revision, r.R.IsFinal)
		}
		if r.R.Revision != u.rev+1 {
			t.Errorf("utterance %s: revision %d after %d (want +1)", r.R.UtteranceID, r.R.Revision, u.rev)
		}
		u.rev = r.R.Revision
		if r.R.StartMs < 0 || r.R.EndMs < r.R.StartMs || time.Duration(r.R.EndMs)*time.Millisecond > clipDur+500*time.Millisecond {
			t.Errorf("utterance %s rev %d: times %d–%d ms outside the clip of %v", r.R.UtteranceID, r.R.Revision, r.R.StartMs, r.R.EndMs, clipDur)
		}
		if r.R.IsFinal {
			u.final = true
			if prevFinal != nil && (r.R.StartMs < prevFinal.StartMs || r.R.EndMs < prevFinal.EndMs) {
				t.Errorf("finals not monotone: %s %d–%d ms after %s %d–%d ms", r.R.UtteranceID, r.R.StartMs, r.R.EndMs,
					prevFinal.UtteranceID, prevFinal.StartMs, prevFinal.EndMs)
			}
			f := r.R
			prevFinal = &f
		}
	}
	for id, u := range utts {
		if !u.final {
			t.Errorf("utterance %s has no final", id)
		}
	}
	if processing != nil {
		for id, u := range utts {
			found := false
			for _, p := range processing {
				var tp protocol.TranscriptionProcessing
				if json.Unmarshal(p.Data, &tp) == nil && tp.UtteranceID == id && p.Seq < u.first {
					found = true
					break
				}
			}
			if !found {
				t.Errorf("utterance %s: no transcription:processing before its first result", id)
			}
		}
	}
}

// checkSpans asserts that every non-empty final lies within a spoken sentence of the
// clip (±slack): the times are relative to the stream's first audio.
func checkSpans(t testing.TB, finals []Result, clip *Speech, slack time.Duration) {
	t.Helper()
	for _, f := range finals {
		if strings.TrimSpace(f.R.Text) == "" {
			continue
		}
		s, e := time.Duration(f.R.StartMs)*time.Millisecond, time.Duration(f.R.EndMs)*time.Millisecond
		ok := false
		for _, sp := range clip.Spans {
			if s >= sp[0]-slack && e <= sp[1]+slack {
				ok = true
			}
		}
		if !ok {
			t.Errorf("final %q at %v–%v lies in no sentence of the clip (spans %v, slack %v)", f.R.Text, s, e, clip.Spans, slack)
		}
	}
}

// checkTranscript asserts the word error rate bound and the key words, and logs the
// figures.
func checkTranscript(t testing.TB, ref, hyp string, bound float64, keys ...string) float64 {
	t.Helper()
	e, n := wordErrors(ref, hyp)
	w := float64(e) / float64(max(n, 1))
	t.Logf("WER %.1f%% (%d/%d)\n  ref: %s\n  hyp: %s", 100*w, e, n, ref, hyp)
	if w > bound {
		t.Errorf("WER %.1f%% > %.0f%%", 100*w, 100*bound)
	}
	if m := missingWords(hyp, keys...); len(m) > 0 {
		t.Errorf("key words %v missing from %q", m, hyp)
	}
	return w
}

// eventsNamed returns the events with a name.
func eventsNamed(evs []Event, name string) []Event {
	var out []Event
	for _, e := range evs {
		if e.Name == name {
			out = append(out, e)
		}
	}
	return out
}

// noErrors asserts the client got no error events of any family.
func noErrors(t testing.TB, c *Client, who string) {
	t.Helper()
	for _, e := range c.Events() {
		if e.Name == protocol.EventTranscriptionError {
			var te protocol.TranscriptionError
			if json.Unmarshal(e.Data, &te) == nil && te.Retrying {
				// The daemon reports, rightly, that the CPUs (shared with other test
				// processes) did not keep up (FALLING_BEHIND, or a plugin call timed out
				// and the plugin stream was re-opened with replay); no audio is dropped,
				// and the callers check the transcript.
				t.Logf("%s got %s %s", who, e.Name, e.Data)
				continue
			}
		}
		switch e.Name {
		case protocol.EventError, protocol.EventAudioError, protocol.EventSessionError, protocol.EventTranscriptionError, protocol.EventWebRTCError:
			t.Errorf("%s got %s %s", who, e.Name, e.Data)
		}
		if e.Name == protocol.EventAck && e.Error != nil {
			t.Errorf("%s got an error ack: %s", who, e.Error.Error())
		}
	}
}

func describeFinals(rs []Result) string {
	var b strings.Builder
	for _, r := range rs {
		if r.R.IsFinal {
			fmt.Fprintf(&b, "  %s rev %d %d–%d ms eot=%v %q\n", r.R.UtteranceID, r.R.Revision, r.R.StartMs, r.R.EndMs, r.R.EndOfTurn, r.R.Text)
		}
	}
	return b.String()
}
