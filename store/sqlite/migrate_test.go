package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/store/sqlite"
)

// TestMigratePupils: households imported before pupils get one pupil per grade they had, taught in the
// household's language, and a lesson's audience finds them.
func TestMigratePupils(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "relais.db")
	if err := sqlite.MigrateTo(ctx, path, 8); err != nil {
		t.Fatal(err)
	}
	old, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO households (id, external_ref, region, language, grades, profile, created_at) VALUES
			(1, 'A', 'IDF', 'fr', '3,5', 'sms_only', 0), (2, 'B', 'ALA', 'kk', '5', 'sms_only', 0), (3, 'C', '', 'ru', '', 'offline', 0)`,
		`INSERT INTO household_grades (grade, household_id) VALUES (3, 1), (5, 1), (5, 2)`,
	} {
		if _, err := old.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	old.Close()
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	checkMigratedPupils(t, db)
}

func checkMigratedPupils(t *testing.T, db relais.Store) {
	t.Helper()
	ctx := context.Background()
	want := map[int64][]relais.Pupil{
		1: {{Grade: 3, Language: "fr"}, {Grade: 5, Language: "fr"}},
		2: {{Grade: 5, Language: "kk"}},
		3: nil,
	}
	for id, pupils := range want {
		h, err := db.Household(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(pupils, h.Pupils); diff != "" {
			t.Errorf("pupils of household %d (-want +got):\n%s", id, diff)
		}
	}
	for _, tc := range []struct {
		l    relais.Lesson
		want []int64
	}{
		{relais.Lesson{Grade: 5, Language: "fr"}, []int64{1}},
		{relais.Lesson{Grade: 5, Language: "kk"}, []int64{2}},
		{relais.Lesson{Grade: 3, Language: "kk"}, nil},
		{relais.Lesson{Grade: 5, Language: "ru"}, nil},
	} {
		f := tc.l.AudienceFilter()
		hs, err := db.Households(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		var got []int64
		for _, h := range hs {
			got = append(got, h.ID)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("grade %d lesson in %s (-want +got):\n%s", tc.l.Grade, tc.l.Language, diff)
		}
	}
}

// TestMigrateSlotSequences: a slot that aired one lesson before sequences keeps it, first and only in
// its sequence, with its re-run mark; an empty slot stays empty.
func TestMigrateSlotSequences(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "relais.db")
	if err := sqlite.MigrateTo(ctx, path, 14); err != nil {
		t.Fatal(err)
	}
	old, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO lessons (id, title, subject, grade, language, teacher_id, status, created_at, updated_at) VALUES
			(7, 'L7', 'maths', 5, 'kk', 't', 'ready', 0, 0), (8, 'L8', 'maths', 5, 'kk', 't', 'ready', 0, 0)`,
		`INSERT INTO stations (id, name, kind, time_zone) VALUES (1, 'Balapan', 'tv', 'Asia/Almaty')`,
		`INSERT INTO slots (id, station_id, day, start_local, duration_s, lesson_id, rerun) VALUES
			(1, 1, '2026-03-02', '09:00', 1800, 7, 0), (2, 1, '2026-03-02', '09:30', 1800, 8, 1), (3, 1, '2026-03-02', '10:00', 1800, NULL, 0)`,
	} {
		if _, err := old.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	old.Close()
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	checkMigratedSlots(t, db)
}

func checkMigratedSlots(t *testing.T, db relais.Store) {
	t.Helper()
	slots, err := db.Slots(context.Background(), relais.SlotFilter{StationID: 1})
	if err != nil {
		t.Fatal(err)
	}
	got := map[int64][]relais.SlotLesson{}
	for _, s := range slots {
		got[s.ID] = s.Lessons
	}
	want := map[int64][]relais.SlotLesson{1: {{LessonID: 7}}, 2: {{LessonID: 8, Rerun: true}}, 3: nil}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("sequences after the migration (-want +got):\n%s", diff)
	}
}
