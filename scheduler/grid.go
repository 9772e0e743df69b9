package scheduler

import (
	"sort"
	"time"

	relais "github.com/relais-edu/relais"
)

// Expand lists the slots of t on its days in loc, leaving out cancelled days. Slots whose start does not
// exist on a day (a spring-forward gap) are left out and returned in skipped as "DAY HH:MM".
func Expand(t relais.Template, loc *time.Location, cancelled map[string]bool) (slots []relais.Slot, skipped []string, err error) {
	from, to, err := t.Validate()
	if err != nil {
		return nil, nil, err
	}
	onDay := map[time.Weekday]bool{}
	for _, d := range t.Weekdays {
		onDay[time.Weekday(d)] = true
	}
	start, _ := relais.ParseClock(t.Start)
	end := 24 * 60
	if t.End != "24:00" {
		end, _ = relais.ParseClock(t.End)
	}
	// Days are walked as civil dates (UTC midnights), never by adding 24 h in the station's zone.
	for d := from; !d.After(to); d = d.AddDate(0, 0, 1) {
		day := d.Format(time.DateOnly)
		if !onDay[d.Weekday()] || cancelled[day] {
			continue
		}
		for m := start; m+t.SlotMin <= end; m += t.SlotMin {
			s := relais.Slot{StationID: t.StationID, Day: day, Start: clock(m), Duration: time.Duration(t.SlotMin) * time.Minute,
				Grade: t.Grade, Subject: t.Subject, Language: t.Language, TemplateID: t.ID}
			if _, _, err := s.Interval(loc); err != nil {
				skipped = append(skipped, day+" "+s.Start)
				continue
			}
			slots = append(slots, s)
		}
	}
	return slots, skipped, nil
}

// NoOverlap returns a check for Store.AddSlots that refuses new slots overlapping each other or the
// existing ones, comparing real instants in loc.
func NoOverlap(loc *time.Location, add []relais.Slot) func(existing []relais.Slot) error {
	return func(existing []relais.Slot) error {
		type iv struct {
			start, end time.Time
			s          relais.Slot
			isNew      bool
		}
		all := make([]iv, 0, len(existing)+len(add))
		for i, group := range [][]relais.Slot{existing, add} {
			for _, s := range group {
				a, b, err := s.Interval(loc)
				if err != nil {
					return err
				}
				all = append(all, iv{a, b, s, i == 1})
			}
		}
		sort.Slice(all, func(i, j int) bool { return all[i].start.Before(all[j].start) })
		// p is the interval seen so far that ends last: any later start before its end overlaps it.
		// Two running maxima: the existing slot and the new slot that end last so far. A new slot that
		// starts before either ends overlaps it; an existing slot only clashes with a new one.
		var lastOld, lastNew *iv
		for i := range all {
			c := &all[i]
			for _, p := range []*iv{lastNew, lastOld} {
				if p != nil && c.start.Before(p.end) && (p.isNew || c.isNew) {
					return relais.Errorf(relais.ECONFLICT, "The slot %s %s would overlap the slot %s %s (%s).",
						c.s.Day, c.s.Start, p.s.Day, p.s.Start, p.s.Duration)
				}
			}
			if c.isNew && (lastNew == nil || c.end.After(lastNew.end)) {
				lastNew = c
			} else if !c.isNew && (lastOld == nil || c.end.After(lastOld.end)) {
				lastOld = c
			}
		}
		return nil
	}
}
