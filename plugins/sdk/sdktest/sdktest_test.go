package sdktest_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/earshot-dev/earshot/plugins/host"
	"github.com/earshot-dev/earshot/plugins/internal/toyplugins"
	"github.com/earshot-dev/earshot/plugins/sdk"
	"github.com/earshot-dev/earshot/plugins/sdk/sdktest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestDecoderContract(t *testing.T) {
	bad := sdk.Format{Container: "mp3"}
	sdktest.CheckDecoder(t, toyplugins.NewDecoder, sdktest.DecoderCase{
		Format:    sdk.Format{Container: "pcm16", SampleRate: 16000, Channels: 1},
		Chunks:    [][]byte{make([]byte, 640), make([]byte, 640)},
		BadFormat: &bad,
	})
	sdktest.CheckDecoder(t, toyplugins.NewDecoder, sdktest.DecoderCase{
		Format:    sdk.Format{Container: "pcm16", SampleRate: 16000, Channels: 1},
		Chunks:    [][]byte{make([]byte, 640)},
		BadChunks: [][]byte{make([]byte, 3)},
	})
}

func TestTranscriberContract(t *testing.T) {
	samples := make([]int16, 16000)
	sdktest.CheckTranscriber(t, toyplugins.NewTranscriber, sdktest.TranscriberCase{
		Config: map[string]any{"label": "x", "buffer": 1024},
		Start:  sdk.TranscribeStart{SampleRate: 16000},
		Audio:  sdktest.Frames(samples, 16000, 20*time.Millisecond),
		Check: func(t *testing.T, evs []host.TranscriptEvent) {
			if len(evs) != 51 || evs[50].Kind != host.Final || evs[50].Result.Text != "50 frames" {
				t.Errorf("got %d events, last %+v; want 50 partials and a final", len(evs), evs[len(evs)-1])
			}
		},
		BadStart: &sdk.TranscribeStart{},
	})
}

func TestSuggesterContract(t *testing.T) {
	sdktest.CheckSuggester(t, toyplugins.NewSuggester, sdktest.SuggesterCase{
		Session:       sdk.SessionInfo{SessionID: "s1", Pipeline: "p"},
		Utterances:    []sdk.Utterance{{UtteranceID: "u1", Text: "why?", EndOfTurn: true}, {UtteranceID: "u2", Text: "how?"}},
		Check:         func(t *testing.T, sets []sdk.SuggestionSet) { assertLen(t, sets, 4) },
		BadUtterances: []sdk.Utterance{{UtteranceID: "u1", Text: "boom"}},
	})
}

func assertLen(t *testing.T, sets []sdk.SuggestionSet, n int) {
	t.Helper()
	if len(sets) != n {
		t.Errorf("got %d sets, want %d", len(sets), n)
	}
}

// The contract checks must catch a broken plugin, not only pass a good one.
type badInfo struct{ *toyplugins.Transcriber }

func (badInfo) Info() sdk.Info { return sdk.Info{Name: "Bad Name", Kind: sdk.KindDecoder} }
func (badInfo) ConfigSchema() sdk.Schema {
	return sdk.Schema{Attributes: []sdk.Attribute{{Name: "x", Type: sdk.TypeDuration, Default: "soon"}}}
}

func TestChecksCatchBrokenPlugins(t *testing.T) {
	c := sdktest.TranscriberConn(t, badInfo{toyplugins.NewTranscriber()})
	info, err := c.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.Kind != sdk.KindDecoder || info.Name != "Bad Name" {
		t.Fatalf("Info did not cross the shim intact: %+v", info)
	}
	if err := c.ConfigureDefaults(context.Background(), nil); err == nil {
		t.Errorf("defaults of a schema with an invalid duration default were accepted")
	}
}

func TestConfigureRefusalIsCoded(t *testing.T) {
	c := sdktest.TranscriberConn(t, toyplugins.NewTranscriber())
	err := c.ConfigureDefaults(context.Background(), map[string]any{"label": "refuse"})
	var se *sdk.StreamError
	if !asStreamError(err, &se) || se.Code != sdk.CodeBadConfig {
		t.Fatalf("Configure refusal: %v, want BAD_CONFIG", err)
	}
}

