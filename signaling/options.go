package signaling

import (
	"context"
	"net/http"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/earshot-dev/earshot/signaling/auth"
	"github.com/earshot-dev/earshot/signaling/protocol"
)

// Media is what the gateway needs from the pipeline runtime (pipeline.Runtime
// implements it). Methods return a *protocol.Error for user mistakes; any other error
// is reported to the client as INTERNAL and logged.
type Media interface {
	HasPipeline(name string) bool
	DefaultPipeline() string
	OpenStream(ctx context.Context, spec protocol.StreamSpec) (MediaStream, error)
	// TranscribeClip returns once the clip's final was published to the session.
	TranscribeClip(ctx context.Context, spec protocol.StreamSpec, audio []byte, requestID string) error
	// CloseSession tells the runtime the session is gone: close its streams and suggester.
	// It must return at once and not call back into the gateway: it is called with the
	// session registry locked, so that no join recreates the session meanwhile.
	CloseSession(sessionID string)
}

// MediaStream is one open audio stream (one user's audio in one session).
type MediaStream interface {
	ID() string
	// Write hands one chunk to the stream; *protocol.Error: INVALID_AUDIO, CHUNK_TOO_LARGE, …
	Write(ctx context.Context, audio []byte) error
	// Finalize forces the current utterance final; the stream stays open.
	Finalize(ctx context.Context) error
	// Stop drains the stream: it returns after every pending final was published.
	Stop(ctx context.Context) error
}

// Peers is what the gateway needs from WebRTC (signaling/webrtc). A nil Peers means
// WebRTC is disabled: webrtc:* events are refused with webrtc:error.
type Peers interface {
	Offer(ctx context.Context, o PeerOwner, sdp string) (answerSDP string, err error)
	AddCandidate(ctx context.Context, o PeerOwner, c protocol.ICECandidate) error
	// Close ends the owner's peer connection (webrtc:close, session leave, disconnect).
	Close(o PeerOwner) error
}

// AudioStopper is implemented by a Peers that can drain the audio stream of a peer
// connection without closing it: audio:stop on a WebRTC stream. StopAudio reports
// false when the owner has no WebRTC stream.
type AudioStopper interface {
	StopAudio(ctx context.Context, o PeerOwner) (bool, error)
}

// AudioFinalizer is implemented by a Peers that can force the current utterance of
// a peer connection's audio stream final: audio:finalize on a WebRTC stream.
// FinalizeAudio reports false when the owner has no WebRTC stream.
type AudioFinalizer interface {
	FinalizeAudio(ctx context.Context, o PeerOwner) (bool, error)
}

// PeerOwner identifies whose peer connection a Peers call is about and how to reach
// that connection (webrtc:candidate, webrtc:state).
type PeerOwner struct {
	ConnID, SessionID, UserID, UserName, Role, Pipeline string
	// Emit sends an event to this connection only. It never blocks.
	Emit func(event string, payload any)
}

// Authenticator validates a token. *auth.Validator implements it. Errors are
// *protocol.Error with UNAUTHORIZED or TOKEN_EXPIRED.
type Authenticator interface {
	Validate(token string) (auth.Claims, error)
}

