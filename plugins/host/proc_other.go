//go:build !linux

package host

import (
	"os"
	"syscall"
)

// sysProcAttr: outside Linux there is no parent-death signal; go-plugin's managed
// clients (plugin.CleanupClients) still kill plugins on an orderly exit.
func sysProcAttr() *syscall.SysProcAttr { return nil }

func killGroup(pid int) {
	if p, err := os.FindProcess(pid); err == nil {
		_ = p.Kill()
	}
}
