package ui

import (
	"context"
	"fmt"
	"html"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/api"
	"github.com/relais-edu/relais/channels/sms"
	"github.com/relais-edu/relais/scheduler"
)

// TestReview runs a lesson through approval: the teacher submits it from the lesson page, the media
// unit rejects it with a reason the teacher then reads, the teacher submits it again, the media unit
// approves it. Teachers cannot decide.
func TestReview(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	teacher, other, media := f.browser("t1"), f.browser("t2"), f.browser("m")

	_, body := teacher.get("/ui/lessons/1")
	if !strings.Contains(body, `<section id="approval" aria-labelledby="approval-heading" data-state="">`) ||
		!strings.Contains(body, "Not submitted for broadcast") || !strings.Contains(body, `id="submit-approval"`) {
		t.Fatalf("lesson page before submission:\n%s", body)
	}
	if status, _, _ := other.postRedirect("/ui/lessons/1/submit", url.Values{}); status != 404 {
		t.Errorf("another teacher submits: %d", status)
	}
	status, loc, _ := teacher.postRedirect("/ui/lessons/1/submit", url.Values{})
	if status != 303 || loc != "/ui/lessons/1#approval" {
		t.Fatalf("submit: %d %q", status, loc)
	}
	body = teacher.follow(status, loc)
	if !strings.Contains(body, `data-state="submitted"`) || !strings.Contains(body, "Waiting for the media unit&#39;s review") ||
		strings.Contains(body, `id="submit-approval"`) {
		t.Errorf("lesson page after submission:\n%s", body)
	}

	for _, path := range []string{"/ui/lessons/1/approve", "/ui/lessons/1/reject"} {
		if status, _, _ := teacher.postRedirect(path, url.Values{"reason": {"mine is fine"}}); status != 403 {
			t.Errorf("teacher POST %s: %d, want 403", path, status)
		}
	}
	if status, _ := teacher.get("/ui/review"); status != 403 {
		t.Errorf("teacher opens the review: %d", status)
	}

	status, body = media.get("/ui/review")
	if status != 200 || !strings.Contains(body, `<table id="review">`) ||
		!regexp.MustCompile(`<tr id="review-1" data-lesson-id="1">\s*<th scope="row"><a href="/ui/lessons/1" lang="fr">&lt;script&gt;alert\(1\)&lt;/script&gt; Fractions</a></th><td>t1</td>`).MatchString(body) ||
		strings.Contains(body, `id="review-2"`) {
		t.Fatalf("review list: %d\n%s", status, body)
	}
	status, _, body = media.postRedirect("/ui/lessons/1/reject", url.Values{"reason": {"  "}})
	if status != 400 || !strings.Contains(body, `role="alert"`) || !strings.Contains(body, "Lesson 1: Say why the lesson is rejected.") ||
		!strings.Contains(body, `id="review-1"`) {
		t.Errorf("reject without a reason: %d\n%s", status, body)
	}
	status, loc, _ = media.postRedirect("/ui/lessons/1/reject", url.Values{"reason": {"Le son est trop faible <b>ici</b>."}})
	if status != 303 {
		t.Fatalf("reject: %d", status)
	}
	body = media.follow(status, loc)
	if !strings.Contains(body, "Lesson 1 is rejected; the teacher sees the reason.") || !strings.Contains(body, `id="review-empty"`) {
		t.Errorf("review after the rejection:\n%s", body)
	}
	_, body = teacher.get("/ui/lessons/1")
	if !strings.Contains(body, "Not approved for broadcast") ||
		!strings.Contains(body, `<span id="approval-reason">Le son est trop faible &lt;b&gt;ici&lt;/b&gt;.</span>`) ||
		!strings.Contains(body, `id="submit-approval"`) {
		t.Errorf("teacher's page after the rejection:\n%s", body)
	}

	// Submitted again, then approved.
	teacher.postRedirect("/ui/lessons/1/submit", url.Values{})
	status, loc, _ = media.postRedirect("/ui/lessons/1/approve", url.Values{})
	if status != 303 || !strings.Contains(media.follow(status, loc), "Lesson 1 is approved for broadcast.") {
		t.Fatalf("approve: %d %q", status, loc)
	}
	a, err := f.store.Approval(ctx, 1)
	if err != nil || a.State != relais.Approved || a.DecidedBy != "m" || a.Reason != "" {
		t.Errorf("approval stored: %+v %v", a, err)
	}
	_, body = teacher.get("/ui/lessons/1")
	if !strings.Contains(body, "Approved for broadcast") || strings.Contains(body, `id="submit-approval"`) || strings.Contains(body, "approval-reason") {
		t.Errorf("teacher's page after the approval:\n%s", body)
	}
	// Deciding again is the API's conflict, shown on the review page.
	status, _, body = media.postRedirect("/ui/lessons/1/approve", url.Values{})
	if status != 409 || !strings.Contains(body, "Lesson 1: Lesson 1 is approved, not submitted.") {
		t.Errorf("approve twice: %d\n%s", status, body)
	}

	// A lesson still processing cannot be put forward from its page.
	l := relais.Lesson{Title: "En cours", Subject: "maths", Grade: 5, Language: "fr", TeacherID: "t1"}
	f.store.CreateLesson(ctx, &l)
	f.store.SetLessonStatus(ctx, l.ID, relais.LessonProcessing, nil)
	if _, body := teacher.get("/ui/lessons/3"); strings.Contains(body, `id="submit-approval"`) || !strings.Contains(body, "Not submitted for broadcast") {
		t.Errorf("a processing lesson offers submission:\n%s", body)
	}
}

