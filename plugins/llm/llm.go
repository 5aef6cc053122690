// Package llm is earshot's LLM suggester: when the interviewer asks something, it
// sends the recent conversation (with speaker roles) to any OpenAI-compatible
// chat-completions endpoint — OpenAI, Ollama, vLLM, llama.cpp's server — and
// streams the answer back as a growing suggestion set.
//
// Each question gets one set, sent again (same ID, Final=false) as tokens arrive,
// at most every update_interval or whenever a suggestion (line) completes, then
// once more with Final=true. A set holds at most max_suggestions suggestions:
// once that many lines are complete the answer is not read further. A new
// question cancels the generation in progress and its set supersedes the
// previous one. Failed requests are retried (connection errors,
// 429, 5xx) a bounded number of times before any text arrived; a question whose
// generation fails gets no set (the failure is logged) and the stream keeps
// serving the next questions.
package llm

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"text/template"
	"time"

	"github.com/earshot-dev/earshot/plugins/coach"
	"github.com/earshot-dev/earshot/plugins/sdk"
	"github.com/hashicorp/go-hclog"
)

// Version is the plugin's version.
const Version = "0.1.0"

// DefaultSystemPrompt is the system message sent with every request.
const DefaultSystemPrompt = `You are a discreet real-time interview copilot helping a job candidate during a live interview.
The interviewer has just asked a question. Give the candidate talking points to glance at while they answer:
- 3 to 5 lines, each starting with "- ", each under 20 words, concrete and specific;
- for behavioural questions follow Situation, Task, Action, Result;
- for technical questions name the key concepts, trade-offs and a sensible structure;
then one line starting with "? " holding a short question the candidate could ask back.
Write nothing else: no preamble, no closing remarks, no markdown headings.
The conversation comes from speech recognition without punctuation and may contain recognition errors: infer what was meant.`

// DefaultPrompt is the default user-message template. It sees PromptData.
const DefaultPrompt = `Conversation so far (oldest first):
{{range .Turns}}{{.Role}}: {{.Text}}
{{end}}
The {{.Question.Role}} just asked: "{{.Question.Text}}"
Talking points for the candidate:`

// Turn is one final transcript in the prompt's conversation.
type Turn struct {
	Role    string // interviewer, candidate, observer, …
	Speaker string // speaker id
	Text    string
}

// PromptData is what the prompt template sees.
type PromptData struct {
	SessionID string
	// Turns are the most recent finals (at most `history`), oldest first,
	// including the question.
	Turns []Turn
	// Question is the final that triggered this generation.
	Question Turn
}

// Settings is the decoded stage block.
type Settings struct {
	BaseURL          string       `json:"base_url"`
	Model            string       `json:"model"`
	APIKeyEnv        string       `json:"api_key_env"`
	SystemPrompt     string       `json:"system_prompt"`
	Prompt           string       `json:"prompt"`
	History          int          `json:"history"`
	Timeout          sdk.Duration `json:"timeout"`
	MaxRetries       int          `json:"max_retries"`
	Temperature      float64      `json:"temperature"`
	MaxTokens        int          `json:"max_tokens"`
	TriggerRoles     []string     `json:"trigger_roles"`
	DetectQuestions  bool         `json:"detect_questions"`
	UpdateInterval   sdk.Duration `json:"update_interval"`
	MaxResponseBytes int64        `json:"max_response_bytes"`
	MaxSuggestions   int          `json:"max_suggestions"`
}

func defaultSettings() Settings {
	return Settings{
		BaseURL:          "http://127.0.0.1:11434/v1",
		Model:            "llama3.2",
		SystemPrompt:     DefaultSystemPrompt,
		Prompt:           DefaultPrompt,
		History:          12,
		Timeout:          sdk.Duration(30 * time.Second),
		MaxRetries:       2,
		Temperature:      0.3,
		MaxTokens:        300,
		TriggerRoles:     []string{"interviewer"},
		DetectQuestions:  true,
		UpdateInterval:   sdk.Duration(100 * time.Millisecond),
		MaxResponseBytes: 1 << 20,
		MaxSuggestions:   10,
	}
}

// LLM is the llm suggester. Configure must be called before Suggest.
type LLM struct {
	log hclog.Logger

	mu       sync.RWMutex
	settings Settings
	roles    map[string]bool
	prompt   *template.Template
	client   *client
}

var _ sdk.Suggester = (*LLM)(nil)

