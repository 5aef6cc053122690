// Package whisper is an example earshot transcriber plugin: it cuts the audio
// stream into utterances with a simple energy-based endpointer and sends each one,
// as a WAV file, to an OpenAI-compatible /v1/audio/transcriptions server —
// whisper.cpp's server, faster-whisper-server, OpenAI itself.
//
// It is written to be copied: everything a transcriber plugin needs is here —
// Info, a config schema, Configure, the Transcribe stream loop with its goroutine
// and back-pressure, coded errors, logging — in three short files.
package whisper

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/earshot-dev/earshot/plugins/sdk"
	"github.com/hashicorp/go-hclog"
)

// Version is the plugin's version.
const Version = "0.1.0"

// Settings is the decoded stage block (see ConfigSchema for what each means).
type Settings struct {
	BaseURL        string       `json:"base_url"`
	Model          string       `json:"model"`
	APIKeyEnv      string       `json:"api_key_env"`
	Language       string       `json:"language"`
	ResponseFormat string       `json:"response_format"`
	EnergyDBFS     float64      `json:"energy_threshold_dbfs"`
	Hangover       sdk.Duration `json:"hangover"`
	MinSpeech      sdk.Duration `json:"min_speech"`
	MaxUtterance   sdk.Duration `json:"max_utterance"`
	PreRoll        sdk.Duration `json:"pre_roll"`
	Timeout        sdk.Duration `json:"timeout"`
}

func defaults() Settings {
	return Settings{
		BaseURL:        "http://127.0.0.1:8081",
		Model:          "whisper-1",
		ResponseFormat: "verbose_json",
		EnergyDBFS:     -40,
		Hangover:       sdk.Duration(500 * time.Millisecond),
		MinSpeech:      sdk.Duration(250 * time.Millisecond),
		MaxUtterance:   sdk.Duration(30 * time.Second),
		PreRoll:        sdk.Duration(200 * time.Millisecond),
		Timeout:        sdk.Duration(30 * time.Second),
	}
}

// maxPreRoll bounds pre_roll: it is buffered for every stream and sent with
// every utterance.
const maxPreRoll = 2 * time.Second

// Transcriber is the plugin. One instance serves every stream of the process,
// so per-stream state lives in Transcribe, and the configuration behind a lock.
type Transcriber struct {
	log hclog.Logger

	mu     sync.RWMutex
	cfg    Settings
	client *client
}

var _ sdk.Transcriber = (*Transcriber)(nil)

// New is what main hands to sdk.ServeTranscriber.
func New() *Transcriber { return NewWithLogger(sdk.Logger()) }

// NewWithLogger returns a transcriber logging to log (tests use this).
func NewWithLogger(log hclog.Logger) *Transcriber { return &Transcriber{log: log} }

// Info names the plugin: the binary must be called earshot-plugin-whisper.
func (t *Transcriber) Info() sdk.Info {
	return sdk.Info{
		Name:        "whisper",
		Kind:        sdk.KindTranscriber,
		Version:     Version,
		Description: "Sends each utterance to an OpenAI-compatible /v1/audio/transcriptions server.",
	}
}

// ConfigSchema lists the attributes of the transcriber "whisper" { … } block. The
// daemon checks the block against it, with file:line diagnostics, before any
// audio flows, and fills in the defaults.
func (t *Transcriber) ConfigSchema() sdk.Schema {
	return sdk.Schema{Attributes: []sdk.Attribute{
		{Name: "base_url", Type: sdk.TypeString, Default: "http://127.0.0.1:8081",
			Description: "Server URL; /v1/audio/transcriptions is appended unless the URL already ends in /audio/transcriptions."},
		{Name: "model", Type: sdk.TypeString, Default: "whisper-1",
			Description: "Model name sent with each request (whisper.cpp ignores it)."},
		{Name: "api_key_env", Type: sdk.TypeString, Default: "",
			Description: "Name of the environment variable holding the API key (sent as a Bearer token); empty sends none."},
		{Name: "language", Type: sdk.TypeString, Default: "",
			Description: "ISO 639-1 language code (\"en\"); empty uses the stream's language, or lets the server detect it."},
		{Name: "response_format", Type: sdk.TypeString, Default: "verbose_json",
			Description: "json (text only) or verbose_json (with segment and word times)."},
		{Name: "energy_threshold_dbfs", Type: sdk.TypeNumber, Default: -40.0,
			Description: "RMS level (dBFS, 20 ms windows) at or above which audio counts as speech."},
		{Name: "hangover", Type: sdk.TypeDuration, Default: "500ms",
			Description: "Silence that ends an utterance; shorter than max_utterance."},
		{Name: "min_speech", Type: sdk.TypeDuration, Default: "250ms",
			Description: "Voiced audio an utterance needs before it counts (shorter noises are ignored); shorter than max_utterance."},
		{Name: "max_utterance", Type: sdk.TypeDuration, Default: "30s",
			Description: "Longest utterance (1s to 10m); longer speech is cut and sent in pieces."},
		{Name: "pre_roll", Type: sdk.TypeDuration, Default: "200ms",
			Description: "Audio kept before the first voiced window, so soft onsets are not clipped; at most 2s."},
		{Name: "timeout", Type: sdk.TypeDuration, Default: "30s",
			Description: "Time-out of one transcription request."},
	}}
}

