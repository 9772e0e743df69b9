package channels_test

import (
	"math"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/relais-edu/relais/channels"
)

func lanes(rates ...float64) []channels.Lane {
	out := make([]channels.Lane, len(rates))
	for i, r := range rates {
		out[i] = channels.Lane{Name: string(rune('a'+i)) + "-sender", Country: "FR", Rate: r}
	}
	return out
}

func TestAssignShares(t *testing.T) {
	const n = 200_000
	for _, tc := range []struct {
		name  string
		rates []float64
	}{
		{"equal", []float64{20, 20, 20}},
		{"short code and long codes", []float64{100, 1, 1}},
		{"alphanumeric and short code", []float64{10, 100}},
		{"one", []float64{10}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ls := lanes(tc.rates...)
			got := make([]int, len(ls))
			for h := int64(1); h <= n; h++ {
				got[channels.Assign(ls, h)]++
			}
			var total float64
			for _, r := range tc.rates {
				total += r
			}
			for i, r := range tc.rates {
				want := n * r / total
				// Five standard deviations of a binomial count.
				tol := 5 * math.Sqrt(want*(1-r/total))
				if math.Abs(float64(got[i])-want) > tol+1 {
					t.Errorf("lane %d of rate %g got %d households, want %.0f ± %.0f", i, r, got[i], want, tol)
				}
			}
		})
	}
}

// TestAssignStable: a household keeps its lane whatever the order of the lanes, and a change of the pool
// moves only the households of the lanes that changed.
func TestAssignStable(t *testing.T) {
	base := lanes(20, 20, 20)
	name := func(ls []channels.Lane, h int64) string { return ls[channels.Assign(ls, h)].Name }
	for _, tc := range []struct {
		name    string
		changed []channels.Lane
		// moved reports whether a household that went from lane a to lane b may move.
		mayMove func(from, to string) bool
	}{
		{"reordered", []channels.Lane{base[2], base[0], base[1]}, func(string, string) bool { return false }},
		{"lane removed", base[:2], func(from, _ string) bool { return from == base[2].Name }},
		{"lane added", append(slices.Clone(base), channels.Lane{Name: "d-sender", Country: "FR", Rate: 20}),
			func(_, to string) bool { return to == "d-sender" }},
		{"lane faster", []channels.Lane{base[0], base[1], {Name: base[2].Name, Country: "FR", Rate: 40}},
			func(_, to string) bool { return to == base[2].Name }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			moved := 0
			for h := int64(1); h <= 50_000; h++ {
				from, to := name(base, h), name(tc.changed, h)
				if from == to {
					continue
				}
				moved++
				if !tc.mayMove(from, to) {
					t.Fatalf("household %d moved from %s to %s", h, from, to)
				}
			}
			if tc.name != "reordered" && moved == 0 {
				t.Error("no household moved")
			}
		})
	}
}

// TestAssignGolden pins the assignment: a new version of Relais must not move families between senders.
func TestAssignGolden(t *testing.T) {
	ls := []channels.Lane{{Name: "38100", Rate: 100}, {Name: "Ecole", Rate: 10}, {Name: "+33757000000", Rate: 1}}
	var got []string
	for _, h := range []int64{1, 2, 3, 42, 1000, 123456789} {
		got = append(got, ls[channels.Assign(ls, h)].Name)
	}
	want := []string{"38100", "38100", "Ecole", "Ecole", "38100", "38100"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("assignments (-want +got):\n%s", diff)
	}
}

func TestPoolLanes(t *testing.T) {
	p := channels.Pool{
		{Name: "fr1", Country: "FR", Rate: 20}, {Name: "fr2", Country: "FR", Rate: 30},
		{Name: "kz", Country: "KZ", Rate: 10}, {Name: "any", Country: channels.AnyCountry, Rate: 5},
	}
	for _, tc := range []struct {
		country  string
		capacity float64
		names    []string
	}{
		{"FR", 50, []string{"fr1", "fr2"}},
		{"KZ", 10, []string{"kz"}},
		{"BE", 5, []string{"any"}},
	} {
		var names []string
		for _, l := range p.Lanes(tc.country) {
			names = append(names, l.Name)
		}
		if diff := cmp.Diff(tc.names, names); diff != "" {
			t.Errorf("%s lanes (-want +got):\n%s", tc.country, diff)
		}
		if c := p.Capacity(tc.country); c != tc.capacity {
			t.Errorf("%s capacity %g, want %g", tc.country, c, tc.capacity)
		}
		l, ok := p.Assign(tc.country, 7)
		if !ok || !slices.Contains(tc.names, l.Name) {
			t.Errorf("%s: household 7 assigned to %q", tc.country, l.Name)
		}
	}
	if _, ok := (channels.Pool{{Name: "fr", Country: "FR", Rate: 1}}).Assign("KZ", 1); ok {
		t.Error("a country with no lane got one")
	}
}

