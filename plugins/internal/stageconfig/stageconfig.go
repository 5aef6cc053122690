// Package stageconfig checks plugin schemas and decodes a pipeline stage block
// against its plugin's schema (hcldec), the way Nomad decodes driver config: every
// mistake is an hcl.Diagnostic at the source range of the attribute at fault.
package stageconfig

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/gocty"

	"github.com/earshot-dev/earshot/plugins/sdk"
)

var identRe = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// Validate reports what is wrong with a plugin's schema: names that are not HCL
// identifiers (lower snake case) or repeat, unknown types, defaults of the wrong
// type, required attributes with a default. Defaults may be Go values (as a plugin
// declares them) or their JSON-decoded form (as the host receives them).
func Validate(s sdk.Schema) error {
	var errs []error
	seen := map[string]bool{}
	for _, a := range s.Attributes {
		if !identRe.MatchString(a.Name) {
			errs = append(errs, fmt.Errorf("attribute %q: name must be lower snake case", a.Name))
		}
		if seen[a.Name] {
			errs = append(errs, fmt.Errorf("attribute %q: declared twice", a.Name))
		}
		seen[a.Name] = true
		if _, err := ctyType(a.Type); err != nil {
			errs = append(errs, fmt.Errorf("attribute %q: %w", a.Name, err))
			continue
		}
		if a.Default != nil {
			if a.Required {
				errs = append(errs, fmt.Errorf("attribute %q: required attributes cannot have a default", a.Name))
			}
			if _, err := normalize(a.Type, a.Default); err != nil {
				errs = append(errs, fmt.Errorf("attribute %q: default: %w", a.Name, err))
			}
		}
	}
	return errors.Join(errs...)
}

func ctyType(t sdk.AttrType) (cty.Type, error) {
	switch t {
	case sdk.TypeString, sdk.TypeDuration:
		return cty.String, nil
	case sdk.TypeNumber:
		return cty.Number, nil
	case sdk.TypeBool:
		return cty.Bool, nil
	case sdk.TypeSize:
		return cty.DynamicPseudoType, nil // a string "64KiB" or a number of bytes
	case sdk.TypeListString:
		return cty.List(cty.String), nil
	case sdk.TypeMapString:
		return cty.Map(cty.String), nil
	}
	return cty.NilType, fmt.Errorf("unknown type %q", t)
}

// normalize turns a Go or JSON-decoded value of an attribute into its JSON form
// for Configure: durations stay strings (checked), sizes become byte counts.
func normalize(t sdk.AttrType, v any) (any, error) {
	switch t {
	case sdk.TypeString:
		if s, ok := v.(string); ok {
			return s, nil
		}
	case sdk.TypeDuration:
		if s, ok := v.(string); ok {
			if _, err := time.ParseDuration(s); err != nil {
				return nil, fmt.Errorf("%q is not a duration (write e.g. \"500ms\", \"2s\", \"1m30s\")", s)
			}
			return s, nil
		}
	case sdk.TypeNumber:
		switch n := v.(type) {
		case float64:
			return n, nil
		case float32:
			return float64(n), nil
		case int:
			return float64(n), nil
		case int64:
			return float64(n), nil
		}
	case sdk.TypeBool:
		if b, ok := v.(bool); ok {
			return b, nil
		}
	case sdk.TypeSize:
		switch n := v.(type) {
		case string:
			return ParseSize(n)
		case float64:
			return sizeFromFloat(n)
		case int:
			return sizeFromFloat(float64(n))
		case int64:
			return sizeFromFloat(float64(n))
		}
	case sdk.TypeListString:
		switch l := v.(type) {
		case []string:
			return l, nil
		case []any:
			out := make([]string, len(l))
			for i, e := range l {
				s, ok := e.(string)
				if !ok {
					return nil, fmt.Errorf("element %d is %T, want a string", i, e)
				}
				out[i] = s
			}
			return out, nil
		}
	case sdk.TypeMapString:
		switch m := v.(type) {
		case map[string]string:
			return m, nil
		case map[string]any:
			out := make(map[string]string, len(m))
			for k, e := range m {
				s, ok := e.(string)
				if !ok {
					return nil, fmt.Errorf("element %q is %T, want a string", k, e)
				}
				out[k] = s
			}
			return out, nil
		}
	default:
		return nil, fmt.Errorf("unknown type %q", t)
	}
	return nil, fmt.Errorf("%v (%T) is not a %s", v, v, t)
}

func sizeFromFloat(f float64) (int64, error) {
	if f < 0 || f != math.Trunc(f) || f > math.MaxInt64/2 {
		return 0, fmt.Errorf("%v is not a whole, non-negative number of bytes", f)
	}
	return int64(f), nil
}

var sizeRe = regexp.MustCompile(`^\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]*)\s*$`)

var sizeUnits = map[string]float64{
	"": 1, "b": 1,
	"kb": 1e3, "mb": 1e6, "gb": 1e9,
	"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30,
	"k": 1 << 10, "m": 1 << 20, "g": 1 << 30,
}

