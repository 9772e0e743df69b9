package scheduler_test

import (
	"context"
	"testing"
	"time"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/channels"
	"github.com/relais-edu/relais/scheduler"
)

// rememberingPopulation is a shape whose households remember the SMS sender sender(id) ("" : none).
type rememberingPopulation struct {
	scheduler.Population
	sender func(id int64) string
}

func (p rememberingPopulation) Households(ctx context.Context, f relais.HouseholdFilter) ([]relais.Household, error) {
	hs, err := p.Population.Households(ctx, f)
	for i := range hs {
		hs[i].SMSSender = p.sender(hs[i].ID)
	}
	return hs, err
}

// TestSimulateRememberedSenders: a real population's families keep the senders they remember, as at
// the fan-out: each page is shared by channels.Pool.BalanceRemembered, so a sender the families
// remember carries them all, even past its share, and the others share the rest; a remembered sender
// the pool no longer has counts for nothing.
func TestSimulateRememberedSenders(t *testing.T) {
	shape := scheduler.Shape{Name: "test", Households: 20_000, Country: "FR", Language: "fr", Grade: 5,
		Shares: []scheduler.ProfileShare{{Profile: relais.ProfileSMSOnly, Share: 1}}}
	sender := func(id int64) string {
		switch {
		case id%2 == 0:
			return "s2"
		case id%5 == 0:
			return "gone"
		}
		return ""
	}
	pool := threeSenders(20)
	publish := time.Date(2026, 12, 7, 7, 0, 0, 0, time.UTC)
	m := scheduler.NewMorning(shape, 1, publish.Add(time.Hour))
	cfg := scheduler.DefaultPlanConfig()
	cfg.SMSPool, cfg.DigestSegs = pool, 1
	p := &scheduler.Planner{Store: m, Lessons: m, Channels: relaisChannels()}
	sim, err := scheduler.Simulate(context.Background(), p, rememberingPopulation{shape.Population(), sender}, 1,
		scheduler.SimConfig{Plan: cfg, Publish: publish, FirstSlot: publish.Add(time.Hour), SkipSmallest: true})
	if err != nil {
		t.Fatal(err)
	}
	// The fan-out's pages: 1000 ids each (every household of the shape is in the audience).
	want := map[string]int64{}
	for start := int64(1); start <= 20_000; start += 1000 {
		var ids []int64
		var countries, remembered []string
		for h := start; h < start+1000; h++ {
			ids, countries, remembered = append(ids, h), append(countries, "FR"), append(remembered, sender(h))
		}
		for _, j := range pool.BalanceRemembered(countries, ids, remembered, cfg.SMSLoadBound) {
			want[pool[j].Name]++
		}
	}
	got := map[string]int64{}
	for _, s := range sim.Senders {
		got[s.Lane.Name] = s.Messages
	}
	for name, n := range want {
		if got[name] != n {
			t.Errorf("sender %s sent %d messages, want %d as the fan-out shares the pages", name, got[name], n)
		}
	}
	// Half the families remember s2: it carries them all, past its third; the rest share s1 and s3.
	if got["s2"] != 10_000 || got["s1"]+got["s3"] != 10_000 {
		t.Errorf("senders %v: want s2 to carry the 10000 that remember it, s1 and s3 the others", got)
	}
}

// regionalPopulation is a shape whose odd households live in region "east" and even ones in "west".
type regionalPopulation struct{ scheduler.Population }

func (p regionalPopulation) Households(ctx context.Context, f relais.HouseholdFilter) ([]relais.Household, error) {
	hs, err := p.Population.Households(ctx, f)
	for i := range hs {
		hs[i].Region = map[bool]string{true: "east", false: "west"}[hs[i].ID%2 == 1]
	}
	return hs, err
}

// TestSimulateQuietHoursByRegion: each SMS waits for its own region's quiet hours to end (SMSFromIn),
// as the workers' send window holds it, while the other region's go meanwhile: the west's half of the
// families, whose morning opens after the first slot, is not reached before it.
func TestSimulateQuietHoursByRegion(t *testing.T) {
	shape := scheduler.Shape{Name: "test", Households: 2_000, Country: "FR", Language: "fr", Grade: 5,
		Shares: []scheduler.ProfileShare{{Profile: relais.ProfileSMSOnly, Share: 1}}}
	publish := time.Date(2026, 12, 7, 7, 0, 0, 0, time.UTC)
	first := publish.Add(20 * time.Minute)
	cfg := scheduler.DefaultPlanConfig()
	cfg.SMSPool, cfg.DigestSegs = channels.Pool{{Name: "s1", Country: "FR", Rate: 10}}, 1
	opens := map[string]time.Time{"east": publish.Add(time.Minute), "west": publish.Add(30 * time.Minute)}
	run := func(byRegion bool) scheduler.Simulation {
		t.Helper()
		m := scheduler.NewMorning(shape, 1, first)
		p := &scheduler.Planner{Store: m, Lessons: m, Channels: relaisChannels()}
		sc := scheduler.SimConfig{Plan: cfg, Publish: publish, SMSFrom: publish.Add(time.Minute), FirstSlot: first, SkipSmallest: true}
		if byRegion {
			sc.SMSFromIn = func(region string) time.Time { return opens[region] }
		}
		sim, err := scheduler.Simulate(context.Background(), p, regionalPopulation{shape.Population()}, 1, sc)
		if err != nil {
			t.Fatal(err)
		}
		return sim
	}
	covered := func(sim scheduler.Simulation) int64 {
		for _, r := range sim.Rows {
			if r.Channel == "sms" {
				return r.Covered
			}
		}
		return -1
	}
	one := run(false)
	if got := covered(one); got != 2000 || !one.SMSStart.Equal(publish.Add(time.Minute)) {
		t.Errorf("one zone: %d SMS before the first slot from %s, want all 2000 from 07:01", got, one.SMSStart)
	}
	sim := run(true)
	if got := covered(sim); got != 1000 {
		t.Errorf("by region: %d SMS before the first slot, want the east's 1000 (the west opens after it)", got)
	}
	// The west's 1000 go at 10/s from 07:30: the last about 100 s later (plus the sends' own time).
	if !sim.SMSStart.Equal(opens["east"]) || sim.SMSFinish.Before(opens["west"].Add(99*time.Second)) ||
		sim.SMSFinish.After(opens["west"].Add(105*time.Second)) {
		t.Errorf("by region: SMS from %s to %s, want from 07:01 to about 07:31:40", sim.SMSStart, sim.SMSFinish)
	}
}
