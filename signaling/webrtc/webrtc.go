// Package webrtc ingests browser microphones over WebRTC (pion): one peer connection
// per user per session, trickle ICE both ways, and the first audio track of each
// peer connection fed, packet by packet, into an earshot audio stream of format
// "opus" — the same pipeline WebSocket chunks go through.
package webrtc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/pion/interceptor"
	"github.com/pion/sdp/v3"
	pion "github.com/pion/webrtc/v4"

	"github.com/earshot-dev/earshot/signaling/protocol"
)

// Stream is what a peer connection's audio is written to: one Opus packet per Write.
type Stream interface {
	ID() string
	Write(ctx context.Context, packet []byte) error
	// Finalize forces the current utterance final; the stream stays open.
	Finalize(ctx context.Context) error
	// Stop drains the stream: it returns once every pending final was published.
	Stop(ctx context.Context) error
}

// OpenFunc opens the audio stream of a peer connection's first audio track.
type OpenFunc func(ctx context.Context, spec protocol.StreamSpec) (Stream, error)

// Owner identifies the connection, user and session a peer connection belongs to.
type Owner struct {
	ConnID, SessionID, UserID, UserName, Role, Pipeline string
	// Emit sends an event to the owning connection. It must not block for long.
	Emit func(event string, payload any)
}

// Options configure the Manager.
type Options struct {
	Logger hclog.Logger
	Open   OpenFunc
	// UDPPortMin/Max bound the ephemeral UDP ports used for ICE (0, 0: any).
	UDPPortMin, UDPPortMax uint16
	// ICEServers are the STUN and TURN servers offered to pion, each with its own
	// credentials.
	ICEServers []ICEServer
	// PublicIPs are 1:1 NAT addresses advertised as host candidates.
	PublicIPs []string
	// IncludeLoopback gathers loopback candidates (hosts with only loopback, tests).
	IncludeLoopback bool
	// Interfaces, when non-empty, limits ICE gathering to these interface names.
	Interfaces []string
	// MaxPeers bounds concurrent peer connections (default 256).
	MaxPeers int
	// StopTimeout bounds the drain of a track's stream when its peer closes (default 30s).
	StopTimeout time.Duration
}

// ICEServer is one STUN or TURN server: its URLs (e.g. "stun:stun.example.org:3478",
// "turn:turn.example.org:3478?transport=udp") and, for TURN, the long-term
// credentials that go with them.
type ICEServer struct {
	URLs     []string
	Username string
	// Credential is the TURN password. String and GoString redact it, so that a
	// logged ICEServer never shows it.
	Credential string
}

// String renders the server with its credential redacted.
func (s ICEServer) String() string {
	cred := ""
	if s.Credential != "" {
		cred = "REDACTED"
	}
	return fmt.Sprintf("{URLs:%v Username:%q Credential:%s}", s.URLs, s.Username, cred)
}

// GoString is String for %#v.
func (s ICEServer) GoString() string { return "webrtc.ICEServer" + s.String() }

// Manager owns every peer connection. Its methods are safe for concurrent use.
type Manager struct {
	log  hclog.Logger
	opts Options
	api  *pion.API
	cfg  pion.Configuration

	mu     sync.Mutex
	peers  map[peerKey]*peer
	closed bool
	// closers counts the goroutines closing failed peers (see peer.closeAsync).
	closers sync.WaitGroup
}

type peerKey struct{ conn, session string }

// Error codes this package adds to the protocol's.
const (
	CodePeerExists   = "PEER_EXISTS"
	CodeTooManyPeers = "TOO_MANY_PEERS"
	CodeNoPeer       = protocol.CodeNoPeer
)

