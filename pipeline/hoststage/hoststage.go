// Package hoststage adapts the plugin host's stages (plugins/host) to the stage
// interfaces the pipeline runtime declares, so that cmd wires them in one line each:
//
//	pipeline.Definition{
//		Decoder:     hoststage.Decoder(dec),
//		Transcriber: hoststage.Transcriber(tr),
//		Suggester:   hoststage.Suggester(sug), // nil stage → nil
//	}
//	pipeline.Options{Classify: hoststage.Classify, …}
//
// It lives apart from package pipeline so that the runtime depends on no plugin
// transport; only this adapter knows both sides.
package hoststage

import (
	"context"
	"errors"

	"github.com/earshot-dev/earshot/pipeline"
	"github.com/earshot-dev/earshot/plugins/host"
	"github.com/earshot-dev/earshot/plugins/sdk"
)

// Classify maps the host's errors to the runtime's faults.
func Classify(err error) pipeline.Fault {
	var se *sdk.StreamError
	switch {
	case errors.Is(err, host.ErrUnavailable):
		return pipeline.FaultUnavailable
	case errors.Is(err, host.ErrPluginFailed):
		return pipeline.FaultRestart
	case errors.Is(err, host.ErrStreamClosed):
		return pipeline.FaultEnded // Recv says why
	case errors.As(err, &se), errors.Is(err, host.ErrProtocol):
		return pipeline.FaultFatal
	}
	return pipeline.FaultRestart // a transport error: the restart budget bounds it
}

// Decoder adapts a decoder stage.
func Decoder(s *host.Stage) pipeline.DecoderStage {
	if s == nil {
		return nil
	}
	return decoder{s}
}

// Transcriber adapts a transcriber stage.
func Transcriber(s *host.Stage) pipeline.TranscriberStage {
	if s == nil {
		return nil
	}
	return transcriber{s}
}

// Suggester adapts a suggester stage; nil stays nil (a pipeline without suggester).
func Suggester(s *host.Stage) pipeline.SuggesterStage {
	if s == nil {
		return nil
	}
	return suggester{s}
}

type decoder struct{ s *host.Stage }

func (d decoder) OpenDecode(ctx context.Context, f sdk.Format) (pipeline.DecodeStream, error) {
	return d.s.OpenDecode(ctx, f)
}

func (d decoder) WaitReady(ctx context.Context) error { return d.s.WaitReady(ctx) }

type transcriber struct{ s *host.Stage }

func (t transcriber) OpenTranscribe(ctx context.Context, start sdk.TranscribeStart) (pipeline.TranscribeStream, error) {
	ts, err := t.s.OpenTranscribe(ctx, start)
	if err != nil {
		return nil, err
	}
	return transcribeStream{ts}, nil
}

func (t transcriber) WaitReady(ctx context.Context) error { return t.s.WaitReady(ctx) }

type transcribeStream struct{ host.TranscribeStream }

func (t transcribeStream) Recv(ctx context.Context) (pipeline.TranscriptEvent, error) {
	ev, err := t.TranscribeStream.Recv(ctx)
	if err != nil {
		return pipeline.TranscriptEvent{}, err
	}
	var kind pipeline.TranscriptKind
	switch ev.Kind {
	case host.SpeechStarted:
		kind = pipeline.SpeechStarted
	case host.Partial:
		kind = pipeline.Partial
	case host.Final:
		kind = pipeline.Final
	}
	return pipeline.TranscriptEvent{Kind: kind, At: ev.At, Result: ev.Result}, nil
}

type suggester struct{ s *host.Stage }

func (g suggester) OpenSuggest(ctx context.Context, info sdk.SessionInfo) (pipeline.SuggestStream, error) {
	return g.s.OpenSuggest(ctx, info)
}

func (g suggester) WaitReady(ctx context.Context) error { return g.s.WaitReady(ctx) }
