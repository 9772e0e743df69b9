package worksheet

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	relais "github.com/relais-edu/relais"
)

func TestAiringLines(t *testing.T) {
	almaty := time.FixedZone("ALMT", 5*3600)
	at := func(day, hour, minute int) time.Time { return time.Date(2026, 12, day, hour, minute, 0, 0, almaty) }
	// Two weeks of a lesson on Balapan at 09:00 and 15:30 on weekdays (Monday 7 December to Friday 18),
	// and once on the radio on Saturday.
	var week []Broadcast
	for _, day := range []int{7, 8, 9, 10, 11, 14, 15, 16, 17, 18} {
		week = append(week, Broadcast{Station: "Balapan", Kind: relais.StationTV, Start: at(day, 9, 0)},
			Broadcast{Station: "Balapan", Kind: relais.StationTV, Start: at(day, 15, 30)})
	}
	week = append(week, Broadcast{Station: "Qazaq Radiosy", Kind: relais.StationRadio, Start: at(12, 10, 0)})

	tests := []struct {
		name string
		in   []Broadcast
		lang string
		want []string
	}{
		{"weekdays at two times", week, "en", []string{
			"Mon–Fri 09:00 and 15:30, Balapan (TV), 2026-12-07 – 2026-12-18",
			"2026-12-12 10:00   Qazaq Radiosy (radio)",
		}},
		{"in Kazakh", week[:4], "kk", []string{"дс, сс 09:00 және 15:30, Balapan (теледидар), 2026-12-07 – 2026-12-08"}},
		{"different days per time", []Broadcast{
			{Station: "El Arna", Start: at(7, 9, 0)}, {Station: "El Arna", Start: at(9, 9, 0)},
			{Station: "El Arna", Start: at(11, 9, 0)}, {Station: "El Arna", Start: at(12, 18, 0)},
		}, "en", []string{"Mon, Wed, Fri 09:00; Sat 18:00, El Arna (TV), 2026-12-07 – 2026-12-12"}},
		{"a week's titles stay apart", []Broadcast{
			{Station: "Balapan", Start: at(7, 9, 0), Title: "Fractions"},
			{Station: "Balapan", Start: at(8, 9, 0), Title: "Decimals"},
			{Station: "Balapan", Start: at(14, 9, 0), Title: "Fractions"},
		}, "en", []string{
			"Mon 09:00, Balapan (TV)   Fractions, 2026-12-07 – 2026-12-14",
			"2026-12-08 09:00   Balapan (TV)   Decimals",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, airingLines(tt.in, labelsFor(tt.lang))); diff != "" {
				t.Errorf("airing lines (-want +got):\n%s", diff)
			}
		})
	}
}
