package llm

import (
	"bytes"
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

// wait bounds every wait on the plugin in these tests.
const wait = 10 * time.Second

// ---- a fake OpenAI-compatible server ----

// fakeServer serves /v1/chat/completions with a handler chosen per request
// number (1-based), recording the requests.
type fakeServer struct {
	*httptest.Server
	mu       sync.Mutex
	requests []recorded
	calls    atomic.Int32
	handle   func(n int, w http.ResponseWriter, r *http.Request)
}

type recorded struct {
	Auth string
	Body chatRequest
}

func newFakeServer(t *testing.T, handle func(n int, w http.ResponseWriter, r *http.Request)) *fakeServer {
	t.Helper()
	f := &fakeServer{handle: handle}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/chat/completions" {
			http.Error(w, `{"error":{"message":"not found"}}`, http.StatusNotFound)
			return
		}
		var body chatRequest
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, `{"error":{"message":"bad json"}}`, http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		f.requests = append(f.requests, recorded{Auth: r.Header.Get("Authorization"), Body: body})
		f.mu.Unlock()
		f.handle(int(f.calls.Add(1)), w, r)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeServer) recorded() []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recorded(nil), f.requests...)
}

// streamChunks writes an SSE response of the given content pieces, then [DONE].
func streamChunks(w http.ResponseWriter, pieces ...string) {
	w.Header().Set("Content-Type", "text/event-stream")
	fl := w.(http.Flusher)
	for _, p := range pieces {
		b, _ := json.Marshal(map[string]any{
			"object":  "chat.completion.chunk",
			"choices": []any{map[string]any{"index": 0, "delta": map[string]any{"content": p}}},
		})
		fmt.Fprintf(w, "data: %s\n\n", b)
		fl.Flush()
	}
	fmt.Fprint(w, "data: [DONE]\n\n")
	fl.Flush()
}

