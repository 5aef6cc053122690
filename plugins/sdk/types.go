// Package sdk is the one package earshot plugin authors import.
//
// A plugin is a separate program that serves one of three kinds — a Decoder, a
// Transcriber or a Suggester — over hashicorp/go-plugin (gRPC). Authors implement a
// small Go interface with plain Go types (no protobuf types appear here) and call the
// matching Serve function from main:
//
//	func main() { sdk.ServeTranscriber(mytranscriber.New) }
//
// Every plugin also implements Plugin: Info (name, kind, version), ConfigSchema (the
// attributes its pipeline stage block accepts) and Configure (the decoded block). The
// earshot host checks each stage block of the HCL configuration against ConfigSchema
// and reports mistakes with file and line before any audio flows.
//
// The stream methods (Decode, Transcribe, Suggest) follow one shape: ctx first, a
// source to read from, a sink to write to; the call blocks until the source ends
// (io.EOF), the context is cancelled, or the plugin returns an error. Return a
// *StreamError to report a coded error (for example INVALID_AUDIO) to the daemon.
package sdk

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// APIVersion is the newest plugin API version this SDK speaks. The host and plugin
// agree on the highest version both support.
const APIVersion = 1

// Kind is the kind of a plugin.
type Kind string

// The plugin kinds.
const (
	KindDecoder     Kind = "decoder"
	KindTranscriber Kind = "transcriber"
	KindSuggester   Kind = "suggester"
)

// Info describes a plugin.
type Info struct {
	Name        string // e.g. "sphinx"; matches the binary name earshot-plugin-<name>
	Kind        Kind
	Version     string // the plugin's own version, free form (semver recommended)
	Description string
	// APIVersions lists the plugin API versions the plugin supports. Serve fills it
	// in with the SDK's versions when empty.
	APIVersions []int
}

// AttrType is the type of a configuration attribute.
type AttrType string

// Attribute types. Durations are written as strings in HCL ("500ms", "2s") and
// sizes as strings ("64KiB") or numbers of bytes; both are checked by the host.
const (
	TypeString     AttrType = "string"
	TypeNumber     AttrType = "number"
	TypeBool       AttrType = "bool"
	TypeDuration   AttrType = "duration"
	TypeSize       AttrType = "size"
	TypeListString AttrType = "list(string)"
	TypeMapString  AttrType = "map(string)"
)

// Attribute is one attribute of a stage block.
type Attribute struct {
	Name        string
	Type        AttrType
	Required    bool
	Default     any // a Go value of the type: string, float64/int, bool, []string, map[string]string; durations as strings
	Description string
}

// Schema is the schema of a plugin's stage block.
type Schema struct {
	Attributes []Attribute
}

// Config is a stage block decoded by the host against the plugin's Schema, with the
// defaults applied. Durations arrive as strings ("500ms"), sizes as numbers of bytes.
type Config struct {
	raw json.RawMessage
}

// NewConfig builds a Config from JSON; used by the SDK's transport and by tests.
func NewConfig(raw []byte) Config { return Config{raw: append(json.RawMessage(nil), raw...)} }

// JSON returns the configuration as a JSON object.
func (c Config) JSON() []byte {
	if len(c.raw) == 0 {
		return []byte("{}")
	}
	return c.raw
}

// Decode unmarshals the configuration into v (a pointer to a struct with json tags).
// Use Duration for duration attributes.
func (c Config) Decode(v any) error {
	if err := json.Unmarshal(c.JSON(), v); err != nil {
		return fmt.Errorf("decode plugin config: %w", err)
	}
	return nil
}

// Duration is a time.Duration that unmarshals from a duration string ("500ms").
type Duration time.Duration

// UnmarshalJSON accepts "500ms"-style strings and numbers of nanoseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("invalid duration %q: %w", s, err)
		}
		*d = Duration(v)
		return nil
	}
	var n int64
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("invalid duration %s", b)
	}
	*d = Duration(n)
	return nil
}

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// Plugin is what every plugin implements.
type Plugin interface {
	Info() Info
	ConfigSchema() Schema
	// Configure is called once, before any stream, with the stage block's config.
	// Return a *StreamError with code BAD_CONFIG, or any error, to refuse it.
	Configure(ctx context.Context, cfg Config) error
}

// StreamError is a coded error a plugin reports for one stream. Codes are stable
// UPPER_SNAKE strings: INVALID_AUDIO, UNSUPPORTED_FORMAT, BAD_CONFIG, INTERNAL, …
type StreamError struct {
	Code    string
	Message string
}

func (e *StreamError) Error() string { return e.Code + ": " + e.Message }

