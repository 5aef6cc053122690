package webrtc

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/signaling/protocol"
)

// finalizingStream is a recordingStream that can force an utterance final.
type finalizingStream struct {
	*recordingStream
	mu        sync.Mutex
	finalized int
}

func (s *finalizingStream) Finalize(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.finalized++
	return nil
}

func (s *finalizingStream) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.finalized
}

// audio:finalize reaches the track's stream, which stays open and keeps receiving
// audio; after audio:stop there is no stream to finalize.
func TestFinalizeAudio(t *testing.T) {
	st := &finalizingStream{recordingStream: newRecordingStream()}
	m := newTestManager(t, func(context.Context, protocol.StreamSpec) (Stream, error) { return st, nil }, 0)
	ev := newEvents()
	owner := Owner{ConnID: "c1", SessionID: "s1", UserID: "alice", Emit: ev.emit}
	ctx := context.Background()
	if found, err := m.FinalizeAudio(ctx, owner); found || err != nil {
		t.Fatalf("FinalizeAudio without a peer = %v, %v", found, err)
	}
	defer streamAudio(t, m, owner, ev, nil)()
	wait(t, st.got, "audio in the stream")
	if found, err := m.FinalizeAudio(ctx, owner); !found || err != nil {
		t.Fatalf("FinalizeAudio = %v, %v", found, err)
	}
	if n := st.count(); n != 1 {
		t.Fatalf("Finalize called %d times, want 1", n)
	}
	before := st.recordingStream.count()
	deadline := time.After(15 * time.Second)
	for st.recordingStream.count() == before { // the stream is still fed
		select {
		case <-st.got:
		case <-deadline:
			t.Fatal("no audio after the finalize")
		}
	}
	if ok, err := m.StopAudio(ctx, owner); !ok || err != nil {
		t.Fatalf("StopAudio = %v, %v", ok, err)
	}
	if found, err := m.FinalizeAudio(ctx, owner); found || err != nil {
		t.Fatalf("FinalizeAudio after audio:stop = %v, %v", found, err)
	}
	if err := m.Close(owner); err != nil {
		t.Fatal(err)
	}
}
