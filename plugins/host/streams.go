package host

import (
	"context"
	"errors"

	"github.com/earshot-dev/earshot/plugins/internal/shim"
	"github.com/earshot-dev/earshot/plugins/sdk"
)

// Stream errors. Besides these, Recv returns io.EOF after CloseSend once the plugin
// has finished, a *sdk.StreamError for the plugin's coded errors, and the caller's
// context error when a ctx given to Send or Recv ends (which aborts the stream).
var (
	// ErrPluginFailed: the plugin process died, hung or was restarted under the
	// stream. Call Stage.WaitReady, then re-open the stream.
	ErrPluginFailed = shim.ErrPluginFailed
	// ErrUnavailable: the plugin could not be brought back (too many failures in
	// the restart window, or a debug-mode plugin went away).
	ErrUnavailable = errors.New("plugin unavailable")
	// ErrProtocol: the plugin sent an oversized or malformed message. The stream
	// is over; the process keeps serving other streams.
	ErrProtocol = shim.ErrProtocol
	// ErrStreamClosed: Send or CloseSend on a stream that is over (closed with
	// Close, or ended by the plugin — Recv says why).
	ErrStreamClosed = shim.ErrStreamClosed
)

// Send and CloseSend must not be called concurrently with each other; Recv may run
// concurrently with them (one sender goroutine, one receiver goroutine). Close may
// be called at any time from any goroutine, any number of times.

// DecodeStream is one decoder stream: bytes in, PCM out.
type DecodeStream interface {
	Send(ctx context.Context, chunk []byte) error
	CloseSend() error
	Recv(ctx context.Context) (sdk.PCM, error)
	Close() error
}

// TranscriptEventKind says what a TranscriptEvent carries.
type TranscriptEventKind = shim.TranscriptEventKind

// Transcript event kinds.
const (
	SpeechStarted = shim.SpeechStarted
	Partial       = shim.Partial
	Final         = shim.Final
)

// TranscriptEvent is one output of a transcriber: At is set for SpeechStarted,
// Result for Partial and Final.
type TranscriptEvent = shim.TranscriptEvent

// TranscribeStream is one transcriber stream: PCM and control in, events out.
// CloseSend is the "end" control message.
type TranscribeStream interface {
	Send(ctx context.Context, in sdk.AudioInput) error
	CloseSend() error
	Recv(ctx context.Context) (TranscriptEvent, error)
	Close() error
}

// SuggestStream is one suggester stream (one per session): finals in, suggestion
// sets out.
type SuggestStream interface {
	Send(ctx context.Context, u sdk.Utterance) error
	CloseSend() error
	Recv(ctx context.Context) (sdk.SuggestionSet, error)
	Close() error
}

var (
	_ DecodeStream     = (*shim.DecodeStream)(nil)
	_ TranscribeStream = (*shim.TranscribeStream)(nil)
	_ SuggestStream    = (*shim.SuggestStream)(nil)
)
