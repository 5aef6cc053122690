package sdk

// The plugin side of the gRPC shim: adapters from the generated services to the
// interfaces of this package. Protobuf types stay in this file and never appear in
// the API plugin authors use.

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/earshot-dev/earshot/plugins/internal/handshake"
	pb "github.com/earshot-dev/earshot/plugins/internal/pluginpb"
)

// CodeProtocol is the code of the error a plugin reports when the daemon's side of
// a stream breaks the protocol (for example audio before the start message).
const CodeProtocol = "PROTOCOL"

func init() {
	handshake.ServerPlugin = func(impl any) (handshake.Plugin, error) {
		p, ok := impl.(Plugin)
		if !ok {
			return nil, fmt.Errorf("%T does not implement sdk.Plugin", impl)
		}
		return newServerPlugin(p, hclog.NewNullLogger())
	}
}

// serverPlugin is the go-plugin plugin that serves one implementation.
type serverPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	impl     Plugin
	kind     Kind
	versions []int
	logger   hclog.Logger
}

func newServerPlugin(impl Plugin, logger hclog.Logger) (*serverPlugin, error) {
	s := &serverPlugin{impl: impl, logger: logger}
	switch impl.(type) {
	case Decoder:
		s.kind = KindDecoder
	case Transcriber:
		s.kind = KindTranscriber
	case Suggester:
		s.kind = KindSuggester
	default:
		return nil, fmt.Errorf("%T implements none of sdk.Decoder, sdk.Transcriber, sdk.Suggester", impl)
	}
	info := impl.Info()
	if info.Kind != "" && info.Kind != s.kind {
		// Serve the kind the type implements; the host refuses the mismatch with a
		// clear message naming both.
		logger.Warn("Info().Kind differs from the interface the plugin implements", "info_kind", info.Kind, "implements", s.kind)
	}
	s.versions = negotiableVersions(info.APIVersions)
	return s, nil
}

// negotiableVersions is the intersection of the plugin's declared versions (all the
// SDK's when none are declared) with the versions this SDK implements.
func negotiableVersions(declared []int) []int {
	if len(declared) == 0 {
		return SupportedAPIVersions()
	}
	var out []int
	for _, v := range declared {
		for _, s := range SupportedAPIVersions() {
			if v == s {
				out = append(out, v)
			}
		}
	}
	return out
}

func (s *serverPlugin) GRPCServer(_ *plugin.GRPCBroker, g *grpc.Server) error {
	pb.RegisterBaseServer(g, &baseServer{p: s})
	switch impl := s.impl.(type) {
	case Decoder:
		pb.RegisterDecoderServer(g, &decoderServer{impl: impl, log: s.logger})
	case Transcriber:
		pb.RegisterTranscriberServer(g, &transcriberServer{impl: impl, log: s.logger})
	case Suggester:
		pb.RegisterSuggesterServer(g, &suggesterServer{impl: impl, log: s.logger})
	}
	return nil
}

func (s *serverPlugin) GRPCClient(context.Context, *plugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, errors.New("the SDK serves plugins; it has no client side")
}

// ---- Base ----

type baseServer struct {
	pb.UnimplementedBaseServer
	p *serverPlugin
}

func (b *baseServer) Info(context.Context, *pb.InfoRequest) (resp *pb.InfoResponse, err error) {
	defer recoverTo(b.p.logger, &err)
	info := b.p.impl.Info()
	resp = &pb.InfoResponse{
		Name:        info.Name,
		Kind:        string(info.Kind),
		Version:     info.Version,
		Description: info.Description,
	}
	if resp.Kind == "" {
		resp.Kind = string(b.p.kind)
	}
	vs := info.APIVersions
	if len(vs) == 0 {
		vs = SupportedAPIVersions()
	}
	for _, v := range vs {
		resp.ApiVersions = append(resp.ApiVersions, int32(v))
	}
	return resp, nil
}

func (b *baseServer) ConfigSchema(context.Context, *pb.ConfigSchemaRequest) (resp *pb.ConfigSchemaResponse, err error) {
	defer recoverTo(b.p.logger, &err)
	schema := b.p.impl.ConfigSchema()
	resp = &pb.ConfigSchemaResponse{}
	for _, a := range schema.Attributes {
		pa := &pb.Attribute{Name: a.Name, Type: string(a.Type), Required: a.Required, Description: a.Description}
		if a.Default != nil {
			js, err := json.Marshal(a.Default)
			if err != nil {
				return nil, status.Errorf(codes.Internal, "attribute %q: default does not marshal: %v", a.Name, err)
			}
			pa.DefaultJson = string(js)
		}
		resp.Attributes = append(resp.Attributes, pa)
	}
	return resp, nil
}

