package e2e

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// chromiumPath is Debian's chromium (make deps installs it).
const chromiumPath = "/usr/bin/chromium"

// Browser is a headless Chromium process driven over the Chrome DevTools Protocol.
type Browser struct {
	t      testing.TB
	cmd    *exec.Cmd
	cdp    *cdpConn
	stderr *syncBuffer
	drain  sync.WaitGroup // the stderr reader
	pipe   *os.File       // its read end
	exited chan struct{}
	once   sync.Once
}

// StartBrowser launches headless Chromium with a fake microphone playing wav once,
// and connects to its DevTools endpoint. It is stopped at the test's end.
func StartBrowser(t testing.TB, wav string) *Browser {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skipf("%s is not installed (make deps installs Debian's chromium): %v", chromiumPath, err)
	}
	args := []string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir(),
		"--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
		"--use-file-for-fake-audio-capture=" + wav + "%noloop",
		"--allow-loopback-in-peer-connection",
		"--autoplay-policy=no-user-gesture-required",
		"--remote-debugging-port=0",
		"--window-size=1280,900",
		"about:blank",
	}
	b := &Browser{t: t, stderr: &syncBuffer{}, exited: make(chan struct{})}
	b.cmd = exec.Command(chromiumPath, args...)
	b.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	b.cmd.Env = baseEnv()
	// An os.Pipe rather than StderrPipe: Wait must not close it under the reader,
	// which reads until every process of the group has exited.
	pipe, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	b.cmd.Stderr = w
	b.pipe = pipe
	if err := b.cmd.Start(); err != nil {
		pipe.Close()
		w.Close()
		t.Fatalf("start chromium: %v", err)
	}
	w.Close()
	wsURL := make(chan string, 1)
	b.drain.Add(1)
	go func() {
		defer b.drain.Done()
		re := regexp.MustCompile(`DevTools listening on (ws://\S+)`)
		sc := bufio.NewScanner(pipe)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			b.stderr.Write([]byte(line + "\n"))
			if m := re.FindStringSubmatch(line); m != nil {
				select {
				case wsURL <- m[1]:
				default:
				}
			}
		}
		io.Copy(io.Discard, pipe)
	}()
	go func() {
		_ = b.cmd.Wait()
		close(b.exited)
	}()
	t.Cleanup(b.Stop)
	select {
	case u := <-wsURL:
		conn, err := dialCDP(u)
		if err != nil {
			t.Fatalf("connect to chromium's DevTools: %v", err)
		}
		b.cdp = conn
	case <-b.exited:
		t.Fatalf("chromium exited at start:\n%s", b.stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("chromium printed no DevTools address within 30 s:\n%s", b.stderr.String())
	}
	return b
}

// Stop closes the DevTools connection, sends SIGTERM, waits up to 10 s, then kills
// the whole process group (renderers, GPU and utility processes). Idempotent.
func (b *Browser) Stop() {
	b.once.Do(func() {
		if b.cdp != nil {
			b.cdp.close()
		}
		_ = b.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-b.exited:
		case <-time.After(10 * time.Second):
			b.t.Logf("chromium still running 10 s after SIGTERM: killing its process group")
		}
		_ = syscall.Kill(-b.cmd.Process.Pid, syscall.SIGKILL)
		<-b.exited
		// The reader ends when every process holding stderr is gone; a helper that
		// left the process group would keep it open: stop reading after a while.
		drained := make(chan struct{})
		go func() {
			b.drain.Wait()
			close(drained)
		}()
		select {
		case <-drained:
		case <-time.After(5 * time.Second):
			b.t.Errorf("a chromium process outside its process group still holds stderr open")
			b.pipe.Close()
			<-drained
		}
		b.pipe.Close()
	})
}

// Log is Chromium's stderr so far.
func (b *Browser) Log() string { return b.stderr.String() }

// Page is one tab, attached with a flat CDP session.
type Page struct {
	b       *Browser
	session string
}

// NewPage opens a blank tab, attaches to it and enables the Page domain. script, if
// not empty, runs in every document before the page's own scripts.
func (b *Browser) NewPage(ctx context.Context, width, height int, script string) *Page {
	b.t.Helper()
	var created struct {
		TargetID string `json:"targetId"`
	}
	b.must(b.cdp.call(ctx, "", "Target.createTarget", map[string]any{"url": "about:blank"}, &created))
	var attached struct {
		SessionID string `json:"sessionId"`
	}
	b.must(b.cdp.call(ctx, "", "Target.attachToTarget", map[string]any{"targetId": created.TargetID, "flatten": true}, &attached))
	p := &Page{b: b, session: attached.SessionID}
	b.must(p.call(ctx, "Page.enable", nil, nil))
	b.must(p.call(ctx, "Runtime.enable", nil, nil))
	b.must(p.call(ctx, "Emulation.setDeviceMetricsOverride", map[string]any{"width": width, "height": height, "deviceScaleFactor": 1, "mobile": false}, nil))
	if script != "" {
		b.must(p.call(ctx, "Page.addScriptToEvaluateOnNewDocument", map[string]any{"source": script}, nil))
	}
	return p
}