// firstChoices counts the households of batch whose lane in got is their first choice (Assign's).
func firstChoices(ls []channels.Lane, batch []int64, got []int) int {
	n := 0
	for i, h := range batch {
		if got[i] == channels.Assign(ls, h) {
			n++
		}
	}
	return n
}

func ids(from, n int64, step int64) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = from + int64(i)*step
	}
	return out
}

// TestBalanceBound: no lane takes more than ceil(bound × its share) of a batch, and most households
// stay on their first choice.
func TestBalanceBound(t *testing.T) {
	for _, tc := range []struct {
		name  string
		rates []float64
		batch []int64
		bound float64
		// minFirst is the least share of households on their first choice.
		minFirst float64
	}{
		{"three equal, the bench's 20000", []float64{20, 20, 20}, ids(1, 20000, 1), 1, 0.98},
		{"three equal, a fan-out page", []float64{20, 20, 20}, ids(1, 1000, 1), 1, 0.95},
		{"three equal, a tenth of a page", []float64{20, 20, 20}, ids(7, 100, 10), 1, 0.85},
		{"three equal, bound 1.1", []float64{20, 20, 20}, ids(1, 1000, 1), 1.1, 0.995},
		{"short code and long codes", []float64{100, 1, 1}, ids(1, 5000, 3), 1, 0.97},
		{"alphanumeric and short code", []float64{10, 100}, ids(100, 3000, 1), 1, 0.97},
		{"seven senders", []float64{10, 10, 20, 20, 30, 1, 100}, ids(1, 10000, 1), 1, 0.95},
		{"one sender", []float64{10}, ids(1, 1000, 1), 1, 1},
		{"fewer households than senders", []float64{5, 5, 5, 5}, ids(1, 3, 1), 1, 0.5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ls := lanes(tc.rates...)
			got := channels.Balance(ls, tc.batch, tc.bound)
			load := make([]int, len(ls))
			for _, j := range got {
				load[j]++
			}
			var total float64
			for _, r := range tc.rates {
				total += r
			}
			for j, r := range tc.rates {
				limit := int(math.Ceil(tc.bound * float64(len(tc.batch)) * r / total))
				if load[j] > limit {
					t.Errorf("lane %d of rate %g took %d households, over its bound of %d", j, r, load[j], limit)
				}
			}
			if first := float64(firstChoices(ls, tc.batch, got)) / float64(len(tc.batch)); first < tc.minFirst {
				t.Errorf("%.2f %% of households on their first choice, want at least %.0f %%", first*100, tc.minFirst*100)
			}
			if again := channels.Balance(ls, tc.batch, tc.bound); !slices.Equal(got, again) {
				t.Error("the same batch got other lanes the second time")
			}
		})
	}
}

// TestBalanceUnbounded: a bound under 1 is Assign's first choice for everyone.
func TestBalanceUnbounded(t *testing.T) {
	ls := lanes(20, 20, 20)
	batch := ids(1, 2000, 1)
	for _, bound := range []float64{0, 0.5} {
		got := channels.Balance(ls, batch, bound)
		if n := firstChoices(ls, batch, got); n != len(batch) {
			t.Errorf("bound %g: %d of %d households on their first choice", bound, n, len(batch))
		}
	}
	if got := channels.Balance(nil, batch[:2], 1); !slices.Equal(got, []int{-1, -1}) {
		t.Errorf("no lanes: %v, want -1 each", got)
	}
}

