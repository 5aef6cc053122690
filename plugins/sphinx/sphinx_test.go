package sphinx

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"go.uber.org/goleak"

	"github.com/earshot-dev/earshot/plugins/sdk"
	"github.com/earshot-dev/earshot/plugins/sphinx/internal/pocketsphinx"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	var se *sdk.StreamError
	if !errors.As(err, &se) || se.Code != code {
		t.Errorf("error %v, want code %s", err, code)
	}
}

func TestConfigValidation(t *testing.T) {
	bad := []struct{ name, cfg string }{
		{"not json types", `{"fwdflat":"yes"}`},
		{"partial too short", `{"partial_interval":"10ms"}`},
		{"partial not a duration", `{"partial_interval":"soon"}`},
		{"endpoint too short", `{"endpoint_silence":"50ms"}`},
		{"max utterance too short", `{"max_utterance":"500ms"}`},
		{"pool fraction", `{"pool_size":1.5}`},
		{"pool negative", `{"pool_size":-1}`},
		{"max streams zero", `{"max_streams":0}`},
		{"noise floor too loud", `{"noise_floor_dbfs":-10}`},
		{"vad threshold", `{"vad_threshold":0}`},
		{"cmn weight", `{"cmn_prior_frames":5000}`},
		{"missing model dir", `{"model_dir":"/nonexistent"}`},
		{"dictionary is a folder", `{"dictionary":"/usr/share/pocketsphinx/model/en-us"}`},
		{"acoustic model is a file", `{"acoustic_model":"/usr/share/pocketsphinx/model/en-us/en-us.lm.bin"}`},
		{"two words as one", `{"words":{"two words":"T UW"}}`},
		{"word without phones", `{"words":{"foo":" "}}`},
		{"word with unknown phones", `{"words":{"foo":"QQ ZZ"}}`},
		{"arg with dash", `{"args":{"-beam":"1e-60"}}`},
		{"reserved arg", `{"args":{"hmm":"/tmp"}}`},
		{"unknown arg", `{"args":{"no_such_flag":"1"}}`},
		{"domain weight zero", `{"domain_weight":0}`},
		{"domain weight one", `{"domain_weight":1}`},
		{"missing domain model", `{"domain_language_model":"/nonexistent.lm"}`},
		{"domain model is a folder", `{"domain_language_model":"/usr/share/pocketsphinx/model/en-us"}`},
		{"domain model not a model", `{"domain_language_model":"/usr/share/pocketsphinx/model/en-us/en-us/feat.params"}`},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			tr := NewWithLogger(hclog.NewNullLogger())
			defer tr.Close()
			wantCode(t, tr.Configure(context.Background(), sdk.NewConfig([]byte(c.cfg))), sdk.CodeBadConfig)
		})
	}
	t.Run("good", func(t *testing.T) {
		tr := newConfigured(t, `{"partial_interval":"0s","endpoint_silence":"700ms","max_utterance":"10s",
			"fwdflat":false,"bestpath":false,"pool_size":0,"max_streams":2,"noise_floor_dbfs":0,
			"vad_threshold":3,"words":{"kubectl":"K UW B K AH N T R OW L"},"args":{"beam":"1e-60"},
			"domain_language_model":"","domain_weight":0.5}`)
		if tr.cfg.DomainLM != "" || tr.cfg.DomainWeight != 0.5 {
			t.Errorf("domain settings not applied: %+v", tr.cfg)
		}
		if tr.cfg.Endpoint != 700*time.Millisecond || tr.cfg.PartialInterval != 0 || tr.cfg.Fwdflat || tr.cfg.MaxStreams != 2 {
			t.Errorf("settings not applied: %+v", tr.cfg)
		}
		if got := strings.Join(tr.cfg.psArgs(), " "); !strings.Contains(got, "-vad_postspeech 70") || !strings.Contains(got, "-beam 1e-60") || !strings.Contains(got, "-pl_window 0") {
			t.Errorf("args %s", got)
		}
	})
	t.Run("args override the plugin's defaults", func(t *testing.T) {
		tr := newConfigured(t, `{"pool_size":0,"args":{"pl_window":"5"}}`)
		got := strings.Join(tr.cfg.psArgs(), " ")
		if !strings.Contains(got, "-pl_window 5") || strings.Contains(got, "-pl_window 0") {
			t.Errorf("args %s: want the user's -pl_window 5 only", got)
		}
	})
}