func jsonError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"error":{"message":%q,"type":"test_error","code":null}}`, msg)
}

// ---- a scripted session ----

type source struct{ ch chan sdk.Utterance }

func (s source) Next(ctx context.Context) (sdk.Utterance, error) {
	select {
	case u, ok := <-s.ch:
		if !ok {
			return sdk.Utterance{}, io.EOF
		}
		return u, nil
	case <-ctx.Done():
		return sdk.Utterance{}, ctx.Err()
	}
}

type sink struct{ ch chan sdk.SuggestionSet }

func (s sink) Send(ctx context.Context, set sdk.SuggestionSet) error {
	set.Suggestions = append([]sdk.Suggestion(nil), set.Suggestions...)
	select {
	case s.ch <- set:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// session runs Suggest in the background.
type session struct {
	t    *testing.T
	in   chan sdk.Utterance
	out  chan sdk.SuggestionSet
	done chan error
	logs *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// configure returns a configured plugin logging into a buffer.
func configure(t *testing.T, config map[string]any) (*LLM, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	l := NewWithLogger(hclog.New(&hclog.LoggerOptions{Output: logs, Level: hclog.Debug}))
	raw, err := json.Marshal(config)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Configure(context.Background(), sdk.NewConfig(raw)); err != nil {
		t.Fatalf("Configure: %v", err)
	}
	l.client.backoffBase = time.Millisecond
	t.Cleanup(func() { _ = l.Close() })
	return l, logs
}

func start(t *testing.T, l *LLM, logs *syncBuffer) *session {
	t.Helper()
	s := &session{t: t, in: make(chan sdk.Utterance), out: make(chan sdk.SuggestionSet, 1000),
		done: make(chan error, 1), logs: logs}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { s.done <- l.Suggest(ctx, sdk.SessionInfo{SessionID: "s1"}, source{s.in}, sink{s.out}) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-s.done:
		case <-time.After(wait):
			t.Error("Suggest did not return after cancel")
		}
	})
	return s
}

func (s *session) say(id, role, text string) {
	s.t.Helper()
	select {
	case s.in <- sdk.Utterance{UtteranceID: id, SpeakerID: "spk-" + role, Role: role, Text: text}:
	case <-time.After(wait):
		s.t.Fatal("Suggest is not reading utterances")
	}
}

// end closes the source and waits for Suggest to return.
func (s *session) end() error {
	s.t.Helper()
	close(s.in)
	select {
	case err := <-s.done:
		s.done <- err // for the cleanup
		return err
	case <-time.After(wait):
		s.t.Fatal("Suggest did not return after the end of its source")
		return nil
	}
}

// next returns the next set sent.
func (s *session) next() sdk.SuggestionSet {
	s.t.Helper()
	select {
	case set := <-s.out:
		return set
	case <-time.After(wait):
		s.t.Fatalf("no suggestion set; logs:\n%s", s.logs.String())
		return sdk.SuggestionSet{}
	}
}

// untilFinal collects updates up to and including the final one.
func (s *session) untilFinal() []sdk.SuggestionSet {
	s.t.Helper()
	var out []sdk.SuggestionSet
	for {
		set := s.next()
		out = append(out, set)
		if set.Final {
			return out
		}
	}
}

func (s *session) noMoreSets() {
	s.t.Helper()
	select {
	case set := <-s.out:
		s.t.Fatalf("unexpected set %+v", set)
	default:
	}
}

func baseConfig(srv *fakeServer) map[string]any {
	return map[string]any{"base_url": srv.URL + "/v1", "model": "test-model", "update_interval": "0s"}
}

// ---- tests ----

func TestStreamsGrowingSet(t *testing.T) {
	t.Setenv("EARSHOT_TEST_LLM_KEY", "sk-secret-123")
	srv := newFakeServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		streamChunks(w, "- Name ", "the product", "\n- Mention scale\n", "? What is ", "the team size")
	})
	cfg := baseConfig(srv)
	cfg["api_key_env"] = "EARSHOT_TEST_LLM_KEY"
	cfg["prompt"] = "{{range .Turns}}{{.Role}}: {{.Text}}|{{end}}Q={{.Question.Text}}"
	l, logs := configure(t, cfg)
	s := start(t, l, logs)
	s.say("u1", "candidate", "hi i am alex")
	s.say("u2", "interviewer", "so why do you want to work here")
	sets := s.untilFinal()
	if err := s.end(); err != nil {
		t.Fatal(err)
	}

	if len(sets) < 3 {
		t.Fatalf("got %d updates, want the set to grow over several: %+v", len(sets), sets)
	}
	for i, set := range sets {
		if set.ID != sets[0].ID || set.UtteranceID != "u2" || set.Supersedes != "" {
			t.Errorf("update %d: id %q utterance %q supersedes %q", i, set.ID, set.UtteranceID, set.Supersedes)
		}
		if set.Final != (i == len(sets)-1) {
			t.Errorf("update %d: final %v", i, set.Final)
		}
		if i > 0 && len(set.Suggestions) < len(sets[i-1].Suggestions) {
			t.Errorf("update %d shrank", i)
		}
	}
	final := sets[len(sets)-1]
	want := []sdk.Suggestion{
		{ID: final.ID + ".1", Kind: KindTalkingPoint, Text: "Name the product", Score: 1},
		{ID: final.ID + ".2", Kind: KindTalkingPoint, Text: "Mention scale", Score: 0.9},
		{ID: final.ID + ".3", Kind: KindFollowUp, Text: "What is the team size", Score: 0.8},
	}
	if fmt.Sprint(final.Suggestions) != fmt.Sprint(want) {
		t.Errorf("final suggestions\n got %+v\nwant %+v", final.Suggestions, want)
	}
	if final.Question != "why do you want to work here" {
		t.Errorf("question %q", final.Question)
	}

	reqs := srv.recorded()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	r := reqs[0]
	if r.Auth != "Bearer sk-secret-123" || r.Body.Model != "test-model" || !r.Body.Stream {
		t.Errorf("request auth %q model %q stream %v", r.Auth, r.Body.Model, r.Body.Stream)
	}
	if len(r.Body.Messages) != 2 || r.Body.Messages[0].Role != "system" ||
		r.Body.Messages[0].Content != DefaultSystemPrompt {
		t.Fatalf("messages %+v", r.Body.Messages)
	}
	wantUser := "candidate: hi i am alex|interviewer: so why do you want to work here|Q=so why do you want to work here"
	if r.Body.Messages[1].Content != wantUser {
		t.Errorf("user message %q, want %q", r.Body.Messages[1].Content, wantUser)
	}
	if strings.Contains(logs.String(), "sk-secret-123") {
		t.Error("the API key reached the log")
	}
}

func TestOnlyQuestionsFromTriggerRoles(t *testing.T) {
	srv := newFakeServer(t, func(n int, w http.ResponseWriter, r *http.Request) { streamChunks(w, "- ok") })
	l, logs := configure(t, baseConfig(srv))
	s := start(t, l, logs)
	s.say("u1", "candidate", "what is the biggest challenge for the team")
	s.say("u2", "interviewer", "thanks that is helpful")
	s.say("u3", "observer", "why should we hire you")
	s.say("u4", "interviewer", "how do you handle conflict")
	set := s.untilFinal()[0]
	if err := s.end(); err != nil {
		t.Fatal(err)
	}
	if set.UtteranceID != "u4" {
		t.Errorf("set answers %s, want u4", set.UtteranceID)
	}
	if n := len(srv.recorded()); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
	// With detect_questions off, every final of a trigger role counts.
	cfg := baseConfig(srv)
	cfg["detect_questions"] = false
	cfg["trigger_roles"] = []string{"candidate"}
	l2, logs2 := configure(t, cfg)
	s2 := start(t, l2, logs2)
	s2.say("u5", "candidate", "i led the migration")
	if set := s2.untilFinal(); set[0].UtteranceID != "u5" {
		t.Errorf("got %+v", set)
	}
	if err := s2.end(); err != nil {
		t.Fatal(err)
	}
}

func TestHTTPErrors(t *testing.T) {
	cases := []struct {
		name     string
		status   int
		attempts int // requests made for the failing question
	}{
		{"unauthorized", http.StatusUnauthorized, 1},
		{"bad request", http.StatusBadRequest, 1},
		{"server error", http.StatusInternalServerError, 3},
		{"overloaded", http.StatusServiceUnavailable, 3},
		{"rate limited", http.StatusTooManyRequests, 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := newFakeServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
				if n <= c.attempts {
					jsonError(w, c.status, "nope: "+c.name)
					return
				}
				streamChunks(w, "- recovered")
			})
			cfg := baseConfig(srv)
			cfg["max_retries"] = 2
			l, logs := configure(t, cfg)
			s := start(t, l, logs)
			s.say("u1", "interviewer", "what is your greatest weakness")
			if err := s.end(); err != nil { // waits for the generation and its retries
				t.Fatal(err)
			}
			s.noMoreSets()
			if got := len(srv.recorded()); got != c.attempts {
				t.Errorf("%d requests, want %d", got, c.attempts)
			}
			// The plugin keeps serving: the next session's question is answered.
			s2 := start(t, l, logs)
			s2.say("u2", "interviewer", "what are your strengths")
			set := s2.untilFinal()
			if err := s2.end(); err != nil {
				t.Fatal(err)
			}
			final := set[len(set)-1]
			if final.UtteranceID != "u2" || final.Suggestions[0].Text != "recovered" {
				t.Fatalf("got %+v", final)
			}
			if got := len(srv.recorded()); got != c.attempts+1 {
				t.Errorf("%d requests, want %d", got, c.attempts+1)
			}
			if !strings.Contains(logs.String(), "nope: "+c.name) {
				t.Errorf("the server's error message is not in the log:\n%s", logs.String())
			}
		})
	}
}

func TestRetryThenSuccess(t *testing.T) {
	srv := newFakeServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			jsonError(w, http.StatusBadGateway, "warming up")
			return
		}
		streamChunks(w, "- second time lucky")
	})
	l, logs := configure(t, baseConfig(srv))
	s := start(t, l, logs)
	s.say("u1", "interviewer", "tell me about yourself")
	sets := s.untilFinal()
	if err := s.end(); err != nil {
		t.Fatal(err)
	}
	if got := sets[len(sets)-1].Suggestions[0].Text; got != "second time lucky" {
		t.Errorf("got %q", got)
	}
	if n := len(srv.recorded()); n != 2 {
		t.Errorf("%d requests, want 2", n)
	}
	if !strings.Contains(logs.String(), "retrying") {
		t.Errorf("retry not logged:\n%s", logs.String())
	}
}

func TestConnectionRefusedIsRetried(t *testing.T) {
	srv := newFakeServer(t, func(n int, w http.ResponseWriter, r *http.Request) {})
	cfg := baseConfig(srv)
	srv.Close() // nothing listens there any more
	cfg["max_retries"] = 1
	l, logs := configure(t, cfg)
	s := start(t, l, logs)
	s.say("u1", "interviewer", "tell me about yourself")
	if err := s.end(); err != nil {
		t.Fatal(err)
	}
	s.noMoreSets()
	if c := strings.Count(logs.String(), "retrying"); c != 1 {
		t.Errorf("%d retries logged, want 1:\n%s", c, logs.String())
	}
}

func TestSlowServerTimesOut(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	srv := newFakeServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			// Headers, one token, then nothing until the client gives up.
			w.Header().Set("Content-Type", "text/event-stream")
			fmt.Fprint(w, "data: {\"choices\":[{\"delta\":{\"content\":\"- half\"}}]}\n\n")
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
		// Never answers: the header time-out fires.
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	cfg := baseConfig(srv)
	cfg["timeout"] = "1s" // generous: the first token must arrive within it even on a loaded machine
	l, logs := configure(t, cfg)
	s := start(t, l, logs)
	s.say("u1", "interviewer", "tell me about yourself")
	// The text received before the time-out is kept and finalised.
	sets := s.untilFinal()
	if got := sets[len(sets)-1].Suggestions[0].Text; got != "half" {
		t.Errorf("got %q", got)
	}
	s.say("u2", "interviewer", "why should we hire you")
	if err := s.end(); err != nil {
		t.Fatal(err)
	}
	s.noMoreSets()
	if n := len(srv.recorded()); n != 2 {
		t.Errorf("%d requests, want 2 (time-outs are not retried)", n)
	}
	if !strings.Contains(logs.String(), "deadline exceeded") {
		t.Errorf("time-out not logged:\n%s", logs.String())
	}
}

func TestMalformedStreams(t *testing.T) {
	cases := []struct {
		name string
		body string
		want []string // texts of the final suggestions; nil: no set
		log  string
	}{
		{"bad json lines", "data: {not json\n\ndata: {\"choices\":[{\"delta\":{\"content\":\"- good\"}}]}\n\ndata: [DONE]\n\n",
			[]string{"good"}, "malformed"},
		{"missing choices", "data: {\"id\":\"x\"}\n\ndata: {\"choices\":[]}\n\ndata: {\"choices\":[{\"delta\":{\"content\":\"- fine\"}}]}\n\ndata: [DONE]\n\n",
			[]string{"fine"}, "malformed"},
		{"no done", "data: {\"choices\":[{\"delta\":{\"content\":\"- cut\"}}]}\n\n",
			[]string{"cut"}, "without [DONE]"},
		{"comments and events", ": keep-alive\nevent: message\nid: 1\ndata:{\"choices\":[{\"delta\":{\"content\":\"- a\\n- b\"}}]}\r\n\r\ndata: [DONE]\n\n",
			[]string{"a", "b"}, ""},
		{"only garbage", "hello\nworld\n", nil, "no text"},
		{"error object", "data: {\"error\":{\"message\":\"model overloaded\"}}\n\n", nil, "model overloaded"},
		{"content then error", "data: {\"choices\":[{\"delta\":{\"content\":\"- kept\"}}]}\n\ndata: {\"error\":{\"message\":\"boom\"}}\n\n",
			[]string{"kept"}, "boom"},
		{"finish reason, no done", "data: {\"choices\":[{\"delta\":{\"content\":\"- fin\"},\"finish_reason\":\"stop\"}]}\n\n",
			[]string{"fin"}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := newFakeServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/event-stream")
				io.WriteString(w, c.body)
			})
			l, logs := configure(t, baseConfig(srv))
			s := start(t, l, logs)
			s.say("u1", "interviewer", "tell me about yourself")
			if err := s.end(); err != nil {
				t.Fatal(err)
			}
			var sets []sdk.SuggestionSet
			for len(s.out) > 0 {
				sets = append(sets, <-s.out)
			}
			if c.want == nil {
				if len(sets) != 0 {
					t.Errorf("got a set for a broken answer: %+v", sets)
				}
			} else {
				if len(sets) == 0 || !sets[len(sets)-1].Final {
					t.Fatalf("no final set: %+v", sets)
				}
				var got []string
				for _, sg := range sets[len(sets)-1].Suggestions {
					got = append(got, sg.Text)
				}
				if fmt.Sprint(got) != fmt.Sprint(c.want) {
					t.Errorf("got %v, want %v", got, c.want)
				}
			}
			if c.log != "" && !strings.Contains(logs.String(), c.log) {
				t.Errorf("log lacks %q:\n%s", c.log, logs.String())
			}
		})
	}
}

func TestResponseSizeIsBounded(t *testing.T) {
	srv := newFakeServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		line := "data: {\"choices\":[{\"delta\":{\"content\":\"word \"}}]}\n\n"
		for i := 0; i < 100000; i++ {
			if _, err := io.WriteString(w, line); err != nil {
				return // the client hung up, as it should
			}
		}
	})
	cfg := baseConfig(srv)
	cfg["max_response_bytes"] = 4096
	cfg["update_interval"] = "1h" // one update per line only
	l, logs := configure(t, cfg)
	s := start(t, l, logs)
	s.say("u1", "interviewer", "tell me about yourself")
	sets := s.untilFinal()
	if err := s.end(); err != nil {
		t.Fatal(err)
	}
	final := sets[len(sets)-1]
	if n := len(final.Suggestions[0].Text); n == 0 || n > 4096 {
		t.Errorf("final text of %d bytes from a 4 KiB bound", n)
	}
	if !strings.Contains(logs.String(), "max_response_bytes") {
		t.Errorf("overflow not logged:\n%s", logs.String())
	}
}

func TestNonStreamingServer(t *testing.T) {
	srv := newFakeServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"choices":[{"index":0,"message":{"role":"assistant","content":"- one\n- two"}}]}`)
	})
	l, logs := configure(t, baseConfig(srv))
	s := start(t, l, logs)
	s.say("u1", "interviewer", "tell me about yourself")
	sets := s.untilFinal()
	if err := s.end(); err != nil {
		t.Fatal(err)
	}
	if len(sets[len(sets)-1].Suggestions) != 2 {
		t.Errorf("got %+v", sets)
	}
}

