package sdktest

import (
	"context"
	"errors"
	"io"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/plugins/host"
	"github.com/earshot-dev/earshot/plugins/internal/stageconfig"
	"github.com/earshot-dev/earshot/plugins/sdk"
)

// Timeout bounds every contract check's wait on the plugin.
var Timeout = 30 * time.Second

func defaultsJSON(s sdk.Schema, overrides map[string]any) ([]byte, error) {
	return stageconfig.Defaults(s, overrides)
}

var nameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

// returned wraps an implementation to learn when its stream call returns, so the
// cancellation check can prove the plugin let go.
type returned struct{ started, ch chan error }

func newReturned() returned { return returned{started: make(chan error, 16), ch: make(chan error, 16)} }

func (r returned) start() {
	select {
	case r.started <- nil:
	default:
	}
}

// waitStarted waits until the plugin's stream call runs, so that cancelling
// tests the plugin and not a stream that never reached it.
func (r returned) waitStarted(t *testing.T, what string) {
	t.Helper()
	select {
	case <-r.started:
	case <-time.After(Timeout):
		t.Fatalf("%s was not called within %v of opening a stream", what, Timeout)
	}
}

func (r returned) note(err error) error {
	select {
	case r.ch <- err:
	default:
	}
	return err
}

func (r returned) wait(t *testing.T, what string) error {
	t.Helper()
	select {
	case err := <-r.ch:
		return err
	case <-time.After(Timeout):
		t.Fatalf("%s did not return within %v after its stream was cancelled", what, Timeout)
		return nil
	}
}

type watchedDecoder struct {
	sdk.Decoder
	r returned
}

func (w watchedDecoder) Decode(ctx context.Context, f sdk.Format, in sdk.ChunkSource, out sdk.PCMSink) error {
	w.r.start()
	return w.r.note(w.Decoder.Decode(ctx, f, in, out))
}

type watchedTranscriber struct {
	sdk.Transcriber
	r returned
}

func (w watchedTranscriber) Transcribe(ctx context.Context, st sdk.TranscribeStart, in sdk.AudioSource, out sdk.TranscriptSink) error {
	w.r.start()
	return w.r.note(w.Transcriber.Transcribe(ctx, st, in, out))
}

type watchedSuggester struct {
	sdk.Suggester
	r returned
}

func (w watchedSuggester) Suggest(ctx context.Context, si sdk.SessionInfo, in sdk.UtteranceSource, out sdk.SuggestionSink) error {
	w.r.start()
	return w.r.note(w.Suggester.Suggest(ctx, si, in, out))
}

// checkBase runs the checks every kind shares: Info well formed and of the right
// kind, schema valid with defaults of the right types, Configure with the defaults
// (plus overrides) accepted.
func checkBase(t *testing.T, c *Conn, kind sdk.Kind, config map[string]any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	t.Run("Info", func(t *testing.T) {
		info, err := c.Info(ctx)
		if err != nil {
			t.Fatalf("Info: %v", err)
		}
		if !nameRe.MatchString(info.Name) {
			t.Errorf("Info.Name %q: want lower case letters, digits, '-' or '_' (the binary is earshot-plugin-<name>)", info.Name)
		}
		if info.Kind != kind {
			t.Errorf("Info.Kind = %q, want %q", info.Kind, kind)
		}
		if info.Version == "" {
			t.Errorf("Info.Version is empty")
		}
		if !slices.Contains(info.APIVersions, sdk.APIVersion) {
			t.Errorf("Info.APIVersions = %v, want it to contain the SDK's API version %d", info.APIVersions, sdk.APIVersion)
		}
	})
	t.Run("ConfigSchema", func(t *testing.T) {
		s, err := c.ConfigSchema(ctx)
		if err != nil {
			t.Fatalf("ConfigSchema: %v", err)
		}
		if err := stageconfig.Validate(s); err != nil {
			t.Errorf("invalid schema:\n%v", err)
		}
		for _, a := range s.Attributes {
			if a.Description == "" {
				t.Errorf("attribute %q has no description (users read it in error messages and docs)", a.Name)
			}
		}
	})
	t.Run("ConfigureDefaults", func(t *testing.T) {
		if err := c.ConfigureDefaults(ctx, config); err != nil {
			t.Fatalf("Configure with the schema's defaults (and %v): %v", config, err)
		}
	})
}

