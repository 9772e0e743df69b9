package scheduler

// A national morning in simulated time: the publishing plan (Planner.Plan, the fan-out's routes and the
// channels' costs) runs over a population, and every SMS it plans is replayed through the sender pool as
// the workers and the limiter send it: households in the fan-out's order, taken by a fixed number of
// concurrent sends, each household on the sender the fan-out chooses for it among its page's
// (channels.Pool.Balance: rendezvous hashing with bounded loads), each sender paced by its
// channels.Allowance (the limiter's GCRA spacing, then its window held until the send ends).

import (
	"container/heap"
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/channels"
)

// Shape is a synthetic population: Households households, their profiles in the given shares, phones of
// Country, contact language and pupils' language Language, one pupil in grade Grade.
type Shape struct {
	Name       string
	Households int
	Country    string
	Region     string
	Language   string
	Grade      int
	Shares     []ProfileShare
}

// ProfileShare is the share of a shape's households with a profile.
type ProfileShare struct {
	Profile relais.Profile
	Share   float64
}

// Shapes are the built-in populations of `relais plan simulate` (../shared/SPEC.md):
//   - fr: 8 M households; 15 % of people have no internet, 84 % a smartphone, ~95 % of households a TV;
//   - kz: 2.5 M households; a 2G phone for 98 %, 4G for ~75 %.
var Shapes = map[string]Shape{
	"fr": {Name: "fr", Households: 8_000_000, Country: "FR", Region: "", Language: "fr", Grade: 5, Shares: []ProfileShare{
		{relais.ProfileBroadband, 0.60}, {relais.ProfileMobileData, 0.25}, {relais.ProfileSMSOnly, 0.10},
		{relais.ProfileBroadcastOnly, 0.04}, {relais.ProfileOffline, 0.01}}},
	"kz": {Name: "kz", Households: 2_500_000, Country: "KZ", Region: "", Language: "kk", Grade: 5, Shares: []ProfileShare{
		{relais.ProfileBroadband, 0.25}, {relais.ProfileMobileData, 0.50}, {relais.ProfileSMSOnly, 0.23},
		{relais.ProfileBroadcastOnly, 0.015}, {relais.ProfileOffline, 0.005}}},
}

// Household returns the shape's household id (1 to Households): its profile by a golden-ratio sequence
// over the shares (every run the same, and any range of ids in the shares), contacts as its profile has.
func (s Shape) Household(id int64) relais.Household {
	x := math.Mod(float64(id)*0.6180339887498949, 1)
	p := s.Shares[len(s.Shares)-1].Profile
	var acc float64
	for _, sh := range s.Shares {
		if acc += sh.Share; x < acc {
			p = sh.Profile
			break
		}
	}
	h := relais.Household{ID: id, ExternalRef: fmt.Sprintf("SIM%09d", id), Region: s.Region, Language: s.Language, Profile: p,
		Pupils: []relais.Pupil{{Grade: s.Grade, Language: s.Language}}, Grades: []int{s.Grade}, Consent: true,
		PhoneStatus: relais.ContactOK, EmailStatus: relais.ContactOK}
	if p != relais.ProfileOffline && p != relais.ProfileBroadcastOnly {
		h.Phone = syntheticPhone(s.Country, id)
	}
	if p == relais.ProfileBroadband {
		h.Email = fmt.Sprintf("h%d@example.org", id)
	}
	if p == relais.ProfileOffline {
		h.PostalAddress = fmt.Sprintf("%d rue de l'École\n75000 Paris", id)
	}
	return h
}

func syntheticPhone(country string, id int64) string {
	if country == "KZ" {
		return fmt.Sprintf("+7701%07d", id%10_000_000)
	}
	return fmt.Sprintf("+336%08d", id%100_000_000)
}

// Population is where a simulation's households come from: a Shape, or the store's households.
type Population interface {
	relais.HouseholdStore
	// Country is the country of the households' phones, which picks their senders.
	Country(h relais.Household) string
}

// shapeStore serves a shape's households to the planner a page at a time; the planner's audience
// filter applies to them. Only Households is implemented.
type shapeStore struct {
	relais.HouseholdStore
	shape Shape
}

// Population returns the shape as a population.
func (s Shape) Population() Population { return shapeStore{shape: s} }

