package ui

import (
	"context"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	relais "github.com/relais-edu/relais"
)

// seedDashboard adds to the fixture's lesson 2 (SMS: 1 delivered, 2 failed) a family that opted out of
// SMS and an email sent, and a lesson 3 of t2 with an email that bounced and one still pending.
func (f *fixture) seedDashboard(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	hs := []relais.Household{
		{ExternalRef: "D", Region: "IDF", Language: "fr", Grades: []int{5}, Profile: relais.ProfileSMSOnly, Phone: "+33612000004", Consent: true, SMSOptOut: true},
		{ExternalRef: "E", Region: "IDF", Language: "fr", Grades: []int{5}, Profile: relais.ProfileBroadband, Email: "e@example.org", Consent: true},
		{ExternalRef: "F", Region: "IDF", Language: "fr", Grades: []int{5}, Profile: relais.ProfileBroadband, Email: "f@example.org", Consent: true},
	}
	must(f.store.UpsertHouseholds(ctx, hs))
	ids, err := f.store.PlanDeliveries(ctx, []relais.Delivery{
		{LessonID: 2, HouseholdID: hs[0].ID, Channel: relais.ChannelSMS, Status: relais.DeliverySkipped, Reason: relais.OptedOutReason(relais.ChannelSMS)},
		{LessonID: 2, HouseholdID: hs[1].ID, Channel: relais.ChannelEmail},
	})
	must(err)
	_, err = f.store.AdvanceDelivery(ctx, ids[0], relais.DeliverySent, "accepted by provider", "<m1@relais>")
	must(err)
	l3 := relais.Lesson{Title: "Other lesson", Subject: "français", Grade: 5, Language: "fr", TeacherID: "t2", SegmentBudget: 3}
	must(f.store.CreateLesson(ctx, &l3))
	must(f.store.SetLessonStatus(ctx, l3.ID, relais.LessonPublished, nil))
	ids, err = f.store.PlanDeliveries(ctx, []relais.Delivery{
		{LessonID: l3.ID, HouseholdID: hs[1].ID, Channel: relais.ChannelEmail},
		{LessonID: l3.ID, HouseholdID: hs[2].ID, Channel: relais.ChannelEmail},
	})
	must(err)
	_, err = f.store.AdvanceDelivery(ctx, ids[0], relais.DeliveryFailed, "hard bounce: 5.1.1 user unknown", "")
	must(err)
}

var (
	chartRe  = regexp.MustCompile(`(?s)<figure class="chart" id="(chart-[a-z]+)" data-channel="([a-z]+)" data-buckets="(\d+)">(.*?)</figure>`)
	seriesRe = regexp.MustCompile(`<g class="series series-([a-z_]+)" data-series="[a-z_]+" data-total="(\d+)"><polyline points="([^"]*)"`)
	rowRe    = regexp.MustCompile(`<tr><th scope="row"><time datetime="[^"]+">[^<]+</time></th>((?:<td>\d+</td>)+)</tr>`)
	cellRe   = regexp.MustCompile(`<td>(\d+)</td>`)
)

// chart is what a page's chart says: buckets, the points of each line, the totals the lines carry,
// and the sums of the columns of its data table (sent, delivered, failed, opted out).
type chart struct {
	buckets, rows int
	points        map[string]int
	totals        map[string]int
	tableSums     []int
	body          string
}

func charts(t *testing.T, page string) map[string]chart {
	t.Helper()
	out := map[string]chart{}
	for _, m := range chartRe.FindAllStringSubmatch(page, -1) {
		c := chart{points: map[string]int{}, totals: map[string]int{}, tableSums: make([]int, 4), body: m[4]}
		c.buckets, _ = strconv.Atoi(m[3])
		for _, s := range seriesRe.FindAllStringSubmatch(m[4], -1) {
			c.points[s[1]] = len(strings.Fields(s[3]))
			c.totals[s[1]], _ = strconv.Atoi(s[2])
		}
		for _, r := range rowRe.FindAllStringSubmatch(m[4], -1) {
			c.rows++
			for i, cell := range cellRe.FindAllStringSubmatch(r[1], -1) {
				n, _ := strconv.Atoi(cell[1])
				c.tableSums[i] += n
			}
		}
		out[m[2]] = c
	}
	return out
}

