package whisper

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/plugins/sdk"
	"github.com/hashicorp/go-hclog"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// upload is what the fake server received in one request.
type upload struct {
	Auth    string
	Fields  map[string][]string
	Samples []int16
	Rate    int
}

// fakeWhisper speaks POST /v1/audio/transcriptions like whisper.cpp's server,
// faster-whisper-server and OpenAI: multipart/form-data in, JSON out.
type fakeWhisper struct {
	*httptest.Server
	mu      sync.Mutex
	uploads []upload
	n       atomic.Int32
}

func newFakeWhisper(t *testing.T, answer func(n int, u upload, w http.ResponseWriter, r *http.Request)) *fakeWhisper {
	t.Helper()
	f := &fakeWhisper{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/audio/transcriptions" {
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"error":{"message":"no such route"}}`)
			return
		}
		if err := r.ParseMultipartForm(8 << 20); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `{"error":{"message":%q}}`, err.Error())
			return
		}
		file, hdr, err := r.FormFile("file")
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"error":{"message":"file is required"}}`)
			return
		}
		b, _ := io.ReadAll(file)
		file.Close()
		samples, rate, err := parseWAV(b)
		if err != nil || !strings.HasSuffix(hdr.Filename, ".wav") {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `{"error":{"message":"bad wav %q: %v"}}`, hdr.Filename, err)
			return
		}
		u := upload{Auth: r.Header.Get("Authorization"), Fields: r.MultipartForm.Value, Samples: samples, Rate: rate}
		f.mu.Lock()
		f.uploads = append(f.uploads, u)
		f.mu.Unlock()
		answer(int(f.n.Add(1)), u, w, r)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeWhisper) got() []upload {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]upload(nil), f.uploads...)
}

