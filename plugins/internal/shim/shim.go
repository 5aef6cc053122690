// Package shim is the host side of the plugin gRPC connection: it turns the
// generated clients into the stream API of plugins/host (plain sdk types, context
// on every call, errors sorted into the sentinels the pipeline acts on). The plugin
// side lives in plugins/sdk, which cannot import this package.
package shim

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/earshot-dev/earshot/plugins/internal/handshake"
	pb "github.com/earshot-dev/earshot/plugins/internal/pluginpb"
	"github.com/earshot-dev/earshot/plugins/sdk"
)

// Errors of a stream besides io.EOF, context errors and *sdk.StreamError.
var (
	// ErrPluginFailed: the connection to the plugin process failed (it died, hung,
	// or was restarted). Re-open the stream once the plugin is ready again.
	ErrPluginFailed = errors.New("plugin failed")
	// ErrProtocol: the plugin sent a message that breaks the protocol (oversized,
	// malformed, out of order). The stream is over; the process may still serve.
	ErrProtocol = errors.New("plugin broke the protocol")
	// ErrStreamClosed: the stream is over — closed with Close, or ended by the
	// plugin (then Recv reports why).
	ErrStreamClosed = errors.New("plugin stream closed")
)

// TranscriptEventKind says what a TranscriptEvent carries.
type TranscriptEventKind int

// Transcript event kinds.
const (
	SpeechStarted TranscriptEventKind = iota + 1
	Partial
	Final
)

func (k TranscriptEventKind) String() string {
	switch k {
	case SpeechStarted:
		return "speech_started"
	case Partial:
		return "partial"
	case Final:
		return "final"
	}
	return fmt.Sprintf("TranscriptEventKind(%d)", int(k))
}

// TranscriptEvent is one output of a transcriber stream. At is set for
// SpeechStarted; Result for Partial and Final.
type TranscriptEvent struct {
	Kind   TranscriptEventKind
	At     time.Duration
	Result sdk.Result
}

// ClientPlugin is the host side go-plugin plugin: it hands out a *Client.
type ClientPlugin struct {
	plugin.NetRPCUnsupportedPlugin
}

// GRPCServer is not used on the host side.
func (ClientPlugin) GRPCServer(*plugin.GRPCBroker, *grpc.Server) error {
	return errors.New("the host side does not serve plugins")
}

// GRPCClient returns a *Client on conn.
func (ClientPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, conn *grpc.ClientConn) (any, error) {
	return NewClient(conn), nil
}

// PluginSet is the host's plugin set for one API version.
func PluginSet() plugin.PluginSet {
	return plugin.PluginSet{
		handshake.SetDecoder:     ClientPlugin{},
		handshake.SetTranscriber: ClientPlugin{},
		handshake.SetSuggester:   ClientPlugin{},
	}
}

// DialOptions bound message sizes on the host side and fix the flow-control
// windows (see handshake.WindowSize).
func DialOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithDefaultCallOptions(
			grpc.MaxCallRecvMsgSize(handshake.MaxMessageSize),
			grpc.MaxCallSendMsgSize(handshake.MaxMessageSize),
			grpc.ForceCodecV2(handshake.Codec)),
		grpc.WithInitialWindowSize(handshake.WindowSize),
		grpc.WithInitialConnWindowSize(handshake.ConnWindowSize),
		// gRPC's transparent retries keep every sent message of a stream until the
		// plugin's first answer commits it. Nothing here is retried (a failed
		// plugin is restarted and its streams re-opened by the pipeline), so the
		// bookkeeping on every Send is pure cost.
		grpc.WithDisableRetry(),
	}
}

// Client talks to one plugin process.
type Client struct {
	conn   *grpc.ClientConn
	base   pb.BaseClient
	dec    pb.DecoderClient
	tr     pb.TranscriberClient
	sug    pb.SuggesterClient
	health grpc_health_v1.HealthClient

	co *coalescer // lines up the audio sends of real-time streams

	mu        sync.Mutex
	onFailure func()
}

