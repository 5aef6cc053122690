package main

import (
	"testing"
	"time"

	"github.com/earshot-dev/earshot/config"
)

func TestHostSpecCoalesceWindow(t *testing.T) {
	d := func(v time.Duration) *time.Duration { return &v }
	for _, c := range []struct {
		name string
		in   *time.Duration
		want time.Duration
	}{
		{"unset: the host's default", nil, 0},
		{"0s: off", d(0), -1},
		{"4ms", d(4 * time.Millisecond), 4 * time.Millisecond},
	} {
		got := hostSpec(config.Plugin{Name: "sphinx", CoalesceWindow: c.in}).CoalesceWindow
		if got != c.want {
			t.Errorf("%s: host.Spec.CoalesceWindow = %v, want %v", c.name, got, c.want)
		}
	}
}