func wantCoded(t *testing.T, err error, what string) {
	t.Helper()
	var se *sdk.StreamError
	if !errors.As(err, &se) {
		t.Fatalf("%s: got %v, want a coded *sdk.StreamError", what, err)
	}
	if se.Code == "" || se.Code != stringsToUpperSnake(se.Code) {
		t.Errorf("%s: code %q is not UPPER_SNAKE", what, se.Code)
	}
}

var upperSnake = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)

func stringsToUpperSnake(s string) string {
	if upperSnake.MatchString(s) {
		return s
	}
	return "!" + s
}

// ---- Decoder ----

// DecoderCase is the input of CheckDecoder.
type DecoderCase struct {
	// Config overrides schema defaults (attribute → Go value).
	Config map[string]any
	Format sdk.Format
	// Chunks is a valid stream; it must decode without error.
	Chunks [][]byte
	// Check examines the output of Chunks (optional; by default at least one
	// frame with samples is required and frame start times must not go back).
	Check func(t *testing.T, out []sdk.PCM)
	// BadFormat and BadChunks, when set, are a stream that must end with a coded
	// error (e.g. INVALID_AUDIO); the plugin must then still serve a good stream.
	BadFormat *sdk.Format
	BadChunks [][]byte
}

// CheckDecoder runs the decoder contract over the real shim.
func CheckDecoder[T sdk.Decoder](t *testing.T, newFn func() T, dc DecoderCase) {
	t.Helper()
	r := newReturned()
	c := Connect(t, watchedDecoder{Decoder: newFn(), r: r})
	checkBase(t, c, sdk.KindDecoder, dc.Config)
	good := func(t *testing.T) {
		out, err := DecodeAll(context.Background(), c, dc.Format, dc.Chunks)
		if err != nil {
			t.Fatalf("decode: %v", err)
		}
		if dc.Check != nil {
			dc.Check(t, out)
			return
		}
		n := 0
		for i, p := range out {
			n += len(p.Samples)
			if i > 0 && p.Start < out[i-1].Start {
				t.Errorf("frame %d starts at %v, before frame %d (%v)", i, p.Start, i-1, out[i-1].Start)
			}
		}
		if n == 0 {
			t.Errorf("no samples decoded from %d chunks", len(dc.Chunks))
		}
	}
	t.Run("Stream", good)
	t.Run("Cancel", func(t *testing.T) {
		drain(r)
		ctx, cancel := context.WithCancel(context.Background())
		s, err := c.OpenDecode(ctx, dc.Format)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if len(dc.Chunks) > 0 {
			_ = s.Send(ctx, dc.Chunks[0])
		}
		r.waitStarted(t, "Decode")
		cancel()
		if _, err := recvUntilErr(func() error { _, err := s.Recv(context.Background()); return err }); !errors.Is(err, context.Canceled) {
			t.Errorf("Recv after cancel: %v, want context.Canceled", err)
		}
		r.wait(t, "Decode")
	})
	if dc.BadFormat != nil || dc.BadChunks != nil {
		t.Run("BadInput", func(t *testing.T) {
			f := dc.Format
			if dc.BadFormat != nil {
				f = *dc.BadFormat
			}
			_, err := DecodeAll(context.Background(), c, f, dc.BadChunks)
			wantCoded(t, err, "bad input")
			t.Run("StillServes", good)
		})
	}
}

func drain(r returned) {
	for {
		select {
		case <-r.started:
		case <-r.ch:
		default:
			return
		}
	}
}

// recvUntilErr calls recv until it fails (bounded, so a plugin that keeps talking
// after cancellation fails the check rather than hanging it).
func recvUntilErr(recv func() error) (int, error) {
	for i := 0; i < 1_000_000; i++ {
		if err := recv(); err != nil {
			return i, err
		}
	}
	return 0, errors.New("stream never ended")
}

// DecodeAll runs one decoder stream: sends every chunk, closes, and collects the
// PCM until the plugin finishes. A coded error comes back as *sdk.StreamError.
func DecodeAll(ctx context.Context, c *Conn, f sdk.Format, chunks [][]byte) ([]sdk.PCM, error) {
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	s, err := c.OpenDecode(ctx, f)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	sendErr := make(chan error, 1)
	go func() {
		for _, ch := range chunks {
			if err := s.Send(ctx, ch); err != nil {
				sendErr <- err
				return
			}
		}
		sendErr <- s.CloseSend()
	}()
	var out []sdk.PCM
	for {
		p, err := s.Recv(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			<-sendErr
			return out, err
		}
		out = append(out, p)
	}
	if err := <-sendErr; err != nil && !errors.Is(err, host.ErrStreamClosed) {
		return out, err
	}
	return out, nil
}

