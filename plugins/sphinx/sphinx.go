// Package sphinx is earshot's embedded default transcriber: CMU PocketSphinx
// (Debian's libpocketsphinx 0.8+5prealpha with the en-us model), streaming
// partial and final hypotheses with silence endpointing.
//
// Each stream gets its own decoder for its whole life (cepstral mean
// normalisation must stay warm across utterances) from a small pool of decoders
// loaded ahead of time. A decoder is driven only by the goroutine that runs
// Transcribe. docs/sphinx.md describes the behaviour, the configuration and the
// measured accuracy and latency.
package sphinx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/hashicorp/go-hclog"

	"github.com/earshot-dev/earshot/plugins/sdk"
	"github.com/earshot-dev/earshot/plugins/sphinx/internal/pocketsphinx"
)

// Version is the plugin's version.
const Version = "0.1.0"

// Transcriber is the sphinx transcriber plugin. Create it with New, configure
// it once with Configure, then run any number of concurrent Transcribe calls;
// Close frees its decoders.
type Transcriber struct {
	log hclog.Logger

	mu     sync.Mutex
	cfg    settings
	pool   *pool
	closed bool
}

var _ sdk.Transcriber = (*Transcriber)(nil)

// New returns an unconfigured Transcriber that logs through the SDK's plugin logger.
func New() *Transcriber { return NewWithLogger(sdk.Logger()) }

// NewWithLogger returns an unconfigured Transcriber logging to log.
func NewWithLogger(log hclog.Logger) *Transcriber {
	pocketsphinx.QuietLogs()
	return &Transcriber{log: log.Named("sphinx")}
}

// Info describes the plugin.
func (t *Transcriber) Info() sdk.Info {
	return sdk.Info{
		Name:        "sphinx",
		Kind:        sdk.KindTranscriber,
		Version:     Version,
		Description: "Offline speech recognition with CMU PocketSphinx (en-US), streaming partials and finals.",
	}
}

// ConfigSchema returns the attributes of a sphinx stage block.
func (t *Transcriber) ConfigSchema() sdk.Schema { return schema() }

// Configure validates cfg, loads one decoder (so a bad model or word list is
// reported now, as BAD_CONFIG) and starts the warm pool.
func (t *Transcriber) Configure(ctx context.Context, cfg sdk.Config) error {
	s, err := parseConfig(cfg)
	if err != nil {
		return err
	}
	first, err := s.newDecoder()
	if err != nil {
		var se *sdk.StreamError
		if errors.As(err, &se) {
			return err
		}
		return badConfig("sphinx: cannot load the model: %v", err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		first.Close()
		return errors.New("sphinx: transcriber closed")
	}
	if t.pool != nil {
		t.pool.close()
	}
	t.cfg = s
	t.pool = newPool(t.log, s.newDecoder, s.prime, s.PoolSize, s.MaxStreams, first)
	t.log.Debug("configured", "settings", s.String())
	return nil
}

// Close frees the warm decoders and refuses new streams. Streams still running
// free their own decoders when they end. Idempotent.
func (t *Transcriber) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil
	}
	t.closed = true
	if t.pool != nil {
		t.pool.close()
	}
	return nil
}

// Transcribe runs one stream until in ends (io.EOF), ctx is cancelled or the
// sink fails.
func (t *Transcriber) Transcribe(ctx context.Context, start sdk.TranscribeStart, in sdk.AudioSource, out sdk.TranscriptSink) (err error) {
	if start.SampleRate != 0 && start.SampleRate != sampleRate {
		return sdk.Errorf(sdk.CodeUnsupportedFormat, "sphinx: sample rate %d Hz: the en-us model takes %d Hz", start.SampleRate, sampleRate)
	}
	if l := strings.ToLower(start.Language); l != "" && l != "en" && !strings.HasPrefix(l, "en-") {
		return sdk.Errorf(sdk.CodeUnsupportedFormat, "sphinx: language %q: this model is English (en-US)", start.Language)
	}
	t.mu.Lock()
	p, cfg := t.pool, t.cfg
	closed := t.closed
	t.mu.Unlock()
	switch {
	case closed:
		return sdk.Errorf(sdk.CodeUnavailable, "sphinx: transcriber closed")
	case p == nil:
		return sdk.Errorf(sdk.CodeBadConfig, "sphinx: Transcribe before Configure")
	}
	dec, err := p.get(ctx)
	if err != nil {
		return err
	}
	st := newStream(cfg, dec, out)
	defer func() {
		// A decoder that ended cleanly between utterances can serve another
		// stream; one left mid-utterance by an error is freed.
		p.put(dec, err == nil && !st.uttOpen)
		t.log.Debug("stream ended", "audio", (st.at(st.fed) - st.base).String(), "finals", st.finals, "error", err)
	}()
	if err := st.begin(); err != nil {
		return fmt.Errorf("sphinx: start stream: %w", err)
	}
	for {
		item, err := in.Next(ctx)
		if errors.Is(err, io.EOF) {
			return st.end(ctx)
		}
		if err != nil {
			return err
		}
		if item.Control == sdk.ControlFinalize {
			if err := st.finalize(ctx); err != nil {
				return err
			}
			continue
		}
		if err := st.audio(ctx, item); err != nil {
			return err
		}
	}
}

// confidence of one word: its lattice posterior when PocketSphinx computed one
// (finals with bestpath), else 0, which earshot reads as "not known".
func (s *stream) confidence(sg pocketsphinx.Segment, final bool) float64 {
	if final && s.cfg.Bestpath {
		return min(1, max(0, sg.Posterior))
	}
	return 0
}