// Configure validates the block. User mistakes are BAD_CONFIG errors with a
// message that names the attribute.
func (t *Transcriber) Configure(ctx context.Context, cfg sdk.Config) error {
	s := defaults()
	if err := cfg.Decode(&s); err != nil {
		return sdk.Errorf(sdk.CodeBadConfig, "%v", err)
	}
	endpoint, err := transcriptionsURL(s.BaseURL)
	if err != nil {
		return sdk.Errorf(sdk.CodeBadConfig, "base_url: %v", err)
	}
	var key string
	if s.APIKeyEnv != "" {
		if key = os.Getenv(s.APIKeyEnv); key == "" {
			return sdk.Errorf(sdk.CodeBadConfig, "api_key_env: environment variable %s is not set or empty", s.APIKeyEnv)
		}
	}
	hangover, minSpeech, maxUtt, preRoll := time.Duration(s.Hangover), time.Duration(s.MinSpeech), time.Duration(s.MaxUtterance), time.Duration(s.PreRoll)
	switch {
	case s.ResponseFormat != "json" && s.ResponseFormat != "verbose_json":
		return sdk.Errorf(sdk.CodeBadConfig, "response_format must be json or verbose_json, got %q", s.ResponseFormat)
	case s.EnergyDBFS > 0 || s.EnergyDBFS < -90:
		return sdk.Errorf(sdk.CodeBadConfig, "energy_threshold_dbfs must be between -90 and 0, got %g", s.EnergyDBFS)
	case hangover <= 0 || minSpeech <= 0 || s.Timeout <= 0:
		return sdk.Errorf(sdk.CodeBadConfig, "hangover, min_speech and timeout must be positive")
	case maxUtt < time.Second || maxUtt > 10*time.Minute:
		return sdk.Errorf(sdk.CodeBadConfig, "max_utterance must be between 1s and 10m, got %v", maxUtt)
	// The endpointer's settings must fit together: an utterance has to be able
	// to end by silence, and to count as speech, before max_utterance cuts it.
	case hangover >= maxUtt:
		return sdk.Errorf(sdk.CodeBadConfig, "hangover (%v) must be shorter than max_utterance (%v)", hangover, maxUtt)
	case minSpeech >= maxUtt:
		return sdk.Errorf(sdk.CodeBadConfig, "min_speech (%v) must be shorter than max_utterance (%v)", minSpeech, maxUtt)
	// pre_roll is buffered per stream and sent with every utterance.
	case preRoll < 0 || preRoll > maxPreRoll:
		return sdk.Errorf(sdk.CodeBadConfig, "pre_roll must be between 0 and %v, got %v", maxPreRoll, preRoll)
	}
	c := &client{
		http:    &http.Client{Transport: &http.Transport{Proxy: http.ProxyFromEnvironment, MaxIdleConnsPerHost: 4}},
		url:     endpoint,
		apiKey:  key,
		model:   s.Model,
		format:  s.ResponseFormat,
		timeout: time.Duration(s.Timeout),
	}
	t.mu.Lock()
	old := t.client
	t.cfg, t.client = s, c
	t.mu.Unlock()
	if old != nil {
		old.http.CloseIdleConnections()
	}
	// Log what helps debugging, never the key.
	t.log.Info("configured", "endpoint", redact(endpoint), "model", s.Model, "api_key", key != "")
	return nil
}

// Close releases idle HTTP connections; safe to call more than once.
func (t *Transcriber) Close() error {
	t.mu.RLock()
	c := t.client
	t.mu.RUnlock()
	if c != nil {
		c.http.CloseIdleConnections()
	}
	return nil
}

