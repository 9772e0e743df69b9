package scheduler_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/scheduler"
)

// The capacity estimate against a hand-computed case. Published at 03:30Z for a broadcast at 09:00
// Almaty (04:00Z), at 1 SMS segment/s and one email every 1,000 s:
//   - SMS: 5 households x 2-segment digest = 10 segments = 10 s, done at 03:30:10Z;
//   - reminders: 4 households reached by the broadcast x 1 segment = 4 s from 03:30Z;
//   - email: 3 emails x 1,000 s = 3,000 s, done at 04:20Z, after the broadcast: a warning;
//   - postal: 5 days of lead, done long after the broadcast: a warning.
func TestPlanCapacity(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	st := relais.Station{Name: "Balapan", Kind: relais.StationTV, Region: "Almaty", TimeZone: "Asia/Almaty"}
	must(t, e.svc.CreateStation(ctx, &st))
	sl, err := e.svc.AddSlot(ctx, relais.Slot{StationID: st.ID, Day: "2026-03-03", Start: "09:00", Duration: 30 * time.Minute})
	must(t, err)
	l := e.lesson(t, "Les fractions", "maths", 5, "fr", 25*time.Minute, true)
	must(t, e.svc.Assign(ctx, sl.ID, l.ID, false))
	must(t, e.db.PutDigest(ctx, relais.Digest{LessonID: l.ID, Language: "fr", Body: "x", Encoding: "GSM-7", Segments: 2}))

	hs := []relais.Household{
		{Region: "Almaty", Profile: relais.ProfileSMSOnly, Phone: "+77010000001"},
		{Region: "Almaty", Profile: relais.ProfileSMSOnly, Phone: "+77010000002"},
		{Region: "Almaty", Profile: relais.ProfileSMSOnly, Phone: "+77010000003"},
		{Region: "Almaty", Profile: relais.ProfileBroadband, Email: "a@example.kz"},
		{Region: "Almaty", Profile: relais.ProfileBroadband, Email: "b@example.kz"},
		{Region: "Almaty", Profile: relais.ProfileOffline, PostalAddress: "1 rue\nAlmaty"},
		{Region: "Almaty", Profile: relais.ProfileMobileData, Email: "c@example.kz", Phone: "+77010000004"},
		{Region: "Almaty", Profile: relais.ProfileSMSOnly, Phone: "+77010000005", Consent: false},
		{Region: "Aktobe", Profile: relais.ProfileSMSOnly, Phone: "+77010000006"},
		{Region: "Almaty", Profile: relais.ProfileSMSOnly, Phone: "+77010000007", Grades: []int{6}},
	}
	for i := range hs {
		hs[i].ExternalRef, hs[i].Language = fmt.Sprintf("H%d", i+1), "fr"
		hs[i].Consent = i != 7
		if hs[i].Grades == nil {
			hs[i].Grades = []int{5}
		}
	}
	must(t, e.db.UpsertHouseholds(ctx, hs))

	cfg := scheduler.DefaultPlanConfig()
	cfg.SMSRate, cfg.EmailRate, cfg.PageSize, cfg.SampleEntries = 1, 0.001, 4, 1 // pages of 4: the paging is exercised
	p := &scheduler.Planner{Store: e.db, Lessons: e.db, Households: e.db, Channels: relaisChannels(), Config: cfg}
	at := time.Date(2026, 3, 3, 3, 30, 0, 0, time.UTC)
	var seen []int64
	sum, err := p.Plan(ctx, l.ID, at, func(hp scheduler.HouseholdPlan) error {
		seen = append(seen, hp.HouseholdID)
		return nil
	})
	must(t, err)
	if len(seen) != 9 || sum.Households != 9 {
		t.Errorf("households planned: %v (%d)", seen, sum.Households)
	}
	air := time.Date(2026, 3, 3, 4, 0, 0, 0, time.UTC)
	if !sum.FirstBroadcast.Equal(air) {
		t.Errorf("first broadcast = %s", sum.FirstBroadcast)
	}
	wantCounts := map[string]int64{"sms": 5, "sms_reminder": 4, "email": 3, "postal": 1, "tv": 8}
	if diff := cmp.Diff(wantCounts, sum.Counts); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]int64{"sms": 1}, sum.Skipped); diff != "" {
		t.Errorf("skipped (-want +got):\n%s", diff)
	}
	type est struct {
		Messages, Segments int64
		Seconds            float64
		Finishes           string
	}
	got := map[string]est{}
	for k, v := range sum.Estimates {
		got[k] = est{v.Messages, v.Segments, v.Seconds, v.Finishes.UTC().Format(time.RFC3339)}
	}
	want := map[string]est{
		"sms":          {5, 10, 10, "2026-03-03T03:30:10Z"},
		"sms_reminder": {4, 4, 4, "2026-03-03T03:30:04Z"},
		"email":        {3, 0, 3000, "2026-03-03T04:20:00Z"},
		"postal":       {1, 0, 432000, "2026-03-08T03:30:00Z"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("estimates (-want +got):\n%s", diff)
	}
	if len(sum.Warnings) != 2 || sum.Warnings[0][:6] != "email:" || sum.Warnings[1][:7] != "postal:" {
		t.Errorf("warnings = %q", sum.Warnings)
	}
	// The first household: its SMS now, its reminder 30 minutes before 09:00 Almaty, then the broadcast.
	wantSample := []scheduler.HouseholdPlan{{HouseholdID: seen[0], Steps: []scheduler.PlanStep{
		{Channel: "sms", At: at}, {Channel: "sms_reminder", At: air.Add(-30 * time.Minute)}, {Channel: "tv", At: air},
	}}}
	if diff := cmp.Diff(wantSample, sum.Sample, cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); diff != "" {
		t.Errorf("sample (-want +got):\n%s", diff)
	}
}

