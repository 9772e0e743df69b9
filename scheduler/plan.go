package scheduler

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"time"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/channels"
	"github.com/relais-edu/relais/fanout"
)

// PlanConfig holds the channel rates and lead times a publishing plan is checked against.
type PlanConfig struct {
	SMSRate    float64 // SMS segments per second per sender
	SMSSenders int     // senders sharing the load
	// SMSPool, when set, is the configured senders: the plan sends at their summed rate, not at
	// SMSRate × SMSSenders.
	SMSPool channels.Pool
	// SMSLoadBound is the senders' bound on a fan-out page's households (sms.Config.LoadBound): the
	// simulation shares each page among the senders as the fan-out does (channels.Balance).
	SMSLoadBound float64
	// SMSFrom, when set, is when quiet hours let SMS go after a publication at t (sms.NextSendTime in
	// the default time zone): the simulation's SMS start there. nil: at once.
	SMSFrom func(t time.Time) time.Time
	// SMSFromIn, when set, is SMSFrom for the households of a region, in the region's time zone
	// (RELAIS_REGION_TIMEZONES), as the workers' send window holds each household's SMS.
	SMSFromIn     func(region string, t time.Time) time.Time
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
		ReminderLead: 30 * time.Minute, ReminderSegs: 1, DigestSegs: 3, PageSize: relais.MaxPageLimit, SampleEntries: 20, SMSLoadBound: 1}
}

// IsZero reports whether c is unset (its zero value): the caller then takes DefaultPlanConfig.
func (c PlanConfig) IsZero() bool {
	return c.SMSRate == 0 && c.SMSSenders == 0 && len(c.SMSPool) == 0 && c.EmailRate == 0 && c.EmailRelays == 0 &&
		c.PostalLead == 0 && c.ReminderLead == 0 && c.ReminderSegs == 0 && c.DigestSegs == 0 && c.PageSize == 0 && c.SampleEntries == 0 &&
		c.SMSLoadBound == 0
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
	StationID int64         `json:"station_id"`
	Station   string        `json:"station"`
	Region    string        `json:"region"`
	Kind      string        `json:"kind"`
	At        time.Time     `json:"at"`                // the lesson's own start, after the lessons before it in its slot
	Slot      time.Duration `json:"-"`                 // the slot's length
	Sequence  time.Duration `json:"-"`                 // how long the slot's whole sequence of lessons plays
	Lessons   int           `json:"-"`                 // how many lessons the slot's sequence holds
	SlotID    int64         `json:"slot_id,omitempty"` // the slot the lesson airs in
	Filler    bool          `json:"-"`                 // the station has a filler clip
}

// ChannelEstimate is how long one channel takes to carry its part of the plan.
type ChannelEstimate struct {
	Messages int64         `json:"messages"`
	Segments int64         `json:"segments,omitempty"`
	Duration time.Duration `json:"-"`
	Seconds  float64       `json:"seconds"`
	Finishes time.Time     `json:"finishes,omitzero"`
	Deadline time.Time     `json:"deadline,omitzero"`
}

// PlanSummary is the plan of a lesson: counts per channel, the capacity estimate, and warnings.
type PlanSummary struct {
	LessonID       int64                      `json:"lesson_id"`
	At             time.Time                  `json:"at"` // when publishing starts
	Households     int64                      `json:"households"`
	Counts         map[string]int64           `json:"counts"`  // per channel (and sms_reminder, tv, radio)
	Skipped        map[string]int64           `json:"skipped"` // per channel
	Airings        []Airing                   `json:"airings"`
	FirstBroadcast time.Time                  `json:"first_broadcast,omitzero"`
	Estimates      map[string]ChannelEstimate `json:"estimates"`
	Warnings       []string                   `json:"warnings"`
	Underruns      []Underrun                 `json:"underruns,omitempty"`
	Sample         []HouseholdPlan            `json:"sample"`
}

