package e2e

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/earshot-dev/earshot/signaling/protocol"
)

// Event is one frame the client received, with its arrival time.
type Event struct {
	Seq   int
	At    time.Time
	Name  string
	ID    *int
	Data  json.RawMessage
	Error *protocol.Error
}

// envelope is a native frame on the wire.
type envelope struct {
	Event string          `json:"event"`
	ID    *int            `json:"id,omitempty"`
	Data  json.RawMessage `json:"data,omitempty"`
	Error *protocol.Error `json:"error,omitempty"`
}

// Client is a native-endpoint client that records every event it receives.
type Client struct {
	t     testing.TB
	conn  *websocket.Conn
	Hello protocol.ConnectionSuccess

	wmu sync.Mutex

	mu       sync.Mutex
	events   []Event
	changed  chan struct{} // closed and replaced on every new event or on close
	closed   bool
	closeErr error
	nextID   int

	done chan struct{} // read loop ended
}

// Dial connects, authenticates with the Authorization header and waits for
// connection:success. The client is closed at the test's end.
func Dial(t testing.TB, url, token string) *Client {
	t.Helper()
	h := http.Header{}
	h.Set("Authorization", "Bearer "+token)
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	conn, _, err := d.Dial(url, h)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	c := &Client{t: t, conn: conn, changed: make(chan struct{}), done: make(chan struct{})}
	go c.readLoop()
	t.Cleanup(c.Close)
	ev := c.WaitEvent(10*time.Second, func(e Event) bool {
		return e.Name == protocol.EventConnectionSuccess || e.Name == protocol.EventConnectionError
	})
	if ev.Name != protocol.EventConnectionSuccess {
		t.Fatalf("authentication refused: %s", ev.Data)
	}
	if err := json.Unmarshal(ev.Data, &c.Hello); err != nil {
		t.Fatal(err)
	}
	return c
}

func (c *Client) readLoop() {
	defer close(c.done)
	for {
		typ, msg, err := c.conn.ReadMessage()
		if err != nil {
			c.mu.Lock()
			c.closed = true
			c.closeErr = err
			close(c.changed)
			c.changed = make(chan struct{})
			c.mu.Unlock()
			return
		}
		if typ != websocket.TextMessage {
			continue
		}
		at := time.Now()
		var env envelope
		if err := json.Unmarshal(msg, &env); err != nil {
			c.t.Errorf("server sent a frame that is not JSON: %q", msg)
			continue
		}
		c.mu.Lock()
		c.events = append(c.events, Event{Seq: len(c.events), At: at, Name: env.Event, ID: env.ID, Data: env.Data, Error: env.Error})
		close(c.changed)
		c.changed = make(chan struct{})
		c.mu.Unlock()
	}
}

// Close closes the connection and waits for the read loop. Idempotent.
func (c *Client) Close() {
	c.wmu.Lock()
	_ = c.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye"), time.Now().Add(time.Second))
	c.wmu.Unlock()
	select {
	case <-c.done:
	case <-time.After(3 * time.Second):
	}
	_ = c.conn.Close()
	<-c.done
}

// Events returns a copy of every event received so far.
func (c *Client) Events() []Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Event(nil), c.events...)
}

// Len is the number of events received so far: a cursor for WaitEventFrom.
func (c *Client) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.events)
}

// WaitEvent waits for the first event (from the start) matching pred.
func (c *Client) WaitEvent(timeout time.Duration, pred func(Event) bool) Event {
	c.t.Helper()
	return c.WaitEventFrom(0, timeout, pred)
}

// WaitEventFrom waits for the first event with Seq ≥ from matching pred; it fails
// the test at the deadline or when the connection closes first.
func (c *Client) WaitEventFrom(from int, timeout time.Duration, pred func(Event) bool) Event {
	c.t.Helper()
	ev, err := c.waitEventFrom(from, timeout, pred)
	if err != nil {
		c.t.Fatalf("%v; events so far:\n%s", err, c.Dump())
	}
	return ev
}

func (c *Client) waitEventFrom(from int, timeout time.Duration, pred func(Event) bool) (Event, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		for i := from; i < len(c.events); i++ {
			if pred(c.events[i]) {
				ev := c.events[i]
				c.mu.Unlock()
				return ev, nil
			}
		}
		from = len(c.events)
		closed, closeErr, changed := c.closed, c.closeErr, c.changed
		c.mu.Unlock()
		if closed {
			return Event{}, fmt.Errorf("connection closed (%v) before the awaited event", closeErr)
		}
		select {
		case <-changed:
		case <-deadline.C:
			return Event{}, fmt.Errorf("no awaited event within %v", timeout)
		}
	}
}

