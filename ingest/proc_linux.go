package ingest

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes the kernel kill the media child if the process that started it dies, so that no
// orphan keeps encoding into a directory nobody will clean.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
