package e2e

import (
	"encoding/base64"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/signaling/protocol"
)

// chunksUntil splits chunks at media time at: those ending by it, and the rest.
func chunksUntil(chunks []timedChunk, at time.Duration) (head, tail []timedChunk) {
	for i, c := range chunks {
		if c.At > at {
			return chunks[:i], chunks[i:]
		}
	}
	return chunks, nil
}

// TestFinalize sends the first sentence of a clip with only 150 ms of silence after
// it, asks for audio:finalize, and expects that utterance's final (endOfTurn false)
// while the stream stays open; then the rest of the clip follows on the same stream.
func TestFinalize(t *testing.T) {
	d := StartDaemon(t, DaemonOptions{})
	clip := answer(t)
	speaker := d.Connect(t, "finalizer", interviewer)
	speaker.Join("fin")
	streamID := speaker.StartAudio("fin", protocol.FormatPCM16, 16000, 1)
	head, tail := chunksUntil(pcmChunks(clip.PCM(), 16000, 50*time.Millisecond), clip.Spans[0][1]+150*time.Millisecond)
	pace(head, sendSpeed, func(_ int, c timedChunk) { speaker.SendBinary(c.Data) })
	from := speaker.Len()
	speaker.Request(protocol.EventAudioFinalize, protocol.SessionRef{SessionID: "fin"}, 10*time.Second)
	ev := speaker.WaitEventFrom(from, 20*time.Second, IsFinalOf(streamID))
	var first protocol.TranscriptionResult
	ev.Decode(t, &first)
	if first.EndOfTurn {
		t.Errorf("forced final %q has endOfTurn true", first.Text)
	}
	checkTranscript(t, clip.Sentences[0], first.Text, maxWERSpeech, "software", "engineer")

	// The stream is still open: the second sentence goes on it.
	pace(tail, sendSpeed, func(_ int, c timedChunk) { speaker.SendBinary(c.Data) })
	ack := speaker.AwaitAck(speaker.RequestAsync(protocol.EventAudioStop, protocol.SessionRef{SessionID: "fin"}), 60*time.Second)
	if ack.Error != nil {
		t.Fatalf("audio:stop: %v", ack.Error)
	}
	rs := streamResults(speaker.Results(), streamID)
	finals := finalsOnly(rs)
	t.Logf("finals:\n%s", describeFinals(rs))
	checkOrdering(t, rs, eventsNamed(speaker.Events(), protocol.EventTranscriptionProcessing), clip.Duration())
	checkSpans(t, finals, clip, 400*time.Millisecond)
	// Neither duplicated nor split: the whole clip's words once.
	checkTranscript(t, clip.Text(), finalsText(finals), maxWERSpeech, "software", "engineer", "problems", "team")
	if len(finals) < 2 || finals[0].R.UtteranceID != first.UtteranceID {
		t.Errorf("want the forced final first, then the second sentence's: %d finals", len(finals))
	}
	noErrors(t, speaker, "speaker")
}

// TestTranscriptionRequest sends two one-shot clips (WAV and Ogg/Opus, base64) with
// request ids: each gets transcription:processing then exactly one final
// transcription:result carrying its requestId, for the session's other members too,
// and the ack after it.
func TestTranscriptionRequest(t *testing.T) {
	d := StartDaemon(t, DaemonOptions{})
	clip := oneSentence(t)
	speaker := d.Connect(t, "asker", interviewer)
	listener := d.Connect(t, "watcher", candidate)
	speaker.Join("clips")
	listener.Join("clips")
	reqs := []struct {
		id, format string
		data       []byte
	}{
		{"req-wav", protocol.FormatWAV, clip.WAVBytes(t)},
		{"req-ogg", protocol.FormatOgg, clip.Ogg(t)},
	}
	ids := map[string]int{}
	for _, r := range reqs {
		ids[r.id] = speaker.RequestAsync(protocol.EventTranscriptionRequest, protocol.TranscriptionRequest{
			SessionID: "clips", Format: r.format, RequestID: r.id, AudioData: base64.StdEncoding.EncodeToString(r.data)})
	}
	for _, r := range reqs {
		ack := speaker.AwaitAck(ids[r.id], 60*time.Second)
		if ack.Error != nil {
			t.Fatalf("%s refused: %v", r.id, ack.Error)
		}
		var processing, finals []Event
		var final protocol.TranscriptionResult
		for _, e := range speaker.Events() {
			switch e.Name {
			case protocol.EventTranscriptionProcessing:
				var p protocol.TranscriptionProcessing
				e.Decode(t, &p)
				if p.RequestID != nil && *p.RequestID == r.id {
					processing = append(processing, e)
				}
			case protocol.EventTranscriptionResult:
				var res protocol.TranscriptionResult
				e.Decode(t, &res)
				if res.RequestID == nil || *res.RequestID != r.id {
					continue
				}
				if !res.IsFinal {
					t.Errorf("%s: a partial carries the request id: %s", r.id, e.Data)
					continue
				}
				finals = append(finals, e)
				final = res
				if e.Seq > ack.Seq {
					t.Errorf("%s: final after the ack", r.id)
				}
			}
		}
		if len(processing) != 1 || len(finals) != 1 || processing[0].Seq > finals[0].Seq {
			t.Fatalf("%s: %d processing, %d finals (want 1 then 1)\n%s", r.id, len(processing), len(finals), speaker.Dump())
		}
		t.Logf("%s (%s): %q", r.id, r.format, final.Text)
		checkTranscript(t, clip.Text(), final.Text, maxWERSpeech, "software", "engineer")
		// The session hears it too.
		listener.WaitEvent(10*time.Second, func(e Event) bool {
			var res protocol.TranscriptionResult
			return e.Name == protocol.EventTranscriptionResult && json.Unmarshal(e.Data, &res) == nil &&
				res.IsFinal && res.RequestID != nil && *res.RequestID == r.id
		})
	}
	noErrors(t, speaker, "speaker")
}