func (s shapeStore) Households(_ context.Context, f relais.HouseholdFilter) ([]relais.Household, error) {
	var out []relais.Household
	for id := f.Page.After + 1; id <= int64(s.shape.Households) && len(out) < f.Page.Limit; id++ {
		h := s.shape.Household(id)
		if f.Audience == nil || f.Audience.Reaches(h) {
			out = append(out, h)
		}
	}
	return out, nil
}

func (s shapeStore) Country(relais.Household) string { return s.shape.Country }

// pageMemo keeps the last page of households the planner read, by id: the plan's callback names a
// household by its id only.
type pageMemo struct {
	Population
	page map[int64]relais.Household
}

func (m *pageMemo) Households(ctx context.Context, f relais.HouseholdFilter) ([]relais.Household, error) {
	hs, err := m.Population.Households(ctx, f)
	if m.page == nil {
		m.page = make(map[int64]relais.Household, len(hs))
	}
	clear(m.page)
	for _, h := range hs {
		m.page[h.ID] = h
	}
	return hs, err
}

// SimConfig is a simulated morning.
type SimConfig struct {
	Plan    PlanConfig // SMSPool (or SMSRate × SMSSenders), EmailRate × EmailRelays, digest size
	Publish time.Time  // when the lesson is published
	SMSFrom time.Time  // when quiet hours let SMS go (zero: Publish)
	// SMSFromIn, when set, is SMSFrom for a household's region (its time zone's quiet hours): each
	// SMS waits for its own region's, as the workers' send window holds it. SMSFrom is then the
	// earliest.
	SMSFromIn func(region string) time.Time
	FirstSlot time.Time // the first broadcast: what is sent before it is in time
	// Sends is how many sends run at once (worker processes × RELAIS_WORKER_CONCURRENCY); 0: 60.
	Sends int
	// SendTime is one call to the provider, from admission to answer; 0: 25 ms.
	SendTime time.Duration
	// Margin is the limiter's (LimiterConfig.Margin).
	Margin time.Duration
	// SkipSmallest leaves Simulation.SmallestPool out (it replays the SMS again per candidate pool).
	SkipSmallest bool
	// FanoutPage and FanoutSegment are the fan-out's pages (households planned together, whose SMS are
	// shared among the senders at once) and segments (household ids fanned out in parallel, each paged
	// from its start); 0: the worker's, FanoutPageSize and FanoutSegmentSize.
	FanoutPage    int
	FanoutSegment int64
}

// The worker's fan-out pages and segments (queue.DefaultConfig's FanoutPageSize and FanoutSegment).
const (
	FanoutPageSize    = 1000
	FanoutSegmentSize = 25000
)

// Simulation is what a simulated morning gives: per profile and channel, per sender, and the smallest
// pool of the configured senders' kinds that reaches everyone before the first slot.
type Simulation struct {
	Households int64
	Rows       []SimRow
	Senders    []SimSender
	// SMSFinish is when the last SMS is sent; SMSStart when the first may go.
	SMSStart, SMSFinish time.Time
	// Unsent is the SMS to countries no sender serves.
	Unsent int
	// SmallestPool is the fewest senders (the configured ones repeated in order) that send every SMS
	// before the first slot; 0 when not computed.
	SmallestPool int
}

// SimRow is one profile's part of one channel.
type SimRow struct {
	Profile    relais.Profile
	Channel    string
	Households int64
	Messages   int64
	Segments   int64
	Finish     time.Duration // from publication to the last message
	Covered    int64         // messages sent before the first slot
	// Utilisation is the channel's units over its capacity for the time it took (the channel's row,
	// all profiles together; 0 for channels without a rate).
	Utilisation float64
}

// Coverage is the share of the row's messages sent before the first slot.
func (r SimRow) Coverage() float64 {
	if r.Messages == 0 {
		return 1
	}
	return float64(r.Covered) / float64(r.Messages)
}

// SimSender is what one sender sent.
type SimSender struct {
	Lane     channels.Lane
	Messages int64
	Segments int64
	First    time.Time
	Last     time.Time // the last send's admission
}