// Options configures a Server. Zero values take the defaults documented on each field.
type Options struct {
	Logger hclog.Logger // hclog.NewNullLogger() when nil

	// Auth validates tokens. Required.
	Auth Authenticator
	// TokenLeeway is the clock skew Auth tolerates on exp (auth.Config.Leeway): a
	// connection is closed with TOKEN_EXPIRED at exp + TokenLeeway, so a token the
	// validator accepted is not cut off at once.
	TokenLeeway time.Duration

	// AllowedOrigins lists the browser origins (scheme://host[:port]) allowed to open a
	// WebSocket; "*" allows any. A request without Origin (a non-browser client) is
	// always allowed. Empty: only same-host origins.
	AllowedOrigins []string

	MaxMessageSize  int64   // largest inbound frame in bytes (1 MiB); larger closes with 1009
	AuthMessageSize int64   // largest inbound message kept before authentication, token included (16 KiB, capped at MaxMessageSize); larger is UNAUTHORIZED (4001)
	EventRate       float64 // inbound events per second per connection (100)
	EventBurst      int     // token bucket size (200)
	// Audio chunks (binary frames, audio:stream events) have their own bucket, so that
	// a client sending 20 ms frames (50 a second) keeps the event budget for control
	// events; their bytes are limited per stream by AudioBytesPerSecond.
	AudioChunkRate     float64       // audio chunks per second per connection (250: 4 ms chunks)
	AudioChunkBurst    int           // (500)
	RateLimitStrikes   int           // refused events within RateLimitWindow that close with 4029 (100)
	RateLimitWindow    time.Duration // (10 s)
	OutboundQueueBytes int           // per-connection send queue bound; overflow closes with 4008 (1 MiB)
	WriteTimeout       time.Duration // deadline of one frame write (10 s)
	PingInterval       time.Duration // (25 s)
	PongTimeout        time.Duration // silence after a ping that closes the connection (20 s)
	AuthTimeout        time.Duration // life of an unauthenticated connection (10 s)
	MaxSessionsPerConn int           // (8)
	MaxUsersPerSession int           // distinct users (16)
	// MaxSessions bounds the sessions this node holds, empty ones awaiting cleanup
	// included (10000). A join that would create one more gets SESSION_LIMIT.
	MaxSessions int
	// MaxSessionsPerUser bounds the sessions one user (token subject) created that
	// this node still holds, empty ones included (100), so that one user's join/leave
	// churn over new ids cannot take all of MaxSessions. A join that would create one
	// more gets SESSION_LIMIT; joining an existing session is never refused by it.
	MaxSessionsPerUser int
	// AudioBytesPerSecond limits each audio stream's inbound bytes (256 KiB/s).
	AudioBytesPerSecond int
	CleanupInterval     time.Duration // how often empty sessions are scanned (5 min)
	InactiveAfter       time.Duration // how long a session may stay empty before removal (30 min)
	// StatusRoles may change a session's status (interviewer, admin).
	StatusRoles []string
	// CallTimeout bounds each call into Media or Peers made for a client event (10 s);
	// audio:stop and transcription:request get DrainTimeout instead.
	CallTimeout  time.Duration
	DrainTimeout time.Duration // (60 s)

	Media Media // nil: audio events get PIPELINE_UNAVAILABLE (SetMedia wires it later)
	Peers Peers // nil: WebRTC disabled (SetPeers wires it later)
	// Bus carries session events; nil uses the in-memory bus (one node).
	Bus Bus

	// Ready reports readiness for GET /readyz; nil means ready.
	Ready func() bool
	// Static serves the demo page and /client.js at "/" when non-nil.
	Static http.Handler
	// Metrics receives the gateway's collectors. When it is also a
	// prometheus.Gatherer (a *prometheus.Registry), GET /metrics serves it; nil uses a
	// private registry served at /metrics.
	Metrics prometheus.Registerer
	// NoMetrics leaves GET /metrics out (the collectors still count).
	NoMetrics bool

	// ShutdownTimeout bounds a graceful shutdown (Serve's context ended): Drain, then
	// closing the connections with 1001. Default 10 s.
	ShutdownTimeout time.Duration
	// Drain runs when a graceful shutdown begins, once the listener has stopped
	// accepting and while the connections are still open, so that what it makes the
	// runtime publish (the finals of the streams it drains) reaches the clients. Its
	// context ends ShutdownTimeout after the shutdown began.
	Drain func(ctx context.Context)
}

func (o *Options) setDefaults() {
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
	}
	setDefault(&o.MaxMessageSize, 1<<20)
	setDefault(&o.AuthMessageSize, preAuthMessageSize)
	setDefault(&o.EventRate, 100)
	setDefault(&o.EventBurst, 200)
	setDefault(&o.AudioChunkRate, 250)
	setDefault(&o.AudioChunkBurst, 500)
	setDefault(&o.RateLimitStrikes, 100)
	setDefault(&o.RateLimitWindow, 10*time.Second)
	setDefault(&o.OutboundQueueBytes, 1<<20)
	setDefault(&o.WriteTimeout, 10*time.Second)
	setDefault(&o.PingInterval, 25*time.Second)
	setDefault(&o.PongTimeout, 20*time.Second)
	setDefault(&o.AuthTimeout, 10*time.Second)
	setDefault(&o.MaxSessionsPerConn, 8)
	setDefault(&o.MaxUsersPerSession, 16)
	setDefault(&o.MaxSessions, 10000)
	setDefault(&o.MaxSessionsPerUser, 100)
	setDefault(&o.AudioBytesPerSecond, 256<<10)
	setDefault(&o.CleanupInterval, 5*time.Minute)
	setDefault(&o.InactiveAfter, 30*time.Minute)
	setDefault(&o.CallTimeout, 10*time.Second)
	setDefault(&o.DrainTimeout, 60*time.Second)
	setDefault(&o.ShutdownTimeout, 10*time.Second)
	if o.StatusRoles == nil {
		o.StatusRoles = []string{protocol.RoleInterviewer, protocol.RoleAdmin}
	}
}

func setDefault[T comparable](p *T, v T) {
	var zero T
	if *p == zero {
		*p = v
	}
}
