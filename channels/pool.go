package channels

import (
	"cmp"
	"math"
	"slices"
	"time"
)

// Lane is one sender of a channel's pool: an SMS sender with its own rate. The channel's package knows
// what its lanes are (channels/sms reads them from a file); the pool only spreads households over them
// and adds up their rates, so that the sender, the limiter and the publishing plan agree.
type Lane struct {
	// Name identifies the lane (the limiter's key, the page's row, the sender a household remembers:
	// Household.SMSSender); unique in a pool, and stable: the configured sender's name, not its place
	// in the pool, so that reordering the pool moves no family.
	Name string `json:"name"`
	// Country is the ISO 3166 code of the recipients the lane serves, or AnyCountry.
	Country string `json:"country"`
	// Kind is the channel's word for the lane (short_code, long_code, alphanumeric...).
	Kind string `json:"kind"`
	// Address is what recipients see the message come from (a sender ID, a number, a Messaging Service).
	Address string `json:"address"`
	// Account names the provider account the lane sends through ("" : the default account).
	Account string `json:"account,omitempty"`
	// Rate is the lane's units (SMS segments) per second.
	Rate float64 `json:"rate"`
}

// AnyCountry is the Country of lanes serving recipients of countries that have none of their own.
const AnyCountry = "*"

// Pool is the lanes of a channel. A household always goes through the same lane of its country's
// (Assign, or the lane it remembers: BalanceRemembered), so that all its messages come from one sender
// and its replies come back to it.
type Pool []Lane

// Lanes returns the lanes serving recipients of country: its own, else the AnyCountry ones.
func (p Pool) Lanes(country string) []Lane {
	var own, any []Lane
	for _, l := range p {
		switch l.Country {
		case country:
			own = append(own, l)
		case AnyCountry:
			any = append(any, l)
		}
	}
	if len(own) > 0 {
		return own
	}
	return any
}

// Capacity is the summed rate of the lanes serving country.
func (p Pool) Capacity(country string) float64 {
	var sum float64
	for _, l := range p.Lanes(country) {
		sum += l.Rate
	}
	return sum
}

// Countries lists the countries the pool names, AnyCountry included, in order of first appearance.
func (p Pool) Countries() []string {
	var out []string
	for _, l := range p {
		if !slices.Contains(out, l.Country) {
			out = append(out, l.Country)
		}
	}
	return out
}

// Assign returns the index in lanes of the lane that carries household's messages: weighted rendezvous
// hashing (highest random weight), each lane scoring -Rate/ln(u) for a uniform u drawn from the hash of
// its name and the household. A lane gets a share of households proportional to its rate; adding or
// removing a lane moves only the households that go to or came from it; every process computes the
// same lane without sharing any state. -1 when lanes is empty.
func Assign(lanes []Lane, household int64) int {
	best, bestScore := -1, math.Inf(-1)
	for i, l := range lanes {
		if s := score(l, household); s > bestScore {
			best, bestScore = i, s
		}
	}
	return best
}

// score is lane l's rendezvous score for household: -Rate/ln(u), u uniform in (0, 1) from the hash of
// the lane's name and the household.
func score(l Lane, household int64) float64 {
	u := unit(mix(nameHash(l.Name) ^ mix(uint64(household))))
	return -max(l.Rate, 0) / math.Log(u)
}

// Balance spreads a batch of households (their ids, in the batch's order) over lanes: rendezvous
// hashing with bounded loads. Each lane takes at most ceil(bound × its rate's share of the batch)
// households; a household goes to its first choice (Assign's) unless that lane is full by the time
// its turn comes, then to the next lane of its rendezvous order with room. The busiest lane so carries
// at most bound times its fair share (bound 1: every lane finishes together), while a household keeps
// its lane from batch to batch unless its first choice overflows (a few per cent with bound 1, fewer
// with a larger bound), and adding a lane still moves only the households whose first choice it
// becomes, plus a few overflows. The result is the index in lanes of each household's lane, -1 when
// lanes is empty; bound < 1 (0: no bound) puts every household on its first choice, as Assign does.
// BalanceRemembered also keeps the lanes households remember.
func Balance(lanes []Lane, households []int64, bound float64) []int {
	return BalanceRemembered(lanes, households, nil, bound)
}