func TestInfoAndSchema(t *testing.T) {
	tr := NewWithLogger(hclog.NewNullLogger())
	defer tr.Close()
	if i := tr.Info(); i.Name != "sphinx" || i.Kind != sdk.KindTranscriber {
		t.Errorf("info %+v", i)
	}
	names := map[string]bool{}
	for _, a := range tr.ConfigSchema().Attributes {
		names[a.Name] = true
	}
	for _, n := range []string{"model_dir", "dictionary", "language_model", "words", "partial_interval", "endpoint_silence", "max_utterance", "fwdflat", "bestpath", "pool_size", "noise_floor_dbfs", "domain_language_model", "domain_weight"} {
		if !names[n] {
			t.Errorf("schema lacks %s", n)
		}
	}
}

func TestRefusedStreams(t *testing.T) {
	tr := NewWithLogger(hclog.NewNullLogger())
	src := &sliceSource{}
	sink := &recSink{t: t}
	wantCode(t, tr.Transcribe(context.Background(), sdk.TranscribeStart{SampleRate: 16000}, src, sink), sdk.CodeBadConfig)
	if err := tr.Configure(context.Background(), sdk.NewConfig([]byte(`{"max_streams":1}`))); err != nil {
		t.Fatal(err)
	}
	wantCode(t, tr.Transcribe(context.Background(), sdk.TranscribeStart{SampleRate: 8000}, src, sink), sdk.CodeUnsupportedFormat)
	wantCode(t, tr.Transcribe(context.Background(), sdk.TranscribeStart{SampleRate: 16000, Language: "de-DE"}, src, sink), sdk.CodeUnsupportedFormat)

	// One stream holds the only slot: a second is refused with UNAVAILABLE.
	ctx, cancel := context.WithCancel(context.Background())
	held := &blockingSource{started: make(chan struct{})}
	done := make(chan error, 1)
	go func() { done <- tr.Transcribe(ctx, sdk.TranscribeStart{}, held, &recSink{t: t}) }()
	<-held.started
	wantCode(t, tr.Transcribe(context.Background(), sdk.TranscribeStart{}, &sliceSource{}, sink), sdk.CodeUnavailable)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled stream returned %v", err)
	}
	// The slot is free again.
	if err := tr.Transcribe(context.Background(), sdk.TranscribeStart{}, &sliceSource{}, sink); err != nil {
		t.Errorf("after cancel: %v", err)
	}
	tr.Close()
	tr.Close()
	wantCode(t, tr.Transcribe(context.Background(), sdk.TranscribeStart{}, &sliceSource{}, sink), sdk.CodeUnavailable)
	if len(sink.events) != 0 {
		t.Errorf("events from refused or empty streams: %+v", sink.events)
	}
}

// blockingSource gives one block of silence, then waits for cancellation.
type blockingSource struct {
	started chan struct{}
	n       int
}

func (b *blockingSource) Next(ctx context.Context) (sdk.AudioInput, error) {
	b.n++
	if b.n == 1 {
		return sdk.AudioInput{Samples: silence(100 * time.Millisecond)}, nil
	}
	if b.n == 2 {
		close(b.started)
	}
	<-ctx.Done()
	return sdk.AudioInput{}, ctx.Err()
}

// streamQuestions are the sentences of TestStreamBehaviour.
var streamQuestions = []string{"tell me about yourself", "why should we hire you", "what is your biggest weakness"}

