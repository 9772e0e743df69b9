package queue

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/channels"
	"github.com/relais-edu/relais/channels/email"
	"github.com/relais-edu/relais/channels/sms"
	"github.com/relais-edu/relais/channels/sms/sandbox"
	"github.com/relais-edu/relais/internal/smtpsink"
	"github.com/relais-edu/relais/internal/testenv"
	"github.com/relais-edu/relais/templates"
)

// BenchmarkSendClaim measures the cost of the claim: messages per second through send tasks with the
// claim and without it (Config.NoClaim, a switch for this measurement only), in one run, for SMS to
// the Twilio sandbox (twilio-go over HTTP) and for email to an SMTP server that discards mail
// (internal/smtpsink), with the lesson's worksheet attached (a 300 KB PDF, as lessons send: "email")
// and without (the cheapest message, where the claim weighs the most: "email-text"), on SQLite and on
// PostgreSQL. RELAIS_BENCH_CLAIM_SENDS (default 2,000) messages of a new lesson per mode and
// round go through the worker's concurrency of send tasks at once (pages of the channel's size, as
// queued by the fan-out), the two modes taking turns to go first over RELAIS_BENCH_ROUNDS rounds
// (default 4) so that both see the same load and the same database; each mode's rate is its messages
// over the sum of its rounds' times. RELAIS_BENCH_CLAIM_HISTORY deliveries of earlier lessons are
// planned first (default none), as the table of an installation holds them after a few national
// mornings. RELAIS_BENCH_CLAIM_BATCH sets Config.ClaimBatch and RELAIS_BENCH_EMAIL_CONNS the email
// channel's MaxConns (defaults: the product's), for the claim's cost under other settings;
// RELAIS_BENCH_SMTP=mailpit sends the email to mailpit (a server that parses and stores each message,
// in a process of its own, as the chaos harness's relay) instead of the sink.
// scripts/bench-claim.sh runs it.
//
//	go test ./queue -run '^$' -bench SendClaim -benchtime 1x -v
func BenchmarkSendClaim(b *testing.B) {
	n := envInt("RELAIS_BENCH_CLAIM_SENDS", 2000)
	rounds := envInt("RELAIS_BENCH_ROUNDS", 4)
	handlers := envInt("RELAIS_BENCH_HANDLERS", DefaultConfig().Concurrency)
	tmpl, err := templates.Load()
	if err != nil {
		b.Fatal(err)
	}
	channelOf := map[relais.ChannelName]func(b *testing.B, store relais.Store) channels.Channel{
		relais.ChannelSMS: func(b *testing.B, store relais.Store) channels.Channel {
			const sid, token = "AC00000000000000000000000000000000", "token"
			sb := sandbox.New(sandbox.Config{AccountSID: sid, AuthToken: token, Rules: []sandbox.Rule{{NoCallbacks: true}}})
			api := httptest.NewServer(sb)
			b.Cleanup(func() { api.Close(); sb.Close() })
			cfg := sms.DefaultConfig()
			cfg.AccountSID, cfg.AuthToken, cfg.APIURL = sid, token, api.URL
			cfg.Senders = map[string]string{sms.DefaultCountry: "Ecole"}
			ch, err := sms.New(cfg, store, channels.NewLedger(store, nil), tmpl)
			if err != nil {
				b.Fatal(err)
			}
			return ch
		},
		relais.ChannelEmail: func(b *testing.B, _ relais.Store) channels.Channel {
			var addr string
			if os.Getenv("RELAIS_BENCH_SMTP") == "mailpit" {
				addr, _ = testenv.SMTP(b)
			} else {
				sink, err := smtpsink.Listen("127.0.0.1:0")
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { sink.Close() })
				addr = sink.Addr()
			}
			host, port, _ := net.SplitHostPort(addr)
			cfg := email.DefaultConfig()
			cfg.Host, cfg.TLS, cfg.HELO = host, email.TLSNone, "relais.test"
			cfg.Port, _ = strconv.Atoi(port)
			cfg.From = "Relais <lessons@relais.example>"
			if c := envInt("RELAIS_BENCH_EMAIL_CONNS", 0); c > 0 {
				cfg.MaxConns = c
			}
			ch, err := email.New(cfg, tmpl)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { ch.Close() })
			return ch
		},
	}
	pdf := make([]byte, 300<<10)
	rand.Read(pdf) // incompressible, like a PDF's compressed streams
	copy(pdf, "%PDF-1.4\n")
	pdfPath := filepath.Join(b.TempDir(), "worksheet.pdf")
	if err := os.WriteFile(pdfPath, pdf, 0o600); err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name      string
		ch        relais.ChannelName
		worksheet string
	}{{"sms", relais.ChannelSMS, ""}, {"email", relais.ChannelEmail, pdfPath}, {"email-text", relais.ChannelEmail, ""}} {
		for _, storeName := range []string{"sqlite", "postgres"} {
			chName := c.ch
			b.Run(fmt.Sprintf("%s/%s", c.name, storeName), func(b *testing.B) {
				store := stores(b)[storeName](b)
				r := newClaimBench(b, store, channelOf[chName](b, store), n, handlers)
				r.worksheet = c.worksheet
				var took [2]time.Duration // with, without the claim
				b.ResetTimer()
				for range b.N {
					for k := range rounds {
						modes := []bool{false, true}
						if k%2 == 1 {
							modes[0], modes[1] = modes[1], modes[0]
						}
						for _, noClaim := range modes {
							d := r.run(b, chName, noClaim)
							if noClaim {
								took[1] += d
							} else {
								took[0] += d
							}
						}
					}
				}
				msgs := float64(n * rounds * b.N)
				with, without := msgs/took[0].Seconds(), msgs/took[1].Seconds()
				b.Logf("%-10s %-8s %d messages x %d rounds, %d send tasks at once: with the claim %.0f msg/s, without %.0f msg/s, ratio %.2f",
					c.name, storeName, n, rounds, handlers, with, without, with/without)
				b.ReportMetric(with, "msg/s-claim")
				b.ReportMetric(without, "msg/s-noclaim")
				b.ReportMetric(with/without, "ratio")
			})
		}
	}
}

