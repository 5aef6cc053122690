package coach

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/plugins/sdk"
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/hcl/v2/hclparse"
)

// readCases reads "<label>\t<text>" lines, skipping comments and blank lines.
func readCases(t *testing.T, name string) [][2]string {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][2]string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		label, text, ok := strings.Cut(line, "\t")
		if !ok {
			t.Fatalf("%s: bad line %q", name, line)
		}
		out = append(out, [2]string{label, text})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestDetectQuestion(t *testing.T) {
	cases := readCases(t, "questions.txt")
	var pos, neg int
	for _, c := range cases {
		want := c[0] == "Q"
		if want {
			pos++
		} else {
			neg++
		}
		t.Run(c[1], func(t *testing.T) {
			q, got := DetectQuestion(c[1])
			if got != want {
				t.Errorf("DetectQuestion(%q) = %v (question %q), want %v", c[1], got, q, want)
			}
		})
	}
	if pos < 30 || neg < 15 {
		t.Fatalf("too few cases: %d positive, %d negative", pos, neg)
	}
}

func TestDetectQuestionDropsPreamble(t *testing.T) {
	q, ok := DetectQuestion("thanks that was really helpful so tell me about a time you failed")
	if !ok || q != "tell me about a time you failed" {
		t.Fatalf("got %q, %v", q, ok)
	}
	q, ok = DetectQuestion("What's your greatest weakness?")
	if !ok || q != "what is your greatest weakness" {
		t.Fatalf("punctuated: got %q, %v", q, ok)
	}
}

func defaultIndex(t *testing.T) (*Knowledge, *Index) {
	t.Helper()
	kb, files, diags, err := LoadKnowledge("")
	if err != nil {
		t.Fatal(err)
	}
	if diags.HasErrors() {
		t.Fatalf("default knowledge base: %s", RenderDiagnostics(files, diags))
	}
	return kb, NewIndex(kb)
}

func TestDefaultKnowledge(t *testing.T) {
	kb, _ := defaultIndex(t)
	if len(kb.Topics) < 30 {
		t.Errorf("default knowledge base has %d topics, want at least 30", len(kb.Topics))
	}
	if kb.Fallback == nil {
		t.Error("default knowledge base has no fallback block")
	}
	kinds := map[string]int{}
	for _, tp := range kb.Topics {
		kinds[tp.Kind]++
		if len(tp.Points) == 0 {
			t.Errorf("topic %q has no talking points", tp.Name)
		}
	}
	for _, k := range []string{"behavioural", "technical", "situational", "closing"} {
		if kinds[k] == 0 {
			t.Errorf("no %s topics", k)
		}
	}
}

func TestMatchTopics(t *testing.T) {
	_, ix := defaultIndex(t)
	cases := readCases(t, "matching.txt")
	if len(cases) < 30 {
		t.Fatalf("only %d matching cases", len(cases))
	}
	for _, c := range cases {
		t.Run(c[1], func(t *testing.T) {
			q, ok := DetectQuestion(c[1])
			if !ok {
				t.Fatalf("not detected as a question")
			}
			ms := ix.Match(q)
			if len(ms) == 0 {
				t.Fatalf("no match, want %s", c[0])
			}
			if ms[0].Topic.Name != c[0] {
				t.Fatalf("top topic %s (%.2f), want %s; ranking %s", ms[0].Topic.Name, ms[0].Score, c[0], ranking(ms))
			}
			t.Logf("ranking %s", ranking(ms))
			if ms[0].Score < DefaultMinScore {
				t.Fatalf("score %.2f below the default min_score %.2f", ms[0].Score, DefaultMinScore)
			}
		})
	}
}

func ranking(ms []Match) string {
	var b strings.Builder
	for i, m := range ms {
		if i == 4 {
			break
		}
		fmt.Fprintf(&b, "%s=%.2f ", m.Topic.Name, m.Score)
	}
	return b.String()
}