// TestBalanceSticky: a household keeps its lane across batches of other compositions (another
// lesson's audience, households added), except a few of the overflows.
func TestBalanceSticky(t *testing.T) {
	ls := lanes(20, 20, 20)
	whole := ids(1, 1000, 1)
	lane := map[int64]int{}
	for i, j := range channels.Balance(ls, whole, 1) {
		lane[whole[i]] = j
	}
	for _, tc := range []struct {
		name  string
		batch []int64
		// minKept is the least share of the batch's households on the lane they had in whole.
		minKept float64
	}{
		{"the same batch", whole, 1},
		{"every other household", ids(1, 500, 2), 0.93},
		{"the first half", ids(1, 500, 1), 0.93},
		{"a tenth", ids(3, 100, 10), 0.85},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kept := 0
			for i, j := range channels.Balance(ls, tc.batch, 1) {
				if lane[tc.batch[i]] == j {
					kept++
				}
			}
			if share := float64(kept) / float64(len(tc.batch)); share < tc.minKept {
				t.Errorf("%.2f %% kept their lane, want at least %.0f %%", share*100, tc.minKept*100)
			}
		})
	}
}

// TestBalanceLaneAdded: a sender added to a pool of three takes about its share, nearly all of it from
// the households whose first choice it becomes; few others move.
func TestBalanceLaneAdded(t *testing.T) {
	for _, tc := range []struct {
		name  string
		batch []int64
		// maxOthers is the most households that move between the old lanes, as a share of the batch.
		maxOthers float64
	}{
		{"a fan-out page", ids(1, 1000, 1), 0.04},
		{"the bench's 20000", ids(1, 20000, 1), 0.015},
	} {
		t.Run(tc.name, func(t *testing.T) {
			three := lanes(20, 20, 20)
			four := lanes(20, 20, 20, 20)
			before := channels.Balance(three, tc.batch, 1)
			after := channels.Balance(four, tc.batch, 1)
			toNew, others := 0, 0
			for i := range tc.batch {
				switch {
				case after[i] == 3:
					toNew++
				case after[i] != before[i]:
					others++
				}
			}
			n := float64(len(tc.batch))
			if share := float64(toNew) / n; share < 0.24 || share > 0.2501+1/n {
				t.Errorf("the new lane took %.2f %% of the households, want its quarter", share*100)
			}
			if share := float64(others) / n; share > tc.maxOthers {
				t.Errorf("%.2f %% of households moved between the old lanes, want at most %.1f %%", share*100, tc.maxOthers*100)
			}
		})
	}
}

// TestPoolBalance: households of several countries are balanced over their own country's lanes.
func TestPoolBalance(t *testing.T) {
	p := channels.Pool{{Name: "fr-1", Country: "FR", Rate: 10}, {Name: "kz", Country: "KZ", Rate: 10},
		{Name: "fr-2", Country: "FR", Rate: 10}, {Name: "any", Country: channels.AnyCountry, Rate: 1}}
	countries := []string{"FR", "KZ", "FR", "BE", "FR", "FR"}
	got := p.Balance(countries, []int64{1, 2, 3, 4, 5, 6}, 1)
	load := map[string]int{}
	for i, j := range got {
		if j < 0 {
			t.Fatalf("household %d has no lane", i+1)
		}
		if c := p[j].Country; c != countries[i] && c != channels.AnyCountry {
			t.Errorf("household %d of %s on lane %s of %s", i+1, countries[i], p[j].Name, c)
		}
		load[p[j].Name]++
	}
	if diff := cmp.Diff(map[string]int{"fr-1": 2, "fr-2": 2, "kz": 1, "any": 1}, load); diff != "" {
		t.Errorf("loads (-want +got):\n%s", diff)
	}
	if got := (channels.Pool{{Name: "fr", Country: "FR", Rate: 1}}).Balance([]string{"KZ"}, []int64{1}, 1); got[0] != -1 {
		t.Errorf("a country without lanes got lane %d", got[0])
	}
}