func (b *baseServer) Configure(ctx context.Context, req *pb.ConfigureRequest) (resp *pb.ConfigureResponse, err error) {
	defer recoverTo(b.p.logger, &err)
	if err := b.p.impl.Configure(ctx, NewConfig(req.ConfigJson)); err != nil {
		return &pb.ConfigureResponse{Error: toPBError(err, CodeBadConfig)}, nil
	}
	return &pb.ConfigureResponse{}, nil
}

// ---- errors ----

// recoverTo turns a panic in plugin code into an error so one bad request does not
// take down the process and its other streams.
func recoverTo(log hclog.Logger, err *error) {
	if r := recover(); r != nil {
		log.Error("plugin panicked", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
		*err = status.Errorf(codes.Internal, "plugin panicked: %v", r)
	}
}

func toPBError(err error, fallback string) *pb.StreamError {
	var se *StreamError
	if errors.As(err, &se) {
		return &pb.StreamError{Code: se.Code, Message: se.Message}
	}
	return &pb.StreamError{Code: fallback, Message: err.Error()}
}

// transport remembers the first error the stream itself returned from Send or
// Recv. Only such an error may end the stream as its gRPC status: the host takes a
// status for a transport failure (a crashed plugin). The source and the sink of a
// stream share one and may run on different goroutines.
type transport struct {
	mu  sync.Mutex
	err error
}

// record notes err if it is the stream's failure and returns it unchanged.
func (t *transport) record(err error) error {
	if err != nil && !errors.Is(err, io.EOF) {
		t.mu.Lock()
		if t.err == nil {
			t.err = err
		}
		t.mu.Unlock()
	}
	return err
}

func (t *transport) failure() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.err
}

// finish ends a stream after the implementation returned: nil is a clean end, a
// cancelled stream reports the cancellation, the failure of the stream's own Send
// or Recv (returned as is or wrapped) ends it with that failure's status, and
// anything else travels as a coded error in band — INTERNAL unless it is a
// *StreamError — so that the host can tell a plugin's verdict from a transport
// failure. That includes errors that wrap a gRPC status, such as a plugin's own
// gRPC backend being unavailable: that is the plugin's verdict, not its connection
// to the daemon failing. (If the stream is broken, the in-band send fails and its
// error, a status, ends the stream.)
func finish(ctx context.Context, tr *transport, send func(*pb.StreamError) error, err error) error {
	if err == nil || errors.Is(err, io.EOF) {
		return nil
	}
	if ctx.Err() != nil {
		return status.FromContextError(ctx.Err()).Err()
	}
	if terr := tr.failure(); terr != nil && errors.Is(err, terr) {
		return terr
	}
	return send(toPBError(err, CodeInternal))
}

func runImpl(log hclog.Logger, f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			log.Error("plugin panicked", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			err = Errorf(CodeInternal, "plugin panicked: %v", r)
		}
	}()
	return f()
}

// ---- samples ----

func samplesToBytes(s []int16) []byte {
	b := make([]byte, 2*len(s))
	for i, v := range s {
		binary.LittleEndian.PutUint16(b[2*i:], uint16(v))
	}
	return b
}

func bytesToSamples(b []byte) ([]int16, error) {
	if len(b)%2 != 0 {
		return nil, Errorf(CodeInvalidAudio, "PCM frame of %d bytes is not whole s16le samples", len(b))
	}
	s := make([]int16, len(b)/2)
	for i := range s {
		s[i] = int16(binary.LittleEndian.Uint16(b[2*i:]))
	}
	return s, nil
}

func ns(d time.Duration) int64                         { return int64(d) }
func dur(n int64) time.Duration                        { return time.Duration(n) }
func protocolErr(format string, a ...any) *StreamError { return Errorf(CodeProtocol, format, a...) }

// ---- Decoder ----

type decoderServer struct {
	pb.UnimplementedDecoderServer
	impl Decoder
	log  hclog.Logger
}

type chunkSource struct {
	stream pb.Decoder_DecodeServer
	tr     *transport
	done   bool
}