// ParseSize parses "512", "64KiB", "1.5MB", "2GiB" into bytes.
func ParseSize(s string) (int64, error) {
	m := sizeRe.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("%q is not a size (write e.g. \"64KiB\", \"1MB\" or a number of bytes)", s)
	}
	unit, ok := sizeUnits[strings.ToLower(m[2])]
	if !ok {
		return 0, fmt.Errorf("%q: unknown unit %q (use B, KB, MB, GB, KiB, MiB, GiB)", s, m[2])
	}
	f, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a size: %w", s, err)
	}
	return sizeFromFloat(math.Round(f * unit))
}

// Spec builds the hcldec spec of a (valid) schema.
func Spec(s sdk.Schema) (hcldec.ObjectSpec, error) {
	spec := hcldec.ObjectSpec{}
	for _, a := range s.Attributes {
		t, err := ctyType(a.Type)
		if err != nil {
			return nil, err
		}
		attr := &hcldec.AttrSpec{Name: a.Name, Type: t, Required: a.Required}
		spec[a.Name] = attr
	}
	return spec, nil
}

// Decode decodes a stage block against the schema and returns the JSON object for
// Configure, with the defaults applied.
func Decode(body hcl.Body, ectx *hcl.EvalContext, s sdk.Schema) ([]byte, hcl.Diagnostics) {
	spec, err := Spec(s)
	if err != nil {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid plugin schema", Detail: err.Error(), Subject: body.MissingItemRange().Ptr()}}
	}
	val, diags := hcldec.Decode(body, spec, ectx)
	if diags.HasErrors() {
		return nil, diags
	}
	out := map[string]any{}
	for _, a := range s.Attributes {
		v := val.GetAttr(a.Name)
		if v.IsNull() {
			if a.Default != nil {
				d, err := normalize(a.Type, a.Default)
				if err != nil {
					diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid plugin schema",
						Detail: fmt.Sprintf("attribute %q: default: %v", a.Name, err), Subject: body.MissingItemRange().Ptr()})
					continue
				}
				out[a.Name] = d
			}
			continue
		}
		rng := hcldec.SourceRange(body, spec[a.Name])
		if !v.IsWhollyKnown() {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unknown value",
				Detail: fmt.Sprintf("The value of %q must be known when the configuration is loaded.", a.Name), Subject: &rng})
			continue
		}
		goVal, err := fromCty(a.Type, v)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid value for " + strconv.Quote(a.Name),
				Detail: err.Error(), Subject: &rng})
			continue
		}
		out[a.Name] = goVal
	}
	if diags.HasErrors() {
		return nil, diags
	}
	js, err := json.Marshal(out)
	if err != nil {
		return nil, append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Cannot encode configuration", Detail: err.Error(), Subject: body.MissingItemRange().Ptr()})
	}
	return js, diags
}

func fromCty(t sdk.AttrType, v cty.Value) (any, error) {
	switch t {
	case sdk.TypeString:
		return v.AsString(), nil
	case sdk.TypeDuration:
		return normalize(t, v.AsString())
	case sdk.TypeBool:
		return v.True(), nil
	case sdk.TypeNumber:
		f, _ := v.AsBigFloat().Float64()
		return f, nil
	case sdk.TypeSize:
		switch v.Type() {
		case cty.String:
			return ParseSize(v.AsString())
		case cty.Number:
			f, acc := v.AsBigFloat().Float64()
			if acc != big.Exact {
				return nil, fmt.Errorf("%s is not a whole number of bytes", v.AsBigFloat().String())
			}
			return sizeFromFloat(f)
		}
		return nil, fmt.Errorf("a size is a string such as \"64KiB\" or a number of bytes, not a %s", v.Type().FriendlyName())
	case sdk.TypeListString:
		var l []string
		if err := gocty.FromCtyValue(v, &l); err != nil {
			return nil, err
		}
		return l, nil
	case sdk.TypeMapString:
		var m map[string]string
		if err := gocty.FromCtyValue(v, &m); err != nil {
			return nil, err
		}
		return m, nil
	}
	return nil, fmt.Errorf("unknown type %q", t)
}

// Defaults returns the JSON configuration made of the schema's defaults alone
// merged with overrides (Go values, as a test would write them).
func Defaults(s sdk.Schema, overrides map[string]any) ([]byte, error) {
	out := map[string]any{}
	for _, a := range s.Attributes {
		v, ok := overrides[a.Name]
		if !ok {
			v = a.Default
		}
		if v == nil {
			continue
		}
		n, err := normalize(a.Type, v)
		if err != nil {
			return nil, fmt.Errorf("attribute %q: %w", a.Name, err)
		}
		out[a.Name] = n
	}
	for k := range overrides {
		found := false
		for _, a := range s.Attributes {
			found = found || a.Name == k
		}
		if !found {
			return nil, fmt.Errorf("attribute %q is not in the schema", k)
		}
	}
	return json.Marshal(out)
}
