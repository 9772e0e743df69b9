package scheduler_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/scheduler"
)

func ptr[T any](v T) *T { return &v }

// TestUpdateStation changes a station's fields as a partial update, validated as on creation, and lets
// the time zone change only while no slot would air at another instant.
func TestUpdateStation(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	st := e.station(t, "Balapan", "Asia/Almaty", relais.StationTV)
	e.station(t, "Qazaqstan", "Asia/Almaty", relais.StationTV)

	got, remind, err := e.svc.UpdateStation(ctx, st.ID, scheduler.StationPatch{Name: ptr("Balapan TV"),
		Provider: ptr("Kazteleradio"), Playout: ptr(relais.FormatM3U), ID: ptr(int64(99)), Kind: ptr(relais.StationTV)})
	must(t, err)
	want := st
	want.Name, want.Provider, want.Playout = "Balapan TV", "Kazteleradio", relais.FormatM3U
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("updated station (-want +got):\n%s", diff)
	}
	if len(remind) != 0 {
		t.Errorf("a provider change asks to remind again of %v", remind)
	}
	stored, err := e.db.Station(ctx, st.ID)
	must(t, err)
	if diff := cmp.Diff(want, stored); diff != "" {
		t.Errorf("stored station (-want +got):\n%s", diff)
	}

	refusals := []struct {
		name  string
		patch scheduler.StationPatch
		code  string
		says  string
	}{
		{"bad zone", scheduler.StationPatch{TimeZone: ptr("Nowhere/City")}, relais.EINVALID, `"Nowhere/City"`},
		{"empty name", scheduler.StationPatch{Name: ptr("")}, relais.EINVALID, "needs a name"},
		{"bad playout", scheduler.StationPatch{Playout: ptr(relais.PlayoutFormat("xspf"))}, relais.EINVALID, `"xspf"`},
		{"kind", scheduler.StationPatch{Kind: ptr(relais.StationRadio)}, relais.EINVALID, "cannot become radio"},
		{"taken name", scheduler.StationPatch{Name: ptr("Qazaqstan")}, relais.ECONFLICT, `already called "Qazaqstan"`},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := e.svc.UpdateStation(ctx, st.ID, tt.patch)
			if relais.ErrorCode(err) != tt.code || !strings.Contains(relais.ErrorMessage(err), tt.says) {
				t.Errorf("err = %v (%s), want %s saying %q", err, relais.ErrorCode(err), tt.code, tt.says)
			}
			if now, _ := e.db.Station(ctx, st.ID); !cmp.Equal(want, now) {
				t.Errorf("a refused update changed the station: %+v", now)
			}
		})
	}
	if _, _, err := e.svc.UpdateStation(ctx, 999, scheduler.StationPatch{Name: ptr("X")}); relais.ErrorCode(err) != relais.ENOTFOUND {
		t.Errorf("update of a missing station: %v", err)
	}

	// Without slots the zone may change; once a slot exists, it may not, since the slot would move.
	got, _, err = e.svc.UpdateStation(ctx, st.ID, scheduler.StationPatch{TimeZone: ptr("Asia/Aqtobe")})
	must(t, err)
	if got.TimeZone != "Asia/Aqtobe" {
		t.Errorf("zone = %q", got.TimeZone)
	}
	_, err = e.svc.AddSlot(ctx, relais.Slot{StationID: st.ID, Day: "2026-03-23", Start: "10:00", Duration: 30 * time.Minute})
	must(t, err)
	_, _, err = e.svc.UpdateStation(ctx, st.ID, scheduler.StationPatch{TimeZone: ptr("Europe/Paris"), Region: ptr("south")})
	if relais.ErrorCode(err) != relais.ECONFLICT || !strings.Contains(relais.ErrorMessage(err), "1 of its slots would air at another time (the first: 2026-03-23 10:00)") {
		t.Errorf("zone change with a slot: %v", err)
	}
	if now, _ := e.db.Station(ctx, st.ID); now.TimeZone != "Asia/Aqtobe" || now.Region != "north" {
		t.Errorf("a refused zone change wrote %+v", now)
	}

	// A zone alias keeps every instant, so it is allowed even with slots.
	in := e.station(t, "DD National", "Asia/Kolkata", relais.StationTV)
	_, err = e.svc.AddSlot(ctx, relais.Slot{StationID: in.ID, Day: "2026-03-23", Start: "10:00", Duration: 30 * time.Minute})
	must(t, err)
	if got, _, err := e.svc.UpdateStation(ctx, in.ID, scheduler.StationPatch{TimeZone: ptr("Asia/Calcutta")}); err != nil || got.TimeZone != "Asia/Calcutta" {
		t.Errorf("alias zone = %+v, %v", got, err)
	}
}