// New returns an llm suggester that logs through the SDK's logger.
func New() *LLM { return NewWithLogger(sdk.Logger()) }

// NewWithLogger returns an llm suggester that logs to log.
func NewWithLogger(log hclog.Logger) *LLM { return &LLM{log: log} }

// Info describes the plugin.
func (l *LLM) Info() sdk.Info {
	return sdk.Info{
		Name:        "llm",
		Kind:        sdk.KindSuggester,
		Version:     Version,
		Description: "Streams suggestions from an OpenAI-compatible chat-completions endpoint (OpenAI, Ollama, vLLM, llama.cpp).",
	}
}

// ConfigSchema describes the stage block.
func (l *LLM) ConfigSchema() sdk.Schema {
	d := defaultSettings()
	return sdk.Schema{Attributes: []sdk.Attribute{
		{Name: "base_url", Type: sdk.TypeString, Default: d.BaseURL,
			Description: "Base URL of the OpenAI-compatible API, up to /v1 (\"/chat/completions\" is appended)."},
		{Name: "model", Type: sdk.TypeString, Default: d.Model, Description: "Model name sent with each request."},
		{Name: "api_key_env", Type: sdk.TypeString, Default: "",
			Description: "Name of the environment variable holding the API key (sent as a Bearer token); empty sends none."},
		{Name: "system_prompt", Type: sdk.TypeString, Default: d.SystemPrompt,
			Description: "System message sent with every request."},
		{Name: "prompt", Type: sdk.TypeString, Default: d.Prompt,
			Description: "Go text/template of the user message; sees .Turns (Role, Speaker, Text), .Question and .SessionID."},
		{Name: "history", Type: sdk.TypeNumber, Default: d.History,
			Description: "Number of recent final transcripts (all speakers) the prompt sees."},
		{Name: "timeout", Type: sdk.TypeDuration, Default: "30s",
			Description: "Time-out of one request, from sending it to the end of the streamed answer."},
		{Name: "max_retries", Type: sdk.TypeNumber, Default: d.MaxRetries,
			Description: "Retries of a request that failed before any text arrived (connection errors, HTTP 429 and 5xx)."},
		{Name: "temperature", Type: sdk.TypeNumber, Default: d.Temperature, Description: "Sampling temperature."},
		{Name: "max_tokens", Type: sdk.TypeNumber, Default: d.MaxTokens,
			Description: "Most tokens generated per answer (0 leaves it to the server)."},
		{Name: "trigger_roles", Type: sdk.TypeListString, Default: []string{"interviewer"},
			Description: "Speaker roles whose finals trigger a generation."},
		{Name: "detect_questions", Type: sdk.TypeBool, Default: true,
			Description: "Generate only for finals that look like questions (otherwise for every final of a trigger role)."},
		{Name: "update_interval", Type: sdk.TypeDuration, Default: "100ms",
			Description: "Shortest time between two updates of a growing suggestion set."},
		{Name: "max_response_bytes", Type: sdk.TypeSize, Default: d.MaxResponseBytes,
			Description: "Largest response body read from the server."},
		{Name: "max_suggestions", Type: sdk.TypeNumber, Default: d.MaxSuggestions,
			Description: "Most suggestions (lines) in one set; the answer is not read further once that many lines are complete."},
	}}
}

