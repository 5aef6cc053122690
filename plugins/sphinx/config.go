package sphinx

import (
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/earshot-dev/earshot/plugins/sdk"
	"github.com/earshot-dev/earshot/plugins/sphinx/internal/pocketsphinx"
)

// DefaultModelDir is where Debian's pocketsphinx-en-us installs the model.
const DefaultModelDir = "/usr/share/pocketsphinx/model/en-us"

// Defaults of the tunables; docs/sphinx.md explains how they were chosen.
const (
	defaultPartialInterval = 200 * time.Millisecond
	defaultEndpoint        = 500 * time.Millisecond
	defaultMaxUtterance    = 30 * time.Second
	defaultPoolSize        = 1
	defaultNoiseFloorDBFS  = -60.0
	defaultVADThreshold    = 2.0
	defaultFwdflat         = true
	defaultBestpath        = true
	defaultCMNWeight       = 0
	defaultRedecodeFirst   = true
	defaultDomainWeight    = 0.15
)

// defaultMaxStreams is one and a half streams per CPU this process may use
// (GOMAXPROCS: the machine's, its CPU affinity's or its cgroup quota's),
// rounded down, at least 2 and at most 1024. On 2 CPUs with the default
// settings, 3 real-time streams got their finals within 2 s (p90), 4 fell
// behind by several seconds, and 16 (the earlier fixed default) saturated the
// machine until calls timed out (docs/benchmarks.md). Past the limit a stream
// is refused (UNAVAILABLE; PIPELINE_UNAVAILABLE to the client) instead of
// slowing every other one down.
func defaultMaxStreams() int { return min(max(2, 3*runtime.GOMAXPROCS(0)/2), 1024) }

// BuiltinDomainLM is the domain_language_model value naming the interview
// model built into the plugin (interview.lm, made by internal/lmgen).
const BuiltinDomainLM = "builtin:interview"

// sampleRate is the only rate the en-us acoustic model takes.
const sampleRate = 16000

// settings is the validated configuration of the plugin.
type settings struct {
	AcousticModel   string
	Dictionary      string
	LanguageModel   string
	Words           map[string]string // extra dictionary words: word → phones
	PartialInterval time.Duration     // 0: no partials
	Endpoint        time.Duration
	MaxUtterance    time.Duration
	Fwdflat         bool
	Bestpath        bool
	PoolSize        int
	MaxStreams      int
	NoiseFloorDBFS  float64 // 0: off
	VADThreshold    float64
	CMNWeight       int               // frames of weight left to the CMN prior at stream start; 0: untouched
	RedecodeFirst   bool              // decode each stream's first utterance again with its own CMN
	Args            map[string]string // extra PocketSphinx arguments, without the dash
	DomainLM        string            // "": none; BuiltinDomainLM or an n-gram model file
	DomainWeight    float64           // interpolation weight of DomainLM, 0 < w < 1
}

// rawConfig is the JSON form the host sends (schema defaults applied).
type rawConfig struct {
	ModelDir        *string           `json:"model_dir"`
	AcousticModel   *string           `json:"acoustic_model"`
	Dictionary      *string           `json:"dictionary"`
	LanguageModel   *string           `json:"language_model"`
	Words           map[string]string `json:"words"`
	PartialInterval *sdk.Duration     `json:"partial_interval"`
	EndpointSilence *sdk.Duration     `json:"endpoint_silence"`
	MaxUtterance    *sdk.Duration     `json:"max_utterance"`
	Fwdflat         *bool             `json:"fwdflat"`
	Bestpath        *bool             `json:"bestpath"`
	PoolSize        *float64          `json:"pool_size"`
	MaxStreams      *float64          `json:"max_streams"`
	NoiseFloorDBFS  *float64          `json:"noise_floor_dbfs"`
	VADThreshold    *float64          `json:"vad_threshold"`
	CMNWeight       *float64          `json:"cmn_prior_frames"`
	RedecodeFirst   *bool             `json:"redecode_first"`
	Args            map[string]string `json:"args"`
	DomainLM        *string           `json:"domain_language_model"`
	DomainWeight    *float64          `json:"domain_weight"`
}