// Throughput is the sender's segments per second from its first send to its last.
func (s SimSender) Throughput() float64 {
	d := s.Last.Sub(s.First).Seconds()
	if d <= 0 || s.Segments < 2 {
		return 0
	}
	return float64(s.Segments-1) / d // segments after the first, over the span (as the bench measures)
}

// smsMessage is one SMS of the plan, in the fan-out's order.
type smsMessage struct {
	household int64
	page      int64 // the fan-out page that plans it: its SMS are shared among the senders at once
	units     uint8
	profile   uint8
	release   uint16 // when its region's quiet hours let it go: an index in the replay's releases
	country   string
}

// Simulate runs the plan of lesson over pop (Planner.Plan with pop as its households) and replays its
// SMS through the sender pool and its emails through the email rate, in simulated time.
func Simulate(ctx context.Context, p *Planner, pop Population, lessonID int64, cfg SimConfig) (Simulation, error) {
	p.Config = cfg.Plan
	memo := &pageMemo{Population: pop}
	p.Households = memo
	if cfg.SMSFrom.Before(cfg.Publish) {
		cfg.SMSFrom = cfg.Publish
	}
	if cfg.Sends <= 0 {
		cfg.Sends = 60
	}
	if cfg.SendTime <= 0 {
		cfg.SendTime = 25 * time.Millisecond
	}
	if cfg.FanoutPage <= 0 {
		cfg.FanoutPage = FanoutPageSize
	}
	if cfg.FanoutSegment <= 0 {
		cfg.FanoutSegment = FanoutSegmentSize
	}
	// The fan-out page of the household being planned: each segment of household ids is paged from its
	// start, FanoutPage of the audience's households at a time.
	segment, inSegment, page := int64(-1), 0, int64(-1)
	pool := cfg.Plan.SMSPool
	if len(pool) == 0 {
		for i := range max(cfg.Plan.SMSSenders, 1) {
			pool = append(pool, channels.Lane{Name: fmt.Sprintf("sender-%d", i+1), Country: channels.AnyCountry, Rate: cfg.Plan.SMSRate})
		}
	}
	profiles := relais.Profiles
	type key struct {
		profile relais.Profile
		channel string
	}
	rows := map[key]*SimRow{}
	row := func(pr relais.Profile, ch string) *SimRow {
		k := key{pr, ch}
		if rows[k] == nil {
			rows[k] = &SimRow{Profile: pr, Channel: ch}
		}
		return rows[k]
	}
	byProfile := map[relais.Profile]int64{}
	var msgs []smsMessage
	// When the regions' quiet hours let their SMS go (SMSFromIn), one entry per distinct time: regions
	// of one zone share theirs, so that a single zone keeps page order without a sort, and there are
	// never more than the IANA zones. Empty without SMSFromIn: every SMS goes from SMSFrom.
	var releases []time.Time
	releaseOf := map[string]uint16{}
	release := func(region string) uint16 {
		if cfg.SMSFromIn == nil {
			return 0
		}
		r, ok := releaseOf[region]
		if !ok {
			at := cfg.SMSFromIn(region)
			if at.Before(cfg.Publish) {
				at = cfg.Publish
			}
			i := slices.IndexFunc(releases, at.Equal)
			if i < 0 {
				i, releases = len(releases), append(releases, at)
			}
			r = uint16(i)
			releaseOf[region] = r
		}
		return r
	}
	// The sender each SMS's household remembers (Household.SMSSender), by index in msgs: a real
	// population's families keep theirs, as at the fan-out; a synthetic one remembers none.
	remembered := map[int]string{}
	// What a household costs each channel, as the planner counts it.
	costers := p.costers()
	in, err := p.costInput(ctx, lessonID)
	if err != nil {
		return Simulation{}, err
	}
	emailRate := cfg.Plan.EmailRate * float64(max(cfg.Plan.EmailRelays, 1))
	emailNext := cfg.Publish
	var emailLast time.Time
	getHousehold := func(id int64) (relais.Household, error) {
		h, ok := memo.page[id]
		if !ok {
			return relais.Household{}, fmt.Errorf("simulate: household %d is not in the page the planner read", id)
		}
		return h, nil
	}
	sum, err := p.Plan(ctx, lessonID, cfg.Publish, func(hp HouseholdPlan) error {
		h, err := getHousehold(hp.HouseholdID)
		if err != nil {
			return err
		}
		byProfile[h.Profile]++
		if seg := (h.ID - 1) / cfg.FanoutSegment; seg != segment {
			segment, inSegment = seg, 0
		}
		if inSegment%cfg.FanoutPage == 0 {
			page++
		}
		inSegment++
		for _, st := range hp.Steps {
			if st.Skip != "" {
				continue
			}
			r := row(h.Profile, st.Channel)
			r.Messages++
			switch st.Channel {
			case string(relais.ChannelSMS):
				u := costers[relais.ChannelSMS].Cost(h, in).Units
				r.Segments += u
				if h.SMSSender != "" {
					remembered[len(msgs)] = h.SMSSender
				}
				msgs = append(msgs, smsMessage{household: h.ID, page: page, units: uint8(min(u, 255)), profile: uint8(slices.Index(profiles, h.Profile)),
					release: release(h.Region), country: pop.Country(h)})
			case string(relais.ChannelEmail):
				// The email channel's token bucket at the summed rate of the relays.
				at := emailNext
				emailNext = emailNext.Add(time.Duration(float64(time.Second) / emailRate))
				emailLast = at
				if r.Finish < at.Sub(cfg.Publish) {
					r.Finish = at.Sub(cfg.Publish)
				}
				if at.Before(cfg.FirstSlot) {
					r.Covered++
				}
			default:
				if cs, ok := costers[relais.ChannelName(st.Channel)]; ok {
					if c := cs.Cost(h, in); c.Segments {
						r.Segments += c.Units
					}
				}
				if st.At.Before(cfg.FirstSlot) || st.At.Equal(cfg.FirstSlot) {
					r.Covered++
				}
				if d := st.At.Sub(cfg.Publish); d > r.Finish {
					r.Finish = d
				}
			}
		}
		return nil
	})
	if err != nil {
		return Simulation{}, err
	}
	if len(releases) == 0 {
		releases = []time.Time{cfg.SMSFrom}
	} else { // by region (SMSFromIn): the first SMS go at the earliest region's start
		cfg.SMSFrom = slices.MinFunc(releases, time.Time.Compare)
	}
	out := Simulation{Households: sum.Households, SMSStart: cfg.SMSFrom}
	res := replaySMS(msgs, remembered, releases, pool, cfg)
	out.Senders, out.SMSFinish, out.Unsent = res.senders, res.finish, res.unsent
	for i, m := range msgs {
		r := row(profiles[m.profile], string(relais.ChannelSMS))
		if res.at[i].IsZero() {
			continue
		}
		if d := res.at[i].Sub(cfg.Publish); d > r.Finish {
			r.Finish = d
		}
		if res.at[i].Before(cfg.FirstSlot) {
			r.Covered++
		}
	}
	// Utilisation per channel, all profiles together.
	var smsUnits int64
	for _, m := range msgs {
		smsUnits += int64(m.units)
	}
	var capacity float64 // of the senders that carried messages: a country without any does not wait on them
	for _, s := range res.senders {
		if s.Messages > 0 {
			capacity += s.Lane.Rate
		}
	}
	smsUtil := 0.0
	if d := res.finish.Sub(cfg.SMSFrom).Seconds(); d > 0 && capacity > 0 {
		smsUtil = float64(smsUnits) / (d * capacity)
	}
	var emails int64
	for k, r := range rows {
		if k.channel == string(relais.ChannelEmail) {
			emails += r.Messages
		}
	}
	emailUtil := 0.0
	if d := emailLast.Sub(cfg.Publish).Seconds(); d > 0 {
		emailUtil = float64(emails) / ((d + 1/emailRate) * emailRate)
	}
	for _, pr := range profiles {
		for _, ch := range []string{"sms", "email", "sms_reminder", "postal", "tv", "radio"} {
			if r, ok := rows[key{pr, ch}]; ok {
				r.Households = byProfile[pr]
				switch ch {
				case "sms":
					r.Utilisation = smsUtil
				case "email":
					r.Utilisation = emailUtil
				}
				out.Rows = append(out.Rows, *r)
			}
		}
	}
	if !cfg.SkipSmallest && len(msgs) > 0 {
		out.SmallestPool = smallestPool(msgs, releases, pool, cfg)
	}
	return out, nil
}