// Errorf returns a *StreamError.
func Errorf(code, format string, args ...any) *StreamError {
	return &StreamError{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Common stream error codes.
const (
	CodeInvalidAudio      = "INVALID_AUDIO"
	CodeUnsupportedFormat = "UNSUPPORTED_FORMAT"
	CodeBadConfig         = "BAD_CONFIG"
	CodeInternal          = "INTERNAL"
	CodeUnavailable       = "UNAVAILABLE"
)

// ---- Decoder ----

// Format describes the bytes of an audio stream given to a decoder.
type Format struct {
	Container  string // webm, ogg, opus, pcm16, f32, wav
	SampleRate int    // input rate when the container does not carry it (pcm16, f32)
	Channels   int    // input channels when the container does not carry them
	OutputRate int    // wanted output rate of the PCM frames (default 16000)
}

// PCM is a block of s16le mono samples at the output rate.
type PCM struct {
	Samples []int16
	// Start is the time of the first sample relative to the stream's first sample.
	Start time.Duration
}

// ChunkSource yields the stream's byte chunks in order; io.EOF ends the stream.
type ChunkSource interface {
	Next(ctx context.Context) ([]byte, error)
}

// PCMSink receives decoded audio.
type PCMSink interface {
	Write(ctx context.Context, pcm PCM) error
}

// Decoder turns container/codec bytes into PCM.
type Decoder interface {
	Plugin
	// Decode reads chunks from in until io.EOF and writes PCM to out.
	Decode(ctx context.Context, f Format, in ChunkSource, out PCMSink) error
}

// ---- Transcriber ----

// TranscribeStart opens a transcription stream.
type TranscribeStart struct {
	SampleRate int      // of the PCM frames that follow (s16le mono)
	Language   string   // BCP 47, e.g. "en-US"; empty means the plugin's default
	Hints      []string // phrases likely to be said (names, interview vocabulary)
}

// Control is a control message in a transcription stream.
type Control int

// Control messages.
const (
	// ControlNone marks an input that carries audio.
	ControlNone Control = iota
	// ControlFinalize asks for the utterance in progress to be finalized now.
	ControlFinalize
)

// AudioInput is one item of a transcription stream: audio, or a control message.
type AudioInput struct {
	Samples []int16       // s16le mono at TranscribeStart.SampleRate
	Start   time.Duration // time of Samples[0] relative to the stream's first sample
	Control Control
}

// AudioSource yields the stream's inputs in order; io.EOF is the end of the stream
// ("end"): the plugin should finalize any utterance in progress and return.
type AudioSource interface {
	Next(ctx context.Context) (AudioInput, error)
}

// WordResult is one recognised word.
type WordResult struct {
	Text       string
	Start, End time.Duration // relative to the stream's first sample
	Confidence float64       // 0..1
}

// Result is a partial or final hypothesis of the utterance in progress.
type Result struct {
	Text       string
	Confidence float64 // 0..1
	Start, End time.Duration
	Words      []WordResult
	// EndOfTurn is set on a final ended by the speaker's silence (not on a final
	// forced by ControlFinalize, the end of stream or a length limit).
	EndOfTurn bool
}

// TranscriptSink receives a transcriber's output. For each utterance a plugin calls
// SpeechStarted once (optional), Partial any number of times, then Final exactly
// once; the next utterance starts after Final. The daemon assigns utterance ids and
// revisions.
type TranscriptSink interface {
	SpeechStarted(ctx context.Context, at time.Duration) error
	Partial(ctx context.Context, r Result) error
	Final(ctx context.Context, r Result) error
}

// Transcriber turns PCM into text.
type Transcriber interface {
	Plugin
	Transcribe(ctx context.Context, start TranscribeStart, in AudioSource, out TranscriptSink) error
}

// ---- Suggester ----

// SessionInfo describes the session a suggester stream serves.
type SessionInfo struct {
	SessionID string
	Pipeline  string
}

// Utterance is a final transcript given to a suggester.
type Utterance struct {
	UtteranceID string
	SpeakerID   string
	Role        string // interviewer, candidate, observer, admin
	Text        string
	Start, End  time.Duration
	EndOfTurn   bool
}

// UtteranceSource yields the session's finals in order; io.EOF ends the session.
type UtteranceSource interface {
	Next(ctx context.Context) (Utterance, error)
}

// Suggestion is one suggestion of a set.
type Suggestion struct {
	ID    string
	Text  string
	Kind  string // e.g. talking_point, outline, follow_up, answer
	Score float64
}

// SuggestionSet is a ranked set of suggestions answering one utterance. A set may be
// sent several times with the same ID as it grows (streamed generation); Final marks
// its last update. Supersedes names an earlier set this one replaces.
type SuggestionSet struct {
	ID          string
	UtteranceID string
	Question    string
	Suggestions []Suggestion
	Supersedes  string
	Final       bool
}

// SuggestionSink receives suggestion sets.
type SuggestionSink interface {
	Send(ctx context.Context, s SuggestionSet) error
}

// Suggester turns a conversation into suggestions.
type Suggester interface {
	Plugin
	Suggest(ctx context.Context, session SessionInfo, in UtteranceSource, out SuggestionSink) error
}