func textAnswer(text string) func(int, upload, http.ResponseWriter, *http.Request) {
	return func(n int, u upload, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"text":%q}`, fmt.Sprintf("%s %d", text, n))
	}
}

// inputs is an sdk.AudioSource over a fixed list.
type inputs struct{ list []sdk.AudioInput }

func (s *inputs) Next(ctx context.Context) (sdk.AudioInput, error) {
	if err := ctx.Err(); err != nil {
		return sdk.AudioInput{}, err
	}
	if len(s.list) == 0 {
		return sdk.AudioInput{}, io.EOF
	}
	a := s.list[0]
	s.list = s.list[1:]
	return a, nil
}

func frames(samples []int16, rate int) []sdk.AudioInput {
	n := rate / 50
	var out []sdk.AudioInput
	for i := 0; i < len(samples); i += n {
		out = append(out, sdk.AudioInput{Samples: samples[i:min(i+n, len(samples))],
			Start: time.Duration(i) * time.Second / time.Duration(rate)})
	}
	return out
}

type event struct {
	kind string // started, final
	at   time.Duration
	r    sdk.Result
}

type transcript struct {
	mu  sync.Mutex
	evs []event
}

func (s *transcript) SpeechStarted(ctx context.Context, at time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.evs = append(s.evs, event{kind: "started", at: at})
	return nil
}

func (s *transcript) Partial(ctx context.Context, r sdk.Result) error {
	return errors.New("this plugin sends no partials")
}

func (s *transcript) Final(ctx context.Context, r sdk.Result) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.evs = append(s.evs, event{kind: "final", r: r})
	return nil
}

func configured(t *testing.T, config map[string]any) *Transcriber {
	t.Helper()
	tr := NewWithLogger(hclog.NewNullLogger())
	raw, _ := json.Marshal(config)
	if err := tr.Configure(context.Background(), sdk.NewConfig(raw)); err != nil {
		t.Fatalf("Configure: %v", err)
	}
	t.Cleanup(func() { _ = tr.Close() })
	return tr
}

func transcribe(t *testing.T, tr *Transcriber, st sdk.TranscribeStart, in []sdk.AudioInput) ([]event, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out := &transcript{}
	err := tr.Transcribe(ctx, st, &inputs{list: in}, out)
	return out.evs, err
}

func TestTranscribeUtterances(t *testing.T) {
	t.Setenv("EARSHOT_TEST_WHISPER_KEY", "sk-whisper")
	srv := newFakeWhisper(t, func(n int, u upload, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		// verbose_json with word times relative to the uploaded audio.
		fmt.Fprintf(w, `{"text":" Utterance %d. ","language":"en","duration":1.0,
			"segments":[{"id":0,"start":0.0,"end":1.0,"text":" Utterance %d.","avg_logprob":-0.2}],
			"words":[{"word":" Utterance","start":0.2,"end":0.6,"probability":0.9},{"word":" %d.","start":0.6,"end":0.9,"probability":0.7}]}`, n, n, n)
	})
	tr := configured(t, map[string]any{"base_url": srv.URL, "api_key_env": "EARSHOT_TEST_WHISPER_KEY", "model": "base.en"})
	ms := time.Millisecond
	audio := synth(16000, seg{false, 500 * ms}, seg{true, 1000 * ms}, seg{false, 800 * ms},
		seg{true, 100 * ms}, seg{false, 600 * ms}, // a click: ignored
		seg{true, 700 * ms}, seg{false, 200 * ms}) // ends with the stream
	evs, err := transcribe(t, tr, sdk.TranscribeStart{SampleRate: 16000, Language: "en-US", Hints: []string{"Kubernetes", "gRPC"}}, frames(audio, 16000))
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, ev := range evs {
		kinds = append(kinds, ev.kind)
	}
	if strings.Join(kinds, ",") != "started,final,started,final" {
		t.Fatalf("events %v", kinds)
	}
	f1, f2 := evs[1].r, evs[3].r
	if f1.Text != "Utterance 1." || f2.Text != "Utterance 2." {
		t.Errorf("texts %q, %q", f1.Text, f2.Text)
	}
	if !near(evs[0].at, 500*ms) || !near(f1.Start, 500*ms) || !near(f1.End, 1500*ms) {
		t.Errorf("first utterance: started %v, [%v, %v]", evs[0].at, f1.Start, f1.End)
	}
	if !near(evs[2].at, 3000*ms) || !near(f2.Start, 3000*ms) {
		t.Errorf("second utterance: started %v at %v", evs[2].at, f2.Start)
	}
	// The first ended by the speaker's silence, the second with the stream.
	if !f1.EndOfTurn || f2.EndOfTurn {
		t.Errorf("endOfTurn %v, %v; want true, false", f1.EndOfTurn, f2.EndOfTurn)
	}
	if len(f1.Words) != 2 || f1.Words[0].Text != "Utterance" || f1.Confidence != 0.8 {
		t.Fatalf("words %+v confidence %v", f1.Words, f1.Confidence)
	}
	// Word times are shifted from the upload's time line onto the stream's: the
	// upload starts 200 ms (pre-roll) before the onset at 500 ms.
	if !near(f1.Words[0].Start, 500*ms) || !near(f1.Words[1].End, 1200*ms) {
		t.Errorf("word times %+v", f1.Words)
	}

	ups := srv.got()
	if len(ups) != 2 {
		t.Fatalf("%d uploads", len(ups))
	}
	u := ups[0]
	want := map[string]string{"model": "base.en", "response_format": "verbose_json", "language": "en",
		"prompt": "Kubernetes, gRPC", "temperature": "0"}
	for k, v := range want {
		if got := u.Fields[k]; len(got) != 1 || got[0] != v {
			t.Errorf("field %s = %v, want %q", k, got, v)
		}
	}
	if g := strings.Join(u.Fields["timestamp_granularities[]"], ","); g != "segment,word" {
		t.Errorf("timestamp_granularities[] = %q", g)
	}
	if u.Auth != "Bearer sk-whisper" || u.Rate != 16000 {
		t.Errorf("auth %q rate %d", u.Auth, u.Rate)
	}
	// 200 ms pre-roll + 1 s of speech + up to 300 ms trailing silence.
	if d := time.Duration(len(u.Samples)) * time.Second / 16000; d < 1100*ms || d > 1550*ms {
		t.Errorf("first upload is %v of audio", d)
	}
}

func TestJSONFormatAndFinalize(t *testing.T) {
	srv := newFakeWhisper(t, textAnswer("[BLANK_AUDIO] hello"))
	tr := configured(t, map[string]any{"base_url": srv.URL + "/v1", "response_format": "json"})
	audio := synth(16000, seg{false, 300 * time.Millisecond}, seg{true, 2 * time.Second})
	in := frames(audio, 16000)
	// Finalize in the middle of speech: the utterance is cut there, and the rest
	// of the speech is a new utterance.
	mid := len(in) / 2
	in = append(in[:mid:mid], append([]sdk.AudioInput{{Control: sdk.ControlFinalize}}, in[mid:]...)...)
	evs, err := transcribe(t, tr, sdk.TranscribeStart{SampleRate: 16000}, in)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 4 || evs[1].r.Text != "hello 1" || evs[3].r.Text != "hello 2" {
		t.Fatalf("events %+v", evs)
	}
	if evs[1].r.EndOfTurn || evs[3].r.EndOfTurn {
		t.Errorf("a final forced by finalize or the end of the stream has endOfTurn")
	}
	if evs[1].r.Words != nil || evs[1].r.Confidence != 0 {
		t.Errorf("json format gave words or confidence: %+v", evs[1].r)
	}
	u := srv.got()[0]
	if _, ok := u.Fields["timestamp_granularities[]"]; ok || u.Fields["response_format"][0] != "json" {
		t.Errorf("fields %v", u.Fields)
	}
	if _, ok := u.Fields["language"]; ok {
		t.Errorf("language sent although neither config nor stream set one")
	}
}

func TestSilenceSendsNothing(t *testing.T) {
	srv := newFakeWhisper(t, textAnswer("x"))
	tr := configured(t, map[string]any{"base_url": srv.URL})
	evs, err := transcribe(t, tr, sdk.TranscribeStart{SampleRate: 16000},
		frames(synth(16000, seg{false, 3 * time.Second}), 16000))
	if err != nil || len(evs) != 0 || len(srv.got()) != 0 {
		t.Fatalf("events %v, %d uploads, err %v", evs, len(srv.got()), err)
	}
}

// The daemon re-opens a failed stream by replaying its audio with the original
// times: results are on that time line, not counted from zero.
func TestStreamTimes(t *testing.T) {
	srv := newFakeWhisper(t, func(n int, u upload, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"text":"hi","words":[{"word":"hi","start":0.2,"end":0.6,"probability":0.9}]}`)
	})
	tr := configured(t, map[string]any{"base_url": srv.URL})
	ms := time.Millisecond
	in := frames(synth(16000, seg{false, 500 * ms}, seg{true, 1000 * ms}, seg{false, 800 * ms}), 16000)
	for i := range in {
		in[i].Start += 42 * time.Second
	}
	// A control message carries no time; the first audio sets the origin.
	in = append([]sdk.AudioInput{{Control: sdk.ControlFinalize}}, in...)
	evs, err := transcribe(t, tr, sdk.TranscribeStart{SampleRate: 16000}, in)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 {
		t.Fatalf("events %+v", evs)
	}
	base, f := 42*time.Second, evs[1].r
	if !near(evs[0].at, base+500*ms) || !near(f.Start, base+500*ms) || !near(f.End, base+1500*ms) {
		t.Errorf("started %v, final [%v, %v]; want 42.5s, [42.5s, 43.5s]", evs[0].at, f.Start, f.End)
	}
	// The upload starts with 200 ms of pre-roll at 42.3 s.
	if len(f.Words) != 1 || !near(f.Words[0].Start, base+500*ms) || !near(f.Words[0].End, base+900*ms) {
		t.Errorf("words %+v", f.Words)
	}
}

