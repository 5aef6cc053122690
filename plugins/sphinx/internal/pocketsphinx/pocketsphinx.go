// Package pocketsphinx is a small cgo binding to CMU PocketSphinx as Debian ships
// it (libpocketsphinx 0.8+5prealpha, with sphinxbase). It exposes only what a
// streaming transcriber needs: decoder set-up, utterance control, raw audio input,
// voice-activity state, hypotheses and word segments.
//
// A Decoder is not safe for concurrent use by the C library's design; the Go type
// serialises calls with a mutex so that Close racing with a call can never touch
// freed memory, but callers should still drive one decoder from one goroutine.
package pocketsphinx

/*
#cgo pkg-config: pocketsphinx sphinxbase
#cgo LDFLAGS: -lm
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <pocketsphinx.h>
#include <sphinxbase/err.h>
#include <sphinxbase/cmd_ln.h>
#include <sphinxbase/logmath.h>
#include <sphinxbase/feat.h>
#include <sphinxbase/cmn.h>
#include <sphinxbase/ngram_model.h>

// interp_lm makes the active search an interpolation of the decoder's current
// n-gram model (weight 1-w) and the model in path (weight w), under a new
// search name: replacing the "_default" search in place would leave the
// decoder's hash table keyed by the freed search's name.
static int interp_lm(ps_decoder_t *ps, const char *path, float w, const char *name) {
	const char *cur = ps_get_search(ps);
	if (cur == NULL)
		return -1;
	char old[64];
	strncpy(old, cur, sizeof old - 1);
	old[sizeof old - 1] = 0;
	ngram_model_t *gen = ps_get_lm(ps, old);
	if (gen == NULL)
		return -1;
	ngram_model_t *dom = ngram_model_read(ps_get_config(ps), path, NGRAM_AUTO, ps_get_logmath(ps));
	if (dom == NULL)
		return -2;
	ngram_model_t *models[2];
	// The general model goes last: the set reports the last model's n-gram
	// order used (n_used) to the search.
	char *names[2] = { "domain", "general" };
	float32 weights[2];
	models[0] = dom;
	models[1] = ngram_model_retain(gen);
	// The set adds the models' scores, which are already raised to the
	// language weight (-lw), so the weights are raised to it too: the result
	// approximates (w·Pdomain + (1-w)·Pgeneral)^lw. With w itself a
	// weight of 0.02 behaved like 0.55.
	float lw = cmd_ln_float32_r(ps_get_config(ps), "-lw");
	weights[1] = powf(1 - w, lw);
	weights[0] = powf(w, lw);
	// The set owns the references to both models from here on.
	ngram_model_t *set = ngram_model_set_init(ps_get_config(ps), models, names, weights, 2);
	if (set == NULL) {
		ngram_model_free(models[1]);
		ngram_model_free(dom);
		return -3;
	}
	int rv = ps_set_lm(ps, name, set);
	ngram_model_free(set); // the search holds its own reference
	if (rv < 0)
		return -4;
	if (ps_set_search(ps, name) < 0)
		return -5;
	// Drop the search over the general model alone: it costs memory, and
	// ps_add_word would add words to the general model twice.
	if (strcmp(old, name) != 0)
		ps_unset_search(ps, old);
	return 0;
}

// cmn_reweight keeps the live CMN mean but gives it the weight of n frames, so
// that the next n frames of speech move it halfway to their own mean.
static int cmn_reweight(ps_decoder_t *ps, int n) {
	feat_t *f = ps_get_feat(ps);
	if (f == NULL || f->cmn_struct == NULL || n <= 0)
		return -1;
	cmn_t *c = f->cmn_struct;
	int i;
	for (i = 0; i < c->veclen; i++)
		c->sum[i] = c->cmn_mean[i] * n;
	c->nframe = n;
	return 0;
}

// cmn_save and cmn_restore copy the live CMN state (mean, sums, count) out
// and back; buf holds 2*veclen floats. They return veclen, or -1.
static int cmn_save(ps_decoder_t *ps, float *buf, int n, int *nframe) {
	feat_t *f = ps_get_feat(ps);
	if (f == NULL || f->cmn_struct == NULL || n < 2 * f->cmn_struct->veclen)
		return -1;
	cmn_t *c = f->cmn_struct;
	int i;
	for (i = 0; i < c->veclen; i++) {
		buf[i] = MFCC2FLOAT(c->cmn_mean[i]);
		buf[c->veclen + i] = MFCC2FLOAT(c->sum[i]);
	}
	*nframe = c->nframe;
	return c->veclen;
}

static int cmn_restore(ps_decoder_t *ps, const float *buf, int n, int nframe) {
	feat_t *f = ps_get_feat(ps);
	if (f == NULL || f->cmn_struct == NULL || n != 2 * f->cmn_struct->veclen)
		return -1;
	cmn_t *c = f->cmn_struct;
	int i;
	for (i = 0; i < c->veclen; i++) {
		c->cmn_mean[i] = FLOAT2MFCC(buf[i]);
		c->sum[i] = FLOAT2MFCC(buf[c->veclen + i]);
	}
	c->nframe = nframe;
	return c->veclen;
}

// cmn_mean0 is the current mean of c0 (log energy), for tests and logs.
static float cmn_mean0(ps_decoder_t *ps) {
	feat_t *f = ps_get_feat(ps);
	if (f == NULL || f->cmn_struct == NULL)
		return 0;
	return MFCC2FLOAT(f->cmn_struct->cmn_mean[0]);
}

// parse_args wraps cmd_ln_parse_r: the variadic cmd_ln_init cannot be called
// from cgo.
static cmd_ln_t *parse_args(int argc, char **argv) {
	return cmd_ln_parse_r(NULL, ps_args(), argc, argv, TRUE);
}

static void quiet_logs(void) {
	err_set_logfp(NULL);
}
*/
import "C"