func (b *Browser) must(err error) {
	b.t.Helper()
	if err != nil {
		b.t.Fatalf("%v\n--- chromium stderr ---\n%s", err, tail(b.Log(), 4000))
	}
}

func (p *Page) call(ctx context.Context, method string, params, result any) error {
	return p.b.cdp.call(ctx, p.session, method, params, result)
}

// Navigate loads url.
func (p *Page) Navigate(ctx context.Context, url string) {
	p.b.t.Helper()
	var r struct {
		ErrorText string `json:"errorText"`
	}
	p.b.must(p.call(ctx, "Page.navigate", map[string]any{"url": url}, &r))
	if r.ErrorText != "" {
		p.b.t.Fatalf("navigate: %s", r.ErrorText)
	}
}

// Eval evaluates a JavaScript expression (promises awaited) and decodes its value
// into out.
func (p *Page) Eval(ctx context.Context, expr string, out any) error {
	var r struct {
		Result struct {
			Type  string          `json:"type"`
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text      string `json:"text"`
			Exception *struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	if err := p.call(ctx, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true, "awaitPromise": true}, &r); err != nil {
		return err
	}
	if r.ExceptionDetails != nil {
		msg := r.ExceptionDetails.Text
		if r.ExceptionDetails.Exception != nil {
			msg += " " + r.ExceptionDetails.Exception.Description
		}
		return fmt.Errorf("evaluate %q: %s", expr, msg)
	}
	if out == nil || len(r.Result.Value) == 0 {
		return nil
	}
	return json.Unmarshal(r.Result.Value, out)
}

// Screenshot captures the viewport as PNG.
func (p *Page) Screenshot(ctx context.Context) []byte {
	p.b.t.Helper()
	var r struct {
		Data string `json:"data"`
	}
	p.b.must(p.call(ctx, "Page.captureScreenshot", map[string]any{"format": "png"}, &r))
	png, err := base64.StdEncoding.DecodeString(r.Data)
	if err != nil {
		p.b.t.Fatal(err)
	}
	return png
}

// ---- a minimal CDP connection ----

type cdpMessage struct {
	ID        int             `json:"id,omitempty"`
	Method    string          `json:"method,omitempty"`
	Params    json.RawMessage `json:"params,omitempty"`
	Result    json.RawMessage `json:"result,omitempty"`
	SessionID string          `json:"sessionId,omitempty"`
	Error     *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error,omitempty"`
}

type cdpConn struct {
	ws      *websocket.Conn
	wmu     sync.Mutex
	mu      sync.Mutex
	nextID  int
	pending map[int]chan cdpMessage
	done    chan struct{}
	err     error
}

func dialCDP(url string) (*cdpConn, error) {
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second, ReadBufferSize: 1 << 16}
	ws, _, err := d.Dial(url, nil)
	if err != nil {
		return nil, err
	}
	ws.SetReadLimit(64 << 20) // screenshots
	c := &cdpConn{ws: ws, pending: map[int]chan cdpMessage{}, done: make(chan struct{})}
	go c.readLoop()
	return c, nil
}

func (c *cdpConn) readLoop() {
	defer close(c.done)
	for {
		var m cdpMessage
		if err := c.ws.ReadJSON(&m); err != nil {
			c.mu.Lock()
			c.err = err
			c.mu.Unlock()
			return
		}
		if m.ID == 0 {
			continue // an event: the tests poll state instead
		}
		c.mu.Lock()
		ch := c.pending[m.ID]
		delete(c.pending, m.ID)
		c.mu.Unlock()
		if ch != nil {
			ch <- m
		}
	}
}

func (c *cdpConn) call(ctx context.Context, session, method string, params, result any) error {
	c.mu.Lock()
	c.nextID++
	id := c.nextID
	ch := make(chan cdpMessage, 1)
	c.pending[id] = ch
	c.mu.Unlock()
	msg := map[string]any{"id": id, "method": method}
	if params != nil {
		msg["params"] = params
	}
	if session != "" {
		msg["sessionId"] = session
	}
	c.wmu.Lock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	err := c.ws.WriteJSON(msg)
	c.wmu.Unlock()
	if err != nil {
		return fmt.Errorf("cdp %s: %w", method, err)
	}
	select {
	case m := <-ch:
		if m.Error != nil {
			return fmt.Errorf("cdp %s: %d %s", method, m.Error.Code, m.Error.Message)
		}
		if result != nil && len(m.Result) > 0 {
			return json.Unmarshal(m.Result, result)
		}
		return nil
	case <-c.done:
		return fmt.Errorf("cdp %s: connection closed: %v", method, c.err)
	case <-ctx.Done():
		return fmt.Errorf("cdp %s: %w", method, ctx.Err())
	}
}

func (c *cdpConn) close() {
	c.wmu.Lock()
	_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	c.wmu.Unlock()
	_ = c.ws.Close()
	<-c.done
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
