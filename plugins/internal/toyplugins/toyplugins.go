// Package toyplugins holds minimal plugins of each kind that exercise the plugin
// machinery itself (shim, host, benchmarks): they do no real media work.
package toyplugins

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"time"

	"github.com/earshot-dev/earshot/plugins/sdk"
)

// Decoder passes pcm16 mono bytes through as PCM.
type Decoder struct{ rate int }

// NewDecoder returns a Decoder.
func NewDecoder() *Decoder { return &Decoder{} }

// Info implements sdk.Plugin.
func (d *Decoder) Info() sdk.Info {
	return sdk.Info{Name: "toy-decoder", Kind: sdk.KindDecoder, Version: "0.1.0", Description: "pcm16 mono pass-through"}
}

// ConfigSchema implements sdk.Plugin.
func (d *Decoder) ConfigSchema() sdk.Schema {
	return sdk.Schema{Attributes: []sdk.Attribute{
		{Name: "sample_rate", Type: sdk.TypeNumber, Default: 16000, Description: "rate assumed when the format gives none"},
	}}
}

// Configure implements sdk.Plugin.
func (d *Decoder) Configure(_ context.Context, cfg sdk.Config) error {
	var c struct {
		SampleRate int `json:"sample_rate"`
	}
	if err := cfg.Decode(&c); err != nil {
		return sdk.Errorf(sdk.CodeBadConfig, "%v", err)
	}
	d.rate = c.SampleRate
	return nil
}

// Decode implements sdk.Decoder.
func (d *Decoder) Decode(ctx context.Context, f sdk.Format, in sdk.ChunkSource, out sdk.PCMSink) error {
	if f.Container != "pcm16" {
		return sdk.Errorf(sdk.CodeUnsupportedFormat, "container %q: only pcm16", f.Container)
	}
	if f.Channels > 1 {
		return sdk.Errorf(sdk.CodeUnsupportedFormat, "%d channels: only mono", f.Channels)
	}
	rate := f.SampleRate
	if rate == 0 {
		rate = d.rate
	}
	var n int64
	for {
		b, err := in.Next(ctx)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if len(b)%2 != 0 {
			return sdk.Errorf(sdk.CodeInvalidAudio, "chunk of %d bytes is not whole s16le samples", len(b))
		}
		s := make([]int16, len(b)/2)
		for i := range s {
			s[i] = int16(binary.LittleEndian.Uint16(b[2*i:]))
		}
		start := time.Duration(n * int64(time.Second) / int64(rate))
		n += int64(len(s))
		if err := out.Write(ctx, sdk.PCM{Samples: s, Start: start}); err != nil {
			return err
		}
	}
}

// Transcriber answers every frame (every partial_every-th frame, if configured)
// with a Partial whose Start is the frame's start (so a host can match each answer
// to its frame), and every finalize or the end with a Final counting the frames.
type Transcriber struct {
	every int // partial_every; set by Configure, before any stream
}

// NewTranscriber returns a Transcriber.
func NewTranscriber() *Transcriber { return &Transcriber{} }

// Info implements sdk.Plugin.
func (*Transcriber) Info() sdk.Info {
	return sdk.Info{Name: "toy-transcriber", Kind: sdk.KindTranscriber, Version: "0.1.0", Description: "pass-through transcriber for tests and benchmarks"}
}

// ConfigSchema implements sdk.Plugin.
func (*Transcriber) ConfigSchema() sdk.Schema {
	return sdk.Schema{Attributes: []sdk.Attribute{
		{Name: "label", Type: sdk.TypeString, Default: "frame", Description: "text of the partials"},
		{Name: "silence", Type: sdk.TypeDuration, Default: "500ms", Description: "unused; exercises duration decoding"},
		{Name: "buffer", Type: sdk.TypeSize, Default: "64KiB", Description: "unused; exercises size decoding"},
		{Name: "partial_every", Type: sdk.TypeNumber, Default: 1, Description: "answer every n-th frame with a partial (10: every 200 ms of 20 ms frames, like a real transcriber)"},
	}}
}