// Planner computes publishing plans by paging through the targeted households.
type Planner struct {
	Store      relais.ScheduleStore
	Lessons    relais.LessonStore
	Households relais.HouseholdStore
	// Channels are the channels the plan counts: fan-out routes by their rules, and each channel that
	// is a channels.Coster says what a household costs it.
	Channels *channels.Registry
	Config   PlanConfig
}

// rate is the pace a channel sends at: units per second and lanes sharing the load.
func (c PlanConfig) rate(p channels.Pace) (perSec float64, lanes int) {
	switch p {
	case channels.PaceSMS:
		if len(c.SMSPool) > 0 {
			var sum float64
			for _, l := range c.SMSPool {
				sum += l.Rate
			}
			return sum / float64(len(c.SMSPool)), len(c.SMSPool)
		}
		return c.SMSRate, c.SMSSenders
	case channels.PaceEmail:
		return c.EmailRate, c.EmailRelays
	}
	return 0, 0
}

// lead is how long before the broadcast a channel of lead kind k hands over.
func (c PlanConfig) lead(k channels.LeadKind) time.Duration {
	switch k {
	case channels.BeforeAiring:
		return c.ReminderLead
	case channels.PostedAhead:
		return c.PostalLead
	}
	return 0
}

// tally is what the plan counted for one channel.
type tally struct {
	cost  channels.Cost // the last household's: the channel's pace and lead
	units int64
	burst []int64 // per airing, for a channel sent before each airing
}

// costInput is what the channels count a household's cost of lessonID from: the segments of the
// lesson's digest in each language, and the configured digest and reminder lengths.
func (p *Planner) costInput(ctx context.Context, lessonID int64) (channels.CostInput, error) {
	digests, err := p.Lessons.Digests(ctx, lessonID)
	if err != nil {
		return channels.CostInput{}, err
	}
	segs := map[string]int{}
	for _, d := range digests {
		segs[d.Language] = d.Segments
	}
	return channels.CostInput{Segments: segs, DigestSegments: p.Config.DigestSegs, ReminderSegments: p.Config.ReminderSegs}, nil
}

