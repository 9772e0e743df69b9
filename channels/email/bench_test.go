package email

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/textproto"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/channels"
	"github.com/relais-edu/relais/internal/testenv"
	"github.com/relais-edu/relais/links"
)

// TestThroughput sends RELAIS_BENCH_EMAILS messages (e.g. 10000) with a 300 KB PDF, pooled (pages of
// 100 over MaxConns connections) and then one connection per message, and prints messages per second,
// the ratio, and the peak Go heap. The relay is mailpit, or with RELAIS_BENCH_TARGET=fake the
// in-process fakeRelay, which discards messages and so measures the channel rather than the server.
// It is a benchmark, run once (scripts/bench-email.sh runs it), 2,000 messages unless told:
//
//	RELAIS_BENCH_EMAILS=10000 go test ./channels/email/ -run '^$' -bench Throughput -benchtime 1x -v -timeout 30m
func BenchmarkThroughput(b *testing.B) {
	t := b
	n, _ := strconv.Atoi(os.Getenv("RELAIS_BENCH_EMAILS"))
	if n <= 0 {
		n = 2000
	}
	var smtpAddr string
	if os.Getenv("RELAIS_BENCH_TARGET") == "fake" {
		smtpAddr = fmt.Sprintf("127.0.0.1:%d", newFakeRelay(t, nil, nil).port())
	} else {
		smtpAddr, _ = testenv.SMTP(t)
	}
	pdf := make([]byte, 300<<10)
	rand.Read(pdf) // incompressible, like a PDF's compressed streams
	copy(pdf, "%PDF-1.4\n")
	path := filepath.Join(t.TempDir(), "w.pdf")
	if err := os.WriteFile(path, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	msgs := make([]channels.Message, n)
	for i := range msgs {
		id := int64(i + 1)
		msgs[i] = channels.Message{
			Delivery:       relais.Delivery{ID: id},
			Household:      relais.Household{ID: id, Language: relais.Languages[i%4], Email: fmt.Sprintf("bench%d@example.org", i)},
			Lesson:         relais.Lesson{ID: 1, Title: "Les fractions à l’école", Subject: "Mathématiques", Grade: 5},
			Worksheet:      &relais.Worksheet{Path: path},
			LessonURL:      "https://relais.example/l/1",
			UnsubscribeURL: links.NewSigner([]byte("k"), "https://relais.example").UnsubscribeURL(id, "x"),
		}
	}

	const workers, page = 4, 100
	run := func(name string, cfg Config) float64 {
		ch := newChannel(t, cfg)
		stopSampling := testenv.SampleHeap(50 * time.Millisecond)
		pages := make(chan []channels.Message)
		var failed atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for p := range pages {
					for _, r := range ch.SendBatch(context.Background(), p) {
						if r.Err != nil {
							failed.Add(1)
						}
					}
				}
			}()
		}
		for i := 0; i < n; i += page {
			pages <- msgs[i:min(i+page, n)]
		}
		close(pages)
		wg.Wait()
		el := time.Since(start)
		peak := stopSampling()
		rate := float64(n) / el.Seconds()
		t.Logf("%-22s %d messages in %v: %.0f msg/s, %d failed, peak heap in use %.1f MB",
			name, n, el.Round(time.Millisecond), rate, failed.Load(), float64(peak)/(1<<20))
		if failed.Load() > 0 {
			t.Errorf("%s: %d messages failed", name, failed.Load())
		}
		return rate
	}

	cfg := testConfig(t, smtpAddr)
	cfg.MaxConns = workers
	cfg.MaxPerConn = 0
	pooled := run("pooled", cfg)

	cfg.MaxPerConn = 1 // every message renews its connection: one connection per message
	single := run("connection per message", cfg)
	t.Logf("pooled / per-message = %.2f", pooled/single)
}

// BenchmarkMessage splits one worksheet email's cost in the channel, per message: rendering the
// bodies (in full, and from the body cache), building the go-mail message (bodies, headers, the
// 300 KB worksheet from the worksheet cache), and writing it as go-mail does onto the connection
// (MIME, base64 of the PDF, dot-stuffing), without and with DKIM (RSA 2048).
//
//	go test ./channels/email -run '^$' -bench Message -benchtime 200x
func BenchmarkMessage(b *testing.B) {
	pdf := make([]byte, 300<<10)
	rand.Read(pdf)
	copy(pdf, "%PDF-1.4\n")
	path := filepath.Join(b.TempDir(), "w.pdf")
	if err := os.WriteFile(path, pdf, 0o600); err != nil {
		b.Fatal(err)
	}
	m := channels.Message{
		Delivery:       relais.Delivery{ID: 7},
		Household:      relais.Household{ID: 7, Language: "fr", Email: "family7@example.org"},
		Lesson:         relais.Lesson{ID: 1, Title: "Les fractions à l’école", Subject: "Mathématiques", Grade: 5},
		Worksheet:      &relais.Worksheet{Path: path},
		LessonURL:      "https://relais.example/l/AAEAAAAHb3Zlcg",
		UnsubscribeURL: links.NewSigner([]byte("k"), "https://relais.example").UnsubscribeURL(7, "family7@example.org"),
	}
	data := TemplateData{Title: m.Lesson.Title, Subject: m.Lesson.Subject, Grade: m.Lesson.Grade,
		LessonURL: m.LessonURL, UnsubscribeURL: m.UnsubscribeURL, Attachment: attachmentName(m.Lesson.Title)}
	plain := newChannel(b, testConfig(b, "127.0.0.1:25"))
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		b.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	cfg := testConfig(b, "127.0.0.1:25")
	cfg.DKIM = DKIMConfig{Domain: "relais.example", Selector: "s", PrivateKeyPEM: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})}
	signed := newChannel(b, cfg)

	b.Run("render", func(b *testing.B) {
		for b.Loop() {
			plain.render("fr", data)
		}
	})
	b.Run("render-cached", func(b *testing.B) {
		for b.Loop() {
			plain.renderCached("fr", data)
		}
	})
	b.Run("build", func(b *testing.B) {
		for b.Loop() {
			if _, err := plain.build(context.Background(), m, map[string][]byte{}, &hold{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	for name, ch := range map[string]*Channel{"write": plain, "write-dkim": signed} {
		b.Run(name, func(b *testing.B) {
			var dw dotDiscard
			for b.Loop() {
				msg, err := ch.build(context.Background(), m, map[string][]byte{}, &hold{})
				if err != nil {
					b.Fatal(err)
				}
				w := textproto.NewWriter(bufio.NewWriter(&dw)).DotWriter()
				if _, err := msg.WriteTo(w); err != nil {
					b.Fatal(err)
				}
				w.Close()
			}
			b.ReportMetric(float64(dw.n)/float64(b.N), "bytes/msg")
		})
	}
}

// dotDiscard counts and discards what is written to it.
type dotDiscard struct{ n int64 }

func (d *dotDiscard) Write(p []byte) (int, error) { d.n += int64(len(p)); return len(p), nil }