// TestTranscriberCrash kills the transcriber plugin (kill -9) in the middle of the
// second sentence of a stream. The stream gets one transcription:error with
// retrying:true, the host restarts the plugin, the pipeline replays the audio since
// the last final, and the interrupted utterance still arrives as one correct final
// with its id and revisions continuing.
func TestTranscriberCrash(t *testing.T) {
	d := StartDaemon(t, DaemonOptions{})
	clip := questions(t)
	speaker := d.Connect(t, "crash-iv", interviewer)
	listener := d.Connect(t, "crash-cand", candidate)
	speaker.Join("crash")
	listener.Join("crash")
	sphinx := d.WaitPlugin(t, "sphinx", 0, 10*time.Second)
	streamID := speaker.StartAudio("crash", protocol.FormatPCM16, 16000, 1)

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		pace(pcmChunks(clip.PCM(), 16000, 50*time.Millisecond), 1, func(_ int, c timedChunk) {
			if err := speaker.TrySendBinary(c.Data); err != nil {
				t.Errorf("send: %v", err)
			}
		})
	}()
	// Mid-utterance: the second utterance has a partial of at least three words.
	first := speaker.WaitEvent(30*time.Second, IsFinalOf(streamID))
	mid := speaker.WaitEventFrom(first.Seq, 30*time.Second, func(e Event) bool {
		var r protocol.TranscriptionResult
		return e.Name == protocol.EventTranscriptionResult && json.Unmarshal(e.Data, &r) == nil &&
			!r.IsFinal && len(words(r.Text)) >= 3
	})
	var victim protocol.TranscriptionResult
	mid.Decode(t, &victim)
	d.KillPlugin(t, sphinx)
	t.Logf("killed earshot-plugin-sphinx (pid %d) at partial %s rev %d %q", sphinx, victim.UtteranceID, victim.Revision, victim.Text)
	wg.Wait()
	ack := speaker.AwaitAck(speaker.RequestAsync(protocol.EventAudioStop, protocol.SessionRef{SessionID: "crash"}), 90*time.Second)
	if ack.Error != nil {
		t.Fatalf("audio:stop: %v\n%s", ack.Error, speaker.Dump())
	}
	if pid := d.WaitPlugin(t, "sphinx", sphinx, 10*time.Second); pid == sphinx {
		t.Errorf("sphinx not restarted")
	}

	var errs []protocol.TranscriptionError
	for _, e := range eventsNamed(speaker.Events(), protocol.EventTranscriptionError) {
		var te protocol.TranscriptionError
		e.Decode(t, &te)
		if te.Code == protocol.CodeFallingBehind {
			continue
		}
		errs = append(errs, te)
	}
	if len(errs) != 1 || !errs[0].Retrying || errs[0].StreamID != streamID {
		t.Errorf("want exactly one transcription:error with retrying:true for %s, got %+v", streamID, errs)
	}
	rs := streamResults(speaker.Results(), streamID)
	finals := finalsOnly(rs)
	t.Logf("finals:\n%s", describeFinals(rs))
	checkOrdering(t, rs, eventsNamed(speaker.Events(), protocol.EventTranscriptionProcessing), clip.Duration())
	checkSpans(t, finals, clip, 400*time.Millisecond)
	var victimFinals []protocol.TranscriptionResult
	for _, f := range finals {
		if f.R.UtteranceID == victim.UtteranceID {
			victimFinals = append(victimFinals, f.R)
		}
	}
	if len(victimFinals) != 1 {
		t.Fatalf("utterance %s: %d finals, want exactly 1", victim.UtteranceID, len(victimFinals))
	}
	checkTranscript(t, clip.Sentences[1], victimFinals[0].Text, maxWERSpeech, "describe", "conflict")
	checkTranscript(t, clip.Text(), finalsText(finals), maxWERSpeech, "conflict", "want")
	// The candidate saw the same finals, once each.
	if got, want := finalsText(listener.WaitFinals(10*time.Second, streamID, finals)), finalsText(finals); got != want {
		t.Errorf("candidate's finals %q, interviewer's %q", got, want)
	}
	if m := d.Metrics(t); m[`earshot_pipeline_plugin_restarts_total{stage="transcribe"}`] < 1 {
		t.Errorf("earshot_pipeline_plugin_restarts_total{stage=\"transcribe\"} = %v, want ≥ 1", m[`earshot_pipeline_plugin_restarts_total{stage="transcribe"}`])
	}
}

