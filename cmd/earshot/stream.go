package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gorilla/websocket"

	"github.com/earshot-dev/earshot/signaling/protocol"
)

// streamOptions are the flags of `earshot stream`.
type streamOptions struct {
	url, token, listenToken, session, pipeline string
	format                                     string
	rate, channels                             int
	chunk                                      time.Duration
	fast, jsonOut                              bool
	fastBytes, fastFrames                      int
	wait, linger                               time.Duration
	bitrate                                    int
}

func runStream(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("stream", "stream [flags] FILE", stderr)
	var o streamOptions
	fs.StringVar(&o.url, "url", "ws://127.0.0.1:8080/interview", "the daemon's native WebSocket endpoint")
	fs.StringVar(&o.token, "token", os.Getenv("EARSHOT_TOKEN"), "token of the speaking user (default $EARSHOT_TOKEN)")
	fs.StringVar(&o.listenToken, "listen-token", os.Getenv("EARSHOT_LISTEN_TOKEN"), "optional token of a second user (e.g. the candidate) whose connection shows the suggestions sent to that role")
	fs.StringVar(&o.session, "session", "demo", "session id to join")
	fs.StringVar(&o.pipeline, "pipeline", "", "pipeline for a new session (default: the daemon's default)")
	fs.StringVar(&o.format, "format", "", "audio format: wav, webm, ogg, pcm16, f32 (default: from the file name)")
	fs.IntVar(&o.rate, "rate", 16000, "sample rate of pcm16/f32 input")
	fs.IntVar(&o.channels, "channels", 1, "channels of pcm16/f32 input")
	fs.DurationVar(&o.chunk, "chunk", 100*time.Millisecond, "audio per binary frame")
	fs.BoolVar(&o.fast, "fast", false, "send faster than real time, within the daemon's default limits (see --fast-bytes, --fast-frames)")
	fs.IntVar(&o.fastBytes, "fast-bytes", 192<<10, "with --fast: bytes per second at most (the daemon's default per-stream limit is 256 KiB/s)")
	fs.IntVar(&o.fastFrames, "fast-frames", 20, "with --fast: frames per second at most (the daemon's default event limit is 50/s)")
	fs.BoolVar(&o.jsonOut, "json", false, "print every event as a raw JSON line")
	fs.DurationVar(&o.wait, "wait", 60*time.Second, "how long to wait for the drain after the audio has been sent")
	fs.DurationVar(&o.linger, "linger", 3*time.Second, "how long to keep listening for suggestions after the drain")
	fs.IntVar(&o.bitrate, "bitrate", 128000, "assumed bit rate for pacing webm input (ogg and wav are paced exactly)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return &exitError{code: 2, err: errors.New("give exactly one audio file")}
	}
	if o.token == "" {
		return &exitError{code: 2, err: errors.New("--token (or $EARSHOT_TOKEN) is required; `earshot token --sub you --role interviewer` mints one")}
	}
	if err := o.check(); err != nil {
		return &exitError{code: 2, err: err}
	}
	path := fs.Arg(0)
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if o.format == "" {
		o.format = formatFromName(path)
	}
	chunks, err := paceChunks(data, o)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return streamFile(ctx, o, chunks, newPrinter(stdout, o.jsonOut))
}

// Bounds of the pacing flags: a frame shorter than 10 ms would spend the daemon's
// event budget (50 frames a second by default) on a fifth of real time.
const (
	minChunk    = 10 * time.Millisecond
	maxChunk    = 10 * time.Second
	maxRate     = 384000
	maxChannels = 32
)

// check refuses flag values that cannot pace a stream.
func (o streamOptions) check() error {
	switch {
	case o.chunk < minChunk || o.chunk > maxChunk:
		return fmt.Errorf("--chunk %v is outside %v..%v", o.chunk, minChunk, maxChunk)
	case o.rate < 1 || o.rate > maxRate:
		return fmt.Errorf("--rate %d is outside 1..%d", o.rate, maxRate)
	case o.channels < 1 || o.channels > maxChannels:
		return fmt.Errorf("--channels %d is outside 1..%d", o.channels, maxChannels)
	case o.bitrate < 8:
		return fmt.Errorf("--bitrate %d is below 8 bits per second", o.bitrate)
	}
	return nil
}

// fastDue is when frame i may be sent in --fast mode, after `sent` bytes: no faster
// than frames and bytes per second allow (non-positive limits are not applied).
func fastDue(i, sent, frames, bytes int) time.Duration {
	var due time.Duration
	if frames > 0 {
		due = time.Duration(i) * time.Second / time.Duration(frames)
	}
	if bytes > 0 {
		due = max(due, time.Duration(int64(sent)*int64(time.Second)/int64(bytes)))
	}
	return due
}

