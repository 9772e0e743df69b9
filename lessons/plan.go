package lessons

import (
	"context"
	"strconv"
	"time"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/scheduler"
)

// PlanOptions are a publishing plan's assumptions as typed, in a query or a form; empty ones take the
// configured ones (Config.Plan). At is an RFC 3339 time (default now), SMSRate segments and EmailRate emails per second,
// PostalLeadDays the days a letter takes.
type PlanOptions struct {
	At, SMSRate, EmailRate, PostalLeadDays string
}

// PlanDefaults is what the plan assumes where PlanOptions leave a field empty: the configured rates.
func (s *Service) PlanDefaults() scheduler.PlanConfig { return s.cfg.Plan }

// Plan computes the publishing plan of a lesson: counts per channel, when each goes out, and whether
// the channels' rates let it finish before the first broadcast.
func (s *Service) Plan(ctx context.Context, id int64, o PlanOptions) (scheduler.PlanSummary, error) {
	cfg := s.cfg.Plan
	at := s.now()
	if o.At != "" {
		var err error
		if at, err = time.Parse(time.RFC3339, o.At); err != nil {
			return scheduler.PlanSummary{}, relais.Errorf(relais.EINVALID, "at must be a time such as 2026-03-02T18:00:00Z.")
		}
	}
	for _, rate := range []struct {
		name, v string
		dst     *float64
	}{{"sms_rate", o.SMSRate, &cfg.SMSRate}, {"email_rate", o.EmailRate, &cfg.EmailRate}} {
		if rate.v != "" {
			f, err := strconv.ParseFloat(rate.v, 64)
			if err != nil || f <= 0 {
				return scheduler.PlanSummary{}, relais.Errorf(relais.EINVALID, "%s must be a positive number.", rate.name)
			}
			*rate.dst = f
		}
	}
	if o.SMSRate != "" && len(cfg.SMSPool) > 0 {
		// A rate typed in stands for each of the configured senders.
		cfg.SMSSenders, cfg.SMSPool = len(cfg.SMSPool), nil
	}
	if o.PostalLeadDays != "" {
		n, err := strconv.Atoi(o.PostalLeadDays)
		if err != nil || n < 0 {
			return scheduler.PlanSummary{}, relais.Errorf(relais.EINVALID, "postal_lead_days must be a number of days.")
		}
		cfg.PostalLead = time.Duration(n) * 24 * time.Hour
	}
	p := &scheduler.Planner{Store: s.store, Lessons: s.store, Households: s.store, Channels: s.cfg.Channels, Config: cfg}
	return p.Plan(ctx, id, at, nil)
}

// Simulate replays the lesson's publishing plan over its stored audience in simulated time: every SMS
// through the configured sender pool, every email at the email rate (scheduler.Simulate). The first
// broadcast is the deadline; SMS start when quiet hours let them (PlanConfig.SMSFrom).
func (s *Service) Simulate(ctx context.Context, id int64, o PlanOptions, country func(relais.Household) string) (scheduler.Simulation, error) {
	sum, err := s.Plan(ctx, id, PlanOptions{At: o.At, SMSRate: o.SMSRate, EmailRate: o.EmailRate, PostalLeadDays: o.PostalLeadDays})
	if err != nil {
		return scheduler.Simulation{}, err
	}
	cfg := s.cfg.Plan
	if o.SMSRate != "" || o.EmailRate != "" {
		// The rates typed in, as Plan read them.
		if f, err := strconv.ParseFloat(o.SMSRate, 64); err == nil && f > 0 {
			cfg.SMSRate, cfg.SMSSenders, cfg.SMSPool = f, max(len(cfg.SMSPool), cfg.SMSSenders, 1), nil
		}
		if f, err := strconv.ParseFloat(o.EmailRate, 64); err == nil && f > 0 {
			cfg.EmailRate = f
		}
	}
	first := sum.FirstBroadcast
	if first.IsZero() {
		first = sum.At.Add(24 * time.Hour)
	}
	sc := scheduler.SimConfig{Plan: cfg, Publish: sum.At, FirstSlot: first, SkipSmallest: true}
	if cfg.SMSFrom != nil {
		sc.SMSFrom = cfg.SMSFrom(sum.At)
	}
	if cfg.SMSFromIn != nil { // each region's quiet hours, in its own time zone
		sc.SMSFromIn = func(region string) time.Time { return cfg.SMSFromIn(region, sum.At) }
	}
	p := &scheduler.Planner{Store: s.store, Lessons: s.store, Channels: s.cfg.Channels}
	return scheduler.Simulate(ctx, p, scheduler.StorePopulation(s.store, country), id, sc)
}