// claimBench is a worker over a store holding the households the benchmark sends to.
type claimBench struct {
	store     relais.Store
	w         *Worker
	ch        channels.Channel
	hs        []relais.Household
	handlers  int
	worksheet string // attached to the lessons' emails when set
}

func newClaimBench(b *testing.B, store relais.Store, ch channels.Channel, n, handlers int) *claimBench {
	ctx := context.Background()
	addr, db := testenv.Redis(b)
	redis := asynq.RedisClientOpt{Addr: addr, DB: db}
	client := NewClient(redis)
	b.Cleanup(func() { client.Close() })
	cfg := DefaultConfig()
	cfg.MediaDir = b.TempDir()
	cfg.ClaimBatch = envInt("RELAIS_BENCH_CLAIM_BATCH", cfg.ClaimBatch)
	r := &claimBench{store: store, ch: ch, handlers: handlers,
		w: NewWorker(redis, store, relaisRegistry(ch), Pipeline{}, Links{}, client, cfg, slog.New(slog.DiscardHandler))}
	hs := make([]relais.Household, n)
	for i := range hs {
		hs[i] = relais.Household{ExternalRef: fmt.Sprint("B", i), Region: "IDF", Language: "fr", Grades: []int{5},
			Profile: relais.ProfileBroadband, Phone: fmt.Sprintf("+3361%07d", i), Email: fmt.Sprintf("family%d@example.org", i), Consent: true}
	}
	if err := store.UpsertHouseholds(ctx, hs); err != nil {
		b.Fatal(err)
	}
	for after := int64(0); ; {
		page, err := store.Households(ctx, relais.HouseholdFilter{Page: relais.Page{After: after, Limit: relais.MaxPageLimit}})
		if err != nil {
			b.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		r.hs = append(r.hs, page...)
		after = page[len(page)-1].ID
	}
	if len(r.hs) != n {
		b.Fatalf("%d households stored, want %d", len(r.hs), n)
	}
	// The deliveries of earlier lessons, as an installation holds after a few national mornings: a
	// statement that finds an attempt's rows by scanning the table shows here.
	history := envInt("RELAIS_BENCH_CLAIM_HISTORY", 0)
	for planned := 0; planned < history; planned += len(r.hs) {
		l := relais.Lesson{Title: "Earlier", Subject: "Histoire", Grade: 5, Language: "fr", TeacherID: "t"}
		if err := store.CreateLesson(ctx, &l); err != nil {
			b.Fatal(err)
		}
		ds := make([]relais.Delivery, len(r.hs))
		for i, h := range r.hs {
			ds[i] = relais.Delivery{LessonID: l.ID, HouseholdID: h.ID, Channel: relais.ChannelEmail, Status: relais.DeliverySkipped, Reason: "earlier"}
		}
		if _, err := store.PlanDeliveries(ctx, ds); err != nil {
			b.Fatal(err)
		}
	}
	return r
}

// run plans a new lesson's deliveries on ch and sends them with handlers send tasks at once, in pages
// of the channel's size, with or without the claim; it returns the time the sends took.
func (r *claimBench) run(b *testing.B, ch relais.ChannelName, noClaim bool) time.Duration {
	ctx := context.Background()
	r.w.cfg.NoClaim = noClaim
	l := relais.Lesson{Title: "Les fractions", Subject: "Mathématiques", Grade: 5, Language: "fr", TeacherID: "t"}
	if err := r.store.CreateLesson(ctx, &l); err != nil {
		b.Fatal(err)
	}
	r.store.PutDigest(ctx, relais.Digest{LessonID: l.ID, Language: "fr", Body: "Leçon de maths ce soir à 18 h.", Encoding: "GSM-7", Segments: 1})
	if r.worksheet != "" {
		r.store.PutWorksheet(ctx, relais.Worksheet{LessonID: l.ID, Path: r.worksheet, Bytes: 300 << 10})
	}
	r.store.SetLessonStatus(ctx, l.ID, relais.LessonPublished, nil)
	ds := make([]relais.Delivery, len(r.hs))
	for i, h := range r.hs {
		ds[i] = relais.Delivery{LessonID: l.ID, HouseholdID: h.ID, Channel: ch}
	}
	ids, err := r.store.PlanDeliveries(ctx, ds)
	if err != nil {
		b.Fatal(err)
	}
	size := 100
	if p, ok := r.ch.(channels.Pager); ok {
		size = p.PageSize()
	}
	pages := make(chan []int64)
	var wg sync.WaitGroup
	start := time.Now()
	for range r.handlers {
		wg.Go(func() {
			for p := range pages {
				if err := r.w.handleSend(ctx, task(TypeSend, SendPayload{Channel: ch, DeliveryIDs: p})); err != nil {
					b.Error(err)
				}
			}
		})
	}
	for i := 0; i < len(ids); i += size {
		pages <- ids[i:min(i+size, len(ids))]
	}
	close(pages)
	wg.Wait()
	took := time.Since(start)
	counts, err := r.store.DeliveryCounts(ctx, l.ID)
	if err != nil {
		b.Fatal(err)
	}
	var left int64
	for _, c := range counts {
		if c.Status != relais.DeliveryQueued && c.Status != relais.DeliverySent {
			left += c.Count
		}
	}
	if left > 0 {
		b.Errorf("%s, no claim %v: %d of %d deliveries not sent (%v)", ch, noClaim, left, len(ids), counts)
	}
	return took
}
