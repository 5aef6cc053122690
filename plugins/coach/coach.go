// Package coach is earshot's offline suggester: it spots questions in the
// interviewer's final transcripts and answers each with talking points, an answer
// outline and a question to ask back, drawn from an HCL knowledge base that users
// can edit (the default, embedded, covers common behavioural, technical,
// situational and closing interview questions).
//
// Sets are final as sent (nothing is generated incrementally), and each new
// question's set supersedes the previous one. A question no topic matches gets
// the knowledge base's fallback set (general answering advice) when it has one
// and the `fallback` attribute is true; otherwise it gets nothing.
package coach

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"

	"github.com/earshot-dev/earshot/plugins/sdk"
	"github.com/hashicorp/go-hclog"
)

// Version is the plugin's version.
const Version = "0.1.0"

// Defaults of the configuration attributes.
const (
	DefaultMinScore       = 0.5
	DefaultMaxSuggestions = 8
	// minQuestionWords keeps one- and two-word prompts ("why", "how so") from
	// producing a set: they refer back to the previous answer, which the
	// previous set still covers.
	minQuestionWords = 3
)

// Settings is the decoded stage block.
type Settings struct {
	// Knowledge is the path of an HCL knowledge base; empty uses the embedded one.
	Knowledge string `json:"knowledge"`
	// TriggerRoles lists the speaker roles whose questions get suggestions.
	TriggerRoles []string `json:"trigger_roles"`
	// MinScore is the lowest topic score (0..1) that counts as a match.
	MinScore float64 `json:"min_score"`
	// MaxSuggestions caps the suggestions in one set.
	MaxSuggestions int `json:"max_suggestions"`
	// Fallback sends the knowledge base's fallback set for unmatched questions.
	Fallback bool `json:"fallback"`
}

// Coach is the coach suggester. Configure must be called before Suggest.
type Coach struct {
	log hclog.Logger

	mu       sync.RWMutex
	settings Settings
	roles    map[string]bool
	kb       *Knowledge
	index    *Index
}

var _ sdk.Suggester = (*Coach)(nil)

// New returns a coach that logs through the SDK's logger, whose lines reach the
// earshot daemon's log.
func New() *Coach { return NewWithLogger(sdk.Logger()) }

// NewWithLogger returns a coach that logs to log.
func NewWithLogger(log hclog.Logger) *Coach { return &Coach{log: log} }

// Info describes the plugin.
func (c *Coach) Info() sdk.Info {
	return sdk.Info{
		Name:        "coach",
		Kind:        sdk.KindSuggester,
		Version:     Version,
		Description: "Offline interview coach: answers detected questions from an HCL knowledge base.",
	}
}

// ConfigSchema describes the stage block.
func (c *Coach) ConfigSchema() sdk.Schema {
	return sdk.Schema{Attributes: []sdk.Attribute{
		{Name: "knowledge", Type: sdk.TypeString, Default: "",
			Description: "Path of an HCL knowledge base; empty uses the embedded interview knowledge base."},
		{Name: "trigger_roles", Type: sdk.TypeListString, Default: []string{"interviewer"},
			Description: "Speaker roles whose questions get suggestions."},
		{Name: "min_score", Type: sdk.TypeNumber, Default: DefaultMinScore,
			Description: "Lowest topic match score (0..1) that counts as a match."},
		{Name: "max_suggestions", Type: sdk.TypeNumber, Default: DefaultMaxSuggestions,
			Description: "Most suggestions in one set."},
		{Name: "fallback", Type: sdk.TypeBool, Default: true,
			Description: "Send the knowledge base's fallback advice for questions no topic matches."},
	}}
}

// Configure loads the knowledge base. Mistakes in it come back as a BAD_CONFIG
// error whose message is the rendered HCL diagnostics (file:line and a snippet).
func (c *Coach) Configure(ctx context.Context, cfg sdk.Config) error {
	s := Settings{
		TriggerRoles:   []string{"interviewer"},
		MinScore:       DefaultMinScore,
		MaxSuggestions: DefaultMaxSuggestions,
		Fallback:       true,
	}
	if err := cfg.Decode(&s); err != nil {
		return sdk.Errorf(sdk.CodeBadConfig, "%v", err)
	}
	if s.MinScore < 0 || s.MinScore > 1 {
		return sdk.Errorf(sdk.CodeBadConfig, "min_score must be between 0 and 1, got %g", s.MinScore)
	}
	if s.MaxSuggestions < 1 {
		return sdk.Errorf(sdk.CodeBadConfig, "max_suggestions must be at least 1, got %d", s.MaxSuggestions)
	}
	kb, files, diags, err := LoadKnowledge(s.Knowledge)
	if err != nil {
		return sdk.Errorf(sdk.CodeBadConfig, "knowledge = %q: %v", s.Knowledge, errors.Unwrap(err))
	}
	if diags.HasErrors() {
		return sdk.Errorf(sdk.CodeBadConfig, "knowledge base has errors:\n%s", RenderDiagnostics(files, diags))
	}
	roles := map[string]bool{}
	for _, r := range s.TriggerRoles {
		roles[strings.ToLower(r)] = true
	}
	c.mu.Lock()
	c.settings, c.roles, c.kb, c.index = s, roles, kb, NewIndex(kb)
	c.mu.Unlock()
	source := s.Knowledge
	if source == "" {
		source = "embedded:" + DefaultKnowledgeFile
	}
	c.log.Info("knowledge base loaded", "source", source, "topics", len(kb.Topics),
		"fallback", kb.Fallback != nil)
	return nil
}

