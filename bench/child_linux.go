package bench

import (
	"os/exec"
	"syscall"
)

// dieWithParent has the kernel kill cmd when the benchmark dies, so that
// an interrupted run leaves no server behind holding its data directory.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
