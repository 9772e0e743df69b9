package scheduler

import (
	"sort"
	"time"

	relais "github.com/relais-edu/relais"
)

// maxTemplateDays bounds one template's expansion (a school year and some).
const maxTemplateDays = 400

// Validate checks a template's fields and returns its first and last day.
func (t *Template) Validate() (from, to time.Time, err error) {
	if len(t.Weekdays) == 0 {
		return from, to, relais.Errorf(relais.EINVALID, "A template needs at least one weekday (0 Sunday ... 6 Saturday).")
	}
	for _, d := range t.Weekdays {
		if d < 0 || d > 6 {
			return from, to, relais.Errorf(relais.EINVALID, "Weekday %d is not between 0 (Sunday) and 6 (Saturday).", d)
		}
	}
	start, err := parseClock(t.Start)
	if err != nil {
		return from, to, err
	}
	end, err := parseClock(t.End)
	if err != nil && t.End != "24:00" {
		return from, to, err
	} else if t.End == "24:00" {
		end = 24 * 60
	}
	if t.SlotMin < 5 || t.SlotMin > 240 {
		return from, to, relais.Errorf(relais.EINVALID, "Slots last 5 to 240 minutes, not %d.", t.SlotMin)
	}
	if end-start < t.SlotMin {
		return from, to, relais.Errorf(relais.EINVALID, "%s-%s holds no %d-minute slot.", t.Start, t.End, t.SlotMin)
	}
	if t.Language != "" && !relais.ValidLanguage(t.Language) {
		return from, to, relais.Errorf(relais.EINVALID, "Language %q is not one of %v.", t.Language, relais.Languages)
	}
	if from, err = parseDay(t.From); err != nil {
		return from, to, err
	}
	if to, err = parseDay(t.To); err != nil {
		return from, to, err
	}
	if to.Before(from) {
		return from, to, relais.Errorf(relais.EINVALID, "The template ends (%s) before it starts (%s).", t.To, t.From)
	}
	if to.Sub(from) > maxTemplateDays*24*time.Hour {
		return from, to, relais.Errorf(relais.EINVALID, "A template covers at most %d days.", maxTemplateDays)
	}
	return from, to, nil
}

// Expand lists the slots of t on its days in loc, leaving out cancelled days. Slots whose start does not
// exist on a day (a spring-forward gap) are left out and returned in skipped as "DAY HH:MM".
func Expand(t Template, loc *time.Location, cancelled map[string]bool) (slots []Slot, skipped []string, err error) {
	from, to, err := t.Validate()
	if err != nil {
		return nil, nil, err
	}
	onDay := map[time.Weekday]bool{}
	for _, d := range t.Weekdays {
		onDay[time.Weekday(d)] = true
	}
	start, _ := parseClock(t.Start)
	end := 24 * 60
	if t.End != "24:00" {
		end, _ = parseClock(t.End)
	}
	// Days are walked as civil dates (UTC midnights), never by adding 24 h in the station's zone.
	for d := from; !d.After(to); d = d.AddDate(0, 0, 1) {
		day := d.Format(time.DateOnly)
		if !onDay[d.Weekday()] || cancelled[day] {
			continue
		}
		for m := start; m+t.SlotMin <= end; m += t.SlotMin {
			s := Slot{StationID: t.StationID, Day: day, Start: clock(m), Duration: time.Duration(t.SlotMin) * time.Minute,
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
func NoOverlap(loc *time.Location, add []Slot) func(existing []Slot) error {
	return func(existing []Slot) error {
		type iv struct {
			start, end time.Time
			s          Slot
			isNew      bool
		}
		all := make([]iv, 0, len(existing)+len(add))
		for i, group := range [][]Slot{existing, add} {
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