import (
	"errors"
	"fmt"
	"sync"
	"unsafe"
)

// ErrClosed is returned by calls on a closed Decoder.
var ErrClosed = errors.New("pocketsphinx: decoder closed")

var quietOnce sync.Once

// QuietLogs turns off PocketSphinx's own logging to stderr (it logs every
// utterance verbosely). Errors are still reported to callers as Go errors.
func QuietLogs() { quietOnce.Do(func() { C.quiet_logs() }) }

// cArgs converts a Go argument list to a C argv; free releases it.
func cArgs(args []string) (argv **C.char, free func()) {
	n := len(args)
	ptrs := C.malloc(C.size_t(n+1) * C.size_t(unsafe.Sizeof(uintptr(0))))
	arr := unsafe.Slice((**C.char)(ptrs), n+1)
	for i, a := range args {
		arr[i] = C.CString(a)
	}
	arr[n] = nil
	return (**C.char)(ptrs), func() {
		for i := 0; i < n; i++ {
			C.free(unsafe.Pointer(arr[i]))
		}
		C.free(ptrs)
	}
}

// CheckArgs parses args ("-name", "value", …) against PocketSphinx's argument
// definitions without loading any model, so configuration mistakes can be
// reported before a decoder is built.
func CheckArgs(args []string) error {
	if len(args)%2 != 0 {
		return fmt.Errorf("pocketsphinx: odd number of arguments")
	}
	argv, free := cArgs(args)
	defer free()
	cfg := C.parse_args(C.int(len(args)), argv)
	if cfg == nil {
		return fmt.Errorf("pocketsphinx: invalid arguments %q", args)
	}
	C.cmd_ln_free_r(cfg)
	return nil
}

// Decoder is one PocketSphinx decoder.
type Decoder struct {
	mu      sync.Mutex
	samples int64 // fed since the last StartStream: PocketSphinx's frame times count from there
	ps      *C.ps_decoder_t
	lmath   *C.logmath_t
	frate   int
}

// New builds a decoder from command-line style arguments, for example
// {"-hmm", dir, "-lm", file, "-dict", file}. It takes a few hundred
// milliseconds and about 90 MB.
func New(args []string) (*Decoder, error) {
	if len(args)%2 != 0 {
		return nil, fmt.Errorf("pocketsphinx: odd number of arguments")
	}
	argv, free := cArgs(args)
	defer free()
	cfg := C.parse_args(C.int(len(args)), argv)
	if cfg == nil {
		return nil, fmt.Errorf("pocketsphinx: invalid arguments %q", args)
	}
	ps := C.ps_init(cfg)
	// ps_init retains the config when it succeeds; drop our reference either way.
	C.cmd_ln_free_r(cfg)
	if ps == nil {
		return nil, fmt.Errorf("pocketsphinx: ps_init failed (check the model, dictionary and language model paths)")
	}
	d := &Decoder{ps: ps, lmath: C.ps_get_logmath(ps), frate: 100}
	fr := C.CString("-frate")
	defer C.free(unsafe.Pointer(fr))
	if v := int(C.cmd_ln_int_r(C.ps_get_config(ps), fr)); v > 0 {
		d.frate = v
	}
	return d, nil
}