// BalanceRemembered is Balance for a batch whose households may remember a lane: remembered[i] is the
// Name of the lane households[i] was last given ("" or nil: none). A household whose remembered lane
// is among lanes keeps it, whatever its load; the others are balanced as by Balance within the room
// left: each lane's room for the batch less the households that kept it (none when they fill it). The
// rooms left add up to at least the households to place, so every one of them finds a lane. Once a
// family has heard from a lane it so hears from it lesson after lesson; only the families of a lane
// taken out of the pool move, each to its first choice with room.
func BalanceRemembered(lanes []Lane, households []int64, remembered []string, bound float64) []int {
	out := make([]int, len(households))
	kept := 0
	for i := range households {
		out[i] = -1
		if i < len(remembered) && remembered[i] != "" {
			out[i] = slices.IndexFunc(lanes, func(l Lane) bool { return l.Name == remembered[i] })
		}
		if out[i] >= 0 {
			kept++
		}
	}
	var total float64
	for _, l := range lanes {
		total += max(l.Rate, 0)
	}
	if bound < 1 || total == 0 || len(lanes) < 2 {
		for i, h := range households {
			if out[i] < 0 {
				out[i] = Assign(lanes, h)
			}
		}
		return out
	}
	if kept == len(households) {
		return out
	}
	room := make([]int, len(lanes))
	for j, l := range lanes {
		room[j] = int(math.Ceil(bound * float64(len(households)) * max(l.Rate, 0) / total))
	}
	for _, j := range out {
		if j >= 0 && room[j] > 0 {
			room[j]--
		}
	}
	scores := make([]float64, len(lanes))
	order := make([]int, len(lanes))
	for i, h := range households {
		if out[i] >= 0 {
			continue
		}
		best := -1
		for j, l := range lanes {
			scores[j] = score(l, h)
			if best < 0 || scores[j] > scores[best] {
				best = j
			}
		}
		if room[best] == 0 {
			// The first choice is full: the household's rendezvous order, highest score first.
			for j := range order {
				order[j] = j
			}
			slices.SortFunc(order, func(a, b int) int { return cmp.Compare(scores[b], scores[a]) })
			for _, j := range order {
				if room[j] > 0 {
					best = j
					break
				}
			}
		}
		if room[best] > 0 { // always, as the rooms left add up to at least the households to place
			room[best]--
		}
		out[i] = best
	}
	return out
}

// Balance is Balance over the lanes of each household's country: countries[i] is the country of
// households[i]. It returns the index in p of each household's lane, -1 when no lane serves its country.
func (p Pool) Balance(countries []string, households []int64, bound float64) []int {
	return p.BalanceRemembered(countries, households, nil, bound)
}

// BalanceRemembered is BalanceRemembered over the lanes of each household's country: a household keeps
// the lane it remembers (remembered[i], a Lane's Name; nil: none remembers one) while that lane serves
// its country.
func (p Pool) BalanceRemembered(countries []string, households []int64, remembered []string, bound float64) []int {
	out := make([]int, len(households))
	type batch struct {
		lanes      []int // indices in p
		at         []int // indices in households
		ids        []int64
		remembered []string
	}
	batches := map[string]*batch{}
	var order []string
	for i, c := range countries {
		b, ok := batches[c]
		if !ok {
			b = &batch{}
			for _, l := range p.Lanes(c) {
				b.lanes = append(b.lanes, slices.IndexFunc(p, func(o Lane) bool { return o.Name == l.Name && o.Country == l.Country }))
			}
			batches[c] = b
			order = append(order, c)
		}
		b.at = append(b.at, i)
		b.ids = append(b.ids, households[i])
		if remembered != nil {
			b.remembered = append(b.remembered, remembered[i])
		}
	}
	for _, c := range order {
		b := batches[c]
		lanes := make([]Lane, len(b.lanes))
		for j, k := range b.lanes {
			lanes[j] = p[k]
		}
		for k, j := range BalanceRemembered(lanes, b.ids, b.remembered, bound) {
			out[b.at[k]] = -1
			if j >= 0 {
				out[b.at[k]] = b.lanes[j]
			}
		}
	}
	return out
}

// Assign returns the lane of country that carries household's messages (see Assign); false when no
// lane serves country.
func (p Pool) Assign(country string, household int64) (Lane, bool) {
	lanes := p.Lanes(country)
	i := Assign(lanes, household)
	if i < 0 {
		return Lane{}, false
	}
	return lanes[i], true
}

// nameHash is FNV-1a of s: stable across processes and versions, unlike hash/maphash.
func nameHash(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// mix is splitmix64's finaliser: every bit of x moves about half the bits of the result.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// unit maps x to (0, 1), never 0 or 1: the top 53 bits, offset by half a step.
func unit(x uint64) float64 {
	return (float64(x>>11) + 0.5) / (1 << 53)
}

// CountryCapacity is what a pool offers the recipients of one country: how many senders share its
// households, and their summed rate.
type CountryCapacity struct {
	Country string  `json:"country"`
	Senders int     `json:"senders"`
	Rate    float64 `json:"rate"` // units (segments) per second, summed
}

// Summary lists the capacity of each country the pool names, in order of first appearance.
func (p Pool) Summary() []CountryCapacity {
	out := []CountryCapacity{}
	for _, c := range p.Countries() {
		n := 0
		for _, l := range p {
			if l.Country == c {
				n++
			}
		}
		out = append(out, CountryCapacity{Country: c, Senders: n, Rate: p.Capacity(c)})
	}
	return out
}

// Allowance is a lane's limit as the SMS limiter keeps it in Redis, and as the publishing plan's
// simulation replays it: at most Limit units in any Window, handed out Interval apart (a message of n
// units takes n intervals).
type Allowance struct {
	Limit    int64
	Window   time.Duration // one second (or 1/rate under 1 per second) plus the margin
	Interval time.Duration // the emission interval of one unit
}

// NewAllowance is the allowance of a lane of rate units per second, its window lengthened by margin.
func NewAllowance(rate float64, margin time.Duration) Allowance {
	a := Allowance{Limit: int64(math.Floor(rate)), Window: time.Second}
	if rate < 1 {
		a.Limit, a.Window = 1, time.Duration(float64(time.Second)/rate)
	}
	a.Window += margin
	a.Interval = a.Window / time.Duration(a.Limit)
	return a
}
