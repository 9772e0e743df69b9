package scheduler_test

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/scheduler"
)

// TestFillPacksSlots: auto-fill packs lessons into each slot's free time, first fit in the grid's order,
// never past the slot's end; re-runs fill the time still free, never one lesson twice in a slot.
func TestFillPacksSlots(t *testing.T) {
	min := func(m float64) time.Duration { return time.Duration(m * float64(time.Minute)) }
	lesson := func(id int64, length time.Duration) relais.Lesson {
		return relais.Lesson{ID: id, Title: fmt.Sprint("L", id), Subject: "maths", Grade: 5, Language: "fr", DurationMS: length.Milliseconds()}
	}
	slot := func(id int64, day, start string, length time.Duration, lessons ...int64) relais.Slot {
		sl := relais.Slot{ID: id, StationID: 1, Day: day, Start: start, Duration: length}
		for _, l := range lessons {
			sl.Lessons = append(sl.Lessons, relais.SlotLesson{LessonID: l})
		}
		return sl
	}
	tests := []struct {
		name    string
		slots   []relais.Slot
		used    map[int64]time.Duration
		lessons []relais.Lesson
		aired   map[int64]bool
		reruns  bool
		want    []string // "slot/position: lesson", "r" for a re-run
		empty   int
	}{
		{
			name:    "short lessons share a slot in order, the next that fits after one that does not",
			slots:   []relais.Slot{slot(1, "2026-03-02", "09:00", min(30)), slot(2, "2026-03-02", "09:30", min(30))},
			lessons: []relais.Lesson{lesson(1, min(10)), lesson(2, min(15)), lesson(3, min(8)), lesson(4, min(6))},
			// 10 + 15 = 25 leaves 5: the 8- and 6-minute lessons go to the next slot.
			want: []string{"1/0: 1", "1/1: 2", "2/0: 3", "2/1: 4"},
		},
		{
			name:    "never past the slot's end",
			slots:   []relais.Slot{slot(1, "2026-03-02", "09:00", min(30)), slot(2, "2026-03-02", "09:30", min(30))},
			lessons: []relais.Lesson{lesson(1, min(20)), lesson(2, min(20))},
			want:    []string{"1/0: 1", "2/0: 2"},
		},
		{
			name:    "exactly full",
			slots:   []relais.Slot{slot(1, "2026-03-02", "09:00", min(30))},
			lessons: []relais.Lesson{lesson(1, min(12.5)), lesson(2, min(17.5)), lesson(3, 1*time.Second)},
			want:    []string{"1/0: 1", "1/1: 2"},
		},
		{
			name:    "the grid's order, not the slices'",
			slots:   []relais.Slot{slot(2, "2026-03-03", "09:00", min(30)), slot(1, "2026-03-02", "10:00", min(30))},
			lessons: []relais.Lesson{lesson(1, min(25)), lesson(2, min(25))},
			want:    []string{"1/0: 1", "2/0: 2"},
			empty:   0,
		},
		{
			name:    "a slot partly filled takes what fits its time left, after its lessons",
			slots:   []relais.Slot{slot(1, "2026-03-02", "09:00", min(30), 9)},
			used:    map[int64]time.Duration{1: min(25)},
			lessons: []relais.Lesson{lesson(1, min(6)), lesson(2, min(4))},
			want:    []string{"1/1: 2"},
		},
		{
			name:    "re-runs fill the time still free, each lesson once per slot",
			slots:   []relais.Slot{slot(1, "2026-03-02", "09:00", min(30)), slot(2, "2026-03-02", "09:30", min(30))},
			lessons: []relais.Lesson{lesson(1, min(12)), lesson(2, min(5)), lesson(3, min(20))},
			aired:   map[int64]bool{1: true, 2: true},
			reruns:  true,
			// Lesson 3 is new: it goes first, then re-runs in turn where they fit.
			want: []string{"1/0: 3", "1/1: 2r", "2/0: 1r", "2/1: 2r"},
		},
		{
			name:    "no re-runs asked: the time stays free",
			slots:   []relais.Slot{slot(1, "2026-03-02", "09:00", min(30))},
			lessons: []relais.Lesson{lesson(1, min(12))},
			aired:   map[int64]bool{1: true},
			want:    nil,
			empty:   1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			as, rep := scheduler.Fill(tc.slots, tc.used, tc.lessons, tc.aired, tc.reruns)
			var got []string
			for _, a := range as {
				mark := ""
				if a.Rerun {
					mark = "r"
				}
				got = append(got, fmt.Sprintf("%d/%d: %d%s", a.SlotID, a.Position, a.LessonID, mark))
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("assignments (-want +got):\n%s", diff)
			}
			if rep.EmptySlots != tc.empty {
				t.Errorf("empty slots = %d, want %d", rep.EmptySlots, tc.empty)
			}
			// Whatever was packed fits: no slot's lessons outlast it.
			length := map[int64]time.Duration{}
			for _, l := range tc.lessons {
				length[l.ID] = time.Duration(l.DurationMS) * time.Millisecond
			}
			for _, sl := range tc.slots {
				total := tc.used[sl.ID]
				for _, a := range as {
					if a.SlotID == sl.ID {
						total += length[a.LessonID]
					}
				}
				if total > sl.Duration {
					t.Errorf("slot %d holds %s, longer than its %s", sl.ID, total, sl.Duration)
				}
			}
		})
	}
}

