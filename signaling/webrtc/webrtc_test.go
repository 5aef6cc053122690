package webrtc

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	pion "github.com/pion/webrtc/v4"
	"go.uber.org/goleak"

	"github.com/earshot-dev/earshot/signaling/protocol"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// recordingStream records the packets written to it.
type recordingStream struct {
	mu      sync.Mutex
	packets [][]byte
	got     chan struct{} // signalled on every write
	stopped chan struct{}
	once    sync.Once
}

func newRecordingStream() *recordingStream {
	return &recordingStream{got: make(chan struct{}, 1024), stopped: make(chan struct{})}
}

func (s *recordingStream) ID() string { return "st-1" }
func (s *recordingStream) Write(_ context.Context, b []byte) error {
	s.mu.Lock()
	s.packets = append(s.packets, append([]byte(nil), b...))
	s.mu.Unlock()
	select {
	case s.got <- struct{}{}:
	default:
	}
	return nil
}
func (s *recordingStream) Finalize(context.Context) error { return nil }
func (s *recordingStream) Stop(context.Context) error {
	s.once.Do(func() { close(s.stopped) })
	return nil
}
func (s *recordingStream) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.packets)
}

// events collects what the manager emits to the owner.
type events struct {
	mu  sync.Mutex
	all []emitted
	ch  chan emitted
}
type emitted struct {
	event   string
	payload any
}

func newEvents() *events { return &events{ch: make(chan emitted, 256)} }
func (e *events) emit(ev string, p any) {
	e.mu.Lock()
	e.all = append(e.all, emitted{ev, p})
	e.mu.Unlock()
	select {
	case e.ch <- emitted{ev, p}:
	default:
	}
}

