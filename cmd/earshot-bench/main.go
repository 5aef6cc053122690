// Command earshot-bench measures the signaling gateway on this machine: memory per
// idle authenticated connection and the join → joined round trip under load.
//
//	earshot-bench memory -n 10000          # Go heap+stacks and RSS per idle connection
//	earshot-bench join -n 1000 -rounds 2000 # join → joined p50/p99 with 1,000 clients connected
//
// Both start a gateway in this process on 127.0.0.1 and run the load clients in a
// child process (this binary, subcommand "dial"), so the server's memory is measured
// alone. The fan-out figure is a Go benchmark:
//
//	go test -run '^$' -bench Fanout ./signaling/
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"

	"github.com/earshot-dev/earshot/signaling"
	"github.com/earshot-dev/earshot/signaling/auth"
	"github.com/earshot-dev/earshot/signaling/protocol"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "memory":
		err = runMemory(os.Args[2:])
	case "join":
		err = runJoin(os.Args[2:])
	case "dial":
		err = runDial(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "earshot-bench:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: earshot-bench memory|join [flags]   (see -h of each)")
	os.Exit(2)
}

// raiseFileLimit lifts RLIMIT_NOFILE to its hard limit: 10,000 connections need more
// descriptors than the usual soft limit of 1024.
func raiseFileLimit(need uint64) error {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return err
	}
	if rl.Cur < rl.Max {
		rl.Cur = rl.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
			return err
		}
	}
	if rl.Cur < need {
		return fmt.Errorf("open-file limit is %d, need about %d: raise the hard limit (ulimit -Hn) first", rl.Cur, need)
	}
	return nil
}

// gateway is a server under test on a loopback port.
type gateway struct {
	srv    *signaling.Server
	url    string
	secret string
	cancel context.CancelFunc
	done   chan error
}

func startGateway(maxUsers int) (*gateway, error) {
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	v, err := auth.NewValidator(auth.Config{HMACSecret: secret})
	if err != nil {
		return nil, err
	}
	// The probe sends back-to-back requests: lift the per-connection event rate limit.
	srv, err := signaling.NewServer(signaling.Options{Auth: v, MaxUsersPerSession: maxUsers, MaxSessionsPerConn: 4,
		EventRate: 1e6, EventBurst: 1e6})
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	g := &gateway{srv: srv, url: "ws://" + ln.Addr().String() + "/interview", secret: hex.EncodeToString(secret), cancel: cancel, done: make(chan error, 1)}
	go func() { g.done <- srv.Serve(ctx, ln) }()
	return g, nil
}

func (g *gateway) stop() error {
	g.cancel()
	return <-g.done
}

// child runs "earshot-bench dial" and waits for its "ready" line.
type child struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
}

func startDialer(g *gateway, n, sessions int) (*child, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, "dial", "-url", g.url, "-secret", g.secret, "-n", strconv.Itoa(n), "-sessions", strconv.Itoa(sessions))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "ready") {
			go func() { _, _ = io.Copy(io.Discard, stdout) }()
			return &child{cmd: cmd, stdin: stdin}, nil
		}
		fmt.Fprintln(os.Stderr, "dial:", line)
	}
	_ = cmd.Wait()
	return nil, errors.New("load client exited before it was ready")
}

func (c *child) stop() {
	_ = c.stdin.Close()
	_ = c.cmd.Wait()
}

// memSample is the Go runtime's view plus the kernel's.
type memSample struct {
	heapObjects, stacks, total uint64
	goroutines                 uint64
	rss                        uint64
}

func sampleMemory() memSample {
	runtime.GC()
	debug.FreeOSMemory() // returns freed spans, so RSS reflects what is live
	samples := []metrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/heap/stacks:bytes"},
		{Name: "/memory/classes/total:bytes"},
		{Name: "/sched/goroutines:goroutines"},
	}
	metrics.Read(samples)
	m := memSample{
		heapObjects: samples[0].Value.Uint64(),
		stacks:      samples[1].Value.Uint64(),
		total:       samples[2].Value.Uint64(),
		goroutines:  samples[3].Value.Uint64(),
	}
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
				kb, _ := strconv.ParseUint(f[1], 10, 64)
				m.rss = kb * 1024
			}
		}
	}
	return m
}

// check is one flag condition: msg is the error when ok is false.
type check struct {
	ok  bool
	msg string
}

// checkFlags reports stray positional arguments and the first failed check.
func checkFlags(fs *flag.FlagSet, checks ...check) error {
	if fs.NArg() > 0 {
		return fmt.Errorf("%s: unexpected arguments %q", fs.Name(), fs.Args())
	}
	for _, c := range checks {
		if !c.ok {
			return fmt.Errorf("%s: %s", fs.Name(), c.msg)
		}
	}
	return nil
}

