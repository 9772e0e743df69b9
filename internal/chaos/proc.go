package chaos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is one child process of the cluster, in its own process group so that a kill reaches what it
// started too (the media child processes of a worker). Its output goes to a log file in the run's
// directory.
type proc struct {
	name string
	path string
	args []string
	env  []string
	log  string // path of the output file

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has been waited for
	err  error         // cmd.Wait's result, once done
}

func newProc(name, logDir, path string, env []string, args ...string) *proc {
	return &proc{name: name, path: path, args: args, env: env, log: filepath.Join(logDir, name+".log")}
}

// start runs the process. Its group is killed when ctx ends. Starting a process that runs already is
// refused with errRunning, so that the supervisor and the chaos never run one twice.
func (p *proc) start(ctx context.Context) error {
	if p.running() {
		return errRunning
	}
	out, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "=== %s start %s\n", time.Now().UTC().Format(time.RFC3339Nano), strings.Join(append([]string{p.path}, p.args...), " "))
	cmd := exec.CommandContext(ctx, p.path, p.args...)
	cmd.Env = p.env
	cmd.Stdout, cmd.Stderr = out, out
	// Setpgid: its own group, killed whole. Pdeathsig: if this process dies without cleaning up, the
	// child does not outlive it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		out.Close()
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	done := make(chan struct{})
	p.mu.Lock()
	p.cmd, p.done, p.err = cmd, done, nil
	p.mu.Unlock()
	go func() {
		err := cmd.Wait()
		fmt.Fprintf(out, "=== %s exit: %v\n", time.Now().UTC().Format(time.RFC3339Nano), err)
		out.Close()
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		close(done)
	}()
	return nil
}

// running reports whether the process was started and has not exited.
func (p *proc) running() bool {
	p.mu.Lock()
	done := p.done
	p.mu.Unlock()
	if done == nil {
		return false
	}
	select {
	case <-done:
		return false
	default:
		return true
	}
}

// exited returns a channel closed when the current run of the process ends (nil if never started).
func (p *proc) exited() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.done
}

// kill sends SIGKILL to the process group and waits for the process.
func (p *proc) kill() {
	p.signal(syscall.SIGKILL, 10*time.Second)
}

// stop asks the process to stop (SIGTERM to its group), then kills the group after grace.
func (p *proc) stop(grace time.Duration) {
	if !p.signal(syscall.SIGTERM, grace) {
		p.kill()
	}
}

// signal sends sig to the group and waits up to wait for the exit; it reports whether the process
// is gone.
func (p *proc) signal(sig syscall.Signal, wait time.Duration) bool {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil {
		return true
	}
	select {
	case <-done:
		// The leader is gone; members of its group may not be.
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		return true
	default:
	}
	syscall.Kill(-cmd.Process.Pid, sig)
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-done:
		if sig != syscall.SIGKILL {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // stragglers of the group
		}
		return true
	case <-t.C:
		return false
	}
}

// tail returns the last n lines of the process's log.
func (p *proc) tail(n int) string {
	f, err := os.Open(p.log)
	if err != nil {
		return ""
	}
	defer f.Close()
	st, _ := f.Stat()
	const max = 16 << 10
	if st != nil && st.Size() > max {
		f.Seek(-max, io.SeekEnd)
	}
	b, _ := io.ReadAll(f)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

var errRunning = errors.New("already running")