// TestPlan shows a lesson's publishing plan: counts per channel, the first broadcast, and a capacity
// warning when the SMS rate cannot send the digests before the broadcast.
func TestPlan(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	f.seedGrid()
	f.approve(1)
	// Monday 2 March 2026, 09:00 in Almaty is 04:00 UTC.
	if err := scheduler.New(f.store, f.store, nil).Assign(ctx, 1, 1, false); err != nil {
		t.Fatal(err)
	}
	hs := []relais.Household{
		{ExternalRef: "E", Region: "IDF", Language: "fr", Grades: []int{5}, Profile: relais.ProfileBroadband, Email: "e@example.org", Consent: true},
		{ExternalRef: "P", Region: "IDF", Language: "fr", Grades: []int{5}, Profile: relais.ProfileOffline, PostalAddress: "1 rue de la Paix", Consent: true},
	}
	if err := f.store.UpsertHouseholds(ctx, hs); err != nil {
		t.Fatal(err)
	}
	media := f.browser("m")
	status, body := media.get("/ui/lessons/1/plan?at=2026-03-02T03:00")
	if status != 200 {
		t.Fatalf("plan: %d\n%s", status, body)
	}
	for _, want := range []string{
		`<dd id="plan-households">5</dd>`, `<dd id="plan-first">2026-03-02 09:00 &#43;05:00</dd>`,
		`<tr data-channel="sms"><th scope="row">SMS digest</th><td class="count">3</td>`,
		`<tr data-channel="sms_reminder"><th scope="row">SMS reminder</th><td class="count">3</td>`,
		`<tr data-channel="email"><th scope="row">Email</th><td class="count">1</td>`,
		`<tr data-channel="tv"><th scope="row">TV</th><td class="count">5</td>`,
		`<th scope="row">Balapan</th>`, `id="publish"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("plan lacks %q", want)
		}
	}
	// The same plan in simulated time: the three SMS digests through the default sender, before the
	// broadcast; the email at the email rate.
	sim := regexp.MustCompile(`(?s)<section id="plan-simulation".*?</section>`).FindString(body)
	var smsMessages int
	for _, m := range regexp.MustCompile(`<td>SMS digest</td><td>\d+</td><td>(\d+)</td><td>\d+</td><td>[^<]*</td><td>100.0 %</td>`).FindAllStringSubmatch(sim, -1) {
		n, _ := strconv.Atoi(m[1])
		smsMessages += n
	}
	if smsMessages != 3 || !strings.Contains(sim, `<th scope="row">Broadband</th><td>Email</td><td>1</td><td>1</td>`) {
		t.Errorf("simulated send: %d SMS digests before the broadcast, want 3:\n%s", smsMessages, sim)
	}
	// Postal packets posted now (five days ahead) arrive after a broadcast an hour away: that warning
	// is there, the SMS one is not.
	if !strings.Contains(body, `<div id="plan-warnings" class="warning" role="alert">`) || !strings.Contains(body, "Postal packet: 1 to send take 5 d and finish at") ||
		strings.Contains(body, "SMS digest: ") {
		t.Errorf("plan warnings at the default rates:\n%s", body)
	}
	if !regexp.MustCompile(`<tr data-channel="postal" class="late"><th scope="row">Postal packet</th><td class="count">1</td>`).MatchString(body) {
		t.Errorf("postal row not marked late:\n%s", body)
	}

	// At a thousandth of a segment a second, the six digest segments take 100 minutes: over capacity.
	_, body = media.get("/ui/lessons/1/plan?at=2026-03-02T03:00&sms_rate=0.001&postal_lead_days=0")
	if !strings.Contains(body, "SMS digest: 3 to send take 1 h 40 min and finish at 2026-03-02 04:40 &#43;00:00, after the first broadcast at 2026-03-02 09:00 &#43;05:00.") ||
		!regexp.MustCompile(`<tr data-channel="sms" class="late">`).MatchString(body) || strings.Contains(body, "Postal packet: ") ||
		!strings.Contains(body, `name="sms_rate" type="number" min="0" step="any" placeholder="10" value="0.001"`) {
		t.Errorf("over capacity:\n%s", body)
	}
	// Generous rates and no postal lead: everything in time.
	_, body = media.get("/ui/lessons/1/plan?at=2026-03-02T03:00&postal_lead_days=0")
	if !strings.Contains(body, `id="plan-ok"`) || strings.Contains(body, "plan-warnings") {
		t.Errorf("plan within capacity:\n%s", body)
	}
	status, body = media.get("/ui/lessons/1/plan?sms_rate=-1")
	if status != 400 || !strings.Contains(body, "sms_rate must be a positive number.") || !strings.Contains(body, `id="plan-form"`) {
		t.Errorf("negative rate: %d\n%s", status, body)
	}
	if _, body := media.get("/ui/publish"); !strings.Contains(body, `href="/ui/lessons/1/plan"`) {
		t.Errorf("publish list without a plan link:\n%s", body)
	}
	if status, _ := f.browser("t1").get("/ui/lessons/1/plan"); status != 403 {
		t.Errorf("teacher opens the plan: %d", status)
	}
	if status, _ := media.get("/ui/lessons/99/plan"); status != 404 {
		t.Errorf("plan of a missing lesson: %d", status)
	}
	// A lesson taught in a language no household's pupils learn in reaches nobody: said, in the
	// page's language, with the audience.
	l := relais.Lesson{Title: "Бөлшектер", Subject: "maths", Grade: 5, Language: "kk", TeacherID: "t1"}
	if err := f.store.CreateLesson(ctx, &l); err != nil {
		t.Fatal(err)
	}
	media.lang = "fr"
	_, body = media.get(fmt.Sprintf("/ui/lessons/%d/plan?at=2026-03-02T03:00", l.ID))
	if !strings.Contains(body, `<dd id="plan-households">0</dd>`) ||
		!strings.Contains(body, "Le public visé par la leçon (Niveaux 5 · Langues d&#39;enseignement kk) ne compte aucun foyer : comparez ses niveaux") {
		t.Errorf("plan of a lesson that reaches nobody:\n%s", body)
	}
}

// TestPlanFormShowsTheConfiguredRates: the plan form's empty fields show the rates the plan then
// assumes (the API's Config.Plan, which main fills from RELAIS_SMS_RATE and RELAIS_EMAIL_RATE), not
// fixed ones.
func TestPlanFormShowsTheConfiguredRates(t *testing.T) {
	f := newFixtureWith(t, func(c *api.Config) { c.Plan.SMSRate, c.Plan.EmailRate = 25, 80 }, nil)
	status, body := f.browser("m").get("/ui/lessons/1/plan")
	if status != 200 {
		t.Fatalf("plan: %d\n%s", status, body)
	}
	for _, want := range []string{`name="sms_rate" type="number" min="0" step="any" placeholder="25"`,
		`name="email_rate" type="number" min="0" step="any" placeholder="80"`} {
		if !strings.Contains(body, want) {
			t.Errorf("plan form lacks %s:\n%s", want, body)
		}
	}
}

// TestPlanInTheUIZoneWithUnderruns: the start is typed and shown in the configured zone, not UTC, and a
// lesson far shorter than its slot is said to leave the rest to filler, in the page's language.
func TestPlanInTheUIZoneWithUnderruns(t *testing.T) {
	almaty, err := time.LoadLocation("Asia/Almaty")
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, func(c *Config) { c.Location = almaty })
	ctx := context.Background()
	f.seedGrid()
	f.approve(1)
	if err := scheduler.New(f.store, f.store, nil).Assign(ctx, 1, 1, false); err != nil {
		t.Fatal(err)
	}
	if err := f.store.SetLessonDuration(ctx, 1, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	media := f.browser("m")
	status, body := media.get("/ui/lessons/1/plan?at=2026-03-02T08:00") // 08:00 in Almaty, an hour before the slot
	if status != 200 {
		t.Fatalf("plan: %d\n%s", status, body)
	}
	for _, want := range []string{
		"Publishing starts (Asia/Almaty time; empty: now)", `2026-03-02 08:00 &#43;05:00`,
		"Balapan: the lesson lasts 20 s and leaves 29 min 40 s of each 30 min slot to filler (airings: 1).",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("plan lacks %q:\n%.3000s", want, body)
		}
	}
}