func TestSupersedeCancelsStaleGeneration(t *testing.T) {
	firstCancelled := make(chan struct{})
	srv := newFakeServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			w.Header().Set("Content-Type", "text/event-stream")
			fmt.Fprint(w, "data: {\"choices\":[{\"delta\":{\"content\":\"- stale point\\n\"}}]}\n\n")
			w.(http.Flusher).Flush()
			<-r.Context().Done() // only the client's cancellation ends this
			close(firstCancelled)
			return
		}
		streamChunks(w, "- fresh point")
	})
	l, logs := configure(t, baseConfig(srv))
	s := start(t, l, logs)
	s.say("u1", "interviewer", "tell me about yourself")
	first := s.next()
	if first.Final || first.Suggestions[0].Text != "stale point" {
		t.Fatalf("first update %+v", first)
	}
	s.say("u2", "interviewer", "what is your greatest weakness")
	select {
	case <-firstCancelled:
	case <-time.After(wait):
		t.Fatal("the stale request was not cancelled")
	}
	sets := s.untilFinal()
	if err := s.end(); err != nil {
		t.Fatal(err)
	}
	for _, set := range sets {
		if set.ID == first.ID {
			t.Fatalf("the stale set was updated after it was superseded: %+v", set)
		}
		if set.Supersedes != first.ID || set.UtteranceID != "u2" {
			t.Errorf("set %+v does not supersede %s", set, first.ID)
		}
	}
}

