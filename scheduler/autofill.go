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

// Fill packs lessons into the time slots leave free: used says how long each slot's sequence already
// plays (by slot id; absent: the slot is empty). Slots are taken in local day and time order, and each
// one is filled first-fit: a lesson is appended while one fits the time left, never past the slot's end,
// so several short lessons play back to back where their lengths fit. Each lesson not yet aired is placed
// once, in the first slot that matches its grade, subject and language (where the slot sets them) and has
// room for it; a slot open to any subject takes the subject its station has aired least that week, so
// subjects spread across the week. With reruns, the time still free then airs lessons already scheduled
// again, in turn (never one lesson twice in a slot).
func Fill(slots []relais.Slot, used map[int64]time.Duration, lessons []relais.Lesson, aired map[int64]bool, reruns bool) ([]relais.Assignment, FillReport) {
	type open struct {
		relais.Slot
		left time.Duration
	}
	sorted := append([]relais.Slot(nil), slots...)
	slices.SortStableFunc(sorted, func(a, b relais.Slot) int {
		return cmp.Or(cmp.Compare(a.Day, b.Day), cmp.Compare(a.Start, b.Start), cmp.Compare(a.StationID, b.StationID))
	})
	var grid []*open
	for _, sl := range sorted {
		sl.Lessons = slices.Clone(sl.Lessons)
		grid = append(grid, &open{Slot: sl, left: sl.Duration - used[sl.ID]})
	}
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
	weekUse := map[weekKey]int{}
	var out []relais.Assignment
	var rep FillReport

	// pick returns the key whose queue (in pool) has a lesson fitting the time sl leaves, preferring the
	// subject aired least this week on the station, and the index of that lesson in its queue.
	pick := func(sl *open, pool map[fillKey][]relais.Lesson) (fillKey, int, bool) {
		d, _ := time.Parse(time.DateOnly, sl.Day)
		y, w := d.ISOWeek()
		best, bestIdx, bestUse, found := fillKey{}, 0, 0, false
		for _, k := range keys {
			if !matches(sl.Slot, k) || len(pool[k]) == 0 {
				continue
			}
			idx := fitting(pool[k], sl.left, sl.Slot)
			if idx < 0 {
				continue
			}
			use := weekUse[weekKey{sl.StationID, y, w, k.grade, k.subject}]
			if !found || use < bestUse || (use == bestUse && pool[k][idx].ID < pool[best][bestIdx].ID) {
				best, bestIdx, bestUse, found = k, idx, use, true
			}
		}
		if found {
			weekUse[weekKey{sl.StationID, y, w, best.grade, best.subject}]++
		}
		return best, bestIdx, found
	}

	// place appends to each slot lessons picked from pool while one fits. A first airing moves the
	// lesson to again; a re-run sends it to the back of its queue, so that re-runs take turns.
	place := func(pool map[fillKey][]relais.Lesson, rerun bool) {
		for _, sl := range grid {
			for {
				k, i, ok := pick(sl, pool)
				if !ok {
					break
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
				out = append(out, relais.Assignment{SlotID: sl.ID, Position: len(sl.Lessons), LessonID: l.ID, Rerun: rerun})
				sl.Lessons = append(sl.Lessons, relais.SlotLesson{LessonID: l.ID, Rerun: rerun})
				sl.left -= time.Duration(l.DurationMS) * time.Millisecond
			}
		}
	}
	place(fresh, false)
	if reruns {
		place(again, true)
	}
	for _, sl := range grid {
		if len(sl.Lessons) == 0 {
			rep.EmptySlots++
		}
	}
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

// fitting returns the index of the first lesson in q that fits the time left in sl and is not in its
// sequence yet, or -1.
func fitting(q []relais.Lesson, left time.Duration, sl relais.Slot) int {
	if left <= 0 {
		return -1
	}
	for i, l := range q {
		if _, err := relais.FitSlot(time.Duration(l.DurationMS)*time.Millisecond, left); err == nil && !sl.Holds(l.ID) {
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
	return fmt.Sprintf("all %d matching slots are full with other lessons", n)
}

// FillDays is AutoFill as the API and the pages ask for it: from and to are days at most MaxFillDays
// apart (the CLI's fill has no such bound).
func (s *Service) FillDays(ctx context.Context, stationIDs []int64, from, to string, reruns bool) (FillReport, error) {
	if err := CheckDays(from, to, MaxFillDays); err != nil {
		return FillReport{}, err
	}
	return s.AutoFill(ctx, stationIDs, from, to, reruns)
}

// AutoFill packs lessons into the free time of the given stations' slots (none: every station) between
// two local days and stores the assignments in one transaction; a slot changed meanwhile makes it a
// conflict, and nothing is written.
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
	used := map[int64]time.Duration{}
	ls := newLengths(s.lessons.Lesson)
	for _, id := range stationIDs {
		if _, err := s.store.Station(ctx, id); err != nil {
			return FillReport{}, err
		}
		ss, err := s.store.Slots(ctx, relais.SlotFilter{StationID: id, From: from, To: to})
		if err != nil {
			return FillReport{}, err
		}
		for _, sl := range ss {
			lengths, err := ls.sequence(ctx, sl)
			if err != nil {
				return FillReport{}, err
			}
			if d := relais.SequenceLength(lengths); d < sl.Duration {
				used[sl.ID] = d
				slots = append(slots, sl)
			}
		}
	}
	lessons, err := s.store.ApprovedLessons(ctx)
	if err != nil {
		return FillReport{}, err
	}
	aired, err := s.store.AiredLessons(ctx)
	if err != nil {
		return FillReport{}, err
	}
	as, rep := Fill(slots, used, lessons, aired, reruns)
	if err := s.store.Assign(ctx, as); err != nil {
		return FillReport{}, err
	}
	return rep, nil
}
