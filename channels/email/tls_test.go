package email

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/channels"
	"github.com/relais-edu/relais/internal/mailpit"
	"github.com/relais-edu/relais/internal/testenv"
)

// selfSigned writes a certificate for 127.0.0.1 and its key into dir and returns their paths and a
// pool trusting it.
func selfSigned(t *testing.T, dir string) (certPath, keyPath string, roots *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "relay.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	certPath, keyPath = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	roots = x509.NewCertPool()
	roots.AddCert(cert)
	return certPath, keyPath, roots
}

// privateMailpit starts a mailpit with extra flags for this test only and stops it at the end.
func privateMailpit(t *testing.T, args ...string) (smtpAddr string) {
	t.Helper()
	bin, err := mailpit.Binary()
	if err != nil {
		t.Fatalf("no mailpit binary (scripts/test.sh installs it): %v", err)
	}
	smtpAddr = fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	web := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	args = append([]string{"--smtp", smtpAddr, "--listen", web, "--disable-version-check", "--smtp-disable-rdns",
		"--database", filepath.Join(t.TempDir(), "mailpit.db")}, args...)
	cmd := exec.Command(bin, args...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", smtpAddr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return smtpAddr
		}
		if time.Now().After(deadline) {
			t.Fatalf("mailpit %v did not start: %v", args, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestTLSPolicies(t *testing.T) {
	dir := t.TempDir()
	cert, key, roots := selfSigned(t, dir)
	authFile := filepath.Join(dir, "auth")
	os.WriteFile(authFile, []byte("relais:s3cret\n"), 0o600)
	starttls := privateMailpit(t, "--smtp-tls-cert", cert, "--smtp-tls-key", key, "--smtp-require-starttls",
		"--smtp-auth-file", authFile)
	implicit := privateMailpit(t, "--smtp-tls-cert", cert, "--smtp-tls-key", key, "--smtp-require-tls",
		"--smtp-auth-file", authFile)
	plain := newFakeRelay(t, nil, nil) // offers no STARTTLS
	plainAddr := fmt.Sprintf("127.0.0.1:%d", plain.port())

	tests := []struct {
		name     string
		addr     string
		policy   TLSPolicy
		user     string
		password string
		roots    *x509.CertPool
		wantErr  bool
	}{
		{"starttls required, offered", starttls, TLSMandatory, "relais", "s3cret", roots, false},
		{"starttls opportunistic, offered", starttls, TLSOpportunistic, "relais", "s3cret", roots, false},
		{"starttls with an untrusted certificate", starttls, TLSMandatory, "relais", "s3cret", nil, true},
		{"starttls with a wrong password", starttls, TLSMandatory, "relais", "wrong", roots, true},
		{"relay requires starttls, client sends plain", starttls, TLSNone, "", "", roots, true},
		{"implicit tls", implicit, TLSImplicit, "relais", "s3cret", roots, false},
		{"starttls against an implicit-tls port", implicit, TLSMandatory, "relais", "s3cret", roots, true},
		{"starttls required, not offered", plainAddr, TLSMandatory, "", "", roots, true},
		{"starttls opportunistic, not offered", plainAddr, TLSOpportunistic, "", "", roots, false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t, tt.addr)
			cfg.TLS, cfg.Username, cfg.Password = tt.policy, tt.user, tt.password
			cfg.Timeout = 3 * time.Second
			cfg.TLSConfig = &tls.Config{RootCAs: tt.roots, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
			if tt.roots == nil {
				cfg.TLSConfig.RootCAs = x509.NewCertPool()
			}
			ch := newChannel(t, cfg)
			_, err := ch.Send(context.Background(), channels.Message{
				Household: relais.Household{Email: fmt.Sprintf("tls-%d@example.org", i)},
				Lesson:    relais.Lesson{Title: "TLS"},
			})
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error: %v", err, tt.wantErr)
			}
			// A relay that cannot be reached as configured is our side: retry, never give up on
			// the family.
			if err != nil && channels.ClassOf(err).Kind != channels.Retryable {
				t.Errorf("kind = %v, want retryable", channels.ClassOf(err).Kind)
			}
		})
	}
}
