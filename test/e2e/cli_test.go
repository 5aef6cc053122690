package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/signaling/protocol"
)

// runStreamCLI runs `earshot stream` against the daemon and returns its stdout.
func runStreamCLI(t *testing.T, d *Daemon, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	full := append([]string{"stream", "--url", d.WSURL(), "--token", d.Token(t, "cli-iv", interviewer), "--listen-token", d.Token(t, "cli-cand", candidate)}, args...)
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "earshot"), full...)
	cmd.Env = baseEnv()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("earshot stream: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), errb.String())
	}
	if strings.Contains(out.String()+errb.String(), "cli-iv") && strings.Contains(errb.String(), "eyJ") {
		t.Errorf("a token appears in the output")
	}
	return out.String()
}

// TestCLIStream runs `earshot stream` as a user would, against the daemon on the
// embedded default: --fast --json (as fast as the daemon's limits allow) prints every event as a JSON line (the finals'
// text, the candidate's suggestions); the default output prints finals on their own
// lines and the suggestions as lists.
func TestCLIStream(t *testing.T) {
	d := StartDaemon(t, DaemonOptions{})
	clip := questions(t)

	t.Run("json", func(t *testing.T) {
		out := runStreamCLI(t, d, "--fast", "--json", "--session", "cli-json", clip.WAV)
		var finals []string
		seen := map[string]bool{}
		var sets []protocol.Suggestions
		sc := bufio.NewScanner(strings.NewReader(out))
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var env envelope
			if err := json.Unmarshal(sc.Bytes(), &env); err != nil {
				t.Fatalf("--json printed a line that is not an event: %q", sc.Text())
			}
			switch env.Event {
			case protocol.EventTranscriptionResult:
				var r protocol.TranscriptionResult
				if err := json.Unmarshal(env.Data, &r); err != nil {
					t.Fatal(err)
				}
				// Both connections print the transcript in JSON mode: keep one copy.
				if r.IsFinal && r.Role == interviewer && !seen[r.UtteranceID] {
					seen[r.UtteranceID] = true
					finals = append(finals, r.Text)
				}
			case protocol.EventSuggestions:
				var s protocol.Suggestions
				if err := json.Unmarshal(env.Data, &s); err != nil {
					t.Fatal(err)
				}
				sets = append(sets, s)
			}
		}
		checkTranscript(t, clip.Text(), strings.Join(finals, " "), maxWERSpeech, "describe", "conflict", "want")
		conflict := false
		for _, s := range sets {
			if strings.Contains(s.Question, "conflict") && len(s.Suggestions) > 0 && anySuggestionMentions(s, "conflict", "disagree") {
				conflict = true
			}
		}
		if !conflict {
			t.Errorf("no suggestions for the conflict question among %d sets:\n%s", len(sets), out)
		}
	})

	// At real-time pace, as from a live source.
	t.Run("text", func(t *testing.T) {
		out := runStreamCLI(t, d, "--session", "cli-text", clip.WAV)
		t.Logf("earshot stream output:\n%s", out)
		var finals []string
		for _, line := range strings.Split(out, "\n") {
			// [user  t.ttts] text
			if strings.HasPrefix(line, "[cli-iv ") {
				if i := strings.Index(line, "] "); i > 0 {
					finals = append(finals, line[i+2:])
				}
			}
		}
		checkTranscript(t, clip.Text(), strings.Join(finals, " "), maxWERSpeech, "describe", "conflict", "want")
		if !strings.Contains(out, "suggestions (coach) for \"can you describe") {
			t.Errorf("no suggestion list for the conflict question")
		}
	})
}
