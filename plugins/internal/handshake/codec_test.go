package handshake_test

import (
	"bytes"
	"testing"

	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"

	"github.com/earshot-dev/earshot/plugins/internal/handshake"
	pb "github.com/earshot-dev/earshot/plugins/internal/pluginpb"
)

// The codec must put exactly what gRPC's own codec puts on the wire (so a plugin
// built with an older SDK still talks to the daemon) and read it back, for small
// messages (pooled by this codec only) and large ones.
func TestCodecMatchesProto(t *testing.T) {
	grpcCodec := encoding.GetCodecV2("proto")
	msgs := map[string]proto.Message{
		"frame":   &pb.TranscribeRequest{Msg: &pb.TranscribeRequest_Audio{Audio: &pb.PCMFrame{Samples: bytes.Repeat([]byte{1, 2}, 320), StartNs: 20e6}}},
		"partial": &pb.TranscribeResponse{Msg: &pb.TranscribeResponse_Partial{Partial: &pb.Result{Text: "frame", Confidence: 0.5, StartNs: 1, EndNs: 2}}},
		"empty":   &pb.InfoRequest{},
		"large":   &pb.DecodeRequest{Msg: &pb.DecodeRequest_Chunk{Chunk: bytes.Repeat([]byte{7}, 100<<10)}},
	}
	for name, m := range msgs {
		t.Run(name, func(t *testing.T) {
			want, err := proto.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			data, err := handshake.Codec.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			got := data.Materialize()
			if !bytes.Equal(got, want) {
				t.Fatalf("wire bytes differ from proto.Marshal: %d vs %d bytes", len(got), len(want))
			}
			// gRPC's codec reads what ours wrote, ours reads what gRPC's wrote.
			back := m.ProtoReflect().New().Interface()
			if err := grpcCodec.Unmarshal(data, back); err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(back, m) {
				t.Errorf("gRPC's codec read back %v", back)
			}
			data.Free()
			theirs, err := grpcCodec.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			back = m.ProtoReflect().New().Interface()
			if err := handshake.Codec.Unmarshal(theirs, back); err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(back, m) {
				t.Errorf("our codec read back %v", back)
			}
		})
	}
}

func TestCodecRefusesNonProto(t *testing.T) {
	if _, err := handshake.Codec.Marshal(struct{}{}); err == nil {
		t.Error("Marshal of a non-proto value succeeded")
	}
	if err := handshake.Codec.Unmarshal(mem.BufferSlice{mem.SliceBuffer{}}, struct{}{}); err == nil {
		t.Error("Unmarshal into a non-proto value succeeded")
	}
	if handshake.Codec.Name() != "proto" {
		t.Errorf("Name = %q, want the standard proto content subtype", handshake.Codec.Name())
	}
}

// Every small message allocates once less than with gRPC's codec: its buffer
// comes from the pool and goes back to it when freed.
func TestCodecPoolsSmallMessages(t *testing.T) {
	m := &pb.TranscribeRequest{Msg: &pb.TranscribeRequest_Audio{Audio: &pb.PCMFrame{Samples: make([]byte, 640)}}}
	grpcCodec := encoding.GetCodecV2("proto")
	count := func(c encoding.CodecV2) float64 {
		return testing.AllocsPerRun(200, func() {
			d, err := c.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			d.Free()
		})
	}
	ours, theirs := count(handshake.Codec), count(grpcCodec)
	t.Logf("allocations per marshal: ours %v, gRPC's %v", ours, theirs)
	if ours >= theirs {
		t.Errorf("allocations per marshal: ours %v, gRPC's %v", ours, theirs)
	}
}
