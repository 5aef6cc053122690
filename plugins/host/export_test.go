package host

import "github.com/hashicorp/go-plugin"

// SetLaunchHook makes a host built from o call f with every go-plugin client it
// creates (tests check that killed clients are not kept).
func SetLaunchHook(o *Options, f func(*plugin.Client)) { o.launched = f }