// TestAutoFillPacksTheStoredGrid: through the store, a second fill appends after what the first packed,
// and the sequence survives as positions 0, 1, ...
func TestAutoFillPacksTheStoredGrid(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	st := e.station(t, "Balapan", "Asia/Almaty", relais.StationTV)
	sl, err := e.svc.AddSlot(ctx, relais.Slot{StationID: st.ID, Day: "2026-03-02", Start: "09:00", Duration: 30 * time.Minute})
	must(t, err)
	a := e.lesson(t, "A", "maths", 5, "fr", 10*time.Minute, true)
	rep, err := e.svc.AutoFill(ctx, nil, "2026-03-02", "2026-03-02", false)
	must(t, err)
	if rep.Placed != 1 {
		t.Fatalf("first fill: %+v", rep)
	}
	b := e.lesson(t, "B", "maths", 5, "fr", 15*time.Minute, true)
	c := e.lesson(t, "C", "maths", 5, "fr", 6*time.Minute, true) // 10 + 15 + 6 > 30: stays out
	rep, err = e.svc.AutoFill(ctx, nil, "2026-03-02", "2026-03-02", false)
	must(t, err)
	if rep.Placed != 1 || len(rep.Unplaced) != 1 || rep.Unplaced[0].LessonID != c.ID {
		t.Errorf("second fill: %+v", rep)
	}
	got, err := e.db.Slot(ctx, sl.ID)
	must(t, err)
	if diff := cmp.Diff([]int64{a.ID, b.ID}, got.LessonIDs()); diff != "" {
		t.Errorf("sequence (-want +got):\n%s", diff)
	}
}

type remindLog struct{ lessons []int64 }

func (r *remindLog) RescheduleReminders(_ context.Context, id int64) error {
	r.lessons = append(r.lessons, id)
	return nil
}