func TestEndWaitsForGeneration(t *testing.T) {
	srv := newFakeServer(t, func(n int, w http.ResponseWriter, r *http.Request) { streamChunks(w, "- last") })
	l, logs := configure(t, baseConfig(srv))
	s := start(t, l, logs)
	s.say("u1", "interviewer", "do you have any questions for us")
	if err := s.end(); err != nil {
		t.Fatal(err)
	}
	sets := s.untilFinal()
	if sets[len(sets)-1].UtteranceID != "u1" {
		t.Errorf("got %+v", sets)
	}
}

func TestConfigureErrors(t *testing.T) {
	t.Setenv("EARSHOT_TEST_EMPTY", "")
	cases := map[string]map[string]any{
		"relative url":   {"base_url": "localhost:8080"},
		"ftp url":        {"base_url": "ftp://example.com/v1"},
		"empty model":    {"model": " "},
		"missing key":    {"api_key_env": "EARSHOT_TEST_EMPTY"},
		"bad template":   {"prompt": "{{range .Turns}"},
		"unknown field":  {"prompt": "{{.Nope}}"},
		"history":        {"history": 0},
		"retries":        {"max_retries": 50},
		"temperature":    {"temperature": 3},
		"timeout":        {"timeout": "0s"},
		"bad duration":   {"timeout": "soon"},
		"response bound": {"max_response_bytes": 10},
		"no suggestions": {"max_suggestions": 0},
		"too many":       {"max_suggestions": 101},
	}
	for name, cfg := range cases {
		t.Run(name, func(t *testing.T) {
			raw, _ := json.Marshal(cfg)
			err := NewWithLogger(hclog.NewNullLogger()).Configure(context.Background(), sdk.NewConfig(raw))
			var se *sdk.StreamError
			if !errors.As(err, &se) || se.Code != sdk.CodeBadConfig {
				t.Fatalf("got %v, want BAD_CONFIG", err)
			}
		})
	}
}

func TestChatURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:11434/v1":                    "http://127.0.0.1:11434/v1/chat/completions",
		"https://api.openai.com/v1/":                   "https://api.openai.com/v1/chat/completions",
		"http://h:8000/v1/chat/completions":            "http://h:8000/v1/chat/completions",
		"https://x.example/openai/v1?api-version=2024": "https://x.example/openai/v1/chat/completions?api-version=2024",
	} {
		got, err := chatURL(in)
		if err != nil || got != want {
			t.Errorf("chatURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if got := redactURL("https://u:p@x.example/v1?api-key=secret"); strings.Contains(got, "secret") || strings.Contains(got, "p@") {
		t.Errorf("redactURL leaked: %q", got)
	}
}

func TestSplit(t *testing.T) {
	got := split("Sure!\n- one\n* two\n3. three\n? ask this\n**bold**\n- ", true)
	want := []sdk.Suggestion{
		{Kind: KindAnswer, Text: "Sure!"}, {Kind: KindTalkingPoint, Text: "one"},
		{Kind: KindTalkingPoint, Text: "two"}, {Kind: KindTalkingPoint, Text: "three"},
		{Kind: KindFollowUp, Text: "ask this"}, {Kind: KindAnswer, Text: "bold"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	if got := split("- one\n-", false); len(got) != 1 {
		t.Errorf("a just-begun line was shown: %+v", got)
	}
}

func TestHistoryIsBounded(t *testing.T) {
	srv := newFakeServer(t, func(n int, w http.ResponseWriter, r *http.Request) { streamChunks(w, "- ok") })
	cfg := baseConfig(srv)
	cfg["history"] = 2
	cfg["prompt"] = "{{range .Turns}}[{{.Text}}]{{end}}"
	l, logs := configure(t, cfg)
	s := start(t, l, logs)
	s.say("u1", "candidate", "one")
	s.say("u2", "candidate", "two")
	s.say("u3", "interviewer", "why should we hire you")
	s.untilFinal()
	if err := s.end(); err != nil {
		t.Fatal(err)
	}
	if got := srv.recorded()[0].Body.Messages[1].Content; got != "[two][why should we hire you]" {
		t.Errorf("prompt %q", got)
	}
}

func TestUpdatesAreRateLimited(t *testing.T) {
	srv := newFakeServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		streamChunks(w, "- a", "b", "c\n", "- d", "e", "f")
	})
	cfg := baseConfig(srv)
	cfg["update_interval"] = "1h" // only the first text, completed lines and the end send updates
	l, logs := configure(t, cfg)
	s := start(t, l, logs)
	s.say("u1", "interviewer", "tell me about yourself")
	sets := s.untilFinal()
	if err := s.end(); err != nil {
		t.Fatal(err)
	}
	if len(sets) != 3 {
		t.Fatalf("got %d updates, want 3 (the first text, the completed line, the final): %+v", len(sets), sets)
	}
	if got := sets[0].Suggestions; len(got) != 1 || got[0].Text != "a" {
		t.Errorf("first update %+v", got)
	}
	if got := sets[1].Suggestions; len(got) != 1 || got[0].Text != "abc" {
		t.Errorf("second update %+v", got)
	}
	if got := sets[2].Suggestions; len(got) != 2 || got[1].Text != "def" {
		t.Errorf("final %+v", got)
	}
}

func TestFinishReasonEndsAnswer(t *testing.T) {
	blocked := make(chan struct{}) // closed once the answer is out and the handler waits
	release := make(chan struct{}) // lets the handler return
	defer close(release)
	srv := newFakeServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "data: {\"choices\":[{\"delta\":{\"content\":\"- one\\n- two\"}}]}\n\n")
		fmt.Fprint(w, "data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n")
		w.(http.Flusher).Flush()
		close(blocked)
		<-release // no [DONE], connection held open, even after the client hangs up
	})
	cfg := baseConfig(srv)
	cfg["timeout"] = "1h" // only the finish_reason can end this answer within the test
	l, logs := configure(t, cfg)
	s := start(t, l, logs)
	s.say("u1", "interviewer", "tell me about yourself")
	// The handler returns only once release is closed, after these checks: the
	// final set must come while it still holds the connection open.
	sets := s.untilFinal()
	<-blocked
	final := sets[len(sets)-1]
	if len(final.Suggestions) != 2 || final.Suggestions[1].Text != "two" {
		t.Errorf("final %+v", final.Suggestions)
	}
	for _, bad := range []string{"ended early", "without [DONE]", "deadline"} {
		if strings.Contains(logs.String(), bad) {
			t.Errorf("log has %q:\n%s", bad, logs.String())
		}
	}
	if err := s.end(); err != nil {
		t.Fatal(err)
	}
}