// ---- Transcriber ----

// TranscriberCase is the input of CheckTranscriber.
type TranscriberCase struct {
	Config map[string]any
	Start  sdk.TranscribeStart
	// Audio is a valid stream (see Frames); it must transcribe without error.
	Audio []sdk.AudioInput
	// Check examines the events (optional; by default the event order is checked:
	// results within [0, 1] confidence, start ≤ end).
	Check func(t *testing.T, events []host.TranscriptEvent)
	// BadStart and BadAudio, when set, are a stream that must end with a coded
	// error; the plugin must then still serve a good stream.
	BadStart *sdk.TranscribeStart
	BadAudio []sdk.AudioInput
}

// Frames cuts samples into AudioInputs of the given duration at rate.
func Frames(samples []int16, rate int, frame time.Duration) []sdk.AudioInput {
	n := int(int64(rate) * int64(frame) / int64(time.Second))
	if n <= 0 {
		n = len(samples)
	}
	var out []sdk.AudioInput
	for i := 0; i < len(samples); i += n {
		end := min(i+n, len(samples))
		out = append(out, sdk.AudioInput{Samples: samples[i:end], Start: time.Duration(int64(i) * int64(time.Second) / int64(rate))})
	}
	return out
}

// CheckTranscriber runs the transcriber contract over the real shim.
func CheckTranscriber[T sdk.Transcriber](t *testing.T, newFn func() T, tc TranscriberCase) {
	t.Helper()
	r := newReturned()
	c := Connect(t, watchedTranscriber{Transcriber: newFn(), r: r})
	checkBase(t, c, sdk.KindTranscriber, tc.Config)
	good := func(t *testing.T) {
		evs, err := TranscribeAll(context.Background(), c, tc.Start, tc.Audio)
		if err != nil {
			t.Fatalf("transcribe: %v", err)
		}
		CheckEventOrder(t, evs)
		if tc.Check != nil {
			tc.Check(t, evs)
		}
	}
	t.Run("Stream", good)
	t.Run("Cancel", func(t *testing.T) {
		drain(r)
		ctx, cancel := context.WithCancel(context.Background())
		s, err := c.OpenTranscribe(ctx, tc.Start)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if len(tc.Audio) > 0 {
			_ = s.Send(ctx, tc.Audio[0])
		}
		r.waitStarted(t, "Transcribe")
		cancel()
		if _, err := recvUntilErr(func() error { _, err := s.Recv(context.Background()); return err }); !errors.Is(err, context.Canceled) {
			t.Errorf("Recv after cancel: %v, want context.Canceled", err)
		}
		r.wait(t, "Transcribe")
	})
	if tc.BadStart != nil || tc.BadAudio != nil {
		t.Run("BadInput", func(t *testing.T) {
			st := tc.Start
			if tc.BadStart != nil {
				st = *tc.BadStart
			}
			_, err := TranscribeAll(context.Background(), c, st, tc.BadAudio)
			wantCoded(t, err, "bad input")
			t.Run("StillServes", good)
		})
	}
}

// CheckEventOrder checks the transcript contract: per utterance an optional
// SpeechStarted, partials, then exactly one final; results well formed.
func CheckEventOrder(t *testing.T, evs []host.TranscriptEvent) {
	t.Helper()
	started := false
	for i, ev := range evs {
		switch ev.Kind {
		case host.SpeechStarted:
			if started {
				t.Errorf("event %d: speech_started twice in one utterance", i)
			}
			started = true
			continue
		case host.Partial:
			started = true
		case host.Final:
			started = false
		default:
			t.Errorf("event %d: unknown kind %v", i, ev.Kind)
			continue
		}
		r := ev.Result
		if r.Confidence < 0 || r.Confidence > 1 {
			t.Errorf("event %d: confidence %v outside [0, 1]", i, r.Confidence)
		}
		if r.End < r.Start {
			t.Errorf("event %d: end %v before start %v", i, r.End, r.Start)
		}
		for _, w := range r.Words {
			if w.End < w.Start || w.Confidence < 0 || w.Confidence > 1 {
				t.Errorf("event %d: malformed word %+v", i, w)
			}
		}
	}
	if started {
		t.Errorf("the stream ended inside an utterance: no final after the last speech_started/partial")
	}
}

