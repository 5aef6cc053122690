package stageconfig

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"

	"github.com/earshot-dev/earshot/plugins/sdk"
)

var schema = sdk.Schema{Attributes: []sdk.Attribute{
	{Name: "name", Type: sdk.TypeString, Required: true},
	{Name: "rate", Type: sdk.TypeNumber, Default: 16000},
	{Name: "enabled", Type: sdk.TypeBool, Default: false},
	{Name: "silence", Type: sdk.TypeDuration, Default: "500ms"},
	{Name: "buffer", Type: sdk.TypeSize, Default: "1MiB"},
	{Name: "small", Type: sdk.TypeSize},
	{Name: "hints", Type: sdk.TypeListString},
	{Name: "labels", Type: sdk.TypeMapString, Default: map[string]string{}},
}}

func parse(t *testing.T, path string) hcl.Body {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, diags := hclparse.NewParser().ParseHCL(src, path)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return f.Body
}

func TestDecodeGood(t *testing.T) {
	js, diags := Decode(parse(t, "testdata/good.hcl"), nil, schema)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	var got map[string]any
	if err := json.Unmarshal(js, &got); err != nil {
		t.Fatal(err)
	}
	want := `{"buffer":65536,"enabled":true,"hints":["Kubernetes","Go"],"labels":{"team":"infra"},"name":"sphinx","rate":16000,"silence":"750ms","small":512}`
	if string(js) != want {
		t.Errorf("got  %s\nwant %s", js, want)
	}
}

func TestDecodeDefaults(t *testing.T) {
	f, _ := hclparse.NewParser().ParseHCL([]byte(`name = "x"`), "d.hcl")
	js, diags := Decode(f.Body, nil, schema)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	want := `{"buffer":1048576,"enabled":false,"labels":{},"name":"x","rate":16000,"silence":"500ms"}`
	if string(js) != want {
		t.Errorf("got  %s\nwant %s", js, want)
	}
}

func TestDecodeBad(t *testing.T) {
	_, diags := Decode(parse(t, "testdata/bad.hcl"), nil, schema)
	// hcldec stops at type errors before the value checks; report what it found.
	want := map[int]string{2: "Incorrect attribute value type", 6: "Incorrect attribute value type", 7: "Unsupported argument"}
	got := map[int]string{}
	for _, d := range diags {
		if d.Subject == nil || d.Subject.Filename != "testdata/bad.hcl" {
			t.Errorf("diagnostic without a source range: %v", d)
			continue
		}
		got[d.Subject.Start.Line] = d.Summary
	}
	for line, summary := range want {
		if got[line] != summary {
			t.Errorf("line %d: got %q, want %q (all: %v)", line, got[line], summary, diags)
		}
	}
	// With the type errors fixed, the value checks report durations and sizes at
	// their lines.
	src := "name = \"x\"\nsilence = \"soon\"\nbuffer = \"12 parsecs\"\nsmall = 1.5\n"
	f, _ := hclparse.NewParser().ParseHCL([]byte(src), "v.hcl")
	_, diags = Decode(f.Body, nil, schema)
	lines := map[int]string{}
	for _, d := range diags {
		lines[d.Subject.Start.Line] = d.Detail
	}
	for line, frag := range map[int]string{2: "not a duration", 3: "unknown unit", 4: "whole"} {
		if !strings.Contains(lines[line], frag) {
			t.Errorf("line %d: %q does not say %q (all: %v)", line, lines[line], frag, diags)
		}
	}
}

func TestDecodeMissingRequired(t *testing.T) {
	f, _ := hclparse.NewParser().ParseHCL([]byte("rate = 8000\n"), "m.hcl")
	_, diags := Decode(f.Body, nil, schema)
	if !diags.HasErrors() || !strings.Contains(diags.Error(), `"name" is required`) {
		t.Errorf("missing required attribute: %v", diags)
	}
}

func TestValidate(t *testing.T) {
	if err := Validate(schema); err != nil {
		t.Fatal(err)
	}
	bad := sdk.Schema{Attributes: []sdk.Attribute{
		{Name: "Bad-Name", Type: sdk.TypeString},
		{Name: "x", Type: "float"},
		{Name: "d", Type: sdk.TypeDuration, Default: "soon"},
		{Name: "d", Type: sdk.TypeNumber, Default: "1"},
		{Name: "r", Type: sdk.TypeString, Required: true, Default: "x"},
		{Name: "l", Type: sdk.TypeListString, Default: []any{"a", 1}},
	}}
	err := Validate(bad)
	if err == nil {
		t.Fatal("invalid schema accepted")
	}
	for _, frag := range []string{`"Bad-Name"`, `unknown type "float"`, "not a duration", "declared twice", "is not a number", "required attributes cannot", "element 1"} {
		if !strings.Contains(err.Error(), frag) {
			t.Errorf("Validate error does not mention %q:\n%v", frag, err)
		}
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"512": 512, "64KiB": 65536, "1MB": 1e6, "1.5MiB": 1572864, "2 GiB": 2 << 30, "10b": 10, "4k": 4096} {
		got, err := ParseSize(in)
		if err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1", "1TB", "KiB", "1.2.3"} {
		if _, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) accepted", in)
		}
	}
}

func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"512", "64KiB", "1.5MB", "2 GiB", "", "-1", "1e9", "99999999999999999999GiB", "1.2.3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseSize(s)
		if err == nil && n < 0 {
			t.Errorf("ParseSize(%q) = %d", s, n)
		}
	})
}