// After a max_utterance cut, silence is not sent as an utterance of its own
// (whisper makes up text for silence: "Thank you.").
func TestSilenceAfterCutSendsNothing(t *testing.T) {
	srv := newFakeWhisper(t, textAnswer("long"))
	tr := configured(t, map[string]any{"base_url": srv.URL, "max_utterance": "1s", "hangover": "900ms"})
	ms := time.Millisecond
	// 200 ms pre-roll + 800 ms of speech reach max_utterance exactly.
	evs, err := transcribe(t, tr, sdk.TranscribeStart{SampleRate: 16000},
		frames(synth(16000, seg{false, 200 * ms}, seg{true, 800 * ms}, seg{false, 5 * time.Second}), 16000))
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || evs[0].kind != "started" || evs[1].kind != "final" || len(srv.got()) != 1 {
		t.Fatalf("events %+v, %d uploads; want one utterance", evs, len(srv.got()))
	}
	if evs[1].r.EndOfTurn {
		t.Errorf("a final cut at max_utterance has endOfTurn")
	}
}

func TestRealSpeech(t *testing.T) {
	srv := newFakeWhisper(t, textAnswer("speech"))
	tr := configured(t, map[string]any{"base_url": srv.URL})
	a, rate := espeak(t, "what is your greatest weakness")
	gap := synth(rate, seg{false, 800 * time.Millisecond})
	audio := append(append(append([]int16{}, gap...), a...), gap...)
	evs, err := transcribe(t, tr, sdk.TranscribeStart{SampleRate: rate}, frames(audio, rate))
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || evs[1].r.Text != "speech 1" {
		t.Fatalf("events %+v", evs)
	}
	if up := srv.got()[0]; up.Rate != rate {
		t.Errorf("uploaded at %d Hz, stream is %d Hz", up.Rate, rate)
	}
}