// costers are the known channels that count what a household costs them.
func (p *Planner) costers() map[relais.ChannelName]channels.Coster {
	costers := map[relais.ChannelName]channels.Coster{}
	for _, name := range p.Channels.Known() {
		rs, _ := p.Channels.Rules(name)
		if cs, ok := rs.(channels.Coster); ok {
			costers[name] = cs
		}
	}
	return costers
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
	in, err := p.costInput(ctx, lessonID)
	if err != nil {
		return PlanSummary{}, err
	}
	if airings == nil { // the JSON lists none as [], as the spec says, not null
		airings = []Airing{}
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
	rules := fanout.New(p.Channels)
	tallies := map[string]*tally{}
	keys := map[relais.ChannelName]string{} // plan names by channel
	// What each channel costs and which channels follow it, looked up once per channel.
	costers := p.costers()
	followers := map[relais.ChannelName][]relais.ChannelName{}
	for _, name := range p.Channels.Known() {
		followers[name] = p.Channels.Followers(name)
	}
	count := func(name relais.ChannelName, h relais.Household) (string, channels.Cost, *tally) {
		var c channels.Cost
		if cs, ok := costers[name]; ok {
			c = cs.Cost(h, in)
		}
		key := c.PlanName
		if key == "" {
			key = string(name)
		}
		t, ok := tallies[key]
		if !ok {
			t = &tally{burst: make([]int64, len(all))}
			tallies[key] = t
			keys[name] = key
		}
		t.cost = c
		t.units += c.Units
		sum.Counts[key]++
		return key, c, t
	}
	f := l.AudienceFilter()
	f.Page = relais.Page{Limit: cfg.PageSize}
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
			var airAt time.Time
			if hasAir {
				airAt = air.At
			}
			for _, r := range rules.Routes(h) {
				ch := string(r.Channel)
				if r.Skip != "" {
					sum.Skipped[ch]++
					steps = append(steps, PlanStep{Channel: ch, At: at, Skip: r.Skip})
					continue
				}
				key, c, _ := count(r.Channel, h)
				steps = append(steps, PlanStep{Channel: key, At: channels.StepAt(c.Lead, at, airAt, cfg.lead(c.Lead))})
				// Channels that follow this one go before every airing the household receives.
				for _, fl := range followers[r.Channel] {
					for i, a := range all {
						if a.Region != "" && a.Region != h.Region {
							continue
						}
						key, c, t := count(fl, h)
						t.burst[i] += c.Units
						steps = append(steps, PlanStep{Channel: key, At: channels.StepAt(c.Lead, at, a.At, cfg.lead(c.Lead))})
					}
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
	// Estimates in the fallback order, each channel's followers after it, then the others.
	var order []string
	var names []relais.ChannelName
	for _, name := range append(slices.Clone(rules.Policy.Fallback), p.Channels.Known()...) {
		if !slices.Contains(names, name) {
			names = append(names, name)
			names = append(names, p.Channels.Followers(name)...)
		}
	}
	for _, name := range names {
		if key, ok := keys[name]; ok && !slices.Contains(order, key) {
			order = append(order, key)
		}
	}
	p.estimate(&sum, all, tallies, order)
	if sum.Households == 0 {
		sum.Warnings = append(sum.Warnings, noHouseholdWarning(l.Reach()))
	}
	sum.Underruns = underruns(l, all)
	for _, u := range sum.Underruns {
		sum.Warnings = append(sum.Warnings, underrunWarning(u))
	}
	return sum, nil
}

// estimate fills the capacity estimate and warnings: what is sent at publication must be out before
// the first broadcast, what goes before each airing within its lead (the largest burst decides), and
// packets posted a lead ahead must arrive in time.
func (p *Planner) estimate(sum *PlanSummary, all []Airing, tallies map[string]*tally, order []string) {
	cfg := p.Config
	first := sum.FirstBroadcast
	rate := func(n int64, c channels.Cost) time.Duration {
		perSec, lanes := cfg.rate(c.Pace)
		if c.Pace == channels.PaceNone {
			perSec, lanes = c.Rate, 1
		}
		if n == 0 || perSec <= 0 {
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
	for _, name := range order {
		t, n := tallies[name], sum.Counts[name]
		var segs int64
		if t.cost.Segments {
			segs = t.units
		}
		switch {
		case t.cost.Lead == channels.BeforeAiring:
			// Every message counted; the time is that of the largest burst, before its own airing.
			var worst reminderBurst
			for i, units := range t.burst {
				if units > worst.units {
					worst = reminderBurst{units: units, airing: all[i].At}
				}
			}
			add(name, n, segs, rate(worst.units, t.cost), worst.airing.Add(-cfg.lead(t.cost.Lead)), worst.airing)
		case t.cost.Pace != channels.PaceNone || t.cost.Rate > 0:
			add(name, n, segs, rate(t.units, t.cost), sum.At, first)
		case t.cost.Lead == channels.PostedAhead:
			lead := cfg.lead(t.cost.Lead)
			e := ChannelEstimate{Messages: n, Duration: lead, Seconds: lead.Seconds(), Finishes: sum.At.Add(lead), Deadline: first}
			sum.Estimates[name] = e
			if !first.IsZero() && e.Finishes.After(first) {
				sum.Warnings = append(sum.Warnings, fmt.Sprintf("%s: packets posted now (lead %s) arrive at %s, after the first broadcast at %s.",
					name, lead, e.Finishes.Format(time.RFC3339), first.Format(time.RFC3339)))
			}
		}
	}
	if first.IsZero() {
		sum.Warnings = append(sum.Warnings, "The lesson is not scheduled on any station: no broadcast, no reminders.")
	}
}

// Underrun is a station whose slots airing the lesson are left much to filler (relais.IsUnderrun) by
// their whole sequence of lessons, or to dead air when the station has no filler clip.
type Underrun struct {
	Station   string        `json:"station"`
	Lesson    time.Duration `json:"-"`       // how long the slot's lessons play together
	Lessons   int           `json:"lessons"` // how many lessons the slot holds (the lesson alone: 1)
	Slot      time.Duration `json:"-"`
	LessonSec float64       `json:"lesson_seconds"`
	SlotSec   float64       `json:"slot_seconds"`
	Airings   int           `json:"airings"`
	Filler    bool          `json:"filler"` // false: the gap is dead air
}

// underruns finds, once per station, slot length and sequence length, the airings whose slot the whole
// sequence of lessons (the lesson and those around it in the slot) leaves much unfilled.
func underruns(l relais.Lesson, all []Airing) []Underrun {
	var out []Underrun
	for _, a := range all {
		length, n := a.Sequence, max(a.Lessons, 1)
		if length <= 0 {
			length, n = time.Duration(l.DurationMS)*time.Millisecond, 1
		}
		if length <= 0 || !relais.IsUnderrun(length, a.Slot) {
			continue
		}
		i := slices.IndexFunc(out, func(u Underrun) bool {
			return u.Station == a.Station && u.Slot == a.Slot && u.Lesson == length && u.Lessons == n
		})
		if i < 0 {
			out = append(out, Underrun{Station: a.Station, Lesson: length, Lessons: n, Slot: a.Slot, LessonSec: length.Seconds(),
				SlotSec: a.Slot.Seconds(), Filler: a.Filler})
			i = len(out) - 1
		}
		out[i].Airings++
	}
	return out
}

// underrunWarning is u as one of the plan's English warnings (the web page writes its own).
func underrunWarning(u Underrun) string {
	to := "filler"
	if !u.Filler {
		to = "dead air (the station has no filler clip)"
	}
	airings := fmt.Sprintf("%d airings", u.Airings)
	if u.Airings == 1 {
		airings = "1 airing"
	}
	what := "the lesson lasts %s and leaves"
	if u.Lessons > 1 {
		what = fmt.Sprintf("the slot's %d lessons last %%s and leave", u.Lessons)
	}
	return fmt.Sprintf("%s: "+what+" %s of each %s slot to %s, in %s.",
		u.Station, relais.HumanDuration(u.Lesson), relais.HumanDuration(u.Slot-u.Lesson), relais.HumanDuration(u.Slot), to, airings)
}

// reminderBurst is the messages of one airing, sent together a lead before it.
type reminderBurst struct {
	units  int64
	airing time.Time
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
	ls := newLengths(p.Lessons.Lesson)
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
			i := slices.IndexFunc(sl.Lessons, func(x relais.SlotLesson) bool { return x.LessonID == lessonID })
			if i < 0 {
				continue
			}
			lengths, err := ls.sequence(ctx, sl)
			if err != nil {
				return nil, err
			}
			starts, total, err := SlotAirings(sl, loc, lengths)
			if err != nil || starts[i].Before(at) {
				continue
			}
			out = append(out, Airing{StationID: st.ID, Station: st.ServiceName, Region: st.Region, Kind: string(st.Kind), At: starts[i],
				Slot: sl.Duration, Sequence: total, Lessons: len(sl.Lessons), SlotID: sl.ID, Filler: st.Filler != ""})
			if firstOnly {
				break
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	return out, nil
}

// noHouseholdWarning says that audience a reaches no household, and what it asks of one: most often a
// region or language typed otherwise than in the households' file, or households not imported yet.
func noHouseholdWarning(a relais.Audience) string {
	return fmt.Sprintf("The lesson's audience (%s) reaches no household: check its grades, languages and regions against the households' own, or import the households first.", a)
}
