//go:build !linux

package host

import (
	"os"
	"syscall"
)

// sysProcAttr: outside Linux there is no parent-death signal. Host.Close kills
// every plugin on an orderly exit; a daemon that dies without calling it leaves
// its plugins running.
func sysProcAttr() *syscall.SysProcAttr { return nil }

func killGroup(pid int) {
	if p, err := os.FindProcess(pid); err == nil {
		_ = p.Kill()
	}
}