// smsReplay is where each SMS went and when.
type smsReplay struct {
	at      []time.Time // admission of msgs[i]; zero when no sender serves its country
	senders []SimSender
	finish  time.Time
	unsent  int // messages to a country no sender serves
}

// laneState is one sender's limiter state in simulated time.
type laneState struct {
	a    channels.Allowance
	tat  time.Time   // the GCRA's theoretical arrival time (reserve)
	held []time.Time // when each of the last Limit segments counts as sent (admit's window), a ring
	next int
}

// replaySMS sends msgs in order through pool with cfg.Sends sends at once: a send takes the first free
// slot, reserves its sender's next emission time, waits for room in the sender's window, and holds its
// slot and its segments until it ends SendTime later. remembered[i] is the sender msgs[i]'s household
// remembers, where it remembers one. A message waits for releases[its release] (its region's quiet
// hours): the sends take the messages in the order their regions open, page order within one, as the
// workers send the ones of an open region while the others wait in their deferred tasks.
func replaySMS(msgs []smsMessage, remembered map[int]string, releases []time.Time, pool channels.Pool, cfg SimConfig) smsReplay {
	res := smsReplay{at: make([]time.Time, len(msgs))}
	for _, l := range pool {
		res.senders = append(res.senders, SimSender{Lane: l})
	}
	lanes := balance(msgs, remembered, pool, cfg.Plan.SMSLoadBound)
	states := make([]*laneState, len(pool))
	for i, l := range pool {
		a := channels.NewAllowance(l.Rate, cfg.Margin)
		states[i] = &laneState{a: a, held: make([]time.Time, a.Limit)}
	}
	slots := make(timeHeap, cfg.Sends)
	for i := range slots {
		slots[i] = cfg.SMSFrom
	}
	heap.Init(&slots)
	res.finish = cfg.SMSFrom
	order := make([]int, len(msgs))
	for i := range order {
		order[i] = i
	}
	if len(releases) > 1 {
		slices.SortStableFunc(order, func(a, b int) int { return releases[msgs[a].release].Compare(releases[msgs[b].release]) })
	}
	for _, i := range order {
		m := msgs[i]
		li := lanes[i]
		if li < 0 {
			res.unsent++ // no sender: the send fails permanently, nothing is paced
			continue
		}
		st := states[li]
		now := slots[0]
		if r := releases[m.release]; r.After(now) {
			now = r
		}
		// reserve: the message is due at the sender's TAT, or now.
		due := now
		if st.tat.After(due) {
			due = st.tat
		}
		units := max(int64(m.units), 1)
		st.tat = due.Add(time.Duration(units) * st.a.Interval)
		// admit: room for its segments among the last Limit ones of the window.
		at := due
		for k := int64(0); k < min(units, st.a.Limit); k++ {
			if free := st.held[(st.next+int(k))%len(st.held)].Add(st.a.Window); free.After(at) {
				at = free
			}
		}
		end := at.Add(cfg.SendTime)
		for k := int64(0); k < min(units, st.a.Limit); k++ {
			st.held[st.next] = end
			st.next = (st.next + 1) % len(st.held)
		}
		slots[0] = end
		heap.Fix(&slots, 0)
		res.at[i] = at
		s := &res.senders[li]
		if s.Messages == 0 {
			s.First = at
		}
		s.Messages++
		s.Segments += units
		s.Last = at
		if at.After(res.finish) {
			res.finish = at
		}
	}
	return res
}