// NewClient wraps a connection to a plugin.
func NewClient(conn *grpc.ClientConn) *Client {
	return &Client{
		conn:   conn,
		base:   pb.NewBaseClient(conn),
		dec:    pb.NewDecoderClient(conn),
		tr:     pb.NewTranscriberClient(conn),
		sug:    pb.NewSuggesterClient(conn),
		health: grpc_health_v1.NewHealthClient(conn),
		co:     newCoalescer(DefaultCoalesceWindow),
	}
}

// SetCoalesceWindow sets the longest an audio send of a real-time stream is held
// on a busy connection so that the frames of many streams leave together (see
// coalescer); 0 or less turns it off. Default DefaultCoalesceWindow.
func (c *Client) SetCoalesceWindow(w time.Duration) { c.co.setWindow(w) }

// OnFailure sets a function called (without blocking the caller for long) whenever
// a call or stream sees a transport failure, so a supervisor can check the process
// at once rather than at its next health tick.
func (c *Client) OnFailure(f func()) {
	c.mu.Lock()
	c.onFailure = f
	c.mu.Unlock()
}

func (c *Client) failed() {
	c.mu.Lock()
	f := c.onFailure
	c.mu.Unlock()
	if f != nil {
		f()
	}
}

// Ping checks the process answers go-plugin's gRPC health service.
func (c *Client) Ping(ctx context.Context) error {
	resp, err := c.health.Check(ctx, &grpc_health_v1.HealthCheckRequest{Service: plugin.GRPCServiceName})
	if err != nil {
		return err
	}
	if resp.Status != grpc_health_v1.HealthCheckResponse_SERVING {
		return fmt.Errorf("plugin health: %v", resp.Status)
	}
	return nil
}

// Info asks the plugin for its Info.
func (c *Client) Info(ctx context.Context) (sdk.Info, error) {
	r, err := c.base.Info(ctx, &pb.InfoRequest{})
	if err != nil {
		return sdk.Info{}, c.callErr(ctx, "Info", err)
	}
	info := sdk.Info{Name: r.Name, Kind: sdk.Kind(r.Kind), Version: r.Version, Description: r.Description}
	for _, v := range r.ApiVersions {
		info.APIVersions = append(info.APIVersions, int(v))
	}
	return info, nil
}

// ConfigSchema asks the plugin for its schema. Defaults arrive decoded from JSON:
// strings, float64, bool, []any, map[string]any.
func (c *Client) ConfigSchema(ctx context.Context) (sdk.Schema, error) {
	r, err := c.base.ConfigSchema(ctx, &pb.ConfigSchemaRequest{})
	if err != nil {
		return sdk.Schema{}, c.callErr(ctx, "ConfigSchema", err)
	}
	var s sdk.Schema
	for _, a := range r.Attributes {
		attr := sdk.Attribute{Name: a.Name, Type: sdk.AttrType(a.Type), Required: a.Required, Description: a.Description}
		if a.DefaultJson != "" {
			if err := json.Unmarshal([]byte(a.DefaultJson), &attr.Default); err != nil {
				return sdk.Schema{}, fmt.Errorf("%w: attribute %q: default %q is not JSON", ErrProtocol, a.Name, a.DefaultJson)
			}
		}
		s.Attributes = append(s.Attributes, attr)
	}
	return s, nil
}

// Configure sends the decoded stage config. A refusal is a *sdk.StreamError.
func (c *Client) Configure(ctx context.Context, cfg sdk.Config) error {
	r, err := c.base.Configure(ctx, &pb.ConfigureRequest{ConfigJson: cfg.JSON()})
	if err != nil {
		return c.callErr(ctx, "Configure", err)
	}
	if r.Error != nil {
		return &sdk.StreamError{Code: r.Error.Code, Message: r.Error.Message}
	}
	return nil
}

func (c *Client) callErr(ctx context.Context, call string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("plugin %s: %w", call, ctx.Err())
	}
	switch status.Code(err) {
	case codes.Internal, codes.Unimplemented, codes.ResourceExhausted:
		return fmt.Errorf("plugin %s: %w: %s", call, ErrProtocol, status.Convert(err).Message())
	}
	c.failed()
	return fmt.Errorf("plugin %s: %w: %v", call, ErrPluginFailed, err)
}

