package queue

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/wneessen/go-mail"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/channels/email"
	"github.com/relais-edu/relais/internal/smtpsink"
	"github.com/relais-edu/relais/internal/testenv"
	"github.com/relais-edu/relais/links"
	"github.com/relais-edu/relais/templates"
)

// BenchmarkEmailPath sends RELAIS_BENCH_EMAILS (default 2,000) worksheet emails with a 300 KB PDF
// through the Relais path (handleSend: claims and outcomes in SQLite, the email channel and its pool)
// and through bare go-mail (one connection per sender, messages built in the loop from bodies
// rendered beforehand) to the same real SMTP server, for two servers: mailpit, and a sink that
// discards mail (internal/smtpsink, or the one at RELAIS_BENCH_SINK_ADDR: scripts/bench-email.sh runs
// it as its own process). Both sides use RELAIS_BENCH_CONNS (default 4, the channel's default)
// connections; Relais runs RELAIS_BENCH_HANDLERS send tasks at once (default: the worker's
// concurrency), go-mail one sender per connection. It prints messages per second for each and the
// ratio Relais / go-mail; scripts/bench-email.sh runs it.
//
//	RELAIS_BENCH_EMAILS=10000 go test ./queue -run '^$' -bench EmailPath -benchtime 1x -v -timeout 60m
func BenchmarkEmailPath(b *testing.B) {
	n := envInt("RELAIS_BENCH_EMAILS", 2000)
	conns := envInt("RELAIS_BENCH_CONNS", 4)
	handlers := envInt("RELAIS_BENCH_HANDLERS", DefaultConfig().Concurrency)
	ctx := context.Background()

	mailpitAddr, mailpitAPI := testenv.SMTP(b)
	sinkAddr := os.Getenv("RELAIS_BENCH_SINK_ADDR")
	if sinkAddr == "" {
		sink, err := smtpsink.Listen("127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { sink.Close() })
		sinkAddr = sink.Addr()
	}

	store := stores(b)["sqlite"](b)
	addr, db := testenv.Redis(b)
	redis := asynq.RedisClientOpt{Addr: addr, DB: db}
	client := NewClient(redis)
	b.Cleanup(func() { client.Close() })
	tmpl, err := templates.Load()
	if err != nil {
		b.Fatal(err)
	}
	secret := []byte("bench secret")
	signer := links.NewSigner(secret, "https://relais.example")
	lnk := Links{Lesson: signer.LessonURL, Unsubscribe: func(h relais.Household) string { return signer.UnsubscribeURL(h.ID, h.Email) }}

	pdf := make([]byte, 300<<10)
	rand.Read(pdf) // incompressible, like a PDF's compressed streams
	copy(pdf, "%PDF-1.4\n")
	pdfPath := filepath.Join(b.TempDir(), "worksheet.pdf")
	if err := os.WriteFile(pdfPath, pdf, 0o600); err != nil {
		b.Fatal(err)
	}
	hs := make([]relais.Household, n)
	for i := range hs {
		hs[i] = relais.Household{ExternalRef: fmt.Sprint("E", i), Region: "IDF", Language: relais.Languages[i%len(relais.Languages)],
			Grades: []int{5}, Profile: relais.ProfileBroadband, Email: fmt.Sprintf("family%d@example.org", i), Consent: true}
	}
	if err := store.UpsertHouseholds(ctx, hs); err != nil {
		b.Fatal(err)
	}
	hs = hs[:0]
	for after := int64(0); ; {
		page, err := store.Households(ctx, relais.HouseholdFilter{Page: relais.Page{After: after, Limit: relais.MaxPageLimit}})
		if err != nil {
			b.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		hs = append(hs, page...)
		after = page[len(page)-1].ID
	}
	if len(hs) != n {
		b.Fatalf("%d households stored, want %d", len(hs), n)
	}

	// relaisRun plans the emails of a new lesson and sends them through handleSend in pages of the
	// channel's size (50), handlers pages at a time (the worker's concurrency) over conns connections,
	// as send tasks do.
	relaisRun := func(smtpAddr string, hs []relais.Household) time.Duration {
		host, port, _ := net.SplitHostPort(smtpAddr)
		ecfg := email.DefaultConfig()
		ecfg.Host, ecfg.TLS, ecfg.HELO = host, email.TLSNone, "relais.test"
		ecfg.Port, _ = strconv.Atoi(port)
		ecfg.From, ecfg.ReplyTo = "Relais <lessons@relais.example>", "school@relais.example"
		ecfg.MaxConns = conns
		ch, err := email.New(ecfg, tmpl)
		if err != nil {
			b.Fatal(err)
		}
		defer ch.Close()
		cfg := DefaultConfig()
		cfg.MediaDir = b.TempDir()
		// RELAIS_BENCH_NOCLAIM=1 sends without the claims (Config.NoClaim): the claims' cost, not a mode to run.
		cfg.NoClaim = os.Getenv("RELAIS_BENCH_NOCLAIM") == "1"
		w := NewWorker(redis, store, relaisRegistry(ch), Pipeline{}, lnk, client, cfg, slog.New(slog.DiscardHandler))

		l := relais.Lesson{Title: "Les fractions à l’école", Subject: "Mathématiques", Grade: 5, Language: "fr", TeacherID: "t"}
		if err := store.CreateLesson(ctx, &l); err != nil {
			b.Fatal(err)
		}
		store.PutWorksheet(ctx, relais.Worksheet{LessonID: l.ID, Path: pdfPath, Bytes: int64(len(pdf))})
		store.SetLessonStatus(ctx, l.ID, relais.LessonPublished, nil)
		ds := make([]relais.Delivery, len(hs))
		for i, h := range hs {
			ds[i] = relais.Delivery{LessonID: l.ID, HouseholdID: h.ID, Channel: relais.ChannelEmail}
		}
		ids, err := store.PlanDeliveries(ctx, ds)
		if err != nil {
			b.Fatal(err)
		}
		pages := make(chan []int64)
		var failed atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		for range handlers {
			wg.Go(func() {
				for p := range pages {
					if err := w.handleSend(ctx, task(TypeSend, SendPayload{Channel: relais.ChannelEmail, DeliveryIDs: p})); err != nil {
						b.Error(err)
						failed.Add(1)
					}
				}
			})
		}
		size := ch.PageSize()
		for i := 0; i < len(ids); i += size {
			pages <- ids[i:min(i+size, len(ids))]
		}
		close(pages)
		wg.Wait()
		took := time.Since(start)
		counts, err := store.DeliveryCounts(ctx, l.ID)
		if err != nil {
			b.Fatal(err)
		}
		var sent int64
		for _, c := range counts {
			if c.Status == relais.DeliverySent {
				sent += c.Count
			}
		}
		if sent != int64(len(hs)) {
			b.Errorf("relais: %d of %d emails sent (%v)", sent, len(hs), counts)
		}
		return took
	}

	// bareRun sends the same emails with go-mail alone: conns senders, each over its own connection.
	bareRun := func(smtpAddr string, hs []relais.Household) time.Duration {
		host, port, _ := net.SplitHostPort(smtpAddr)
		p, _ := strconv.Atoi(port)
		type body struct{ text, html string }
		bodies := map[string]body{}
		for _, lang := range relais.Languages {
			data := email.TemplateData{Title: "Les fractions à l’école", Subject: "Mathématiques", Grade: 5,
				LessonURL: signer.LessonURL(1, 1), UnsubscribeURL: signer.UnsubscribeURL(1, "f@example.org"),
				Attachment: "Les-fractions-à-l-école.pdf"}
			var tb, hb bytes.Buffer
			if err := tmpl.EmailText(&tb, email.TemplateName, lang, data); err != nil {
				b.Fatal(err)
			}
			if err := tmpl.EmailHTML(&hb, email.TemplateName, lang, data); err != nil {
				b.Fatal(err)
			}
			bodies[lang] = body{tb.String(), hb.String()}
		}
		next := make(chan int)
		var failed atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		for range conns {
			wg.Go(func() {
				c, err := mail.NewClient(host, mail.WithPort(p), mail.WithTLSPolicy(mail.NoTLS), mail.WithHELO("relais.test"))
				if err != nil {
					b.Error(err)
					return
				}
				sc, err := c.DialToSMTPClientWithContext(ctx)
				if err != nil {
					b.Error(err)
					return
				}
				defer c.CloseWithSMTPClient(sc)
				for i := range next {
					h := hs[i]
					m := mail.NewMsg()
					m.From("Relais <lessons@relais.example>")
					m.To(h.Email)
					m.Subject("Les fractions à l’école")
					m.SetMessageID()
					m.SetDate()
					bd := bodies[h.Language]
					m.SetBodyString(mail.TypeTextPlain, bd.text)
					m.AddAlternativeString(mail.TypeTextHTML, bd.html)
					m.AttachReader("Les-fractions-à-l-école.pdf", bytes.NewReader(pdf))
					if err := c.SendWithSMTPClient(sc, m); err != nil {
						failed.Add(1)
					}
				}
			})
		}
		for i := range hs {
			next <- i
		}
		close(next)
		wg.Wait()
		took := time.Since(start)
		if failed.Load() > 0 {
			b.Errorf("go-mail: %d of %d emails failed", failed.Load(), len(hs))
		}
		return took
	}

	// The machine's load drifts during a run: the households are sent in rounds, Relais and go-mail
	// taking turns to go first, and each side's time is the sum of its rounds. Mailpit is emptied
	// before each run, which it would otherwise slow down as it fills.
	rounds := envInt("RELAIS_BENCH_ROUNDS", 4)
	b.ResetTimer()
	for range b.N {
		for _, sink := range []struct{ name, addr string }{{"mailpit", mailpitAddr}, {"smtpsink", sinkAddr}} {
			if only := os.Getenv("RELAIS_BENCH_SINK"); only != "" && only != sink.name {
				continue
			}
			var tr, tg time.Duration
			for k := range rounds {
				part := hs[k*n/rounds : (k+1)*n/rounds]
				runs := []func(){
					func() { emptyMailpit(b, mailpitAPI); tr += relaisRun(sink.addr, part) },
					func() { emptyMailpit(b, mailpitAPI); tg += bareRun(sink.addr, part) },
				}
				if k%2 == 1 {
					runs[0], runs[1] = runs[1], runs[0]
				}
				for _, run := range runs {
					run()
				}
			}
			r, g := float64(n)/tr.Seconds(), float64(n)/tg.Seconds()
			b.Logf("%-8s %d emails, %d connections: relais %.0f msg/s, go-mail %.0f msg/s, relais / go-mail = %.2f",
				sink.name, n, conns, r, g, r/g)
			b.ReportMetric(r/g, "ratio-"+sink.name)
		}
	}
}

// emptyMailpit deletes every message mailpit holds.
func emptyMailpit(t testing.TB, api string) {
	req, _ := http.NewRequest(http.MethodDelete, api+"/api/v1/messages", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("empty mailpit: %s", resp.Status)
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
