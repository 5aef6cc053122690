package signaling

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/earshot-dev/earshot/signaling/auth"
	"github.com/earshot-dev/earshot/signaling/protocol"
)

// Server is the gateway: the HTTP handler of both WebSocket endpoints, the session
// registry and the event core. It also implements the pipeline's Publisher.
type Server struct {
	opts     Options
	log      hclog.Logger
	upgrader websocket.Upgrader
	handler  http.Handler
	m        *metrics
	gatherer prometheus.Gatherer
	reg      *registry
	bus      Bus
	stopBus  func()
	media    atomic.Pointer[Media]
	peers    atomic.Pointer[Peers]
	events   rateWindow
	// streamOwners maps an open stream's id to its connection, so that a stream the
	// runtime ends by itself (idle time-out, plugin gone) can be forgotten.
	streamOwners sync.Map

	mu       sync.Mutex
	conns    map[*conn]struct{}
	users    map[string]int // connected users → connection count
	closing  bool           // connections are being closed: no new ones
	draining bool           // a graceful shutdown began (Serve)
	connWG   sync.WaitGroup // one per connection goroutine
	bgWG     sync.WaitGroup // background goroutines (cleanup)
	stop     chan struct{}
	stopOnce sync.Once
}

// NewServer builds a Server and starts its session cleanup; call Close (Serve does)
// to stop it.
func NewServer(opts Options) (*Server, error) {
	opts.setDefaults()
	if opts.Auth == nil {
		return nil, errors.New("signaling: Options.Auth is required")
	}
	if opts.OutboundQueueBytes < 1024 {
		return nil, fmt.Errorf("signaling: OutboundQueueBytes %d is below 1024", opts.OutboundQueueBytes)
	}
	s := &Server{
		opts:  opts,
		log:   opts.Logger.Named("signaling"),
		reg:   newRegistry(),
		conns: make(map[*conn]struct{}),
		users: make(map[string]int),
		stop:  make(chan struct{}),
	}
	var err error
	s.m, s.gatherer, err = newMetrics(opts.Metrics, s)
	if err != nil {
		return nil, err
	}
	if opts.Media != nil {
		s.SetMedia(opts.Media)
	}
	if opts.Peers != nil {
		s.SetPeers(opts.Peers)
	}
	s.upgrader = websocket.Upgrader{
		HandshakeTimeout: 10 * time.Second,
		// A small read buffer of our own instead of net/http's 4 KiB one, and write
		// buffers from a pool held only while writing: an idle connection keeps little.
		ReadBufferSize:  1024,
		WriteBufferSize: 4096,
		WriteBufferPool: &sync.Pool{},
		// The Origin is checked before Upgrade so the refusal is ours (HTTP 403).
		CheckOrigin: func(*http.Request) bool { return true },
	}
	s.bus = opts.Bus
	if s.bus == nil {
		s.bus = NewMemoryBus()
	}
	s.stopBus, err = s.bus.Subscribe(s.deliver)
	if err != nil {
		return nil, fmt.Errorf("signaling: subscribe to bus: %w", err)
	}
	s.handler = s.routes()
	s.bgWG.Add(1)
	go s.cleanupLoop()
	return s, nil
}

// SetMedia wires (or replaces) the pipeline runtime after construction.
func (s *Server) SetMedia(m Media) {
	if m == nil {
		s.media.Store(nil)
		return
	}
	s.media.Store(&m)
}

// SetPeers wires (or replaces) WebRTC after construction; nil disables it.
func (s *Server) SetPeers(p Peers) {
	if p == nil {
		s.peers.Store(nil)
		return
	}
	s.peers.Store(&p)
}

func (s *Server) getMedia() Media {
	if p := s.media.Load(); p != nil {
		return *p
	}
	return nil
}

func (s *Server) getPeers() Peers {
	if p := s.peers.Load(); p != nil {
		return *p
	}
	return nil
}

// Handler returns the HTTP handler of every endpoint: /interview, /socket.io/,
// /healthz, /readyz, /metrics, /stats and, when Options.Static is set, /.
func (s *Server) Handler() http.Handler { return s.handler }

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /interview", s.serveNative)
	mux.HandleFunc("/socket.io/", s.serveSocketIO)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", s.serveReady)
	if !s.opts.NoMetrics {
		mux.Handle("GET /metrics", promhttp.HandlerFor(s.gatherer, promhttp.HandlerOpts{}))
	}
	mux.HandleFunc("GET /stats", s.serveStats)
	if s.opts.Static != nil {
		mux.Handle("/", s.opts.Static)
	}
	return mux
}

func (s *Server) serveReady(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	s.mu.Lock()
	closing := s.closing || s.draining
	s.mu.Unlock()
	if closing || (s.opts.Ready != nil && !s.opts.Ready()) {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("not ready\n"))
		return
	}
	_, _ = w.Write([]byte("ready\n"))
}