// TestUpdateStationRemindsComingLessons asks to queue reminders again for the lessons airing from today
// on when the name families know or the region changes.
func TestUpdateStationRemindsComingLessons(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	st := e.station(t, "Balapan", "Asia/Almaty", relais.StationTV)
	past, err := e.svc.AddSlot(ctx, relais.Slot{StationID: st.ID, Day: "2026-03-16", Start: "10:00", Duration: 30 * time.Minute})
	must(t, err)
	coming, err := e.svc.AddSlot(ctx, relais.Slot{StationID: st.ID, Day: "2026-03-25", Start: "10:00", Duration: 30 * time.Minute})
	must(t, err)
	old := e.lesson(t, "Old", "maths", 5, "kk", 20*time.Minute, true)
	next := e.lesson(t, "Next", "maths", 5, "kk", 20*time.Minute, true)
	must(t, e.db.Assign(ctx, []relais.Assignment{{SlotID: past.ID, LessonID: old.ID}, {SlotID: coming.ID, LessonID: next.ID}}))

	_, remind, err := e.svc.UpdateStation(ctx, st.ID, scheduler.StationPatch{ServiceName: ptr("Balapan TV")})
	must(t, err)
	if diff := cmp.Diff([]int64{next.ID}, remind); diff != "" {
		t.Errorf("lessons to remind again after a service name change (-want +got):\n%s", diff)
	}
	_, remind, err = e.svc.UpdateStation(ctx, st.ID, scheduler.StationPatch{Provider: ptr("Kazteleradio")})
	must(t, err)
	if remind != nil {
		t.Errorf("a provider change asks to remind again of %v", remind)
	}
}

// TestDeleteStation refuses while a lesson airs on the station from today on, and otherwise removes
// the station with its templates, exceptions and every slot, past ones included, leaving other
// stations alone.
func TestDeleteStation(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	st := e.station(t, "Balapan", "Asia/Almaty", relais.StationTV)
	other := e.station(t, "Qazaqstan", "Asia/Almaty", relais.StationTV)
	for _, id := range []int64{st.ID, other.ID} {
		_, err := e.svc.AddTemplate(ctx, relais.Template{StationID: id, Weekdays: []int{1, 2, 3, 4, 5}, Start: "09:00",
			End: "10:00", SlotMin: 30, From: "2026-03-16", To: "2026-03-27"})
		must(t, err)
		_, err = e.svc.AddException(ctx, relais.Exception{StationID: id, Day: "2026-03-23", Reason: "Nauryz"})
		must(t, err)
	}
	slots, err := e.db.Slots(ctx, relais.SlotFilter{StationID: st.ID})
	must(t, err)
	if len(slots) != 18 {
		t.Fatalf("%d slots, want 18", len(slots))
	}
	// Today is Friday 20 March (fixedNow): a lesson on the 16th has aired, those on the 20th and 25th have not.
	l := e.lesson(t, "Бөлшектер", "maths", 5, "kk", 20*time.Minute, true)
	byDay := map[string]int64{}
	for _, sl := range slots {
		if _, ok := byDay[sl.Day+" "+sl.Start]; !ok {
			byDay[sl.Day+" "+sl.Start] = sl.ID
		}
	}
	must(t, e.db.Assign(ctx, []relais.Assignment{{SlotID: byDay["2026-03-16 09:00"], LessonID: l.ID},
		{SlotID: byDay["2026-03-20 09:30"], LessonID: l.ID, Rerun: true}, {SlotID: byDay["2026-03-25 09:00"], LessonID: l.ID, Rerun: true}}))

	_, err = e.svc.DeleteStation(ctx, st.ID)
	wantMsg := `Station "Balapan" still airs lessons from today on; slots holding one: 2 (the first: 2026-03-20 09:30, lesson ` + itoa(l.ID) + `)`
	if relais.ErrorCode(err) != relais.ECONFLICT || !strings.Contains(relais.ErrorMessage(err), wantMsg) {
		t.Errorf("delete with coming lessons: %v", err)
	}
	if after, _ := e.db.Slots(ctx, relais.SlotFilter{StationID: st.ID}); len(after) != 18 {
		t.Errorf("a refused deletion left %d slots", len(after))
	}

	must(t, e.db.Unassign(ctx, byDay["2026-03-20 09:30"]))
	must(t, e.db.Unassign(ctx, byDay["2026-03-25 09:00"]))
	n, err := e.svc.DeleteStation(ctx, st.ID)
	must(t, err)
	if n != 18 {
		t.Errorf("removed %d slots, want 18 (the aired one included)", n)
	}
	if _, err := e.db.Station(ctx, st.ID); relais.ErrorCode(err) != relais.ENOTFOUND {
		t.Errorf("deleted station still read: %v", err)
	}
	tpl, _ := e.db.Templates(ctx, st.ID)
	exc, _ := e.db.Exceptions(ctx, st.ID)
	left, _ := e.db.Slots(ctx, relais.SlotFilter{StationID: st.ID})
	if len(tpl)+len(exc)+len(left) != 0 {
		t.Errorf("left behind: %d templates, %d exceptions, %d slots", len(tpl), len(exc), len(left))
	}
	tpl, _ = e.db.Templates(ctx, other.ID)
	exc, _ = e.db.Exceptions(ctx, other.ID)
	left, _ = e.db.Slots(ctx, relais.SlotFilter{StationID: other.ID})
	if len(tpl) != 1 || len(exc) != 1 || len(left) != 18 {
		t.Errorf("the other station lost its grid: %d templates, %d exceptions, %d slots", len(tpl), len(exc), len(left))
	}
	if _, err := e.svc.DeleteStation(ctx, st.ID); relais.ErrorCode(err) != relais.ENOTFOUND {
		t.Errorf("second deletion: %v", err)
	}
	// The name is free again.
	e.station(t, "Balapan", "Asia/Almaty", relais.StationTV)
}