// ---- streams ----

// stream is what the three stream kinds share: its own cancel (Close, or a
// per-call context that ended), and the classification of errors.
type stream struct {
	c      *Client
	ctx    context.Context // the stream's own, from Open*
	cancel context.CancelFunc
	// openDone is the Done channel of the context given to Open*: a per-call
	// context with the same channel already cancels the stream, so watch skips it.
	openDone <-chan struct{}

	lastSend time.Time // of the previous audio send (Send is never concurrent with itself)

	mu      sync.Mutex
	cause   error // why we cancelled: a caller's context error or ErrStreamClosed
	recvErr error // sticky: the stream is over
}

func (s *stream) abort(cause error) {
	s.mu.Lock()
	if s.cause == nil {
		s.cause = cause
	}
	s.mu.Unlock()
	s.cancel()
}

// watch aborts the stream when a per-call context ends while the call blocks.
func (s *stream) watch(ctx context.Context) (stop func() bool) {
	// The pipeline passes the stream's own context to every call: registering an
	// AfterFunc on it per frame would allocate and take the parent's lock for
	// nothing.
	if d := ctx.Done(); d == nil || d == s.openDone {
		return noStop
	}
	return context.AfterFunc(ctx, func() { s.abort(ctx.Err()) })
}

func noStop() bool { return true }

func (s *stream) ourCause() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cause
}

// classify sorts a gRPC error from Send or Recv.
func (s *stream) classify(err error) error {
	if err == nil || errors.Is(err, io.EOF) {
		return err
	}
	if cause := s.ourCause(); cause != nil {
		return cause
	}
	if err := s.ctx.Err(); err != nil {
		// The context given to Open* ended.
		return err
	}
	st := status.Convert(err)
	switch st.Code() {
	case codes.ResourceExhausted:
		return fmt.Errorf("%w: %s", ErrProtocol, st.Message())
	case codes.Internal:
		if strings.Contains(st.Message(), "unmarshal") || strings.Contains(st.Message(), "parse") {
			return fmt.Errorf("%w: %s", ErrProtocol, st.Message())
		}
	}
	s.c.failed()
	return fmt.Errorf("%w: %v", ErrPluginFailed, err)
}

// Close ends the stream (cancels it) if it is still open. Idempotent.
func (s *stream) Close() error {
	s.abort(ErrStreamClosed)
	return nil
}

func (s *stream) sticky() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.recvErr != nil {
		return s.recvErr
	}
	// Aborted (Close, or a call's context ended): gRPC may still hand out a message
	// that had arrived before, which the caller has given up on.
	return s.cause
}

// end records why the stream is over (Recv returns it from now on) and releases
// the stream's resources.
func (s *stream) end(err error) error {
	s.mu.Lock()
	if s.recvErr == nil {
		s.recvErr = err
	}
	err = s.recvErr
	s.mu.Unlock()
	s.abort(ErrStreamClosed)
	return err
}

func (s *stream) sendErr(err error) error {
	if err == nil {
		return nil
	}
	if cause := s.ourCause(); cause != nil {
		return cause
	}
	if errors.Is(err, io.EOF) {
		// The plugin has ended the stream; Recv gets the reason.
		return ErrStreamClosed
	}
	return s.classify(err)
}

// startFailed classifies the failure of a stream's first Send (its start message)
// and releases the stream. gRPC reports a stream that is already over as io.EOF
// from Send and keeps the reason for Recv, so recv (the stream's Recv, its error
// classified, an in-band coded error as such) is asked for it — before cancelling,
// which would turn the reason into context.Canceled. A plugin that died as the
// stream opened is thus ErrPluginFailed (and wakes its supervisor), which the
// pipeline retries, not ErrStreamClosed, which it takes for the end of the stream.
func (s *stream) startFailed(err error, recv func() error) error {
	if errors.Is(err, io.EOF) {
		err = recv()
		if err == nil || errors.Is(err, io.EOF) {
			err = fmt.Errorf("%w: the plugin ended the stream before its start message", ErrProtocol)
		}
	} else {
		err = s.classify(err)
	}
	s.cancel()
	return err
}