func TestErrors(t *testing.T) {
	speech := frames(synth(16000, seg{true, 600 * time.Millisecond}, seg{false, 600 * time.Millisecond}), 16000)
	cases := []struct {
		name   string
		answer func(int, upload, http.ResponseWriter, *http.Request)
		config map[string]any
		code   string
		msg    string
	}{
		{"unauthorized", func(_ int, _ upload, w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error":{"message":"Incorrect API key provided","type":"invalid_request_error"}}`)
		}, nil, sdk.CodeBadConfig, "Incorrect API key"},
		{"server error", func(_ int, _ upload, w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, `{"error":{"message":"model crashed"}}`)
		}, nil, sdk.CodeUnavailable, "model crashed"},
		{"plain text error", func(_ int, _ upload, w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusBadGateway)
			io.WriteString(w, "bad gateway")
		}, nil, sdk.CodeUnavailable, "bad gateway"},
		{"invalid json", func(_ int, _ upload, w http.ResponseWriter, _ *http.Request) {
			io.WriteString(w, `{"text": "unterminated`)
		}, nil, sdk.CodeInternal, "invalid JSON"},
		{"slow server", func(_ int, _ upload, w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
		}, map[string]any{"timeout": "300ms"}, sdk.CodeUnavailable, "did not answer within 300ms"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := newFakeWhisper(t, c.answer)
			cfg := map[string]any{"base_url": srv.URL}
			for k, v := range c.config {
				cfg[k] = v
			}
			tr := configured(t, cfg)
			_, err := transcribe(t, tr, sdk.TranscribeStart{SampleRate: 16000}, speech)
			var se *sdk.StreamError
			if !errors.As(err, &se) || se.Code != c.code || !strings.Contains(se.Message, c.msg) {
				t.Fatalf("got %v, want %s containing %q", err, c.code, c.msg)
			}
		})
	}
	t.Run("wrong route", func(t *testing.T) {
		srv := newFakeWhisper(t, textAnswer("x"))
		tr := configured(t, map[string]any{"base_url": srv.URL + "/v2/audio/transcriptions"})
		_, err := transcribe(t, tr, sdk.TranscribeStart{SampleRate: 16000}, speech)
		var se *sdk.StreamError
		if !errors.As(err, &se) || se.Code != sdk.CodeBadConfig {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("server down", func(t *testing.T) {
		srv := newFakeWhisper(t, textAnswer("x"))
		srv.Close()
		tr := configured(t, map[string]any{"base_url": srv.URL})
		_, err := transcribe(t, tr, sdk.TranscribeStart{SampleRate: 16000}, speech)
		var se *sdk.StreamError
		if !errors.As(err, &se) || se.Code != sdk.CodeUnavailable {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("bad sample rate", func(t *testing.T) {
		tr := configured(t, map[string]any{})
		_, err := transcribe(t, tr, sdk.TranscribeStart{SampleRate: 0}, speech)
		var se *sdk.StreamError
		if !errors.As(err, &se) || se.Code != sdk.CodeUnsupportedFormat {
			t.Fatalf("got %v", err)
		}
	})
}

func TestConfigureErrors(t *testing.T) {
	t.Setenv("EARSHOT_TEST_EMPTY", "")
	for name, c := range map[string]struct {
		cfg  map[string]any
		want string // in the message
	}{
		"not a url":                   {map[string]any{"base_url": "127.0.0.1:8081"}, "base_url"},
		"missing key":                 {map[string]any{"api_key_env": "EARSHOT_TEST_EMPTY"}, "api_key_env"},
		"format":                      {map[string]any{"response_format": "srt"}, "response_format"},
		"threshold":                   {map[string]any{"energy_threshold_dbfs": 3}, "energy_threshold_dbfs"},
		"hangover":                    {map[string]any{"hangover": "0s"}, "hangover"},
		"max utterance":               {map[string]any{"max_utterance": "1h"}, "max_utterance"},
		"hangover over max_utterance": {map[string]any{"hangover": "40s"}, "hangover (40s) must be shorter than max_utterance (30s)"},
		"min_speech over max":         {map[string]any{"min_speech": "1s", "max_utterance": "1s"}, "min_speech (1s) must be shorter than max_utterance (1s)"},
		"pre_roll too long":           {map[string]any{"pre_roll": "10m"}, "pre_roll must be between 0 and 2s"},
		"pre_roll negative":           {map[string]any{"pre_roll": "-1s"}, "pre_roll"},
		"wrong type":                  {map[string]any{"min_speech": true}, ""},
		"duration syntax":             {map[string]any{"timeout": "ten seconds"}, ""},
	} {
		t.Run(name, func(t *testing.T) {
			raw, _ := json.Marshal(c.cfg)
			err := NewWithLogger(hclog.NewNullLogger()).Configure(context.Background(), sdk.NewConfig(raw))
			var se *sdk.StreamError
			if !errors.As(err, &se) || se.Code != sdk.CodeBadConfig || !strings.Contains(se.Message, c.want) {
				t.Fatalf("got %v, want BAD_CONFIG containing %q", err, c.want)
			}
		})
	}
	// The limits themselves are accepted.
	configured(t, map[string]any{"pre_roll": "2s", "hangover": "29s", "min_speech": "29s"})
}

// A base_url may carry credentials; no error may quote them.
func TestBaseURLErrorsHideSecrets(t *testing.T) {
	for _, u := range []string{
		"https://u:sk-SECRET@api.example.com:80a/v1",   // invalid port
		"https://user:sk-SECRET/x@api.example.com",     // the password parses as a port
		"https://[sk-SECRET]/v1",                       // invalid IP literal
		"https://u:sk-SECRET%zz@api.example.com/",      // invalid escape
		"https://api.example.com/v1?key=sk-SECRET\x7f", // control character
		"http//u:sk-SECRET@api.example.com",            // no scheme: all path
		"ftp://u:sk-SECRET@api.example.com",            // wrong scheme
	} {
		raw, _ := json.Marshal(map[string]any{"base_url": u})
		err := NewWithLogger(hclog.NewNullLogger()).Configure(context.Background(), sdk.NewConfig(raw))
		var se *sdk.StreamError
		if !errors.As(err, &se) || se.Code != sdk.CodeBadConfig || !strings.HasPrefix(se.Message, "base_url: ") {
			t.Errorf("%s: got %v, want BAD_CONFIG about base_url", u, err)
			continue
		}
		if strings.Contains(se.Message, "SECRET") {
			t.Errorf("%s: error quotes the secret: %s", u, se.Message)
		}
	}
}

func TestTranscriptionsURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:8081":                      "http://127.0.0.1:8081/v1/audio/transcriptions",
		"http://127.0.0.1:8081/":                     "http://127.0.0.1:8081/v1/audio/transcriptions",
		"https://api.openai.com/v1":                  "https://api.openai.com/v1/audio/transcriptions",
		"http://h:8000/v1/audio/transcriptions":      "http://h:8000/v1/audio/transcriptions",
		"http://h/proxy/v1/audio/transcriptions?x=1": "http://h/proxy/v1/audio/transcriptions?x=1",
	} {
		if got, err := transcriptionsURL(in); err != nil || got != want {
			t.Errorf("transcriptionsURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestCleanText(t *testing.T) {
	for in, want := range map[string]string{
		" Hello there. ":           "Hello there.",
		"[BLANK_AUDIO]":            "",
		"(music) Welcome  back":    "Welcome back",
		"a [inaudible] b (laughs)": "a b",
		"unbalanced ] [":           "unbalanced ] [",
	} {
		if got := cleanText(in); got != want {
			t.Errorf("cleanText(%q) = %q, want %q", in, got, want)
		}
	}
}
