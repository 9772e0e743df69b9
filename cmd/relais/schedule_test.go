package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
	if got := cli("station", "create", "--name", "El Arna", "--kind", "radio", "--tz", "Europe/Paris", "--playout", "m3u",
		"--filler", "/m/station-filler.mp2"); got != "1\n" {
		t.Fatalf("station create printed %q", got)
	}
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
	db.Close()

	if got := cli("grid", "fill", "--from", "2026-03-28", "--to", "2026-03-29", "--reruns"); !strings.Contains(got, `"placed": 1`) || !strings.Contains(got, `"reruns": 3`) {
		t.Errorf("grid fill printed %s", got)
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
	if plan := cli("plan", "--lesson", "1", "--at", "2026-03-27T12:00:00Z"); !strings.Contains(plan, `"first_broadcast": "2026-03-28T09:00:00+01:00"`) {
		t.Errorf("plan = %s", plan)
	}
}

func noErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
