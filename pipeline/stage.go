package pipeline

import (
	"context"
	"errors"
	"time"

	"github.com/earshot-dev/earshot/plugins/sdk"
)

// The interfaces below are what the runtime needs from the plugin host. The host
// (plugins/host) satisfies them through a thin adapter in cmd: its stream types have
// these method sets, only its Open* return types and its transcript event type are
// its own.

// DecoderStage opens decoder streams on one configured decoder plugin.
type DecoderStage interface {
	OpenDecode(ctx context.Context, f sdk.Format) (DecodeStream, error)
	// WaitReady blocks until the plugin is serving again after a failure. An error
	// classified as FaultUnavailable means the host gave up on the plugin.
	WaitReady(ctx context.Context) error
}

// TranscriberStage opens transcriber streams on one configured transcriber plugin.
type TranscriberStage interface {
	OpenTranscribe(ctx context.Context, start sdk.TranscribeStart) (TranscribeStream, error)
	WaitReady(ctx context.Context) error
}

// SuggesterStage opens suggester streams on one configured suggester plugin.
type SuggesterStage interface {
	OpenSuggest(ctx context.Context, session sdk.SessionInfo) (SuggestStream, error)
	WaitReady(ctx context.Context) error
}

// DecodeStream is one decoder stream: container/codec bytes in, PCM out.
// Recv returns io.EOF once CloseSend was called and all PCM was delivered.
type DecodeStream interface {
	Send(ctx context.Context, chunk []byte) error
	CloseSend() error
	Recv(ctx context.Context) (sdk.PCM, error)
	Close() error
}

// TranscribeStream is one transcriber stream: PCM and control messages in,
// transcript events out. Recv returns io.EOF once CloseSend was called and the
// plugin finished.
type TranscribeStream interface {
	Send(ctx context.Context, in sdk.AudioInput) error
	CloseSend() error
	Recv(ctx context.Context) (TranscriptEvent, error)
	Close() error
}

// SuggestStream is one suggester stream: a session's finals in, suggestion sets out.
type SuggestStream interface {
	Send(ctx context.Context, u sdk.Utterance) error
	CloseSend() error
	Recv(ctx context.Context) (sdk.SuggestionSet, error)
	Close() error
}

// TranscriptKind is the kind of a transcript event.
type TranscriptKind int

// Transcript event kinds, in the order a plugin reports an utterance.
const (
	SpeechStarted TranscriptKind = iota + 1
	Partial
	Final
)

// String names the kind, for logs.
func (k TranscriptKind) String() string {
	switch k {
	case SpeechStarted:
		return "speech_started"
	case Partial:
		return "partial"
	case Final:
		return "final"
	}
	return "unknown"
}

// TranscriptEvent is one output of a transcriber stream: speech started at At, or a
// partial or final Result. Times are those of the plugin; the runtime maps them onto
// the stream's timeline.
type TranscriptEvent struct {
	Kind   TranscriptKind
	At     time.Duration
	Result sdk.Result
}

// Publisher delivers events to session members; the gateway implements it. It must
// not block for long: the gateway queues per connection and drops slow consumers.
type Publisher interface {
	// Publish sends event to the members of a session; roles nil means all members;
	// exceptUserID (when not empty) is skipped.
	Publish(sessionID, event string, payload any, roles []string, exceptUserID string)
	// PublishToUser sends event to one member's connections in a session.
	PublishToUser(sessionID, userID, event string, payload any)
}

// Fault is how the runtime reacts to an error from a stage.
type Fault int

// Faults.
const (
	// FaultFatal ends the stream (a coded plugin error, a bug).
	FaultFatal Fault = iota
	// FaultRestart: the plugin died or hung; wait for it, re-open, replay.
	FaultRestart
	// FaultUnavailable: the host gave up on the plugin.
	FaultUnavailable
	// FaultEnded: a Send found the stream already ended by the plugin; the reason
	// (a coded error, say) comes from Recv, which the runtime then waits for.
	FaultEnded
)

// ErrPluginFailed and ErrUnavailable are the sentinels the default classifier
// recognises: a stage adapter may wrap its host's errors in them, or the caller sets
// Options.Classify to recognise the host's own sentinels.
var (
	ErrPluginFailed = errors.New("pipeline: plugin failed")
	ErrUnavailable  = errors.New("pipeline: plugin unavailable")
)

// errHung marks a stage call that did not return within its time-out.
var errHung = errors.New("pipeline: plugin call timed out")

func defaultClassify(err error) Fault {
	var se *sdk.StreamError
	switch {
	case errors.Is(err, ErrUnavailable):
		return FaultUnavailable
	case errors.Is(err, ErrPluginFailed):
		return FaultRestart
	case errors.As(err, &se):
		return FaultFatal
	}
	// Unknown errors (a transport error the host did not wrap) are retried: the
	// restart budget bounds them.
	return FaultRestart
}