func formatFromName(path string) string {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".webm", ".weba", ".mkv":
		return protocol.FormatWebM
	case ".ogg", ".opus", ".oga":
		return protocol.FormatOgg
	case ".f32":
		return protocol.FormatF32
	case ".pcm", ".raw", ".s16":
		return protocol.FormatPCM16
	default:
		return protocol.FormatWAV
	}
}

// timedChunk is a piece of the file and the media time at which it may be sent.
type timedChunk struct {
	at   time.Duration
	data []byte
}

// paceChunks cuts the file into frames and gives each the media time of its end,
// so that sending at that time reproduces a live source.
func paceChunks(data []byte, o streamOptions) ([]timedChunk, error) {
	switch o.format {
	case protocol.FormatWAV:
		rate, ch, bits, off, err := wavInfo(data)
		if err != nil {
			return nil, err
		}
		return cutByRate(data, off, rate*ch*bits/8, o.chunk, ch*bits/8)
	case protocol.FormatPCM16:
		return cutByRate(data, 0, o.rate*o.channels*2, o.chunk, o.channels*2)
	case protocol.FormatF32:
		return cutByRate(data, 0, o.rate*o.channels*4, o.chunk, o.channels*4)
	case protocol.FormatOgg:
		return oggPages(data)
	case protocol.FormatWebM:
		return cutByRate(data, 0, o.bitrate/8, o.chunk, 1)
	default:
		return nil, fmt.Errorf("unsupported --format %q (want wav, webm, ogg, pcm16 or f32)", o.format)
	}
}

// cutByRate cuts data into frames of about `per` of media at bytesPerSec. The first
// frame also carries the header bytes before off.
func cutByRate(data []byte, off, bytesPerSec int, per time.Duration, align int) ([]timedChunk, error) {
	if bytesPerSec <= 0 {
		return nil, fmt.Errorf("cannot pace audio at %d bytes per second", bytesPerSec)
	}
	if align < 1 {
		align = 1
	}
	n := int(int64(bytesPerSec) * int64(per) / int64(time.Second))
	n -= n % align
	if n < align {
		n = align
	}
	var out []timedChunk
	start := 0
	for pos := off; pos < len(data) || start == 0; pos += n {
		end := min(pos+n, len(data))
		at := time.Duration(int64(end-off) * int64(time.Second) / int64(bytesPerSec))
		out = append(out, timedChunk{at: at, data: data[start:end]})
		start = end
		if end == len(data) {
			break
		}
	}
	return out, nil
}

// wavInfo reads a RIFF/WAVE header: rate, channels, bits per sample and the offset
// of the sample data.
func wavInfo(b []byte) (rate, channels, bits, dataOff int, err error) {
	if len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return 0, 0, 0, 0, errors.New("not a WAV file (no RIFF/WAVE header)")
	}
	for p := 12; p+8 <= len(b); {
		id, size := string(b[p:p+4]), int(binary.LittleEndian.Uint32(b[p+4:p+8]))
		body := p + 8
		switch id {
		case "fmt ":
			if body+16 > len(b) {
				return 0, 0, 0, 0, errors.New("truncated WAV fmt chunk")
			}
			channels = int(binary.LittleEndian.Uint16(b[body+2:]))
			rate = int(binary.LittleEndian.Uint32(b[body+4:]))
			bits = int(binary.LittleEndian.Uint16(b[body+14:]))
		case "data":
			if rate == 0 || channels == 0 || bits == 0 {
				return 0, 0, 0, 0, errors.New("WAV data chunk before fmt chunk, or a fmt chunk with a zero rate, channel count or sample size")
			}
			if bits%8 != 0 || bits > 64 || rate > maxRate || channels > maxChannels {
				return 0, 0, 0, 0, fmt.Errorf("WAV format not paceable: %d Hz, %d channels, %d bits", rate, channels, bits)
			}
			return rate, channels, bits, body, nil
		}
		p = body + size + size%2
	}
	return 0, 0, 0, 0, errors.New("WAV file has no data chunk")
}