// balance is the index in pool of each message's sender, -1 where none serves its country: each
// fan-out page's messages shared among the senders at once, as the fan-out does (channels.Balancer),
// a household keeping the sender it remembers (remembered, by index in msgs) while the pool has it.
func balance(msgs []smsMessage, remembered map[int]string, pool channels.Pool, bound float64) []int {
	out := make([]int, 0, len(msgs))
	var countries, rem []string
	var ids []int64
	for start := 0; start < len(msgs); {
		end := start
		countries, ids, rem = countries[:0], ids[:0], rem[:0]
		for ; end < len(msgs) && msgs[end].page == msgs[start].page; end++ {
			countries = append(countries, msgs[end].country)
			ids = append(ids, msgs[end].household)
			if len(remembered) > 0 {
				rem = append(rem, remembered[end])
			}
		}
		if len(remembered) == 0 {
			rem = nil
		}
		out = append(out, pool.BalanceRemembered(countries, ids, rem, bound)...)
		start = end
	}
	return out
}

// smallestPool is the fewest senders, the configured ones repeated in order, with which every SMS is
// sent before the first slot; 0 when even 50 times the pool is not enough.
func smallestPool(msgs []smsMessage, releases []time.Time, pool channels.Pool, cfg SimConfig) int {
	var units int64
	for _, m := range msgs {
		units += int64(m.units)
	}
	var mean float64
	for _, l := range pool {
		mean += l.Rate
	}
	mean /= float64(len(pool))
	window := cfg.FirstSlot.Sub(cfg.SMSFrom).Seconds()
	if window <= 0 {
		return 0
	}
	k := max(1, int(math.Ceil(float64(units)/(mean*window))))
	for ; k <= 50*len(pool); k++ {
		var p channels.Pool
		for i := range k {
			l := pool[i%len(pool)]
			l.Name = fmt.Sprintf("%s#%d", l.Name, i/len(pool))
			p = append(p, l)
		}
		// Senders of a pool not configured: nobody remembers them.
		if r := replaySMS(msgs, nil, releases, p, cfg); r.unsent == 0 && !r.finish.After(cfg.FirstSlot) {
			return k
		}
	}
	return 0
}