// TestEditSequence: lessons move and go; only lessons whose airing changed are reminded again; a
// lesson the slot does not hold is refused.
func TestEditSequence(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	st := e.station(t, "Balapan", "Asia/Almaty", relais.StationTV)
	sl, err := e.svc.AddSlot(ctx, relais.Slot{StationID: st.ID, Day: "2026-03-02", Start: "09:00", Duration: 30 * time.Minute})
	must(t, err)
	var ids []int64
	for _, title := range []string{"A", "B", "C"} {
		l := e.lesson(t, title, "maths", 5, "fr", 9*time.Minute, true)
		must(t, e.svc.Assign(ctx, sl.ID, l.ID, false))
		ids = append(ids, l.ID)
	}
	log := &remindLog{}
	e.svc.RemindWith(log)
	a, b, c := ids[0], ids[1], ids[2]
	steps := []struct {
		name     string
		do       func() (relais.Slot, error)
		code     string
		want     []int64
		reminded []int64
	}{
		{"move the last up", func() (relais.Slot, error) { return e.svc.MoveInSlot(ctx, sl.ID, c, true) }, "", []int64{a, c, b}, []int64{b, c}},
		{"move the first up: nothing moves", func() (relais.Slot, error) { return e.svc.MoveInSlot(ctx, sl.ID, a, true) }, "", []int64{a, c, b}, nil},
		{"remove the first", func() (relais.Slot, error) { return e.svc.RemoveFromSlot(ctx, sl.ID, a) }, "", []int64{c, b}, []int64{a, c, b}},
		{"a lesson the slot does not hold", func() (relais.Slot, error) { return e.svc.RemoveFromSlot(ctx, sl.ID, a) }, relais.ENOTFOUND, []int64{c, b}, nil},
		{"an order naming a lesson not there", func() (relais.Slot, error) { return e.svc.SetSequence(ctx, sl.ID, []int64{b, a}) }, relais.EINVALID, []int64{c, b}, nil},
		{"an order naming one twice", func() (relais.Slot, error) { return e.svc.SetSequence(ctx, sl.ID, []int64{b, b}) }, relais.EINVALID, []int64{c, b}, nil},
		{"a missing slot", func() (relais.Slot, error) { return e.svc.SetSequence(ctx, 999, nil) }, relais.ENOTFOUND, []int64{c, b}, nil},
		{"reorder", func() (relais.Slot, error) { return e.svc.SetSequence(ctx, sl.ID, []int64{b, c}) }, "", []int64{b, c}, []int64{c, b}},
		{"empty", func() (relais.Slot, error) { return e.svc.SetSequence(ctx, sl.ID, nil) }, "", nil, []int64{b, c}},
	}
	for _, s := range steps {
		log.lessons = nil
		_, err := s.do()
		if got := relais.ErrorCode(err); got != s.code {
			t.Errorf("%s: code %q (%v), want %q", s.name, got, err, s.code)
		}
		stored, err := e.db.Slot(ctx, sl.ID)
		must(t, err)
		if diff := cmp.Diff(s.want, stored.LessonIDs(), cmp.Comparer(func(x, y []int64) bool { return slices.Equal(x, y) })); diff != "" {
			t.Errorf("%s: sequence (-want +got):\n%s", s.name, diff)
		}
		if !slices.Equal(s.reminded, log.lessons) {
			t.Errorf("%s: reminded %v, want %v", s.name, log.lessons, s.reminded)
		}
	}
}