// recvFirstError is startFailed's recv for a stream of any kind: the reason the
// stream ended (its Recv error, classified), or what a message received on a stream
// whose start message could not be sent means.
func recvFirstError[M interface{ GetError() *pb.StreamError }](s *stream, recv func() (M, error)) func() error {
	return func() error {
		m, err := recv()
		if err != nil {
			return s.classify(err)
		}
		if e := m.GetError(); e != nil {
			return coded(e)
		}
		return fmt.Errorf("%w: the plugin answered before the start message", ErrProtocol)
	}
}

func samplesToBytes(smp []int16) []byte { return appendSamples(nil, smp) }

// appendSamples appends smp to b as s16le.
func appendSamples(b []byte, smp []int16) []byte {
	n := len(b)
	b = slices.Grow(b, 2*len(smp))[:n+2*len(smp)]
	for i, v := range smp {
		binary.LittleEndian.PutUint16(b[n+2*i:], uint16(v))
	}
	return b
}

func bytesToSamples(b []byte) ([]int16, error) {
	if len(b)%2 != 0 {
		return nil, fmt.Errorf("%w: PCM frame of %d bytes is not whole samples", ErrProtocol, len(b))
	}
	smp := make([]int16, len(b)/2)
	for i := range smp {
		smp[i] = int16(binary.LittleEndian.Uint16(b[2*i:]))
	}
	return smp, nil
}

func coded(e *pb.StreamError) error {
	return &sdk.StreamError{Code: e.Code, Message: e.Message}
}

// ---- Decoder ----

// DecodeStream is a decoder stream.
type DecodeStream struct {
	stream
	gs pb.Decoder_DecodeClient
}

// OpenDecode opens a decoder stream and sends the format.
func (c *Client) OpenDecode(ctx context.Context, f sdk.Format) (*DecodeStream, error) {
	sctx, cancel := context.WithCancel(ctx)
	gs, err := c.dec.Decode(sctx)
	if err != nil {
		cancel()
		return nil, c.callErr(ctx, "Decode", err)
	}
	s := &DecodeStream{stream: stream{c: c, ctx: sctx, cancel: cancel, openDone: ctx.Done()}, gs: gs}
	err = gs.Send(&pb.DecodeRequest{Msg: &pb.DecodeRequest_Format{Format: &pb.Format{
		Container: f.Container, SampleRate: int32(f.SampleRate), Channels: int32(f.Channels), OutputRate: int32(f.OutputRate)}}})
	if err != nil {
		return nil, s.startFailed(err, recvFirstError(&s.stream, gs.Recv))
	}
	return s, nil
}

// Send sends a chunk of bytes.
func (s *DecodeStream) Send(ctx context.Context, chunk []byte) error {
	if cause := s.ourCause(); cause != nil {
		return cause // closed: gRPC may still take a message after the cancel
	}
	if err := s.pace(ctx); err != nil {
		return err
	}
	defer s.watch(ctx)()
	return s.sendErr(s.gs.Send(&pb.DecodeRequest{Msg: &pb.DecodeRequest_Chunk{Chunk: chunk}}))
}

// CloseSend marks the end of the input.
func (s *DecodeStream) CloseSend() error { return s.sendErr(s.gs.CloseSend()) }

// Recv returns the next block of PCM, io.EOF once the plugin has finished after
// CloseSend, or the error that ended the stream.
func (s *DecodeStream) Recv(ctx context.Context) (sdk.PCM, error) {
	if err := s.sticky(); err != nil {
		return sdk.PCM{}, err
	}
	defer s.watch(ctx)()
	m, err := s.gs.Recv()
	if err != nil {
		return sdk.PCM{}, s.end(s.classify(err))
	}
	switch m := m.Msg.(type) {
	case *pb.DecodeResponse_Pcm:
		if m.Pcm == nil {
			break
		}
		smp, err := bytesToSamples(m.Pcm.Samples)
		if err != nil {
			return sdk.PCM{}, s.end(err)
		}
		return sdk.PCM{Samples: smp, Start: time.Duration(m.Pcm.StartNs)}, nil
	case *pb.DecodeResponse_Error:
		if m.Error != nil {
			return sdk.PCM{}, s.end(coded(m.Error))
		}
	}
	return sdk.PCM{}, s.end(fmt.Errorf("%w: empty decode response", ErrProtocol))
}

