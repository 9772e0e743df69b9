package email

import (
	"context"
	"crypto/rand"
	"fmt"
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
