package scheduler

import (
	"context"
	"fmt"
	"math"
	"sort"
	"time"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/fanout"
)

// PlanConfig holds the channel rates and lead times a publishing plan is checked against.
type PlanConfig struct {
	SMSRate       float64       // SMS segments per second per sender
	SMSSenders    int           // senders sharing the load
	EmailRate     float64       // emails per second per relay
	EmailRelays   int           // relays sharing the load
	PostalLead    time.Duration // from the batch cut to the packets arriving
	ReminderLead  time.Duration // SMS reminder this long before the household's broadcast
	ReminderSegs  int           // segments of one reminder
	DigestSegs    int           // segments of a digest when the lesson has none in that language yet
	PageSize      int           // households read at a time
	SampleEntries int           // household entries kept in the summary for display
}

// DefaultPlanConfig matches Relais' defaults: 10 segments/s from one alphanumeric sender, 50 emails/s
// from one relay, packets posted five days ahead, reminders 30 minutes before the broadcast.
func DefaultPlanConfig() PlanConfig {
	return PlanConfig{SMSRate: 10, SMSSenders: 1, EmailRate: 50, EmailRelays: 1, PostalLead: 5 * 24 * time.Hour,
		ReminderLead: 30 * time.Minute, ReminderSegs: 1, DigestSegs: 3, PageSize: relais.MaxPageLimit, SampleEntries: 20}
}

// PlanStep is one thing that reaches a household: a channel, and when.
type PlanStep struct {
	Channel string    `json:"channel"` // sms, sms_reminder, email, postal, tv, radio
	At      time.Time `json:"at"`
	Skip    string    `json:"skip,omitempty"` // recorded as skipped, with this reason
}

// HouseholdPlan is what the plan does for one household.
type HouseholdPlan struct {
	HouseholdID int64      `json:"household_id"`
	Steps       []PlanStep `json:"steps"`
}

// Airing is where and when the lesson airs first for a region ("" : stations with no region).
type Airing struct {
	StationID int64     `json:"station_id"`
	Station   string    `json:"station"`
	Region    string    `json:"region"`
	Kind      string    `json:"kind"`
	At        time.Time `json:"at"`
}

// ChannelEstimate is how long one channel takes to carry its part of the plan.
type ChannelEstimate struct {
	Messages int64         `json:"messages"`
	Segments int64         `json:"segments,omitempty"`
	Duration time.Duration `json:"-"`
	Seconds  float64       `json:"seconds"`
	Finishes time.Time     `json:"finishes"`
	Deadline time.Time     `json:"deadline,omitempty"`
}

// PlanSummary is the plan of a lesson: counts per channel, the capacity estimate, and warnings.
type PlanSummary struct {
	LessonID       int64                      `json:"lesson_id"`
	At             time.Time                  `json:"at"` // when publishing starts
	Households     int64                      `json:"households"`
	Counts         map[string]int64           `json:"counts"`  // per channel (and sms_reminder, tv, radio)
	Skipped        map[string]int64           `json:"skipped"` // per channel
	Airings        []Airing                   `json:"airings"`
	FirstBroadcast time.Time                  `json:"first_broadcast,omitempty"`
	Estimates      map[string]ChannelEstimate `json:"estimates"`
	Warnings       []string                   `json:"warnings"`
	Sample         []HouseholdPlan            `json:"sample"`
}

// Planner computes publishing plans by paging through the targeted households.
type Planner struct {
	Store      relais.ScheduleStore
	Lessons    relais.LessonStore
	Households relais.HouseholdStore
	Config     PlanConfig
}