// TestStreamIdleTimeout: a stream that gets no audio for stream_idle_timeout is
// drained (its final arrives) and closed, so the same user can open a new one.
func TestStreamIdleTimeout(t *testing.T) {
	d := StartDaemon(t, DaemonOptions{Config: speechConfig{IdleTimeout: "1500ms"}.hcl()})
	clip := oneSentence(t)
	speaker := d.Connect(t, "idler", interviewer)
	speaker.Join("idle")
	// Only the speech, no trailing silence: the final comes from the idle drain.
	head, _ := chunksUntil(pcmChunks(clip.PCM(), 16000, 100*time.Millisecond), clip.Spans[0][1]+100*time.Millisecond)
	streamID := speaker.StartAudio("idle", protocol.FormatPCM16, 16000, 1)
	pace(head, sendSpeed, func(_ int, c timedChunk) { speaker.SendBinary(c.Data) })
	idleFrom := time.Now()
	speaker.WaitEvent(30*time.Second, IsFinalOf(streamID))
	// Poll audio:start until the idle stream is gone (STREAM_EXISTS until then).
	deadline := time.Now().Add(20 * time.Second)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		ack := speaker.AwaitAck(speaker.RequestAsync(protocol.EventAudioStart, protocol.AudioStart{SessionID: "idle", Format: protocol.FormatPCM16, SampleRate: 16000, Channels: 1}), 10*time.Second)
		if ack.Error == nil {
			var st protocol.AudioStarted
			ack.Decode(t, &st)
			if st.StreamID == streamID {
				t.Fatalf("audio:start returned the idle stream %s", streamID)
			}
			t.Logf("idle stream %s closed; new stream %s after %v", streamID, st.StreamID, time.Since(idleFrom).Round(10*time.Millisecond))
			break
		}
		if ack.Error.Code != protocol.CodeStreamExists {
			t.Fatalf("audio:start: %v", ack.Error)
		}
		if time.Now().After(deadline) {
			// What a client sees when it resumes sending on the idle stream.
			from := speaker.Len()
			speaker.SendBinary(head[0].Data)
			ev, err := speaker.waitEventFrom(from, 5*time.Second, Named(protocol.EventAudioError))
			t.Fatalf("audio:start still answers STREAM_EXISTS %v after the stream's last audio (stream_idle_timeout 1.5s, the pipeline drained it); a binary frame now gets: %s %v",
				time.Since(idleFrom).Round(time.Second), ev.Data, err)
		}
		<-tick.C
	}
	if since := time.Since(idleFrom); since < 1500*time.Millisecond {
		t.Errorf("stream closed %v after its last audio, before stream_idle_timeout", since)
	}
	rs := streamResults(speaker.Results(), streamID)
	checkOrdering(t, rs, nil, clip.Duration())
	checkTranscript(t, clip.Text(), finalsText(rs), maxWERSpeech, "software", "engineer")
}

// TestRelayAudio: with relay_audio on, the other members receive every chunk as
// audio:received with the sender, format, rate and sequence, byte for byte.
func TestRelayAudio(t *testing.T) {
	d := StartDaemon(t, DaemonOptions{Config: speechConfig{RelayAudio: true}.hcl()})
	clip := oneSentence(t)
	speaker := d.Connect(t, "relayer", interviewer)
	listener := d.Connect(t, "relay-cand", candidate)
	speaker.Join("relay")
	listener.Join("relay")
	chunks := pcmChunks(clip.PCM(), 16000, 200*time.Millisecond)[:5]
	for i, c := range chunks {
		speaker.StreamBase64("relay", protocol.FormatPCM16, 16000, 1, int64(i), c.Data)
	}
	for i, c := range chunks {
		ev := listener.WaitEvent(10*time.Second, func(e Event) bool {
			var r protocol.AudioReceived
			return e.Name == protocol.EventAudioReceived && json.Unmarshal(e.Data, &r) == nil && r.Sequence == int64(i)
		})
		var r protocol.AudioReceived
		ev.Decode(t, &r)
		got, err := base64.StdEncoding.DecodeString(r.AudioData)
		if err != nil || string(got) != string(c.Data) || r.FromUserID != "relayer" || r.Format != protocol.FormatPCM16 || r.SampleRate != 16000 || r.SessionID != "relay" {
			t.Errorf("audio:received #%d: from %q format %q rate %d, %d bytes (sent %d), err %v", i, r.FromUserID, r.Format, r.SampleRate, len(got), len(c.Data), err)
		}
	}
	if n := len(eventsNamed(speaker.Events(), protocol.EventAudioReceived)); n != 0 {
		t.Errorf("the sender got %d of its own chunks back", n)
	}
	speaker.Request(protocol.EventAudioStop, protocol.SessionRef{SessionID: "relay"}, 30*time.Second)
	noErrors(t, speaker, "speaker")
}