// Configure implements sdk.Plugin.
func (t *Transcriber) Configure(_ context.Context, cfg sdk.Config) error {
	var c struct {
		Label        string       `json:"label"`
		Silence      sdk.Duration `json:"silence"`
		Buffer       int64        `json:"buffer"`
		PartialEvery *float64     `json:"partial_every"`
	}
	if err := cfg.Decode(&c); err != nil {
		return sdk.Errorf(sdk.CodeBadConfig, "%v", err)
	}
	if c.Label == "refuse" {
		return sdk.Errorf(sdk.CodeBadConfig, "label %q refused", c.Label)
	}
	t.every = 1
	if p := c.PartialEvery; p != nil {
		if *p < 1 || *p > 1000 || *p != float64(int(*p)) {
			return sdk.Errorf(sdk.CodeBadConfig, "partial_every must be a whole number from 1 to 1000, got %v", *p)
		}
		t.every = int(*p)
	}
	return nil
}

// Transcribe implements sdk.Transcriber.
func (t *Transcriber) Transcribe(ctx context.Context, st sdk.TranscribeStart, in sdk.AudioSource, out sdk.TranscriptSink) error {
	every := max(t.every, 1)
	if st.SampleRate <= 0 {
		return sdk.Errorf(sdk.CodeUnsupportedFormat, "sample rate %d", st.SampleRate)
	}
	frames := 0
	var first, last time.Duration
	final := func() error {
		if frames == 0 {
			return nil
		}
		err := out.Final(ctx, sdk.Result{Text: fmt.Sprintf("%d frames", frames), Confidence: 1, Start: first, End: last})
		frames = 0
		return err
	}
	for {
		a, err := in.Next(ctx)
		if err == io.EOF {
			return final()
		}
		if err != nil {
			return err
		}
		if a.Control == sdk.ControlFinalize {
			if err := final(); err != nil {
				return err
			}
			continue
		}
		if frames == 0 {
			first = a.Start
		}
		frames++
		last = a.Start + time.Duration(int64(len(a.Samples))*int64(time.Second)/int64(st.SampleRate))
		if frames%every != 0 {
			continue
		}
		if err := out.Partial(ctx, sdk.Result{Text: "frame", Confidence: 0.5, Start: a.Start, End: a.Start}); err != nil {
			return err
		}
	}
}

// Suggester answers each utterance ending a turn with one final set; an utterance
// whose text is "boom" is a coded error.
type Suggester struct{}

// NewSuggester returns a Suggester.
func NewSuggester() *Suggester { return &Suggester{} }

// Info implements sdk.Plugin.
func (*Suggester) Info() sdk.Info {
	return sdk.Info{Name: "toy-suggester", Kind: sdk.KindSuggester, Version: "0.1.0", Description: "echo suggester"}
}

// ConfigSchema implements sdk.Plugin.
func (*Suggester) ConfigSchema() sdk.Schema { return sdk.Schema{} }

// Configure implements sdk.Plugin.
func (*Suggester) Configure(context.Context, sdk.Config) error { return nil }

// Suggest implements sdk.Suggester.
func (*Suggester) Suggest(ctx context.Context, si sdk.SessionInfo, in sdk.UtteranceSource, out sdk.SuggestionSink) error {
	prev := ""
	for {
		u, err := in.Next(ctx)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if u.Text == "boom" {
			return sdk.Errorf(sdk.CodeInvalidAudio, "boom")
		}
		id := "set-" + u.UtteranceID
		draft := sdk.SuggestionSet{ID: id, UtteranceID: u.UtteranceID, Question: u.Text, Supersedes: prev,
			Suggestions: []sdk.Suggestion{{ID: id + "-1", Text: "about: " + u.Text, Kind: "follow_up", Score: 0.5}}}
		if err := out.Send(ctx, draft); err != nil {
			return err
		}
		draft.Final = true
		if err := out.Send(ctx, draft); err != nil {
			return err
		}
		prev = id
	}
}
