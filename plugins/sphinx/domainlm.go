package sphinx

import (
	_ "embed"
	"fmt"
	"os"

	"github.com/earshot-dev/earshot/plugins/sphinx/internal/pocketsphinx"
)

//go:generate go run ./internal/lmgen -kb ../coach/knowledge/interview.hcl -questions internal/lmgen/questions.txt -exclude testdata/evaluation-questions.txt -o interview.lm -corpus-out testdata/interview-corpus.txt

// interviewLM is the built-in interview-domain trigram model (ARPA). It is
// built from the coach knowledge base's question phrasings and a list of
// common interview questions; docs/sphinx.md tells what it is worth.
//
//go:embed interview.lm
var interviewLM []byte

// interpolate mixes the domain language model into d's, if one is set.
// PocketSphinx reads models only from files, so the built-in one is written
// to a temporary file for the time of the read.
func (s settings) interpolate(d *pocketsphinx.Decoder) error {
	path := s.DomainLM
	switch path {
	case "":
		return nil
	case BuiltinDomainLM:
		f, err := os.CreateTemp("", "earshot-sphinx-*.lm")
		if err != nil {
			return fmt.Errorf("sphinx: writing the built-in domain model: %w", err)
		}
		defer os.Remove(f.Name())
		_, err = f.Write(interviewLM)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("sphinx: writing the built-in domain model: %w", err)
		}
		path = f.Name()
	}
	if err := d.InterpolateLM(path, s.DomainWeight); err != nil {
		return badConfig("sphinx: domain_language_model: %v", err)
	}
	return nil
}
