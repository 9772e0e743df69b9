package main

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/store/sqlite"
)

// TestPlanSimulateLessonRemembersSenders: the morning of a stored lesson keeps each family on the
// sender it remembers from earlier lessons, as the fan-out does: 300 of 900 French families remember
// the long code (1 segment/s, a hundredth of the pool's rate) and the simulation sends them all on it.
func TestPlanSimulateLessonRemembersSenders(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "relais.db"))
	if err != nil {
		t.Fatal(err)
	}
	var hs []relais.Household
	for i := range 900 {
		hs = append(hs, relais.Household{ExternalRef: fmt.Sprint("H", i), Language: "fr", Grades: []int{5},
			Profile: relais.ProfileSMSOnly, Phone: fmt.Sprintf("+3361%07d", i), Consent: true})
	}
	if err := db.UpsertHouseholds(ctx, hs); err != nil {
		t.Fatal(err)
	}
	var lessons [2]relais.Lesson
	for i := range lessons {
		lessons[i] = relais.Lesson{Title: "Fractions", Subject: "maths", Grade: 5, Language: "fr", TeacherID: "t"}
		if err := db.CreateLesson(ctx, &lessons[i]); err != nil {
			t.Fatal(err)
		}
		if err := db.PutDigest(ctx, relais.Digest{LessonID: lessons[i].ID, Language: "fr", Body: "Fractions", Encoding: "GSM-7", Segments: 1}); err != nil {
			t.Fatal(err)
		}
	}
	// The first lesson's fan-out left every third family on the long code.
	var ds []relais.Delivery
	var choices []relais.SenderChoice
	for i, h := range hs {
		ds = append(ds, relais.Delivery{LessonID: lessons[0].ID, HouseholdID: h.ID, Channel: relais.ChannelSMS})
		if i%3 == 0 {
			choices = append(choices, relais.SenderChoice{HouseholdID: h.ID, Sender: "fr-long"})
		}
	}
	if _, err := db.PlanPage(ctx, ds, choices); err != nil {
		t.Fatal(err)
	}
	db.Close()

	env := map[string]string{"RELAIS_DATA_DIR": dir, "RELAIS_TEST_KZ_TOKEN": "kz1", "RELAIS_SMS_QUIET_HOURS": "off"}
	out, errOut, err := runCLI(env, "plan", "simulate", "--lesson", fmt.Sprint(lessons[1].ID), "--senders", "testdata/senders.yaml",
		"--publish", "2026-12-07T07:00:00Z", "--first-slot", "07:05", "--smallest-pool=false")
	if err != nil {
		t.Fatalf("plan simulate --lesson: %v\n%s", err, errOut)
	}
	got := map[string]int{}
	for _, name := range []string{"fr-short", "fr-alpha", "fr-long"} {
		m := regexp.MustCompile(regexp.QuoteMeta(name) + `\s+FR\s+[\d.]+\s+(\d+)\s`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("no row of sender %s:\n%s", name, out)
		}
		got[name], _ = strconv.Atoi(m[1])
	}
	if got["fr-long"] != 300 || got["fr-short"]+got["fr-alpha"] != 600 {
		t.Errorf("messages per sender %v: want the 300 families that remember fr-long on it, the 600 others on the two others\n%s", got, out)
	}
}
