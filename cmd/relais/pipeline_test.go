package main

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/store/sqlite"
)

func TestGradeScheduleListsTheWeekForTheRegion(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "relais.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	lessons := map[string]*relais.Lesson{}
	for _, title := range []string{"Fractions", "Verbes", "Grade 4"} {
		l := &relais.Lesson{Title: title, Subject: "maths", Grade: 5, Language: "fr", TeacherID: "t"}
		if title == "Grade 4" {
			l.Grade = 4
		}
		if err := db.CreateLesson(ctx, l); err != nil {
			t.Fatal(err)
		}
		lessons[title] = l
	}
	station := func(name, region, tz string) int64 {
		st := relais.Station{Name: name, Kind: relais.StationTV, Region: region, TimeZone: tz}
		if err := db.CreateStation(ctx, &st); err != nil {
			t.Fatal(err)
		}
		return st.ID
	}
	almaty := station("Balapan", "Almaty", "Asia/Almaty")
	national := station("El Arna", "", "Asia/Almaty")
	paris := station("France 4", "IDF", "Europe/Paris")
	add := func(stationID int64, day, start string, grade int, lesson string) {
		sl := []relais.Slot{{StationID: stationID, Day: day, Start: start, Duration: 30 * time.Minute, Grade: grade, Subject: "maths", Language: "fr"}}
		if err := db.AddSlots(ctx, stationID, nil, sl, func([]relais.Slot) error { return nil }); err != nil {
			t.Fatal(err)
		}
		if lesson == "" {
			return
		}
		slots, err := db.Slots(ctx, relais.SlotFilter{StationID: stationID, From: day, To: day})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range slots {
			if s.Start == start {
				if err := db.Assign(ctx, []relais.Assignment{{SlotID: s.ID, LessonID: lessons[lesson].ID}}); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	add(almaty, "2027-03-01", "10:30", 5, "Fractions")
	add(national, "2027-03-02", "09:00", 5, "Verbes")
	add(almaty, "2027-03-03", "11:00", 5, "")         // no lesson assigned: not listed
	add(almaty, "2027-03-03", "12:00", 4, "Grade 4")  // another grade
	add(paris, "2027-03-01", "10:00", 5, "Fractions") // another region's station
	add(almaty, "2027-03-09", "10:30", 5, "Verbes")   // after the week

	loc, _ := time.LoadLocation("Asia/Almaty")
	from := time.Date(2027, 3, 1, 0, 0, 0, 0, loc)
	got, err := gradeSchedule(ctx, db, db, 5, "Almaty", from)
	if err != nil {
		t.Fatal(err)
	}
	want := []relais.Airing{
		{Station: "Balapan", Kind: relais.StationTV, Start: time.Date(2027, 3, 1, 10, 30, 0, 0, loc), Title: "Fractions"},
		{Station: "El Arna", Kind: relais.StationTV, Start: time.Date(2027, 3, 2, 9, 0, 0, 0, loc), Title: "Verbes"},
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); diff != "" {
		t.Errorf("week for grade 5 in Almaty (-want +got):\n%s", diff)
	}
}