// ---- Transcriber ----

// TranscribeStream is a transcriber stream.
type TranscribeStream struct {
	stream
	gs pb.Transcriber_TranscribeClient

	// The audio request is built in place for every frame: gRPC marshals a
	// message before SendMsg returns, and these connections have no stats
	// handler or interceptor that could read it later, so reusing it (and its
	// sample buffer) saves four allocations per frame. Send is never concurrent
	// with itself (see host.TranscribeStream).
	req   pb.TranscribeRequest
	audio pb.TranscribeRequest_Audio
	frame pb.PCMFrame
}

// OpenTranscribe opens a transcriber stream and sends the start message.
func (c *Client) OpenTranscribe(ctx context.Context, st sdk.TranscribeStart) (*TranscribeStream, error) {
	sctx, cancel := context.WithCancel(ctx)
	gs, err := c.tr.Transcribe(sctx)
	if err != nil {
		cancel()
		return nil, c.callErr(ctx, "Transcribe", err)
	}
	s := &TranscribeStream{stream: stream{c: c, ctx: sctx, cancel: cancel, openDone: ctx.Done()}, gs: gs}
	err = gs.Send(&pb.TranscribeRequest{Msg: &pb.TranscribeRequest_Start{Start: &pb.TranscribeStart{
		SampleRate: int32(st.SampleRate), Language: st.Language, Hints: st.Hints}}})
	if err != nil {
		return nil, s.startFailed(err, recvFirstError(&s.stream, gs.Recv))
	}
	return s, nil
}

// Send sends audio or a control message.
func (s *TranscribeStream) Send(ctx context.Context, in sdk.AudioInput) error {
	if cause := s.ourCause(); cause != nil {
		return cause // closed: gRPC may still take a message after the cancel
	}
	defer s.watch(ctx)()
	var req *pb.TranscribeRequest
	switch in.Control {
	case sdk.ControlNone:
		if err := s.pace(ctx); err != nil {
			return err
		}
		s.frame.Samples = appendSamples(s.frame.Samples[:0], in.Samples)
		s.frame.StartNs = int64(in.Start)
		s.audio.Audio = &s.frame
		s.req.Msg = &s.audio
		req = &s.req
	case sdk.ControlFinalize:
		req = &pb.TranscribeRequest{Msg: &pb.TranscribeRequest_Control{Control: pb.Control_CONTROL_FINALIZE}}
	default:
		return fmt.Errorf("unknown control %d", in.Control)
	}
	return s.sendErr(s.gs.Send(req))
}

// CloseSend sends "end" and closes the sending side.
func (s *TranscribeStream) CloseSend() error {
	if err := s.gs.Send(&pb.TranscribeRequest{Msg: &pb.TranscribeRequest_Control{Control: pb.Control_CONTROL_END}}); err != nil {
		return s.sendErr(err)
	}
	return s.sendErr(s.gs.CloseSend())
}

func fromPBResult(r *pb.Result) sdk.Result {
	out := sdk.Result{Text: r.Text, Confidence: r.Confidence, Start: time.Duration(r.StartNs), End: time.Duration(r.EndNs), EndOfTurn: r.EndOfTurn}
	for _, w := range r.Words {
		out.Words = append(out.Words, sdk.WordResult{Text: w.Text, Start: time.Duration(w.StartNs), End: time.Duration(w.EndNs), Confidence: w.Confidence})
	}
	return out
}

