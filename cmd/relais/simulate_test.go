package main

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/channels/sms"
	"github.com/relais-edu/relais/store/sqlite"
)

// TestPlanSimulate: a small French morning through the pool file of the tests: every SMS of the
// country goes through its three senders in proportion to their rates, the figures are printed per
// profile and channel, and the smallest pool is found.
func TestPlanSimulate(t *testing.T) {
	env := map[string]string{"RELAIS_DATA_DIR": t.TempDir(), "RELAIS_TEST_KZ_TOKEN": "kz1", "RELAIS_SMS_QUIET_HOURS": "off"}
	out, errOut, err := runCLI(env, "plan", "simulate", "--shape", "fr", "--households", "20000", "--senders", "testdata/senders.yaml",
		"--publish", "2026-12-07T07:00:00Z", "--first-slot", "07:05", "--digest-segments", "1")
	if err != nil {
		t.Fatalf("plan simulate: %v\n%s", err, errOut)
	}
	for _, want := range []string{
		"Simulated morning: shape fr, 20000 households. Published 2026-12-07 07:00, SMS from 07:00, first slot 07:05 (UTC).",
		"SMS senders: FR 3 senders, 111 segments/s; KZ 1 senders, 30 segments/s.",
		"Smallest pool that sends every SMS before the first slot:",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// sms_only households: 10 % of 20,000, one segment each.
	if !regexp.MustCompile(`sms_only\s+sms\s+2000\s+2000\s+2000\s`).MatchString(out) {
		t.Errorf("no sms_only row of 2000 households:\n%s", out)
	}
	// The short code carries about 100/111 of the French messages.
	m := regexp.MustCompile(`fr-short\s+FR\s+100\s+(\d+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no row of fr-short:\n%s", out)
	}
	if _, _, err := runCLI(env, "plan", "simulate", "--shape", "nz"); err == nil || !strings.Contains(err.Error(), `--shape "nz": give fr or kz`) {
		t.Errorf("unknown shape: %v", err)
	}
}

// TestPlanSimulateLesson: the morning of a stored lesson's audience, from a real SQLite store: the
// households out of its audience are left out, each SMS household's sender is the one the fan-out's
// pages give it (bounded loads over pages of 1000), and the printed figures are the store's.
func TestPlanSimulateLesson(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "relais.db"))
	if err != nil {
		t.Fatal(err)
	}
	// 1500 French-medium grade-5 households (2 in 3 SMS only, the others broadband), 60 of them with a
	// Kazakh number, and 200 Russian-medium ones the lesson does not reach.
	var hs []relais.Household
	for i := range 1700 {
		h := relais.Household{ExternalRef: fmt.Sprint("H", i), Language: "fr", Grades: []int{5}, Pupils: []relais.Pupil{{Grade: 5, Language: "fr"}},
			Profile: relais.ProfileSMSOnly, Phone: fmt.Sprintf("+3361%07d", i), Consent: true}
		switch {
		case i >= 1500:
			h.Language, h.Pupils = "ru", []relais.Pupil{{Grade: 5, Language: "ru"}}
		case i%3 == 2:
			h.Profile, h.Email = relais.ProfileBroadband, fmt.Sprintf("f%d@example.org", i)
		case i%25 == 0:
			h.Phone = fmt.Sprintf("+7701%07d", i)
		}
		hs = append(hs, h)
	}
	if err := db.UpsertHouseholds(ctx, hs); err != nil {
		t.Fatal(err)
	}
	l := relais.Lesson{Title: "Fractions", Subject: "maths", Grade: 5, Language: "fr", TeacherID: "t"}
	if err := db.CreateLesson(ctx, &l); err != nil {
		t.Fatal(err)
	}
	if err := db.PutDigest(ctx, relais.Digest{LessonID: l.ID, Language: "fr", Body: "Fractions", Encoding: "GSM-7", Segments: 1}); err != nil {
		t.Fatal(err)
	}
	// What the fan-out would give each sender: the audience's SMS households, by page of 1000.
	var stored []relais.Household
	for f := l.AudienceFilter(); ; {
		f.Page.Limit = 1000
		page, err := db.Households(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		stored = append(stored, page...)
		if len(page) < f.Page.Limit {
			break
		}
		f.Page.After = page[len(page)-1].ID
	}
	db.Close()
	scfg := sms.DefaultConfig()
	scfg.AccountSID, scfg.AuthToken, scfg.Rate = "AC00000000000000000000000000000000", "simulation", 10
	if scfg.Pool, err = sms.ReadPool("testdata/senders.yaml", func(string) string { return "kz1" }); err != nil {
		t.Fatal(err)
	}
	pool := scfg.Lanes()
	want := map[string]int{}
	var smsOnly int
	for start := 0; start < len(stored); start += 1000 {
		var countries []string
		var ids []int64
		for _, h := range stored[start:min(start+1000, len(stored))] {
			if h.Profile == relais.ProfileSMSOnly {
				countries, ids = append(countries, phoneCountry("FR")(h)), append(ids, h.ID)
			}
		}
		for _, j := range pool.Balance(countries, ids, 1) {
			want[pool[j].Name]++
		}
		smsOnly += len(ids)
	}
	if len(stored) != 1500 || smsOnly != 1000 || want["kz"] != 40 {
		t.Fatalf("the store holds %d households of the audience, %d SMS only, %d in Kazakhstan; want 1500, 1000, 40", len(stored), smsOnly, want["kz"])
	}

	env := map[string]string{"RELAIS_DATA_DIR": dir, "RELAIS_TEST_KZ_TOKEN": "kz1", "RELAIS_SMS_QUIET_HOURS": "off"}
	out, errOut, err := runCLI(env, "plan", "simulate", "--lesson", fmt.Sprint(l.ID), "--senders", "testdata/senders.yaml",
		"--publish", "2026-12-07T07:00:00Z", "--first-slot", "07:05", "--smallest-pool=false")
	if err != nil {
		t.Fatalf("plan simulate --lesson: %v\n%s", err, errOut)
	}
	for _, line := range []string{
		fmt.Sprintf("Simulated morning: lesson %d, 1500 households. Published 2026-12-07 07:00, SMS from 07:00, first slot 07:05 (UTC).", l.ID),
		"SMS senders: FR 3 senders, 111 segments/s; KZ 1 senders, 30 segments/s.",
	} {
		if !strings.Contains(out, line) {
			t.Errorf("output lacks %q:\n%s", line, out)
		}
	}
	// One segment each (the stored digest), 1000 SMS-only households and 500 broadband ones.
	for _, row := range []string{`sms_only\s+sms\s+1000\s+1000\s+1000\s`, `broadband\s+email\s+500\s+500\s`} {
		if !regexp.MustCompile(row).MatchString(out) {
			t.Errorf("no row %s:\n%s", row, out)
		}
	}
	for _, s := range pool {
		m := regexp.MustCompile(regexp.QuoteMeta(s.Name) + `\s+` + s.Country + `\s+[\d.]+\s+(\d+)\s+(\d+)\s`).FindStringSubmatch(out)
		if m == nil {
			t.Errorf("no row of sender %s:\n%s", s.Name, out)
			continue
		}
		if got, _ := strconv.Atoi(m[1]); got != want[s.Name] {
			t.Errorf("sender %s: %d messages printed, the fan-out's pages give it %d", s.Name, got, want[s.Name])
		}
	}
	// The SMS finish when the slowest sender does, each at its rate (a send holding its window 25 ms more).
	m := regexp.MustCompile(`SMS: first at 07:00:00, last at 07:(\d\d):(\d\d)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no SMS finish line:\n%s", out)
	}
	var slowest float64
	for _, s := range pool {
		slowest = max(slowest, float64(want[s.Name]-1)/s.Rate)
	}
	minutes, _ := strconv.Atoi(m[1])
	seconds, _ := strconv.Atoi(m[2])
	if got := float64(60*minutes + seconds); got < slowest-1 || got > slowest*1.1+1 {
		t.Errorf("SMS finish %.0f s after 07:00, want about %.1f s (the slowest sender's messages at its rate)", got, slowest)
	}
	if _, _, err := runCLI(env, "plan", "simulate", "--lesson", "999"); err == nil {
		t.Error("a lesson that does not exist: no error")
	}
}