func newTestManager(t testing.TB, open OpenFunc, max int) *Manager {
	t.Helper()
	m, err := New(Options{Open: open, IncludeLoopback: true, MaxPeers: max, StopTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Shutdown)
	return m
}

// browser is a pion peer standing in for a browser: one Opus track, trickle ICE.
type browser struct {
	pc    *pion.PeerConnection
	track *pion.TrackLocalStaticRTP
	conn  chan struct{}
}

func newBrowser(t testing.TB, withAudio bool) *browser {
	t.Helper()
	var se pion.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes([]pion.NetworkType{pion.NetworkTypeUDP4})
	me := &pion.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	pc, err := pion.NewAPI(pion.WithSettingEngine(se), pion.WithMediaEngine(me)).NewPeerConnection(pion.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	b := &browser{pc: pc, conn: make(chan struct{})}
	var once sync.Once
	pc.OnConnectionStateChange(func(s pion.PeerConnectionState) {
		if s == pion.PeerConnectionStateConnected {
			once.Do(func() { close(b.conn) })
		}
	})
	if withAudio {
		b.track, err = pion.NewTrackLocalStaticRTP(pion.RTPCodecCapability{MimeType: pion.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", "mic")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pc.AddTrack(b.track); err != nil {
			t.Fatal(err)
		}
	} else {
		vt, err := pion.NewTrackLocalStaticRTP(pion.RTPCodecCapability{MimeType: pion.MimeTypeVP8}, "video", "cam")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pc.AddTrack(vt); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

func (b *browser) offer(t testing.TB) string {
	t.Helper()
	o, err := b.pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.pc.SetLocalDescription(o); err != nil {
		t.Fatal(err)
	}
	return o.SDP
}

func wait(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(15 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

func TestAudioTrackReachesStream(t *testing.T) {
	st := newRecordingStream()
	var specs []protocol.StreamSpec
	var smu sync.Mutex
	m := newTestManager(t, func(_ context.Context, spec protocol.StreamSpec) (Stream, error) {
		smu.Lock()
		specs = append(specs, spec)
		smu.Unlock()
		return st, nil
	}, 0)
	ev := newEvents()
	owner := Owner{ConnID: "c1", SessionID: "s1", UserID: "alice", Role: "interviewer", Pipeline: "interview", Emit: ev.emit}

	b := newBrowser(t, true)
	ctx := context.Background()
	// Trickle ICE both ways. Like a browser client, send candidates only once the
	// offer has been sent (they queue until then).
	offerSent := make(chan struct{})
	var trickle sync.WaitGroup
	b.pc.OnICECandidate(func(c *pion.ICECandidate) {
		if c == nil {
			return
		}
		trickle.Add(1)
		defer trickle.Done()
		<-offerSent
		j := c.ToJSON()
		if err := m.AddCandidate(ctx, owner, protocol.ICECandidate{Candidate: j.Candidate, SDPMid: j.SDPMid, SDPMLineIndex: j.SDPMLineIndex}); err != nil {
			t.Errorf("AddCandidate: %v", err)
		}
	})
	defer trickle.Wait()
	offer := b.offer(t)
	answer, err := m.Offer(ctx, owner, offer)
	close(offerSent)
	if err != nil {
		t.Fatalf("Offer: %v", err)
	}
	if !strings.Contains(answer, "a=recvonly") {
		t.Errorf("answer does not receive only:\n%s", answer)
	}
	if err := b.pc.SetRemoteDescription(pion.SessionDescription{Type: pion.SDPTypeAnswer, SDP: answer}); err != nil {
		t.Fatal(err)
	}
	stopRelay := make(chan struct{})
	relayDone := make(chan struct{})
	defer func() { close(stopRelay); <-relayDone }()
	go func() {
		defer close(relayDone)
		for {
			var e emitted
			select {
			case e = <-ev.ch:
			case <-stopRelay:
				return
			}
			if e.event != protocol.EventWebRTCCandidate {
				continue
			}
			c := e.payload.(protocol.WebRTCCandidate).Candidate
			if err := b.pc.AddICECandidate(pion.ICECandidateInit{Candidate: c.Candidate, SDPMid: c.SDPMid, SDPMLineIndex: c.SDPMLineIndex}); err != nil {
				t.Errorf("browser AddICECandidate: %v", err)
			}
		}
	}()
	wait(t, b.conn, "ICE connection")

	// Send warm-up packets, paced like a 20 ms source, until one reaches the stream
	// (the answerer's DTLS/SRTP and onTrack may still be settling); then the
	// numbered payloads, which must all arrive, in order, after the warm-ups.
	deadline := time.After(15 * time.Second)
	seq := uint16(1000)
	send := func(payload string) {
		t.Helper()
		pkt := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: seq, Timestamp: uint32(seq) * 960, SSRC: 42}, Payload: []byte(payload)}
		seq++
		if err := b.track.WriteRTP(pkt); err != nil {
			t.Fatal(err)
		}
	}
	pace := time.NewTicker(20 * time.Millisecond)
	defer pace.Stop()
	warm := 0
warmUp:
	for {
		send(fmt.Sprintf("warm-%04d", warm))
		warm++
		select {
		case <-st.got:
			break warmUp
		case <-pace.C:
		case <-deadline:
			t.Fatalf("none of %d warm-up packets reached the stream", warm)
		}
	}
	const n = 50
	for k := range n {
		send(fmt.Sprintf("opus-%02d", k))
	}
	last := fmt.Sprintf("opus-%02d", n-1)
	for {
		st.mu.Lock()
		done := len(st.packets) > 0 && string(st.packets[len(st.packets)-1]) == last
		st.mu.Unlock()
		if done {
			break
		}
		select {
		case <-st.got:
		case <-deadline:
			t.Fatalf("the last numbered packet never reached the stream (%d packets did)", st.count())
		}
	}
	st.mu.Lock()
	got := slices.Clone(st.packets) // not held across Fatal: the relay still writes
	st.mu.Unlock()
	prevWarm, next := -1, 0
	for _, p := range got {
		var k int
		switch {
		case strings.HasPrefix(string(p), "warm-"):
			if _, err := fmt.Sscanf(string(p), "warm-%04d", &k); err != nil {
				t.Fatalf("unexpected payload %q", p)
			}
			if next > 0 {
				t.Fatalf("warm-up payload %q after numbered ones", p)
			}
			if k <= prevWarm || k >= warm {
				t.Fatalf("warm-up payload %d after %d (of %d sent): out of order", k, prevWarm, warm)
			}
			prevWarm = k
		default:
			if _, err := fmt.Sscanf(string(p), "opus-%02d", &k); err != nil {
				t.Fatalf("unexpected payload %q", p)
			}
			if k != next {
				t.Fatalf("numbered payload %d where %d was due: lost or out of order", k, next)
			}
			next++
		}
	}
	if prevWarm < 0 || next != n {
		t.Fatalf("%d warm-up and %d of %d numbered payloads reached the stream", prevWarm+1, next, n)
	}
	smu.Lock()
	if len(specs) != 1 || specs[0].Format != protocol.FormatOpus || specs[0].SampleRate != 48000 || specs[0].SessionID != "s1" || specs[0].UserID != "alice" || specs[0].Source != "webrtc" {
		t.Errorf("stream spec %+v", specs)
	}
	smu.Unlock()

	// audio:stop drains the stream but keeps the peer connection.
	ok, err := m.StopAudio(ctx, owner)
	if !ok || err != nil {
		t.Fatalf("StopAudio = %v, %v", ok, err)
	}
	wait(t, st.stopped, "stream stop")
	if m.Count() != 1 {
		t.Fatalf("peer connection gone after audio:stop")
	}
	if err := m.Close(owner); err != nil {
		t.Fatal(err)
	}
	if m.Count() != 0 {
		t.Fatalf("%d peers left after Close", m.Count())
	}
	b.pc.Close()
}

func TestOfferErrors(t *testing.T) {
	open := func(context.Context, protocol.StreamSpec) (Stream, error) { return newRecordingStream(), nil }
	m := newTestManager(t, open, 1)
	ctx := context.Background()
	owner := Owner{ConnID: "c1", SessionID: "s1", UserID: "u", Emit: func(string, any) {}}

	codeOf := func(err error) string {
		var pe *protocol.Error
		if errors.As(err, &pe) {
			return pe.Code
		}
		return fmt.Sprintf("uncoded: %v", err)
	}
	cases := []struct {
		name, sdp, code string
	}{
		{"empty", "", protocol.CodeBadRequest},
		{"garbage", "hello world", protocol.CodeBadRequest},
		{"huge", strings.Repeat("a", 70<<10), protocol.CodeBadRequest},
		{"video only", newBrowser(t, false).offer(t), protocol.CodeUnsupportedFormat},
	}
	for _, c := range cases {
		if _, err := m.Offer(ctx, owner, c.sdp); codeOf(err) != c.code {
			t.Errorf("%s: got %v, want %s", c.name, err, c.code)
		}
	}
	if m.Count() != 0 {
		t.Fatalf("refused offers left %d peers", m.Count())
	}
	if err := m.AddCandidate(ctx, owner, protocol.ICECandidate{Candidate: "candidate:1 1 udp 1 127.0.0.1 9 typ host"}); codeOf(err) != CodeNoPeer {
		t.Errorf("candidate without peer: %v", err)
	}
	if _, err := m.Offer(ctx, owner, newBrowser(t, true).offer(t)); err != nil {
		t.Fatalf("good offer: %v", err)
	}
	if _, err := m.Offer(ctx, owner, newBrowser(t, true).offer(t)); codeOf(err) != CodePeerExists {
		t.Errorf("second offer: %v", err)
	}
	other := owner
	other.SessionID = "s2"
	if _, err := m.Offer(ctx, other, newBrowser(t, true).offer(t)); codeOf(err) != CodeTooManyPeers {
		t.Errorf("over the limit: %v", err)
	}
	if err := m.AddCandidate(ctx, owner, protocol.ICECandidate{Candidate: "candidate:garbage"}); codeOf(err) != protocol.CodeBadRequest {
		t.Errorf("bad candidate: %v", err)
	}
	m.CloseConn("c1")
	if m.Count() != 0 {
		t.Fatalf("CloseConn left %d peers", m.Count())
	}
	m.Shutdown()
	if _, err := m.Offer(ctx, owner, newBrowser(t, true).offer(t)); codeOf(err) != protocol.CodePipelineUnavailable {
		t.Errorf("offer after shutdown: %v", err)
	}
}

func TestOpenFailureIsReported(t *testing.T) {
	m := newTestManager(t, func(context.Context, protocol.StreamSpec) (Stream, error) {
		return nil, protocol.Errorf(protocol.CodePipelineUnavailable, "no pipeline")
	}, 0)
	ev := newEvents()
	owner := Owner{ConnID: "c1", SessionID: "s1", UserID: "u", Emit: ev.emit}
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
	deadline := time.After(20 * time.Second)
	sent := uint16(0)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case e := <-ev.ch:
			switch e.event {
			case protocol.EventWebRTCCandidate:
				c := e.payload.(protocol.WebRTCCandidate).Candidate
				_ = b.pc.AddICECandidate(pion.ICECandidateInit{Candidate: c.Candidate, SDPMid: c.SDPMid, SDPMLineIndex: c.SDPMLineIndex})
			case protocol.EventWebRTCError:
				if pe := e.payload.(protocol.Error); pe.Code != protocol.CodePipelineUnavailable {
					t.Fatalf("error %+v", pe)
				}
				m.CloseConn("c1")
				return
			}
		case <-tick.C:
			sent++
			_ = b.track.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: sent, SSRC: 7}, Payload: []byte{1, 2, 3}})
		case <-deadline:
			t.Fatal("no webrtc:error after the stream could not open")
		}
	}
}

func TestSeqAfter(t *testing.T) {
	for _, c := range []struct {
		a, b uint16
		want bool
	}{{2, 1, true}, {1, 2, false}, {1, 1, false}, {0, 65535, true}, {65535, 0, false}, {100, 65500, true}} {
		if got := seqAfter(c.a, c.b); got != c.want {
			t.Errorf("seqAfter(%d,%d)=%v", c.a, c.b, got)
		}
	}
}