func TestDashboardCharts(t *testing.T) {
	f := newFixture(t, nil)
	f.seedDashboard(t)
	media := f.browser("m")

	status, page := media.get("/ui/lessons/2/deliveries?range=1h")
	if status != 200 {
		t.Fatalf("lesson dashboard: %d\n%s", status, page)
	}
	if strings.Contains(page, " style=") || strings.Contains(page, "<style") || strings.Contains(page, "<script>") {
		t.Error("the dashboard carries inline style or script, which the CSP blocks")
	}
	for _, want := range []string{`<section id="timeline"`, `<nav id="range"`, `<details id="definitions">`,
		`<a href="/ui/lessons/2/deliveries?range=1h" aria-current="page">Last hour</a>`,
		`<td>sms</td><td>failed</td><td>invalid number (21211)</td><td>2</td>`, `<table id="failures"`} {
		if !strings.Contains(page, want) {
			t.Errorf("lesson dashboard lacks %q", want)
		}
	}
	if strings.Contains(page, "hard bounce") {
		t.Error("the lesson dashboard shows another lesson's failure")
	}
	got := charts(t, page)
	// The delivered SMS went straight from queued: its "sent" is implied, and counted.
	want := map[string]struct{ sent, delivered, failed, optedOut int }{"sms": {1, 1, 2, 1}, "email": {1, 0, 0, 0}}
	if len(got) != len(want) {
		t.Errorf("charts for %v, want sms and email", got)
	}
	for ch, w := range want {
		c, ok := got[ch]
		if !ok {
			t.Errorf("no %s chart", ch)
			continue
		}
		wantTotals := map[string]int{"sent": w.sent, "delivered": w.delivered, "failed": w.failed, "opted_out": w.optedOut}
		if c.buckets != 60 || c.rows != 60 {
			t.Errorf("%s chart: %d buckets, %d table rows; want 60 one-minute buckets over the hour", ch, c.buckets, c.rows)
		}
		for key, total := range wantTotals {
			if c.points[key] != 60 || c.totals[key] != total {
				t.Errorf("%s %s line: %d points, total %d; want 60 points, total %d", ch, key, c.points[key], c.totals[key], total)
			}
		}
		if sums := []int{w.sent, w.delivered, w.failed, w.optedOut}; !slices.Equal(c.tableSums, sums) {
			t.Errorf("%s data table sums %v, want %v", ch, c.tableSums, sums)
		}
		// The text alternative: the SVG is an image labelled by its title and description.
		id := "chart-" + ch
		for _, alt := range []string{`role="img" aria-labelledby="` + id + `-title ` + id + `-desc"`, `<title id="` + id + `-title">`,
			`<desc id="` + id + `-desc">`, `<table class="timeline-data" id="` + id + `-data">`} {
			if !strings.Contains(c.body, alt) {
				t.Errorf("%s chart lacks %q", ch, alt)
			}
		}
	}
	if c := got["sms"]; !strings.Contains(c.body, "1 sent, 1 delivered, 2 failed, 1 opted out.") {
		t.Errorf("the SMS chart's description does not give its totals:\n%.1500s", c.body)
	}

	// By default a lesson's dashboard starts with its first delivery (here, an hour).
	_, page = media.get("/ui/lessons/2/deliveries")
	if !strings.Contains(page, `aria-current="page">Since the first delivery</a>`) || charts(t, page)["sms"].buckets != 60 {
		t.Errorf("default lesson dashboard: not since the first delivery, or not 60 buckets")
	}
	// A lesson with no delivery yet has no chart.
	if _, page = media.get("/ui/lessons/1/deliveries"); !strings.Contains(page, `<p id="timeline-empty">The charts begin with the lesson&#39;s first delivery.</p>`) {
		t.Errorf("lesson 1 (not published) dashboard:\n%s", page)
	}
	// A period with nothing charted says so.
	if status, page = media.get("/ui/lessons/2/deliveries?range=fortnight"); status != 400 ||
		!strings.Contains(page, `Unknown period &#34;fortnight&#34;: choose one of Since the first delivery, Last hour, Last 24 hours, Last 7 days, Last 30 days.`) {
		t.Errorf("unknown period: %d\n%s", status, page)
	}
}