func perConn(after, before uint64, n int) float64 {
	return (float64(after) - float64(before)) / float64(n) / 1024
}

func runMemory(args []string) error {
	fs := flag.NewFlagSet("memory", flag.ExitOnError)
	n := fs.Int("n", 10000, "idle authenticated connections")
	settle := fs.Duration("settle", 3*time.Second, "wait after the last connection before measuring")
	joinSessions := fs.Int("sessions", 0, "also join each connection to one of this many sessions (0: authenticated only)")
	_ = fs.Parse(args)
	if err := checkFlags(fs,
		check{*n >= 1, "-n must be at least 1"},
		check{*joinSessions >= 0, "-sessions must not be negative"},
		check{*settle >= 0, "-settle must not be negative"},
	); err != nil {
		return err
	}
	if err := raiseFileLimit(uint64(*n + 256)); err != nil {
		return err
	}
	g, err := startGateway(max(16, *n/max(*joinSessions, 1)+1))
	if err != nil {
		return err
	}
	before := sampleMemory()
	start := time.Now()
	ch, err := startDialer(g, *n, *joinSessions)
	if err != nil {
		_ = g.stop()
		return err
	}
	connected := time.Since(start)
	// Let per-connection start-up garbage (handler stacks, upgrade buffers) be
	// collected and stacks shrink before measuring.
	time.Sleep(*settle)
	runtime.GC()
	after := sampleMemory()
	// Read after settling, next to the sample: the figures below are per connection
	// and mean nothing unless the server holds exactly the n connections measured.
	st := g.srv.Stats()
	if st.Connections != *n {
		ch.stop()
		_ = g.stop()
		return fmt.Errorf("the server holds %d connections, want %d: not measuring", st.Connections, *n)
	}
	fmt.Printf("connections: %d authenticated (server sees %d) in %s\n", *n, st.Connections, connected.Round(time.Millisecond))
	fmt.Printf("goroutines:  %d → %d (%.2f per connection)\n", before.goroutines, after.goroutines,
		float64(int64(after.goroutines)-int64(before.goroutines))/float64(*n))
	fmt.Printf("Go heap objects: %.2f KiB/conn\n", perConn(after.heapObjects, before.heapObjects, *n))
	fmt.Printf("Go stacks:       %.2f KiB/conn\n", perConn(after.stacks, before.stacks, *n))
	fmt.Printf("Go heap+stacks:  %.2f KiB/conn   (target ≤ 16)\n", perConn(after.heapObjects+after.stacks, before.heapObjects+before.stacks, *n))
	fmt.Printf("Go total (runtime/metrics /memory/classes/total): %.2f KiB/conn\n", perConn(after.total, before.total, *n))
	fmt.Printf("process RSS:     %.2f KiB/conn   (%.1f MiB → %.1f MiB)\n", perConn(after.rss, before.rss, *n),
		float64(before.rss)/(1<<20), float64(after.rss)/(1<<20))
	ch.stop()
	return g.stop()
}

func runJoin(args []string) error {
	fs := flag.NewFlagSet("join", flag.ExitOnError)
	n := fs.Int("n", 1000, "connected clients besides the probe")
	sessions := fs.Int("sessions", 100, "the clients are spread over this many sessions (joins broadcast user:joined to their members)")
	rounds := fs.Int("rounds", 2000, "join/leave rounds of the probe")
	_ = fs.Parse(args)
	if err := checkFlags(fs,
		check{*n >= 0, "-n must not be negative"},
		check{*sessions >= 0, "-sessions must not be negative"},
		check{*rounds >= 1, "-rounds must be at least 1"},
	); err != nil {
		return err
	}
	if err := raiseFileLimit(uint64(*n + 256)); err != nil {
		return err
	}
	g, err := startGateway(*n/max(*sessions, 1) + 2)
	if err != nil {
		return err
	}
	ch, err := startDialer(g, *n, *sessions)
	if err != nil {
		_ = g.stop()
		return err
	}
	defer ch.stop()
	p, err := dialOne(g.url, mint(g.secret, "probe", protocol.RoleInterviewer))
	if err != nil {
		_ = g.stop()
		return err
	}
	lat := make([]time.Duration, 0, *rounds)
	for i := range *rounds {
		sid := "load-" + strconv.Itoa(i%max(*sessions, 1))
		t0 := time.Now()
		if err := p.call(protocol.EventSessionJoin, sid, protocol.EventSessionJoined); err != nil {
			return err
		}
		lat = append(lat, time.Since(t0))
		if err := p.call(protocol.EventSessionLeave, sid, protocol.EventSessionLeft); err != nil {
			return err
		}
	}
	_ = p.ws.Close()
	slices.Sort(lat)
	q := func(f float64) time.Duration { return lat[min(len(lat)-1, int(f*float64(len(lat))))] }
	fmt.Printf("join → joined with %d clients connected in %d sessions, %d rounds:\n", *n, *sessions, *rounds)
	fmt.Printf("  p50 %s  p90 %s  p99 %s  max %s   (target p99 ≤ 2ms)\n",
		q(0.50).Round(time.Microsecond), q(0.90).Round(time.Microsecond), q(0.99).Round(time.Microsecond), lat[len(lat)-1].Round(time.Microsecond))
	ch.stop()
	return g.stop()
}

