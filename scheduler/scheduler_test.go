package scheduler_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/scheduler"
	"github.com/relais-edu/relais/store/sqlite"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

var fixedNow = time.Date(2026, 3, 20, 12, 0, 0, 0, time.UTC)

type env struct {
	db  *sqlite.DB
	svc *scheduler.Service
}

func newEnv(t *testing.T) env {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "relais.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return env{db: db, svc: scheduler.New(db, db, func() time.Time { return fixedNow })}
}

func (e env) station(t *testing.T, name, zone string, kind relais.StationKind) relais.Station {
	t.Helper()
	filler := "/media/filler.ts"
	if kind == relais.StationRadio {
		filler = "/media/filler.mp2"
	}
	st := relais.Station{Name: name, Kind: kind, Region: "north", TimeZone: zone, ServiceName: name + " Sabaq", Filler: filler}
	if err := e.svc.CreateStation(context.Background(), &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// lesson stores a ready lesson with TV and radio renditions, submitted and, when approve, approved.
func (e env) lesson(t *testing.T, title, subject string, grade int, lang string, d time.Duration, approve bool) relais.Lesson {
	t.Helper()
	ctx := context.Background()
	l := relais.Lesson{Title: title, Subject: subject, Grade: grade, Language: lang, TeacherID: "t1",
		Markdown: "# " + title + "\n\nOn apprend " + title + " **pas à pas**.\n\nSuite."}
	if err := e.db.CreateLesson(ctx, &l); err != nil {
		t.Fatal(err)
	}
	must(t, e.db.SetLessonDuration(ctx, l.ID, d))
	must(t, e.db.SetLessonStatus(ctx, l.ID, relais.LessonReady, nil))
	for _, k := range []relais.RenditionKind{relais.RenditionTV, relais.RenditionRadio} {
		must(t, e.db.PutRendition(ctx, relais.Rendition{LessonID: l.ID, Kind: k, DurationMS: d.Milliseconds(),
			Path: filepath.Join("/media/lessons", itoa(l.ID), string(k)+".ts")}))
	}
	teacher := relais.User{ID: "t1", Role: relais.RoleTeacher}
	staff := relais.User{ID: "m1", Role: relais.RoleMedia}
	if _, err := e.svc.Submit(ctx, teacher, l.ID); err != nil {
		t.Fatal(err)
	}
	if approve {
		if _, err := e.svc.Decide(ctx, staff, l.ID, true, ""); err != nil {
			t.Fatal(err)
		}
	}
	l, err := e.db.Lesson(ctx, l.ID)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

type slotView struct{ Day, Start, Instant string }

func views(t *testing.T, loc *time.Location, ss []relais.Slot) []slotView {
	t.Helper()
	var out []slotView
	for _, s := range ss {
		a, _, err := s.Interval(loc)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, slotView{s.Day, s.Start, a.UTC().Format("2006-01-02 15:04Z")})
	}
	return out
}

// A daylight-saving change never shifts a slot: 09:00 stays 09:00 on the wall clock, and the instant
// moves by an hour; in a zone without DST, nothing moves.
func TestExpandAcrossDST(t *testing.T) {
	paris, _ := time.LoadLocation("Europe/Paris")
	almaty, _ := time.LoadLocation("Asia/Almaty")
	tmpl := relais.Template{Weekdays: []int{0, 1, 5, 6}, Start: "09:00", End: "09:30", SlotMin: 30,
		From: "2026-03-27", To: "2026-03-30"}
	tests := []struct {
		loc  *time.Location
		want []slotView
	}{
		{paris, []slotView{
			{"2026-03-27", "09:00", "2026-03-27 08:00Z"},
			{"2026-03-28", "09:00", "2026-03-28 08:00Z"},
			{"2026-03-29", "09:00", "2026-03-29 07:00Z"}, // summer time from 02:00 that night
			{"2026-03-30", "09:00", "2026-03-30 07:00Z"},
		}},
		{almaty, []slotView{
			{"2026-03-27", "09:00", "2026-03-27 04:00Z"},
			{"2026-03-28", "09:00", "2026-03-28 04:00Z"},
			{"2026-03-29", "09:00", "2026-03-29 04:00Z"},
			{"2026-03-30", "09:00", "2026-03-30 04:00Z"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.loc.String(), func(t *testing.T) {
			slots, skipped, err := scheduler.Expand(tmpl, tt.loc, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(skipped) != 0 {
				t.Errorf("skipped = %v", skipped)
			}
			if diff := cmp.Diff(tt.want, views(t, tt.loc, slots)); diff != "" {
				t.Errorf("slots (-want +got):\n%s", diff)
			}
		})
	}
}

// A night grid on the spring-forward day leaves out the start that does not exist; on the fall-back
// day the slots keep their wall-clock starts and do not overlap.
func TestExpandNightGridOnDSTDays(t *testing.T) {
	paris, _ := time.LoadLocation("Europe/Paris")
	tmpl := relais.Template{Weekdays: []int{0}, Start: "01:00", End: "04:00", SlotMin: 60, From: "2026-03-29", To: "2026-03-29"}
	slots, skipped, err := scheduler.Expand(tmpl, paris, nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"2026-03-29 02:00"}, skipped); diff != "" {
		t.Errorf("skipped (-want +got):\n%s", diff)
	}
	want := []slotView{{"2026-03-29", "01:00", "2026-03-29 00:00Z"}, {"2026-03-29", "03:00", "2026-03-29 01:00Z"}}
	if diff := cmp.Diff(want, views(t, paris, slots)); diff != "" {
		t.Errorf("spring forward (-want +got):\n%s", diff)
	}

	tmpl.From, tmpl.To = "2026-10-25", "2026-10-25"
	slots, skipped, err = scheduler.Expand(tmpl, paris, nil)
	if err != nil || len(skipped) != 0 || len(slots) != 3 {
		t.Fatalf("fall back: %d slots, skipped %v, err %v", len(slots), skipped, err)
	}
	if err := scheduler.NoOverlap(paris, slots)(nil); err != nil {
		t.Errorf("fall-back slots overlap: %v", err)
	}
}

func TestOverlapIsRefused(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	st := e.station(t, "Balapan", "Asia/Almaty", relais.StationTV)
	res, err := e.svc.AddTemplate(ctx, relais.Template{StationID: st.ID, Weekdays: []int{1, 2, 3, 4, 5},
		Start: "09:00", End: "18:00", SlotMin: 30, Grade: 5, Language: "kk", From: "2026-03-02", To: "2026-03-06"})
	must(t, err)
	if res.Slots != 5*18 {
		t.Fatalf("template made %d slots, want 90", res.Slots)
	}
	tests := []struct {
		name string
		slot relais.Slot
		code string
	}{
		{"inside a template slot", relais.Slot{Day: "2026-03-03", Start: "09:15", Duration: 15 * time.Minute}, relais.ECONFLICT},
		{"runs into the grid", relais.Slot{Day: "2026-03-03", Start: "08:45", Duration: 30 * time.Minute}, relais.ECONFLICT},
		{"same start", relais.Slot{Day: "2026-03-03", Start: "17:30", Duration: 10 * time.Minute}, relais.ECONFLICT},
		{"ends as the grid starts", relais.Slot{Day: "2026-03-03", Start: "08:30", Duration: 30 * time.Minute}, ""},
		{"after the grid", relais.Slot{Day: "2026-03-03", Start: "23:30", Duration: time.Hour}, ""},
		{"past midnight into the late slot", relais.Slot{Day: "2026-03-04", Start: "00:15", Duration: 15 * time.Minute}, relais.ECONFLICT},
		{"weekend", relais.Slot{Day: "2026-03-07", Start: "09:00", Duration: 30 * time.Minute}, ""},
		{"bad zone time", relais.Slot{Day: "2026-02-30", Start: "09:00", Duration: 30 * time.Minute}, relais.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.slot.StationID = st.ID
			_, err := e.svc.AddSlot(ctx, tt.slot)
			if got := relais.ErrorCode(err); got != tt.code {
				t.Errorf("code = %q (%v), want %q", got, err, tt.code)
			}
		})
	}
	// A second template over the first one is refused whole: no slot and no template written.
	_, err = e.svc.AddTemplate(ctx, relais.Template{StationID: st.ID, Weekdays: []int{3}, Start: "17:00", End: "20:00",
		SlotMin: 60, From: "2026-03-02", To: "2026-03-06"})
	if relais.ErrorCode(err) != relais.ECONFLICT {
		t.Fatalf("overlapping template: err = %v", err)
	}
	all, err := e.db.Slots(ctx, relais.SlotFilter{StationID: st.ID})
	must(t, err)
	tmpls, err := e.db.Templates(ctx, st.ID)
	must(t, err)
	if len(all) != 90+3 || len(tmpls) != 1 {
		t.Errorf("after refusals: %d slots, %d templates; want 93, 1", len(all), len(tmpls))
	}
	if diff := cmp.Diff([]int{1, 2, 3, 4, 5}, tmpls[0].Weekdays); diff != "" {
		t.Errorf("weekdays (-want +got):\n%s", diff)
	}
}

func TestExceptionCancelsADay(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	st := e.station(t, "El Arna", "Europe/Paris", relais.StationRadio)
	must(t, errOf(e.svc.AddException(ctx, relais.Exception{StationID: st.ID, Day: "2026-05-01", Reason: "Fête du travail"})))
	res, err := e.svc.AddTemplate(ctx, relais.Template{StationID: st.ID, Weekdays: []int{1, 2, 3, 4, 5},
		Start: "09:00", End: "10:00", SlotMin: 30, From: "2026-04-27", To: "2026-05-01"})
	must(t, err)
	if res.Slots != 8 {
		t.Errorf("slots = %d, want 8 (Friday 1 May is a holiday)", res.Slots)
	}
	removed, err := e.svc.AddException(ctx, relais.Exception{StationID: st.ID, Day: "2026-04-29", Reason: "strike"})
	must(t, err)
	if len(removed) != 2 || removed[0].Start != "09:00" {
		t.Errorf("removed = %+v", removed)
	}
	left, err := e.db.Slots(ctx, relais.SlotFilter{StationID: st.ID, From: "2026-04-29", To: "2026-04-29"})
	must(t, err)
	if len(left) != 0 {
		t.Errorf("slots left on the cancelled day: %d", len(left))
	}
}

func errOf(_ any, err error) error { return err }

func TestApprovalWorkflow(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	l := e.lesson(t, "Les fractions", "maths", 5, "fr", 25*time.Minute, false)
	staff := relais.User{ID: "m1", Role: relais.RoleMedia}
	other := relais.User{ID: "t2", Role: relais.RoleTeacher}
	if _, err := e.svc.Submit(ctx, other, l.ID); relais.ErrorCode(err) != relais.ENOTFOUND {
		t.Errorf("another teacher submits: err = %v", err)
	}
	if _, err := e.svc.Decide(ctx, other, l.ID, true, ""); relais.ErrorCode(err) != relais.EFORBIDDEN {
		t.Errorf("teacher approves: err = %v", err)
	}
	if _, err := e.svc.Decide(ctx, staff, l.ID, false, ""); relais.ErrorCode(err) != relais.EINVALID {
		t.Errorf("reject without reason: err = %v", err)
	}
	a, err := e.svc.Decide(ctx, staff, l.ID, false, "Le son sature à 12:30.")
	must(t, err)
	got, err := e.db.Approval(ctx, l.ID)
	must(t, err)
	want := relais.Approval{LessonID: l.ID, State: relais.Rejected, Reason: "Le son sature à 12:30.", DecidedBy: "m1", UpdatedAt: fixedNow}
	if diff := cmp.Diff(want, got); diff != "" || a.State != relais.Rejected {
		t.Errorf("rejection (-want +got):\n%s", diff)
	}
	if _, err := e.svc.Decide(ctx, staff, l.ID, true, ""); relais.ErrorCode(err) != relais.ECONFLICT {
		t.Errorf("approve a rejected lesson without resubmission: err = %v", err)
	}
	_, err = e.svc.Submit(ctx, relais.User{ID: "t1", Role: relais.RoleTeacher}, l.ID)
	must(t, err)
	_, err = e.svc.Decide(ctx, staff, l.ID, true, "")
	must(t, err)
	approved, err := e.db.ApprovedLessons(ctx)
	must(t, err)
	if len(approved) != 1 || approved[0].ID != l.ID || approved[0].Status != relais.LessonReady {
		t.Errorf("approved lessons = %+v", approved)
	}
}

func TestAssignByHand(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	st := e.station(t, "Balapan", "Asia/Almaty", relais.StationTV)
	_, err := e.svc.AddTemplate(ctx, relais.Template{StationID: st.ID, Weekdays: []int{1}, Start: "09:00", End: "10:00",
		SlotMin: 30, Grade: 5, Subject: "maths", Language: "kk", From: "2026-03-02", To: "2026-03-02"})
	must(t, err)
	slots, err := e.db.Slots(ctx, relais.SlotFilter{StationID: st.ID})
	must(t, err)
	ok := e.lesson(t, "Бөлшектер", "maths", 5, "kk", 28*time.Minute, true)
	long := e.lesson(t, "Ұзақ", "maths", 5, "kk", 31*time.Minute, true)
	grade6 := e.lesson(t, "Алгебра", "maths", 6, "kk", 20*time.Minute, true)
	pending := e.lesson(t, "Жаңа", "maths", 5, "kk", 20*time.Minute, false)
	short := e.lesson(t, "Қысқа", "maths", 5, "kk", 5*time.Minute, true)
	brief := e.lesson(t, "Шолу", "maths", 5, "kk", 2*time.Minute, true)
	tests := []struct {
		name   string
		slot   int
		lesson int64
		rerun  bool
		code   string
	}{
		{"not approved", 0, pending.ID, false, relais.ECONFLICT},
		{"wrong grade", 0, grade6.ID, false, relais.EINVALID},
		{"too long", 0, long.ID, false, relais.EINVALID},
		{"fits", 0, ok.ID, false, ""},
		{"already in the slot", 0, ok.ID, true, relais.ECONFLICT},
		{"no room after the sequence", 0, short.ID, false, relais.EINVALID},
		{"same lesson again", 1, ok.ID, false, relais.ECONFLICT},
		{"as a re-run", 1, ok.ID, true, ""},
		{"after it in the time left", 1, brief.ID, false, ""},
		{"a third one that does not fit", 1, short.ID, false, relais.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := e.svc.Assign(ctx, slots[tt.slot].ID, tt.lesson, tt.rerun)
			if got := relais.ErrorCode(err); got != tt.code {
				t.Errorf("code = %q (%v), want %q", got, err, tt.code)
			}
		})
	}
	got, err := e.db.Slots(ctx, relais.SlotFilter{StationID: st.ID})
	must(t, err)
	want := [][]relais.SlotLesson{{{LessonID: ok.ID}}, {{LessonID: ok.ID, Rerun: true}, {LessonID: brief.ID}}}
	if diff := cmp.Diff(want, [][]relais.SlotLesson{got[0].Lessons, got[1].Lessons}); diff != "" {
		t.Errorf("sequences (-want +got):\n%s", diff)
	}
}

func TestAutoFill(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	st := e.station(t, "Balapan", "Asia/Almaty", relais.StationTV)
	// Monday and Tuesday, grade 5 in French, any subject: four 30-minute slots a day.
	_, err := e.svc.AddTemplate(ctx, relais.Template{StationID: st.ID, Weekdays: []int{1, 2}, Start: "09:00", End: "11:00",
		SlotMin: 30, Grade: 5, Language: "fr", From: "2026-03-02", To: "2026-03-03"})
	must(t, err)
	var ids []int64
	for _, l := range []struct {
		title, subject string
		grade          int
		d              time.Duration
	}{
		{"M1", "maths", 5, 25 * time.Minute}, {"M2", "maths", 5, 25 * time.Minute}, {"M3", "maths", 5, 25 * time.Minute},
		{"F1", "french", 5, 30 * time.Minute}, {"F2", "french", 5, 20 * time.Minute},
		{"S1", "science", 5, 29 * time.Minute},
		{"Long", "history", 5, 45 * time.Minute},
		{"Grade 7", "maths", 7, 20 * time.Minute},
	} {
		ids = append(ids, e.lesson(t, l.title, l.subject, l.grade, "fr", l.d, true).ID)
	}
	rep, err := e.svc.AutoFill(ctx, nil, "2026-03-02", "2026-03-08", true)
	must(t, err)
	if rep.Placed != 6 || rep.Reruns != 2 || rep.EmptySlots != 0 {
		t.Errorf("placed %d, reruns %d, empty %d; want 6, 2, 0", rep.Placed, rep.Reruns, rep.EmptySlots)
	}
	wantUnplaced := []scheduler.Unplaced{
		{LessonID: ids[6], Title: "Long", Reason: "lasts 45m0s, longer than every matching slot (at most 30m0s)"},
		{LessonID: ids[7], Title: "Grade 7", Reason: "no empty slot for grade 7, maths, in fr"},
	}
	if diff := cmp.Diff(wantUnplaced, rep.Unplaced); diff != "" {
		t.Errorf("unplaced (-want +got):\n%s", diff)
	}
	slots, err := e.db.Slots(ctx, relais.SlotFilter{StationID: st.ID})
	must(t, err)
	titles := map[int64]string{}
	for i, id := range ids {
		titles[id] = []string{"M1", "M2", "M3", "F1", "F2", "S1", "Long", "Grade 7"}[i]
	}
	var got []string
	for _, s := range slots {
		for _, l := range s.Lessons {
			mark := ""
			if l.Rerun {
				mark = " (rerun)"
			}
			got = append(got, s.Day+" "+s.Start+" "+titles[l.LessonID]+mark)
		}
	}
	// Subjects take turns (the least aired this week first, then the lowest lesson id); re-runs follow.
	want := []string{
		"2026-03-02 09:00 M1", "2026-03-02 09:30 F1", "2026-03-02 10:00 S1", "2026-03-02 10:30 M2",
		"2026-03-03 09:00 F2", "2026-03-03 09:30 M3", "2026-03-03 10:00 S1 (rerun)", "2026-03-03 10:30 F1 (rerun)",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("grid (-want +got):\n%s", diff)
	}
	// A second run has nothing left to place and books nothing twice.
	rep, err = e.svc.AutoFill(ctx, nil, "2026-03-02", "2026-03-08", true)
	must(t, err)
	if rep.Placed != 0 || rep.Reruns != 0 {
		t.Errorf("second run placed %d, reruns %d", rep.Placed, rep.Reruns)
	}
}

// The exports of a Paris station across the spring-forward weekend: XMLTV (valid against the DTD, with
// the offset changing on the Sunday), ffplayout JSON and M3U, compared with golden files.
func TestExports(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	st := e.station(t, "France 4", "Europe/Paris", relais.StationTV)
	dayStart := "06:00" // ffplayout's day_start at the station
	st, _, err := e.svc.UpdateStation(ctx, st.ID, scheduler.StationPatch{DayStart: &dayStart})
	must(t, err)
	_, err = e.svc.AddTemplate(ctx, relais.Template{StationID: st.ID, Weekdays: []int{0, 6}, Start: "09:00", End: "10:00",
		SlotMin: 30, Grade: 5, Language: "fr", From: "2026-03-28", To: "2026-03-29"})
	must(t, err)
	_, err = e.svc.AddSlot(ctx, relais.Slot{StationID: st.ID, Day: "2026-03-29", Start: "10:45", Duration: 15 * time.Minute,
		Grade: 5, Language: "fr"})
	must(t, err)
	e.lesson(t, "Les fractions", "maths", 5, "fr", 25*time.Minute+500*time.Millisecond, true)
	e.lesson(t, "Le verbe être & avoir <CM2>", "french", 5, "fr", 30*time.Minute, true)
	e.lesson(t, "Les volcans", "science", 5, "fr", 14*time.Minute, true)
	rep, err := e.svc.AutoFill(ctx, []int64{st.ID}, "2026-03-28", "2026-03-29", true)
	must(t, err)
	if rep.Placed != 3 || rep.Reruns != 2 || rep.EmptySlots != 0 {
		t.Fatalf("auto-fill: %+v", rep)
	}

	var x bytes.Buffer
	must(t, e.svc.XMLTV(ctx, &x, st.ID, "2026-03-28", "2026-03-29"))
	golden(t, "france4.xml", x.Bytes())
	validateXMLTV(t, x.Bytes())

	pl, err := e.svc.Playlist(ctx, st.ID, "2026-03-29", "")
	must(t, err)
	var j, m bytes.Buffer
	must(t, scheduler.WriteFFplayout(&j, pl))
	golden(t, "france4-2026-03-29.json", j.Bytes())
	must(t, scheduler.WriteM3U(&m, pl))
	golden(t, "france4-2026-03-29.m3u", m.Bytes())

	// Played back to back from the day start (06:00), each lesson begins at its slot's time, and the
	// list ends with the last slot (09:00, 09:30, 10:45; ending 11:00).
	var at float64
	starts := map[string]float64{}
	for _, it := range pl.Program {
		if it.Category != "filler" {
			if _, ok := starts[it.Title]; !ok {
				starts[it.Title] = at
			}
		} else if it.Source != "/media/filler.ts" {
			t.Errorf("filler item plays %q, want the station's filler", it.Source)
		}
		at += it.Out - it.In
	}
	want := map[string]float64{"Les volcans": 3 * 3600, "Les fractions": 3.5 * 3600}
	for title, sec := range want {
		if starts[title] != sec {
			t.Errorf("%s starts %v s after the day start, want %v (its slot's time)", title, starts[title], sec)
		}
	}
	if at != 5*3600 {
		t.Errorf("playlist lasts %v s, want %v (06:00 to 11:00)", at, 5*3600)
	}

	// Without a filler the day's gaps would be dead air: refused, saying what to set. A relative
	// filler (playout's working directory decides what it means) is refused too.
	none := ""
	_, _, err = e.svc.UpdateStation(ctx, st.ID, scheduler.StationPatch{Filler: &none})
	must(t, err)
	if _, err := e.svc.Playlist(ctx, st.ID, "2026-03-29", ""); relais.ErrorCode(err) != relais.ECONFLICT || !strings.Contains(relais.ErrorMessage(err), "has no filler") {
		t.Errorf("playlist without a filler: %v", err)
	}
	if _, _, err := e.svc.PlaylistFile(ctx, st.ID, "2026-03-29", "", "filler.ts"); relais.ErrorCode(err) != relais.EINVALID {
		t.Errorf("relative filler: %v", err)
	}
	relFiller, badStart := "filler.ts", "6h"
	for _, p := range []scheduler.StationPatch{{Filler: &relFiller}, {DayStart: &badStart}} {
		if _, _, err := e.svc.UpdateStation(ctx, st.ID, p); relais.ErrorCode(err) != relais.EINVALID {
			t.Errorf("station patch %+v: %v", p, err)
		}
	}
}

func validateXMLTV(t *testing.T, doc []byte) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "guide.xml")
	must(t, os.WriteFile(path, doc, 0o644))
	out, err := exec.Command("xmllint", "--noout", "--nonet", "--dtdvalid", "testdata/xmltv.dtd", path).CombinedOutput()
	if err != nil {
		t.Fatalf("xmllint --dtdvalid: %v\n%s", err, out)
	}
	// Prove the check can fail: a programme without its required title is refused.
	bad := bytes.Replace(doc, []byte("<title"), []byte("<nottitle"), 1)
	bad = bytes.Replace(bad, []byte("</title>"), []byte("</nottitle>"), 1)
	must(t, os.WriteFile(path, bad, 0o644))
	if out, err := exec.Command("xmllint", "--noout", "--nonet", "--dtdvalid", "testdata/xmltv.dtd", path).CombinedOutput(); err == nil {
		t.Fatalf("xmllint accepted an invalid guide:\n%s", out)
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		must(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s (-want +got):\n%s", name, diff)
	}
}

// The review queue lists submitted lessons only, the longest waiting first, up to the limit.
func TestSubmittedQueue(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	var ids []int64
	for i, state := range []relais.ApprovalState{relais.Submitted, relais.Approved, relais.Submitted, relais.Rejected, relais.Submitted} {
		l := e.lesson(t, fmt.Sprintf("Leçon %d", i), "maths", 5, "fr", 20*time.Minute, false)
		ids = append(ids, l.ID)
		// Submitted from the last lesson to the first: the queue is in submission order, not id order.
		must(t, e.db.SetApproval(ctx, relais.Approval{LessonID: l.ID, State: state, UpdatedAt: fixedNow.Add(-time.Duration(i) * time.Hour)}))
	}
	got, err := e.db.Submitted(ctx, 10)
	must(t, err)
	var order []int64
	for _, s := range got {
		order = append(order, s.Lesson.ID)
		if s.Approval.LessonID != s.Lesson.ID || s.Approval.State != relais.Submitted || s.Lesson.Title == "" {
			t.Errorf("submission %+v", s)
		}
	}
	if diff := cmp.Diff([]int64{ids[4], ids[2], ids[0]}, order); diff != "" {
		t.Errorf("review queue (-want +got):\n%s", diff)
	}
	if got, err := e.db.Submitted(ctx, 2); err != nil || len(got) != 2 || got[0].Lesson.ID != ids[4] {
		t.Errorf("Submitted(2) = %d submissions, %v", len(got), err)
	}
}

// reminders records the lessons whose reminders a change queued again.
type reminders struct{ lessons []int64 }

var _ scheduler.Reminders = (*reminders)(nil)

func (r *reminders) RescheduleReminders(_ context.Context, lessonID int64) error {
	r.lessons = append(r.lessons, lessonID)
	return nil
}

func TestChangesToAiringsRemindFamiliesAgain(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	rem := &reminders{}
	e.svc.RemindWith(rem)
	st := e.station(t, "Balapan", "Asia/Almaty", relais.StationTV)
	_, err := e.svc.AddTemplate(ctx, relais.Template{StationID: st.ID, Weekdays: []int{1}, Start: "09:00", End: "10:00",
		SlotMin: 30, Grade: 5, Subject: "maths", Language: "kk", From: "2026-03-23", To: "2026-03-23"})
	must(t, err)
	slots, err := e.db.Slots(ctx, relais.SlotFilter{StationID: st.ID})
	must(t, err)
	l := e.lesson(t, "Бөлшектер", "maths", 5, "kk", 28*time.Minute, true)
	other := e.lesson(t, "Алгебра", "maths", 5, "kk", 20*time.Minute, true)

	if err := e.svc.Assign(ctx, slots[0].ID, other.ID+100, false); err == nil {
		t.Fatal("assigned a lesson that does not exist")
	}
	must(t, e.svc.Assign(ctx, slots[0].ID, l.ID, false))
	if diff := cmp.Diff([]int64{l.ID}, rem.lessons); diff != "" {
		t.Errorf("after assigning (-want +got):\n%s", diff) // a refused assignment reminds nobody
	}

	rem.lessons = nil
	zone := "Asia/Almaty"
	_, _, err = e.svc.UpdateStation(ctx, st.ID, scheduler.StationPatch{TimeZone: &zone})
	must(t, err)
	if len(rem.lessons) != 0 {
		t.Errorf("an unchanged name and region reminded %v", rem.lessons)
	}
	name := "Balapan TV"
	_, remind, err := e.svc.UpdateStation(ctx, st.ID, scheduler.StationPatch{ServiceName: &name})
	must(t, err)
	if diff := cmp.Diff([]int64{l.ID}, rem.lessons); diff != "" || !slices.Equal(remind, rem.lessons) {
		t.Errorf("after renaming (-want +got):\n%s (returned %v)", diff, remind)
	}
}

func TestFillDaysChecksItsDays(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct{ from, to, msg string }{
		{"2026-03-02", "March 3", "Give from and to as days (YYYY-MM-DD)."},
		{"2026-03-03", "2026-03-02", "to must be on or after from, at most 92 days later."},
		{"2026-01-01", "2026-06-01", "to must be on or after from, at most 92 days later."},
	} {
		_, err := e.svc.FillDays(context.Background(), nil, tc.from, tc.to, false)
		if relais.ErrorCode(err) != relais.EINVALID || relais.ErrorMessage(err) != tc.msg {
			t.Errorf("%s..%s: err = %v, want %q", tc.from, tc.to, err, tc.msg)
		}
	}
}