// oggPages cuts an Ogg stream at page boundaries and paces each page by its
// granule position (48 kHz for Opus).
func oggPages(b []byte) ([]timedChunk, error) {
	var out []timedChunk
	for p := 0; p < len(b); {
		if p+27 > len(b) || string(b[p:p+4]) != "OggS" {
			return nil, fmt.Errorf("not an Ogg stream at byte %d", p)
		}
		granule := int64(binary.LittleEndian.Uint64(b[p+6:]))
		nseg := int(b[p+26])
		if p+27+nseg > len(b) {
			return nil, errors.New("truncated Ogg page")
		}
		size := 27 + nseg
		for _, l := range b[p+27 : p+27+nseg] {
			size += int(l)
		}
		if p+size > len(b) {
			return nil, errors.New("truncated Ogg page")
		}
		var at time.Duration
		if granule > 0 {
			at = time.Duration(granule * int64(time.Second) / 48000)
		} else if len(out) > 0 {
			at = out[len(out)-1].at
		}
		out = append(out, timedChunk{at: at, data: b[p : p+size]})
		p += size
	}
	return out, nil
}

// streamClient is one authenticated connection to the native endpoint.
type streamClient struct {
	conn   *websocket.Conn
	wmu    sync.Mutex
	nextID int
	acks   map[int]chan envelope
	amu    sync.Mutex
	events chan envelope
}

// envelope is a native frame.
type envelope struct {
	Event string          `json:"event"`
	ID    *int            `json:"id,omitempty"`
	Data  json.RawMessage `json:"data,omitempty"`
	Error *protocol.Error `json:"error,omitempty"`
}

func dialStream(ctx context.Context, url, token string) (*streamClient, error) {
	h := http.Header{}
	h.Set("Authorization", "Bearer "+token)
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	conn, resp, err := d.DialContext(ctx, url, h)
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("connect %s: %s", url, resp.Status)
		}
		return nil, fmt.Errorf("connect %s: %w", url, err)
	}
	c := &streamClient{conn: conn, acks: map[int]chan envelope{}, events: make(chan envelope, 1024)}
	go c.readLoop()
	// The first event is connection:success or connection:error.
	select {
	case ev, ok := <-c.events:
		if !ok {
			return nil, errors.New("connection closed before authentication")
		}
		if ev.Event == protocol.EventConnectionError {
			var e protocol.Error
			_ = json.Unmarshal(ev.Data, &e)
			conn.Close()
			return nil, fmt.Errorf("authentication refused: %s", e.Error())
		}
		if ev.Event != protocol.EventConnectionSuccess {
			conn.Close()
			return nil, fmt.Errorf("unexpected first event %q", ev.Event)
		}
		return c, nil
	case <-ctx.Done():
		conn.Close()
		return nil, ctx.Err()
	}
}

// readLoop owns reading; it ends when the connection closes and then closes events.
func (c *streamClient) readLoop() {
	defer close(c.events)
	for {
		typ, msg, err := c.conn.ReadMessage()
		if err != nil {
			return
		}
		if typ != websocket.TextMessage {
			continue
		}
		var ev envelope
		if json.Unmarshal(msg, &ev) != nil {
			continue
		}
		if ev.Event == protocol.EventAck && ev.ID != nil {
			c.amu.Lock()
			ch := c.acks[*ev.ID]
			delete(c.acks, *ev.ID)
			c.amu.Unlock()
			if ch != nil {
				ch <- ev
			}
			continue
		}
		c.events <- ev
	}
}

// request sends an event with an id and waits for its ack.
func (c *streamClient) request(ctx context.Context, event string, data any) (json.RawMessage, error) {
	c.amu.Lock()
	c.nextID++
	id := c.nextID
	ch := make(chan envelope, 1)
	c.acks[id] = ch
	c.amu.Unlock()
	raw, err := json.Marshal(map[string]any{"event": event, "data": data, "id": id})
	if err != nil {
		return nil, err
	}
	if err := c.write(websocket.TextMessage, raw); err != nil {
		return nil, err
	}
	select {
	case ack := <-ch:
		if ack.Error != nil {
			return nil, ack.Error
		}
		return ack.Data, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("%s: no answer: %w", event, ctx.Err())
	}
}

func (c *streamClient) write(typ int, b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return c.conn.WriteMessage(typ, b)
}

func (c *streamClient) close() {
	c.wmu.Lock()
	_ = c.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye"), time.Now().Add(time.Second))
	c.wmu.Unlock()
	_ = c.conn.Close()
}