// TestStreamBehaviour checks a stream of three spoken questions: one final per
// question ended by silence (end of turn), partials paced by partial_interval,
// word times within the speech and offset by the first input's Start.
func TestStreamBehaviour(t *testing.T) {
	tr := newConfigured(t, `{}`)
	questions := streamQuestions
	const offset = 10 * time.Second
	var samples []int16
	var bounds [][2]time.Duration
	samples = append(samples, silence(300*time.Millisecond)...)
	for _, q := range questions {
		s := espeak(t, "en-us+klatt", 140, q)
		f, l := speechBounds(s)
		at := func(n int) time.Duration { return offset + time.Duration(len(samples)+n)*time.Second/sampleRate }
		bounds = append(bounds, [2]time.Duration{at(f), at(l)})
		samples = append(samples, s...)
		samples = append(samples, silence(time.Second)...)
	}
	sink := transcribe(t, tr, chunked(addNoise(samples, -50, 7), 20*time.Millisecond, offset))
	finals := sink.finals()
	if len(finals) != len(questions) {
		t.Fatalf("%d finals, want %d: %+v", len(finals), len(questions), finals)
	}
	var errs, n int
	for i, f := range finals {
		e, m := wordErrors(questions[i], f.Text)
		errs, n = errs+e, n+m
		if !f.EndOfTurn {
			t.Errorf("final %d %q ended by silence without EndOfTurn", i, f.Text)
		}
		if f.Confidence <= 0 || f.Confidence > 1 {
			t.Errorf("final %d confidence %v", i, f.Confidence)
		}
		slack := 300 * time.Millisecond
		if f.Start < bounds[i][0]-slack || f.End > bounds[i][1]+slack || f.Start >= f.End {
			t.Errorf("final %d %q spans %v..%v, speech was %v..%v", i, f.Text, f.Start, f.End, bounds[i][0], bounds[i][1])
		}
		for j, w := range f.Words {
			if j > 0 && w.Start < f.Words[j-1].End-20*time.Millisecond {
				t.Errorf("final %d: word %q overlaps the previous one", i, w.Text)
			}
			if w.Confidence < 0 || w.Confidence > 1 || w.End <= w.Start {
				t.Errorf("final %d: bad word %+v", i, w)
			}
		}
	}
	// Accuracy has its own tests; this only catches a broken stream.
	if errs > n/3 {
		t.Errorf("%d word errors in %d words: %q", errs, n, sink.text())
	}
	// Partials: at least one per question, paced by partial_interval in audio
	// time, never two identical ones in a row.
	var lastEnd time.Duration
	var last string
	partials := 0
	for _, e := range sink.events {
		switch e.kind {
		case "speech":
			lastEnd, last = -time.Hour, ""
			if e.at < offset {
				t.Errorf("speech started at %v, before the stream's first sample", e.at)
			}
		case "partial":
			partials++
			if e.r.End-lastEnd < defaultPartialInterval-20*time.Millisecond {
				t.Errorf("partial %q only %v after the previous one", e.r.Text, e.r.End-lastEnd)
			}
			if e.r.Text == last {
				t.Errorf("partial %q repeated", e.r.Text)
			}
			lastEnd, last = e.r.End, e.r.Text
		}
	}
	if partials < len(questions) {
		t.Errorf("%d partials for %d questions", partials, len(questions))
	}
}

func speech(t *testing.T, text string) []int16 {
	s := append(silence(300*time.Millisecond), espeak(t, "en-us+klatt", 140, text)...)
	return addNoise(s, -50, 3)
}

// TestForcedFinals: ControlFinalize, the end of the stream and max_utterance
// each end an utterance without EndOfTurn.
func TestForcedFinals(t *testing.T) {
	tr := newConfigured(t, `{"max_utterance":"1s"}`)
	s := speech(t, "tell me about a challenging project you worked on and what you learned from it")
	t.Run("finalize", func(t *testing.T) {
		in := chunked(s, 20*time.Millisecond, 0)
		half := len(in) / 3
		in = append(append(append([]sdk.AudioInput{}, in[:half]...), sdk.AudioInput{Control: sdk.ControlFinalize}), in[half:]...)
		sink := transcribe(t, tr, append(in, sdk.AudioInput{Control: sdk.ControlFinalize}))
		checkForced(t, sink, 2)
	})
	t.Run("end", func(t *testing.T) {
		sink := transcribe(t, newConfigured(t, `{}`), chunked(s, 20*time.Millisecond, 0))
		checkForced(t, sink, 1)
	})
	t.Run("max_utterance", func(t *testing.T) {
		sink := transcribe(t, tr, chunked(s, 50*time.Millisecond, 0))
		checkForced(t, sink, 3)
	})
	t.Run("finalize in silence", func(t *testing.T) {
		in := chunked(addNoise(silence(time.Second), -50, 1), 20*time.Millisecond, 0)
		sink := transcribe(t, tr, append(in, sdk.AudioInput{Control: sdk.ControlFinalize}))
		if len(sink.events) != 0 {
			t.Errorf("events for silence: %+v", sink.events)
		}
	})
}

// checkForced wants at least n finals, none ended by silence, and the words.
func checkForced(t *testing.T, sink *recSink, n int) {
	t.Helper()
	finals := sink.finals()
	if len(finals) < n {
		t.Errorf("%d finals, want at least %d: %+v", len(finals), n, finals)
	}
	for _, f := range finals {
		if f.EndOfTurn {
			t.Errorf("forced final %q has EndOfTurn", f.Text)
		}
	}
	// Accuracy has its own tests: only check the speech got through.
	if !strings.Contains(sink.text(), "learn") {
		t.Errorf("%q missing from %q", "learn", sink.text())
	}
}