// FrameRate is the number of feature frames per second (100 with the default model).
func (d *Decoder) FrameRate() int { return d.frate }

// Close frees the decoder. It is idempotent.
func (d *Decoder) Close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ps != nil {
		C.ps_free(d.ps)
		d.ps = nil
		d.lmath = nil
	}
}

// StartStream tells the decoder a new, unrelated audio stream begins: it resets
// the sample counter that word times count from and the noise statistics of the
// voice-activity detector. Cepstral mean normalisation keeps its estimate.
func (d *Decoder) StartStream() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ps == nil {
		return ErrClosed
	}
	if C.ps_start_stream(d.ps) < 0 {
		return errors.New("pocketsphinx: ps_start_stream failed")
	}
	d.samples = 0
	return nil
}

// ReweightCMN keeps the cepstral mean estimate but lowers its weight to
// frames, so that the next stream's own speech takes over quickly (the weight
// is 500 frames after ps_init and grows to 800 as speech is heard). The mean
// is recomputed at the end of each utterance.
func (d *Decoder) ReweightCMN(frames int) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ps == nil {
		return ErrClosed
	}
	if C.cmn_reweight(d.ps, C.int(frames)) < 0 {
		return errors.New("pocketsphinx: cannot reweight CMN (no live CMN?)")
	}
	return nil
}

// Samples is the number of samples fed since the last StartStream; segment
// frames count from that point.
func (d *Decoder) Samples() int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.samples
}

// CMNState is a saved cepstral mean normalisation state.
type CMNState struct {
	buf    []float32
	nframe int
}

// SaveCMN copies the live CMN state.
func (d *Decoder) SaveCMN() (CMNState, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ps == nil {
		return CMNState{}, ErrClosed
	}
	buf := make([]float32, 128) // 2 × veclen (13 for the en-us model)
	var nf C.int
	n := C.cmn_save(d.ps, (*C.float)(unsafe.Pointer(&buf[0])), C.int(len(buf)), &nf)
	if n < 0 {
		return CMNState{}, errors.New("pocketsphinx: cannot read CMN (no live CMN?)")
	}
	return CMNState{buf: buf[:2*n], nframe: int(nf)}, nil
}

// RestoreCMN puts back a state saved by SaveCMN.
func (d *Decoder) RestoreCMN(st CMNState) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ps == nil {
		return ErrClosed
	}
	if len(st.buf) == 0 || C.cmn_restore(d.ps, (*C.float)(unsafe.Pointer(&st.buf[0])), C.int(len(st.buf)), C.int(st.nframe)) < 0 {
		return errors.New("pocketsphinx: cannot restore CMN")
	}
	return nil
}

// CMNEnergy is the current cepstral mean of c0, the log energy.
func (d *Decoder) CMNEnergy() float64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ps == nil {
		return 0
	}
	return float64(C.cmn_mean0(d.ps))
}

// StartUtt starts an utterance.
func (d *Decoder) StartUtt() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ps == nil {
		return ErrClosed
	}
	if C.ps_start_utt(d.ps) < 0 {
		return errors.New("pocketsphinx: ps_start_utt failed")
	}
	return nil
}

// EndUtt ends the utterance; with -fwdflat this runs the second pass.
func (d *Decoder) EndUtt() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ps == nil {
		return ErrClosed
	}
	if C.ps_end_utt(d.ps) < 0 {
		return errors.New("pocketsphinx: ps_end_utt failed")
	}
	return nil
}

// ProcessRaw feeds s16 mono samples at the model's rate.
func (d *Decoder) ProcessRaw(samples []int16) error {
	if len(samples) == 0 {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ps == nil {
		return ErrClosed
	}
	if C.ps_process_raw(d.ps, (*C.int16)(unsafe.Pointer(&samples[0])), C.size_t(len(samples)), C.FALSE, C.FALSE) < 0 {
		return errors.New("pocketsphinx: ps_process_raw failed")
	}
	d.samples += int64(len(samples))
	return nil
}

// InSpeech reports the voice-activity detector's state after the last input.
func (d *Decoder) InSpeech() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ps == nil {
		return false
	}
	return C.ps_get_in_speech(d.ps) != 0
}

// Frames is the number of frames searched in the current utterance.
func (d *Decoder) Frames() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ps == nil {
		return 0
	}
	return int(C.ps_get_n_frames(d.ps))
}

