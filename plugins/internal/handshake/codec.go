package handshake

import (
	"fmt"

	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"
)

// Codec is gRPC's protobuf codec with two changes: every marshalled message goes
// into a pooled buffer, and the per-frame messages take a hand-written path
// (fastpath.go). gRPC's own codec allocates a fresh slice for messages
// under 1 KiB — every audio frame and every partial — and that garbage is most of
// what the collector has to chase at 5,000 frames/s. The wire format is the same
// ("proto"), so either side may use gRPC's codec.
var Codec encoding.CodecV2 = codec{}

type codec struct{}

const minPooled = 4 << 10

func (codec) Name() string { return "proto" }

func (codec) Marshal(v any) (mem.BufferSlice, error) {
	pool := mem.DefaultBufferPool()
	if size, ok := fastSize(v); ok {
		buf := pool.Get(max(size, minPooled))
		*buf = fastAppend((*buf)[:0], v)
		return mem.BufferSlice{mem.NewBuffer(buf, pool)}, nil
	}
	m, ok := v.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("proto: cannot marshal %T, want proto.Message", v)
	}
	size := proto.Size(m)
	// A buffer above gRPC's pooling threshold (1 KiB) is one that mem.NewBuffer
	// returns to the pool once the transport has written it; 4 KiB is the pool's
	// tier above the threshold.
	buf := pool.Get(max(size, minPooled))
	// UseCachedSize: Size above has just computed it, and the message is not
	// mutated concurrently (Send is never concurrent with itself).
	out, err := proto.MarshalOptions{UseCachedSize: true}.MarshalAppend((*buf)[:0], m)
	if err != nil {
		pool.Put(buf)
		return nil, err
	}
	*buf = out
	return mem.BufferSlice{mem.NewBuffer(buf, pool)}, nil
}

func (codec) Unmarshal(data mem.BufferSlice, v any) error {
	m, ok := v.(proto.Message)
	if !ok {
		return fmt.Errorf("proto: cannot unmarshal into %T, want proto.Message", v)
	}
	buf := data.MaterializeToBuffer(mem.DefaultBufferPool())
	defer buf.Free()
	if fastUnmarshal(buf.ReadOnlyData(), m) {
		return nil
	}
	return proto.Unmarshal(buf.ReadOnlyData(), m)
}
