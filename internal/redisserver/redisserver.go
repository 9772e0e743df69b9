// Package redisserver starts a private redis-server for `relais serve` and `relais demo` when no Redis
// address is configured: bound to 127.0.0.1, append-only persistence under the data directory, stopped
// when Relais stops.
package redisserver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/relais-edu/relais/internal/localserver"
)

// Server is a running redis-server child.
type Server struct {
	Addr string
	proc *localserver.Process
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
	port, err := localserver.FreePort()
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	logPath := filepath.Join(abs, "redis.log")
	proc, err := localserver.Start("redis-server", exec.Command(bin, "--bind", "127.0.0.1", "--port", strconv.Itoa(port),
		"--dir", abs, "--appendonly", "yes", "--appendfsync", "everysec", "--save", "", "--protected-mode", "yes",
		"--daemonize", "no", "--logfile", logPath))
	if err != nil {
		return nil, err
	}
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	// Loading the append-only file answers LOADING; wait for it too.
	err = proc.WaitReady(ctx, 15*time.Second, syscall.SIGTERM, func() error { return rdb.Ping(ctx).Err() })
	if err != nil {
		return nil, fmt.Errorf("%w\n%s", err, localserver.LogTail(logPath, 5))
	}
	return &Server{Addr: addr, proc: proc}, nil
}

// Stop asks Redis to shut down (it flushes the append-only file) and waits, killing it at the deadline.
func (s *Server) Stop(ctx context.Context) error { return s.proc.Stop(ctx, syscall.SIGTERM) }
