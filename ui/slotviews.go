package ui

// How the grid shows each slot: an assignment with its conflicts, an empty slot with the lessons it
// may take.

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/locale"
)

// slotViews describes the week's slots: each slot's sequence of lessons, each at its own start, with
// the conflicts (the sequence's overrun or under-run, a mismatch, not approved or not ready, no
// rendition for the station, overlap), and the approved lessons the time left may take.
func (h *Handler) slotViews(ctx context.Context, c *reqCtx, gs relais.ScheduleStore, st relais.Station, loc *time.Location,
	slots []relais.Slot) ([]*slotView, error) {
	approved, err := gs.ApprovedLessons(ctx)
	if err != nil {
		return nil, err
	}
	aired, err := gs.AiredLessons(ctx)
	if err != nil {
		return nil, err
	}
	lessons := map[int64]relais.Lesson{}
	isApproved := map[int64]bool{}
	for _, l := range approved {
		lessons[l.ID], isApproved[l.ID] = l, true
	}
	kind := relais.RenditionTV
	if st.Kind == relais.StationRadio {
		kind = relais.RenditionRadio
	}
	media := map[int64]time.Duration{} // the length of the station's rendition; absent: none
	looked := map[int64]bool{}         // lessons whose renditions were read
	type interval struct {
		start, end time.Time
		view       *slotView
	}
	var ivs []interval
	var out []*slotView
	lesson := func(id int64) (relais.Lesson, bool, error) {
		l, ok := lessons[id]
		if ok {
			return l, true, nil
		}
		l, err := h.store.Lesson(ctx, id)
		if relais.ErrorCode(err) == relais.ENOTFOUND {
			return l, false, nil
		} else if err != nil {
			return l, false, err
		}
		lessons[id] = l
		return l, true, nil
	}
	for _, sl := range slots {
		v := &slotView{ID: sl.ID, Day: sl.Day, Start: sl.Start, Minutes: int(sl.Duration / time.Minute), Grade: sl.Grade,
			Subject: sl.Subject, Language: sl.Language}
		start, end, err := sl.Interval(loc)
		timed := err == nil
		if timed {
			v.End = end.In(loc).Format("15:04")
			ivs = append(ivs, interval{start, end, v})
		} else {
			v.Problems = append(v.Problems, locale.Message(err, c.lang))
		}
		out = append(out, v)
		// The slot's lessons play back to back from its start, each for its length on this station.
		var total time.Duration
		for i, x := range sl.Lessons {
			l, found, err := lesson(x.LessonID)
			if err != nil {
				return nil, err
			}
			if !found {
				v.Problems = append(v.Problems, fmt.Sprintf(c.t("grid_p_gone"), x.LessonID))
				continue
			}
			if !looked[l.ID] {
				looked[l.ID] = true
				rs, err := h.store.Renditions(ctx, l.ID)
				if err != nil {
					return nil, err
				}
				for _, r := range rs {
					if r.Kind == kind {
						media[l.ID] = max(time.Duration(r.DurationMS)*time.Millisecond, 0)
					}
				}
			}
			length := time.Duration(l.DurationMS) * time.Millisecond
			m, hasMedia := media[l.ID]
			if m > 0 {
				length = m
			}
			item := slotItem{Lesson: l, Length: lengthText(length), Rerun: x.Rerun, First: i == 0, Last: i == len(sl.Lessons)-1}
			if timed {
				item.Start = start.Add(total).In(loc).Format("15:04:05")
			}
			total += length
			// With several lessons, each problem names its lesson.
			prefix := ""
			if len(sl.Lessons) > 1 {
				prefix = fmt.Sprintf("#%d: ", l.ID)
			}
			switch {
			case l.Status != relais.LessonReady && l.Status != relais.LessonPublished:
				v.Problems = append(v.Problems, prefix+fmt.Sprintf(c.t("grid_p_status"), c.t("st_"+string(l.Status))))
			case !isApproved[l.ID]:
				v.Problems = append(v.Problems, prefix+c.t("grid_p_unapproved"))
			}
			if why := slotMismatch(c, sl, l); why != "" {
				v.Problems = append(v.Problems, prefix+why)
			}
			if !hasMedia && (l.Status == relais.LessonReady || l.Status == relais.LessonPublished) {
				v.Problems = append(v.Problems, prefix+fmt.Sprintf(c.t("grid_p_media"), kind))
			}
			v.Items = append(v.Items, item)
		}
		if len(v.Items) > 0 {
			v.Length = lengthText(total)
			n := len(v.Items)
			if total > sl.Duration {
				if n == 1 {
					v.Overrun = fmt.Sprintf(c.t("grid_p_overrun"), lengthText(total), lengthText(total-sl.Duration), lengthText(sl.Duration))
				} else {
					v.Overrun = fmt.Sprintf(c.t("grid_p_overrun_seq"), n, lengthText(total), lengthText(total-sl.Duration), lengthText(sl.Duration))
				}
			} else if gap := sl.Duration - total; total > 0 && relais.IsUnderrun(total, sl.Duration) {
				key := "grid_p_underrun"
				if n > 1 {
					key = "grid_p_underrun_seq"
				}
				if st.Filler == "" {
					key += "_dead"
				}
				if n == 1 {
					v.Underrun = fmt.Sprintf(c.t(key), lengthText(total), lengthText(gap), lengthText(sl.Duration))
				} else {
					v.Underrun = fmt.Sprintf(c.t(key), n, lengthText(total), lengthText(gap), lengthText(sl.Duration))
				}
			}
		}
		if left := sl.Duration - total; left > 0 {
			v.Left = lengthText(left)
			v.Options = lessonOptions(c, sl, left, approved, aired)
		}
	}
	// Slots are kept apart when added; an overlap shows a grid changed behind the scheduler's back.
	// last is the slot seen so far that ends last: a later start before its end overlaps it.
	slices.SortFunc(ivs, func(a, b interval) int { return a.start.Compare(b.start) })
	var last *interval
	for i := range ivs {
		if last != nil && ivs[i].start.Before(last.end) {
			ivs[i].view.Problems = append(ivs[i].view.Problems, fmt.Sprintf(c.t("grid_p_overlap"), last.view.Day, last.view.Start))
		}
		if last == nil || ivs[i].end.After(last.end) {
			last = &ivs[i]
		}
	}
	return out, nil
}