func TestStreamSemantics(t *testing.T) {
	c := sdktest.TranscriberConn(t, toyplugins.NewTranscriber())
	if err := c.ConfigureDefaults(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	start := sdk.TranscribeStart{SampleRate: 16000}
	frame := sdk.AudioInput{Samples: make([]int16, 320)}

	t.Run("CallContextAbortsTheStream", func(t *testing.T) {
		s, err := c.OpenTranscribe(context.Background(), start)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		// Nothing was sent, so Recv blocks until its own context ends.
		if _, err := s.Recv(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Recv: %v, want DeadlineExceeded", err)
		}
		if err := s.Send(context.Background(), frame); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Send after the abort: %v, want the abort's cause", err)
		}
	})
	t.Run("CloseIsIdempotent", func(t *testing.T) {
		s, err := c.OpenTranscribe(context.Background(), start)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Send(context.Background(), frame); err != nil {
			t.Fatal(err)
		}
		s.Close()
		s.Close()
		if _, err := s.Recv(context.Background()); !errors.Is(err, host.ErrStreamClosed) {
			t.Errorf("Recv after Close: %v, want ErrStreamClosed", err)
		}
		if err := s.Send(context.Background(), frame); !errors.Is(err, host.ErrStreamClosed) {
			t.Errorf("Send after Close: %v, want ErrStreamClosed", err)
		}
	})
	t.Run("CodedErrorIsSticky", func(t *testing.T) {
		s, err := c.OpenTranscribe(context.Background(), sdk.TranscribeStart{})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		for range 2 {
			var se *sdk.StreamError
			if _, err := s.Recv(context.Background()); !errors.As(err, &se) || se.Code != sdk.CodeUnsupportedFormat {
				t.Fatalf("Recv: %v, want UNSUPPORTED_FORMAT", err)
			}
		}
	})
}

// backendDown is a plugin whose own backend speaks gRPC and is unavailable: its
// error wraps a gRPC status, but it is the plugin's verdict on the stream, not a
// failure of its connection to the daemon.
var backendDown = fmt.Errorf("riva: %w", status.Error(codes.Unavailable, "connection refused"))

type downTranscriber struct{ *toyplugins.Transcriber }

func (downTranscriber) Transcribe(ctx context.Context, _ sdk.TranscribeStart, in sdk.AudioSource, _ sdk.TranscriptSink) error {
	if _, err := in.Next(ctx); err != nil {
		return err
	}
	return backendDown
}

type downDecoder struct{ *toyplugins.Decoder }

func (downDecoder) Decode(context.Context, sdk.Format, sdk.ChunkSource, sdk.PCMSink) error {
	return backendDown
}

type downSuggester struct{ *toyplugins.Suggester }

func (downSuggester) Suggest(context.Context, sdk.SessionInfo, sdk.UtteranceSource, sdk.SuggestionSink) error {
	return &sdk.StreamError{Code: "BACKEND", Message: backendDown.Error()}
}

func TestWrappedGRPCStatusIsCoded(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), sdktest.Timeout)
	defer cancel()
	check := func(t *testing.T, err error, code string) {
		t.Helper()
		var se *sdk.StreamError
		if errors.Is(err, host.ErrPluginFailed) || !errors.As(err, &se) {
			t.Fatalf("Recv: %v (%T), want a coded error, not a transport failure", err, err)
		}
		if se.Code != code || !strings.Contains(se.Message, "riva") || !strings.Contains(se.Message, "connection refused") {
			t.Errorf("coded error %q %q, want %s with the plugin's message", se.Code, se.Message, code)
		}
	}
	t.Run("Transcriber", func(t *testing.T) {
		s, err := sdktest.TranscriberConn(t, downTranscriber{toyplugins.NewTranscriber()}).OpenTranscribe(ctx, sdk.TranscribeStart{SampleRate: 16000})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if err := s.Send(ctx, sdk.AudioInput{Samples: make([]int16, 320)}); err != nil {
			t.Fatal(err)
		}
		_, err = s.Recv(ctx)
		check(t, err, sdk.CodeInternal)
	})
	t.Run("Decoder", func(t *testing.T) {
		s, err := sdktest.DecoderConn(t, downDecoder{toyplugins.NewDecoder()}).OpenDecode(ctx, sdk.Format{Container: "pcm16", SampleRate: 16000, Channels: 1})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		_, err = s.Recv(ctx)
		check(t, err, sdk.CodeInternal)
	})
	t.Run("SuggesterOwnCode", func(t *testing.T) {
		s, err := sdktest.SuggesterConn(t, downSuggester{toyplugins.NewSuggester()}).OpenSuggest(ctx, sdk.SessionInfo{SessionID: "s"})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		_, err = s.Recv(ctx)
		check(t, err, "BACKEND")
	})
}
