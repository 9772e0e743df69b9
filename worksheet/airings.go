package worksheet

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	relais "github.com/relais-edu/relais"
)

// airingLines summarises a lesson's broadcasts the way a programme guide would, one line per station
// and title with the days and times it airs ("Mon–Fri 09:00 and 15:30, Balapan (TV), 2026-12-07 – 2026-12-18"),
// rather than one line per airing: a week of re-runs is 29 airings, which no family reads.
func airingLines(bs []Broadcast, lb labels) []string {
	type key struct {
		station string
		kind    relais.StationKind
		title   string
	}
	type group struct {
		key
		first, last time.Time
		days        map[string]uint8 // "15:04" -> the weekdays (bit 0 Monday) it airs at that time
	}
	var groups []*group
	for _, b := range bs {
		k := key{b.Station, b.Kind, b.Title}
		i := slices.IndexFunc(groups, func(g *group) bool { return g.key == k })
		if i < 0 {
			groups = append(groups, &group{key: k, first: b.Start, last: b.Start, days: map[string]uint8{}})
			i = len(groups) - 1
		}
		g := groups[i]
		if b.Start.Before(g.first) {
			g.first = b.Start
		}
		if b.Start.After(g.last) {
			g.last = b.Start
		}
		g.days[b.Start.Format("15:04")] |= 1 << ((int(b.Start.Weekday()) + 6) % 7)
	}
	slices.SortStableFunc(groups, func(a, b *group) int { return a.first.Compare(b.first) })

	names := strings.Split(lb.Weekdays, ",")
	var lines []string
	for _, g := range groups {
		kind := lb.TV
		if g.kind == relais.StationRadio {
			kind = lb.Radio
		}
		where := fmt.Sprintf("%s (%s)", g.station, kind)
		if g.title != "" {
			where += "   " + g.title
		}
		if g.first.Equal(g.last) {
			lines = append(lines, fmt.Sprintf("%s   %s", g.first.Format("2006-01-02 15:04"), where))
			continue
		}
		// Times that air on the same days share a line: "Mon–Fri 09:00 and 15:30".
		byDays := map[uint8][]string{}
		for hm, days := range g.days {
			byDays[days] = append(byDays[days], hm)
		}
		sets := make([]uint8, 0, len(byDays))
		for days, times := range byDays {
			slices.Sort(times)
			sets = append(sets, days)
		}
		slices.SortFunc(sets, func(a, b uint8) int { return cmp.Compare(byDays[a][0], byDays[b][0]) })
		var when []string
		for _, days := range sets {
			when = append(when, dayRanges(days, names)+" "+joinAnd(byDays[days], lb.And))
		}
		lines = append(lines, fmt.Sprintf("%s, %s, %s – %s", strings.Join(when, "; "), where,
			g.first.Format(time.DateOnly), g.last.Format(time.DateOnly)))
	}
	return lines
}

// dayRanges writes a set of weekdays (bit 0 Monday) with runs of three or more as ranges: "Mon–Fri",
// "Mon, Wed", "Mon–Wed, Sat".
func dayRanges(days uint8, names []string) string {
	var parts []string
	for d := 0; d < 7; {
		if days&(1<<d) == 0 {
			d++
			continue
		}
		end := d
		for end+1 < 7 && days&(1<<(end+1)) != 0 {
			end++
		}
		switch {
		case end-d >= 2:
			parts = append(parts, names[d]+"–"+names[end])
		case end == d:
			parts = append(parts, names[d])
		default:
			parts = append(parts, names[d], names[end])
		}
		d = end + 1
	}
	return strings.Join(parts, ", ")
}

// joinAnd joins "09:00", "12:00" and "15:30" as "09:00, 12:00 and 15:30".
func joinAnd(items []string, and string) string {
	if len(items) < 2 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " " + and + " " + items[len(items)-1]
}