// A re-run a week later is reminded too: the plan counts a reminder per airing and household, and
// times the largest burst (one airing's reminders) against its own airing.
func TestPlanCountsARemindersPerAiring(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	st := relais.Station{Name: "Balapan", Kind: relais.StationTV, Region: "Almaty", TimeZone: "Asia/Almaty"}
	must(t, e.svc.CreateStation(ctx, &st))
	l := e.lesson(t, "Les fractions", "maths", 5, "fr", 25*time.Minute, true)
	for _, day := range []string{"2026-03-03", "2026-03-10"} {
		sl, err := e.svc.AddSlot(ctx, relais.Slot{StationID: st.ID, Day: day, Start: "09:00", Duration: 30 * time.Minute})
		must(t, err)
		must(t, e.svc.Assign(ctx, sl.ID, l.ID, true))
	}
	hs := []relais.Household{
		{Region: "Almaty", Profile: relais.ProfileSMSOnly, Phone: "+77010000001"},
		{Region: "Almaty", Profile: relais.ProfileSMSOnly, Phone: "+77010000002"},
		{Region: "Aktobe", Profile: relais.ProfileSMSOnly, Phone: "+77010000003"}, // the station does not reach it
	}
	for i := range hs {
		hs[i].ExternalRef, hs[i].Language, hs[i].Grades, hs[i].Consent = fmt.Sprintf("H%d", i+1), "fr", []int{5}, true
	}
	must(t, e.db.UpsertHouseholds(ctx, hs))
	cfg := scheduler.DefaultPlanConfig()
	cfg.SMSRate, cfg.ReminderSegs = 1, 1
	p := &scheduler.Planner{Store: e.db, Lessons: e.db, Households: e.db, Channels: relaisChannels(), Config: cfg}
	sum, err := p.Plan(ctx, l.ID, time.Date(2026, 3, 3, 3, 0, 0, 0, time.UTC), nil)
	must(t, err)
	if n := sum.Counts["sms_reminder"]; n != 4 {
		t.Errorf("reminders = %d, want 2 households × 2 airings", n)
	}
	e2 := sum.Estimates["sms_reminder"]
	if e2.Messages != 4 || e2.Segments != 4 || e2.Seconds != 2 || !e2.Deadline.Equal(time.Date(2026, 3, 3, 4, 0, 0, 0, time.UTC)) {
		t.Errorf("reminder estimate = %+v: want 4 messages, 4 segments, 2 s for one airing's burst, before the first airing", e2)
	}
}