// slotMismatch says why lesson l does not match slot sl's grade, subject or language, or "".
func slotMismatch(c *reqCtx, sl relais.Slot, l relais.Lesson) string {
	switch {
	case sl.Grade != 0 && sl.Grade != l.Grade:
		return fmt.Sprintf(c.t("grid_p_grade"), l.Grade, sl.Grade)
	case sl.Subject != "" && sl.Subject != l.Subject:
		return fmt.Sprintf(c.t("grid_p_subject"), l.Subject, sl.Subject)
	case sl.Language != "" && sl.Language != l.Language:
		return fmt.Sprintf(c.t("grid_p_language"), l.Language, sl.Language)
	}
	return ""
}

// lessonOptions lists the approved lessons a slot may take after its sequence, in the time left: the
// ones not yet scheduled first, then re-runs; a lesson longer than the time left is shown but cannot be
// picked, and one the slot holds already is left out.
func lessonOptions(c *reqCtx, sl relais.Slot, left time.Duration, approved []relais.Lesson, aired map[int64]bool) []slotOption {
	var fresh, again []slotOption
	for _, l := range approved {
		if (sl.Grade != 0 && sl.Grade != l.Grade) || (sl.Subject != "" && sl.Subject != l.Subject) ||
			(sl.Language != "" && sl.Language != l.Language) || sl.Holds(l.ID) {
			continue
		}
		d := time.Duration(l.DurationMS) * time.Millisecond
		o := slotOption{Value: strconv.FormatInt(l.ID, 10),
			Label: fmt.Sprintf("#%d %s · %d · %s · %s · %s", l.ID, l.Title, l.Grade, l.Subject, l.Language, lengthText(d))}
		if d > sl.Duration {
			o.Label += " — " + c.t("grid_too_long")
			o.Disabled = true
		} else if d > left {
			o.Label += " — " + c.t("grid_no_room")
			o.Disabled = true
		}
		if aired[l.ID] {
			o.Value += ":rerun"
			o.Label += " — " + c.t("grid_rerun")
			again = append(again, o)
			continue
		}
		fresh = append(fresh, o)
	}
	return append(fresh, again...)
}

// lengthText writes a length as minutes, with seconds when there are some.
func lengthText(d time.Duration) string {
	d = d.Round(time.Second)
	if d < time.Minute {
		return fmt.Sprintf("%d s", int(d/time.Second))
	}
	if s := int(d/time.Second) % 60; s != 0 {
		return fmt.Sprintf("%d min %02d s", int(d/time.Minute), s)
	}
	return fmt.Sprintf("%d min", int(d/time.Minute))
}