// Configure checks the block and prepares the client. It does not contact the
// server: a server that is down at start-up is a runtime failure, logged per
// question, not a configuration error.
func (l *LLM) Configure(ctx context.Context, cfg sdk.Config) error {
	s := defaultSettings()
	if err := cfg.Decode(&s); err != nil {
		return sdk.Errorf(sdk.CodeBadConfig, "%v", err)
	}
	endpoint, err := chatURL(s.BaseURL)
	if err != nil {
		return sdk.Errorf(sdk.CodeBadConfig, "base_url: %v", err)
	}
	if strings.TrimSpace(s.Model) == "" {
		return sdk.Errorf(sdk.CodeBadConfig, "model must not be empty")
	}
	var key string
	if s.APIKeyEnv != "" {
		key = os.Getenv(s.APIKeyEnv)
		if key == "" {
			return sdk.Errorf(sdk.CodeBadConfig, "api_key_env: environment variable %s is not set or empty", s.APIKeyEnv)
		}
	}
	tmpl, err := template.New("prompt").Option("missingkey=error").Parse(s.Prompt)
	if err != nil {
		return sdk.Errorf(sdk.CodeBadConfig, "prompt: %v", err)
	}
	// Render once with sample data so a template that fails at run time (an
	// unknown field) is a configuration error, not a silent per-question failure.
	sample := PromptData{SessionID: "s", Turns: []Turn{{Role: "interviewer", Speaker: "u", Text: "why this company"}},
		Question: Turn{Role: "interviewer", Speaker: "u", Text: "why this company"}}
	if err := tmpl.Execute(io.Discard, sample); err != nil {
		return sdk.Errorf(sdk.CodeBadConfig, "prompt: %v", err)
	}
	switch {
	case s.History < 1:
		return sdk.Errorf(sdk.CodeBadConfig, "history must be at least 1, got %d", s.History)
	case s.Timeout <= 0:
		return sdk.Errorf(sdk.CodeBadConfig, "timeout must be positive")
	case s.MaxRetries < 0 || s.MaxRetries > 10:
		return sdk.Errorf(sdk.CodeBadConfig, "max_retries must be between 0 and 10, got %d", s.MaxRetries)
	case s.Temperature < 0 || s.Temperature > 2:
		return sdk.Errorf(sdk.CodeBadConfig, "temperature must be between 0 and 2, got %g", s.Temperature)
	case s.MaxTokens < 0:
		return sdk.Errorf(sdk.CodeBadConfig, "max_tokens must not be negative")
	case s.UpdateInterval < 0:
		return sdk.Errorf(sdk.CodeBadConfig, "update_interval must not be negative")
	case s.MaxResponseBytes < 1024:
		return sdk.Errorf(sdk.CodeBadConfig, "max_response_bytes must be at least 1KiB")
	case s.MaxSuggestions < 1 || s.MaxSuggestions > 100:
		return sdk.Errorf(sdk.CodeBadConfig, "max_suggestions must be between 1 and 100, got %d", s.MaxSuggestions)
	}
	roles := map[string]bool{}
	for _, r := range s.TriggerRoles {
		roles[strings.ToLower(r)] = true
	}
	c := &client{
		// No client-wide time-out: each attempt has its own context deadline,
		// and the transport's dial/header time-outs bound a dead server.
		http: &http.Client{Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			ResponseHeaderTimeout: time.Duration(s.Timeout),
			MaxIdleConnsPerHost:   4,
			IdleConnTimeout:       90 * time.Second,
		}},
		url:         endpoint,
		apiKey:      key,
		timeout:     time.Duration(s.Timeout),
		maxRetries:  s.MaxRetries,
		maxBytes:    s.MaxResponseBytes,
		backoffBase: 250 * time.Millisecond,
	}
	l.mu.Lock()
	if l.client != nil {
		l.client.http.CloseIdleConnections()
	}
	l.settings, l.roles, l.prompt, l.client = s, roles, tmpl, c
	l.mu.Unlock()
	// Never the key, nor the full URL (its query may hold credentials).
	l.log.Info("configured", "endpoint", redactURL(endpoint), "model", s.Model, "api_key", s.APIKeyEnv != "")
	return nil
}

// Close releases the HTTP client's idle connections. It is safe to call more
// than once; the plugin stays usable (connections are made again on demand).
func (l *LLM) Close() error {
	l.mu.RLock()
	c := l.client
	l.mu.RUnlock()
	if c != nil {
		c.http.CloseIdleConnections()
	}
	return nil
}

// chatURL turns base_url into the chat-completions URL.
func chatURL(base string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(base))
	if err != nil {
		// A *url.Error quotes the whole URL, and its reason may quote a piece
		// of it (a "port" cut from user info): either may hold a credential.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return "", fmt.Errorf("not a valid URL: %s", quoted.ReplaceAllString(err.Error(), `"…"`))
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return "", fmt.Errorf("%q is not an http(s) URL", redactURL(base))
	}
	if !strings.HasSuffix(u.Path, "/chat/completions") {
		u.Path = strings.TrimRight(u.Path, "/") + "/chat/completions"
	}
	return u.String(), nil
}

// quoted matches the %q-quoted parts of a url.Parse error.
var quoted = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)

// redactURL drops the query string and user info of a URL for logging.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	u.RawQuery, u.User, u.Fragment = "", nil, ""
	return u.String()
}