// TestPlanWarnsOfUnderruns: a 20-second lesson auto-filled into half-hour slots leaves 29 min 40 s of
// each to the filler; the plan says so once per station, and says dead air where there is no filler.
func TestPlanWarnsOfUnderruns(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	tv := e.station(t, "Balapan", "Asia/Almaty", relais.StationTV)
	radio := relais.Station{Name: "Qazaq Radiosy", Kind: relais.StationRadio, TimeZone: "Asia/Almaty"} // no filler
	must(t, e.svc.CreateStation(ctx, &radio))
	l := e.lesson(t, "Les fractions", "maths", 5, "fr", 20*time.Second, true)
	for i, day := range []string{"2026-03-03", "2026-03-04", "2026-03-05"} {
		sl, err := e.svc.AddSlot(ctx, relais.Slot{StationID: tv.ID, Day: day, Start: "09:00", Duration: 30 * time.Minute})
		must(t, err)
		must(t, e.svc.Assign(ctx, sl.ID, l.ID, i > 0))
	}
	sl, err := e.svc.AddSlot(ctx, relais.Slot{StationID: radio.ID, Day: "2026-03-03", Start: "10:00", Duration: 15 * time.Minute})
	must(t, err)
	must(t, e.svc.Assign(ctx, sl.ID, l.ID, true))
	// A slot the lesson nearly fills warns of nothing.
	l2 := e.lesson(t, "Les volcans", "maths", 5, "fr", 28*time.Minute, true)
	sl2, err := e.svc.AddSlot(ctx, relais.Slot{StationID: tv.ID, Day: "2026-03-06", Start: "09:00", Duration: 30 * time.Minute})
	must(t, err)
	must(t, e.svc.Assign(ctx, sl2.ID, l2.ID, false))

	p := &scheduler.Planner{Store: e.db, Lessons: e.db, Households: e.db, Channels: relaisChannels(), Config: scheduler.DefaultPlanConfig()}
	at := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	sum, err := p.Plan(ctx, l.ID, at, nil)
	must(t, err)
	want := []string{
		"Balapan Sabaq: the lesson lasts 20 s and leaves 29 min 40 s of each 30 min slot to filler, in 3 airings.",
		"Qazaq Radiosy: the lesson lasts 20 s and leaves 14 min 40 s of each 15 min slot to dead air (the station has no filler clip), in 1 airing.",
	}
	for _, w := range want {
		if !slices.Contains(sum.Warnings, w) {
			t.Errorf("warnings %q lack %q", sum.Warnings, w)
		}
	}
	sum, err = p.Plan(ctx, l2.ID, at, nil)
	must(t, err)
	for _, w := range sum.Warnings {
		if strings.Contains(w, "leaves") {
			t.Errorf("a lesson that nearly fills its slot: %q", w)
		}
	}
}

// An audience that reaches no household (the households' language of instruction is another) is
// said, with the audience, so that the media unit does not publish a lesson to nobody; once a
// household matches, the warning goes.
func TestPlanWarnsOfAnAudienceThatReachesNobody(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	l := e.lesson(t, "Les fractions", "maths", 5, "fr", 25*time.Minute, true)
	h := relais.Household{ExternalRef: "H1", Region: "Almaty", Language: "kk", Grades: []int{5}, Profile: relais.ProfileSMSOnly,
		Phone: "+77010000001", Consent: true}
	must(t, e.db.UpsertHouseholds(ctx, []relais.Household{h}))
	p := &scheduler.Planner{Store: e.db, Lessons: e.db, Households: e.db, Channels: relaisChannels(), Config: scheduler.DefaultPlanConfig()}
	at := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	sum, err := p.Plan(ctx, l.ID, at, nil)
	must(t, err)
	w := "The lesson's audience (grades 5 · fr) reaches no household: check its grades, languages and regions against the households' own, or import the households first."
	if sum.Households != 0 || !slices.Contains(sum.Warnings, w) {
		t.Errorf("%d households, warnings %q; want none and %q", sum.Households, sum.Warnings, w)
	}
	h.ExternalRef, h.Language, h.Phone = "H2", "fr", "+77010000002"
	must(t, e.db.UpsertHouseholds(ctx, []relais.Household{h}))
	sum, err = p.Plan(ctx, l.ID, at, nil)
	must(t, err)
	for _, w := range sum.Warnings {
		if strings.Contains(w, "no household") {
			t.Errorf("%d households, and the warning %q", sum.Households, w)
		}
	}
}
