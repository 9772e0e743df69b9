package scheduler

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

	relais "github.com/relais-edu/relais"
)

// Unplaced is an approved lesson auto-fill could not schedule, and why.
type Unplaced struct {
	LessonID int64  `json:"lesson_id"`
	Title    string `json:"title"`
	Reason   string `json:"reason"`
}

// FillReport says what an auto-fill did.
type FillReport struct {
	Placed     int        `json:"placed"`
	Reruns     int        `json:"reruns"`
	EmptySlots int        `json:"empty_slots"` // slots still empty afterwards
	Unplaced   []Unplaced `json:"unplaced"`
}

type fillKey struct {
	grade    int
	subject  string
	language string
}

type weekKey struct {
	station int64
	year    int
	week    int
	grade   int
	subject string
}

// Fill assigns lessons to empty slots. Each lesson not yet aired is placed once, in the first slot that
// matches its grade, subject and language (where the slot sets them) and that it fits; a slot open to any
// subject takes the subject its station has aired least that week, so subjects spread across the week.
// With reruns, slots still empty then air lessons already scheduled again, in turn. slots must be empty;
// they are filled in local day and time order.
func Fill(slots []relais.Slot, lessons []relais.Lesson, aired map[int64]bool, reruns bool) ([]relais.Assignment, FillReport) {
	slots = append([]relais.Slot(nil), slots...)
	slices.SortStableFunc(slots, func(a, b relais.Slot) int {
		return cmp.Or(cmp.Compare(a.Day, b.Day), cmp.Compare(a.Start, b.Start), cmp.Compare(a.StationID, b.StationID))
	})
	fresh := map[fillKey][]relais.Lesson{} // lessons waiting for a first airing, by id
	again := map[fillKey][]relais.Lesson{} // lessons that may air again
	for _, l := range lessons {
		k := fillKey{l.Grade, l.Subject, l.Language}
		if aired[l.ID] {
			again[k] = append(again[k], l)
		} else {
			fresh[k] = append(fresh[k], l)
		}
	}
	keys := make([]fillKey, 0, len(fresh)+len(again))
	seen := map[fillKey]bool{}
	for _, m := range []map[fillKey][]relais.Lesson{fresh, again} {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
	}
	slices.SortFunc(keys, func(a, b fillKey) int {
		return cmp.Or(cmp.Compare(a.grade, b.grade), cmp.Compare(a.subject, b.subject), cmp.Compare(a.language, b.language))
	})
	used := map[weekKey]int{}
	var out []relais.Assignment
	var rep FillReport

	// pick returns the key whose queue (in pool) has a lesson fitting sl, preferring the subject aired
	// least this week on the station, and the index of that lesson in its queue.
	pick := func(sl relais.Slot, pool map[fillKey][]relais.Lesson) (fillKey, int, bool) {
		d, _ := time.Parse(time.DateOnly, sl.Day)
		y, w := d.ISOWeek()
		best, bestIdx, bestUse, found := fillKey{}, 0, 0, false
		for _, k := range keys {
			if !matches(sl, k) || len(pool[k]) == 0 {
				continue
			}
			idx := fitting(pool[k], sl.Duration)
			if idx < 0 {
				continue
			}
			use := used[weekKey{sl.StationID, y, w, k.grade, k.subject}]
			if !found || use < bestUse || (use == bestUse && pool[k][idx].ID < pool[best][bestIdx].ID) {
				best, bestIdx, bestUse, found = k, idx, use, true
			}
		}
		if found {
			used[weekKey{sl.StationID, y, w, best.grade, best.subject}]++
		}
		return best, bestIdx, found
	}

	// place puts in each slot a lesson picked from pool and returns the slots left empty. A first airing
	// moves the lesson to again; a re-run sends it to the back of its queue, so that re-runs take turns.
	place := func(slots []relais.Slot, pool map[fillKey][]relais.Lesson, rerun bool) []relais.Slot {
		var left []relais.Slot
		for _, sl := range slots {
			k, i, ok := pick(sl, pool)
			if !ok {
				left = append(left, sl)
				continue
			}
			l := pool[k][i]
			pool[k] = append(pool[k][:i:i], pool[k][i+1:]...)
			if rerun {
				pool[k] = append(pool[k], l)
				rep.Reruns++
			} else {
				again[k] = append(again[k], l)
				rep.Placed++
			}
			out = append(out, relais.Assignment{SlotID: sl.ID, LessonID: l.ID, Rerun: rerun})
		}
		return left
	}
	empty := place(slots, fresh, false)
	if reruns {
		empty = place(empty, again, true)
	}
	rep.EmptySlots = len(empty)
	rep.Unplaced = []Unplaced{}
	for _, k := range keys {
		for _, l := range fresh[k] {
			rep.Unplaced = append(rep.Unplaced, Unplaced{LessonID: l.ID, Title: l.Title, Reason: whyUnplaced(l, slots)})
		}
	}
	sort.Slice(rep.Unplaced, func(i, j int) bool { return rep.Unplaced[i].LessonID < rep.Unplaced[j].LessonID })
	return out, rep
}