func TestOverviewDashboard(t *testing.T) {
	f := newFixture(t, nil)
	f.seedDashboard(t)
	if status, _ := f.browser("t1").get("/ui/dashboard"); status != 403 {
		t.Errorf("a teacher opened the dashboard of every lesson: %d", status)
	}
	admin := f.browser("a")
	status, page := admin.get("/ui/dashboard")
	if status != 200 {
		t.Fatalf("overview: %d\n%s", status, page)
	}
	for _, want := range []string{`<a href="/ui/dashboard" id="nav-dashboard">Dashboard</a>`, `<h1>Deliveries of every lesson</h1>`,
		`aria-current="page">Last 24 hours</a>`, `<h2 id="failures-heading">Failure reasons in this period</h2>`,
		// Failure reasons of every lesson, the most frequent first, grouped in SQL.
		`<tbody><tr><td>sms</td><td>failed</td><td>invalid number (21211)</td><td>2</td></tr><tr><td>email</td><td>failed</td><td>hard bounce: 5.1.1 user unknown</td><td>1</td></tr></tbody>`,
		// A pending email of lesson 3: the page refreshes itself.
		`<meta http-equiv="refresh" content="10">`, `<p class="help" id="auto-refresh">`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("overview lacks %q", want)
		}
	}
	got := charts(t, page)
	if c := got["email"]; c.buckets != 24 || c.points["sent"] != 24 || c.totals["sent"] != 1 || c.totals["failed"] != 1 {
		t.Errorf("email chart of every lesson: %d buckets, sent line %d points total %d, failed total %d; want 24 hourly, 1 sent, 1 failed",
			c.buckets, c.points["sent"], c.totals["sent"], c.totals["failed"])
	}
	if c := got["sms"]; c.totals["failed"] != 2 || c.totals["opted_out"] != 1 {
		t.Errorf("sms chart of every lesson: %v", c.totals)
	}
	// A week: 28 buckets of 6 hours; a month: 30 days.
	for rng, n := range map[string]int{"7d": 28, "30d": 30} {
		if _, page := admin.get("/ui/dashboard?range=" + rng); charts(t, page)["sms"].buckets != n {
			t.Errorf("range %s: %d buckets, want %d", rng, charts(t, page)["sms"].buckets, n)
		}
	}
	// In French.
	admin.lang = "fr"
	if _, page := admin.get("/ui/dashboard"); !strings.Contains(page, "Tableau de bord") || !strings.Contains(page, "désinscrits") {
		t.Errorf("the dashboard in French lacks its words")
	}
}

// Unknown deliveries are counted on a lesson's dashboard, which offers the media unit to resend them
// in one action; the button is not there when there are none.
func TestDashboardOffersToResendUnknowns(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	media := f.browser("m")
	if _, page := media.get("/ui/lessons/2/deliveries"); strings.Contains(page, `id="resend-unknown"`) {
		t.Error("a resend button with no unknown delivery")
	}
	h := relais.Household{ExternalRef: "U", Region: "IDF", Language: "fr", Grades: []int{5}, Profile: relais.ProfileBroadband,
		Email: "u@example.org", Consent: true}
	if err := f.store.UpsertHouseholds(ctx, []relais.Household{h}); err != nil {
		t.Fatal(err)
	}
	hs, _ := f.store.Households(ctx, relais.HouseholdFilter{Grade: 5, Page: relais.Page{Limit: 100}})
	ids, err := f.store.PlanDeliveries(ctx, []relais.Delivery{{LessonID: 2, HouseholdID: hs[len(hs)-1].ID, Channel: relais.ChannelEmail}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.ClaimDeliveries(ctx, ids, "a1", time.Now()); err != nil {
		t.Fatal(err)
	}
	if ok, err := f.store.AdvanceDelivery(ctx, ids[0], relais.DeliveryUnknown, "attempt died", ""); err != nil || !ok {
		t.Fatalf("claim made unknown: %v, %v", ok, err)
	}
	_, page := media.get("/ui/lessons/2/deliveries")
	for _, want := range []string{`<th scope="col">unknown</th>`, `action="/ui/lessons/2/resend-unknown"`, `id="resend-unknown"`} {
		if !strings.Contains(page, want) {
			t.Errorf("dashboard lacks %q", want)
		}
	}
	if status, _ := media.postForm("/ui/lessons/2/resend-unknown", nil); status != 303 {
		t.Errorf("resend unknowns: %d", status)
	}
}