// Plan computes the plan of a lesson published at at, calling each (when not nil) with every
// household's plan as it goes; nothing is kept per household beyond the sample.
func (p *Planner) Plan(ctx context.Context, lessonID int64, at time.Time, each func(HouseholdPlan) error) (PlanSummary, error) {
	cfg := p.Config
	l, err := p.Lessons.Lesson(ctx, lessonID)
	if err != nil {
		return PlanSummary{}, err
	}
	airings, err := p.Airings(ctx, lessonID, at)
	if err != nil {
		return PlanSummary{}, err
	}
	// Reminders go before every airing, re-runs included, to the regions each station reaches.
	all, err := p.AllAirings(ctx, lessonID, at)
	if err != nil {
		return PlanSummary{}, err
	}
	burst := make([]int64, len(all)) // reminder segments per airing
	digests, err := p.Lessons.Digests(ctx, lessonID)
	if err != nil {
		return PlanSummary{}, err
	}
	segs := map[string]int{}
	for _, d := range digests {
		segs[d.Language] = d.Segments
	}
	sum := PlanSummary{LessonID: lessonID, At: at, Counts: map[string]int64{}, Skipped: map[string]int64{},
		Airings: airings, Estimates: map[string]ChannelEstimate{}, Warnings: []string{}, Sample: []HouseholdPlan{}}
	byRegion := map[string]Airing{}
	for _, a := range airings {
		if b, ok := byRegion[a.Region]; !ok || a.At.Before(b.At) {
			byRegion[a.Region] = a
		}
		if sum.FirstBroadcast.IsZero() || a.At.Before(sum.FirstBroadcast) {
			sum.FirstBroadcast = a.At
		}
	}
	var digestSegs, reminderSegs int64
	f := relais.HouseholdFilter{Grade: l.Grade, Region: l.Region, Page: relais.Page{Limit: cfg.PageSize}}
	var steps []PlanStep // reused for every household
	for {
		hs, err := p.Households.Households(ctx, f)
		if err != nil {
			return sum, fmt.Errorf("plan lesson %d: %w", lessonID, err)
		}
		for _, h := range hs {
			sum.Households++
			air, hasAir := byRegion[h.Region]
			if !hasAir {
				air, hasAir = byRegion[""]
			}
			steps = steps[:0]
			for _, r := range fanout.Routes(h) {
				ch := string(r.Channel)
				if r.Skip != "" {
					sum.Skipped[ch]++
					steps = append(steps, PlanStep{Channel: ch, At: at, Skip: r.Skip})
					continue
				}
				sum.Counts[ch]++
				switch r.Channel {
				case relais.ChannelSMS:
					n := segs[h.Language]
					if n == 0 {
						n = cfg.DigestSegs
					}
					digestSegs += int64(n)
					steps = append(steps, PlanStep{Channel: ch, At: at})
					for i, a := range all {
						if a.Region != "" && a.Region != h.Region {
							continue
						}
						sum.Counts["sms_reminder"]++
						reminderSegs += int64(cfg.ReminderSegs)
						burst[i] += int64(cfg.ReminderSegs)
						steps = append(steps, PlanStep{Channel: "sms_reminder", At: a.At.Add(-cfg.ReminderLead)})
					}
				case relais.ChannelEmail:
					steps = append(steps, PlanStep{Channel: ch, At: at})
				case relais.ChannelPostal:
					// The batch is cut a lead time before the broadcast, or now when that is past.
					cut := at
					if hasAir && air.At.Add(-cfg.PostalLead).After(at) {
						cut = air.At.Add(-cfg.PostalLead)
					}
					steps = append(steps, PlanStep{Channel: ch, At: cut})
				}
			}
			if hasAir {
				sum.Counts[air.Kind]++
				steps = append(steps, PlanStep{Channel: air.Kind, At: air.At})
			}
			hp := HouseholdPlan{HouseholdID: h.ID, Steps: steps}
			if len(sum.Sample) < cfg.SampleEntries {
				hp.Steps = append([]PlanStep(nil), steps...)
				sum.Sample = append(sum.Sample, hp)
			}
			if each != nil {
				if err := each(hp); err != nil {
					return sum, err
				}
			}
		}
		if len(hs) < f.Page.Limit {
			break
		}
		f.Page.After = hs[len(hs)-1].ID
	}
	// The reminders of each airing go out in one burst: the largest decides whether they fit the lead.
	var worst reminderBurst
	for i, segs := range burst {
		if segs > worst.segs {
			worst = reminderBurst{segs: segs, airing: all[i].At}
		}
	}
	p.estimate(&sum, digestSegs, reminderSegs, worst)
	return sum, nil
}

// reminderBurst is the reminders of one airing, sent together a lead before it.
type reminderBurst struct {
	segs   int64
	airing time.Time
}

