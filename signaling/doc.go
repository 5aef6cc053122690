// Package signaling is the HTTP server clients talk to: the native WebSocket endpoint
// (/interview) and the Socket.IO v4 endpoint (/socket.io/), JWT authentication at the
// handshake, sessions as rooms, rate and size limits, and WebRTC signaling.
//
// Layout of the package:
//
//   - server.go: Server, Options wiring, HTTP routes (/healthz, /readyz, /metrics,
//     /stats), Origin check, Serve and graceful Shutdown.
//   - native.go, sio.go: the two endpoints. Each decodes its framing into a request
//     (event, data, ack id, binary attachments) and encodes server events and acks
//     through a framing; both feed the same handlers.
//   - handlers.go (auth and sessions), audio.go (audio, transcription, WebRTC): the
//     event core.
//   - conn.go: one connection — read loop, byte-bounded outbound queue drained by at
//     most one writer goroutine, heartbeat, token expiry, rate limit, teardown.
//   - sessions.go: the session registry, the Bus that carries session events (in
//     memory by default) and the Publisher methods the pipeline runtime calls.
//   - metrics.go: Prometheus collectors.
//
// The pipeline runtime and WebRTC plug in through the Media and Peers interfaces this
// package declares; authentication through Authenticator (signaling/auth).
package signaling