// schema is the plugin's stage block schema.
func schema() sdk.Schema {
	return sdk.Schema{Attributes: []sdk.Attribute{
		{Name: "model_dir", Type: sdk.TypeString, Default: DefaultModelDir,
			Description: "Folder of the PocketSphinx model; acoustic_model, dictionary and language_model default to its en-us layout."},
		{Name: "acoustic_model", Type: sdk.TypeString,
			Description: "Acoustic model folder (-hmm). Default: <model_dir>/en-us."},
		{Name: "dictionary", Type: sdk.TypeString,
			Description: "Pronunciation dictionary (-dict). Default: <model_dir>/cmudict-en-us.dict."},
		{Name: "language_model", Type: sdk.TypeString,
			Description: "N-gram language model (-lm), ARPA or binary. Default: <model_dir>/en-us.lm.bin."},
		{Name: "domain_language_model", Type: sdk.TypeString, Default: BuiltinDomainLM,
			Description: "N-gram model of the conversation's domain, interpolated with language_model: \"" + BuiltinDomainLM + "\" (built in: common interview questions), a model file (ARPA or binary; its words must be in the dictionary), or \"\" for none."},
		{Name: "domain_weight", Type: sdk.TypeNumber, Default: defaultDomainWeight,
			Description: "Interpolation weight of domain_language_model (0..1, exclusive); language_model gets the rest."},
		{Name: "words", Type: sdk.TypeMapString,
			Description: "Extra vocabulary for interviews: word = \"phones\" in the acoustic model's phone set, e.g. kubernetes = \"K UW B ER N EH T IY Z\". Added to the dictionary and the language model."},
		{Name: "partial_interval", Type: sdk.TypeDuration, Default: defaultPartialInterval.String(),
			Description: "Minimum audio time between two partial results; \"0s\" turns partials off."},
		{Name: "endpoint_silence", Type: sdk.TypeDuration, Default: defaultEndpoint.String(),
			Description: "Silence after speech that ends an utterance (a final with end of turn)."},
		{Name: "max_utterance", Type: sdk.TypeDuration, Default: defaultMaxUtterance.String(),
			Description: "Longest utterance; longer speech is cut into several finals."},
		{Name: "fwdflat", Type: sdk.TypeBool, Default: defaultFwdflat,
			Description: "Run PocketSphinx's second (flat lexicon) pass at the end of each utterance: more accurate, slower finals."},
		{Name: "bestpath", Type: sdk.TypeBool, Default: defaultBestpath,
			Description: "Search the word lattice at the end of each utterance: more accurate, gives word posteriors (confidence), slower finals."},
		{Name: "pool_size", Type: sdk.TypeNumber, Default: defaultPoolSize,
			Description: "Decoders kept warm (about 90 MB each) so a new stream does not wait ~0.4 s for one to load."},
		{Name: "max_streams", Type: sdk.TypeNumber, Default: defaultMaxStreams(),
			Description: "Most streams transcribed at once by this plugin process; more are refused with UNAVAILABLE. Default: 1.5 per CPU the process may use (GOMAXPROCS), at least 2."},
		{Name: "noise_floor_dbfs", Type: sdk.TypeNumber, Default: defaultNoiseFloorDBFS,
			Description: "Level of the deterministic noise added to stretches quieter than it (digital silence from TTS or muted microphones wrecks the acoustic model); 0 turns it off."},
		{Name: "vad_threshold", Type: sdk.TypeNumber, Default: defaultVADThreshold,
			Description: "Voice activity threshold (log ratio of signal to noise level); raise it in noisy rooms."},
		{Name: "cmn_prior_frames", Type: sdk.TypeNumber, Default: defaultCMNWeight,
			Description: "If set, at a stream's start the weight (in 10 ms frames of speech) left to the decoder's previous cepstral mean, so a new microphone takes over faster; 0 leaves it alone."},
		{Name: "redecode_first", Type: sdk.TypeBool, Default: defaultRedecodeFirst,
			Description: "Decode each stream's first utterance a second time once the decoder has learnt the microphone's cepstral mean from it: much more accurate first utterance, slower first final."},
		{Name: "args", Type: sdk.TypeMapString,
			Description: "Further PocketSphinx arguments without the dash, e.g. { beam = \"1e-60\", pl_window = \"5\" }."},
	}}
}