// Suggest answers the session's questions until the source ends.
func (c *Coach) Suggest(ctx context.Context, session sdk.SessionInfo, in sdk.UtteranceSource, out sdk.SuggestionSink) error {
	c.mu.RLock()
	s, roles, kb, index := c.settings, c.roles, c.kb, c.index
	c.mu.RUnlock()
	if index == nil {
		return sdk.Errorf(sdk.CodeBadConfig, "coach: Suggest called before Configure")
	}
	log := c.log.With("session", session.SessionID)
	prefix, err := randomPrefix()
	if err != nil {
		return err
	}
	var previous string
	for n := 1; ; {
		u, err := in.Next(ctx)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if !roles[strings.ToLower(u.Role)] {
			continue
		}
		question, ok := DetectQuestion(u.Text)
		if !ok || len(strings.Fields(question)) < minQuestionWords {
			continue
		}
		set, ok := c.build(index, kb, s, question)
		if !ok {
			log.Debug("question without a match", "utterance", u.UtteranceID)
			continue
		}
		set.ID = fmt.Sprintf("coach-%s-%d", prefix, n)
		n++
		set.UtteranceID = u.UtteranceID
		set.Supersedes = previous
		set.Final = true
		for i := range set.Suggestions {
			set.Suggestions[i].ID = fmt.Sprintf("%s.%d", set.ID, i+1)
		}
		if err := out.Send(ctx, set); err != nil {
			return err
		}
		previous = set.ID
	}
}

// Suggestions kinds the coach emits.
const (
	KindTalkingPoint = "talking_point"
	KindOutline      = "outline"
	KindFollowUp     = "follow_up"
)

// build makes the suggestion set for a question; ok is false when there is
// nothing to send.
func (c *Coach) build(index *Index, kb *Knowledge, s Settings, question string) (sdk.SuggestionSet, bool) {
	set := sdk.SuggestionSet{Question: question}
	matches := index.Match(question)
	if len(matches) == 0 || matches[0].Score < s.MinScore {
		if !s.Fallback || kb.Fallback == nil {
			return set, false
		}
		// Fallback advice ranks below any real match.
		set.Suggestions = suggestionsFor(kb.Fallback, 0.3, "")
	} else {
		top := matches[0]
		set.Suggestions = suggestionsFor(top.Topic, top.Score, "")
		// A question that spans two topics ("a conflict with your manager about a
		// deadline") also gets the runner-up's best points.
		if len(matches) > 1 {
			second := matches[1]
			if second.Score >= s.MinScore && second.Score >= 0.85*top.Score {
				extra := suggestionsFor(second.Topic, second.Score*0.9, second.Topic.Title)
				added := 0
				for _, e := range extra {
					if e.Kind == KindTalkingPoint && added < 2 {
						set.Suggestions = append(set.Suggestions, e)
						added++
					}
				}
			}
		}
	}
	sort.SliceStable(set.Suggestions, func(i, j int) bool {
		return set.Suggestions[i].Score > set.Suggestions[j].Score
	})
	if len(set.Suggestions) > s.MaxSuggestions {
		set.Suggestions = set.Suggestions[:s.MaxSuggestions]
	}
	return set, len(set.Suggestions) > 0
}

// suggestionsFor lists a topic's suggestions scored from the topic's match score:
// talking points first (in the order the knowledge base gives them), then the
// outline, then follow-up questions.
func suggestionsFor(t *Topic, score float64, label string) []sdk.Suggestion {
	var out []sdk.Suggestion
	prefix := ""
	if label != "" {
		prefix = label + ": "
	}
	for i, p := range t.Points {
		out = append(out, sdk.Suggestion{Kind: KindTalkingPoint, Text: prefix + p,
			Score: round(score * (1 - 0.03*float64(i)))})
	}
	if len(t.Outline) > 0 {
		out = append(out, sdk.Suggestion{Kind: KindOutline, Text: strings.Join(t.Outline, "\n"),
			Score: round(score * 0.9)})
	}
	for i, f := range t.FollowUp {
		out = append(out, sdk.Suggestion{Kind: KindFollowUp, Text: f,
			Score: round(score * 0.6 * (1 - 0.05*float64(i)))})
	}
	return out
}

func round(f float64) float64 {
	if f < 0 {
		return 0
	}
	return float64(int(f*1000+0.5)) / 1000
}

func randomPrefix() (string, error) {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("coach: random set id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}
