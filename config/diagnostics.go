package config

import (
	"io"

	"github.com/hashicorp/hcl/v2"
)

// WriteDiagnostics renders diags for people: severity, summary, file:line:column,
// the offending source lines and the detail, wrapped to width columns (0: no
// wrapping), with ANSI colour when color is set. files is Config.Files().
func WriteDiagnostics(w io.Writer, files map[string]*hcl.File, diags hcl.Diagnostics, width uint, color bool) error {
	return hcl.NewDiagnosticTextWriter(w, files, width, color).WriteDiagnostics(diags)
}