func matches(sl relais.Slot, k fillKey) bool {
	return (sl.Grade == 0 || sl.Grade == k.grade) && (sl.Subject == "" || sl.Subject == k.subject) &&
		(sl.Language == "" || sl.Language == k.language)
}

// fitting returns the index of the first lesson in q that fits a slot of length d, or -1.
func fitting(q []relais.Lesson, d time.Duration) int {
	for i, l := range q {
		if _, err := relais.FitSlot(time.Duration(l.DurationMS)*time.Millisecond, d); err == nil {
			return i
		}
	}
	return -1
}

// whyUnplaced explains why no slot took l.
func whyUnplaced(l relais.Lesson, slots []relais.Slot) string {
	k := fillKey{l.Grade, l.Subject, l.Language}
	n, longest := 0, time.Duration(0)
	for _, sl := range slots {
		if matches(sl, k) {
			n++
			longest = max(longest, sl.Duration)
		}
	}
	d := time.Duration(l.DurationMS) * time.Millisecond
	switch {
	case n == 0:
		return fmt.Sprintf("no empty slot for grade %d, %s, in %s", l.Grade, l.Subject, l.Language)
	case d > longest:
		return fmt.Sprintf("lasts %s, longer than every matching slot (at most %s)", d.Round(time.Second), longest)
	}
	return fmt.Sprintf("all %d matching slots went to other lessons", n)
}

// FillDays is AutoFill as the API and the pages ask for it: from and to are days at most MaxFillDays
// apart (the CLI's fill has no such bound).
func (s *Service) FillDays(ctx context.Context, stationIDs []int64, from, to string, reruns bool) (FillReport, error) {
	if err := CheckDays(from, to, MaxFillDays); err != nil {
		return FillReport{}, err
	}
	return s.AutoFill(ctx, stationIDs, from, to, reruns)
}

// AutoFill fills the empty slots of the given stations (none: every station) between two local days and
// stores the assignments in one transaction.
func (s *Service) AutoFill(ctx context.Context, stationIDs []int64, from, to string, reruns bool) (FillReport, error) {
	if _, err := relais.ParseDay(from); err != nil {
		return FillReport{}, err
	}
	if _, err := relais.ParseDay(to); err != nil {
		return FillReport{}, err
	}
	if len(stationIDs) == 0 {
		sts, err := s.store.Stations(ctx)
		if err != nil {
			return FillReport{}, err
		}
		for _, st := range sts {
			stationIDs = append(stationIDs, st.ID)
		}
	}
	var slots []relais.Slot
	for _, id := range stationIDs {
		if _, err := s.store.Station(ctx, id); err != nil {
			return FillReport{}, err
		}
		ss, err := s.store.Slots(ctx, relais.SlotFilter{StationID: id, From: from, To: to, Unassigned: true})
		if err != nil {
			return FillReport{}, err
		}
		slots = append(slots, ss...)
	}
	lessons, err := s.store.ApprovedLessons(ctx)
	if err != nil {
		return FillReport{}, err
	}
	aired, err := s.store.AiredLessons(ctx)
	if err != nil {
		return FillReport{}, err
	}
	as, rep := Fill(slots, lessons, aired, reruns)
	if err := s.store.Assign(ctx, as); err != nil {
		return FillReport{}, err
	}
	return rep, nil
}