func TestSetIsCapped(t *testing.T) {
	const limit = 4
	hungUp := make(chan struct{})
	srv := newFakeServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fl := w.(http.Flusher)
		// A runaway answer of short lines: no finish_reason, no [DONE], no end
		// until the client stops reading.
		for i := 1; ; i++ {
			fmt.Fprintf(w, "data: {\"choices\":[{\"delta\":{\"content\":\"- p%d\\n\"}}]}\n\n", i)
			fl.Flush()
			if i == 2*limit {
				break
			}
		}
		<-r.Context().Done()
		close(hungUp)
	})
	cfg := baseConfig(srv) // update_interval 0: every completed line is sent
	cfg["timeout"] = "1h"
	cfg["max_suggestions"] = limit
	l, logs := configure(t, cfg)
	s := start(t, l, logs)
	s.say("u1", "interviewer", "tell me about yourself")
	sets := s.untilFinal()
	select {
	case <-hungUp:
	case <-time.After(wait):
		t.Fatal("the client kept reading a full set's answer")
	}
	if err := s.end(); err != nil {
		t.Fatal(err)
	}
	if len(sets) > limit {
		t.Errorf("%d updates for a set of %d lines", len(sets), limit)
	}
	for i, set := range sets {
		if len(set.Suggestions) > limit {
			t.Errorf("update %d holds %d suggestions, more than %d", i, len(set.Suggestions), limit)
		}
	}
	var got []string
	for _, sg := range sets[len(sets)-1].Suggestions {
		got = append(got, sg.Text)
	}
	if fmt.Sprint(got) != "[p1 p2 p3 p4]" {
		t.Errorf("final %v", got)
	}
	if strings.Contains(logs.String(), "ended early") || strings.Contains(logs.String(), "without [DONE]") {
		t.Errorf("a full set was logged as a failure:\n%s", logs.String())
	}
}