// defaultArgs are PocketSphinx arguments the plugin sets unless args does.
//
// pl_window 0 turns off the phone lookahead that prunes the first-pass search
// (PocketSphinx's default window is 5 frames): on the espeak interview set over six
// noise realisations WER fell from 13.0% to 10.6%, and no other set got worse
// (docs/sphinx.md), for a real-time factor of 0.24 instead of 0.14.
var defaultArgs = map[string]string{"pl_window": "0"}

// reservedArgs are set through their own attributes.
var reservedArgs = map[string]string{
	"hmm": "acoustic_model", "dict": "dictionary", "lm": "language_model",
	"fwdflat": "fwdflat", "bestpath": "bestpath", "vad_postspeech": "endpoint_silence",
	"vad_threshold": "vad_threshold", "samprate": "(the model's 16000 Hz)",
	"remove_silence": "(always on: the endpointer needs it)",
}

func badConfig(format string, args ...any) error {
	return sdk.Errorf(sdk.CodeBadConfig, format, args...)
}

// parseConfig validates cfg and fills in defaults.
func parseConfig(cfg sdk.Config) (settings, error) {
	var rc rawConfig
	if err := cfg.Decode(&rc); err != nil {
		return settings{}, badConfig("sphinx: %v", err)
	}
	s := settings{
		PartialInterval: defaultPartialInterval,
		Endpoint:        defaultEndpoint,
		MaxUtterance:    defaultMaxUtterance,
		Fwdflat:         defaultFwdflat,
		Bestpath:        defaultBestpath,
		PoolSize:        defaultPoolSize,
		MaxStreams:      defaultMaxStreams(),
		NoiseFloorDBFS:  defaultNoiseFloorDBFS,
		VADThreshold:    defaultVADThreshold,
		CMNWeight:       defaultCMNWeight,
		RedecodeFirst:   defaultRedecodeFirst,
		Words:           rc.Words,
		Args:            rc.Args,
		DomainLM:        BuiltinDomainLM,
		DomainWeight:    defaultDomainWeight,
	}
	if rc.DomainLM != nil {
		s.DomainLM = *rc.DomainLM
	}
	if s.DomainLM != "" && s.DomainLM != BuiltinDomainLM {
		st, err := os.Stat(s.DomainLM)
		switch {
		case err != nil:
			return settings{}, badConfig("sphinx: domain_language_model %q: %v", s.DomainLM, err)
		case st.IsDir():
			return settings{}, badConfig("sphinx: domain_language_model %q is a folder, want a file", s.DomainLM)
		}
	}
	if rc.DomainWeight != nil {
		v := *rc.DomainWeight
		if math.IsNaN(v) || v <= 0 || v >= 1 {
			return settings{}, badConfig("sphinx: domain_weight %v out of range: between 0 and 1, exclusive", v)
		}
		s.DomainWeight = v
	}
	dir := DefaultModelDir
	if rc.ModelDir != nil && *rc.ModelDir != "" {
		dir = *rc.ModelDir
	}
	pick := func(p *string, def string) string {
		if p != nil && *p != "" {
			return *p
		}
		return filepath.Join(dir, def)
	}
	s.AcousticModel = pick(rc.AcousticModel, "en-us")
	s.Dictionary = pick(rc.Dictionary, "cmudict-en-us.dict")
	s.LanguageModel = pick(rc.LanguageModel, "en-us.lm.bin")
	for _, f := range []struct {
		attr, path string
		dir        bool
	}{{"acoustic_model", s.AcousticModel, true}, {"dictionary", s.Dictionary, false}, {"language_model", s.LanguageModel, false}} {
		st, err := os.Stat(f.path)
		switch {
		case err != nil:
			return settings{}, badConfig("sphinx: %s %q: %v (is Debian's pocketsphinx-en-us installed?)", f.attr, f.path, err)
		case f.dir && !st.IsDir():
			return settings{}, badConfig("sphinx: acoustic_model %q is not a folder", f.path)
		case !f.dir && st.IsDir():
			return settings{}, badConfig("sphinx: %s %q is a folder, want a file", f.attr, f.path)
		}
	}
	if rc.PartialInterval != nil {
		s.PartialInterval = time.Duration(*rc.PartialInterval)
		if s.PartialInterval != 0 && (s.PartialInterval < 50*time.Millisecond || s.PartialInterval > 10*time.Second) {
			return settings{}, badConfig("sphinx: partial_interval %v out of range: 0s (off) or 50ms..10s", s.PartialInterval)
		}
	}
	if rc.EndpointSilence != nil {
		s.Endpoint = time.Duration(*rc.EndpointSilence)
		if s.Endpoint < 100*time.Millisecond || s.Endpoint > 10*time.Second {
			return settings{}, badConfig("sphinx: endpoint_silence %v out of range 100ms..10s", s.Endpoint)
		}
	}
	if rc.MaxUtterance != nil {
		s.MaxUtterance = time.Duration(*rc.MaxUtterance)
		if s.MaxUtterance < time.Second || s.MaxUtterance > 5*time.Minute {
			return settings{}, badConfig("sphinx: max_utterance %v out of range 1s..5m", s.MaxUtterance)
		}
	}
	if rc.Fwdflat != nil {
		s.Fwdflat = *rc.Fwdflat
	}
	if rc.Bestpath != nil {
		s.Bestpath = *rc.Bestpath
	}
	var err error
	if s.PoolSize, err = intAttr("pool_size", rc.PoolSize, s.PoolSize, 0, 16); err != nil {
		return settings{}, err
	}
	if s.MaxStreams, err = intAttr("max_streams", rc.MaxStreams, s.MaxStreams, 1, 1024); err != nil {
		return settings{}, err
	}
	if s.CMNWeight, err = intAttr("cmn_prior_frames", rc.CMNWeight, s.CMNWeight, 0, 800); err != nil {
		return settings{}, err
	}
	if rc.RedecodeFirst != nil {
		s.RedecodeFirst = *rc.RedecodeFirst
	}
	if rc.NoiseFloorDBFS != nil {
		v := *rc.NoiseFloorDBFS
		if v != 0 && (math.IsNaN(v) || v < -100 || v > -20) {
			return settings{}, badConfig("sphinx: noise_floor_dbfs %v out of range: 0 (off) or -100..-20", v)
		}
		s.NoiseFloorDBFS = v
	}
	if rc.VADThreshold != nil {
		v := *rc.VADThreshold
		if math.IsNaN(v) || v < 0.5 || v > 20 {
			return settings{}, badConfig("sphinx: vad_threshold %v out of range 0.5..20", v)
		}
		s.VADThreshold = v
	}
	for w, p := range s.Words {
		if w == "" || strings.ContainsAny(w, " \t\n") {
			return settings{}, badConfig("sphinx: words: %q is not a single word", w)
		}
		if len(strings.Fields(p)) == 0 {
			return settings{}, badConfig("sphinx: words: %q has no phones", w)
		}
	}
	for k := range s.Args {
		if strings.HasPrefix(k, "-") {
			return settings{}, badConfig("sphinx: args: write %q without the dash", k)
		}
		if attr, ok := reservedArgs[k]; ok {
			return settings{}, badConfig("sphinx: args: %q is set by %s", k, attr)
		}
	}
	if err := pocketsphinx.CheckArgs(s.psArgs()); err != nil {
		return settings{}, badConfig("sphinx: args: %v", err)
	}
	return s, nil
}