func (c *chunkSource) Next(ctx context.Context) ([]byte, error) {
	if c.done {
		return nil, io.EOF
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m, err := c.stream.Recv()
	if err != nil {
		if errors.Is(err, io.EOF) {
			c.done = true
		}
		return nil, c.tr.record(err)
	}
	chunk, ok := m.Msg.(*pb.DecodeRequest_Chunk)
	if !ok {
		return nil, protocolErr("expected a byte chunk, got %T", m.Msg)
	}
	return chunk.Chunk, nil
}

type pcmSink struct {
	mu     sync.Mutex
	stream pb.Decoder_DecodeServer
	tr     *transport
}

func (s *pcmSink) Write(ctx context.Context, p PCM) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tr.record(s.stream.Send(&pb.DecodeResponse{Msg: &pb.DecodeResponse_Pcm{Pcm: &pb.PCMFrame{Samples: samplesToBytes(p.Samples), StartNs: ns(p.Start)}}}))
}

func (s *pcmSink) sendErr(e *pb.StreamError) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stream.Send(&pb.DecodeResponse{Msg: &pb.DecodeResponse_Error{Error: e}})
}

func (d *decoderServer) Decode(stream pb.Decoder_DecodeServer) error {
	ctx := stream.Context()
	tr := &transport{}
	sink := &pcmSink{stream: stream, tr: tr}
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	f := first.GetFormat()
	if f == nil {
		return sink.sendErr(&pb.StreamError{Code: CodeProtocol, Message: "the first message of a decode stream must be the format"})
	}
	format := Format{Container: f.Container, SampleRate: int(f.SampleRate), Channels: int(f.Channels), OutputRate: int(f.OutputRate)}
	err = runImpl(d.log, func() error { return d.impl.Decode(ctx, format, &chunkSource{stream: stream, tr: tr}, sink) })
	return finish(ctx, tr, sink.sendErr, err)
}

// ---- Transcriber ----

type transcriberServer struct {
	pb.UnimplementedTranscriberServer
	impl Transcriber
	log  hclog.Logger
}

type audioSource struct {
	stream pb.Transcriber_TranscribeServer
	tr     *transport
	done   bool
	msg    pb.TranscribeRequest // received into in place; nothing of it outlives Next
}

func (a *audioSource) Next(ctx context.Context) (AudioInput, error) {
	if a.done {
		return AudioInput{}, io.EOF
	}
	if err := ctx.Err(); err != nil {
		return AudioInput{}, err
	}
	err := a.stream.RecvMsg(&a.msg)
	if err != nil {
		if errors.Is(err, io.EOF) {
			a.done = true
		}
		return AudioInput{}, a.tr.record(err)
	}
	switch m := a.msg.Msg.(type) {
	case *pb.TranscribeRequest_Audio:
		s, err := bytesToSamples(m.Audio.GetSamples())
		if err != nil {
			return AudioInput{}, err
		}
		return AudioInput{Samples: s, Start: dur(m.Audio.GetStartNs())}, nil
	case *pb.TranscribeRequest_Control:
		switch m.Control {
		case pb.Control_CONTROL_FINALIZE:
			return AudioInput{Control: ControlFinalize}, nil
		case pb.Control_CONTROL_END:
			a.done = true
			return AudioInput{}, io.EOF
		}
		return AudioInput{}, protocolErr("unknown control %v", m.Control)
	}
	return AudioInput{}, protocolErr("expected audio or control, got %T", a.msg.Msg)
}

type transcriptSink struct {
	mu     sync.Mutex
	stream pb.Transcriber_TranscribeServer
	tr     *transport

	// Guarded by mu: the partial/final reply is built in place. gRPC marshals a
	// message before SendMsg returns and the plugin's server has no stats handler
	// or interceptor that reads it later, so one set per stream saves four
	// allocations per result.
	resp    pb.TranscribeResponse
	partial pb.TranscribeResponse_Partial
	final   pb.TranscribeResponse_Final
	result  pb.Result
}

func (s *transcriptSink) send(ctx context.Context, r *pb.TranscribeResponse) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tr.record(s.stream.Send(r))
}

// fillPBResult sets every field of out from r, reusing out's word slice.
func fillPBResult(out *pb.Result, r Result) {
	out.Text, out.Confidence, out.StartNs, out.EndNs, out.EndOfTurn = r.Text, r.Confidence, ns(r.Start), ns(r.End), r.EndOfTurn
	out.Words = out.Words[:0]
	for _, w := range r.Words {
		out.Words = append(out.Words, &pb.Word{Text: w.Text, StartNs: ns(w.Start), EndNs: ns(w.End), Confidence: w.Confidence})
	}
}