// TranscribeAll runs one transcriber stream: sends every input, then "end", and
// collects events until the plugin finishes.
func TranscribeAll(ctx context.Context, c *Conn, st sdk.TranscribeStart, in []sdk.AudioInput) ([]host.TranscriptEvent, error) {
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	s, err := c.OpenTranscribe(ctx, st)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	sendErr := make(chan error, 1)
	go func() {
		for _, a := range in {
			if err := s.Send(ctx, a); err != nil {
				sendErr <- err
				return
			}
		}
		sendErr <- s.CloseSend()
	}()
	var out []host.TranscriptEvent
	for {
		ev, err := s.Recv(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			<-sendErr
			return out, err
		}
		out = append(out, ev)
	}
	if err := <-sendErr; err != nil && !errors.Is(err, host.ErrStreamClosed) {
		return out, err
	}
	return out, nil
}

// ---- Suggester ----

// SuggesterCase is the input of CheckSuggester.
type SuggesterCase struct {
	Config     map[string]any
	Session    sdk.SessionInfo
	Utterances []sdk.Utterance
	// Check examines the sets (optional; the set contract is always checked).
	Check func(t *testing.T, sets []sdk.SuggestionSet)
	// BadUtterances, when set, must end the stream with a coded error; the plugin
	// must then still serve a good stream.
	BadUtterances []sdk.Utterance
}

// CheckSuggester runs the suggester contract over the real shim.
func CheckSuggester[T sdk.Suggester](t *testing.T, newFn func() T, sc SuggesterCase) {
	t.Helper()
	r := newReturned()
	c := Connect(t, watchedSuggester{Suggester: newFn(), r: r})
	checkBase(t, c, sdk.KindSuggester, sc.Config)
	good := func(t *testing.T) {
		sets, err := SuggestAll(context.Background(), c, sc.Session, sc.Utterances)
		if err != nil {
			t.Fatalf("suggest: %v", err)
		}
		CheckSets(t, sets)
		if sc.Check != nil {
			sc.Check(t, sets)
		}
	}
	t.Run("Stream", good)
	t.Run("Cancel", func(t *testing.T) {
		drain(r)
		ctx, cancel := context.WithCancel(context.Background())
		s, err := c.OpenSuggest(ctx, sc.Session)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if len(sc.Utterances) > 0 {
			_ = s.Send(ctx, sc.Utterances[0])
		}
		r.waitStarted(t, "Suggest")
		cancel()
		if _, err := recvUntilErr(func() error { _, err := s.Recv(context.Background()); return err }); !errors.Is(err, context.Canceled) {
			t.Errorf("Recv after cancel: %v, want context.Canceled", err)
		}
		r.wait(t, "Suggest")
	})
	if sc.BadUtterances != nil {
		t.Run("BadInput", func(t *testing.T) {
			_, err := SuggestAll(context.Background(), c, sc.Session, sc.BadUtterances)
			wantCoded(t, err, "bad input")
			t.Run("StillServes", good)
		})
	}
}

// CheckSets checks the suggestion set contract: every set has an ID, no update
// follows a set's Final, Supersedes names an earlier set.
func CheckSets(t *testing.T, sets []sdk.SuggestionSet) {
	t.Helper()
	seen := map[string]bool{}
	final := map[string]bool{}
	for i, s := range sets {
		if s.ID == "" {
			t.Errorf("set %d has no ID", i)
		}
		if final[s.ID] {
			t.Errorf("set %d: update of %q after its final", i, s.ID)
		}
		if s.Supersedes != "" && !seen[s.Supersedes] {
			t.Errorf("set %d (%q) supersedes %q, which was never sent", i, s.ID, s.Supersedes)
		}
		for j, sg := range s.Suggestions {
			if sg.Text == "" {
				t.Errorf("set %d suggestion %d has no text", i, j)
			}
		}
		seen[s.ID] = true
		final[s.ID] = final[s.ID] || s.Final
	}
}

// SuggestAll runs one suggester stream: sends every utterance, closes, and
// collects sets until the plugin finishes.
func SuggestAll(ctx context.Context, c *Conn, si sdk.SessionInfo, in []sdk.Utterance) ([]sdk.SuggestionSet, error) {
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	s, err := c.OpenSuggest(ctx, si)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	sendErr := make(chan error, 1)
	go func() {
		for _, u := range in {
			if err := s.Send(ctx, u); err != nil {
				sendErr <- err
				return
			}
		}
		sendErr <- s.CloseSend()
	}()
	var out []sdk.SuggestionSet
	for {
		set, err := s.Recv(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			<-sendErr
			return out, err
		}
		out = append(out, set)
	}
	if err := <-sendErr; err != nil && !errors.Is(err, host.ErrStreamClosed) {
		return out, err
	}
	return out, nil
}
