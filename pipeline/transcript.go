package pipeline

import (
	"strconv"
	"strings"
	"time"

	"github.com/earshot-dev/earshot/plugins/sdk"
	"github.com/earshot-dev/earshot/signaling/protocol"
)

// utterance is the utterance in progress of a stream. Its id and revisions belong to
// the stream, not to a transcriber stream, so they survive a transcriber restart.
type utterance struct {
	id        string
	rev       int
	announced bool // an event carrying its id was published
	start     time.Duration
	last      *sdk.Result // the last partial published
}

// clipState collects the finals of a transcription:request clip.
type clipState struct {
	requestID string
	finals    []sdk.Result
}

// timeMap maps a transcriber attempt's times onto the stream's timeline. Plugins are
// asked to time results by the AudioInput.Start they were given (the stream's
// timeline); a plugin that counts its own samples instead starts again from zero after
// a re-open, which shows as a first time before the replay's start: then the replay's
// start is added to every time of that attempt.
type timeMap struct {
	base    time.Duration // start of the first audio the attempt was given
	decided bool
	offset  time.Duration
}

func (m *timeMap) at(t time.Duration) time.Duration {
	if !m.decided {
		m.decided = true
		if m.base > 0 && t < m.base {
			m.offset = m.base
		}
	}
	t += m.offset
	if t < 0 {
		t = 0
	}
	return t
}

func (m *timeMap) result(r sdk.Result) sdk.Result {
	first := r.Start
	if first == 0 && len(r.Words) > 0 {
		first = r.Words[0].Start
	}
	m.at(first) // decide on the earliest time of the result
	r.Start, r.End = m.at(r.Start), m.at(r.End)
	if r.End < r.Start {
		r.End = r.Start
	}
	if len(r.Words) > 0 {
		w := make([]sdk.WordResult, len(r.Words))
		for i, x := range r.Words {
			x.Start, x.End = m.at(x.Start), m.at(x.End)
			w[i] = x
		}
		r.Words = w
	}
	return r
}

func (s *stream) openUtterance() {
	s.nextUtt++
	s.utt = &utterance{id: s.id + "-" + strconv.Itoa(s.nextUtt)}
}

func (s *stream) requestID() *string {
	if s.clip == nil || s.clip.requestID == "" {
		return nil
	}
	id := s.clip.requestID
	return &id
}

func (s *stream) publishProcessing() {
	s.utt.announced = true
	s.rt.pub.Publish(s.spec.SessionID, protocol.EventTranscriptionProcessing, protocol.TranscriptionProcessing{
		SessionID: s.spec.SessionID, StreamID: s.id, UserID: s.spec.UserID,
		UtteranceID: s.utt.id, RequestID: s.requestID(),
	}, nil, "")
}

func (s *stream) publishResult(r sdk.Result, final bool) {
	s.utt.rev++
	s.utt.announced = true
	start := r.Start
	if start == 0 && s.utt.start > 0 {
		start = s.utt.start
	}
	// Utterances of a stream do not overlap: after a forced final a transcriber may
	// start the next one on audio the final already covered (its pre-speech buffer).
	start = max(start, s.lastEnd)
	end := max(r.End, start)
	words := make([]protocol.Word, len(r.Words))
	for i, w := range r.Words {
		ws := max(w.Start, s.lastEnd)
		words[i] = protocol.Word{Text: w.Text, StartMs: ws.Milliseconds(), EndMs: max(w.End, ws).Milliseconds(), Confidence: w.Confidence}
	}
	if final {
		s.lastEnd = end
	}
	s.rt.pub.Publish(s.spec.SessionID, protocol.EventTranscriptionResult, protocol.TranscriptionResult{
		SessionID: s.spec.SessionID, StreamID: s.id, UserID: s.spec.UserID, Role: s.spec.Role,
		UtteranceID: s.utt.id, Revision: s.utt.rev, Text: r.Text,
		IsFinal: final, EndOfTurn: final && r.EndOfTurn, Confidence: r.Confidence,
		StartMs: start.Milliseconds(), EndMs: end.Milliseconds(),
		Words: words, RequestID: s.requestID(),
	}, nil, "")
}

