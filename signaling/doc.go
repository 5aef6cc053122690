// Package signaling is the HTTP server clients talk to: the native WebSocket endpoint
// (/interview) and the Socket.IO v4 endpoint (/socket.io/), JWT authentication at the
// handshake, sessions as rooms, rate and size limits, and WebRTC signaling.
package signaling
