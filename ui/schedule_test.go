package ui

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/scheduler"
)

// fetch is a GET that keeps the response headers.
func (c *client) fetch(path string) (*http.Response, string) {
	c.f.t.Helper()
	req, _ := http.NewRequest("GET", c.f.srv.URL+path, nil)
	req.Header.Set("Accept-Language", c.lang)
	resp, err := c.hc.Do(req)
	if err != nil {
		c.f.t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

// follow GETs the page a 303 sent the browser to.
func (c *client) follow(status int, loc string) string {
	c.f.t.Helper()
	if status != http.StatusSeeOther || loc == "" {
		c.f.t.Fatalf("want a redirect, got %d to %q", status, loc)
	}
	_, body := c.get(loc)
	return body
}

// postRedirect posts a form and returns the status and the redirect's location.
func (c *client) postRedirect(path string, v url.Values) (int, string, string) {
	c.f.t.Helper()
	if !v.Has("csrf") {
		v.Set("csrf", c.csrf)
	}
	req, _ := http.NewRequest("POST", c.f.srv.URL+path, strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept-Language", c.lang)
	resp, err := c.hc.Do(req)
	if err != nil {
		c.f.t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if m := csrfField.FindSubmatch(b); m != nil {
		c.csrf = string(m[1])
	}
	return resp.StatusCode, resp.Header.Get("Location"), string(b)
}

// slotCell returns the grid cell of a slot.
func slotCell(t *testing.T, body string, id int64) string {
	t.Helper()
	m := regexp.MustCompile(fmt.Sprintf(`(?s)<td id="slot-%d" .*?</td>`, id)).FindString(body)
	if m == "" {
		t.Fatalf("no cell for slot %d in:\n%s", id, body)
	}
	return m
}

// seedGrid gives the fixture, once, station 1 (TV, Asia/Almaty, every region) with 30-minute slots at
// 09:00 and 09:30 on Monday 2 March 2026 to Friday 6 March: slots 1 and 2 are Monday's.
func (f *fixture) seedGrid() {
	f.t.Helper()
	ctx := context.Background()
	if sts, err := f.store.Stations(ctx); err != nil || len(sts) > 0 {
		return
	}
	svc := scheduler.New(f.store, f.store, nil)
	st := relais.Station{Name: "Balapan", Kind: relais.StationTV, TimeZone: "Asia/Almaty", Filler: "/srv/playout/filler.ts"}
	if err := svc.CreateStation(ctx, &st); err != nil {
		f.t.Fatal(err)
	}
	if _, err := svc.AddTemplate(ctx, relais.Template{StationID: st.ID, Weekdays: []int{1, 2, 3, 4, 5}, Start: "09:00",
		End: "10:00", SlotMin: 30, Grade: 5, From: "2026-03-02", To: "2026-03-06"}); err != nil {
		f.t.Fatal(err)
	}
}

// approvedLesson stores a ready lesson of grade 5, maths, in French, approved for broadcast.
func (f *fixture) approvedLesson(title string, d time.Duration) relais.Lesson {
	f.t.Helper()
	ctx := context.Background()
	l := relais.Lesson{Title: title, Subject: "maths", Grade: 5, Language: "fr", TeacherID: "t1", Markdown: "- un\n", SegmentBudget: 3}
	if err := f.store.CreateLesson(ctx, &l); err != nil {
		f.t.Fatal(err)
	}
	f.store.SetLessonDuration(ctx, l.ID, d)
	f.store.SetLessonStatus(ctx, l.ID, relais.LessonReady, nil)
	f.approve(l.ID)
	l, _ = f.store.Lesson(ctx, l.ID)
	return l
}

func (f *fixture) approve(lessonID int64) {
	f.t.Helper()
	if err := f.store.SetApproval(context.Background(), relais.Approval{LessonID: lessonID, State: relais.Approved,
		DecidedBy: "m", UpdatedAt: time.Now()}); err != nil {
		f.t.Fatal(err)
	}
}

// TestStationAndSlotForms builds a grid from nothing through the forms: a station, a weekly block of
// slots and a one-off slot, with the API's refusals shown on the page.
func TestStationAndSlotForms(t *testing.T) {
	f := newFixture(t, nil)
	media := f.browser("m")
	if _, body := media.get("/ui/grid"); !strings.Contains(body, `id="no-stations"`) {
		t.Errorf("grid without stations:\n%s", body)
	}
	status, _, body := media.postRedirect("/ui/stations", url.Values{"name": {"Balapan"}, "kind": {"tv"}, "time_zone": {"Nowhere/City"}})
	if status != 400 || !strings.Contains(body, `role="alert"`) || !strings.Contains(body, "Nowhere/City") ||
		!strings.Contains(body, `name="name" required maxlength="100" value="Balapan"`) {
		t.Errorf("station with a bad zone: %d\n%s", status, body)
	}
	status, loc, _ := media.postRedirect("/ui/stations", url.Values{"name": {"Balapan"}, "kind": {"tv"}, "time_zone": {"Asia/Almaty"},
		"playout_format": {"ffplayout"}})
	if status != 303 || loc != "/ui/grid?station=1" {
		t.Fatalf("create station: %d %q", status, loc)
	}
	if _, body := media.get("/ui/stations"); !strings.Contains(body, `<tr data-station-id="1"><th scope="row">Balapan</th><td>tv</td>`) {
		t.Errorf("stations list:\n%s", body)
	}
	body = media.follow(status, loc)
	if !strings.Contains(body, `id="grid"`) || !strings.Contains(body, `id="grid-empty"`) || !strings.Contains(body, `<details id="add-template-box" open>`) {
		t.Errorf("empty grid of the new station:\n%s", body)
	}

	form := url.Values{"weekdays": {"1", "2", "3", "4", "5"}, "start": {"09:00"}, "end": {"10:00"}, "slot_minutes": {"30"},
		"grade": {"5"}, "language": {"fr"}, "from": {"2026-03-04"}, "to": {"2026-03-06"}}
	status, loc, _ = media.postRedirect("/ui/stations/1/templates", form)
	if status != 303 || !strings.Contains(loc, "added=6") || !strings.Contains(loc, "week=2026-03-02") {
		t.Fatalf("add template: %d %q", status, loc)
	}
	body = media.follow(status, loc)
	if !strings.Contains(body, "6 slots added.") || strings.Count(body, "data-slot-id=") != 6 {
		t.Errorf("grid after the template:\n%s", body)
	}
	// A block overlapping it is refused with the API's reason, and the form keeps what was typed.
	form.Set("start", "09:15")
	status, _, body = media.postRedirect("/ui/stations/1/templates", form)
	if status != 409 || !strings.Contains(body, "would overlap the slot 2026-03-04 09:00") ||
		!strings.Contains(body, `<details id="add-template-box" open>`) || !strings.Contains(body, `value="09:15"`) {
		t.Errorf("overlapping template: %d\n%s", status, body)
	}
	status, _, body = media.postRedirect("/ui/stations/1/templates", url.Values{"grade": {"cinq"}})
	if status != 400 || !strings.Contains(body, `Grade must be a whole number, not &#34;cinq&#34;.`) {
		t.Errorf("template with a word for a number: %d\n%s", status, body)
	}

	status, loc, _ = media.postRedirect("/ui/stations/1/slots", url.Values{"day": {"2026-03-07"}, "start": {"10:00"}, "minutes": {"45"}})
	if status != 303 || !strings.Contains(loc, "week=2026-03-02") || !strings.HasSuffix(loc, "#slot-7") {
		t.Fatalf("add slot: %d %q", status, loc)
	}
	body = media.follow(status, loc)
	if cell := slotCell(t, body, 7); !strings.Contains(cell, `data-day="2026-03-07" data-start="10:00"`) || !strings.Contains(cell, "10:00–10:45") {
		t.Errorf("the Saturday slot: %s", cell)
	}
	status, _, body = media.postRedirect("/ui/stations/1/slots", url.Values{"day": {"2026-03-07"}, "start": {"10:30"}, "minutes": {"30"}})
	if status != 409 || !strings.Contains(body, "would overlap") || !strings.Contains(body, `<details id="add-slot-box" open>`) {
		t.Errorf("overlapping slot: %d\n%s", status, body)
	}

	// Cancelling a day removes its slots.
	status, loc, _ = media.postRedirect("/ui/stations/1/exceptions", url.Values{"day": {"2026-03-06"}, "reason": {"Nauryz"}})
	if status != 303 {
		t.Fatalf("cancel a day: %d", status)
	}
	body = media.follow(status, loc)
	if !strings.Contains(body, "2 slots removed.") || !strings.Contains(body, "Cancelled: Nauryz") || strings.Count(body, "data-slot-id=") != 5 {
		t.Errorf("grid after cancelling Friday:\n%s", body)
	}
}

// TestGridWeek shows a station's week in its own zone: days as columns from Monday, start times as
// rows, the zone's offset, the neighbouring weeks, and each day's offset in a week the clocks change.
func TestGridWeek(t *testing.T) {
	f := newFixture(t, nil)
	f.seedGrid()
	ctx := context.Background()
	paris := relais.Station{Name: "France Éducation", Kind: relais.StationRadio, TimeZone: "Europe/Paris"}
	svc := scheduler.New(f.store, f.store, nil)
	if err := svc.CreateStation(ctx, &paris); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.AddTemplate(ctx, relais.Template{StationID: paris.ID, Weekdays: []int{0, 6}, Start: "02:00", End: "03:00",
		SlotMin: 60, From: "2026-03-28", To: "2026-03-29"}); err != nil {
		t.Fatal(err)
	}
	media := f.browser("m")
	// Any day of the week shows the week from its Monday.
	status, body := media.get("/ui/grid?station=1&week=2026-03-04")
	if status != 200 {
		t.Fatalf("grid: %d\n%s", status, body)
	}
	for _, want := range []string{
		`<table id="grid" data-station-id="1" data-week="2026-03-02" data-zone="Asia/Almaty">`,
		`<span id="grid-zone">times in Asia/Almaty (UTC&#43;05:00)</span>`,
		`<th scope="col" data-day="2026-03-02">Monday<br>2026-03-02`, `<th scope="col" data-day="2026-03-08">Sunday<br>2026-03-08`,
		`href="/ui/grid?station=1&amp;week=2026-02-23"`, `href="/ui/grid?station=1&amp;week=2026-03-09"`,
		`href="/ui/stations/1/epg?from=2026-03-02&amp;to=2026-03-08"`, `href="/ui/stations/1/playlist?date=2026-03-04"`,
		`<option value="1" selected>Balapan</option>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("grid lacks %q", want)
		}
	}
	// Rows are start times in the station's zone; Monday's 09:00 slot is the first cell of the 09:00 row.
	if !regexp.MustCompile(`<tr><th scope="row">09:00</th>\s*<td id="slot-1" data-slot-id="1" data-day="2026-03-02" data-start="09:00"`).MatchString(body) ||
		!regexp.MustCompile(`<tr><th scope="row">09:30</th>\s*<td id="slot-2" data-slot-id="2" data-day="2026-03-02"`).MatchString(body) {
		t.Errorf("rows and cells:\n%s", body)
	}
	if n := strings.Count(body, "data-slot-id="); n != 10 {
		t.Errorf("%d slot cells, want 10", n)
	}
	if n := strings.Count(body, `<td class="noslot"></td>`); n != 4 {
		t.Errorf("%d empty cells (the weekend), want 4", n)
	}
	// The guide says the same instants with the zone's offset.
	resp, xml := media.fetch("/ui/stations/1/epg?from=2026-03-02&to=2026-03-08")
	if resp.StatusCode != 200 || strings.Contains(xml, "<programme") {
		t.Errorf("guide of an empty week: %d\n%s", resp.StatusCode, xml)
	}

	// Paris goes to summer time on Sunday 29 March 2026: each day shows its offset.
	_, body = media.get(fmt.Sprintf("/ui/grid?station=%d&week=2026-03-23", paris.ID))
	for _, want := range []string{"Europe/Paris (UTC&#43;01:00)", "the clocks change this week", "<small>UTC&#43;01:00</small>", "<small>UTC&#43;02:00</small>",
		`data-day="2026-03-28" data-start="02:00"`} {
		if !strings.Contains(body, want) {
			t.Errorf("week of the clock change lacks %q", want)
		}
	}
	// 02:00 does not exist on 29 March in Paris: that slot was never made.
	if strings.Contains(body, `data-day="2026-03-29" data-start`) {
		t.Errorf("a slot in the spring-forward gap:\n%s", body)
	}

	if status, body := media.get("/ui/grid?station=99"); status != 404 || !strings.Contains(body, `Station &#34;99&#34; not found.`) {
		t.Errorf("unknown station: %d\n%s", status, body)
	}
	if status, body := media.get("/ui/grid?station=1&week=soon"); status != 400 || !strings.Contains(body, "is not a day") {
		t.Errorf("bad week: %d\n%s", status, body)
	}
	if status, _ := f.browser("t1").get("/ui/grid"); status != 403 {
		t.Errorf("teacher opens the grid: %d", status)
	}
}

// TestGridAssign assigns lessons through the slot forms and shows refusals, overruns and conflicts.
func TestGridAssign(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	f.seedGrid()
	fits := f.approvedLesson("Les angles", 25*time.Minute)
	long := f.approvedLesson("La géométrie", 40*time.Minute)
	media := f.browser("m")
	grid := "/ui/grid?station=1&week=2026-03-02"

	_, body := media.get(grid)
	cell := slotCell(t, body, 1)
	if !strings.Contains(cell, fmt.Sprintf(`<option value="%d">#%d Les angles · 5 · maths · fr · 25 min</option>`, fits.ID, fits.ID)) ||
		!strings.Contains(cell, fmt.Sprintf(`<option value="%d" disabled>#%d La géométrie · 5 · maths · fr · 40 min — longer than the slot</option>`, long.ID, long.ID)) ||
		strings.Contains(cell, "Published lesson") {
		t.Errorf("choices of an empty slot: %s", cell)
	}

	status, loc, _ := media.postRedirect("/ui/slots/1/assign", url.Values{"lesson": {fmt.Sprint(fits.ID)}})
	if status != 303 || loc != "/ui/grid?station=1&week=2026-03-02#slot-1" {
		t.Fatalf("assign: %d %q", status, loc)
	}
	body = media.follow(status, loc)
	cell = slotCell(t, body, 1)
	if !strings.Contains(cell, fmt.Sprintf(`<a class="slot-lesson" data-lesson-id="%d" href="/ui/lessons/%d">#%d Les angles</a>`, fits.ID, fits.ID, fits.ID)) ||
		!strings.Contains(cell, `action="/ui/slots/1/unassign"`) || strings.Contains(cell, "overrun") {
		t.Errorf("assigned slot: %s", cell)
	}
	if sl, _ := f.store.Slot(ctx, 1); !slices.Equal(sl.LessonIDs(), []int64{fits.ID}) {
		t.Errorf("slot 1 holds lessons %v, want %d", sl.LessonIDs(), fits.ID)
	}
	// Now scheduled, the lesson is offered elsewhere as a re-run.
	if cell := slotCell(t, body, 2); !strings.Contains(cell, fmt.Sprintf(`<option value="%d:rerun">`, fits.ID)) {
		t.Errorf("re-run choice: %s", cell)
	}

	// The API's refusals, with the slot they are about.
	for _, tc := range []struct {
		slot   int64
		lesson string
		status int
		want   string
	}{
		{2, fmt.Sprint(fits.ID), 409, fmt.Sprintf("2026-03-02 09:30: Lesson %d is already scheduled; assign it as a re-run to air it again.", fits.ID)},
		{1, fmt.Sprintf("%d:rerun", fits.ID), 409, fmt.Sprintf("2026-03-02 09:00: Slot 1 already airs lesson %d.", fits.ID)},
		{3, fmt.Sprint(long.ID), 400, fmt.Sprintf("Lesson %d does not fit slot 3: The lesson lasts 40 min; it overruns its 30 min slot by 600 s.", long.ID)},
		{3, "2", 409, "Lesson 2 is not approved for broadcast."},
		{3, "", 400, "Choose a lesson for the slot."},
	} {
		status, _, body := media.postRedirect(fmt.Sprintf("/ui/slots/%d/assign", tc.slot), url.Values{"lesson": {tc.lesson}})
		if status != tc.status || !strings.Contains(body, `<div class="error" role="alert">`) || !strings.Contains(body, tc.want) ||
			!strings.Contains(body, `id="grid"`) {
			t.Errorf("assign %q to slot %d: %d, want %d with %q\n%s", tc.lesson, tc.slot, status, tc.status, tc.want, body)
		}
	}
	if status, _, _ := media.postRedirect("/ui/slots/99/assign", url.Values{"lesson": {"1"}}); status != 404 {
		t.Errorf("assign to a missing slot: %d", status)
	}

	status, loc, _ = media.postRedirect("/ui/slots/2/assign", url.Values{"lesson": {fmt.Sprintf("%d:rerun", fits.ID)}})
	body = media.follow(status, loc)
	if cell := slotCell(t, body, 2); !strings.Contains(cell, "25 min · re-run") {
		t.Errorf("re-run slot: %s", cell)
	}

	// The lesson was re-cut longer than its slot: the grid marks the overrun.
	f.store.SetLessonDuration(ctx, fits.ID, 35*time.Minute+30*time.Second)
	_, body = media.get(grid)
	cell = slotCell(t, body, 1)
	if !strings.Contains(cell, `class="slot assigned overrun conflict"`) ||
		!strings.Contains(cell, `<strong class="overrun-mark">⚠ Overrun: the lesson lasts 35 min 30 s, 5 min 30 s more than its 30 min slot.</strong>`) {
		t.Errorf("overrun not marked: %s", cell)
	}
	// No TV file for this lesson: the day's playlist would fail, and the grid says so.
	if !strings.Contains(cell, "The lesson has no tv file") {
		t.Errorf("missing rendition not marked: %s", cell)
	}
	// Cut down to 20 seconds, it leaves nearly all its slot to the station's filler: the grid says so.
	f.store.SetLessonDuration(ctx, fits.ID, 20*time.Second)
	_, body = media.get(grid)
	if cell := slotCell(t, body, 1); !strings.Contains(cell, `class="slot assigned underrun conflict"`) ||
		!strings.Contains(cell, `<strong class="underrun-mark">⚠ Under-run: the lesson lasts 20 s and leaves 29 min 40 s of its 30 min slot to filler.</strong>`) {
		t.Errorf("under-run not marked: %s", cell)
	}
	f.store.SetLessonDuration(ctx, fits.ID, 35*time.Minute+30*time.Second)
	// A slot slipped into the grid behind the scheduler's back overlaps its neighbour.
	if err := f.store.AddSlots(ctx, 1, nil, []relais.Slot{{Day: "2026-03-03", Start: "09:15", Duration: 30 * time.Minute}},
		func([]relais.Slot) error { return nil }); err != nil {
		t.Fatal(err)
	}
	_, body = media.get(grid)
	if !strings.Contains(body, "Overlaps the slot of 2026-03-03 09:00.") {
		t.Errorf("overlap not marked:\n%s", body)
	}

	status, loc, _ = media.postRedirect("/ui/slots/2/unassign", url.Values{})
	body = media.follow(status, loc)
	if cell := slotCell(t, body, 2); !strings.Contains(cell, `action="/ui/slots/2/assign"`) {
		t.Errorf("unassigned slot: %s", cell)
	}
	if sl, _ := f.store.Slot(ctx, 2); len(sl.Lessons) != 0 {
		t.Errorf("slot 2 still holds lessons %v", sl.LessonIDs())
	}
}

// TestAutoFill fills a day's empty slots through the form and reports what it did.
func TestAutoFill(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	f.seedGrid()
	a := f.approvedLesson("Les angles", 25*time.Minute)
	b := f.approvedLesson("Les triangles", 20*time.Minute)
	g6 := relais.Lesson{Title: "Grade six", Subject: "maths", Grade: 6, Language: "fr", TeacherID: "t1"}
	if err := f.store.CreateLesson(ctx, &g6); err != nil {
		t.Fatal(err)
	}
	f.store.SetLessonStatus(ctx, g6.ID, relais.LessonReady, nil)
	f.approve(g6.ID)
	media := f.browser("m")
	media.get("/ui/grid?station=1&week=2026-03-02")
	status, body := media.postForm("/ui/schedule/fill", url.Values{"from": {"2026-03-02"}, "to": {"2026-03-02"}, "station_ids": {"1"},
		"station": {"1"}, "week": {"2026-03-02"}})
	if status != 200 {
		t.Fatalf("fill: %d\n%s", status, body)
	}
	for _, want := range []string{`id="fill-report"`, "Lessons placed: 2", "Re-runs: 0", "Slots still empty: 0",
		fmt.Sprintf(`<tr data-lesson-id="%d"><td><a href="/ui/lessons/%d">#%d Grade six</a></td><td>no empty slot for grade 6, maths, in fr</td></tr>`, g6.ID, g6.ID, g6.ID)} {
		if !strings.Contains(body, want) {
			t.Errorf("fill report lacks %q\n%s", want, body)
		}
	}
	slots, _ := f.store.Slots(ctx, relais.SlotFilter{StationID: 1, From: "2026-03-02", To: "2026-03-02"})
	if len(slots) != 2 || !slices.Equal(slots[0].LessonIDs(), []int64{a.ID}) || !slices.Equal(slots[1].LessonIDs(), []int64{b.ID}) {
		t.Errorf("Monday's slots after the fill: %+v, want lessons %d and %d", slots, a.ID, b.ID)
	}
	if cell := slotCell(t, body, 1); !strings.Contains(cell, fmt.Sprintf(`data-lesson-id="%d"`, a.ID)) {
		t.Errorf("the grid under the report does not show the filled slot: %s", cell)
	}
	status, body = media.postForm("/ui/schedule/fill", url.Values{"from": {"2026-03-03"}, "station": {"1"}, "week": {"2026-03-02"}})
	if status != 400 || !strings.Contains(body, "Give from and to as days (YYYY-MM-DD).") || !strings.Contains(body, `value="2026-03-03"`) {
		t.Errorf("fill without an end: %d\n%s", status, body)
	}
}

// TestScheduleDownloads downloads the week's guide and a day's playlist as attachments.
func TestScheduleDownloads(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	f.seedGrid()
	tv := filepath.Join(t.TempDir(), "lesson1.ts")
	if err := os.WriteFile(tv, []byte("fake ts"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := f.store.PutRendition(ctx, relais.Rendition{LessonID: 1, Kind: relais.RenditionTV, Path: tv, Container: "mpegts", DurationMS: 20 * 60000}); err != nil {
		t.Fatal(err)
	}
	f.approve(1)
	if err := scheduler.New(f.store, f.store, nil).Assign(ctx, 1, 1, false); err != nil {
		t.Fatal(err)
	}
	media := f.browser("m")
	for _, tc := range []struct {
		path, ctype, file, want string
	}{
		{"/ui/stations/1/epg?from=2026-03-02&to=2026-03-08", "application/xml; charset=utf-8", "station-1-epg-2026-03-02-2026-03-08.xml",
			`<programme start="20260302090000 +0500" stop="20260302092000 +0500" channel="station-1.relais">`},
		{"/ui/stations/1/playlist?date=2026-03-02", "application/json; charset=utf-8", "station-1-playlist-2026-03-02.json", `"source": "` + tv + `"`},
		{"/ui/stations/1/playlist?date=2026-03-02&format=m3u", "audio/x-mpegurl; charset=utf-8", "station-1-playlist-2026-03-02.m3u", "#EXTM3U\n"},
	} {
		resp, body := media.fetch(tc.path)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != tc.ctype ||
			resp.Header.Get("Content-Disposition") != `attachment; filename=`+tc.file || !strings.Contains(body, tc.want) {
			t.Errorf("GET %s: %d %q %q\n%s", tc.path, resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Content-Disposition"), body)
		}
	}
	// A refusal is a page, not a JSON body saved as a file.
	resp, body := media.fetch("/ui/stations/1/epg?from=2026-03-08&to=2026-03-02")
	if resp.StatusCode != 400 || resp.Header.Get("Content-Disposition") != "" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
		!strings.Contains(body, "Give a range of 1 to 93 days") {
		t.Errorf("bad range: %d %v\n%s", resp.StatusCode, resp.Header, body)
	}
	if resp, _ := media.fetch("/ui/stations/7/playlist?date=2026-03-02"); resp.StatusCode != 404 {
		t.Errorf("playlist of a missing station: %d", resp.StatusCode)
	}
}

func TestSpanText(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0 s", 45 * time.Second: "45 s", 12*time.Minute + 20*time.Second: "12 min", 2 * time.Hour: "2 h",
		3*time.Hour + 20*time.Minute: "3 h 20 min", 120 * time.Hour: "5 d", 50 * time.Hour: "2 d 2 h",
	} {
		if got := spanText(d); got != want {
			t.Errorf("spanText(%s) = %q, want %q", d, got, want)
		}
	}
}

// TestGridSequence fills one slot with several short lessons through the forms: each shows its own start
// within the slot, the time left limits what can be added, the under-run counts the whole sequence, and
// the lessons can be moved and removed.
func TestGridSequence(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	f.seedGrid()
	a := f.approvedLesson("Les angles", 10*time.Minute)
	b := f.approvedLesson("Les triangles", 8*time.Minute+30*time.Second)
	c := f.approvedLesson("Les carrés", 15*time.Minute)
	media := f.browser("m")
	media.get("/ui/grid?station=1&week=2026-03-02")
	for _, l := range []relais.Lesson{a, b} {
		status, loc, body := media.postRedirect("/ui/slots/1/assign", url.Values{"lesson": {fmt.Sprint(l.ID)}})
		if status != 303 {
			t.Fatalf("add lesson %d: %d\n%s", l.ID, status, body)
		}
		media.follow(status, loc)
	}
	_, body := media.get("/ui/grid?station=1&week=2026-03-02")
	cell := slotCell(t, body, 1)
	for _, want := range []string{
		fmt.Sprintf(`<li data-lesson-id="%d"><span class="slot-at">09:00:00</span> <a class="slot-lesson" data-lesson-id="%d"`, a.ID, a.ID),
		fmt.Sprintf(`<li data-lesson-id="%d"><span class="slot-at">09:10:00</span> <a class="slot-lesson" data-lesson-id="%d"`, b.ID, b.ID),
		`<span class="slot-total">Total 18 min 30 s · left 11 min 30 s</span>`,
		// 18 min 30 s of 30 leaves 11 min 30 s: more than five minutes and more than a quarter.
		`⚠ Under-run: the slot&#39;s 2 lessons last 18 min 30 s and leave 11 min 30 s of its 30 min to filler.`,
		fmt.Sprintf(`<option value="%d" disabled>#%d Les carrés · 5 · maths · fr · 15 min — longer than the time left</option>`, c.ID, c.ID),
		`<option value="">Add a lesson after these</option>`,
	} {
		if !strings.Contains(cell, want) {
			t.Errorf("slot 1 lacks %q:\n%s", want, cell)
		}
	}
	if strings.Contains(cell, fmt.Sprintf(`<option value="%d"`, a.ID)) {
		t.Errorf("a lesson the slot holds is offered again:\n%s", cell)
	}
	// Adding the 15-minute lesson is refused with what is left.
	status, _, body := media.postRedirect("/ui/slots/1/assign", url.Values{"lesson": {fmt.Sprint(c.ID)}})
	if status != 400 || !strings.Contains(body, fmt.Sprintf("Lesson %d does not fit slot 1: it lasts 15 min, and the 2 lessons already there leave 11 min 30 s of the 30 min slot.", c.ID)) {
		t.Errorf("a lesson longer than the time left: %d\n%s", status, body)
	}

	// The second lesson plays first: its start and the other's follow.
	status, loc, _ := media.postRedirect("/ui/slots/1/sequence", url.Values{"lesson": {fmt.Sprint(b.ID)}, "action": {"up"}})
	if status != 303 {
		t.Fatalf("move up: %d", status)
	}
	cell = slotCell(t, media.follow(status, loc), 1)
	if !strings.Contains(cell, fmt.Sprintf(`<li data-lesson-id="%d"><span class="slot-at">09:00:00</span>`, b.ID)) ||
		!strings.Contains(cell, fmt.Sprintf(`<li data-lesson-id="%d"><span class="slot-at">09:08:30</span>`, a.ID)) {
		t.Errorf("after moving lesson %d up:\n%s", b.ID, cell)
	}
	if sl, _ := f.store.Slot(ctx, 1); !slices.Equal(sl.LessonIDs(), []int64{b.ID, a.ID}) {
		t.Errorf("stored order %v, want %v", sl.LessonIDs(), []int64{b.ID, a.ID})
	}
	for _, tc := range []struct {
		form   url.Values
		status int
	}{
		{url.Values{"lesson": {fmt.Sprint(c.ID)}, "action": {"remove"}}, 400}, // not in the slot
		{url.Values{"lesson": {fmt.Sprint(a.ID)}, "action": {"sideways"}}, 400},
	} {
		if status, _, body := media.postRedirect("/ui/slots/1/sequence", tc.form); status != tc.status || !strings.Contains(body, `role="alert"`) {
			t.Errorf("sequence %v: %d, want %d", tc.form, status, tc.status)
		}
	}
	status, loc, _ = media.postRedirect("/ui/slots/1/sequence", url.Values{"lesson": {fmt.Sprint(b.ID)}, "action": {"remove"}})
	cell = slotCell(t, media.follow(status, loc), 1)
	if sl, _ := f.store.Slot(ctx, 1); !slices.Equal(sl.LessonIDs(), []int64{a.ID}) {
		t.Errorf("after removing lesson %d: %v", b.ID, sl.LessonIDs())
	}
	if !strings.Contains(cell, fmt.Sprintf(`<li data-lesson-id="%d"><span class="slot-at">09:00:00</span>`, a.ID)) ||
		!strings.Contains(cell, "⚠ Under-run: the lesson lasts 10 min and leaves 20 min of its 30 min slot to filler.") {
		t.Errorf("after the removal:\n%s", cell)
	}
}