func mint(secretHex, sub, role string) string {
	secret, _ := hex.DecodeString(secretHex)
	tok, err := auth.Mint(secret, auth.Claims{Subject: sub, Name: sub, Role: role}, 24*time.Hour)
	if err != nil {
		panic(err) // cmd/: a bad secret is a bug of this tool
	}
	return tok
}

// probe is a synchronous client: one request at a time.
type probe struct {
	ws *websocket.Conn
	id int64
}

func dialOne(url, token string) (*probe, error) {
	d := websocket.Dialer{HandshakeTimeout: 30 * time.Second}
	ws, _, err := d.Dial(url, http.Header{"Authorization": {"Bearer " + token}})
	if err != nil {
		return nil, err
	}
	p := &probe{ws: ws}
	if _, err := p.until(protocol.EventConnectionSuccess); err != nil {
		_ = ws.Close()
		return nil, err
	}
	return p, nil
}

// until reads frames until event arrives (others are skipped) or an error event does.
func (p *probe) until(event string) (json.RawMessage, error) {
	_ = p.ws.SetReadDeadline(time.Now().Add(30 * time.Second))
	for {
		_, b, err := p.ws.ReadMessage()
		if err != nil {
			return nil, err
		}
		var f struct {
			Event string          `json:"event"`
			Data  json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(b, &f); err != nil {
			return nil, err
		}
		switch {
		case f.Event == event:
			return f.Data, nil
		case strings.HasSuffix(f.Event, "error"):
			return nil, fmt.Errorf("%s: %s", f.Event, f.Data)
		}
	}
}

// call sends event {"sessionId"} and waits for reply.
func (p *probe) call(event, sessionID, reply string) error {
	p.id++
	b, _ := json.Marshal(map[string]any{"event": event, "data": map[string]string{"sessionId": sessionID}, "id": p.id})
	_ = p.ws.SetWriteDeadline(time.Now().Add(30 * time.Second))
	if err := p.ws.WriteMessage(websocket.TextMessage, b); err != nil {
		return err
	}
	_, err := p.until(reply)
	return err
}

// runDial is the child: it opens n authenticated connections (optionally joined to
// sessions), prints "ready", keeps them alive (answering pings) until stdin closes.
func runDial(args []string) error {
	fs := flag.NewFlagSet("dial", flag.ExitOnError)
	url := fs.String("url", "", "gateway /interview URL")
	secret := fs.String("secret", "", "HMAC secret (hex)")
	n := fs.Int("n", 1000, "connections")
	sessions := fs.Int("sessions", 0, "join each connection to one of this many sessions")
	workers := fs.Int("c", 32, "concurrent dials")
	_ = fs.Parse(args)
	if err := checkFlags(fs,
		check{*url != "", "-url is required"},
		check{*n >= 0, "-n must not be negative"},
		check{*sessions >= 0, "-sessions must not be negative"},
		check{*workers >= 1, "-c must be at least 1"},
	); err != nil {
		return err
	}
	if err := raiseFileLimit(uint64(*n + 256)); err != nil {
		return err
	}
	conns := make([]*websocket.Conn, *n)
	var next atomic.Int64
	var wg sync.WaitGroup
	var firstErr error
	var errOnce sync.Once
	for range *workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= *n {
					return
				}
				p, err := dialOne(*url, mint(*secret, "user"+strconv.Itoa(i), protocol.RoleCandidate))
				if err == nil && *sessions > 0 {
					err = p.call(protocol.EventSessionJoin, "load-"+strconv.Itoa(i%*sessions), protocol.EventSessionJoined)
				}
				if err != nil {
					errOnce.Do(func() { firstErr = fmt.Errorf("connection %d: %w", i, err) })
					return
				}
				conns[i] = p.ws
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	// Keep reading so pings are answered and broadcasts drained.
	for _, ws := range conns {
		go func() {
			_ = ws.SetReadDeadline(time.Time{})
			for {
				if _, _, err := ws.ReadMessage(); err != nil {
					return
				}
			}
		}()
	}
	fmt.Println("ready", *n)
	_, _ = io.Copy(io.Discard, os.Stdin)
	for _, ws := range conns {
		_ = ws.Close()
	}
	return nil
}
