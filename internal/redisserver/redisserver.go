// Package redisserver starts a private redis-server for `relais serve` and `relais demo` when no Redis
// address is configured: bound to 127.0.0.1, append-only persistence under the data directory, stopped
// when Relais stops. For tests it also starts the shapes a multi-machine deployment runs, on loopback:
// a master with a replica and three sentinels (StartSentinel), and a Redis Cluster (StartCluster).
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
	return start(ctx, dir, nil, nil, "--appendonly", "yes", "--appendfsync", "everysec", "--protected-mode", "yes")
}

// StartTLS runs redis-server for tests with its data in dir, answering only TLS with the PEM
// certificate and key in certFile and keyFile (clients show none), and with args (ACL users, say).
// client is how to reach it (the roots that trust the certificate, and the credentials args set).
func StartTLS(ctx context.Context, dir, certFile, keyFile string, client *redis.Options, args ...string) (*Server, error) {
	return start(ctx, dir, nil, client, append([]string{"--appendonly", "no", "--tls-cert-file", certFile,
		"--tls-key-file", keyFile, "--tls-auth-clients", "no"}, args...)...)
}

// start runs redis-server on a free loopback port with its files in dir, the config file conf (nil: none)
// and args, and waits until it answers client's PING (nil: a plain client without credentials); a
// client with TLS makes the port the TLS port.
func start(ctx context.Context, dir string, conf []byte, client *redis.Options, args ...string) (*Server, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, errors.New("no Redis address is configured and redis-server is not installed: install it (apt-get install redis-server) or set RELAIS_REDIS_URL")
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
	var argv []string
	if conf != nil { // a sentinel rewrites its config file: it must be its own
		confPath := filepath.Join(abs, "redis.conf")
		if err := os.WriteFile(confPath, conf, 0o600); err != nil {
			return nil, err
		}
		argv = append(argv, confPath)
	}
	ports := []string{"--port", strconv.Itoa(port)}
	if client == nil {
		client = &redis.Options{}
	}
	if client.TLSConfig != nil {
		ports = []string{"--port", "0", "--tls-port", strconv.Itoa(port)}
	}
	argv = append(argv, "--bind", "127.0.0.1", "--dir", abs, "--save", "", "--daemonize", "no", "--logfile", logPath)
	argv = append(argv, ports...)
	proc, err := localserver.Start("redis-server", exec.Command(bin, append(argv, args...)...))
	if err != nil {
		return nil, err
	}
	opts := *client
	opts.Addr = addr
	rdb := redis.NewClient(&opts)
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

// Kill kills Redis with SIGKILL, as a machine's crash would, and waits for it to be gone.
func (s *Server) Kill() { s.proc.Stop(context.Background(), syscall.SIGKILL) }