// Suggest serves one session until its source ends. On the end of the source it
// lets a generation in progress finish (bounded by timeout); on cancellation it
// stops it.
func (l *LLM) Suggest(ctx context.Context, session sdk.SessionInfo, in sdk.UtteranceSource, out sdk.SuggestionSink) error {
	l.mu.RLock()
	s, roles, tmpl, c := l.settings, l.roles, l.prompt, l.client
	l.mu.RUnlock()
	if c == nil {
		return sdk.Errorf(sdk.CodeBadConfig, "llm: Suggest called before Configure")
	}
	prefix, err := randomPrefix()
	if err != nil {
		return err
	}
	sess := &sessionState{
		llm: l, log: l.log.With("session", session.SessionID), settings: s, tmpl: tmpl, client: c,
		out: out, sessionID: session.SessionID, prefix: prefix,
	}
	defer sess.stop(true)
	for {
		u, err := in.Next(ctx)
		if errors.Is(err, io.EOF) {
			sess.wait()
			return nil
		}
		if err != nil {
			return err
		}
		if strings.TrimSpace(u.Text) == "" {
			continue
		}
		sess.remember(Turn{Role: u.Role, Speaker: u.SpeakerID, Text: u.Text})
		if !roles[strings.ToLower(u.Role)] {
			continue
		}
		question := u.Text
		if s.DetectQuestions {
			q, ok := coach.DetectQuestion(u.Text)
			if !ok {
				continue
			}
			question = q
		}
		sess.start(ctx, u, question)
	}
}

// sessionState is one Suggest call's conversation and its generation in
// progress. Only the Suggest goroutine calls its methods; the generation
// goroutine touches only what start hands it.
type sessionState struct {
	llm       *LLM
	log       hclog.Logger
	settings  Settings
	tmpl      *template.Template
	client    *client
	out       sdk.SuggestionSink
	sessionID string
	prefix    string

	turns    []Turn
	n        int
	lastSent string // ID of the last set that reached the sink

	cancel context.CancelFunc
	done   chan generationResult
}

type generationResult struct{ sent bool }

func (s *sessionState) remember(t Turn) {
	s.turns = append(s.turns, t)
	if over := len(s.turns) - s.settings.History; over > 0 {
		s.turns = append(s.turns[:0], s.turns[over:]...)
	}
}

// stop cancels the generation in progress (if cancel) and waits for it.
func (s *sessionState) stop(cancel bool) {
	if s.done == nil {
		return
	}
	if cancel {
		s.cancel()
	}
	r := <-s.done
	s.cancel()
	s.done, s.cancel = nil, nil
	if r.sent {
		s.lastSent = s.prefixedID(s.n)
	}
}

func (s *sessionState) wait() { s.stop(false) }

func (s *sessionState) prefixedID(n int) string { return fmt.Sprintf("llm-%s-%d", s.prefix, n) }

// start cancels a stale generation and starts one for u.
func (s *sessionState) start(ctx context.Context, u sdk.Utterance, question string) {
	s.stop(true)
	var prompt bytes.Buffer
	data := PromptData{SessionID: s.sessionID, Turns: append([]Turn(nil), s.turns...),
		Question: Turn{Role: u.Role, Speaker: u.SpeakerID, Text: u.Text}}
	if err := s.tmpl.Execute(&prompt, data); err != nil {
		s.log.Error("prompt template failed", "error", err)
		return
	}
	s.n++
	g := &generation{
		log:      s.log.With("set", s.prefixedID(s.n), "utterance", u.UtteranceID),
		client:   s.client,
		out:      s.out,
		interval: time.Duration(s.settings.UpdateInterval),
		limit:    s.settings.MaxSuggestions,
		set: sdk.SuggestionSet{
			ID: s.prefixedID(s.n), UtteranceID: u.UtteranceID, Question: question, Supersedes: s.lastSent,
		},
		req: chatRequest{
			Model: s.settings.Model, Stream: true, Temperature: s.settings.Temperature,
			MaxTokens: s.settings.MaxTokens,
			Messages: []message{
				{Role: "system", Content: s.settings.SystemPrompt},
				{Role: "user", Content: prompt.String()},
			},
		},
	}
	gctx, cancel := context.WithCancel(ctx)
	done := make(chan generationResult, 1)
	s.cancel, s.done = cancel, done
	go func() { done <- g.run(gctx) }()
}

