package host

import (
	"syscall"
)

// sysProcAttr makes the kernel kill a plugin when the daemon dies, even by SIGKILL
// (Pdeathsig), and puts it in its own process group so a terminal's Ctrl-C reaches
// only the daemon, which then shuts plugins down in order.
//
// Pdeathsig fires when the thread that started the child exits; Go keeps its
// threads for the life of the process unless a goroutine locked to one exits, which
// this package never does.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
}

// killGroup kills the plugin's process group (the plugin and anything it started).
func killGroup(pid int) {
	if pid > 0 {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
	}
}