// transcriptionsURL turns base_url into the endpoint. Its errors never quote the
// URL: it may hold credentials ("https://user:key@host"), and errors are shown
// by earshot validate and in the daemon's log.
func transcriptionsURL(base string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(base))
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the URL
		}
		// The reason may still quote a part of it: in "https://user:key/x@host"
		// the host is "user" and the port "key" (invalid port "key" after host).
		return "", fmt.Errorf("not a valid URL: %s", quoted.ReplaceAllString(err.Error(), `"…"`))
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", errors.New("not an http:// or https:// URL with a host")
	}
	p := strings.TrimRight(u.Path, "/")
	switch {
	case strings.HasSuffix(p, "/audio/transcriptions"):
	case strings.HasSuffix(p, "/v1"):
		p += "/audio/transcriptions"
	default:
		p += "/v1/audio/transcriptions"
	}
	u.Path = p
	return u.String(), nil
}

// quoted matches the %q-quoted parts of a url.Parse error.
var quoted = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)

func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	u.User, u.RawQuery, u.Fragment = nil, "", ""
	return u.String()
}

// Transcribe serves one audio stream. The calling goroutine reads audio and runs
// the endpointer; a second goroutine, owned and awaited here, posts utterances
// and writes results, so audio keeps flowing while a request is in flight. The
// channel between them is small: if the server falls behind, reading stops
// (back-pressure reaches the daemon) rather than memory growing.
func (t *Transcriber) Transcribe(ctx context.Context, start sdk.TranscribeStart, in sdk.AudioSource, out sdk.TranscriptSink) error {
	t.mu.RLock()
	s, c := t.cfg, t.client
	t.mu.RUnlock()
	if c == nil {
		return sdk.Errorf(sdk.CodeBadConfig, "whisper: Transcribe called before Configure")
	}
	if start.SampleRate < 8000 || start.SampleRate > 48000 {
		return sdk.Errorf(sdk.CodeUnsupportedFormat, "sample rate %d Hz: want 8000–48000", start.SampleRate)
	}
	lang := s.Language
	if lang == "" && start.Language != "" {
		// BCP 47 "en-US" → ISO 639-1 "en", which is what the API takes.
		lang = strings.ToLower(strings.SplitN(start.Language, "-", 2)[0])
	}
	ep := NewEndpointer(EndpointerConfig{
		SampleRate: start.SampleRate, ThresholdDBFS: s.EnergyDBFS,
		Hangover: time.Duration(s.Hangover), MinSpeech: time.Duration(s.MinSpeech),
		MaxUtterance: time.Duration(s.MaxUtterance), PreRoll: time.Duration(s.PreRoll),
		TrailingSilence: min(time.Duration(s.Hangover), 300*time.Millisecond),
	})
	req := request{rate: start.SampleRate, language: lang, prompt: strings.Join(start.Hints, ", ")}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	events := make(chan Event, 4)
	workerErr := make(chan error, 1)
	go func() {
		err := t.emit(ctx, c, req, events, out)
		if err != nil {
			cancel() // unblocks the reader below
		}
		workerErr <- err
	}()

	// The endpointer counts time from the first sample it is given; the stream's
	// time line starts at that input's Start, which is not zero when the daemon
	// replays a stream's audio into a fresh one.
	var origin time.Duration
	audioSeen := false
	send := func(evs []Event) error {
		for _, ev := range evs {
			ev.At, ev.Start, ev.Begin, ev.End = origin+ev.At, origin+ev.Start, origin+ev.Begin, origin+ev.End
			select {
			case events <- ev:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	}
	readErr := func() error {
		for {
			a, err := in.Next(ctx)
			if errors.Is(err, io.EOF) {
				return send(ep.Flush())
			}
			if err != nil {
				return err
			}
			if a.Control == sdk.ControlFinalize {
				if err := send(ep.Flush()); err != nil {
					return err
				}
				continue
			}
			if !audioSeen {
				origin, audioSeen = a.Start, true
			}
			if err := send(ep.Push(a.Samples)); err != nil {
				return err
			}
		}
	}()
	close(events)
	if readErr != nil {
		cancel()
	}
	err := <-workerErr
	if readErr != nil && (err == nil || errors.Is(err, context.Canceled)) {
		return readErr
	}
	return err
}

// emit turns endpointer events into transcript events, in order.
func (t *Transcriber) emit(ctx context.Context, c *client, req request, events <-chan Event, out sdk.TranscriptSink) error {
	for ev := range events {
		if ev.Onset {
			if err := out.SpeechStarted(ctx, ev.At); err != nil {
				return err
			}
			continue
		}
		began := time.Now()
		r, err := c.transcribe(ctx, req, ev)
		if err != nil {
			return err
		}
		t.log.Debug("utterance transcribed", "audio", ev.End-ev.Begin, "took", time.Since(began), "chars", len(r.Text))
		if err := out.Final(ctx, r); err != nil {
			return err
		}
	}
	return nil
}
