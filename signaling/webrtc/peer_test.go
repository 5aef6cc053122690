package webrtc

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"

	pion "github.com/pion/webrtc/v4"

	"github.com/earshot-dev/earshot/signaling/protocol"
)

// TestCloseDuringOffer closes each peer as soon as it is visible, while its offer
// may still be being answered. The closing goroutine synchronises with Offer only
// through the Manager, so under -race any peer field written by the offer and read
// by close without a lock is reported.
func TestCloseDuringOffer(t *testing.T) {
	open := func(context.Context, protocol.StreamSpec) (Stream, error) { return newRecordingStream(), nil }
	m := newTestManager(t, open, 0)
	ctx := context.Background()
	for i := range 5 {
		owner := Owner{ConnID: "c1", SessionID: fmt.Sprintf("s%d", i), UserID: "u", Emit: func(string, any) {}}
		offer := newBrowser(t, true).offer(t)
		res := make(chan error, 1)
		go func() {
			_, err := m.Offer(ctx, owner, offer)
			res <- err
		}()
		var p *peer
		var err error
		returned := false
		for p == nil && !returned {
			if p = m.lookup(owner); p != nil {
				break
			}
			select {
			case err = <-res:
				// The offer may have completed between the lookup and here.
				returned = true
				if p = m.lookup(owner); p == nil {
					t.Fatalf("offer %d ended (%v) without a visible peer", i, err)
				}
			default:
				runtime.Gosched()
			}
		}
		if err := m.Close(owner); err != nil {
			t.Fatalf("Close %d: %v", i, err)
		}
		if !returned {
			select {
			case err = <-res:
			case <-time.After(15 * time.Second):
				t.Fatalf("offer %d did not return after Close", i)
			}
		}
		var pe *protocol.Error
		if err != nil && !errors.As(err, &pe) {
			t.Errorf("offer %d: uncoded error %v", i, err)
		}
		if p.ctx.Err() == nil {
			t.Errorf("peer %d: its context is not cancelled after Close", i)
		}
		if p.pc == nil || p.pc.ConnectionState() != pion.PeerConnectionStateClosed {
			t.Errorf("peer %d: peer connection not closed after Close", i)
		}
		if n := m.Count(); n != 0 {
			t.Fatalf("%d peers left after Close", n)
		}
	}
}
