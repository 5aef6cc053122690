// Package socketio is a pure codec for Socket.IO v5 packets carried by Engine.IO v4
// over WebSocket: the frames a stock socket.io-client 4.x sends and understands.
//
// Engine.IO over WebSocket maps one packet to one WebSocket message. A text message
// is a packet type digit ('0' open … '6' noop) followed by its data; a binary message
// is a binary payload (Engine.IO v4 adds no prefix). Socket.IO packets travel in
// Engine.IO "message" packets ('4'):
//
//	<type>[<attachments>-][<namespace>,][<ack id>][<JSON data>]
//
// for example 42/interview,7["session:join",{"sessionId":"s1"}]. A packet with binary
// attachments (type 5 or 6) is followed by that many binary WebSocket messages; its
// JSON holds {"_placeholder":true,"num":N} where the N-th attachment belongs. The
// Assembler collects them.
//
// The package does no I/O and starts no goroutines. Decoding is strict and bounded
// (namespace length, ack id digits, attachment count), and decoded data aliases the
// input buffer instead of copying it.
package socketio