// TestBalanceRemembered: a household keeps the lane it remembers while the pool has it, even past that
// lane's room; the others (none remembered, or a lane no longer in the pool) are balanced within the
// room the kept ones leave, most on their first choice.
func TestBalanceRemembered(t *testing.T) {
	three := lanes(20, 20, 20)
	batch := ids(1, 1000, 1)
	names := func(ls []channels.Lane, got []int) []string {
		out := make([]string, len(got))
		for i, j := range got {
			out[i] = ls[j].Name
		}
		return out
	}
	first := names(three, channels.Balance(three, batch, 1)) // the first lesson: nobody remembers a lane
	half := slices.Clone(first)
	for i := range half[500:] {
		half[500+i] = "" // households added since
	}
	allOnA := slices.Repeat([]string{three[0].Name}, 1000)
	for i := range allOnA[600:] {
		allOnA[600+i] = ""
	}
	renamed := slices.Clone(first)
	for i := range renamed {
		if renamed[i] == three[2].Name {
			renamed[i] = "old-name"
		}
	}
	for _, tc := range []struct {
		name       string
		lanes      []channels.Lane
		remembered []string
		bound      float64
		// placed is how many households are not kept (assigned by the balance).
		placed int
		// minFirst is the least share of the placed households on their first choice.
		minFirst float64
	}{
		{"every household remembers, overflows included", three, first, 1, 0, 1},
		{"half the batch is new", three, half, 1, 500, 0.9},
		{"600 remember the same lane, past its room", three, allOnA, 1, 400, 0},
		{"a lane removed", three[:2], first, 1, count(first, three[2].Name), 0.9},
		{"a lane renamed is a lane removed and one added", three, renamed, 1, count(renamed, "old-name"), 0.8},
		{"unbounded", three, half, 0, 500, 1},
		{"nobody remembers", three, nil, 1, 1000, 0.95},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := channels.BalanceRemembered(tc.lanes, batch, tc.remembered, tc.bound)
			var total float64
			for _, l := range tc.lanes {
				total += l.Rate
			}
			kept := make([]int, len(tc.lanes))
			placed := make([]int, len(tc.lanes))
			var firsts, n int
			for i, j := range got {
				if j < 0 {
					t.Fatalf("household %d has no lane", batch[i])
				}
				var was string
				if tc.remembered != nil {
					was = tc.remembered[i]
				}
				if slices.ContainsFunc(tc.lanes, func(l channels.Lane) bool { return l.Name == was }) {
					if tc.lanes[j].Name != was {
						t.Fatalf("household %d remembers %s, is given %s", batch[i], was, tc.lanes[j].Name)
					}
					kept[j]++
					continue
				}
				placed[j]++
				n++
				if j == channels.Assign(tc.lanes, batch[i]) {
					firsts++
				}
			}
			if n != tc.placed {
				t.Errorf("%d households placed, want %d", n, tc.placed)
			}
			if n > 0 && float64(firsts)/float64(n) < tc.minFirst {
				t.Errorf("%d of %d placed households on their first choice, want at least %.0f %%", firsts, n, tc.minFirst*100)
			}
			for j, l := range tc.lanes {
				room := int(math.Ceil(tc.bound * float64(len(batch)) * l.Rate / total))
				if tc.bound >= 1 && placed[j] > max(room-kept[j], 0) {
					t.Errorf("lane %s kept %d and took %d more, over its room of %d", l.Name, kept[j], placed[j], room)
				}
			}
			if again := channels.BalanceRemembered(tc.lanes, batch, tc.remembered, tc.bound); !slices.Equal(got, again) {
				t.Error("the same batch got other lanes the second time")
			}
		})
	}
}

func count(s []string, v string) int {
	n := 0
	for _, x := range s {
		if x == v {
			n++
		}
	}
	return n
}

// TestPoolBalanceRemembered: a household keeps its lane only while that lane serves its country (a
// number moved to another country gets a lane of the new one).
func TestPoolBalanceRemembered(t *testing.T) {
	p := channels.Pool{{Name: "fr-1", Country: "FR", Rate: 10}, {Name: "kz", Country: "KZ", Rate: 10},
		{Name: "fr-2", Country: "FR", Rate: 10}}
	got := p.BalanceRemembered([]string{"FR", "KZ", "FR", "FR"}, []int64{1, 2, 3, 4}, []string{"fr-2", "fr-1", "fr-2", ""}, 1)
	var lanes []string
	for _, j := range got {
		lanes = append(lanes, p[j].Name)
	}
	if diff := cmp.Diff([]string{"fr-2", "kz", "fr-2", "fr-1"}, lanes); diff != "" {
		// Household 4 goes to fr-1 whatever its first choice: fr-2 kept two of the three French households, its room.
		t.Errorf("lanes (-want +got):\n%s", diff)
	}
}