// estimate fills the capacity estimate and warnings: the SMS digests and emails must be out before the
// first broadcast, each region's reminders within the reminder lead, and packets posted in time.
func (p *Planner) estimate(sum *PlanSummary, digestSegs, reminderSegs int64, worst reminderBurst) {
	cfg := p.Config
	first := sum.FirstBroadcast
	rate := func(n int64, perSec float64, lanes int) time.Duration {
		if n == 0 {
			return 0
		}
		return time.Duration(math.Ceil(float64(n)/(perSec*float64(max(lanes, 1)))*1000)) * time.Millisecond
	}
	add := func(name string, msgs, segs int64, d time.Duration, start, deadline time.Time) {
		e := ChannelEstimate{Messages: msgs, Segments: segs, Duration: d, Seconds: d.Seconds(), Finishes: start.Add(d), Deadline: deadline}
		sum.Estimates[name] = e
		if !deadline.IsZero() && e.Finishes.After(deadline) {
			sum.Warnings = append(sum.Warnings, fmt.Sprintf("%s: %d messages take %s and finish at %s, after %s.",
				name, msgs, d.Round(time.Second), e.Finishes.Format(time.RFC3339), deadline.Format(time.RFC3339)))
		}
	}
	if n := sum.Counts[string(relais.ChannelSMS)]; n > 0 {
		add("sms", n, digestSegs, rate(digestSegs, cfg.SMSRate, cfg.SMSSenders), sum.At, first)
	}
	if n := sum.Counts["sms_reminder"]; n > 0 {
		// Every reminder counted; the time is that of the largest burst, before its own airing.
		add("sms_reminder", n, reminderSegs, rate(worst.segs, cfg.SMSRate, cfg.SMSSenders), worst.airing.Add(-cfg.ReminderLead), worst.airing)
	}
	if n := sum.Counts[string(relais.ChannelEmail)]; n > 0 {
		add("email", n, 0, rate(n, cfg.EmailRate, cfg.EmailRelays), sum.At, first)
	}
	if n := sum.Counts[string(relais.ChannelPostal)]; n > 0 {
		e := ChannelEstimate{Messages: n, Duration: cfg.PostalLead, Seconds: cfg.PostalLead.Seconds(),
			Finishes: sum.At.Add(cfg.PostalLead), Deadline: first}
		sum.Estimates["postal"] = e
		if !first.IsZero() && e.Finishes.After(first) {
			sum.Warnings = append(sum.Warnings, fmt.Sprintf("postal: packets posted now (lead %s) arrive at %s, after the first broadcast at %s.",
				cfg.PostalLead, e.Finishes.Format(time.RFC3339), first.Format(time.RFC3339)))
		}
	}
	if first.IsZero() {
		sum.Warnings = append(sum.Warnings, "The lesson is not scheduled on any station: no broadcast, no reminders.")
	}
}

// Airings lists, per station, the lesson's first airing at or after at.
func (p *Planner) Airings(ctx context.Context, lessonID int64, at time.Time) ([]Airing, error) {
	return p.airings(ctx, lessonID, at, true)
}

// AllAirings lists every airing of the lesson at or after at, on every station, re-runs included, in
// time order: the broadcasts families are reminded of.
func (p *Planner) AllAirings(ctx context.Context, lessonID int64, at time.Time) ([]Airing, error) {
	return p.airings(ctx, lessonID, at, false)
}

func (p *Planner) airings(ctx context.Context, lessonID int64, at time.Time, firstOnly bool) ([]Airing, error) {
	sts, err := p.Store.Stations(ctx)
	if err != nil {
		return nil, err
	}
	var out []Airing
	for _, st := range sts {
		loc, err := st.Location()
		if err != nil {
			return nil, err
		}
		from := at.In(loc).AddDate(0, 0, -1).Format(time.DateOnly)
		slots, err := p.Store.Slots(ctx, relais.SlotFilter{StationID: st.ID, From: from, LessonID: lessonID})
		if err != nil {
			return nil, err
		}
		for _, sl := range slots {
			if sl.LessonID != lessonID {
				continue
			}
			start, _, err := sl.Interval(loc)
			if err != nil || start.Before(at) {
				continue
			}
			out = append(out, Airing{StationID: st.ID, Station: st.ServiceName, Region: st.Region, Kind: string(st.Kind), At: start})
			if firstOnly {
				break
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	return out, nil
}
