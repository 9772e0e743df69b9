package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/internal/redisserver"
	"github.com/relais-edu/relais/internal/testenv"
)

// onRedisURL is a rig edit: Relais on RELAIS_REDIS_URL instead of the test's Redis address.
func onRedisURL(url string) func(*Config) {
	return func(c *Config) { c.RedisURL, c.RedisAddr, c.RedisDB = url, "", 0 }
}

// readyz returns /readyz's status and body.
func (r *rig) readyz() (int, string) {
	code, body := r.do("GET", "/readyz", "", nil, "")
	return code, string(body)
}

// waitReadyz waits up to timeout for /readyz to answer want, and returns how long that took.
func (r *rig) waitReadyz(want int, timeout time.Duration) time.Duration {
	r.t.Helper()
	start := time.Now()
	for {
		code, body := r.readyz()
		if code == want {
			return time.Since(start)
		}
		if time.Since(start) > timeout {
			r.t.Fatalf("/readyz = %d %s after %s, want %d", code, body, timeout, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestServeOnSentinel: relais serve on redis-sentinel:// is ready, and ready again once Sentinel has
// promoted the replica of a killed master.
func TestServeOnSentinel(t *testing.T) {
	s := testenv.Sentinel(t)
	r := newRig(t, nil, onRedisURL(s.URL()))
	if code, body := r.readyz(); code != 200 {
		t.Fatalf("/readyz = %d %s, want 200", code, body)
	}
	s.Master.Kill()
	took := r.waitReadyz(200, 30*time.Second)
	t.Logf("/readyz answered 200 again %s after the master's kill", took.Round(time.Millisecond))
	if err := s.WaitMaster(context.Background(), s.Replica.Addr, 10*time.Second); err != nil {
		t.Errorf("after the failover: %v; want the promoted replica master", err)
	}
}

// TestServeOnCluster: relais serve on redis-cluster:// is ready while every master answers, and
// /readyz says which node is missing when one is lost (its hash slots, and the queues on them, are
// unserved: the cluster has no replicas to promote).
func TestServeOnCluster(t *testing.T) {
	c := testenv.Cluster(t)
	r := newRig(t, nil, onRedisURL(c.URL()))
	if code, body := r.readyz(); code != 200 {
		t.Fatalf("/readyz = %d %s, want 200", code, body)
	}
	// The queue monitor (asynqmon) reads the queues, spread over the cluster's nodes: one holds a resend
	// due in a minute.
	if err := r.app.queue.Resend(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	code, body := r.adminGet("/ui/admin/queues/api/queues")
	if code != 200 || !strings.Contains(body, `"queue":"send"`) {
		t.Errorf("queue monitor on the cluster: %d %s, want the send queue listed", code, body)
	}

	c.Nodes[1].Kill()
	r.waitReadyz(503, 10*time.Second)
	_, body = r.readyz()
	t.Logf("/readyz with a node down: %s", body)
	if !strings.Contains(body, "cluster ") || !strings.Contains(body, "RELAIS_REDIS_URL") || !strings.Contains(body, c.Nodes[1].Addr) {
		t.Errorf("/readyz with a node down: %s, want the cluster, the setting and the node named", body)
	}
}

// adminGet signs in to the web UI as an administrator and GETs path.
func (r *rig) adminGet(path string) (int, string) {
	r.t.Helper()
	return uiGet(r.t, signIn(r.t, r.app, relais.User{ID: "admin", Name: "Admin", Role: relais.RoleAdmin}), r.app.URL()+path)
}

// signIn returns an HTTP client signed in to a's web UI as user, with a token made for it.
func signIn(tb testing.TB, a *app, user relais.User) *http.Client {
	tb.Helper()
	tok, err := newToken(context.Background(), a.store, user)
	if err != nil {
		tb.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar}
	_, page := uiGet(tb, hc, a.URL()+"/ui/signin")
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(page)
	if csrf == nil {
		tb.Fatalf("no CSRF token on the sign-in page")
	}
	resp, err := hc.PostForm(a.URL()+"/ui/signin", url.Values{"token": {tok}, "csrf": {csrf[1]}})
	if err != nil {
		tb.Fatal(err)
	}
	resp.Body.Close()
	return hc
}

// uiGet GETs url with hc and returns the status and the body.
func uiGet(tb testing.TB, hc *http.Client, url string) (int, string) {
	tb.Helper()
	resp, err := hc.Get(url)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestServeOnTLSWithACL: relais serve on rediss:// with an ACL user, trusting the CA in
// RELAIS_REDIS_CA_FILE; a wrong password stops the start with a message naming the setting, not the
// password.
func TestServeOnTLSWithACL(t *testing.T) {
	dir := t.TempDir()
	caFile, certFile, keyFile := writeTestCert(t, dir)
	pem, _ := os.ReadFile(caFile)
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	srv, err := redisserver.StartTLS(context.Background(), filepath.Join(dir, "redis"), certFile, keyFile,
		&redis.Options{TLSConfig: &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"}, Username: "relais", Password: "s3cret-pw"},
		"--user", "default", "off", "--user", "relais", "on", ">s3cret-pw", "~*", "&*", "+@all")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Stop(context.Background()) })

	r := newRig(t, nil, onRedisURL("rediss://relais:s3cret-pw@"+srv.Addr+"/0"), func(c *Config) { c.RedisCAFile = caFile })
	if code, body := r.readyz(); code != 200 {
		t.Fatalf("/readyz = %d %s, want 200", code, body)
	}

	for name, edit := range map[string]func(*Config){
		"wrong password": func(c *Config) { c.RedisURL = "rediss://relais:wrong-pw@" + srv.Addr + "/0"; c.RedisCAFile = caFile },
		"untrusted CA":   func(c *Config) { c.RedisURL = "rediss://relais:s3cret-pw@" + srv.Addr + "/0" },
	} {
		cfg := DefaultConfig()
		cfg.DataDir, cfg.HTTPAddr = t.TempDir(), "127.0.0.1:0"
		edit(&cfg)
		cfg.resolve()
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
		a, err := start(context.Background(), cfg, parts{api: true}, slog.New(slog.DiscardHandler))
		if err == nil {
			a.stop(context.Background())
			t.Errorf("%s: started", name)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, "redis "+srv.Addr+" (RELAIS_REDIS_URL) does not answer") || strings.Contains(msg, "pw") {
			t.Errorf("%s: start error %q, want the address and RELAIS_REDIS_URL named, no password", name, msg)
		}
	}
}

// writeTestCert writes a self-signed CA certificate for 127.0.0.1 (the CA file) and the same
// certificate and its key for the server.
func writeTestCert(t *testing.T, dir string) (caFile, certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "relais test redis"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "redis.crt"), filepath.Join(dir, "redis.key")
	for path, block := range map[string]*pem.Block{certFile: {Type: "CERTIFICATE", Bytes: der}, keyFile: {Type: "EC PRIVATE KEY", Bytes: keyDER}} {
		if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return certFile, certFile, keyFile
}
