package queue

import (
	"context"
	"fmt"
	"testing"
	"time"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/channels"
)

// BenchmarkSendClaim measures the cost of the claim: sends per second through handleSend (real Redis
// and SQLite, pages of 100, claims of Config.ClaimBatch, a provider that answers at once, or after
// the given latency) with the claim and without it (Config.NoClaim), in one run, alternating the
// two so that both see the same database.
//
//	go test ./queue -run '^$' -bench SendClaim -benchtime 3x
func BenchmarkSendClaim(b *testing.B) {
	for _, latency := range []time.Duration{0, time.Millisecond} {
		b.Run(fmt.Sprintf("provider=%v", latency), func(b *testing.B) {
			const n, page = 2000, 100
			ctx := context.Background()
			p := newProvider(relais.ChannelSMS)
			ch := slowChannel{p, latency}
			r := newClaimRig(b, stores(b)["sqlite"](b), n, ch)
			var took [2]time.Duration // with, without the claim
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for mode := 0; mode < 2; mode++ {
					r.w.cfg.NoClaim = mode == 1
					l := relais.Lesson{Title: "T", Subject: "s", Grade: 5, Language: "fr", TeacherID: "t"}
					r.store.CreateLesson(ctx, &l)
					var ds []relais.Delivery
					for _, h := range r.hs {
						ds = append(ds, relais.Delivery{LessonID: l.ID, HouseholdID: h.ID, Channel: relais.ChannelSMS})
					}
					ids, err := r.store.PlanDeliveries(ctx, ds)
					if err != nil {
						b.Fatal(err)
					}
					start := time.Now()
					for s := 0; s < len(ids); s += page {
						t := task(TypeSend, SendPayload{Channel: relais.ChannelSMS, DeliveryIDs: ids[s:min(s+page, len(ids))]})
						if err := r.w.handleSend(ctx, t); err != nil {
							b.Fatal(err)
						}
					}
					took[mode] += time.Since(start)
				}
			}
			with, without := float64(n*b.N)/took[0].Seconds(), float64(n*b.N)/took[1].Seconds()
			b.ReportMetric(with, "sends/s-claim")
			b.ReportMetric(without, "sends/s-noclaim")
			b.ReportMetric(with/without, "ratio")
		})
	}
}

// slowChannel answers after latency, as a provider's API does.
type slowChannel struct {
	*provider
	latency time.Duration
}

func (c slowChannel) Send(ctx context.Context, m channels.Message) (channels.Receipt, error) {
	if c.latency > 0 {
		time.Sleep(c.latency)
	}
	return c.provider.Send(ctx, m)
}
