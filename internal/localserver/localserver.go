// Package localserver runs a server binary (redis-server, mailpit, postgres) as a child process on a
// free loopback port: started, waited for until it answers, and stopped with a signal and a deadline.
package localserver

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// Process is a running server child.
type Process struct {
	name string
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited, with err
	err  error
}

// Start starts cmd, the server name, and watches for its exit from then on.
func Start(name string, cmd *exec.Cmd) (*Process, error) {
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Process{name: name, cmd: cmd, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	return p, nil
}

// WaitReady calls ready every 50 ms until it returns nil. It fails when the server exits first, and
// when the timeout or ctx ends first, after stopping the server with stop (killing it 10 s later).
func (p *Process) WaitReady(ctx context.Context, timeout time.Duration, stop os.Signal, ready func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := ready()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			p.Stop(stopCtx, stop)
			cancel()
			return fmt.Errorf("%s did not answer within %s: %v", p.name, timeout, err)
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited: %v", p.name, p.err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Stop sends sig to the server and waits for it to exit, killing it when ctx ends first. Stopping a
// server that has exited does nothing.
func (p *Process) Stop(ctx context.Context, sig os.Signal) error {
	p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
		p.cmd.Process.Kill()
		<-p.done
		return ctx.Err()
	}
}

// FreePort returns a TCP port free on 127.0.0.1 at the time of the call.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// FreeAddr returns a TCP address free on 127.0.0.1 at the time of the call.
func FreeAddr() (string, error) {
	port, err := FreePort()
	return "127.0.0.1:" + strconv.Itoa(port), err
}

// Listening reports whether each address accepts a TCP connection, naming the first that does not.
func Listening(addrs ...string) error {
	for _, addr := range addrs {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			return fmt.Errorf("not listening on %s: %w", addr, err)
		}
		c.Close()
	}
	return nil
}

// LogTail returns the last n lines of a server's log file, for an error saying why it did not start.
func LogTail(path string, n int) string {
	b, _ := os.ReadFile(path)
	return Tail(string(b), n)
}

// Tail returns the last n lines of s.
func Tail(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
