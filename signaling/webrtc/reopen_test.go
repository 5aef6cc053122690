package webrtc

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	pion "github.com/pion/webrtc/v4"

	"github.com/earshot-dev/earshot/signaling/protocol"
)

// namedStream is a recordingStream with its own id.
type namedStream struct {
	*recordingStream
	id string
}

func (s *namedStream) ID() string { return s.id }

// A stream the runtime ends by itself (StreamEnded) is replaced on the track's next
// packet, and the audio goes on in the new one; a stream ended by audio:stop is not.
func TestEndedStreamReopens(t *testing.T) {
	opened := make(chan *namedStream, 8)
	var mu sync.Mutex
	var specs []protocol.StreamSpec
	m := newTestManager(t, func(_ context.Context, spec protocol.StreamSpec) (Stream, error) {
		mu.Lock()
		specs = append(specs, spec)
		s := &namedStream{recordingStream: newRecordingStream(), id: fmt.Sprintf("st-%d", len(specs))}
		mu.Unlock()
		opened <- s
		return s, nil
	}, 0)
	ev := newEvents()
	owner := Owner{ConnID: "c1", SessionID: "s1", UserID: "alice", Role: "interviewer", Emit: ev.emit}
	defer streamAudio(t, m, owner, ev, nil)()
	next := func(what string) *namedStream {
		t.Helper()
		select {
		case s := <-opened:
			return s
		case <-time.After(20 * time.Second):
			t.Fatalf("no %s opened", what)
			return nil
		}
	}
	first := next("first stream")
	wait(t, first.got, "audio in the first stream")

	// An id that is not the track's stream changes nothing.
	m.StreamEnded("st-other")
	m.StreamEnded(first.ID())
	second := next("stream after the first ended")
	for range 3 { // the audio goes on in the new stream
		wait(t, second.got, "audio in the re-opened stream")
	}
	mu.Lock()
	if len(specs) != 2 || specs[1] != specs[0] {
		t.Errorf("re-opened with %+v, want the first stream's spec %+v", specs[1:], specs[0])
	}
	mu.Unlock()
	select {
	case <-first.stopped:
		t.Error("the manager stopped the stream the runtime had ended")
	default:
	}

	// audio:stop ends the stream for good: no re-open, even when the runtime then
	// reports it ended.
	if ok, err := m.StopAudio(context.Background(), owner); !ok || err != nil {
		t.Fatalf("StopAudio = %v, %v", ok, err)
	}
	wait(t, second.stopped, "stream stop")
	m.StreamEnded(second.ID())
	select {
	case s := <-opened:
		t.Fatalf("stream %s opened after audio:stop", s.ID())
	case <-time.After(300 * time.Millisecond): // 30 packets' worth of chances to re-open
	}
	if err := m.Close(owner); err != nil {
		t.Fatal(err)
	}
}

// streamAudio connects a browser to m as owner and sends a packet every 10 ms until
// the returned stop is called; every event emitted to the owner other than a
// candidate goes to other (when not nil).
func streamAudio(t *testing.T, m *Manager, owner Owner, ev *events, other chan<- emitted) (stop func()) {
	t.Helper()
	b := newBrowser(t, true)
	ctx := context.Background()
	offerSent := make(chan struct{})
	b.pc.OnICECandidate(func(c *pion.ICECandidate) {
		if c != nil {
			<-offerSent
			j := c.ToJSON()
			_ = m.AddCandidate(ctx, owner, protocol.ICECandidate{Candidate: j.Candidate, SDPMid: j.SDPMid, SDPMLineIndex: j.SDPMLineIndex})
		}
	})
	answer, err := m.Offer(ctx, owner, b.offer(t))
	close(offerSent)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.pc.SetRemoteDescription(pion.SessionDescription{Type: pion.SDPTypeAnswer, SDP: answer}); err != nil {
		t.Fatal(err)
	}
	quit := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		seq := uint16(0)
		for {
			select {
			case <-quit:
				return
			case e := <-ev.ch:
				if e.event == protocol.EventWebRTCCandidate {
					c := e.payload.(protocol.WebRTCCandidate).Candidate
					_ = b.pc.AddICECandidate(pion.ICECandidateInit{Candidate: c.Candidate, SDPMid: c.SDPMid, SDPMLineIndex: c.SDPMLineIndex})
				} else if other != nil {
					select {
					case other <- e:
					default: // the test no longer listens
					}
				}
			case <-tick.C:
				seq++
				_ = b.track.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: seq, Timestamp: uint32(seq) * 480, SSRC: 9}, Payload: []byte{1, 2, 3}})
			}
		}
	}()
	return func() { close(quit); <-done }
}

// A re-open that fails is reported to the owner and tried again later, on a
// packet after the back-off.
func TestReopenFailureRetries(t *testing.T) {
	opened := make(chan *namedStream, 8)
	var mu sync.Mutex
	calls := 0
	m := newTestManager(t, func(_ context.Context, spec protocol.StreamSpec) (Stream, error) {
		mu.Lock()
		calls++
		n := calls
		mu.Unlock()
		if n == 2 {
			return nil, protocol.Errorf(protocol.CodePipelineUnavailable, "the transcriber is restarting")
		}
		s := &namedStream{recordingStream: newRecordingStream(), id: fmt.Sprintf("st-%d", n)}
		opened <- s
		return s, nil
	}, 0)
	ev := newEvents()
	other := make(chan emitted, 16)
	owner := Owner{ConnID: "c1", SessionID: "s1", UserID: "alice", Emit: ev.emit}
	defer streamAudio(t, m, owner, ev, other)()
	var first *namedStream
	select {
	case first = <-opened:
	case <-time.After(20 * time.Second):
		t.Fatal("no stream opened")
	}
	wait(t, first.got, "audio in the first stream")
	m.StreamEnded(first.ID())
	deadline := time.After(20 * time.Second)
	for reported := false; !reported; {
		select {
		case e := <-other:
			if e.event != protocol.EventWebRTCError {
				continue // webrtc:state
			}
			if pe, ok := e.payload.(protocol.Error); !ok || pe.Code != protocol.CodePipelineUnavailable {
				t.Fatalf("after a failed re-open: %+v", e.payload)
			}
			reported = true
		case <-deadline:
			t.Fatal("the failed re-open was not reported")
		}
	}
	var third *namedStream
	select {
	case third = <-opened:
	case <-time.After(20 * time.Second):
		t.Fatal("no re-open after the failed one")
	}
	wait(t, third.got, "audio in the stream opened after the failure")
	mu.Lock()
	if calls != 3 {
		t.Errorf("%d opens, want 3", calls)
	}
	mu.Unlock()
	if err := m.Close(owner); err != nil {
		t.Fatal(err)
	}
}
