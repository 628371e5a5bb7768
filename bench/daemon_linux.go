package bench

import "syscall"

// daemonProcAttr puts the daemon in its own process group (a terminal's
// ^C reaches only the bench, which then stops the daemon in order) and
// has the kernel SIGTERM it should the bench die first.
func daemonProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