// timeHeap is the end times of the sends in progress, the earliest first.
type timeHeap []time.Time

func (h timeHeap) Len() int           { return len(h) }
func (h timeHeap) Less(i, j int) bool { return h[i].Before(h[j]) }
func (h timeHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *timeHeap) Push(x any)        { *h = append(*h, x.(time.Time)) }
func (h *timeHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// Morning is a lesson for a simulated morning: lesson 1 in the shape's grade and language, with an SMS
// digest of digestSegs segments, airing first at firstSlot on one TV station for every region. It serves
// the planner's lesson and schedule reads; nothing else.
type Morning struct {
	relais.LessonStore
	relais.ScheduleStore
	L         relais.Lesson
	DigestSeg int
	FirstSlot time.Time
}

// NewMorning returns the morning of a lesson for shape.
func NewMorning(shape Shape, digestSegs int, firstSlot time.Time) *Morning {
	return &Morning{L: relais.Lesson{ID: 1, Title: "Simulated lesson", Grade: shape.Grade, Language: shape.Language,
		Status: relais.LessonPublished, DurationMS: 15 * 60 * 1000}, DigestSeg: digestSegs, FirstSlot: firstSlot.UTC()}
}

func (m *Morning) Lesson(_ context.Context, id int64) (relais.Lesson, error) {
	if id != m.L.ID {
		return relais.Lesson{}, relais.Errorf(relais.ENOTFOUND, "Lesson %d is not in the simulation.", id)
	}
	return m.L, nil
}

func (m *Morning) Digests(context.Context, int64) ([]relais.Digest, error) {
	return []relais.Digest{{LessonID: m.L.ID, Language: m.L.Language, Segments: m.DigestSeg}}, nil
}

func (m *Morning) Stations(context.Context) ([]relais.Station, error) {
	return []relais.Station{{ID: 1, Name: "tv", Kind: relais.StationTV, TimeZone: "UTC", ServiceName: "Simulated TV"}}, nil
}

func (m *Morning) Slots(context.Context, relais.SlotFilter) ([]relais.Slot, error) {
	return []relais.Slot{{ID: 1, StationID: 1, Day: m.FirstSlot.Format(time.DateOnly), Start: m.FirstSlot.Format("15:04"),
		Duration: 30 * time.Minute, Grade: m.L.Grade, Language: m.L.Language, Lessons: []relais.SlotLesson{{LessonID: m.L.ID}}}}, nil
}

// storePopulation is a store's households; country names the country of a household's phone.
type storePopulation struct {
	relais.HouseholdStore
	country func(relais.Household) string
}

// StorePopulation is the households of hs as a population; country gives a household's phone's
// country (the SMS channel's choice of senders).
func StorePopulation(hs relais.HouseholdStore, country func(relais.Household) string) Population {
	return storePopulation{HouseholdStore: hs, country: country}
}

func (s storePopulation) Country(h relais.Household) string { return s.country(h) }
