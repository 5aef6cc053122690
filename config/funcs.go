package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// maxFileSize bounds what file() reads: it is for secrets, keys and small texts.
const maxFileSize = 1 << 20

// EvalContext returns the context every expression of the configuration is evaluated
// in: the functions env(name[, default]), file(path) (relative to Dir) and
// trimspace(s), and no variables. The plugin host decodes stage bodies with it, so
// stage blocks can use the same functions.
func (c *Config) EvalContext() *hcl.EvalContext {
	return newEvalContext(c.Dir, c.lookupEnv)
}

func newEvalContext(dir string, lookupEnv func(string) (string, bool)) *hcl.EvalContext {
	if lookupEnv == nil {
		lookupEnv = os.LookupEnv
	}
	return &hcl.EvalContext{
		Functions: map[string]function.Function{
			"env":       envFunc(lookupEnv),
			"file":      fileFunc(dir),
			"trimspace": stdlib.TrimSpaceFunc,
		},
	}
}

// envUnsetError is env()'s error for an unset variable without a default; Parse turns
// it into a "Missing environment variable" diagnostic naming the variable.
type envUnsetError struct{ name string }

func (e *envUnsetError) Error() string {
	return fmt.Sprintf("environment variable %s is not set", e.name)
}

// fileError is file()'s error; Parse turns it into a "Cannot read file" diagnostic.
type fileError struct {
	path string
	err  error
}

func (e *fileError) Error() string { return fmt.Sprintf("cannot read %s: %v", e.path, e.err) }
func (e *fileError) Unwrap() error { return e.err }

func envFunc(lookupEnv func(string) (string, bool)) function.Function {
	return function.New(&function.Spec{
		Description: "Returns the value of an environment variable, or the default when it is unset.",
		Params:      []function.Parameter{{Name: "name", Type: cty.String}},
		VarParam:    &function.Parameter{Name: "default", Type: cty.String},
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			if len(args) > 2 {
				return cty.NilVal, function.NewArgErrorf(2, "env takes a name and at most one default")
			}
			name := args[0].AsString()
			if name == "" {
				return cty.NilVal, function.NewArgErrorf(0, "the variable name must not be empty")
			}
			if v, ok := lookupEnv(name); ok {
				return cty.StringVal(v), nil
			}
			if len(args) == 2 {
				return args[1], nil
			}
			return cty.NilVal, &envUnsetError{name: name}
		},
	})
}

func fileFunc(dir string) function.Function {
	return function.New(&function.Spec{
		Description: "Returns the contents of a UTF-8 file; a relative path is relative to the configuration file.",
		Params:      []function.Parameter{{Name: "path", Type: cty.String}},
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			p := args[0].AsString()
			if p == "" {
				return cty.NilVal, function.NewArgErrorf(0, "the path must not be empty")
			}
			p = resolvePath(dir, p)
			b, err := readSmallFile(p)
			if err != nil {
				return cty.NilVal, &fileError{path: p, err: err}
			}
			if !utf8.Valid(b) {
				return cty.NilVal, &fileError{path: p, err: errors.New("contents are not valid UTF-8")}
			}
			return cty.StringVal(string(b)), nil
		},
	})
}

// resolvePath makes p absolute against dir; absolute paths and "~"-free relative
// paths only (no shell expansion: what you write is what is opened).
func resolvePath(dir, p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(dir, p)
}

func readSmallFile(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return nil, errors.New("is a directory")
	}
	b := make([]byte, 0, min(st.Size(), maxFileSize)+1)
	buf := make([]byte, 32<<10)
	for {
		n, err := f.Read(buf)
		b = append(b, buf[:n]...)
		if len(b) > maxFileSize {
			return nil, fmt.Errorf("larger than %s", FormatSize(maxFileSize))
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return b, nil
			}
			return nil, err
		}
	}
}

// ExplainFunctionErrors rewrites, in place, HCL's generic "Error in function call"
// diagnostics from env() and file() into ones that say what to do ("Missing
// environment variable", "Cannot read file"), pointing at the whole call. Loading
// does this for the fixed structure; the plugin host calls it on the diagnostics of
// stage bodies it decodes with EvalContext.
func ExplainFunctionErrors(diags hcl.Diagnostics) {
	for _, d := range diags {
		extra, ok := hcl.DiagnosticExtra[hclsyntax.FunctionCallDiagExtra](d)
		if !ok || extra.FunctionCallError() == nil {
			continue
		}
		var unset *envUnsetError
		var ferr *fileError
		switch err := extra.FunctionCallError(); {
		case errors.As(err, &unset):
			d.Summary = "Missing environment variable"
			d.Detail = fmt.Sprintf("The configuration reads the environment variable %s, which is not set. Set %s, or give env() a default as its second argument: env(%q, \"…\").",
				unset.name, unset.name, unset.name)
			if unset.name == EnvJWTSecret {
				d.Detail = fmt.Sprintf("The configuration reads the JWT secret from the environment variable %s, which is not set. Set %s to a random string of at least %d bytes, for example: export %s=\"$(openssl rand -hex 32)\". For local development, `earshot serve --dev` generates a temporary secret.",
					EnvJWTSecret, EnvJWTSecret, MinSecretLen, EnvJWTSecret)
			}
			if d.Context != nil {
				d.Subject = d.Context // the whole call, not just its name
			}
		case errors.As(err, &ferr):
			d.Summary = "Cannot read file"
			d.Detail = fmt.Sprintf("file() cannot read %s: %v. A relative path is relative to the directory of the configuration file.", ferr.path, ferr.err)
			if d.Context != nil {
				d.Subject = d.Context
			}
		}
	}
}
