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
	return simulateBound(t, shape, pool, 1, publish, first, skipSmallest)
}

// simulateBound is simulate with the senders' load bound (scheduler.PlanConfig.SMSLoadBound).
func simulateBound(t testing.TB, shape scheduler.Shape, pool channels.Pool, bound float64, publish, first time.Time, skipSmallest bool) scheduler.Simulation {
	t.Helper()
	m := scheduler.NewMorning(shape, 1, first)
	cfg := scheduler.DefaultPlanConfig()
	cfg.SMSPool, cfg.DigestSegs, cfg.SMSLoadBound = pool, 1, bound
	p := &scheduler.Planner{Store: m, Lessons: m, Channels: relaisChannels()}
	sim, err := scheduler.Simulate(context.Background(), p, shape.Population(), 1,
		scheduler.SimConfig{Plan: cfg, Publish: publish, FirstSlot: first, SkipSmallest: skipSmallest})
	if err != nil {
		t.Fatal(err)
	}
	return sim
}

// fanoutLoads is what each sender of pool gets of the shape's SMS households when the fan-out shares
// each page among them: pages of the worker's fan-out, 1000 households of the audience from the start
// of each segment of 25,000 ids; every household of a shape is in its lesson's audience, so a page is
// 1000 ids.
func fanoutLoads(shape scheduler.Shape, pool channels.Pool, bound float64) map[string]int64 {
	out := map[string]int64{}
	var ids []int64
	flush := func() {
		countries := make([]string, len(ids))
		for i := range countries {
			countries[i] = shape.Country
		}
		for _, j := range pool.Balance(countries, ids, bound) {
			out[pool[j].Name]++
		}
		ids = ids[:0]
	}
	for h := int64(1); h <= int64(shape.Households); h++ {
		if (h-1)%1000 == 0 {
			flush()
		}
		if p := shape.Household(h).Profile; p == relais.ProfileSMSOnly || p == relais.ProfileMobileData { // the SMS digest's

			ids = append(ids, h)
		}
	}
	flush()
	return out
}

func threeSenders(rate float64) channels.Pool {
	return channels.Pool{{Name: "s1", Country: "FR", Rate: rate}, {Name: "s2", Country: "FR", Rate: rate}, {Name: "s3", Country: "FR", Rate: rate}}
}

// TestSimulateSMSOnly: 20,000 SMS-only households through three senders of 20 segments/s. Each sender
// gets the households the fan-out gives it (each page of 1000 shared at once, its load bounded; or,
// without a bound, each household's first choice: channels.Assign) and sends at most its rate; the pool
// finishes when its busiest sender does, and the figures add up.
func TestSimulateSMSOnly(t *testing.T) {
	for _, tc := range []struct {
		name  string
		bound float64
		// most is the most households a sender may get.
		most int64
	}{
		{"bounded", 1, 20 * 334},
		{"unbounded", 0, 20_000},
	} {
		t.Run(tc.name, func(t *testing.T) { simulateSMSOnly(t, tc.bound, tc.most) })
	}
}

func simulateSMSOnly(t *testing.T, bound float64, most int64) {
	shape := scheduler.Shape{Name: "test", Households: 20_000, Country: "FR", Language: "fr", Grade: 5,
		Shares: []scheduler.ProfileShare{{Profile: relais.ProfileSMSOnly, Share: 1}}}
	publish := time.Date(2026, 12, 7, 7, 0, 0, 0, time.UTC)
	pool := threeSenders(20)
	sim := simulateBound(t, shape, pool, bound, publish, publish.Add(5*time.Minute), false)
	if sim.Households != 20_000 || len(sim.Rows) != 3 { // sms, its reminder and tv
		t.Fatalf("simulation: %d households, rows %+v", sim.Households, sim.Rows)
	}
	want := fanoutLoads(shape, pool, bound)
	if bound == 0 {
		clear(want)
		for h := int64(1); h <= 20_000; h++ {
			l, _ := pool.Assign("FR", h)
			want[l.Name]++
		}
	}
	var busiest int64
	for _, s := range sim.Senders {
		if s.Messages != want[s.Lane.Name] || s.Segments != s.Messages {
			t.Errorf("sender %s sent %d messages (%d segments), want %d", s.Lane.Name, s.Messages, s.Segments, want[s.Lane.Name])
		}
		if s.Messages > most {
			t.Errorf("sender %s sent %d messages, over the bound's %d", s.Lane.Name, s.Messages, most)
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
	// The SMS households (SMS only and mobile data), about 350 a page, shared among the senders page by page.
	want := fanoutLoads(shape, threeSenders(100), 1)
	for _, s := range sim.Senders {
		if s.Messages != want[s.Lane.Name] {
			t.Errorf("sender %s sent %d messages, the fan-out's pages give it %d", s.Lane.Name, s.Messages, want[s.Lane.Name])
		}
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
