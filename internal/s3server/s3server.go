// Package s3server runs a real S3-compatible server, versitygw with its POSIX back end, as a child
// process on a free loopback port, for the tests and the media benchmark. scripts/test.sh installs the
// binary (go install github.com/versity/versitygw/cmd/versitygw@VERSION).
package s3server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/relais-edu/relais/internal/localserver"
)

// Binary is the server's command name.
const Binary = "versitygw"

// Server is a running versitygw.
type Server struct {
	Endpoint  string // http://127.0.0.1:PORT
	AccessKey string
	SecretKey string
	Dir       string // the buckets are its subdirectories

	addr string
	bin  string
	log  string
	proc *localserver.Process
}

// Find returns the path of the versitygw binary: on PATH, in GOBIN, or in ~/go/bin where go install
// puts it.
func Find() (string, error) {
	if p, err := exec.LookPath(Binary); err == nil {
		return p, nil
	}
	var dirs []string
	if d := os.Getenv("GOBIN"); d != "" {
		dirs = append(dirs, d)
	}
	if d := os.Getenv("GOPATH"); d != "" {
		dirs = append(dirs, filepath.Join(d, "bin"))
	}
	if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(home, "go", "bin"))
	}
	for _, d := range dirs {
		p := filepath.Join(d, Binary)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	return "", errors.New("versitygw is not installed: run scripts/test.sh, or go install github.com/versity/versitygw/cmd/versitygw@v1.8.0")
}

// Start runs versitygw over dir (made if missing) on a free 127.0.0.1 port.
func Start(ctx context.Context, dir string) (*Server, error) {
	bin, err := Find()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	port, err := localserver.FreePort()
	if err != nil {
		return nil, err
	}
	s := &Server{AccessKey: "relaistest", SecretKey: "relais-test-secret-key", Dir: abs, bin: bin,
		addr: "127.0.0.1:" + strconv.Itoa(port), log: abs + ".log"}
	s.Endpoint = "http://" + s.addr
	return s, s.start(ctx)
}

func (s *Server) start(ctx context.Context) error {
	logf, err := os.OpenFile(s.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(s.bin, "--access", s.AccessKey, "--secret", s.SecretKey, "--port", s.addr, "posix", s.Dir)
	cmd.Stdout, cmd.Stderr = logf, logf
	proc, err := localserver.Start(Binary, cmd)
	if err != nil {
		return err
	}
	hc := &http.Client{Timeout: time.Second}
	err = proc.WaitReady(ctx, 20*time.Second, syscall.SIGTERM, func() error {
		resp, err := hc.Get(s.Endpoint + "/")
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	})
	if err != nil {
		return fmt.Errorf("%w\n%s", err, localserver.LogTail(s.log, 10))
	}
	s.proc = proc
	return nil
}

// Stop stops the server; its data stays in Dir.
func (s *Server) Stop(ctx context.Context) error {
	if s.proc == nil {
		return nil
	}
	err := s.proc.Stop(ctx, syscall.SIGTERM)
	s.proc = nil
	return err
}

// Restart starts the server again on the same port and data, after Stop.
func (s *Server) Restart(ctx context.Context) error {
	if s.proc != nil {
		return errors.New("s3server: restart of a running server")
	}
	return s.start(ctx)
}
