package main

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
)

// TestLoadTool builds the tool and runs both measurements at a small scale, so the
// tool that produces the documented figures keeps working.
func TestLoadTool(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the load tool")
	}
	bin := filepath.Join(t.TempDir(), "earshot-bench")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	for _, tc := range []struct {
		args []string
		want *regexp.Regexp
	}{
		{[]string{"memory", "-n", "200", "-settle", "100ms"}, regexp.MustCompile(`(?s)connections: 200 authenticated \(server sees 200\).*Go heap\+stacks:\s+[0-9.]+ KiB/conn.*process RSS:\s+-?[0-9.]+ KiB/conn`)},
		{[]string{"memory", "-n", "100", "-sessions", "10", "-settle", "100ms"}, regexp.MustCompile(`server sees 100`)},
		{[]string{"join", "-n", "100", "-sessions", "10", "-rounds", "50"}, regexp.MustCompile(`join → joined with 100 clients connected in 10 sessions, 50 rounds:\n\s+p50 \S+\s+p90 \S+\s+p99 \S+\s+max \S+`)},
	} {
		out, err := exec.Command(bin, tc.args...).CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v\n%s", tc.args, err, out)
		}
		if !tc.want.Match(out) {
			t.Fatalf("%v printed:\n%s", tc.args, out)
		}
	}
}

// TestFlagValidation: bad flags are refused before anything starts (-rounds 0 used to
// panic on an empty latency slice).
func TestFlagValidation(t *testing.T) {
	for _, tc := range []struct {
		run  func([]string) error
		args []string
	}{
		{runJoin, []string{"-rounds", "0"}},
		{runJoin, []string{"-rounds", "-3"}},
		{runJoin, []string{"-n", "-1"}},
		{runJoin, []string{"-sessions", "-1"}},
		{runJoin, []string{"stray"}},
		{runMemory, []string{"-n", "0"}},
		{runMemory, []string{"-settle", "-1s"}},
		{runMemory, []string{"-sessions", "-2"}},
		{runDial, []string{"-n", "1"}},
		{runDial, []string{"-url", "ws://127.0.0.1:1/interview", "-c", "0"}},
	} {
		if err := tc.run(tc.args); err == nil {
			t.Errorf("%v: accepted", tc.args)
		} else {
			t.Logf("%v: %v", tc.args, err)
		}
	}
}