// TestPlanQuietHours: published in the quiet hours, the simulated send says when its first SMS goes
// (the end of the quiet hours, as the workers wait for it); published outside them, it says nothing.
func TestPlanQuietHours(t *testing.T) {
	q := sms.QuietHours{Start: 22 * time.Hour, End: 8 * time.Hour}
	f := newFixtureWith(t, func(c *api.Config) {
		c.Plan = scheduler.DefaultPlanConfig()
		c.Plan.SMSFrom = func(at time.Time) time.Time { return sms.NextSendTime(at, time.UTC, q) }
	}, nil)
	ctx := context.Background()
	f.seedGrid()
	f.approve(1)
	if err := scheduler.New(f.store, f.store, nil).Assign(ctx, 1, 1, false); err != nil {
		t.Fatal(err)
	}
	media := f.browser("m")
	_, body := media.get("/ui/lessons/1/plan?at=" + url.QueryEscape(time.Date(2026, 3, 2, 3, 0, 0, 0, time.UTC).Format(time.RFC3339)))
	m := regexp.MustCompile(`<p id="sim-sms-from">Quiet hours hold the SMS back; the first goes at: ([^<]+)</p>`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no first SMS time in the simulated send:\n%s", body)
	}
	from, err := time.Parse("2006-01-02 15:04 -07:00", html.UnescapeString(m[1]))
	if want := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC); err != nil || !from.Equal(want) {
		t.Errorf("first SMS at %q (%v), want %s", m[1], err, want)
	}
	_, body = media.get("/ui/lessons/1/plan?at=" + url.QueryEscape(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC).Format(time.RFC3339)))
	if strings.Contains(body, `id="sim-sms-from"`) || !strings.Contains(body, `id="plan-simulation"`) {
		t.Errorf("outside the quiet hours:\n%s", body)
	}
}
