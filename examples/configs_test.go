package examples

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/earshot-dev/earshot/config"
)

// Every example configuration loads without a diagnostic (stage blocks are checked
// against the plugins' schemas by `earshot validate`, which the e2e suite runs).
func TestExampleConfigsLoad(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("configs", "*.hcl"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no example configs: %v", err)
	}
	env := map[string]string{"JWT_SECRET": "example-secret-0123456789abcdef0123456789"}
	l := config.Loader{LookupEnv: func(k string) (string, bool) {
		if v, ok := env[k]; ok {
			return v, true
		}
		return os.LookupEnv(k)
	}}
	for _, f := range files {
		cfg, diags := l.Load(f)
		if len(diags) > 0 {
			var b strings.Builder
			_ = config.WriteDiagnostics(&b, cfg.Files(), diags, 100, false)
			t.Errorf("%s:\n%s", f, b.String())
			continue
		}
		if len(cfg.Pipelines) == 0 || cfg.DefaultPipeline == "" {
			t.Errorf("%s: no default pipeline", f)
		}
	}
}