// Hyp returns the current best hypothesis (during or after an utterance).
func (d *Decoder) Hyp() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ps == nil {
		return ""
	}
	var score C.int32
	h := C.ps_get_hyp(d.ps, &score)
	if h == nil {
		return ""
	}
	return C.GoString(h)
}

// Prob returns the posterior probability (0..1) of the hypothesis. PocketSphinx
// only computes it after an utterance decoded with -bestpath yes; otherwise ok
// is false.
func (d *Decoder) Prob() (p float64, ok bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ps == nil {
		return 0, false
	}
	lp := C.ps_get_prob(d.ps)
	if lp == 0 {
		// 0 is "no estimate" in this version (and log 1, which a lattice
		// posterior never reaches exactly).
		return 0, false
	}
	return float64(C.logmath_exp(d.lmath, C.int(lp))), true
}

// Segment is one word (or filler) of a hypothesis.
type Segment struct {
	Word string
	// StartFrame and EndFrame count frames since StartStream, inclusive.
	StartFrame, EndFrame int
	// Posterior is the word's posterior probability 0..1 when a lattice was
	// searched (-bestpath yes after the utterance), else 1.
	Posterior float64
	// Acoustic and LM scores (log base of the decoder's logmath; negative).
	AcousticScore, LMScore int32
}

// Segments returns the words of the current best hypothesis with their frames.
func (d *Decoder) Segments() []Segment {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ps == nil {
		return nil
	}
	var out []Segment
	for it := C.ps_seg_iter(d.ps); it != nil; it = C.ps_seg_next(it) {
		var sf, ef C.int
		var ascr, lscr, lback C.int32
		C.ps_seg_frames(it, &sf, &ef)
		prob := C.ps_seg_prob(it, &ascr, &lscr, &lback)
		out = append(out, Segment{
			Word:          C.GoString(C.ps_seg_word(it)),
			StartFrame:    int(sf),
			EndFrame:      int(ef),
			Posterior:     float64(C.logmath_exp(d.lmath, C.int(prob))),
			AcousticScore: int32(ascr),
			LMScore:       int32(lscr),
		})
	}
	return out
}

// LookupWord returns the pronunciation of word in the decoder's dictionary.
func (d *Decoder) LookupWord(word string) (phones string, ok bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ps == nil {
		return "", false
	}
	w := C.CString(word)
	defer C.free(unsafe.Pointer(w))
	p := C.ps_lookup_word(d.ps, w)
	if p == nil {
		return "", false
	}
	defer C.free(unsafe.Pointer(p))
	return C.GoString(p), true
}

// AddWord adds a word with its pronunciation (space-separated phones of the
// acoustic model) to the dictionary and the language model. update must be true
// on the last of a batch of additions.
func (d *Decoder) AddWord(word, phones string, update bool) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ps == nil {
		return ErrClosed
	}
	w := C.CString(word)
	defer C.free(unsafe.Pointer(w))
	p := C.CString(phones)
	defer C.free(unsafe.Pointer(p))
	u := C.int(C.FALSE)
	if update {
		u = C.TRUE
	}
	if C.ps_add_word(d.ps, w, p, u) < 0 {
		return fmt.Errorf("pocketsphinx: cannot add word %q /%s/ (unknown phone?)", word, phones)
	}
	return nil
}

// InterpolateLM makes the decoder search with a linear interpolation of its
// language model (weight 1-weight) and the n-gram model in path (ARPA or
// binary, weight weight, 0 < weight < 1). Words of the new model must be in
// the dictionary. Call it before AddWord and outside an utterance.
func (d *Decoder) InterpolateLM(path string, weight float64) error {
	if !(weight > 0 && weight < 1) {
		return fmt.Errorf("pocketsphinx: interpolation weight %g outside (0, 1)", weight)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ps == nil {
		return ErrClosed
	}
	p := C.CString(path)
	defer C.free(unsafe.Pointer(p))
	name := C.CString("interpolated")
	defer C.free(unsafe.Pointer(name))
	switch C.interp_lm(d.ps, p, C.float(weight), name) {
	case 0:
		return nil
	case -1:
		return errors.New("pocketsphinx: the decoder has no n-gram language model to interpolate with")
	case -2:
		return fmt.Errorf("pocketsphinx: cannot read language model %s", path)
	default:
		return errors.New("pocketsphinx: cannot set up the interpolated language model")
	}
}
