package main

import (
	"context"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/store/sqlite"
)

// The scheduler's commands end to end on one SQLite file: a station and its grid from the CLI, an
// approved lesson, auto-fill, then the XMLTV guide (valid against the DTD) and the playlists on stdout.
func TestScheduleCommands(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	env := map[string]string{"RELAIS_DATA_DIR": dir}
	cli := func(args ...string) string {
		t.Helper()
		out, errOut, err := runCLI(env, args...)
		if err != nil {
			t.Fatalf("relais %s: %v\n%s", strings.Join(args, " "), err, errOut)
		}
		return out
	}
	golden(t, "station-create.golden", cli("station", "create", "--name", "El Arna", "--kind", "radio", "--tz", "Europe/Paris", "--playout", "m3u",
		"--filler", "/m/station-filler.mp2"))
	if got := cli("station", "create", "--json", "--name", "Balapan", "--kind", "tv", "--tz", "Asia/Almaty", "--region", "Almaty"); !strings.Contains(got, `"id": 2,`) || !strings.Contains(got, `"time_zone": "Asia/Almaty"`) {
		t.Errorf("station create --json printed %s", got)
	}
	golden(t, "station-list.golden", cli("station", "list"))
	if got := cli("grid", "template", "--station", "1", "--days", "0,6", "--start", "09:00", "--end", "10:00", "--slot", "30",
		"--grade", "5", "--language", "fr", "--from", "2026-03-28", "--to", "2026-03-29"); got != "template 1: 4 slots\n" {
		t.Errorf("grid template printed %q", got)
	}
	_, _, err := runCLI(env, "grid", "slot", "--station", "1", "--date", "2026-03-29", "--start", "09:20", "--minutes", "20")
	if err == nil || !strings.Contains(err.Error(), "would overlap the slot 2026-03-29 09:00") {
		t.Errorf("overlapping slot: %v", err)
	}

	db, err := sqlite.Open(ctx, filepath.Join(dir, "relais.db"))
	if err != nil {
		t.Fatal(err)
	}
	l := relais.Lesson{Title: "Les fractions", Subject: "maths", Grade: 5, Language: "fr", TeacherID: "t1", Markdown: "Les parts d'un gâteau."}
	noErr(t, db.CreateLesson(ctx, &l))
	noErr(t, db.SetLessonDuration(ctx, l.ID, 20*time.Minute))
	noErr(t, db.SetLessonStatus(ctx, l.ID, relais.LessonReady, nil))
	noErr(t, db.PutRendition(ctx, relais.Rendition{LessonID: l.ID, Kind: relais.RenditionRadio, Path: "/m/1/radio.mp2", DurationMS: 1_200_000}))
	noErr(t, db.SetApproval(ctx, relais.Approval{LessonID: l.ID, State: relais.Approved, UpdatedAt: time.Now()}))
	// A grade 7 lesson no slot takes, and families for the plan to count.
	l7 := relais.Lesson{Title: "La photosynthèse", Subject: "sciences", Grade: 7, Language: "fr", TeacherID: "t1", Markdown: "La lumière."}
	noErr(t, db.CreateLesson(ctx, &l7))
	noErr(t, db.SetLessonDuration(ctx, l7.ID, 20*time.Minute))
	noErr(t, db.SetLessonStatus(ctx, l7.ID, relais.LessonReady, nil))
	noErr(t, db.SetApproval(ctx, relais.Approval{LessonID: l7.ID, State: relais.Approved, UpdatedAt: time.Now()}))
	noErr(t, db.UpsertHouseholds(ctx, []relais.Household{
		{ExternalRef: "A", Language: "fr", Grades: []int{5}, Profile: relais.ProfileSMSOnly, Phone: "+33612000001", Consent: true},
		{ExternalRef: "B", Language: "fr", Grades: []int{5}, Profile: relais.ProfileBroadband, Email: "b@example.org", Consent: true},
		{ExternalRef: "C", Language: "fr", Grades: []int{5}, Profile: relais.ProfileOffline, PostalAddress: "1 rue des Écoles\n75005 Paris", Consent: true},
		{ExternalRef: "D", Language: "fr", Grades: []int{5}, Profile: relais.ProfileSMSOnly, Phone: "+33612000004"},
	}))
	db.Close()

	golden(t, "grid-fill.golden", cli("grid", "fill", "--from", "2026-03-28", "--to", "2026-03-29", "--reruns"))
	if got := cli("grid", "fill", "--json", "--from", "2026-03-28", "--to", "2026-03-29"); !strings.Contains(got, `"placed": 0`) || !strings.Contains(got, `"lesson_id": 2`) {
		t.Errorf("grid fill --json printed %s", got)
	}
	golden(t, "grid-list.golden", cli("grid", "list", "--station", "1", "--from", "2026-03-28", "--to", "2026-03-29"))
	if got := cli("grid", "list", "--json", "--station", "1", "--from", "2026-03-28", "--to", "2026-03-28"); !strings.Contains(got, `"minutes": 30`) ||
		!regexp.MustCompile(`"lessons": \[\s*\{\s*"lesson_id": 1\s*\}`).MatchString(got) {
		t.Errorf("grid list --json printed %s", got)
	}
	guide := cli("epg", "export", "--station", "1", "--from", "2026-03-28", "--to", "2026-03-29")
	for _, want := range []string{`start="20260328090000 +0100"`, `start="20260329090000 +0200"`, `<title lang="fr">Les fractions</title>`} {
		if !strings.Contains(guide, want) {
			t.Errorf("guide lacks %s:\n%s", want, guide)
		}
	}
	path := filepath.Join(dir, "guide.xml")
	noErr(t, os.WriteFile(path, []byte(guide), 0o644))
	if out, err := exec.Command("xmllint", "--noout", "--nonet", "--dtdvalid", "../../scheduler/testdata/xmltv.dtd", path).CombinedOutput(); err != nil {
		t.Errorf("xmllint: %v\n%s", err, out)
	}
	m3u := cli("playlist", "export", "--station", "1", "--date", "2026-03-29", "--format", "m3u", "--filler", "/m/filler.mp2")
	// From the day start (00:00; 8 h to 09:00 on the night clocks go forward) to the last slot.
	want := "#EXTM3U\n#PLAYLIST:El Arna 2026-03-29 00:00\n#EXTINF:28800,Filler\n/m/filler.mp2\n#EXTINF:1200,Les fractions\n/m/1/radio.mp2\n#EXTINF:600,Filler\n/m/filler.mp2\n" +
		"#EXTINF:1200,Les fractions\n/m/1/radio.mp2\n#EXTINF:600,Filler\n/m/filler.mp2\n"
	if m3u != want {
		t.Errorf("m3u = %q, want %q", m3u, want)
	}
	if js := cli("playlist", "export", "--station", "1", "--date", "2026-03-29"); !strings.Contains(js, `"out": 1200,`) || !strings.Contains(js, `"channel": "El Arna"`) ||
		!strings.Contains(js, `"source": "/m/station-filler.mp2"`) {
		t.Errorf("ffplayout = %s", js)
	}
	golden(t, "plan.golden", cli("plan", "--lesson", "1", "--at", "2026-03-27T12:00:00Z"))
	if plan := cli("plan", "--json", "--lesson", "1", "--at", "2026-03-27T12:00:00Z"); !strings.Contains(plan, `"first_broadcast": "2026-03-28T09:00:00+01:00"`) || strings.Contains(plan, "0001-01-01") {
		t.Errorf("plan --json = %s", plan)
	}
}

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/name, or rewrites the file with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run the test with -update to write it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s (-want +got):\n%s", path, diff)
	}
}

func noErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
