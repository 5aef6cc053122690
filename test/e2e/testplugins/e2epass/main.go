// Command earshot-plugin-e2epass is a test transcriber for measuring the daemon's own
// latency: it does no recognition, only energy endpointing, and answers instantly.
//
// Audio louder than the threshold is speech; the first frame after speech whose
// samples are all below it ends the utterance with a final (endOfTurn). The final's
// text carries the wall-clock times, in Unix nanoseconds, at which the plugin received
// that frame and sent the final ("pass <recv> <sent>"), so a client on the same host
// can subtract the transcriber's own time from what it observes.
package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/earshot-dev/earshot/plugins/sdk"
)

func main() { sdk.ServeTranscriber(newPass) }

type pass struct{ threshold int16 }

func newPass() *pass { return &pass{threshold: 1000} }

func (*pass) Info() sdk.Info {
	return sdk.Info{Name: "e2epass", Kind: sdk.KindTranscriber, Version: "0.1.0",
		Description: "energy endpointing only, instant answers: measures the daemon's overhead"}
}

func (*pass) ConfigSchema() sdk.Schema {
	return sdk.Schema{Attributes: []sdk.Attribute{
		{Name: "threshold", Type: sdk.TypeNumber, Default: 1000, Description: "absolute sample value above which audio is speech"},
	}}
}

func (p *pass) Configure(_ context.Context, cfg sdk.Config) error {
	var c struct {
		Threshold float64 `json:"threshold"`
	}
	if err := cfg.Decode(&c); err != nil {
		return sdk.Errorf(sdk.CodeBadConfig, "%v", err)
	}
	if c.Threshold <= 0 || c.Threshold > 32767 {
		return sdk.Errorf(sdk.CodeBadConfig, "threshold %v out of range", c.Threshold)
	}
	p.threshold = int16(c.Threshold)
	return nil
}

func (p *pass) Transcribe(ctx context.Context, st sdk.TranscribeStart, in sdk.AudioSource, out sdk.TranscriptSink) error {
	if st.SampleRate <= 0 {
		return sdk.Errorf(sdk.CodeUnsupportedFormat, "sample rate %d", st.SampleRate)
	}
	inSpeech := false
	var start, end time.Duration
	final := func(recv time.Time, eot bool) error {
		inSpeech = false
		text := fmt.Sprintf("pass %d %d", recv.UnixNano(), time.Now().UnixNano())
		return out.Final(ctx, sdk.Result{Text: text, Confidence: 1, Start: start, End: end, EndOfTurn: eot})
	}
	for {
		a, err := in.Next(ctx)
		recv := time.Now()
		if err == io.EOF {
			if inSpeech {
				return final(recv, false)
			}
			return nil
		}
		if err != nil {
			return err
		}
		if a.Control == sdk.ControlFinalize {
			if inSpeech {
				if err := final(recv, false); err != nil {
					return err
				}
			}
			continue
		}
		loudAt := -1
		for i, v := range a.Samples {
			if v > p.threshold || v < -p.threshold {
				loudAt = i
			}
		}
		at := func(i int) time.Duration {
			return a.Start + time.Duration(i)*time.Second/time.Duration(st.SampleRate)
		}
		switch {
		case loudAt >= 0 && !inSpeech:
			inSpeech = true
			first := 0
			for i, v := range a.Samples {
				if v > p.threshold || v < -p.threshold {
					first = i
					break
				}
			}
			start, end = at(first), at(loudAt+1)
			if err := out.SpeechStarted(ctx, start); err != nil {
				return err
			}
		case loudAt >= 0:
			end = at(loudAt + 1)
		case inSpeech:
			if err := final(recv, true); err != nil {
				return err
			}
		}
	}
}
