package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/ingest"
	"github.com/relais-edu/relais/internal/testenv"
	"github.com/relais-edu/relais/mediastore"
	"github.com/relais-edu/relais/store/sqlite"
	"github.com/relais-edu/relais/templates"
)

func TestGradeScheduleListsTheWeekForTheRegion(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "relais.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	lessons := map[string]*relais.Lesson{}
	for _, title := range []string{"Fractions", "Verbes", "Grade 4", "Quiz"} {
		l := &relais.Lesson{Title: title, Subject: "maths", Grade: 5, Language: "fr", TeacherID: "t"}
		if title == "Grade 4" {
			l.Grade = 4
		}
		if err := db.CreateLesson(ctx, l); err != nil {
			t.Fatal(err)
		}
		if err := db.SetLessonDuration(ctx, l.ID, 12*time.Minute+30*time.Second); err != nil {
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
	add := func(stationID int64, day, start string, grade int, sequence ...string) {
		sl := []relais.Slot{{StationID: stationID, Day: day, Start: start, Duration: 30 * time.Minute, Grade: grade, Subject: "maths", Language: "fr"}}
		if err := db.AddSlots(ctx, stationID, nil, sl, func([]relais.Slot) error { return nil }); err != nil {
			t.Fatal(err)
		}
		if len(sequence) == 0 {
			return
		}
		slots, err := db.Slots(ctx, relais.SlotFilter{StationID: stationID, From: day, To: day})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range slots {
			if s.Start == start {
				for i, lesson := range sequence {
					if err := db.Assign(ctx, []relais.Assignment{{SlotID: s.ID, Position: i, LessonID: lessons[lesson].ID}}); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
	}
	add(almaty, "2027-03-01", "10:30", 5, "Fractions")
	add(national, "2027-03-02", "09:00", 5, "Verbes", "Quiz") // Quiz airs when Verbes ends, 12 min 30 s later
	add(almaty, "2027-03-03", "11:00", 5)                     // no lesson assigned: not listed
	add(almaty, "2027-03-03", "12:00", 4, "Grade 4")          // another grade
	add(paris, "2027-03-01", "10:00", 5, "Fractions")         // another region's station
	add(almaty, "2027-03-09", "10:30", 5, "Verbes")           // after the week

	loc, _ := time.LoadLocation("Asia/Almaty")
	from := time.Date(2027, 3, 1, 0, 0, 0, 0, loc)
	got, err := GradeSchedule(ctx, db, db, 5, "Almaty", from)
	if err != nil {
		t.Fatal(err)
	}
	want := []relais.Airing{
		{Station: "Balapan", Kind: relais.StationTV, Start: time.Date(2027, 3, 1, 10, 30, 0, 0, loc), Title: "Fractions"},
		{Station: "El Arna", Kind: relais.StationTV, Start: time.Date(2027, 3, 2, 9, 0, 0, 0, loc), Title: "Verbes"},
		{Station: "El Arna", Kind: relais.StationTV, Start: time.Date(2027, 3, 2, 9, 12, 30, 0, loc), Title: "Quiz"},
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); diff != "" {
		t.Errorf("week for grade 5 in Almaty (-want +got):\n%s", diff)
	}
}

func TestDigestsInEveryLanguage(t *testing.T) {
	tmpl, err := templates.Load()
	if err != nil {
		t.Fatal(err)
	}
	loc, _ := time.LoadLocation("Asia/Almaty")
	l := relais.Lesson{ID: 7, Title: "Les fractions", Language: "fr", SegmentBudget: 3,
		Markdown: "# Les fractions\n\n- Une fraction est une partie d'un tout.\n"}
	ds, err := Digests(tmpl, l, []relais.Airing{{Station: "Balapan", Start: time.Date(2027, 3, 1, 10, 30, 0, 0, loc)}}, 40)
	if err != nil {
		t.Fatal(err)
	}
	var langs []string
	for _, d := range ds {
		langs = append(langs, d.Language)
		if d.LessonID != 7 || d.Segments < 1 || d.Segments > 3 || !strings.Contains(d.Body, "Balapan") {
			t.Errorf("digest %s: lesson %d, %d segments, body %q", d.Language, d.LessonID, d.Segments, d.Body)
		}
	}
	if diff := cmp.Diff(relais.Languages, langs); diff != "" {
		t.Errorf("languages (-want +got):\n%s", diff)
	}
}

func TestWorksheetRendersOrChecks(t *testing.T) {
	s3cfg, bucket := testenv.S3(t)
	s3, err := mediastore.NewS3(s3cfg, bucket, "media")
	if err != nil {
		t.Fatal(err)
	}
	for _, media := range []relais.MediaStore{mediastore.NewDir(t.TempDir()), s3} {
		t.Run(fmt.Sprintf("%T", media), func(t *testing.T) {
			ctx := context.Background()
			l := relais.Lesson{ID: 3, Title: "Les fractions", Subject: "maths", Grade: 5, Language: "fr", Markdown: "# Les fractions\n\n1. Coloriez 1/4.\n"}
			ws, err := Worksheet(ctx, media, l)
			if err != nil {
				t.Fatal(err)
			}
			o, err := media.Open(ctx, ws.Path)
			if err != nil {
				t.Fatal(err)
			}
			pdf, err := io.ReadAll(o)
			o.Close()
			if err != nil || !ws.Generated || ws.LessonID != 3 || ws.Bytes != int64(len(pdf)) || !bytes.HasPrefix(pdf, []byte("%PDF-")) {
				t.Fatalf("rendered worksheet %+v: %d bytes, %v", ws, len(pdf), err)
			}
			// The teacher's own PDF is kept as it is; a file that is no PDF is refused.
			l.WorksheetPath = ws.Path
			if got, err := Worksheet(ctx, media, l); err != nil || got.Generated || got.Path != ws.Path {
				t.Errorf("teacher's PDF: %+v, %v", got, err)
			}
			if l.WorksheetPath, err = media.Put(ctx, "lessons/3/notes.pdf", strings.NewReader("plain text"), -1); err != nil {
				t.Fatal(err)
			}
			if _, err := Worksheet(ctx, media, l); err == nil {
				t.Error("a text file passed as the teacher's PDF")
			}
		})
	}
}

func TestMain(m *testing.M) {
	if ingest.IsChild() {
		os.Exit(ingest.ChildMain())
	}
	os.Exit(testenv.Main(m))
}