// TestPickListsEnforced: with configured subjects and regions, a template, a slot or a station outside
// them is refused with the list; a region stored before the list was configured is kept on edit.
func TestPickListsEnforced(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	old := e.station(t, "Balapan", "Asia/Almaty", relais.StationTV) // region "north", from before the list
	e.svc.PickFrom(relais.PickLists{Subjects: []string{"maths", "physics"}, Regions: []string{"Almaty", "Aktobe"}})
	name := "Balapan HD"
	if _, _, err := e.svc.UpdateStation(ctx, old.ID, scheduler.StationPatch{Name: &name}); err != nil {
		t.Errorf("renaming a station whose region predates the list: %v", err)
	}
	for _, tc := range []struct {
		name string
		err  error
		msg  string
	}{
		{"station outside the regions", e.svc.CreateStation(ctx, &relais.Station{Name: "X", Kind: relais.StationTV, TimeZone: "UTC", Region: "Astana"}),
			`Region "Astana" is not in the configured list: pick one of Almaty, Aktobe (an operator adds regions with RELAIS_REGIONS).`},
		{"station moved outside", func() error {
			r := "Astana"
			_, _, err := e.svc.UpdateStation(ctx, old.ID, scheduler.StationPatch{Region: &r})
			return err
		}(), `Region "Astana" is not in the configured list`},
		{"template outside the subjects", func() error {
			_, err := e.svc.AddTemplate(ctx, relais.Template{StationID: old.ID, Weekdays: []int{1}, Start: "09:00", End: "10:00", SlotMin: 30,
				Subject: "astrology", From: "2026-03-02", To: "2026-03-02"})
			return err
		}(), `Subject "astrology" is not in the configured list: pick one of maths, physics`},
		{"slot outside the subjects", func() error {
			_, err := e.svc.AddSlot(ctx, relais.Slot{StationID: old.ID, Day: "2026-03-02", Start: "11:00", Duration: 30 * time.Minute, Subject: "Maths"})
			return err
		}(), `Subject "Maths" is not in the configured list`},
	} {
		if relais.ErrorCode(tc.err) != relais.EINVALID || !strings.Contains(relais.ErrorMessage(tc.err), tc.msg) {
			t.Errorf("%s: %v, want invalid with %q", tc.name, tc.err, tc.msg)
		}
	}
	if err := e.svc.CreateStation(ctx, &relais.Station{Name: "Aktobe TV", Kind: relais.StationTV, TimeZone: "Asia/Aqtobe", Region: "Aktobe"}); err != nil {
		t.Errorf("a station in a listed region: %v", err)
	}
	if _, err := e.svc.AddSlot(ctx, relais.Slot{StationID: old.ID, Day: "2026-03-02", Start: "11:00", Duration: 30 * time.Minute, Subject: "physics"}); err != nil {
		t.Errorf("a slot of a listed subject: %v", err)
	}
}