func (s *transcriptSink) SpeechStarted(ctx context.Context, at time.Duration) error {
	return s.send(ctx, &pb.TranscribeResponse{Msg: &pb.TranscribeResponse_SpeechStarted{SpeechStarted: &pb.SpeechStarted{AtNs: ns(at)}}})
}

// sendResult sends a partial (final false) or a final.
func (s *transcriptSink) sendResult(ctx context.Context, r Result, final bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	fillPBResult(&s.result, r)
	if final {
		s.final.Final = &s.result
		s.resp.Msg = &s.final
	} else {
		s.partial.Partial = &s.result
		s.resp.Msg = &s.partial
	}
	return s.tr.record(s.stream.Send(&s.resp))
}

func (s *transcriptSink) Partial(ctx context.Context, r Result) error {
	return s.sendResult(ctx, r, false)
}

func (s *transcriptSink) Final(ctx context.Context, r Result) error {
	return s.sendResult(ctx, r, true)
}

func (s *transcriptSink) sendErr(e *pb.StreamError) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stream.Send(&pb.TranscribeResponse{Msg: &pb.TranscribeResponse_Error{Error: e}})
}

func (t *transcriberServer) Transcribe(stream pb.Transcriber_TranscribeServer) error {
	ctx := stream.Context()
	tr := &transport{}
	sink := &transcriptSink{stream: stream, tr: tr}
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	st := first.GetStart()
	if st == nil {
		return sink.sendErr(&pb.StreamError{Code: CodeProtocol, Message: "the first message of a transcribe stream must be the start message"})
	}
	start := TranscribeStart{SampleRate: int(st.SampleRate), Language: st.Language, Hints: st.Hints}
	err = runImpl(t.log, func() error { return t.impl.Transcribe(ctx, start, &audioSource{stream: stream, tr: tr}, sink) })
	return finish(ctx, tr, sink.sendErr, err)
}

// ---- Suggester ----

type suggesterServer struct {
	pb.UnimplementedSuggesterServer
	impl Suggester
	log  hclog.Logger
}

type utteranceSource struct {
	stream pb.Suggester_SuggestServer
	tr     *transport
	done   bool
}

func (u *utteranceSource) Next(ctx context.Context) (Utterance, error) {
	if u.done {
		return Utterance{}, io.EOF
	}
	if err := ctx.Err(); err != nil {
		return Utterance{}, err
	}
	m, err := u.stream.Recv()
	if err != nil {
		if errors.Is(err, io.EOF) {
			u.done = true
		}
		return Utterance{}, u.tr.record(err)
	}
	ut := m.GetUtterance()
	if ut == nil {
		return Utterance{}, protocolErr("expected an utterance, got %T", m.Msg)
	}
	return Utterance{UtteranceID: ut.UtteranceId, SpeakerID: ut.SpeakerId, Role: ut.Role, Text: ut.Text,
		Start: dur(ut.StartNs), End: dur(ut.EndNs), EndOfTurn: ut.EndOfTurn}, nil
}

type suggestionSink struct {
	mu     sync.Mutex
	stream pb.Suggester_SuggestServer
	tr     *transport
}

func (s *suggestionSink) Send(ctx context.Context, set SuggestionSet) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	out := &pb.SuggestionSet{Id: set.ID, UtteranceId: set.UtteranceID, Question: set.Question, Supersedes: set.Supersedes, Final: set.Final}
	for _, sg := range set.Suggestions {
		out.Suggestions = append(out.Suggestions, &pb.Suggestion{Id: sg.ID, Text: sg.Text, Kind: sg.Kind, Score: sg.Score})
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tr.record(s.stream.Send(&pb.SuggestResponse{Msg: &pb.SuggestResponse_Set{Set: out}}))
}

func (s *suggestionSink) sendErr(e *pb.StreamError) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stream.Send(&pb.SuggestResponse{Msg: &pb.SuggestResponse_Error{Error: e}})
}

func (g *suggesterServer) Suggest(stream pb.Suggester_SuggestServer) error {
	ctx := stream.Context()
	tr := &transport{}
	sink := &suggestionSink{stream: stream, tr: tr}
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	si := first.GetSession()
	if si == nil {
		return sink.sendErr(&pb.StreamError{Code: CodeProtocol, Message: "the first message of a suggest stream must be the session"})
	}
	session := SessionInfo{SessionID: si.SessionId, Pipeline: si.Pipeline}
	err = runImpl(g.log, func() error { return g.impl.Suggest(ctx, session, &utteranceSource{stream: stream, tr: tr}, sink) })
	return finish(ctx, tr, sink.sendErr, err)
}