func TestBadKnowledge(t *testing.T) {
	cases := []struct {
		file string
		want []string // substrings of the rendered diagnostics
	}{
		{"unknown-kind.hcl", []string{"unknown-kind.hcl:2", "Unknown topic kind", "behavioral-ish"}},
		{"syntax.hcl", []string{"syntax.hcl:"}},
		{"no-match.hcl", []string{"no-match.hcl:1", "Topic without match phrases"}},
		{"duplicate.hcl", []string{"duplicate.hcl:6", "Duplicate topic", "duplicate.hcl:1"}},
		{"wrong-type.hcl", []string{"wrong-type.hcl:2", "list of strings"}},
		{"unknown-attr.hcl", []string{"unknown-attr.hcl:4", "followup"}},
		{"stopwords-only.hcl", []string{"stopwords-only.hcl:2", "only common words"}},
		{"empty.hcl", []string{"Empty knowledge base"}},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			path := filepath.Join("testdata", "bad", c.file)
			cfg := sdk.NewConfig([]byte(fmt.Sprintf(`{"knowledge":%q}`, path)))
			err := newTestCoach().Configure(context.Background(), cfg)
			var se *sdk.StreamError
			if !errors.As(err, &se) || se.Code != sdk.CodeBadConfig {
				t.Fatalf("Configure = %v, want a BAD_CONFIG StreamError", err)
			}
			for _, w := range c.want {
				if !strings.Contains(se.Message, w) {
					t.Errorf("diagnostics lack %q:\n%s", w, se.Message)
				}
			}
		})
	}
}

func TestConfigureErrors(t *testing.T) {
	for _, raw := range []string{
		`{"knowledge":"testdata/does-not-exist.hcl"}`,
		`{"min_score":1.5}`,
		`{"max_suggestions":0}`,
		`{"trigger_roles":"interviewer"}`,
	} {
		err := newTestCoach().Configure(context.Background(), sdk.NewConfig([]byte(raw)))
		var se *sdk.StreamError
		if !errors.As(err, &se) || se.Code != sdk.CodeBadConfig {
			t.Errorf("Configure(%s) = %v, want BAD_CONFIG", raw, err)
		}
	}
}

func newTestCoach() *Coach {
	return NewWithLogger(hclog.NewNullLogger())
}

// utterances is an sdk.UtteranceSource over a fixed list.
type utterances struct{ list []sdk.Utterance }

func (u *utterances) Next(ctx context.Context) (sdk.Utterance, error) {
	if err := ctx.Err(); err != nil {
		return sdk.Utterance{}, err
	}
	if len(u.list) == 0 {
		return sdk.Utterance{}, io.EOF
	}
	next := u.list[0]
	u.list = u.list[1:]
	return next, nil
}

// sets is an sdk.SuggestionSink that records what it is sent.
type sets struct{ got []sdk.SuggestionSet }

func (s *sets) Send(ctx context.Context, set sdk.SuggestionSet) error {
	s.got = append(s.got, set)
	return nil
}

func runCoach(t *testing.T, config string, in []sdk.Utterance) []sdk.SuggestionSet {
	t.Helper()
	c := newTestCoach()
	if err := c.Configure(context.Background(), sdk.NewConfig([]byte(config))); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out := &sets{}
	if err := c.Suggest(ctx, sdk.SessionInfo{SessionID: "s1"}, &utterances{list: in}, out); err != nil {
		t.Fatal(err)
	}
	return out.got
}

func TestSupersedesChain(t *testing.T) {
	got := runCoach(t, `{}`, []sdk.Utterance{
		{UtteranceID: "u1", Role: "interviewer", Text: "tell me about yourself"},
		{UtteranceID: "u2", Role: "candidate", Text: "i am a backend engineer what else would you like to know"},
		{UtteranceID: "u3", Role: "interviewer", Text: "great thanks"},
		{UtteranceID: "u4", Role: "interviewer", Text: "what is your greatest weakness"},
		{UtteranceID: "u5", Role: "interviewer", Text: "how would you design a url shortener"},
	})
	if len(got) != 3 {
		t.Fatalf("got %d sets, want 3: %+v", len(got), got)
	}
	wantUtt := []string{"u1", "u4", "u5"}
	ids := map[string]bool{}
	for i, s := range got {
		if s.UtteranceID != wantUtt[i] {
			t.Errorf("set %d answers %s, want %s", i, s.UtteranceID, wantUtt[i])
		}
		if !s.Final {
			t.Errorf("set %d not final", i)
		}
		if s.ID == "" || ids[s.ID] {
			t.Errorf("set %d has empty or repeated id %q", i, s.ID)
		}
		ids[s.ID] = true
		wantSup := ""
		if i > 0 {
			wantSup = got[i-1].ID
		}
		if s.Supersedes != wantSup {
			t.Errorf("set %d supersedes %q, want %q", i, s.Supersedes, wantSup)
		}
		checkSet(t, s)
	}
	if got[0].Question != "tell me about yourself" {
		t.Errorf("question %q", got[0].Question)
	}
}

