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