func TestLongAnswerIsCappedAtDefault(t *testing.T) {
	// 1 MiB of short lines in one response.
	srv := newFakeServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		b := []byte("data: {\"choices\":[{\"delta\":{\"content\":\"- x\\n\"}}]}\n\n")
		for written := 0; written < 1<<20; written += len(b) {
			if _, err := w.Write(b); err != nil {
				return // the client stopped reading
			}
		}
		io.WriteString(w, "data: [DONE]\n\n")
	})
	l, logs := configure(t, baseConfig(srv))
	s := start(t, l, logs)
	s.say("u1", "interviewer", "tell me about yourself")
	sets := s.untilFinal()
	if err := s.end(); err != nil {
		t.Fatal(err)
	}
	if len(sets) > 10 {
		t.Errorf("%d updates, want at most 10 (max_suggestions)", len(sets))
	}
	if n := len(sets[len(sets)-1].Suggestions); n != 10 {
		t.Errorf("final holds %d suggestions, want 10 (max_suggestions)", n)
	}
}

func TestEmptyLinesDoNotForceUpdates(t *testing.T) {
	pieces := []string{"- start"}
	for i := 0; i < 1000; i++ {
		pieces = append(pieces, "\n", " ", "-", "\n", "*\n", "\n\n")
	}
	pieces = append(pieces, "- end")
	srv := newFakeServer(t, func(n int, w http.ResponseWriter, r *http.Request) { streamChunks(w, pieces...) })
	cfg := baseConfig(srv)
	cfg["update_interval"] = "1h"
	l, logs := configure(t, cfg)
	s := start(t, l, logs)
	s.say("u1", "interviewer", "tell me about yourself")
	sets := s.untilFinal()
	if err := s.end(); err != nil {
		t.Fatal(err)
	}
	// The first text, the line "- start" completed, the final.
	if len(sets) != 3 {
		t.Fatalf("got %d updates, want 3", len(sets))
	}
	var got []string
	for _, sg := range sets[2].Suggestions {
		got = append(got, sg.Text)
	}
	if fmt.Sprint(got) != "[start end]" {
		t.Errorf("final %v", got)
	}
}

func TestBadBaseURLIsRedacted(t *testing.T) {
	for _, base := range []string{
		"https://h:80a/v1?api-key=SECRET",
		"https://user:SECRET/x@h/v1", // user info cut at the "/": the "port" is the password
		"https://h/v1/%zz?api-key=SECRET",
		"https://h:80a/v1#SECRET",
	} {
		raw, _ := json.Marshal(map[string]any{"base_url": base})
		err := NewWithLogger(hclog.NewNullLogger()).Configure(context.Background(), sdk.NewConfig(raw))
		var se *sdk.StreamError
		if !errors.As(err, &se) || se.Code != sdk.CodeBadConfig {
			t.Fatalf("%s: got %v, want BAD_CONFIG", base, err)
		}
		if strings.Contains(err.Error(), "SECRET") || !strings.Contains(err.Error(), "base_url") {
			t.Errorf("%s: %v", base, err)
		}
	}
}