// Serve accepts connections on ln until ctx is cancelled, then shuts down
// gracefully within Options.ShutdownTimeout: it stops accepting, runs Options.Drain
// while the connections are still open (so the finals of drained streams reach
// their clients), then closes every connection with 1001 (Shutdown).
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          s.log.StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true}),
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		s.Close()
		return fmt.Errorf("signaling: serve: %w", err)
	case <-ctx.Done():
	}
	began := time.Now()
	sctx, cancel := context.WithTimeout(context.Background(), s.opts.ShutdownTimeout)
	defer cancel()
	s.mu.Lock()
	s.draining = true // /readyz answers 503 from now on
	s.mu.Unlock()
	err := hs.Shutdown(sctx) // stops accepting; hijacked WebSockets are ours to close
	<-errc
	if s.opts.Drain != nil {
		s.opts.Drain(sctx)
		if sctx.Err() != nil {
			s.log.Warn("shutdown_timeout passed while draining streams; closing the connections", "timeout", s.opts.ShutdownTimeout)
		}
	}
	// The close handshakes get what is left of the grace, and at least closeGrace
	// when the drain used it all.
	cctx, ccancel := context.WithDeadline(context.Background(), maxTime(began.Add(s.opts.ShutdownTimeout), time.Now().Add(closeGrace)))
	defer ccancel()
	if serr := s.Shutdown(cctx); err == nil {
		err = serr
	}
	return err
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// Shutdown closes every connection with 1001 (going away), waits for them to end
// (until ctx is done, then drops the rest) and stops background work.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	// No Socket.IO DISCONNECT before the close: socket.io-client does not reconnect
	// after one ("io server disconnect"), and the contract asks clients to reconnect
	// after 1001.
	for _, c := range conns {
		c.closeWith(protocol.CloseGoingAway, "server shutting down", reasonShutdown, true)
	}
	done := make(chan struct{})
	go func() { s.connWG.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		s.mu.Lock()
		for c := range s.conns {
			_ = c.ws.NetConn().Close()
		}
		s.mu.Unlock()
		<-done
		err = ctx.Err()
	}
	s.Close()
	return err
}

// Close stops background work. It does not close connections (Shutdown does) and is
// idempotent.
func (s *Server) Close() {
	s.stopOnce.Do(func() {
		close(s.stop)
		s.bgWG.Wait()
		if s.stopBus != nil {
			s.stopBus()
		}
	})
}

// acceptable reports whether new connections are taken.
func (s *Server) acceptable() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.closing
}

func (s *Server) track(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.conns[c] = struct{}{}
	s.connWG.Add(1)
	s.m.connections.WithLabelValues(c.endpoint).Inc()
	return true
}

// registerUser counts an authenticated connection of a user (for /stats).
func (s *Server) registerUser(c *conn) {
	s.mu.Lock()
	s.users[c.userID()]++
	s.mu.Unlock()
}

func (s *Server) unregister(c *conn, reason string) {
	s.mu.Lock()
	delete(s.conns, c)
	if c.authed.Load() {
		if n := s.users[c.userID()] - 1; n > 0 {
			s.users[c.userID()] = n
		} else {
			delete(s.users, c.userID())
		}
	}
	s.mu.Unlock()
	s.m.connections.WithLabelValues(c.endpoint).Dec()
	s.m.disconnects.WithLabelValues(reason).Inc()
	s.log.Debug("connection closed", "conn", c.id, "user", c.userID(), "reason", reason)
	s.connWG.Done()
}

// checkOrigin applies the Origin allow-list. No Origin (a non-browser client) passes.
func (s *Server) checkOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	if len(s.opts.AllowedOrigins) == 0 {
		u, err := url.Parse(origin)
		return err == nil && strings.EqualFold(u.Host, r.Host)
	}
	for _, o := range s.opts.AllowedOrigins {
		if o == "*" || strings.EqualFold(strings.TrimSuffix(o, "/"), origin) {
			return true
		}
	}
	return false
}

// upgrade checks the Origin and upgrades; it answers the HTTP errors itself and
// returns nil when the request was refused.
// accept upgrades the request and registers its connection. It returns nil when the
// upgrade was refused (the response is written) or the server is shutting down (the
// socket is closed with 1001). The header or query token, if any, is returned for the
// connection's goroutine to check: authentication happens after the upgrade.
func (s *Server) accept(w http.ResponseWriter, r *http.Request, endpoint string, fr framing) (c *conn, token string, hasToken bool) {
	ws := s.upgrade(w, r, endpoint)
	if ws == nil {
		return nil, "", false
	}
	token, _, hasToken = auth.TokenFromRequest(r)
	c = s.newConn(ws, fr, endpoint)
	if !s.track(c) {
		_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(protocol.CloseGoingAway, "server shutting down"), time.Now().Add(closeGrace))
		_ = ws.Close()
		return nil, "", false
	}
	return c, token, hasToken
}