// New builds a Manager.
func New(opts Options) (*Manager, error) {
	if opts.Open == nil {
		return nil, errors.New("webrtc: Options.Open is required")
	}
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	if opts.MaxPeers <= 0 {
		opts.MaxPeers = 256
	}
	if opts.StopTimeout <= 0 {
		opts.StopTimeout = 30 * time.Second
	}
	var se pion.SettingEngine
	if opts.UDPPortMin != 0 || opts.UDPPortMax != 0 {
		if err := se.SetEphemeralUDPPortRange(opts.UDPPortMin, opts.UDPPortMax); err != nil {
			return nil, fmt.Errorf("webrtc: udp port range %d-%d: %w", opts.UDPPortMin, opts.UDPPortMax, err)
		}
	}
	if len(opts.PublicIPs) > 0 {
		for _, ip := range opts.PublicIPs {
			if net.ParseIP(ip) == nil {
				return nil, fmt.Errorf("webrtc: public ip %q is not an IP address", ip)
			}
		}
		rule := pion.ICEAddressRewriteRule{External: opts.PublicIPs, AsCandidateType: pion.ICECandidateTypeHost}
		if err := se.SetICEAddressRewriteRules(rule); err != nil {
			return nil, fmt.Errorf("webrtc: public ips: %w", err)
		}
	}
	se.SetIncludeLoopbackCandidate(opts.IncludeLoopback)
	if len(opts.Interfaces) > 0 {
		allowed := map[string]bool{}
		for _, name := range opts.Interfaces {
			allowed[name] = true
		}
		se.SetInterfaceFilter(func(name string) bool { return allowed[name] })
	}
	// Answer only to audio over UDP: no TCP candidates, no mDNS queries on the LAN.
	se.SetNetworkTypes([]pion.NetworkType{pion.NetworkTypeUDP4, pion.NetworkTypeUDP6})

	me := &pion.MediaEngine{}
	if err := me.RegisterCodec(pion.RTPCodecParameters{
		RTPCodecCapability: pion.RTPCodecCapability{MimeType: pion.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1"},
		PayloadType:        111,
	}, pion.RTPCodecTypeAudio); err != nil {
		return nil, fmt.Errorf("webrtc: register opus: %w", err)
	}
	ir := &interceptor.Registry{}
	if err := pion.RegisterDefaultInterceptors(me, ir); err != nil {
		return nil, fmt.Errorf("webrtc: interceptors: %w", err)
	}
	cfg := pion.Configuration{}
	for _, s := range opts.ICEServers {
		for _, u := range s.URLs {
			// pion would refuse every peer connection instead; say so at start-up.
			if strings.HasPrefix(strings.ToLower(u), "turn") && (s.Username == "" || s.Credential == "") {
				return nil, fmt.Errorf("webrtc: ice server %q: TURN needs a username and a credential", u)
			}
		}
		ps := pion.ICEServer{URLs: s.URLs}
		if s.Username != "" || s.Credential != "" {
			ps.Username, ps.Credential, ps.CredentialType = s.Username, s.Credential, pion.ICECredentialTypePassword
		}
		cfg.ICEServers = append(cfg.ICEServers, ps)
	}
	return &Manager{
		log:   opts.Logger.Named("webrtc"),
		opts:  opts,
		api:   pion.NewAPI(pion.WithSettingEngine(se), pion.WithMediaEngine(me), pion.WithInterceptorRegistry(ir)),
		cfg:   cfg,
		peers: map[peerKey]*peer{},
	}, nil
}

// Offer answers a browser's offer: it creates the owner's peer connection and
// returns the answer SDP. Candidates gathered later are sent with Emit as
// webrtc:candidate (trickle ICE); connection states as webrtc:state.
func (m *Manager) Offer(ctx context.Context, o Owner, offerSDP string) (string, error) {
	if err := checkOffer(offerSDP); err != nil {
		return "", err
	}
	key := peerKey{o.ConnID, o.SessionID}
	m.mu.Lock()
	switch {
	case m.closed:
		m.mu.Unlock()
		return "", protocol.Errorf(protocol.CodePipelineUnavailable, "the server is shutting down")
	case m.peers[key] != nil:
		m.mu.Unlock()
		return "", protocol.Errorf(CodePeerExists, "this connection already has a peer connection in session %s; send webrtc:close first", o.SessionID)
	case len(m.peers) >= m.opts.MaxPeers:
		m.mu.Unlock()
		return "", protocol.Errorf(CodeTooManyPeers, "the server has reached its limit of %d peer connections", m.opts.MaxPeers)
	}
	p := &peer{m: m, key: key, owner: o, done: make(chan struct{})}
	// Before the peer is visible: close may run as soon as it is in the map.
	p.ctx, p.cancel = context.WithCancel(context.Background())
	// Reserve the slot while the answer is built; candidates that arrive meanwhile
	// wait on startMu.
	p.startMu.Lock()
	m.peers[key] = p
	m.mu.Unlock()

	answer, err := p.start(ctx, offerSDP)
	p.startMu.Unlock()
	if err != nil {
		p.close()
		return "", err
	}
	return answer, nil
}

// AddCandidate adds a remote ICE candidate to the owner's peer connection.
func (m *Manager) AddCandidate(_ context.Context, o Owner, c protocol.ICECandidate) error {
	p := m.lookup(o)
	if p == nil {
		return protocol.Errorf(CodeNoPeer, "no peer connection in session %s: send webrtc:offer first", o.SessionID)
	}
	init := pion.ICECandidateInit{Candidate: c.Candidate, SDPMid: c.SDPMid, SDPMLineIndex: c.SDPMLineIndex, UsernameFragment: c.UsernameFragment}
	if c.Candidate == "" {
		return nil // end-of-candidates
	}
	p.startMu.Lock() // the offer this candidate belongs to may still be in progress
	pc, started := p.pc, p.started
	p.startMu.Unlock()
	if !started {
		return protocol.Errorf(CodeNoPeer, "no peer connection in session %s", o.SessionID)
	}
	if err := pc.AddICECandidate(init); err != nil {
		return protocol.Errorf(protocol.CodeBadRequest, "invalid ICE candidate: %v", err)
	}
	return nil
}

// StopAudio drains the audio stream of the owner's peer connection (audio:stop) and
// keeps the peer connection up. It reports false when the owner has no WebRTC stream.
func (m *Manager) StopAudio(ctx context.Context, o Owner) (bool, error) {
	p := m.lookup(o)
	if p == nil {
		return false, nil
	}
	return p.stopStream(ctx)
}

// FinalizeAudio forces the current utterance of the owner's WebRTC stream final
// (audio:finalize), as for a stream fed in chunks; the stream stays open. It reports
// false when the owner has no open WebRTC stream.
func (m *Manager) FinalizeAudio(ctx context.Context, o Owner) (bool, error) {
	p := m.lookup(o)
	if p == nil {
		return false, nil
	}
	p.mu.Lock()
	st, over := p.stream, p.streamStopped || p.streamEnded
	p.mu.Unlock()
	if st == nil || over {
		return false, nil
	}
	return true, st.Finalize(ctx)
}

// Close closes the owner's peer connection (webrtc:close, session:leave, disconnect).
func (m *Manager) Close(o Owner) error {
	p := m.lookup(o)
	if p == nil {
		return protocol.Errorf(CodeNoPeer, "no peer connection in session %s", o.SessionID)
	}
	p.close()
	return nil
}

// CloseConn closes every peer connection of a connection (it went away).
func (m *Manager) CloseConn(connID string) {
	m.mu.Lock()
	var ps []*peer
	for k, p := range m.peers {
		if k.conn == connID {
			ps = append(ps, p)
		}
	}
	m.mu.Unlock()
	for _, p := range ps {
		p.close()
	}
}

// Count returns the number of peer connections.
func (m *Manager) Count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.peers)
}