// onEvent turns a transcriber event into published results, keeping the protocol's
// guarantees whatever the plugin does: revisions rise by one, one final per utterance
// and nothing after it, no final for an utterance nobody heard of.
func (s *stream) onEvent(ev TranscriptEvent) {
	switch ev.Kind {
	case SpeechStarted:
		at := s.tmap.at(ev.At)
		if s.clip != nil || s.utt != nil {
			return // a replay re-announcing the open utterance, or a clip (announced at accept)
		}
		s.openUtterance()
		s.utt.start = at
		s.publishProcessing()

	case Partial:
		r := s.tmap.result(ev.Result)
		s.observeTranscribe(r.End)
		if s.clip != nil {
			return // a clip publishes its final only
		}
		if s.utt == nil {
			s.openUtterance()
			s.utt.start = r.Start
			s.publishProcessing()
		}
		if s.utt.last != nil && s.utt.last.Text == r.Text {
			return // nothing new (typically a replay catching up)
		}
		s.publishResult(r, false)
		s.utt.last = &r

	case Final:
		r := s.tmap.result(ev.Result)
		// The audio up to the final's end is done with: a replay starts after it.
		if cut := r.End; cut > 0 {
			s.replay.TrimTo(cut)
		} else {
			s.replay.TrimTo(time.Duration(s.sentEnd.Load()))
		}
		s.observeTranscribe(r.End)
		if s.clip != nil {
			s.clip.finals = append(s.clip.finals, r)
			return
		}
		if s.utt == nil {
			if strings.TrimSpace(r.Text) == "" {
				return // never announced and nothing to say
			}
			s.openUtterance()
			s.utt.start = r.Start
			s.publishProcessing()
		}
		if strings.TrimSpace(r.Text) == "" && s.utt.last != nil {
			// Users saw partials: keep their words rather than blank them.
			eot := r.EndOfTurn
			r = *s.utt.last
			r.EndOfTurn = eot
		}
		s.publishFinal(r)
	}
}

func (s *stream) publishFinal(r sdk.Result) {
	s.publishResult(r, true)
	if m, ok := s.markFor(r.End); ok && r.End > 0 {
		s.rt.m.speechToFinal.Observe(time.Since(m.enq).Seconds())
	}
	if strings.TrimSpace(r.Text) != "" {
		s.sess.feed(sdk.Utterance{
			UtteranceID: s.utt.id, SpeakerID: s.spec.UserID, Role: s.spec.Role, Text: r.Text,
			Start: max(r.Start, s.utt.start), End: r.End, EndOfTurn: r.EndOfTurn,
		})
	}
	s.utt = nil
}

func (s *stream) observeTranscribe(end time.Duration) {
	if end <= 0 {
		return
	}
	if m, ok := s.markFor(end); ok {
		s.rt.m.stageLatency.WithLabelValues("transcribe").Observe(time.Since(m.sent).Seconds())
	}
}

// closeOpen ends the stream's transcript: the open utterance, if anyone heard of it,
// gets its final (the last partial's words); a clip publishes its one final.
func (s *stream) closeOpen() {
	if s.clip != nil {
		s.finishClip()
		return
	}
	if s.utt == nil {
		return
	}
	if !s.utt.announced {
		s.utt = nil
		return
	}
	var r sdk.Result
	if s.utt.last != nil {
		r = *s.utt.last
	}
	r.EndOfTurn = false
	s.publishFinal(r)
}

// finishClip publishes a clip's single final: the texts of its utterances joined, its
// words concatenated, its span from the first utterance's start to the last's end.
// It is published even when the clip failed (with what was recognised, maybe
// nothing), so that the utterance announced at accept time always gets its final.
func (s *stream) finishClip() {
	if s.utt == nil {
		return
	}
	var r sdk.Result
	var texts []string
	var conf float64
	for i, f := range s.clip.finals {
		if t := strings.TrimSpace(f.Text); t != "" {
			texts = append(texts, t)
			conf += f.Confidence
		}
		if i == 0 {
			r.Start = f.Start
		}
		r.End = max(r.End, f.End)
		r.Words = append(r.Words, f.Words...)
	}
	r.Text = strings.Join(texts, " ")
	if len(texts) > 0 {
		r.Confidence = conf / float64(len(texts))
	}
	r.EndOfTurn = true // the clip is a complete turn
	s.publishFinal(r)
}