func intAttr(name string, v *float64, def, lo, hi int) (int, error) {
	if v == nil {
		return def, nil
	}
	if *v != math.Trunc(*v) || *v < float64(lo) || *v > float64(hi) {
		return 0, badConfig("sphinx: %s %v: want a whole number %d..%d", name, *v, lo, hi)
	}
	return int(*v), nil
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// psArgs is the PocketSphinx command line for these settings.
func (s settings) psArgs() []string {
	args := []string{
		"-hmm", s.AcousticModel,
		"-dict", s.Dictionary,
		"-lm", s.LanguageModel,
		"-fwdflat", yesNo(s.Fwdflat),
		"-bestpath", yesNo(s.Bestpath),
		"-vad_postspeech", strconv.Itoa(int((s.Endpoint + 5*time.Millisecond) / (10 * time.Millisecond))),
		"-vad_threshold", strconv.FormatFloat(s.VADThreshold, 'g', -1, 64),
	}
	extra := make(map[string]string, len(defaultArgs)+len(s.Args))
	maps.Copy(extra, defaultArgs)
	maps.Copy(extra, s.Args)
	keys := make([]string, 0, len(extra))
	for k := range extra {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		args = append(args, "-"+k, extra[k])
	}
	return args
}

// startSpeechFrames is the VAD's speech-start delay in frames (-vad_startspeech).
func (s settings) startSpeechFrames() int {
	if v, ok := s.Args["vad_startspeech"]; ok {
		if n, err := strconv.Atoi(v); err == nil && n >= 0 {
			return n
		}
	}
	return 10
}

// newDecoder loads a decoder with these settings and the extra words.
func (s settings) newDecoder() (*pocketsphinx.Decoder, error) {
	d, err := pocketsphinx.New(s.psArgs())
	if err != nil {
		return nil, err
	}
	if err := s.interpolate(d); err != nil {
		d.Close()
		return nil, err
	}
	words := make([]string, 0, len(s.Words))
	for w := range s.Words {
		words = append(words, w)
	}
	sort.Strings(words)
	for i, w := range words {
		if err := d.AddWord(w, s.Words[w], i == len(words)-1); err != nil {
			d.Close()
			return nil, badConfig("sphinx: words: %v", err)
		}
	}
	if err := s.prime(d); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// primeLength is how much noise prime feeds. A reset detector starts its
// noise estimate 13 dB below the first frame and takes about 20 frames to
// rise to it (it "hears speech" meanwhile, so the priming utterance is
// searched); half a second is enough and keeps priming cheap.
const primeLength = sampleRate / 2

// prime readies a decoder for a new stream: the sample counter restarts and
// the voice-activity detector learns the noise floor from noise at the
// configured level. Without it a fresh detector takes the first second or two
// of any stream's background for speech, and the first utterance starts with
// invented words. The cepstral mean is left as it was.
func (s settings) prime(d *pocketsphinx.Decoder) error {
	cmn, err := d.SaveCMN()
	if err != nil {
		return err
	}
	if err := d.StartStream(); err != nil {
		return err
	}
	if err := d.StartUtt(); err != nil {
		return err
	}
	dbfs := s.NoiseFloorDBFS
	if dbfs == 0 {
		dbfs = -60
	}
	noise := newNoiseFloor(dbfs)
	buf := make([]int16, primeLength)
	noise.apply(buf)
	for i := 0; i < len(buf); i += feedSamples {
		if err := d.ProcessRaw(buf[i:min(i+feedSamples, len(buf))]); err != nil {
			return err
		}
	}
	if err := d.EndUtt(); err != nil {
		return err
	}
	return d.RestoreCMN(cmn)
}

// String is for logs.
func (s settings) String() string {
	return fmt.Sprintf("fwdflat=%v bestpath=%v endpoint=%v partial=%v pool=%d", s.Fwdflat, s.Bestpath, s.Endpoint, s.PartialInterval, s.PoolSize)
}
