package signaling

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/earshot-dev/earshot/signaling/protocol"
)

// fanoutEnv connects members real loopback clients to session "s1"; each counts the
// transcription:result frames it reads.
func fanoutEnv(b *testing.B, members int) (*env, *fanoutCounter) {
	e := newEnv(b, func(o *Options) { o.Logger = nil; o.MaxUsersPerSession = members })
	got := &fanoutCounter{done: make(chan struct{}, 1)}
	for i := range members {
		sub := "u" + strings.Repeat("x", i%3) + string(rune('a'+i%26)) + itoa(i)
		tok := e.token(sub, protocol.RoleCandidate)
		ws, _, err := websocket.DefaultDialer.Dial(e.url+"/interview", http.Header{"Authorization": {"Bearer " + tok}})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { ws.Close() })
		if _, _, err := ws.ReadMessage(); err != nil { // connection:success
			b.Fatal(err)
		}
		_ = ws.WriteMessage(websocket.TextMessage, []byte(`{"event":"session:join","data":{"sessionId":"s1"}}`))
		for {
			_, m, err := ws.ReadMessage()
			if err != nil {
				b.Fatal(err)
			}
			if strings.Contains(string(m), `"session:joined"`) {
				break
			}
			if strings.Contains(string(m), `"session:error"`) {
				b.Fatalf("join: %s", m)
			}
		}
		go func() {
			for {
				_, m, err := ws.ReadMessage()
				if err != nil {
					return
				}
				if strings.HasPrefix(string(m), `{"event":"transcription:result"`) {
					got.add()
				}
			}
		}()
	}
	return e, got
}

// fanoutCounter counts deliveries and signals when a target is reached, so the
// benchmark blocks instead of spinning on the CPUs the clients need.
type fanoutCounter struct {
	n, target atomic.Int64
	done      chan struct{}
}

func (c *fanoutCounter) add() {
	if c.n.Add(1) == c.target.Load() {
		c.done <- struct{}{}
	}
}

// wait blocks until n reaches want.
func (c *fanoutCounter) wait(b *testing.B, want int64) {
	c.target.Store(want)
	if c.n.Load() >= want {
		select { // the reader may have signalled already
		case <-c.done:
		default:
		}
		return
	}
	select {
	case <-c.done:
	case <-time.After(waitLimit):
		b.Fatalf("delivered %d of %d", c.n.Load(), want)
	}
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

var payload1KB = map[string]string{"sessionId": "s1", "text": strings.Repeat("a", 1000)}

// BenchmarkFanoutPublish100 measures the server side of a 1 KB session event to 100
// members: encoding once and queueing to every member (the writers then write
// concurrently). The benchmark waits for delivery between iterations so queues stay
// short, but only the Publish call is timed.
func BenchmarkFanoutPublish100(b *testing.B) {
	e, got := fanoutEnv(b, 100)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e.s.Publish("s1", protocol.EventTranscriptionResult, payload1KB, nil, "")
		b.StopTimer()
		got.wait(b, int64(i+1)*100)
		b.StartTimer()
	}
}

// BenchmarkFanoutDelivered100 times a 1 KB event from Publish until all 100 loopback
// clients (in this process, sharing the CPUs) have read it: an upper bound of the
// server-side cost that includes the clients' own reads.
func BenchmarkFanoutDelivered100(b *testing.B) {
	e, got := fanoutEnv(b, 100)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e.s.Publish("s1", protocol.EventTranscriptionResult, payload1KB, nil, "")
		got.wait(b, int64(i+1)*100)
	}
}
