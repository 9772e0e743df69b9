package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	relais "github.com/relais-edu/relais"
)

// TestStationUpdateAndDeleteAreAtomic shows the store's station writes see the station's slots inside
// their transaction and write nothing when the check refuses them.
func testStationUpdateAndDeleteAreAtomic(t *testing.T, open Open) {
	ctx := context.Background()
	db := open(t, nil)
	st := relais.Station{Name: "Balapan", Kind: relais.StationTV, TimeZone: "Asia/Almaty", ServiceName: "Balapan",
		Playout: relais.FormatFFplayout}
	if err := db.CreateStation(ctx, &st); err != nil {
		t.Fatal(err)
	}
	tpl := relais.Template{Weekdays: []int{1}, Start: "09:00", End: "09:30", SlotMin: 30, From: "2026-03-02", To: "2026-03-02"}
	slots := []relais.Slot{{Day: "2026-03-02", Start: "09:00", Duration: 30 * time.Minute},
		{Day: "2026-03-03", Start: "09:00", Duration: 30 * time.Minute}}
	if err := db.AddSlots(ctx, st.ID, &tpl, slots, func([]relais.Slot) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := db.AddException(ctx, relais.Exception{StationID: st.ID, Day: "2026-03-09", Reason: "holiday"}); err != nil {
		t.Fatal(err)
	}
	refuse := errors.New("refused")
	var seen []string
	check := func(ss []relais.Slot) error {
		seen = nil
		for _, s := range ss {
			seen = append(seen, s.Day)
		}
		return refuse
	}

	changed := st
	changed.Name, changed.TimeZone = "Balapan TV", "Europe/Paris"
	if err := db.UpdateStation(ctx, changed, check); !errors.Is(err, refuse) {
		t.Fatalf("update with a refusing check: %v", err)
	}
	if diff := cmp.Diff([]string{"2026-03-02", "2026-03-03"}, seen); diff != "" {
		t.Errorf("slots the update checked (-want +got):\n%s", diff)
	}
	if got, _ := db.Station(ctx, st.ID); got != st {
		t.Errorf("a refused update wrote %+v", got)
	}
	if err := db.UpdateStation(ctx, changed, nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.Station(ctx, st.ID); got != changed {
		t.Errorf("updated station = %+v, want %+v", got, changed)
	}
	missing := changed
	missing.ID, missing.Name = 99, "Other"
	if err := db.UpdateStation(ctx, missing, nil); relais.ErrorCode(err) != relais.ENOTFOUND {
		t.Errorf("update of a missing station: %v", err)
	}

	if _, err := db.DeleteStation(ctx, st.ID, check); !errors.Is(err, refuse) {
		t.Fatalf("delete with a refusing check: %v", err)
	}
	if got, err := db.Station(ctx, st.ID); err != nil || got != changed {
		t.Errorf("a refused deletion: %+v, %v", got, err)
	}
	if left, _ := db.Slots(ctx, relais.SlotFilter{StationID: st.ID}); len(left) != 2 {
		t.Errorf("a refused deletion left %d slots", len(left))
	}
	n, err := db.DeleteStation(ctx, st.ID, func([]relais.Slot) error { return nil })
	if err != nil || n != 2 {
		t.Fatalf("delete = %d, %v", n, err)
	}
	tpls, _ := db.Templates(ctx, st.ID)
	exc, _ := db.Exceptions(ctx, st.ID)
	left, _ := db.Slots(ctx, relais.SlotFilter{StationID: st.ID})
	if len(tpls)+len(exc)+len(left) != 0 {
		t.Errorf("left behind: %d templates, %d exceptions, %d slots", len(tpls), len(exc), len(left))
	}
	if _, err := db.DeleteStation(ctx, st.ID, nil); relais.ErrorCode(err) != relais.ENOTFOUND {
		t.Errorf("second deletion: %v", err)
	}
}

// testConcurrentGridWrites: two writers adding slots to one station's day at once each check the grid
// as the other left it: the second sees the first's slot and refuses, so the check cannot be slipped
// past. (Both writers wait in their check for the other to arrive, up to a moment: with the writes
// one at a time per station the second never arrives while the first checks.)
func testConcurrentGridWrites(t *testing.T, open Open) {
	ctx := context.Background()
	db := open(t, nil)
	st := relais.Station{Name: "Balapan", Kind: relais.StationTV, TimeZone: "Asia/Almaty", ServiceName: "Balapan",
		Playout: relais.FormatFFplayout}
	if err := db.CreateStation(ctx, &st); err != nil {
		t.Fatal(err)
	}
	taken := errors.New("the day has a slot already")
	var entered sync.WaitGroup
	entered.Add(2)
	arrived := make(chan struct{})
	go func() { entered.Wait(); close(arrived) }()
	add := func(start string) error {
		slots := []relais.Slot{{Day: "2026-03-02", Start: start, Duration: 30 * time.Minute}}
		return db.AddSlots(ctx, st.ID, nil, slots, func(existing []relais.Slot) error {
			entered.Done()
			select {
			case <-arrived:
			case <-time.After(300 * time.Millisecond):
			}
			if len(existing) > 0 {
				return taken
			}
			return nil
		})
	}
	errs := make(chan error, 2)
	go func() { errs <- add("09:00") }()
	go func() { errs <- add("10:00") }()
	var refused int
	for i := 0; i < 2; i++ {
		if err := <-errs; errors.Is(err, taken) {
			refused++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	slots, err := db.Slots(ctx, relais.SlotFilter{StationID: st.ID})
	if err != nil {
		t.Fatal(err)
	}
	if refused != 1 || len(slots) != 1 {
		t.Errorf("%d writers refused, %d slots kept; want 1 and 1", refused, len(slots))
	}
}

// testSlotSequences: a slot holds lessons in order; Assign appends at the slot's length and refuses a
// stale position; EditSlot replaces the sequence or writes nothing; the filters and AiredLessons read
// every lesson of a sequence; removing a slot removes its sequence.
func testSlotSequences(t *testing.T, open Open) {
	ctx := context.Background()
	db := open(t, nil)
	st := relais.Station{Name: "Balapan", Kind: relais.StationTV, TimeZone: "Asia/Almaty", ServiceName: "Balapan",
		Playout: relais.FormatFFplayout}
	if err := db.CreateStation(ctx, &st); err != nil {
		t.Fatal(err)
	}
	slots := []relais.Slot{{Day: "2026-03-02", Start: "09:00", Duration: 30 * time.Minute},
		{Day: "2026-03-03", Start: "09:00", Duration: 30 * time.Minute}}
	if err := db.AddSlots(ctx, st.ID, nil, slots, func([]relais.Slot) error { return nil }); err != nil {
		t.Fatal(err)
	}
	var ls []int64
	for i := 0; i < 4; i++ {
		l := relais.Lesson{Title: "L", Subject: "maths", Grade: 5, Language: "kk", TeacherID: "t"}
		if err := db.CreateLesson(ctx, &l); err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l.ID)
	}
	a, b := slots[0].ID, slots[1].ID
	if err := db.Assign(ctx, []relais.Assignment{{SlotID: a, Position: 0, LessonID: ls[0]},
		{SlotID: a, Position: 1, LessonID: ls[1]}, {SlotID: a, Position: 2, LessonID: ls[2], Rerun: true}}); err != nil {
		t.Fatal(err)
	}
	want := []relais.SlotLesson{{LessonID: ls[0]}, {LessonID: ls[1]}, {LessonID: ls[2], Rerun: true}}
	got, err := db.Slot(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got.Lessons); diff != "" {
		t.Errorf("sequence (-want +got):\n%s", diff)
	}
	// A position that is not the slot's length is a stale view of the slot: nothing of the batch is written.
	err = db.Assign(ctx, []relais.Assignment{{SlotID: b, Position: 0, LessonID: ls[3]}, {SlotID: a, Position: 1, LessonID: ls[3]}})
	if relais.ErrorCode(err) != relais.ECONFLICT {
		t.Errorf("append at a stale position: %v, want conflict", err)
	}
	if got, _ := db.Slot(ctx, b); len(got.Lessons) != 0 {
		t.Errorf("a refused batch wrote slot b: %+v", got.Lessons)
	}
	if err := db.Assign(ctx, []relais.Assignment{{SlotID: 999, LessonID: ls[3]}}); relais.ErrorCode(err) != relais.ECONFLICT {
		t.Errorf("assign to a missing slot: %v, want conflict", err)
	}
	for _, tc := range []struct {
		name string
		f    relais.SlotFilter
		want []int64
	}{
		{"holding the second lesson", relais.SlotFilter{LessonID: ls[1]}, []int64{a}},
		{"holding the third lesson", relais.SlotFilter{StationID: st.ID, LessonID: ls[2]}, []int64{a}},
		{"holding none", relais.SlotFilter{StationID: st.ID, Unassigned: true}, []int64{b}},
		{"every slot", relais.SlotFilter{StationID: st.ID}, []int64{a, b}},
	} {
		ss, err := db.Slots(ctx, tc.f)
		if err != nil {
			t.Fatal(err)
		}
		var ids []int64
		for _, s := range ss {
			ids = append(ids, s.ID)
		}
		if diff := cmp.Diff(tc.want, ids); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
	}
	aired, err := db.AiredLessons(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[int64]bool{ls[0]: true, ls[1]: true, ls[2]: true}, aired); diff != "" {
		t.Errorf("aired (-want +got):\n%s", diff)
	}

	// Reorder and remove in one edit; the edit sees the stored sequence.
	var seen []relais.SlotLesson
	edited, err := db.EditSlot(ctx, a, func(s relais.Slot) ([]relais.SlotLesson, error) {
		seen = s.Lessons
		return []relais.SlotLesson{s.Lessons[2], s.Lessons[0]}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, seen); diff != "" {
		t.Errorf("the edit saw (-want +got):\n%s", diff)
	}
	reordered := []relais.SlotLesson{{LessonID: ls[2], Rerun: true}, {LessonID: ls[0]}}
	if diff := cmp.Diff(reordered, edited.Lessons); diff != "" {
		t.Errorf("EditSlot returned (-want +got):\n%s", diff)
	}
	if got, _ := db.Slot(ctx, a); !cmp.Equal(reordered, got.Lessons) {
		t.Errorf("stored after the edit: %+v, want %+v", got.Lessons, reordered)
	}
	refuse := errors.New("refused")
	if _, err := db.EditSlot(ctx, a, func(relais.Slot) ([]relais.SlotLesson, error) { return nil, refuse }); !errors.Is(err, refuse) {
		t.Errorf("a refusing edit: %v", err)
	}
	if got, _ := db.Slot(ctx, a); !cmp.Equal(reordered, got.Lessons) {
		t.Errorf("a refused edit wrote %+v", got.Lessons)
	}
	if _, err := db.EditSlot(ctx, 999, func(relais.Slot) ([]relais.SlotLesson, error) { return nil, nil }); relais.ErrorCode(err) != relais.ENOTFOUND {
		t.Errorf("edit a missing slot: %v, want not found", err)
	}
	// Appending continues after the edited sequence.
	if err := db.Assign(ctx, []relais.Assignment{{SlotID: a, Position: 2, LessonID: ls[3]}}); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.Slot(ctx, a); len(got.Lessons) != 3 || got.Lessons[2].LessonID != ls[3] {
		t.Errorf("appended after the edit: %+v", got.Lessons)
	}
	// A cancelled day takes its slot's sequence with it.
	if _, err := db.AddException(ctx, relais.Exception{StationID: st.ID, Day: "2026-03-02", Reason: "holiday"}); err != nil {
		t.Fatal(err)
	}
	aired, err = db.AiredLessons(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(aired) != 0 {
		t.Errorf("lessons of a removed slot still aired: %v", aired)
	}
}