func (s *Server) upgrade(w http.ResponseWriter, r *http.Request, endpoint string) *websocket.Conn {
	if !s.checkOrigin(r) {
		s.m.disconnects.WithLabelValues("bad_origin").Inc()
		s.log.Warn("refused origin", "endpoint", endpoint, "origin", r.Header.Get("Origin"), "remote", r.RemoteAddr)
		http.Error(w, "origin not allowed", http.StatusForbidden)
		return nil
	}
	if !s.acceptable() {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return nil
	}
	ws, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		// The upgrader already answered; the path is logged, never the query (tokens).
		s.log.Debug("upgrade failed", "endpoint", endpoint, "path", r.URL.Path, "error", err)
		return nil
	}
	return ws
}

// authenticate validates token and, on success, makes c a full connection:
// connection:success, expiry timer, heartbeat. On failure it refuses c.
func (c *conn) authenticate(token string, req *request) bool {
	claims, err := c.s.opts.Auth.Validate(token)
	if err != nil {
		var perr *protocol.Error
		if !errors.As(err, &perr) {
			perr = protocol.Errorf(protocol.CodeUnauthorized, "invalid token")
		}
		c.refuseReq(req, perr)
		return false
	}
	if claims.Role == "" {
		claims.Role = auth.DefaultRole
	}
	c.claims = claims
	c.authed.Store(true)
	c.s.registerUser(c)
	if c.fr.kind() == framingSocketIO {
		c.enqueue(outItem{data: sioConnectOK(c.id)})
	}
	success := protocol.ConnectionSuccess{
		UserID: claims.Subject, ConnectionID: c.id, Role: claims.Role,
		ServerTime: time.Now().UnixMilli(), Protocol: protocol.Version,
	}
	if req != nil {
		c.ok(req, protocol.EventConnectionSuccess, success)
	} else {
		c.emit(protocol.EventConnectionSuccess, success)
	}
	c.armExpiry(claims.ExpiresAt)
	c.startPing()
	c.lastReadAt.Store(0)
	c.extendRead()
	c.s.log.Debug("authenticated", "conn", c.id, "user", claims.Subject, "role", claims.Role, "endpoint", c.endpoint)
	return true
}

// serveStats answers GET /stats for an admin token (header or ?token=).
func (s *Server) serveStats(w http.ResponseWriter, r *http.Request) {
	token, _, ok := auth.TokenFromRequest(r)
	if !ok {
		writeJSONStatus(w, http.StatusUnauthorized, protocol.Errorf(protocol.CodeUnauthorized, "admin token required"))
		return
	}
	claims, err := s.opts.Auth.Validate(token)
	if err != nil {
		var perr *protocol.Error
		if !errors.As(err, &perr) {
			perr = protocol.Errorf(protocol.CodeUnauthorized, "invalid token")
		}
		writeJSONStatus(w, http.StatusUnauthorized, perr)
		return
	}
	if claims.Role != protocol.RoleAdmin {
		writeJSONStatus(w, http.StatusForbidden, protocol.Errorf(protocol.CodeForbidden, "admin role required"))
		return
	}
	writeJSONStatus(w, http.StatusOK, s.Stats())
}

// Stats is the body of GET /stats.
type Stats struct {
	Sessions         int            `json:"sessions"`
	SessionsByStatus map[string]int `json:"sessionsByStatus"`
	Connections      int            `json:"connections"`
	Users            int            `json:"users"`
	EventsPerSecond  float64        `json:"eventsPerSecond"` // inbound, over the last 10 s
	EventsIn         int64          `json:"eventsIn"`
	EventsOut        int64          `json:"eventsOut"`
	QueuedBytes      int64          `json:"queuedBytes"`
	ServerTime       int64          `json:"serverTime"`
}

// Stats reports current activity.
func (s *Server) Stats() Stats {
	st := Stats{SessionsByStatus: s.reg.countByStatus(), ServerTime: time.Now().UnixMilli()}
	for _, n := range st.SessionsByStatus {
		st.Sessions += n
	}
	s.mu.Lock()
	st.Connections = len(s.conns)
	st.Users = len(s.users)
	s.mu.Unlock()
	st.EventsPerSecond = s.events.perSecond(time.Now())
	st.EventsIn = s.m.inTotal.Load()
	st.EventsOut = s.m.outTotal.Load()
	st.QueuedBytes = s.m.queueBytes.Load()
	return st
}

func writeJSONStatus(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// newID returns a random URL-safe id (connection ids, Socket.IO sids).
func newID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// rateWindow counts events in one-second buckets over the last 10 s.
type rateWindow struct {
	mu      sync.Mutex
	buckets [11]struct{ sec, n int64 }
}

func (r *rateWindow) add(now time.Time) {
	sec := now.Unix()
	r.mu.Lock()
	b := &r.buckets[sec%int64(len(r.buckets))]
	if b.sec != sec {
		b.sec, b.n = sec, 0
	}
	b.n++
	r.mu.Unlock()
}

// perSecond averages the 10 complete seconds before now.
func (r *rateWindow) perSecond(now time.Time) float64 {
	sec := now.Unix()
	var total int64
	r.mu.Lock()
	for _, b := range r.buckets {
		if b.sec < sec && b.sec >= sec-10 {
			total += b.n
		}
	}
	r.mu.Unlock()
	return float64(total) / 10
}
