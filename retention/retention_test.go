package retention_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/internal/testenv"
	"github.com/relais-edu/relais/mediastore"
	"github.com/relais-edu/relais/retention"
	"github.com/relais-edu/relais/scheduler"
	"github.com/relais-edu/relais/store/sqlite"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestPassRemovesAgedMedia: in a local directory and on a real S3 server, one pass removes every file
// of the lesson last aired before the cut-off (upload, renditions, worksheet, postal PDF and CSV) and
// of the playout days before it, keeps the files of a lesson aired since, and a second pass finds
// nothing more.
func TestPassRemovesAgedMedia(t *testing.T) {
	cfg, bucket := testenv.S3(t)
	s3, err := mediastore.NewS3(cfg, bucket, "relais")
	must(t, err)
	for _, media := range []relais.MediaStore{mediastore.NewDir(t.TempDir()), s3} {
		t.Run(media.String(), func(t *testing.T) { testPass(t, media) })
	}
}

func testPass(t *testing.T, media relais.MediaStore) {
	ctx := context.Background()
	// The pass runs 200 days from now: what the store records now was changed 200 days before it.
	now := time.Now().UTC().AddDate(0, 0, 200)
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "relais.db"))
	must(t, err)
	t.Cleanup(func() { db.Close() })
	st := relais.Station{Name: "Balapan", Kind: relais.StationTV, TimeZone: "UTC"}
	must(t, db.CreateStation(ctx, &st))
	put := func(key string) string {
		t.Helper()
		loc, err := media.Put(ctx, key, bytes.NewReader([]byte(key)), int64(len(key)))
		must(t, err)
		return loc
	}
	// lesson creates a published lesson with its files, changed 200 days ago and aired daysAgo.
	lesson := func(daysAgo int) (int64, []string) {
		t.Helper()
		l := relais.Lesson{Title: fmt.Sprint("aired ", daysAgo, " days ago"), Subject: "science", Grade: 6, Language: "fr", TeacherID: "t1", SegmentBudget: 3}
		must(t, db.CreateLesson(ctx, &l))
		must(t, db.SetLessonStatus(ctx, l.ID, relais.LessonPublished, nil))
		k := fmt.Sprintf("lessons/%d/", l.ID)
		locs := []string{put(k + "source.mp4"), put(k + "tv.ts"), put(k + "worksheet.pdf")}
		must(t, db.SetLessonMediaPath(ctx, l.ID, locs[0]))
		must(t, db.PutRendition(ctx, relais.Rendition{LessonID: l.ID, Kind: relais.RenditionTV, Path: locs[1]}))
		must(t, db.PutWorksheet(ctx, relais.Worksheet{LessonID: l.ID, Path: locs[2], Bytes: 1, Generated: true}))
		slots := []relais.Slot{{Day: now.AddDate(0, 0, -daysAgo).Format(time.DateOnly), Start: fmt.Sprintf("%02d:00", l.ID), Duration: 30 * time.Minute}}
		must(t, db.AddSlots(ctx, st.ID, nil, slots, func([]relais.Slot) error { return nil }))
		must(t, db.Assign(ctx, []relais.Assignment{{SlotID: slots[0].ID, LessonID: l.ID}}))
		return l.ID, locs
	}
	old, oldFiles := lesson(100)
	recent, recentFiles := lesson(30)
	cutoff := now.AddDate(0, 0, -90)
	playoutOld := put(fmt.Sprintf("playout/station-%d/%s.xml", st.ID, cutoff.AddDate(0, 0, -5).Format(time.DateOnly)))
	playoutNew := put(fmt.Sprintf("playout/station-%d/%s.json", st.ID, cutoff.AddDate(0, 0, 5).Format(time.DateOnly)))
	exists := func(loc string) bool {
		t.Helper()
		o, err := media.Open(ctx, loc)
		if errors.Is(err, fs.ErrNotExist) {
			return false
		}
		must(t, err)
		o.Close()
		return true
	}

	task := &retention.Task{Store: db, Media: media, Retention: relais.Retention{Media: 90 * 24 * time.Hour}, Now: func() time.Time { return now },
		Log: slog.New(slog.DiscardHandler), Playout: &scheduler.Exporter{Service: scheduler.New(db, db, nil), Media: media}}
	res, err := task.Pass(ctx)
	must(t, err)
	if want := (retention.Result{Pruned: relais.Pruned{Lessons: 1}, PlayoutFiles: 1}); res != want {
		t.Errorf("pass = %+v, want %+v (lesson %d, the guide of 95 days ago)", res, want, old)
	}
	gone := map[string]bool{}
	for _, loc := range append(append(oldFiles, recentFiles...), playoutOld, playoutNew) {
		gone[loc] = !exists(loc)
	}
	want := map[string]bool{playoutOld: true, playoutNew: false}
	for _, loc := range oldFiles {
		want[loc] = true
	}
	for _, loc := range recentFiles {
		want[loc] = false
	}
	if diff := cmp.Diff(want, gone); diff != "" {
		t.Errorf("files removed (-want +got):\n%s", diff)
	}
	if rs, err := db.Renditions(ctx, recent); err != nil || len(rs) != 1 {
		t.Errorf("renditions of lesson %d, aired 30 days ago = %+v, %v", recent, rs, err)
	}
	if res, err := task.Pass(ctx); err != nil || res != (retention.Result{}) {
		t.Errorf("second pass = %+v, %v; want nothing", res, err)
	}
}