// generation streams one answer into one suggestion set.
type generation struct {
	log      hclog.Logger
	client   *client
	out      sdk.SuggestionSink
	interval time.Duration
	limit    int // max_suggestions
	set      sdk.SuggestionSet
	req      chatRequest

	complete []sdk.Suggestion // from the lines completed so far, at most limit
	line     strings.Builder  // the line still growing
	lastSend time.Time
	lastN    int // len(complete) at the last send
	sent     bool
}

// errSetFull stops reading an answer once the set holds limit suggestions.
var errSetFull = errors.New("suggestion set full")

func (g *generation) run(ctx context.Context) generationResult {
	started := time.Now()
	onRetry := func(attempt int, err error, wait time.Duration) {
		g.log.Warn("chat completion failed, retrying", "attempt", attempt, "error", err, "backoff", wait)
	}
	onDelta := func(piece string) error { return g.delta(ctx, piece) }
	res, err := g.client.complete(ctx, g.req, onDelta, onRetry)
	if errors.Is(err, errSetFull) {
		g.log.Debug("suggestion set full; the rest of the answer is not read", "suggestions", g.limit)
		err, res.stream.done = nil, true
	}
	if ctx.Err() != nil {
		// Superseded by a newer question or the stream ended: the new set
		// supersedes whatever of this one was sent.
		g.log.Debug("generation cancelled")
		return generationResult{sent: g.sent}
	}
	switch {
	case err != nil && !res.gotContent:
		g.log.Error("chat completion failed; no suggestions for this question", "error", err)
		return generationResult{sent: g.sent}
	case err != nil:
		g.log.Warn("chat completion ended early; keeping the text received", "error", err)
	case !res.stream.done:
		g.log.Warn("chat completion stream ended without [DONE]; keeping the text received")
	}
	if res.stream.malformed > 0 {
		g.log.Warn("skipped malformed stream lines", "count", res.stream.malformed)
	}
	suggestions := g.suggestions(true)
	if len(suggestions) == 0 {
		g.log.Warn("chat completion returned no text")
		return generationResult{sent: g.sent}
	}
	g.set.Final = true
	g.set.Suggestions = suggestions
	g.number()
	if err := g.out.Send(ctx, g.set); err != nil {
		g.log.Warn("cannot send suggestions", "error", err)
		return generationResult{sent: g.sent}
	}
	g.log.Debug("suggestions sent", "suggestions", len(suggestions), "elapsed", time.Since(started))
	return generationResult{sent: true}
}

// delta grows the text and sends an update when a suggestion completed or the
// update interval passed. Lines are split as they complete, so each piece of
// text is looked at once however long the answer; blank lines and bare list
// markers complete no suggestion and so cannot force an update.
func (g *generation) delta(ctx context.Context, piece string) error {
	for {
		i := strings.IndexByte(piece, '\n')
		if i < 0 {
			g.line.WriteString(piece)
			break
		}
		g.line.WriteString(piece[:i])
		g.complete = append(g.complete, split(g.line.String(), true)...)
		g.line.Reset()
		piece = piece[i+1:]
		if len(g.complete) >= g.limit {
			// The final set is sent by run.
			g.complete = g.complete[:g.limit]
			return errSetFull
		}
	}
	now := time.Now()
	if len(g.complete) == g.lastN && now.Sub(g.lastSend) < g.interval {
		return nil
	}
	suggestions := g.suggestions(false)
	if len(suggestions) == 0 {
		return nil
	}
	g.set.Suggestions = suggestions
	g.number()
	if err := g.out.Send(ctx, g.set); err != nil {
		return fmt.Errorf("send suggestions: %w", err)
	}
	g.sent, g.lastSend, g.lastN = true, now, len(g.complete)
	return nil
}

// suggestions returns the set's suggestions so far: the completed lines, then
// the growing one (unless final, only once it has a few characters), at most
// limit.
func (g *generation) suggestions(final bool) []sdk.Suggestion {
	out := append([]sdk.Suggestion(nil), g.complete...)
	out = append(out, split(g.line.String(), final)...)
	return out[:min(len(out), g.limit)]
}

// number gives the suggestions IDs that stay stable as the set grows (lines
// only ever append) and scores by position: the model lists the most useful
// point first.
func (g *generation) number() {
	for i := range g.set.Suggestions {
		g.set.Suggestions[i].ID = fmt.Sprintf("%s.%d", g.set.ID, i+1)
		g.set.Suggestions[i].Score = max(0.1, 1-0.1*float64(i))
	}
}

func randomPrefix() (string, error) {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("llm: random set id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}
