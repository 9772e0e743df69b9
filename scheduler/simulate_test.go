package scheduler_test

import (
	"context"
	"math"
	"testing"
	"time"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/channels"
	"github.com/relais-edu/relais/scheduler"
)

func simulate(t testing.TB, shape scheduler.Shape, pool channels.Pool, publish, first time.Time, skipSmallest bool) scheduler.Simulation {
	t.Helper()
	m := scheduler.NewMorning(shape, 1, first)
	cfg := scheduler.DefaultPlanConfig()
	cfg.SMSPool, cfg.DigestSegs = pool, 1
	p := &scheduler.Planner{Store: m, Lessons: m, Channels: relaisChannels()}
	sim, err := scheduler.Simulate(context.Background(), p, shape.Population(), 1,
		scheduler.SimConfig{Plan: cfg, Publish: publish, FirstSlot: first, SkipSmallest: skipSmallest})
	if err != nil {
		t.Fatal(err)
	}
	return sim
}

func threeSenders(rate float64) channels.Pool {
	return channels.Pool{{Name: "s1", Country: "FR", Rate: rate}, {Name: "s2", Country: "FR", Rate: rate}, {Name: "s3", Country: "FR", Rate: rate}}
}

// TestSimulateSMSOnly: 20,000 SMS-only households through three senders of 20 segments/s. Each sender
// gets the households channels.Assign gives it and sends at most its rate; the pool finishes when its
// busiest sender does, and the figures add up.
func TestSimulateSMSOnly(t *testing.T) {
	shape := scheduler.Shape{Name: "test", Households: 20_000, Country: "FR", Language: "fr", Grade: 5,
		Shares: []scheduler.ProfileShare{{Profile: relais.ProfileSMSOnly, Share: 1}}}
	publish := time.Date(2026, 12, 7, 7, 0, 0, 0, time.UTC)
	pool := threeSenders(20)
	sim := simulate(t, shape, pool, publish, publish.Add(5*time.Minute), false)
	if sim.Households != 20_000 || len(sim.Rows) != 3 { // sms, its reminder and tv
		t.Fatalf("simulation: %d households, rows %+v", sim.Households, sim.Rows)
	}
	want := map[string]int64{}
	for h := int64(1); h <= 20_000; h++ {
		l, _ := pool.Assign("FR", h)
		want[l.Name]++
	}
	var busiest int64
	for _, s := range sim.Senders {
		if s.Messages != want[s.Lane.Name] || s.Segments != s.Messages {
			t.Errorf("sender %s sent %d messages (%d segments), want %d", s.Lane.Name, s.Messages, s.Segments, want[s.Lane.Name])
		}
		if tp := s.Throughput(); tp > 20 {
			t.Errorf("sender %s at %.2f segments/s, over its 20", s.Lane.Name, tp)
		}
		busiest = max(busiest, s.Messages)
	}
	finish := sim.SMSFinish.Sub(publish).Seconds()
	// The busiest sender's messages at 20 a second, plus its window held by each send's 25 ms.
	// A segment holds its window until its send ends: 20 segments every 1.025 s.
	if want := float64(busiest-1) / 20 * 1.025; math.Abs(finish-want) > want*0.02 {
		t.Errorf("finished after %.1f s, want about %.1f s (the busiest sender's %d at 20 per 1.025 s)", finish, want, busiest)
	}
	sms := sim.Rows[0]
	if sms.Channel != "sms" || sms.Messages != 20_000 || sms.Segments != 20_000 || sms.Households != 20_000 {
		t.Errorf("sms row %+v", sms)
	}
	// 5 minutes at up to 60 segments/s: about 18,000 of them before the slot.
	if c := sms.Coverage(); c < 0.80 || c > 0.92 {
		t.Errorf("coverage before the slot %.3f, want about 0.88", c)
	}
	if u := sms.Utilisation; u < 0.9 || u > 1 {
		t.Errorf("utilisation %.3f", u)
	}
	// Everyone in time takes the fewest senders of 20/s that send 20,000 in 5 minutes: 4 (80/s).
	if sim.SmallestPool != 4 {
		t.Errorf("smallest pool %d, want 4", sim.SmallestPool)
	}
}

// TestSimulateShapes: the built-in shapes route each profile as the fan-out does.
func TestSimulateShapes(t *testing.T) {
	shape := scheduler.Shapes["fr"]
	shape.Households = 100_000
	publish := time.Date(2026, 12, 7, 7, 0, 0, 0, time.UTC)
	sim := simulate(t, shape, threeSenders(100), publish, publish.Add(2*time.Hour), true)
	got := map[string]int64{}
	hh := map[relais.Profile]int64{}
	for _, r := range sim.Rows {
		got[string(r.Profile)+"/"+r.Channel] += r.Messages
		hh[r.Profile] = r.Households
	}
	for _, sh := range shape.Shares {
		if want := sh.Share * 100_000; math.Abs(float64(hh[sh.Profile])-want) > 10 {
			t.Errorf("%s: %d households, want %.0f", sh.Profile, hh[sh.Profile], want)
		}
	}
	if got["sms_only/sms"] != hh[relais.ProfileSMSOnly] || got["broadband/email"] != hh[relais.ProfileBroadband] {
		t.Errorf("messages per profile and channel: %v", got)
	}
}

// BenchmarkSimulateFR is the national French morning: 8 M households, a pool of three short codes.
func BenchmarkSimulateFR(b *testing.B) {
	publish := time.Date(2026, 12, 7, 7, 0, 0, 0, time.UTC)
	for b.Loop() {
		sim := simulate(b, scheduler.Shapes["fr"], threeSenders(100), publish, publish.Add(2*time.Hour), false)
		b.ReportMetric(float64(sim.Households), "households")
		b.ReportMetric(float64(sim.SmallestPool), "smallest_pool")
	}
}