// checkSet checks the invariants of a suggestion set.
func checkSet(t *testing.T, s sdk.SuggestionSet) {
	t.Helper()
	if len(s.Suggestions) == 0 || len(s.Suggestions) > DefaultMaxSuggestions {
		t.Errorf("set %s has %d suggestions", s.ID, len(s.Suggestions))
	}
	kinds := map[string]bool{}
	seen := map[string]bool{}
	for i, sg := range s.Suggestions {
		kinds[sg.Kind] = true
		if sg.Score < 0 || sg.Score > 1 {
			t.Errorf("suggestion %s score %v out of 0..1", sg.ID, sg.Score)
		}
		if i > 0 && sg.Score > s.Suggestions[i-1].Score {
			t.Errorf("suggestions not ranked: %v after %v", sg.Score, s.Suggestions[i-1].Score)
		}
		if sg.ID == "" || seen[sg.ID] || sg.Text == "" {
			t.Errorf("suggestion %d: id %q text %q", i, sg.ID, sg.Text)
		}
		seen[sg.ID] = true
	}
	if !kinds[KindTalkingPoint] {
		t.Errorf("set %s has no talking point", s.ID)
	}
}

func TestBehaviouralSetHasOutlineAndFollowUp(t *testing.T) {
	got := runCoach(t, `{}`, []sdk.Utterance{
		{UtteranceID: "u1", Role: "interviewer", Text: "tell me about a time you had a conflict with a coworker"},
	})
	if len(got) != 1 {
		t.Fatalf("got %d sets", len(got))
	}
	kinds := map[string]string{}
	for _, s := range got[0].Suggestions {
		kinds[s.Kind] = s.Text
	}
	if !strings.Contains(kinds[KindOutline], "Situation") {
		t.Errorf("outline %q is not STAR", kinds[KindOutline])
	}
	if kinds[KindFollowUp] == "" {
		t.Error("no follow-up question")
	}
}

func TestTriggerRoles(t *testing.T) {
	in := []sdk.Utterance{
		{UtteranceID: "u1", Role: "interviewer", Text: "what is your greatest weakness"},
		{UtteranceID: "u2", Role: "candidate", Text: "what is the biggest challenge the team is facing"},
		{UtteranceID: "u3", Role: "observer", Text: "why should we hire you"},
	}
	if got := runCoach(t, `{}`, in); len(got) != 1 || got[0].UtteranceID != "u1" {
		t.Errorf("default roles: got %+v", got)
	}
	got := runCoach(t, `{"trigger_roles":["candidate","Observer"]}`, in)
	if len(got) != 2 || got[0].UtteranceID != "u2" || got[1].UtteranceID != "u3" {
		t.Errorf("candidate+observer: got %+v", got)
	}
}

func TestFallback(t *testing.T) {
	in := []sdk.Utterance{
		{UtteranceID: "u1", Role: "interviewer", Text: "what do you think about the weather in lisbon"},
	}
	got := runCoach(t, `{}`, in)
	if len(got) != 1 {
		t.Fatalf("fallback on: got %d sets", len(got))
	}
	for _, s := range got[0].Suggestions {
		if s.Score > 0.3 {
			t.Errorf("fallback suggestion scored %v, want ≤ 0.3", s.Score)
		}
	}
	if got := runCoach(t, `{"fallback":false}`, in); len(got) != 0 {
		t.Errorf("fallback off: got %+v", got)
	}
}

func TestSuggestBeforeConfigure(t *testing.T) {
	err := newTestCoach().Suggest(context.Background(), sdk.SessionInfo{}, &utterances{}, &sets{})
	var se *sdk.StreamError
	if !errors.As(err, &se) {
		t.Fatalf("got %v", err)
	}
}

func TestSuggestStopsOnCancel(t *testing.T) {
	c := newTestCoach()
	if err := c.Configure(context.Background(), sdk.NewConfig(nil)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := c.Suggest(ctx, sdk.SessionInfo{}, &utterances{list: []sdk.Utterance{{Text: "x"}}}, &sets{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}

func TestParseKnowledgeKeepsFilesForDiagnostics(t *testing.T) {
	p := hclparse.NewParser()
	_, diags := ParseKnowledge(p, []byte("topic \"x\" {\n  kind = 3\n}\n"), "inline.hcl")
	if !diags.HasErrors() {
		t.Fatal("no error for an invalid topic")
	}
	if text := RenderDiagnostics(p.Files(), diags); !strings.Contains(text, "inline.hcl:") {
		t.Fatalf("rendered diagnostics lack the file name:\n%s", text)
	}
}
