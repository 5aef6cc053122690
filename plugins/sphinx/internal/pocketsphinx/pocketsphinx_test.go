package pocketsphinx

import (
	"encoding/binary"
	"os"
	"strings"
	"testing"
)

const modelDir = "/usr/share/pocketsphinx/model/en-us"

func defaultArgs() []string {
	return []string{
		"-hmm", modelDir + "/en-us",
		"-lm", modelDir + "/en-us.lm.bin",
		"-dict", modelDir + "/cmudict-en-us.dict",
	}
}

func readRaw(t *testing.T, path string) []int16 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("pocketsphinx-testdata not installed: %v", err)
	}
	s := make([]int16, len(b)/2)
	for i := range s {
		s[i] = int16(binary.LittleEndian.Uint16(b[2*i:]))
	}
	return s
}

// TestBatchGoForward decodes the classic "go forward ten meters" recording in
// one utterance and checks the words and their frames.
func TestBatchGoForward(t *testing.T) {
	QuietLogs()
	samples := readRaw(t, "/usr/share/pocketsphinx/test/data/goforward.raw")
	d, err := New(defaultArgs())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.StartStream(); err != nil {
		t.Fatal(err)
	}
	if err := d.StartUtt(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(samples); i += 800 {
		if err := d.ProcessRaw(samples[i:min(i+800, len(samples))]); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.EndUtt(); err != nil {
		t.Fatal(err)
	}
	if got, want := d.Hyp(), "go forward ten meters"; got != want {
		t.Errorf("hyp = %q, want %q", got, want)
	}
	var words []string
	last := -1
	for _, s := range d.Segments() {
		if s.StartFrame < last || s.EndFrame < s.StartFrame {
			t.Errorf("segment %+v out of order", s)
		}
		last = s.EndFrame
		if !strings.HasPrefix(s.Word, "<") && !strings.HasPrefix(s.Word, "[") {
			words = append(words, s.Word)
		}
	}
	if got := strings.Join(words, " "); got != "go forward ten meters" {
		t.Errorf("segments = %q", got)
	}
	if total := len(samples) / 160; last > total {
		t.Errorf("last frame %d beyond audio (%d frames)", last, total)
	}
	if d.FrameRate() != 100 {
		t.Errorf("frame rate %d", d.FrameRate())
	}
}

func TestCheckArgs(t *testing.T) {
	QuietLogs()
	if err := CheckArgs([]string{"-fwdflat", "no", "-vad_postspeech", "50"}); err != nil {
		t.Errorf("valid args refused: %v", err)
	}
	if err := CheckArgs([]string{"-no_such_flag", "1"}); err == nil {
		t.Error("unknown flag accepted")
	}
	if err := CheckArgs([]string{"-fwdflat"}); err == nil {
		t.Error("odd args accepted")
	}
	if _, err := New([]string{"-hmm", "/nonexistent", "-lm", "/nonexistent", "-dict", "/nonexistent"}); err == nil {
		t.Error("missing model accepted")
	}
}

func TestClosedDecoder(t *testing.T) {
	QuietLogs()
	d, err := New(defaultArgs())
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := d.LookupWord("hello"); !ok || p == "" {
		t.Errorf("lookup hello = %q %v", p, ok)
	}
	if _, ok := d.LookupWord("zzqxv"); ok {
		t.Error("nonsense word found")
	}
	if err := d.AddWord("kubectl", "K UW B K AH N T R OW L", true); err != nil {
		t.Errorf("add word: %v", err)
	}
	if err := d.AddWord("bogus", "QQ XX", true); err == nil {
		t.Error("bad phones accepted")
	}
	d.Close()
	d.Close()
	if err := d.StartUtt(); err != ErrClosed {
		t.Errorf("StartUtt after Close = %v", err)
	}
	if err := d.ProcessRaw([]int16{1, 2}); err != ErrClosed {
		t.Errorf("ProcessRaw after Close = %v", err)
	}
	if d.Hyp() != "" || d.Segments() != nil {
		t.Error("results after Close")
	}
}

// TestInterpolateLM mixes a tiny domain model into the decoder: the decoder
// still decodes goforward.raw, words only the domain model has are added to
// the search, and bad weights or paths are errors.
func TestInterpolateLM(t *testing.T) {
	QuietLogs()
	samples := readRaw(t, "/usr/share/pocketsphinx/test/data/goforward.raw")
	lm := t.TempDir() + "/tiny.lm"
	arpa := "\\data\\\nngram 1=4\nngram 2=3\n\n\\1-grams:\n-99\t<s>\t-0.3\n-0.5\t</s>\n-0.5\tforward\t-0.3\n-0.5\tbackward\t-0.3\n\n\\2-grams:\n-0.3\t<s> forward\n-0.3\tforward </s>\n-0.3\tbackward </s>\n\n\\end\\\n"
	if err := os.WriteFile(lm, []byte(arpa), 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := New(defaultArgs())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for _, w := range []float64{0, 1, -0.5} {
		if err := d.InterpolateLM(lm, w); err == nil {
			t.Errorf("weight %v accepted", w)
		}
	}
	if err := d.InterpolateLM(t.TempDir()+"/missing.lm", 0.5); err == nil {
		t.Error("missing model accepted")
	}
	if err := d.InterpolateLM(lm, 0.3); err != nil {
		t.Fatal(err)
	}
	// Extra words still reach the interpolated model.
	if err := d.AddWord("kubernetes", "K UW B ER N EH T IY Z", true); err != nil {
		t.Fatal(err)
	}
	if err := d.StartStream(); err != nil {
		t.Fatal(err)
	}
	if err := d.StartUtt(); err != nil {
		t.Fatal(err)
	}
	if err := d.ProcessRaw(samples); err != nil {
		t.Fatal(err)
	}
	if err := d.EndUtt(); err != nil {
		t.Fatal(err)
	}
	if got, want := d.Hyp(), "go forward ten meters"; got != want {
		t.Errorf("hyp = %q, want %q", got, want)
	}
	d.Close()
	if err := d.InterpolateLM(lm, 0.3); err != ErrClosed {
		t.Errorf("after Close: %v", err)
	}
}