func streamFile(ctx context.Context, o streamOptions, chunks []timedChunk, pr *printer) error {
	speaker, err := dialStream(ctx, o.url, o.token)
	if err != nil {
		return err
	}
	defer speaker.close()
	var listener *streamClient
	if o.listenToken != "" {
		if listener, err = dialStream(ctx, o.url, o.listenToken); err != nil {
			return fmt.Errorf("listen-token: %w", err)
		}
		defer listener.close()
	}
	join := protocol.SessionJoin{SessionID: o.session, Pipeline: o.pipeline}
	jctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := speaker.request(jctx, protocol.EventSessionJoin, join); err != nil {
		return fmt.Errorf("join %s: %w", o.session, err)
	}
	if listener != nil {
		if _, err := listener.request(jctx, protocol.EventSessionJoin, join); err != nil {
			return fmt.Errorf("join %s (listener): %w", o.session, err)
		}
	}
	var printing sync.WaitGroup
	for _, c := range []*streamClient{speaker, listener} {
		if c == nil {
			continue
		}
		printing.Add(1)
		go func(c *streamClient) {
			defer printing.Done()
			for ev := range c.events {
				pr.event(ev, c == listener)
			}
		}(c)
	}
	start := protocol.AudioStart{SessionID: o.session, Format: o.format}
	if o.format == protocol.FormatPCM16 || o.format == protocol.FormatF32 {
		start.SampleRate, start.Channels = o.rate, o.channels
	}
	if _, err := speaker.request(jctx, protocol.EventAudioStart, start); err != nil {
		return fmt.Errorf("audio:start: %w", err)
	}
	began := time.Now()
	sent := 0
	for i, ch := range chunks {
		due := ch.at
		if o.fast {
			due = fastDue(i, sent, o.fastFrames, o.fastBytes)
		}
		if d := time.Until(began.Add(due)); d > 0 {
			select {
			case <-time.After(d):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if err := speaker.write(websocket.BinaryMessage, ch.data); err != nil {
			return fmt.Errorf("send audio: %w", err)
		}
		sent += len(ch.data)
	}
	sctx, scancel := context.WithTimeout(ctx, o.wait)
	defer scancel()
	if _, err := speaker.request(sctx, protocol.EventAudioStop, protocol.SessionRef{SessionID: o.session}); err != nil {
		return fmt.Errorf("audio:stop: %w", err)
	}
	select {
	case <-time.After(o.linger):
	case <-ctx.Done():
	}
	speaker.close()
	if listener != nil {
		listener.close()
	}
	printing.Wait()
	pr.flush()
	return nil
}

// printer renders events: partials updated in place on a terminal, finals on their
// own lines, suggestions as lists; or raw JSON lines.
type printer struct {
	mu       sync.Mutex
	w        io.Writer
	jsonOut  bool
	terminal bool
	partial  bool
}

func newPrinter(w io.Writer, jsonOut bool) *printer {
	p := &printer{w: w, jsonOut: jsonOut}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.terminal = true
		}
	}
	return p
}

func (p *printer) event(ev envelope, fromListener bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.jsonOut {
		line, _ := json.Marshal(ev)
		fmt.Fprintf(p.w, "%s\n", line)
		return
	}
	switch ev.Event {
	case protocol.EventTranscriptionResult:
		if fromListener {
			return // the speaker's connection prints the transcript
		}
		var r protocol.TranscriptionResult
		if json.Unmarshal(ev.Data, &r) != nil {
			return
		}
		if r.IsFinal {
			p.clearPartial()
			fmt.Fprintf(p.w, "[%s %6.2fs] %s\n", r.UserID, float64(r.StartMs)/1000, r.Text)
		} else if p.terminal {
			fmt.Fprintf(p.w, "\r\033[K… %s", r.Text)
			p.partial = true
		}
	case protocol.EventSuggestions:
		var s protocol.Suggestions
		if json.Unmarshal(ev.Data, &s) != nil || !s.Final {
			return // a streamed set is printed once, when complete
		}
		p.clearPartial()
		var b bytes.Buffer
		fmt.Fprintf(&b, "  suggestions (%s) for %q:\n", s.Source, s.Question)
		for _, sg := range s.Suggestions {
			fmt.Fprintf(&b, "    - [%s] %s\n", sg.Kind, sg.Text)
		}
		p.w.Write(b.Bytes())
	case protocol.EventTranscriptionError, protocol.EventAudioError, protocol.EventSessionError, protocol.EventError:
		p.clearPartial()
		fmt.Fprintf(p.w, "! %s %s\n", ev.Event, ev.Data)
	}
}

func (p *printer) clearPartial() {
	if p.partial {
		fmt.Fprint(p.w, "\r\033[K")
		p.partial = false
	}
}

func (p *printer) flush() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearPartial()
}
