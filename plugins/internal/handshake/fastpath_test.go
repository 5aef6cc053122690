package handshake

import (
	"bytes"
	"math"
	"testing"

	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"

	pb "github.com/earshot-dev/earshot/plugins/internal/pluginpb"
)

func frameReq(samples []byte, start int64) *pb.TranscribeRequest {
	return &pb.TranscribeRequest{Msg: &pb.TranscribeRequest_Audio{Audio: &pb.PCMFrame{Samples: samples, StartNs: start}}}
}

func resultResp(r *pb.Result, final bool) *pb.TranscribeResponse {
	if final {
		return &pb.TranscribeResponse{Msg: &pb.TranscribeResponse_Final{Final: r}}
	}
	return &pb.TranscribeResponse{Msg: &pb.TranscribeResponse_Partial{Partial: r}}
}

// checkMarshal: the codec writes what proto.Marshal writes, or fails when it fails.
func checkMarshal(t *testing.T, m proto.Message) {
	t.Helper()
	want, wantErr := proto.Marshal(m)
	data, err := Codec.Marshal(m)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("%v: codec error %v, proto error %v", m, err, wantErr)
	}
	if err != nil {
		return
	}
	defer data.Free()
	if got := data.Materialize(); !bytes.Equal(got, want) {
		t.Fatalf("%v:\ncodec %x\nproto %x", m, got, want)
	}
}

// checkUnmarshal: whatever the fast path decodes, the library decodes the same.
func checkUnmarshal(t *testing.T, b []byte) {
	t.Helper()
	for _, newMsg := range []func() proto.Message{
		func() proto.Message { return &pb.TranscribeRequest{} },
		func() proto.Message { return &pb.TranscribeResponse{} },
	} {
		want, fast := newMsg(), newMsg()
		wantErr := proto.Unmarshal(b, want)
		if fastUnmarshal(b, fast) {
			if wantErr != nil {
				t.Fatalf("%x: fast path decoded %v, the library refuses: %v", b, fast, wantErr)
			}
			if !proto.Equal(fast, want) {
				t.Fatalf("%x: fast path %v, library %v", b, fast, want)
			}
		}
		got := newMsg()
		err := Codec.Unmarshal(mem.BufferSlice{mem.SliceBuffer(b)}, got)
		if (err != nil) != (wantErr != nil) || (err == nil && !proto.Equal(got, want)) {
			t.Fatalf("%x: codec %v (%v), library %v (%v)", b, got, err, want, wantErr)
		}
	}
}

var fastpathMessages = []proto.Message{
	frameReq(make([]byte, 640), 20e6),
	frameReq(nil, 0),
	frameReq([]byte{1}, -1),
	frameReq(bytes.Repeat([]byte{9}, 70000), math.MaxInt64),
	&pb.TranscribeRequest{Msg: &pb.TranscribeRequest_Audio{}},
	&pb.TranscribeRequest{Msg: &pb.TranscribeRequest_Control{Control: pb.Control_CONTROL_FINALIZE}},
	&pb.TranscribeRequest{Msg: &pb.TranscribeRequest_Start{Start: &pb.TranscribeStart{SampleRate: 16000}}},
	&pb.TranscribeRequest{},
	resultResp(&pb.Result{Text: "frame", Confidence: 0.5, StartNs: 1, EndNs: 2}, false),
	resultResp(&pb.Result{Text: "hello world", Confidence: 1, StartNs: 3, EndNs: -4, EndOfTurn: true}, true),
	resultResp(&pb.Result{}, false),
	resultResp(&pb.Result{Confidence: math.Copysign(0, -1)}, true),
	resultResp(&pb.Result{Confidence: math.NaN()}, true),
	resultResp(&pb.Result{Text: "bad \xff utf8"}, false),
	resultResp(&pb.Result{Text: "words", Words: []*pb.Word{{Text: "w", StartNs: 1}}}, true),
	resultResp(nil, false),
	&pb.TranscribeResponse{Msg: &pb.TranscribeResponse_SpeechStarted{SpeechStarted: &pb.SpeechStarted{AtNs: 5}}},
	&pb.TranscribeResponse{Msg: &pb.TranscribeResponse_Error{Error: &pb.StreamError{Code: "X", Message: "y"}}},
}

func TestFastpathMatchesLibrary(t *testing.T) {
	for _, m := range fastpathMessages {
		checkMarshal(t, m)
		if b, err := proto.Marshal(m); err == nil {
			checkUnmarshal(t, b)
		}
	}
	// Forms the fast path must leave to the library: repeated members, unknown
	// fields, wrong wire types, truncation.
	frame, _ := proto.Marshal(frameReq([]byte{1, 2}, 7))
	partial, _ := proto.Marshal(resultResp(&pb.Result{Text: "a", EndNs: 9}, false))
	for _, b := range [][]byte{
		append(append([]byte{}, frame...), frame...),
		append(append([]byte{}, partial...), partial...),
		append(append([]byte{}, frame...), 0x78, 0x01), // unknown field 15
		append([]byte{0x12, 0x02}, 0x78, 0x01),         // unknown field inside the frame
		{0x12, 0x02, 0x0d, 0x00},                       // samples with a fixed32 wire type
		frame[:len(frame)-1],
		partial[:len(partial)-1],
		{0x12, 0x03, 0x0a, 0x01, 0xff}, // partial text not UTF-8 / frame samples 0xff
		{0x1a, 0x00},                   // an empty final
		{},
	} {
		checkUnmarshal(t, b)
	}
}

// The fast path is what makes the per-frame messages cheap: no allocation to
// encode beyond the pooled buffer.
func TestFastpathAllocations(t *testing.T) {
	m := frameReq(make([]byte, 640), 20e6)
	n := testing.AllocsPerRun(100, func() {
		d, err := Codec.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		d.Free()
	})
	if n > 1 {
		t.Errorf("%v allocations per frame marshal, want at most 1 (the buffer slice)", n)
	}
}

func FuzzFastpathUnmarshal(f *testing.F) {
	for _, m := range fastpathMessages {
		if b, err := proto.Marshal(m); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte{0x12, 0x02, 0x78, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) { checkUnmarshal(t, b) })
}

func FuzzFastpathMarshal(f *testing.F) {
	f.Add([]byte{1, 2}, int64(20e6), "frame", 0.5, int64(1), int64(2), false, false)
	f.Add([]byte(nil), int64(0), "", 0.0, int64(0), int64(0), true, true)
	f.Add([]byte{0}, int64(-1), "\xff", math.Inf(-1), int64(-5), int64(math.MinInt64), true, false)
	f.Fuzz(func(t *testing.T, samples []byte, start int64, text string, conf float64, s, e int64, eot, final bool) {
		checkMarshal(t, frameReq(samples, start))
		checkMarshal(t, resultResp(&pb.Result{Text: text, Confidence: conf, StartNs: s, EndNs: e, EndOfTurn: eot}, final))
	})
}