// TestSequenceExports: a slot holding three lessons gives three programmes at their own times in the
// guide (valid against the DTD) and the filler after the last; the playout list plays them in order
// from the slot's time; the plan places each lesson at its own start and counts the whole sequence in
// its under-run warning.
func TestSequenceExports(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	st := e.station(t, "Balapan", "Asia/Almaty", relais.StationTV)
	dayStart := "09:00"
	st, _, err := e.svc.UpdateStation(ctx, st.ID, scheduler.StationPatch{DayStart: &dayStart})
	must(t, err)
	sl, err := e.svc.AddSlot(ctx, relais.Slot{StationID: st.ID, Day: "2026-03-02", Start: "09:30", Duration: 30 * time.Minute})
	must(t, err)
	a := e.lesson(t, "Les nombres", "maths", 5, "fr", 4*time.Minute+30*time.Second, true)
	b := e.lesson(t, "Les formes", "maths", 5, "fr", 5*time.Minute, true)
	c := e.lesson(t, "Les mesures", "maths", 5, "fr", 6*time.Minute, true)
	for _, l := range []relais.Lesson{a, b, c} {
		must(t, e.svc.Assign(ctx, sl.ID, l.ID, false))
	}

	var x bytes.Buffer
	must(t, e.svc.XMLTV(ctx, &x, st.ID, "2026-03-02", "2026-03-02"))
	golden(t, "sequence.xml", x.Bytes())
	validateXMLTV(t, x.Bytes())
	for _, want := range []string{
		`<programme start="20260302093000 +0500" stop="20260302093430 +0500"`,
		`<programme start="20260302093430 +0500" stop="20260302093930 +0500"`,
		`<programme start="20260302093930 +0500" stop="20260302094530 +0500"`,
		`<programme start="20260302094530 +0500" stop="20260302100000 +0500"`, // the filler, after the last
	} {
		if !strings.Contains(x.String(), want) {
			t.Errorf("guide lacks %s", want)
		}
	}
	if n := strings.Count(x.String(), "<programme "); n != 4 {
		t.Errorf("%d programmes, want 3 lessons and 1 filler", n)
	}

	pl, err := e.svc.Playlist(ctx, st.ID, "2026-03-02", "")
	must(t, err)
	var j bytes.Buffer
	must(t, scheduler.WriteFFplayout(&j, pl))
	golden(t, "sequence-2026-03-02.json", j.Bytes())
	var got []string
	at := 0.0
	for _, it := range pl.Program {
		got = append(got, fmt.Sprintf("%v %s %v", at, it.Title, it.Out))
		at += it.Out
	}
	want := []string{"0 Filler 1800", "1800 Les nombres 270", "2070 Les formes 300", "2370 Les mesures 360", "2730 Filler 870"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("playout list from 09:00 (-want +got):\n%s", diff)
	}

	p := &scheduler.Planner{Store: e.db, Lessons: e.db, Households: e.db, Channels: relaisChannels(), Config: scheduler.DefaultPlanConfig()}
	from := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	loc, _ := time.LoadLocation("Asia/Almaty")
	for _, tc := range []struct {
		l    relais.Lesson
		want time.Time
	}{
		{a, time.Date(2026, 3, 2, 9, 30, 0, 0, loc)},
		{b, time.Date(2026, 3, 2, 9, 34, 30, 0, loc)},
		{c, time.Date(2026, 3, 2, 9, 39, 30, 0, loc)},
	} {
		as, err := p.AllAirings(ctx, tc.l.ID, from)
		must(t, err)
		if len(as) != 1 || !as[0].At.Equal(tc.want) {
			t.Errorf("airings of %s: %+v, want one at %s", tc.l.Title, as, tc.want)
		}
	}
	sum, err := p.Plan(ctx, b.ID, from, nil)
	must(t, err)
	w := "Balapan Sabaq: the slot's 3 lessons last 15 min 30 s and leave 14 min 30 s of each 30 min slot to filler, in 1 airing."
	if !slices.Contains(sum.Warnings, w) {
		t.Errorf("warnings %q lack %q", sum.Warnings, w)
	}

	// Two lessons that together nearly fill the slot warn of nothing, although each alone would.
	sl2, err := e.svc.AddSlot(ctx, relais.Slot{StationID: st.ID, Day: "2026-03-03", Start: "09:30", Duration: 30 * time.Minute})
	must(t, err)
	d := e.lesson(t, "La moitié", "maths", 5, "fr", 13*time.Minute, true)
	f := e.lesson(t, "L'autre moitié", "maths", 5, "fr", 14*time.Minute, true)
	must(t, e.svc.Assign(ctx, sl2.ID, d.ID, false))
	must(t, e.svc.Assign(ctx, sl2.ID, f.ID, false))
	sum, err = p.Plan(ctx, d.ID, from, nil)
	must(t, err)
	if len(sum.Underruns) != 0 {
		t.Errorf("a slot its two lessons nearly fill: %+v", sum.Underruns)
	}
}
