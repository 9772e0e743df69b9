package email

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-msgauth/dkim"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/channels"
	"github.com/relais-edu/relais/internal/testenv"
)

// TestDKIM signs with go-mail's signer, sends through mailpit, and verifies the raw message mailpit
// stored with an independent verifier (emersion/go-msgauth), for both key types.
func TestDKIM(t *testing.T) {
	smtpAddr, api := testenv.SMTP(t)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaPub, _ := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	rsaPKCS1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)})
	edDER, _ := x509.MarshalPKCS8PrivateKey(edKey)
	edPKCS8 := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: edDER})

	tests := []struct {
		name string
		pem  []byte
		txt  string // the DNS record a verifier would find
	}{
		{"rsa", rsaPKCS1, "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(rsaPub)},
		{"ed25519", edPKCS8, "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(edKey.Public().(ed25519.PublicKey))},
	}
	path, _ := worksheetFile(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t, smtpAddr)
			cfg.DKIM = DKIMConfig{Domain: "relais.example", Selector: "s" + tt.name, PrivateKeyPEM: tt.pem}
			ch := newChannel(t, cfg)
			rc, err := ch.Send(context.Background(), channels.Message{
				Delivery:       relais.Delivery{ID: 5},
				Household:      relais.Household{ID: 5, Language: "kk", Email: "dkim-" + tt.name + "-" + uniq(t) + "@example.org"},
				Lesson:         relais.Lesson{Title: "Бөлшектер: ½ + ¼"},
				Worksheet:      &relais.Worksheet{Path: path},
				LessonURL:      "https://relais.example/l/1",
				UnsubscribeURL: "https://relais.example/u/tok",
			})
			if err != nil {
				t.Fatal(err)
			}
			m := mailpitMessage(t, api, rc.ProviderID)
			raw := getBytes(t, api+"/api/v1/message/"+m.ID+"/raw")

			lookup := func(domain string) ([]string, error) {
				if domain != "s"+tt.name+"._domainkey.relais.example" {
					t.Errorf("verifier looked up %s", domain)
				}
				return []string{tt.txt}, nil
			}
			vs, err := dkim.VerifyWithOptions(bytes.NewReader(raw), &dkim.VerifyOptions{LookupTXT: lookup})
			if err != nil {
				t.Fatal(err)
			}
			if len(vs) != 1 {
				t.Fatalf("%d signatures, want 1", len(vs))
			}
			v := vs[0]
			if v.Err != nil {
				t.Fatalf("signature does not verify: %v", v.Err)
			}
			if v.Domain != "relais.example" {
				t.Errorf("d=%s", v.Domain)
			}
			signed := strings.ToLower(strings.Join(v.HeaderKeys, ":"))
			for _, h := range []string{"from", "reply-to", "to", "subject", "date", "list-unsubscribe", "list-unsubscribe-post"} {
				if !slices.Contains(strings.Split(signed, ":"), h) {
					t.Errorf("header %s not signed (h=%s)", h, signed)
				}
			}

			// Changing a signed header must break the signature: the verifier is really checking.
			tampered := bytes.Replace(raw, []byte("<https://relais.example/u/tok>"), []byte("<https://evil.example/u/tok>"), 1)
			if bytes.Equal(tampered, raw) {
				t.Fatal("List-Unsubscribe not found in the raw message")
			}
			vs, err = dkim.VerifyWithOptions(bytes.NewReader(tampered), &dkim.VerifyOptions{LookupTXT: lookup})
			if err != nil {
				t.Fatal(err)
			}
			if len(vs) != 1 || vs[0].Err == nil {
				t.Errorf("a tampered List-Unsubscribe still verifies")
			}
		})
	}
}

func TestDKIMBadKey(t *testing.T) {
	cfg := testConfig(t, "127.0.0.1:25")
	cfg.DKIM = DKIMConfig{Domain: "relais.example", Selector: "s", PrivateKeyPEM: []byte("not a key")}
	if _, err := New(cfg, loadTemplates(t)); err == nil || !strings.Contains(err.Error(), "DKIM") {
		t.Fatalf("New with a bad DKIM key: %v", err)
	}
}

// TestSignedHeadersFitOneLine guards the go-mail v0.8.1 folding bug described at signedHeaders.
func TestSignedHeadersFitOneLine(t *testing.T) {
	if n := len("h=" + strings.Join(signedHeaders, ":") + "; "); n > 77 {
		t.Fatalf("h= tag is %d columns; go-mail folds it inside a name and the signature breaks", n)
	}
}

// TestDKIMConcurrent shares one signer between concurrent pages; run with -race.
func TestDKIMConcurrent(t *testing.T) {
	relay := newFakeRelay(t, nil, nil)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(edKey)
	cfg := testConfig(t, "127.0.0.1:"+strconv.Itoa(relay.port()))
	cfg.DKIM = DKIMConfig{Domain: "relais.example", Selector: "s", PrivateKeyPEM: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})}
	ch := newChannel(t, cfg)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, r := range ch.SendBatch(context.Background(), []channels.Message{
				{Household: relais.Household{Email: "a@example.org"}, Lesson: relais.Lesson{Title: "T"}},
				{Household: relais.Household{Email: "b@example.org"}, Lesson: relais.Lesson{Title: "T"}},
			}) {
				if r.Err != nil {
					t.Error(r.Err)
				}
			}
		}()
	}
	wg.Wait()
	if n := len(relay.acceptedRcpts()); n != 8 {
		t.Errorf("%d accepted, want 8", n)
	}
}
