package pipeline

import (
	"fmt"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/earshot-dev/earshot/signaling/protocol"
)

// Definition is one named pipeline of the configuration.
type Definition struct {
	Name string
	// Decoder and Transcriber are required; Suggester is optional.
	Decoder     DecoderStage
	Transcriber TranscriberStage
	Suggester   SuggesterStage
	// SuggesterName is the suggester plugin's name, sent as the `source` of
	// responses:suggestions.
	SuggesterName string
	// RelayAudio relays each stream's chunks to the other members (audio:received).
	RelayAudio bool
	// SuggestFrom lists the speaker roles whose finals trigger suggestions (empty: all).
	// The suggester still sees every final, as context.
	SuggestFrom []string
	// SuggestTo lists the roles that receive responses:suggestions (empty: all members).
	SuggestTo []string
	// Language and Hints are passed to the transcriber at stream start.
	Language string
	Hints    []string
	// OutputRate is the PCM rate between decoder and transcriber (default 16000).
	OutputRate int
	// StreamIdleTimeout drains and closes a stream that received no audio for this
	// long (default 10s).
	StreamIdleTimeout time.Duration
	// ReplayBuffer bounds the audio kept since the last final for replay after a
	// transcriber restart. Zero disables replay (a restart then loses the audio the
	// transcriber had not finalized); the configuration's default is 30s.
	ReplayBuffer time.Duration
}

// Options configures a Runtime.
type Options struct {
	Logger    hclog.Logger
	Publisher Publisher
	// Definitions are the configured pipelines; DefaultPipeline names the one used
	// when a stream's spec names none.
	Definitions     []Definition
	DefaultPipeline string
	// Registerer receives the runtime's metrics; nil registers nothing.
	Registerer prometheus.Registerer
	// Classify maps a stage error to a Fault; nil recognises ErrPluginFailed and
	// ErrUnavailable. Stage time-outs always restart, *sdk.StreamError is always
	// fatal and ErrUnavailable (also the runtime's own, for a plugin not ready within
	// ReadyTimeout) always gives up, whatever Classify says.
	Classify func(error) Fault

	// OnStreamEnd, if set, is called once when a stream has ended (after its last
	// event was published), whoever ended it: Stop, the idle time-out (reason code
	// STREAM_IDLE), a plugin that could not come back (PIPELINE_UNAVAILABLE), audio the
	// decoder refused (its code), CloseSession or Close (reason nil for a drain). The
	// gateway uses it to forget the stream, so the user's next audio opens a new one.
	// It must not block; it is not called for clips.
	OnStreamEnd func(spec protocol.StreamSpec, streamID string, reason *protocol.Error)

	// MaxStreams bounds the audio streams (clips included) running at once (default 1024).
	MaxStreams int
	// InputQueueBytes bounds the bytes waiting for a stream's decoder (default 256 KiB).
	InputQueueBytes int
	// PCMQueueBytes bounds the PCM waiting for a stream's transcriber (default 512 KiB,
	// 16 s at 16 kHz).
	PCMQueueBytes int
	// SuggestQueue bounds the finals waiting for a session's suggester (default 64).
	SuggestQueue int
	// FallingBehindAfter: PCM queued for the transcriber beyond this much audio is
	// reported as FALLING_BEHIND (default 5s).
	FallingBehindAfter time.Duration
	// WriteTimeout bounds how long Write waits for queue space before it refuses the
	// chunk with FALLING_BEHIND (default 2s).
	WriteTimeout time.Duration
	// CallTimeout bounds each Open and Send to a plugin (default 5s).
	CallTimeout time.Duration
	// DrainTimeout bounds how long a stage may take to deliver its last output after
	// its input ended (default 10s); longer is treated as a hung plugin.
	DrainTimeout time.Duration
	// ReadyTimeout bounds the wait for a restarted plugin (default 30s).
	ReadyTimeout time.Duration
	// MaxRestarts bounds the restarts of one stream's stages, and of one session's
	// suggester, within RestartWindow (default 5 per minute); beyond it the stream
	// ends with PIPELINE_UNAVAILABLE (the session goes on without suggestions).
	MaxRestarts   int
	RestartWindow time.Duration
	// ClipChunkBytes is the size of the chunks a transcription:request clip is fed
	// to the decoder in (default 32 KiB).
	ClipChunkBytes int
}

func (o *Options) setDefaults() {
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
	}
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defd := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.MaxStreams, 1024)
	def(&o.InputQueueBytes, 256<<10)
	def(&o.PCMQueueBytes, 512<<10)
	def(&o.SuggestQueue, 64)
	def(&o.MaxRestarts, 5)
	def(&o.ClipChunkBytes, 32<<10)
	defd(&o.FallingBehindAfter, 5*time.Second)
	defd(&o.WriteTimeout, 2*time.Second)
	defd(&o.CallTimeout, 5*time.Second)
	defd(&o.DrainTimeout, 10*time.Second)
	defd(&o.ReadyTimeout, 30*time.Second)
	defd(&o.RestartWindow, time.Minute)
	for i := range o.Definitions {
		d := &o.Definitions[i]
		def(&d.OutputRate, 16000)
		defd(&d.StreamIdleTimeout, 10*time.Second)
	}
}

func (o *Options) validate() error {
	if o.Publisher == nil {
		return fmt.Errorf("pipeline: Options.Publisher is required")
	}
	seen := map[string]bool{}
	for _, d := range o.Definitions {
		switch {
		case d.Name == "":
			return fmt.Errorf("pipeline: a definition has no name")
		case seen[d.Name]:
			return fmt.Errorf("pipeline: pipeline %q defined twice", d.Name)
		case d.Decoder == nil || d.Transcriber == nil:
			return fmt.Errorf("pipeline %q: decoder and transcriber are required", d.Name)
		}
		seen[d.Name] = true
	}
	if o.DefaultPipeline != "" && !seen[o.DefaultPipeline] {
		return fmt.Errorf("pipeline: default pipeline %q is not defined", o.DefaultPipeline)
	}
	return nil
}
