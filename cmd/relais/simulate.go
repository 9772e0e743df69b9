package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nyaruka/phonenumbers"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/channels/sms"
	"github.com/relais-edu/relais/scheduler"
)

// cmdPlanSimulate simulates a national morning: the publishing plan of a lesson over a synthetic or
// the stored population, with the SMS replayed through the sender pool in simulated time.
func cmdPlanSimulate(ctx context.Context, io *stdio, args []string) error {
	fs := newFlagSet(io, "plan simulate", "plan simulate [--shape fr|kz | --lesson ID] [--senders FILE] [--publish TIME] [--first-slot TIME]",
		"Simulates a morning without sending anything: the publishing plan (the fan-out's routes and the\n"+
			"channels' costs) runs over a population, the built-in shape fr (8 M households) or kz (2.5 M), or the\n"+
			"store's households of a lesson's audience (--lesson), and every SMS goes through the sender pool as\n"+
			"the workers and the limiter send it, in simulated time. Prints per profile and channel the\n"+
			"households, messages, segments, time to finish, coverage before the first slot and utilisation, each\n"+
			"sender's throughput, and the smallest pool of the configured senders that reaches everyone in time.")
	shapeName := fs.String("shape", "fr", "synthetic population: fr or kz")
	n := fs.Int("households", 0, "households of the shape (0: the shape's own number)")
	lesson := fs.Int64("lesson", 0, "simulate the store's households of this lesson's audience instead of a shape")
	senders := fs.String("senders", io.getenv("RELAIS_SMS_SENDERS"), "sender pool file (YAML or JSON, as RELAIS_SMS_SENDERS); empty: --sms-senders senders at --sms-rate")
	count := fs.Int("sms-senders", 1, "senders, without a pool file")
	publish := fs.String("publish", "07:00", "when the lesson is published: HH:MM (UTC, today) or RFC 3339")
	firstSlot := fs.String("first-slot", "09:00", "the first broadcast: HH:MM (UTC, the publication's day) or RFC 3339")
	emailRelays := fs.Int("email-relays", 1, "SMTP relays sharing the email load, each at RELAIS_EMAIL_RATE")
	digest := fs.Int("digest-segments", 3, "segments of a digest")
	sends := fs.Int("sends", 0, "sends at once: worker processes × RELAIS_WORKER_CONCURRENCY (0: 3 × the concurrency)")
	sendTime := fs.Duration("send-time", 25*time.Millisecond, "one call to Twilio, from admission to answer")
	smallest := fs.Bool("smallest-pool", true, "also find the smallest pool that reaches everyone before the first slot")
	asJSON := jsonFlag(fs)
	cfg, err := loadSettings(fs, args, io, append([]string{"sms-rate", "sms-load-bound", "email-rate", "sms-reminder-lead", "sms-quiet-hours",
		"sms-quiet-days", "sms-quiet-dates", "time-zone", "worker-concurrency"}, dbSettings...)...)
	if err != nil {
		return err
	}
	pub, err := clockOrTime(*publish, time.Now().UTC())
	if err != nil {
		return fmt.Errorf("--publish: %w", err)
	}
	first, err := clockOrTime(*firstSlot, pub)
	if err != nil {
		return fmt.Errorf("--first-slot: %w", err)
	}
	pc := cfg.planConfig()
	pc.DigestSegs, pc.EmailRelays = *digest, *emailRelays
	pc.SMSSenders, pc.SMSPool = *count, nil
	if *senders != "" {
		pool, err := sms.ReadPool(*senders, io.getenv)
		if err != nil {
			return err
		}
		scfg := sms.DefaultConfig()
		// Accounts are not called: a placeholder stands for the default one.
		scfg.AccountSID, scfg.AuthToken, scfg.Pool, scfg.Rate = "AC00000000000000000000000000000000", "simulation", pool, cfg.SMSRate
		if err := scfg.Validate(); err != nil {
			return fmt.Errorf("--senders %s:\n%w", *senders, indent(err))
		}
		pc.SMSPool = scfg.Lanes()
	}
	q, err := cfg.quietHours()
	if err != nil {
		return err
	}
	loc, byRegion, err := cfg.zones()
	if err != nil {
		return err
	}
	regionFrom := regionSMSFrom(loc, byRegion, q)
	sc := scheduler.SimConfig{Plan: pc, Publish: pub, SMSFrom: sms.NextSendTime(pub, loc, q).UTC(), FirstSlot: first,
		Sends: *sends, SendTime: *sendTime, SkipSmallest: !*smallest,
		SMSFromIn: func(region string) time.Time { return regionFrom(region, pub) }}
	if sc.Sends == 0 {
		sc.Sends = 3 * cfg.WorkerConcurrency
	}
	var (
		pop  scheduler.Population
		p    = &scheduler.Planner{Channels: knownChannels()}
		id   int64
		name string
	)
	if *lesson > 0 {
		db, err := openStore(ctx, cfg)
		if err != nil {
			return err
		}
		defer db.Close()
		p.Store, p.Lessons = db, db
		pop, id, name = scheduler.StorePopulation(db, phoneCountry(cfg.DefaultCountry)), *lesson, fmt.Sprintf("lesson %d", *lesson)
		// The lesson's own first airing, when it has one, is the deadline.
		p.Config = pc
		if as, err := p.Airings(ctx, id, pub); err == nil && len(as) > 0 && *firstSlot == "09:00" {
			sc.FirstSlot = as[0].At
		}
	} else {
		shape, ok := scheduler.Shapes[*shapeName]
		if !ok {
			return fmt.Errorf("--shape %q: give fr or kz", *shapeName)
		}
		if *n > 0 {
			shape.Households = *n
		}
		m := scheduler.NewMorning(shape, *digest, sc.FirstSlot)
		p.Store, p.Lessons = m, m
		pop, id, name = shape.Population(), 1, fmt.Sprintf("shape %s", shape.Name)
	}
	started := time.Now()
	sim, err := scheduler.Simulate(ctx, p, pop, id, sc)
	if err != nil {
		return userError(err)
	}
	took := time.Since(started)
	if *asJSON {
		return writeJSON(io, sim)
	}
	writeSimulation(io.out, name, sc, sim)
	fmt.Fprintf(io.out, "\nsimulated in %.1f s\n", took.Seconds())
	return nil
}

