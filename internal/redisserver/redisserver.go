// Package redisserver starts a private redis-server for `relais serve` and `relais demo` when no Redis
// address is configured: bound to 127.0.0.1, append-only persistence under the data directory, stopped
// when Relais stops.
package redisserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// Server is a running redis-server child.
type Server struct {
	Addr string
	cmd  *exec.Cmd
	done chan error
}

// Start runs redis-server with its data in dir.
func Start(ctx context.Context, dir string) (*Server, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, errors.New("no Redis address is configured and redis-server is not installed: install it (apt-get install redis-server) or set RELAIS_REDIS_ADDR")
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--dir", abs,
		"--appendonly", "yes", "--appendfsync", "everysec", "--save", "", "--protected-mode", "yes",
		"--daemonize", "no", "--logfile", filepath.Join(abs, "redis.log"))
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start redis-server: %w", err)
	}
	s := &Server{Addr: "127.0.0.1:" + strconv.Itoa(port), cmd: cmd, done: make(chan error, 1)}
	go func() { s.done <- cmd.Wait() }()
	rdb := redis.NewClient(&redis.Options{Addr: s.Addr})
	defer rdb.Close()
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := rdb.Ping(ctx).Err()
		if err == nil {
			return s, nil
		}
		// Loading the append-only file answers LOADING; wait for it too.
		if time.Now().After(deadline) || ctx.Err() != nil {
			s.Stop(context.Background())
			log, _ := os.ReadFile(filepath.Join(abs, "redis.log"))
			return nil, fmt.Errorf("redis-server did not start: %v\n%s", err, tail(string(log), 5))
		}
		select {
		case err := <-s.done:
			log, _ := os.ReadFile(filepath.Join(abs, "redis.log"))
			return nil, fmt.Errorf("redis-server exited: %v\n%s", err, tail(string(log), 5))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Stop asks Redis to shut down (it flushes the append-only file) and waits, killing it at the deadline.
func (s *Server) Stop(ctx context.Context) error {
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		s.cmd.Process.Kill()
		<-s.done
		return ctx.Err()
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