// TestNoiseIsNotSpeech: digital silence and faint noise make no utterance; a
// burst of loud noise (or a step in the room's noise, which PocketSphinx's
// detector takes for speech) makes no empty final unless a partial had already
// opened the utterance (which must then be closed).
func TestNoiseIsNotSpeech(t *testing.T) {
	tr := newConfigured(t, `{}`)
	quiet := append(silence(time.Second), addNoise(silence(2*time.Second), -65, 9)...)
	if sink := transcribe(t, tr, chunked(quiet, 20*time.Millisecond, 0)); len(sink.events) != 0 {
		t.Errorf("events for silence: %+v", sink.events)
	}
	burst := append(silence(time.Second), addNoise(silence(400*time.Millisecond), -25, 9)...)
	burst = append(burst, silence(time.Second)...)
	sink := transcribe(t, tr, chunked(burst, 20*time.Millisecond, 0))
	partial := false
	for _, e := range sink.events {
		switch {
		case e.kind == "partial":
			partial = true
		case e.kind == "final" && e.r.Text == "" && !partial:
			t.Errorf("empty final for noise with no partial before it")
		case e.kind == "final":
			partial = false
		}
	}
}

// TestDecoderReuse: a stream that ended cleanly leaves its (warm) decoder in
// the pool for the next stream; a cancelled one frees it.
func TestDecoderReuse(t *testing.T) {
	tr := newConfigured(t, `{"pool_size":1}`)
	d, err := tr.pool.get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	tr.pool.put(d, true)
	transcribe(t, tr, chunked(speech(t, "why should we hire you"), 50*time.Millisecond, 0))
	if err := tr.pool.waitPrimed(context.Background()); err != nil {
		t.Fatal(err)
	}
	tr.pool.mu.Lock()
	defer tr.pool.mu.Unlock()
	if len(tr.pool.warm) != 1 || !tr.pool.warm[0].used {
		t.Errorf("warm pool after a stream: %+v", tr.pool.warm)
	}
}

// TestMaxStreamsDefault: max_streams defaults to 1.5 streams per CPU the
// process may use, at least 2 and at most 1024, in the schema and in effect.
func TestMaxStreamsDefault(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, c := range []struct{ procs, want int }{{1, 2}, {2, 3}, {3, 4}, {4, 6}, {16, 24}, {1000, 1024}} {
		runtime.GOMAXPROCS(c.procs)
		tr := newConfigured(t, `{"pool_size":0}`)
		if tr.cfg.MaxStreams != c.want || cap(tr.pool.slots) != c.want {
			t.Errorf("GOMAXPROCS %d: max_streams %d (pool slots %d), want %d", c.procs, tr.cfg.MaxStreams, cap(tr.pool.slots), c.want)
		}
		for _, a := range tr.ConfigSchema().Attributes {
			if a.Name == "max_streams" && a.Default != c.want {
				t.Errorf("GOMAXPROCS %d: schema default %v, want %d", c.procs, a.Default, c.want)
			}
		}
	}
}

// TestPrimingAfterPut: a stream's end does not wait for its decoder to be
// primed for the next stream; the next stream does, and gets that decoder.
func TestPrimingAfterPut(t *testing.T) {
	tr := newConfigured(t, `{"pool_size":1,"max_streams":1}`)
	p := tr.pool
	release, started := make(chan struct{}), make(chan struct{})
	prime := p.prime
	p.prime = func(d *pocketsphinx.Decoder) error {
		close(started)
		<-release
		return prime(d)
	}
	d, err := p.get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	put := make(chan struct{})
	go func() {
		p.put(d, true)
		close(put)
	}()
	select {
	case <-put:
	case <-time.After(10 * time.Second):
		t.Fatal("put is still waiting for the priming")
	}
	<-started
	// A stream starting now waits for the priming (its context ends first here).
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := p.get(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("get during the priming = %v, want it to wait (context.Canceled)", err)
	}
	close(release)
	next, err := p.get(context.Background())
	if err != nil {
		t.Fatalf("get after the priming: %v (the stream's slot should be free)", err)
	}
	if next != d {
		t.Errorf("the next stream got another decoder, not the primed one")
	}
	p.put(next, false)
}

