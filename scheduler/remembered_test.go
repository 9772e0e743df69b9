package scheduler_test

import (
	"context"
	"testing"
	"time"

	relais "github.com/relais-edu/relais"
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