// WaitClosed waits for the server to close the connection and returns the error the
// read loop saw (a *websocket.CloseError for a close frame).
func (c *Client) WaitClosed(timeout time.Duration) error {
	c.t.Helper()
	select {
	case <-c.done:
	case <-time.After(timeout):
		c.t.Fatalf("connection still open after %v", timeout)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closeErr
}

// Dump renders the events received so far, one a line (long data cut).
func (c *Client) Dump() string {
	var b strings.Builder
	for _, e := range c.Events() {
		d := string(e.Data)
		if len(d) > 300 {
			d = d[:300] + "…"
		}
		fmt.Fprintf(&b, "  #%d %s %s", e.Seq, e.At.Format("15:04:05.000"), e.Name)
		if e.ID != nil {
			fmt.Fprintf(&b, " id=%d", *e.ID)
		}
		if e.Error != nil {
			fmt.Fprintf(&b, " error=%s", e.Error.Error())
		}
		fmt.Fprintf(&b, " %s\n", d)
	}
	return b.String()
}

func (c *Client) write(typ int, b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return c.conn.WriteMessage(typ, b)
}

// Send sends an event without an id.
func (c *Client) Send(event string, data any) {
	c.t.Helper()
	raw, err := json.Marshal(map[string]any{"event": event, "data": data})
	if err != nil {
		c.t.Fatal(err)
	}
	if err := c.write(websocket.TextMessage, raw); err != nil {
		c.t.Fatalf("send %s: %v", event, err)
	}
}

// SendBinary sends a binary audio frame.
func (c *Client) SendBinary(b []byte) {
	c.t.Helper()
	if err := c.write(websocket.BinaryMessage, b); err != nil {
		c.t.Fatalf("send binary: %v", err)
	}
}

// TrySendBinary sends a binary frame and returns the error: for goroutines other
// than the test's.
func (c *Client) TrySendBinary(b []byte) error { return c.write(websocket.BinaryMessage, b) }

// RequestAsync sends an event with a fresh id and returns the id; AwaitAck waits
// for its ack.
func (c *Client) RequestAsync(event string, data any) int {
	c.t.Helper()
	c.mu.Lock()
	c.nextID++
	id := c.nextID
	c.mu.Unlock()
	raw, err := json.Marshal(map[string]any{"event": event, "data": data, "id": id})
	if err != nil {
		c.t.Fatal(err)
	}
	if err := c.write(websocket.TextMessage, raw); err != nil {
		c.t.Fatalf("send %s: %v", event, err)
	}
	return id
}

// AwaitAck waits for the ack of request id and returns it.
func (c *Client) AwaitAck(id int, timeout time.Duration) Event {
	c.t.Helper()
	return c.WaitEvent(timeout, func(e Event) bool {
		return e.Name == protocol.EventAck && e.ID != nil && *e.ID == id
	})
}

// Request sends an event with an id, waits for the ack and fails the test on an
// error ack. It returns the ack's data.
func (c *Client) Request(event string, data any, timeout time.Duration) json.RawMessage {
	c.t.Helper()
	ack := c.AwaitAck(c.RequestAsync(event, data), timeout)
	if ack.Error != nil {
		c.t.Fatalf("%s refused: %s", event, ack.Error.Error())
	}
	return ack.Data
}

// Join joins a session (default pipeline).
func (c *Client) Join(sessionID string) protocol.SessionJoined {
	c.t.Helper()
	var j protocol.SessionJoined
	if err := json.Unmarshal(c.Request(protocol.EventSessionJoin, protocol.SessionJoin{SessionID: sessionID}, 10*time.Second), &j); err != nil {
		c.t.Fatal(err)
	}
	return j
}

// StartAudio sends audio:start and returns the stream id.
func (c *Client) StartAudio(sessionID, format string, rate, channels int) string {
	c.t.Helper()
	var st protocol.AudioStarted
	raw := c.Request(protocol.EventAudioStart, protocol.AudioStart{SessionID: sessionID, Format: format, SampleRate: rate, Channels: channels}, 15*time.Second)
	if err := json.Unmarshal(raw, &st); err != nil || st.StreamID == "" {
		c.t.Fatalf("audio:started %s: %v", raw, err)
	}
	return st.StreamID
}

// StreamBase64 sends one audio:stream event with base64 audio.
func (c *Client) StreamBase64(sessionID, format string, rate, channels int, seq int64, audio []byte) {
	c.t.Helper()
	c.Send(protocol.EventAudioStream, protocol.AudioStream{SessionID: sessionID, Format: format, SampleRate: rate, Channels: channels,
		Sequence: &seq, AudioData: base64.StdEncoding.EncodeToString(audio)})
}

// Results returns the transcription:result events received (in order) with their
// decoded payloads.
func (c *Client) Results() []Result {
	var out []Result
	for _, e := range c.Events() {
		if e.Name != protocol.EventTranscriptionResult {
			continue
		}
		var r protocol.TranscriptionResult
		if err := json.Unmarshal(e.Data, &r); err != nil {
			c.t.Errorf("transcription:result %s: %v", e.Data, err)
			continue
		}
		out = append(out, Result{Event: e, R: r})
	}
	return out
}

// Finals returns the final results received, in order.
func (c *Client) Finals() []Result {
	var out []Result
	for _, r := range c.Results() {
		if r.R.IsFinal {
			out = append(out, r)
		}
	}
	return out
}

// Result is a received transcription:result.
type Result struct {
	Event
	R protocol.TranscriptionResult
}

// Decode decodes the event's data into v.
func (e Event) Decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(e.Data, v); err != nil {
		t.Fatalf("%s: %v: %s", e.Name, err, e.Data)
	}
}

// IsFinalOf matches a final transcription:result of a stream.
func IsFinalOf(streamID string) func(Event) bool {
	return func(e Event) bool {
		if e.Name != protocol.EventTranscriptionResult {
			return false
		}
		var r protocol.TranscriptionResult
		return json.Unmarshal(e.Data, &r) == nil && r.IsFinal && (streamID == "" || r.StreamID == streamID)
	}
}

// WaitFinals waits until c has received the final of every utterance of finals
// (another member's copy can trail the speaker's audio:stop ack: they travel on
// different connections) and returns c's finals of streamID.
func (c *Client) WaitFinals(timeout time.Duration, streamID string, finals []Result) []Result {
	c.t.Helper()
	for _, f := range finals {
		id := f.R.UtteranceID
		c.WaitEvent(timeout, func(e Event) bool {
			var r protocol.TranscriptionResult
			return IsFinalOf(streamID)(e) && json.Unmarshal(e.Data, &r) == nil && r.UtteranceID == id
		})
	}
	return streamResults(c.Finals(), streamID)
}

// Named matches events by name.
func Named(name string) func(Event) bool {
	return func(e Event) bool { return e.Name == name }
}
