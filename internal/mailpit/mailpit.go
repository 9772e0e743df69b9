// Package mailpit runs a local mailpit SMTP server (one that shows what it received through an HTTP
// API) for the demo and the tests, bound to 127.0.0.1 on free ports.
package mailpit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/relais-edu/relais/internal/localserver"
)

// Server is a running mailpit.
type Server struct {
	SMTPAddr string // host:port
	APIURL   string // http://host:port
	proc     *localserver.Process
}

// Binary finds mailpit on PATH or in ~/go/bin.
func Binary() (string, error) {
	if p, err := exec.LookPath("mailpit"); err == nil {
		return p, nil
	}
	p := filepath.Join(os.Getenv("HOME"), "go", "bin", "mailpit")
	if _, err := os.Stat(p); err == nil {
		return p, nil
	}
	return "", errors.New("mailpit is not installed: run scripts/setup.sh (it builds mailpit v1.28.0) or set RELAIS_SMTP_HOST")
}

// Start runs mailpit until Stop, with its database in dir.
func Start(ctx context.Context, dir string) (*Server, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	smtp, err := localserver.FreeAddr()
	if err != nil {
		return nil, err
	}
	web, err := localserver.FreeAddr()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	proc, err := localserver.Start("mailpit", exec.Command(bin, "--smtp", smtp, "--listen", web,
		"--disable-version-check", "--smtp-disable-rdns", "--smtp-auth-accept-any", "--smtp-auth-allow-insecure",
		"--max", "200000", "--quiet", "--database", filepath.Join(dir, "mailpit.db")))
	if err != nil {
		return nil, err
	}
	err = proc.WaitReady(ctx, 20*time.Second, syscall.SIGTERM, func() error { return localserver.Listening(smtp, web) })
	if err != nil {
		return nil, err
	}
	return &Server{SMTPAddr: smtp, APIURL: "http://" + web, proc: proc}, nil
}

// Total returns the number of messages mailpit holds.
func Total(ctx context.Context, apiURL string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", apiURL+"/api/v1/messages?limit=1", nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var body struct {
		Total int `json:"total"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return 0, fmt.Errorf("mailpit messages: %w", err)
	}
	return body.Total, nil
}

// Stop ends mailpit.
func (s *Server) Stop(ctx context.Context) error { return s.proc.Stop(ctx, syscall.SIGTERM) }