// Recv returns the next event, io.EOF once the plugin has finished after CloseSend,
// or the error that ended the stream.
func (s *TranscribeStream) Recv(ctx context.Context) (TranscriptEvent, error) {
	if err := s.sticky(); err != nil {
		return TranscriptEvent{}, err
	}
	defer s.watch(ctx)()
	m, err := s.gs.Recv()
	if err != nil {
		return TranscriptEvent{}, s.end(s.classify(err))
	}
	switch m := m.Msg.(type) {
	case *pb.TranscribeResponse_SpeechStarted:
		if m.SpeechStarted != nil {
			return TranscriptEvent{Kind: SpeechStarted, At: time.Duration(m.SpeechStarted.AtNs)}, nil
		}
	case *pb.TranscribeResponse_Partial:
		if m.Partial != nil {
			return TranscriptEvent{Kind: Partial, Result: fromPBResult(m.Partial)}, nil
		}
	case *pb.TranscribeResponse_Final:
		if m.Final != nil {
			return TranscriptEvent{Kind: Final, Result: fromPBResult(m.Final)}, nil
		}
	case *pb.TranscribeResponse_Error:
		if m.Error != nil {
			return TranscriptEvent{}, s.end(coded(m.Error))
		}
	}
	return TranscriptEvent{}, s.end(fmt.Errorf("%w: empty transcribe response", ErrProtocol))
}

// ---- Suggester ----

// SuggestStream is a suggester stream.
type SuggestStream struct {
	stream
	gs pb.Suggester_SuggestClient
}

// OpenSuggest opens a suggester stream and sends the session.
func (c *Client) OpenSuggest(ctx context.Context, si sdk.SessionInfo) (*SuggestStream, error) {
	sctx, cancel := context.WithCancel(ctx)
	gs, err := c.sug.Suggest(sctx)
	if err != nil {
		cancel()
		return nil, c.callErr(ctx, "Suggest", err)
	}
	s := &SuggestStream{stream: stream{c: c, ctx: sctx, cancel: cancel, openDone: ctx.Done()}, gs: gs}
	err = gs.Send(&pb.SuggestRequest{Msg: &pb.SuggestRequest_Session{Session: &pb.SessionInfo{SessionId: si.SessionID, Pipeline: si.Pipeline}}})
	if err != nil {
		return nil, s.startFailed(err, recvFirstError(&s.stream, gs.Recv))
	}
	return s, nil
}

// Send sends a final utterance.
func (s *SuggestStream) Send(ctx context.Context, u sdk.Utterance) error {
	if cause := s.ourCause(); cause != nil {
		return cause // closed: gRPC may still take a message after the cancel
	}
	defer s.watch(ctx)()
	return s.sendErr(s.gs.Send(&pb.SuggestRequest{Msg: &pb.SuggestRequest_Utterance{Utterance: &pb.Utterance{
		UtteranceId: u.UtteranceID, SpeakerId: u.SpeakerID, Role: u.Role, Text: u.Text,
		StartNs: int64(u.Start), EndNs: int64(u.End), EndOfTurn: u.EndOfTurn}}}))
}

// CloseSend ends the session's input.
func (s *SuggestStream) CloseSend() error { return s.sendErr(s.gs.CloseSend()) }

// Recv returns the next suggestion set, io.EOF once the plugin has finished after
// CloseSend, or the error that ended the stream.
func (s *SuggestStream) Recv(ctx context.Context) (sdk.SuggestionSet, error) {
	if err := s.sticky(); err != nil {
		return sdk.SuggestionSet{}, err
	}
	defer s.watch(ctx)()
	m, err := s.gs.Recv()
	if err != nil {
		return sdk.SuggestionSet{}, s.end(s.classify(err))
	}
	switch m := m.Msg.(type) {
	case *pb.SuggestResponse_Set:
		if m.Set != nil {
			set := sdk.SuggestionSet{ID: m.Set.Id, UtteranceID: m.Set.UtteranceId, Question: m.Set.Question, Supersedes: m.Set.Supersedes, Final: m.Set.Final}
			for _, sg := range m.Set.Suggestions {
				set.Suggestions = append(set.Suggestions, sdk.Suggestion{ID: sg.Id, Text: sg.Text, Kind: sg.Kind, Score: sg.Score})
			}
			return set, nil
		}
	case *pb.SuggestResponse_Error:
		if m.Error != nil {
			return sdk.SuggestionSet{}, s.end(coded(m.Error))
		}
	}
	return sdk.SuggestionSet{}, s.end(fmt.Errorf("%w: empty suggest response", ErrProtocol))
}