// clockOrTime reads HH:MM (on day's date, UTC) or an RFC 3339 time.
func clockOrTime(v string, day time.Time) (time.Time, error) {
	if t, err := time.Parse("15:04", v); err == nil {
		d := day.UTC()
		return time.Date(d.Year(), d.Month(), d.Day(), t.Hour(), t.Minute(), 0, 0, time.UTC), nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return t, fmt.Errorf("%q is neither HH:MM nor a time such as 2026-03-02T07:00:00Z", v)
	}
	return t, nil
}

// phoneCountry is the country of h's phone, which picks its senders; def for a number without one.
func phoneCountry(def string) func(relais.Household) string {
	return func(h relais.Household) string {
		if num, err := phonenumbers.Parse(h.Phone, def); err == nil {
			if c := phonenumbers.GetRegionCodeForNumber(num); c != "" {
				return c
			}
		}
		return def
	}
}

// writeSimulation prints a simulation as tables.
func writeSimulation(w io.Writer, name string, sc scheduler.SimConfig, sim scheduler.Simulation) {
	fmt.Fprintf(w, "Simulated morning: %s, %d households. Published %s, SMS from %s, first slot %s (UTC).\n", name, sim.Households,
		sc.Publish.UTC().Format("2006-01-02 15:04"), sc.SMSFrom.UTC().Format("15:04"), sc.FirstSlot.UTC().Format("15:04"))
	pool := sc.Plan.SMSPool
	var caps []string
	for _, c := range pool.Summary() {
		caps = append(caps, fmt.Sprintf("%s %d senders, %g segments/s", c.Country, c.Senders, c.Rate))
	}
	if len(pool) == 0 {
		caps = append(caps, fmt.Sprintf("%d senders of %g segments/s", sc.Plan.SMSSenders, sc.Plan.SMSRate))
	}
	fmt.Fprintf(w, "SMS senders: %s. Email: %d relays of %g/s.\n", strings.Join(caps, "; "), max(sc.Plan.EmailRelays, 1), sc.Plan.EmailRate)
	if b := sc.Plan.SMSLoadBound; b >= 1 {
		fmt.Fprintf(w, "Each fan-out page's SMS households shared among their country's senders, none over %g times its share.\n\n", b)
	} else {
		fmt.Fprintf(w, "Each SMS household on its first-choice sender, whatever the load (no load bound).\n\n")
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "profile\tchannel\thouseholds\tmessages\tsegments\tfinish\tbefore first slot\tutilisation\t")
	for _, r := range sim.Rows {
		util := "-"
		if r.Utilisation > 0 {
			util = fmt.Sprintf("%.1f %%", r.Utilisation*100)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\t%.1f %%\t%s\t\n", r.Profile, r.Channel, r.Households, r.Messages, r.Segments,
			r.Finish.Round(time.Second), r.Coverage()*100, util)
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "sender\tcountry\trate\tmessages\tsegments\tsegments/s\tlast send\t")
	for _, s := range sim.Senders {
		if s.Messages == 0 {
			fmt.Fprintf(tw, "%s\t%s\t%g\t0\t0\t-\t-\t\n", s.Lane.Name, s.Lane.Country, s.Lane.Rate)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%g\t%d\t%d\t%.2f\t+%.1f s\t\n", s.Lane.Name, s.Lane.Country, s.Lane.Rate, s.Messages, s.Segments,
			s.Throughput(), s.Last.Sub(sc.SMSFrom).Seconds())
	}
	tw.Flush()
	fmt.Fprintf(w, "\nSMS: first at %s, last at %s (%s after publication).\n", sim.SMSStart.UTC().Format("15:04:05"), sim.SMSFinish.UTC().Format("15:04:05"),
		sim.SMSFinish.Sub(sc.Publish).Round(time.Second))
	if sim.Unsent > 0 {
		fmt.Fprintf(w, "%d SMS go to countries no sender serves: they fail (no_sender).\n", sim.Unsent)
	}
	switch {
	case sc.SkipSmallest:
	case sim.SmallestPool == 0:
		fmt.Fprintln(w, "No pool of up to 50 times the configured senders sends every SMS before the first slot.")
	default:
		fmt.Fprintf(w, "Smallest pool that sends every SMS before the first slot: %d senders (the configured ones repeated in order).\n", sim.SmallestPool)
	}
}