// TestPrimingDoesNotStarveGet: a stream that starts waits for the primings in
// flight then, not for those that start later (on a busy pool some always are).
func TestPrimingDoesNotStarveGet(t *testing.T) {
	tr := newConfigured(t, `{"pool_size":2,"max_streams":3}`)
	p := tr.pool
	gates := map[*pocketsphinx.Decoder]chan struct{}{}
	var mu sync.Mutex
	prime := p.prime
	p.prime = func(d *pocketsphinx.Decoder) error {
		mu.Lock()
		gate := gates[d]
		mu.Unlock()
		<-gate
		return prime(d)
	}
	var ds [2]*pocketsphinx.Decoder
	for i := range ds {
		d, err := p.get(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		ds[i] = d
		mu.Lock()
		gates[d] = make(chan struct{})
		mu.Unlock()
	}
	var opened [2]bool
	open := func(i int) { // lets decoder i's priming finish
		if !opened[i] {
			opened[i] = true
			close(gates[ds[i]])
		}
	}
	defer open(1)
	defer open(0) // a failure below must not leave the pool's close waiting

	p.put(ds[0], true) // in flight when the stream below starts
	waiting := make(chan []chan struct{}, 1)
	p.testHookWaiting = func(priming []chan struct{}) { waiting <- priming }
	type got struct {
		d   *pocketsphinx.Decoder
		err error
	}
	res := make(chan got, 1)
	go func() {
		d, err := p.get(context.Background())
		res <- got{d, err}
	}()
	if n := len(<-waiting); n != 1 {
		t.Fatalf("get waits for %d primings, want the 1 in flight", n)
	}
	p.testHookWaiting = nil
	p.put(ds[1], true) // starts after get began: not waited for
	open(0)
	select {
	case r := <-res:
		if r.err != nil {
			t.Fatal(r.err)
		}
		if r.d != ds[0] {
			t.Errorf("get returned another decoder, not the one primed while it waited")
		}
		if n := len(p.primingNow()); n != 1 {
			t.Errorf("%d primings in flight when get returned, want the later one", n)
		}
		p.put(r.d, false)
	case <-time.After(10 * time.Second):
		t.Fatal("get is still waiting: it waits for the priming that started after it")
	}
}

// TestExtraWords: a word from the words attribute is in the dictionary and
// can be recognised.
func TestExtraWords(t *testing.T) {
	tr := newConfigured(t, `{"words":{"kubernetes":"K UW B ER N EH T IY Z"}}`)
	d, err := tr.pool.get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := d.LookupWord("kubernetes"); !ok || p != "K UW B ER N EH T IY Z" {
		t.Errorf("kubernetes: %q %v", p, ok)
	}
	tr.pool.put(d, true)
}

// TestSinkErrorEndsStream: a failing sink ends the stream with its error.
func TestSinkErrorEndsStream(t *testing.T) {
	tr := newConfigured(t, `{}`)
	boom := errors.New("sink gone")
	err := tr.Transcribe(context.Background(), sdk.TranscribeStart{}, &sliceSource{items: chunked(speech(t, "tell me about yourself"), 20*time.Millisecond, 0)}, failingSink{boom})
	if !errors.Is(err, boom) {
		t.Errorf("Transcribe = %v, want the sink's error", err)
	}
}

type failingSink struct{ err error }

func (f failingSink) SpeechStarted(context.Context, time.Duration) error { return f.err }
func (f failingSink) Partial(context.Context, sdk.Result) error          { return f.err }
func (f failingSink) Final(context.Context, sdk.Result) error            { return f.err }

// TestConcurrentStreams runs two streams at once on one plugin: each has its
// own decoder and goroutine, and a third decoder loads meanwhile.
func TestConcurrentStreams(t *testing.T) {
	tr := newConfigured(t, `{"pool_size":1,"max_streams":2}`)
	texts := []string{"why should we hire you", "what is your biggest weakness"}
	sinks := make([]*recSink, len(texts))
	errs := make(chan error, len(texts))
	for i, q := range texts {
		in := chunked(append(speech(t, q), silence(time.Second)...), 20*time.Millisecond, 0)
		src := &sliceSource{items: in}
		sinks[i] = &recSink{t: t}
		go func() {
			errs <- tr.Transcribe(context.Background(), sdk.TranscribeStart{SampleRate: sampleRate}, src, sinks[i])
		}()
	}
	for range texts {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	for i, q := range texts {
		if e, n := wordErrors(q, sinks[i].text()); e > n/2 {
			t.Errorf("stream %d: %q for %q", i, sinks[i].text(), q)
		}
	}
}
