package signaling

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/hashicorp/go-hclog"
	"go.uber.org/goleak"

	"github.com/earshot-dev/earshot/signaling/auth"
	"github.com/earshot-dev/earshot/signaling/protocol"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var testSecret = []byte("0123456789abcdef0123456789abcdef-test-secret")

const waitLimit = 5 * time.Second

// env is one gateway on a loopback httptest server.
type env struct {
	t     testing.TB
	s     *Server
	hs    *httptest.Server
	media *fakeMedia
	url   string // ws://127.0.0.1:port
}

// in returns e reporting to t: a subtest dials and connects with e.in(t), so that
// a failure in a helper or a client fails the subtest, not its parent (FailNow
// must be called from the test's own goroutine).
func (e *env) in(t testing.TB) *env {
	c := *e
	c.t = t
	return &c
}

func newEnv(t testing.TB, tweak func(*Options)) *env {
	t.Helper()
	v, err := auth.NewValidator(auth.Config{HMACSecret: testSecret, Leeway: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	media := newFakeMedia()
	opts := Options{
		Logger:         hclog.New(&hclog.LoggerOptions{Level: hclog.Warn, Output: testWriter{t}}),
		Auth:           v,
		AllowedOrigins: []string{"http://localhost:3000"},
		Media:          media,
	}
	if tweak != nil {
		tweak(&opts)
	}
	s, err := NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	media.pub = s
	hs := httptest.NewServer(s.Handler())
	e := &env{t: t, s: s, hs: hs, media: media, url: "ws" + strings.TrimPrefix(hs.URL, "http")}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		hs.Close()
	})
	return e
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func (e *env) token(sub, role string, mod ...func(*auth.Claims)) string {
	e.t.Helper()
	c := auth.Claims{Subject: sub, Name: strings.ToUpper(sub[:1]) + sub[1:], Role: role}
	for _, m := range mod {
		m(&c)
	}
	tok, err := auth.Mint(testSecret, c, time.Hour)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// frame is one message a test client received.
type frame struct {
	Event string          `json:"event"`
	Data  json.RawMessage `json:"data"`
	ID    *int64          `json:"id"`
	Error *protocol.Error `json:"error"`
	raw   []byte
}

// client is a real gorilla WebSocket client with a reader goroutine.
type client struct {
	t      testing.TB
	ws     *websocket.Conn
	frames chan frame
	closed chan struct{}
	mu     sync.Mutex
	err    error // the read error that ended the client
	nextID int64
}

func (e *env) dialRaw(path string, h http.Header) (*websocket.Conn, *http.Response, error) {
	d := websocket.Dialer{HandshakeTimeout: waitLimit}
	return d.Dial(e.url+path, h)
}

// dial connects to /interview without authenticating.
func (e *env) dial(path string, h http.Header) *client {
	e.t.Helper()
	ws, _, err := e.dialRaw(path, h)
	if err != nil {
		e.t.Fatalf("dial %s: %v", path, err)
	}
	return startClient(e.t, ws, nil)
}

// connect dials with a bearer header and waits for connection:success.
func (e *env) connect(sub, role string, mod ...func(*auth.Claims)) *client {
	e.t.Helper()
	h := http.Header{"Authorization": {"Bearer " + e.token(sub, role, mod...)}}
	c := e.dial("/interview", h)
	c.expect(protocol.EventConnectionSuccess)
	return c
}

func startClient(t testing.TB, ws *websocket.Conn, decode func([]byte) []frame) *client {
	c := &client{t: t, ws: ws, frames: make(chan frame, 4096), closed: make(chan struct{})}
	go func() {
		defer close(c.closed)
		defer close(c.frames)
		for {
			mt, b, err := ws.ReadMessage()
			if err != nil {
				c.mu.Lock()
				c.err = err
				c.mu.Unlock()
				return
			}
			if mt == websocket.BinaryMessage {
				c.frames <- frame{Event: "<binary>", raw: b}
				continue
			}
			if decode != nil {
				for _, f := range decode(b) {
					c.frames <- f
				}
				continue
			}
			var f frame
			if err := json.Unmarshal(b, &f); err != nil {
				t.Errorf("server sent invalid JSON %q: %v", b, err)
			}
			f.raw = b
			c.frames <- f
		}
	}()
	t.Cleanup(func() {
		_ = ws.Close()
		<-c.closed
	})
	return c
}

func (c *client) send(event string, data any) {
	c.t.Helper()
	b, _ := json.Marshal(map[string]any{"event": event, "data": data})
	c.sendRaw(b)
}

// churn joins and leaves each session in turn: each join creates the session,
// each leave leaves it empty.
func (c *client) churn(ids ...string) {
	c.t.Helper()
	for _, id := range ids {
		c.send(protocol.EventSessionJoin, map[string]string{"sessionId": id})
		c.expect(protocol.EventSessionJoined)
		c.send(protocol.EventSessionLeave, map[string]string{"sessionId": id})
		c.expect(protocol.EventSessionLeft)
	}
}

// request sends an event with an id and returns the id.
func (c *client) request(event string, data any) int64 {
	c.t.Helper()
	c.nextID++
	b, _ := json.Marshal(map[string]any{"event": event, "data": data, "id": c.nextID})
	c.sendRaw(b)
	return c.nextID
}

func (c *client) sendRaw(b []byte) {
	c.t.Helper()
	_ = c.ws.SetWriteDeadline(time.Now().Add(waitLimit))
	if err := c.ws.WriteMessage(websocket.TextMessage, b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

func (c *client) sendBinary(b []byte) {
	c.t.Helper()
	_ = c.ws.SetWriteDeadline(time.Now().Add(waitLimit))
	if err := c.ws.WriteMessage(websocket.BinaryMessage, b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// next returns the next frame or fails after waitLimit.
func (c *client) next() frame {
	c.t.Helper()
	select {
	case f, ok := <-c.frames:
		if !ok {
			c.t.Fatalf("connection closed while waiting for a frame: %v", c.readErr())
		}
		return f
	case <-time.After(waitLimit):
		c.t.Fatalf("no frame within %s", waitLimit)
	}
	return frame{}
}

// expect returns the next frame and fails unless it is event.
func (c *client) expect(event string) frame {
	c.t.Helper()
	f := c.next()
	if f.Event != event {
		c.t.Fatalf("got %s %s, want %s", f.Event, f.raw, event)
	}
	return f
}

// expectErr expects an error event with code.
func (c *client) expectErr(event, code string) protocol.Error {
	c.t.Helper()
	f := c.expect(event)
	var e protocol.Error
	if err := json.Unmarshal(f.Data, &e); err != nil {
		c.t.Fatal(err)
	}
	if e.Code != code {
		c.t.Fatalf("%s code %s (%s), want %s", event, e.Code, e.Message, code)
	}
	return e
}

// expectAck expects the ack of id and returns it.
func (c *client) expectAck(id int64) frame {
	c.t.Helper()
	f := c.expect(protocol.EventAck)
	if f.ID == nil || *f.ID != id {
		c.t.Fatalf("ack %s, want id %d", f.raw, id)
	}
	return f
}

// waitFor skips frames until event arrives.
func (c *client) waitFor(event string) frame {
	c.t.Helper()
	deadline := time.After(waitLimit)
	for {
		select {
		case f, ok := <-c.frames:
			if !ok {
				c.t.Fatalf("connection closed while waiting for %s: %v", event, c.readErr())
			}
			if f.Event == event {
				return f
			}
		case <-deadline:
			c.t.Fatalf("no %s within %s", event, waitLimit)
		}
	}
}

// expectQuiet asserts nothing arrives (used after a sentinel round trip, never alone
// for correctness).
func (c *client) expectNone() {
	c.t.Helper()
	select {
	case f, ok := <-c.frames:
		if ok {
			c.t.Fatalf("unexpected frame %s %s", f.Event, f.raw)
		}
	default:
	}
}

// sync makes a round trip (an unknown-event request) so every frame the server sent
// before it has been received.
func (c *client) sync() {
	c.t.Helper()
	id := c.request("test:sync", nil)
	for {
		f := c.next()
		if f.Event == protocol.EventAck && f.ID != nil && *f.ID == id {
			return
		}
		if f.Event != protocol.EventError {
			c.t.Fatalf("unexpected frame before sync: %s %s", f.Event, f.raw)
		}
	}
}

func (c *client) readErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// expectClose waits for the connection to end and returns the close code.
func (c *client) expectClose() int {
	c.t.Helper()
	deadline := time.After(waitLimit)
	for {
		select {
		case _, ok := <-c.frames:
			if !ok {
				var ce *websocket.CloseError
				err := c.readErr()
				if e, isClose := err.(*websocket.CloseError); isClose {
					ce = e
					return ce.Code
				}
				c.t.Fatalf("connection ended without a close frame: %v", err)
			}
		case <-deadline:
			c.t.Fatalf("connection not closed within %s", waitLimit)
		}
	}
}

func decodeInto[T any](t *testing.T, raw json.RawMessage) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
	return v
}

// --- fake Media ------------------------------------------------------------

type publisher interface {
	Publish(sessionID, event string, payload any, roles []string, exceptUserID string)
}

// fakeMedia records calls and publishes canned results through the gateway.
type fakeMedia struct {
	pub publisher

	mu      sync.Mutex
	calls   []string
	written map[string][]byte // stream id → bytes
	closed  []string
	n       int
}

func newFakeMedia() *fakeMedia { return &fakeMedia{written: map[string][]byte{}} }

func (m *fakeMedia) record(call string) {
	m.mu.Lock()
	m.calls = append(m.calls, call)
	m.mu.Unlock()
}

func (m *fakeMedia) HasPipeline(name string) bool { return name == "interview" || name == "other" }
func (m *fakeMedia) DefaultPipeline() string      { return "interview" }

func (m *fakeMedia) OpenStream(_ context.Context, spec protocol.StreamSpec) (MediaStream, error) {
	if spec.Format == protocol.FormatWAV && spec.SampleRate == 1234 {
		return nil, protocol.Errorf(protocol.CodeInvalidAudio, "fake refuses this stream")
	}
	m.mu.Lock()
	m.n++
	id := "st-" + string(rune('0'+m.n%10))
	m.mu.Unlock()
	m.record("open " + spec.SessionID + " " + spec.UserID + " " + spec.Format + " " + spec.Pipeline)
	return &fakeStream{m: m, id: id, spec: spec}, nil
}

func (m *fakeMedia) TranscribeClip(_ context.Context, spec protocol.StreamSpec, audio []byte, requestID string) error {
	m.record("clip " + spec.SessionID + " " + requestID)
	rid := requestID
	m.pub.Publish(spec.SessionID, protocol.EventTranscriptionResult, protocol.TranscriptionResult{
		SessionID: spec.SessionID, StreamID: "clip", UserID: spec.UserID, Role: spec.Role, UtteranceID: "clip-1",
		Revision: 1, Text: "clip of " + string(rune('0'+len(audio)%10)), IsFinal: true, RequestID: &rid, Words: []protocol.Word{}}, nil, "")
	return nil
}

func (m *fakeMedia) CloseSession(id string) {
	m.mu.Lock()
	m.closed = append(m.closed, id)
	m.mu.Unlock()
}

func (m *fakeMedia) bytesOf(id string) []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]byte(nil), m.written[id]...)
}

func (m *fakeMedia) closedSessions() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.closed...)
}

type fakeStream struct {
	m    *fakeMedia
	id   string
	spec protocol.StreamSpec
}

func (s *fakeStream) ID() string { return s.id }

func (s *fakeStream) Write(_ context.Context, audio []byte) error {
	if string(audio) == "bad" {
		return protocol.Errorf(protocol.CodeInvalidAudio, "fake: bad audio")
	}
	s.m.mu.Lock()
	s.m.written[s.id] = append(s.m.written[s.id], audio...)
	s.m.mu.Unlock()
	return nil
}

func (s *fakeStream) Finalize(context.Context) error {
	s.m.record("finalize " + s.id)
	return nil
}

// Stop publishes the stream's final (every byte written, as text) before returning,
// as the runtime's drain does.
func (s *fakeStream) Stop(context.Context) error {
	s.m.record("stop " + s.id)
	s.m.pub.Publish(s.spec.SessionID, protocol.EventTranscriptionResult, protocol.TranscriptionResult{
		SessionID: s.spec.SessionID, StreamID: s.id, UserID: s.spec.UserID, Role: s.spec.Role,
		UtteranceID: s.id + "-1", Revision: 1, Text: string(s.m.bytesOf(s.id)), IsFinal: true, Words: []protocol.Word{}}, nil, "")
	return nil
}