// Shutdown closes every peer connection and refuses new ones; it waits until each
// peer's goroutines have ended.
func (m *Manager) Shutdown() {
	m.mu.Lock()
	m.closed = true
	ps := make([]*peer, 0, len(m.peers))
	for _, p := range m.peers {
		ps = append(ps, p)
	}
	m.mu.Unlock()
	for _, p := range ps {
		p.close()
	}
	m.closers.Wait()
}

// StreamEnded tells the Manager that the runtime ended stream id by itself (an idle
// stream drained, a plugin given up): the peer whose track fed it opens a new stream
// for the track's next audio, as the gateway does for audio sent in chunks. Streams
// the Manager stopped itself (audio:stop, a closed peer) stay ended.
func (m *Manager) StreamEnded(id string) {
	m.mu.Lock()
	ps := make([]*peer, 0, len(m.peers))
	for _, p := range m.peers {
		ps = append(ps, p)
	}
	m.mu.Unlock()
	for _, p := range ps {
		p.endedStream(id)
	}
}

func (m *Manager) lookup(o Owner) *peer {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.peers[peerKey{o.ConnID, o.SessionID}]
}

func (m *Manager) remove(p *peer) {
	m.mu.Lock()
	if m.peers[p.key] == p {
		delete(m.peers, p.key)
	}
	m.mu.Unlock()
}

// checkOffer parses the SDP before pion sees it so that user mistakes get clear codes.
func checkOffer(s string) error {
	if strings.TrimSpace(s) == "" {
		return protocol.Errorf(protocol.CodeBadRequest, "sdp is empty")
	}
	if len(s) > 64<<10 {
		return protocol.Errorf(protocol.CodeBadRequest, "sdp is larger than 64 KiB")
	}
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(s); err != nil {
		return protocol.Errorf(protocol.CodeBadRequest, "invalid SDP: %v", err)
	}
	for _, md := range sd.MediaDescriptions {
		if md.MediaName.Media == "audio" && md.MediaName.Port.Value != 0 {
			return nil
		}
	}
	return protocol.Errorf(protocol.CodeUnsupportedFormat, "the offer has no audio track (only audio is accepted)")
}
