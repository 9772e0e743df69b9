// Package oidcprovider runs a real OpenID provider for the sign-in tests: the example provider of the
// certified github.com/zitadel/oidc library (scripts/lib.sh installs it as ~/go/bin/server), with its
// users from a file and its login form, on a free loopback port. Its issuer is http://localhost:PORT/
// (the example names its issuer so); its confidential client is "web" with the secret "secret".
package oidcprovider

import (
	"context"
	"debug/buildinfo"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/relais-edu/relais/internal/localserver"
)

// Version is the version of github.com/zitadel/oidc whose example provider the tests run.
const Version = "v3.52.0"

// ProcessName is the name the provider's processes run under (their argv[0]).
const ProcessName = "relais-test-oidc-provider"

// The example's confidential client.
const (
	ClientID     = "web"
	ClientSecret = "secret"
)

// User is a person the provider knows. Their user name is what its profile scope gives as the claim
// preferred_username.
type User struct {
	ID        string `json:"ID"`
	Username  string `json:"Username"`
	Password  string `json:"Password"`
	FirstName string `json:"FirstName"`
	LastName  string `json:"LastName"`
}

// Provider is a running provider.
type Provider struct {
	Issuer string
	proc   *localserver.Process
}

// Binary finds the example provider, at Version, in GOBIN, GOPATH/bin or ~/go/bin (go install names
// it "server": its build information tells it from another program of that name).
func Binary() (string, error) {
	install := fmt.Sprintf("run scripts/test.sh or 'go install github.com/zitadel/oidc/v3/example/server@%s'", Version)
	for _, dir := range []string{os.Getenv("GOBIN"), filepath.Join(os.Getenv("GOPATH"), "bin"), filepath.Join(os.Getenv("HOME"), "go", "bin")} {
		if dir == "" || dir == "bin" {
			continue
		}
		p := filepath.Join(dir, "server")
		if _, err := os.Stat(p); err != nil {
			continue
		}
		info, err := buildinfo.ReadFile(p)
		if err != nil || info.Path != "github.com/zitadel/oidc/v3/example/server" {
			return "", fmt.Errorf("%s is not the OpenID provider of zitadel/oidc: %s", p, install)
		}
		if info.Main.Version != Version {
			return "", fmt.Errorf("%s is zitadel/oidc's OpenID provider %s, not %s: %s", p, info.Main.Version, Version, install)
		}
		return p, nil
	}
	return "", fmt.Errorf("the OpenID provider is not installed: %s", install)
}

// Start runs the provider until Stop, knowing users and letting its client come back to redirectURIs;
// dir keeps its users file.
func Start(ctx context.Context, dir string, users []User, redirectURIs ...string) (*Provider, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	port, err := localserver.FreePort()
	if err != nil {
		return nil, err
	}
	byID := map[string]any{}
	for _, u := range users {
		byID[u.ID] = struct {
			User
			EmailVerified     bool
			PreferredLanguage string
		}{u, true, "en"}
	}
	b, err := json.Marshal(byID)
	if err != nil {
		return nil, err
	}
	usersFile := filepath.Join(dir, "oidc-users.json")
	if err := os.WriteFile(usersFile, b, 0o600); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin)
	cmd.Args[0] = ProcessName // so that scripts/test.sh finds the providers of killed test processes
	cmd.Env = append(os.Environ(), "PORT="+strconv.Itoa(port), "USERS_FILE="+usersFile,
		"REDIRECT_URI="+strings.Join(redirectURIs, ","))
	cmd.Dir = dir
	logFile, err := os.Create(filepath.Join(dir, "oidc-provider.log"))
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	proc, err := localserver.Start("OpenID provider", cmd)
	if err != nil {
		return nil, err
	}
	p := &Provider{Issuer: fmt.Sprintf("http://localhost:%d/", port), proc: proc}
	err = proc.WaitReady(ctx, 20*time.Second, syscall.SIGTERM, func() error {
		resp, err := http.Get(p.Issuer + ".well-known/openid-configuration")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("discovery: %s", resp.Status)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%w\n%s", err, localserver.LogTail(logFile.Name(), 20))
	}
	return p, nil
}

// Stop ends the provider.
func (p *Provider) Stop(ctx context.Context) error { return p.proc.Stop(ctx, syscall.SIGTERM) }

var authRequestID = regexp.MustCompile(`name="id" value="([^"]+)"`)

// LogIn follows authURL (the provider's authorization endpoint with a client's request) with client,
// fills the provider's login form with username and password, and returns the URL the provider sends
// the browser back to (the client's redirect URI with the code and state), without opening it.
func LogIn(ctx context.Context, client *http.Client, authURL, username, password string) (*url.URL, error) {
	if client.Jar == nil {
		return nil, errors.New("LogIn needs a client with a cookie jar")
	}
	c := *client
	var back *url.URL
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if req.URL.Host != via[0].URL.Host { // leaving the provider: the way back to the client
			back = req.URL
			return http.ErrUseLastResponse
		}
		return nil
	}
	get, err := http.NewRequestWithContext(ctx, http.MethodGet, authURL, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(get)
	if err != nil {
		return nil, err
	}
	body := readAll(resp)
	m := authRequestID.FindStringSubmatch(body)
	if resp.StatusCode != http.StatusOK || m == nil {
		return nil, fmt.Errorf("provider's login form: %s: %.300s", resp.Status, body)
	}
	form := url.Values{"id": {m[1]}, "username": {username}, "password": {password}}
	post, err := http.NewRequestWithContext(ctx, http.MethodPost, resp.Request.URL.ResolveReference(&url.URL{Path: "/login/username"}).String(),
		strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	post.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err = c.Do(post)
	if err != nil {
		return nil, err
	}
	body = readAll(resp)
	if back == nil {
		return nil, fmt.Errorf("provider kept the browser after login: %s: %.300s", resp.Status, body)
	}
	return back, nil
}

func readAll(resp *http.Response) string {
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return string(b)
}
