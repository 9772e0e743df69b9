package api

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	relais "github.com/relais-edu/relais"
)

func TestScheduleThroughTheAPI(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	js := "application/json"
	status, st := f.do("POST", "/api/v1/stations", "m", strings.NewReader(
		`{"name":"Balapan","kind":"tv","time_zone":"Asia/Almaty","region":"Almaty"}`), js)
	if status != 201 || st["id"] != float64(1) || st["service_name"] != "Balapan" || st["playout_format"] != "ffplayout" {
		t.Fatalf("create station = %d %v", status, st)
	}
	status, body := f.do("POST", "/api/v1/stations", "m", strings.NewReader(`{"name":"X","kind":"tv","time_zone":"Nowhere/City"}`), js)
	if status != 400 || !strings.Contains(errMessage(body), "Nowhere/City") {
		t.Errorf("bad zone = %d %v", status, body)
	}
	status, body = f.do("POST", "/api/v1/stations/1/templates", "m", strings.NewReader(`{"weekdays":[1,2,3,4,5],
		"start":"09:00","end":"18:00","slot_minutes":30,"grade":5,"language":"fr","from":"2026-03-02","to":"2026-03-06"}`), js)
	if status != 201 || body["slots"] != float64(90) {
		t.Fatalf("template = %d %v", status, body)
	}
	status, body = f.do("POST", "/api/v1/stations/1/slots", "m", strings.NewReader(`{"day":"2026-03-02","start":"17:45","minutes":30}`), js)
	if status != 409 {
		t.Errorf("overlapping slot = %d %v", status, body)
	}

	l := relais.Lesson{Title: "Les fractions", Subject: "maths", Grade: 5, Language: "fr", TeacherID: "t1"}
	if err := f.store.CreateLesson(ctx, &l); err != nil {
		t.Fatal(err)
	}
	f.store.SetLessonDuration(ctx, l.ID, 25*time.Minute)
	f.store.SetLessonStatus(ctx, l.ID, relais.LessonReady, nil)
	lp := "/api/v1/lessons/" + itoa(l.ID)
	if status, _ := f.do("POST", lp+"/submit", "t2", nil, ""); status != 404 {
		t.Errorf("another teacher submits = %d", status)
	}
	if status, body := f.do("POST", lp+"/submit", "t1", nil, ""); status != 200 || body["state"] != "submitted" {
		t.Errorf("submit = %d %v", status, body)
	}
	if status, _ := f.do("POST", lp+"/approve", "t1", nil, ""); status != 403 {
		t.Errorf("teacher approves = %d", status)
	}
	if status, _ := f.do("POST", lp+"/reject", "m", strings.NewReader(`{}`), js); status != 400 {
		t.Errorf("reject without reason = %d", status)
	}
	if status, body := f.do("POST", lp+"/approve", "m", nil, ""); status != 200 || body["state"] != "approved" || body["decided_by"] != "m" {
		t.Errorf("approve = %d %v", status, body)
	}
	if status, body := f.do("GET", lp+"/approval", "t1", nil, ""); status != 200 || body["state"] != "approved" {
		t.Errorf("teacher reads approval = %d %v", status, body)
	}
	status, body = f.do("POST", "/api/v1/schedule/fill", "m", strings.NewReader(`{"from":"2026-03-02","to":"2026-03-02"}`), js)
	if status != 200 || body["placed"] != float64(1) || body["empty_slots"] != float64(17) {
		t.Fatalf("fill = %d %v", status, body)
	}
	if status, body := f.do("PUT", "/api/v1/slots/1/lesson", "m", strings.NewReader(`{"lesson_id":`+itoa(l.ID)+`}`), js); status != 409 {
		t.Errorf("double booking = %d %v", status, body)
	}
	if len(f.queue.rescheduled) != 0 {
		t.Errorf("a refused assignment rescheduled reminders: %v", f.queue.rescheduled)
	}
	if status, body := f.do("PUT", "/api/v1/slots/2/lesson", "m", strings.NewReader(`{"lesson_id":`+itoa(l.ID)+`,"rerun":true}`), js); status != 200 {
		t.Errorf("re-run in slot 2 = %d %v", status, body)
	}
	if diff := cmp.Diff([]int64{l.ID}, f.queue.rescheduled); diff != "" {
		t.Errorf("reminders rescheduled after an assignment (-want +got):\n%s", diff)
	}

	// A short lesson plays after the first in slot 2; the sequence is reordered, then cut back.
	short := relais.Lesson{Title: "Le quiz", Subject: "maths", Grade: 5, Language: "fr", TeacherID: "t1"}
	if err := f.store.CreateLesson(ctx, &short); err != nil {
		t.Fatal(err)
	}
	f.store.SetLessonDuration(ctx, short.ID, 4*time.Minute)
	f.store.SetLessonStatus(ctx, short.ID, relais.LessonReady, nil)
	f.store.SetApproval(ctx, relais.Approval{LessonID: short.ID, State: relais.Approved, DecidedBy: "m", UpdatedAt: time.Now()})
	lessonsOf := func(body map[string]any) string {
		var out []string
		for _, x := range body["lessons"].([]any) {
			out = append(out, fmt.Sprint(x.(map[string]any)["lesson_id"], x.(map[string]any)["rerun"]))
		}
		return strings.Join(out, ",")
	}
	status, body = f.do("PUT", "/api/v1/slots/2/lesson", "m", strings.NewReader(`{"lesson_id":`+itoa(short.ID)+`}`), js)
	if want := fmt.Sprintf("%d true,%d <nil>", l.ID, short.ID); status != 200 || lessonsOf(body) != want {
		t.Errorf("second lesson in slot 2 = %d %v, want lessons %s", status, body, want)
	}
	f.queue.rescheduled = nil
	status, body = f.do("PUT", "/api/v1/slots/2/lessons", "m", strings.NewReader(`{"lesson_ids":[`+itoa(short.ID)+`,`+itoa(l.ID)+`]}`), js)
	if want := fmt.Sprintf("%d <nil>,%d true", short.ID, l.ID); status != 200 || lessonsOf(body) != want {
		t.Errorf("reorder = %d %v, want lessons %s", status, body, want)
	}
	if diff := cmp.Diff([]int64{l.ID, short.ID}, f.queue.rescheduled); diff != "" {
		t.Errorf("reminders after a reorder (-want +got):\n%s", diff)
	}
	for _, bad := range []string{`{}`, `{"lesson_ids":[999]}`, `{"lesson_ids":[` + itoa(l.ID) + `,` + itoa(l.ID) + `]}`} {
		if status, body := f.do("PUT", "/api/v1/slots/2/lessons", "m", strings.NewReader(bad), js); status != 400 || errMessage(body) == "" {
			t.Errorf("sequence %s = %d %v, want 400 with a message", bad, status, body)
		}
	}
	if status, _ := f.do("PUT", "/api/v1/slots/2/lessons", "t1", strings.NewReader(`{"lesson_ids":[]}`), js); status != 403 {
		t.Errorf("a teacher edits a sequence = %d", status)
	}
	status, body = f.do("PUT", "/api/v1/slots/2/lessons", "m", strings.NewReader(`{"lesson_ids":[`+itoa(l.ID)+`]}`), js)
	if want := fmt.Sprintf("%d true", l.ID); status != 200 || lessonsOf(body) != want {
		t.Errorf("remove = %d %v, want lessons %s", status, body, want)
	}

	status, body = f.do("GET", lp+"/plan?at=2026-03-01T00:00:00Z&email_rate=5", "m", nil, "")
	if status != 200 || body["first_broadcast"] != "2026-03-02T09:00:00+05:00" || body["households"] != float64(0) {
		t.Errorf("plan = %d %v", status, body)
	}
	if status, _ := f.do("GET", lp+"/plan?sms_rate=-1", "m", nil, ""); status != 400 {
		t.Errorf("plan with a negative rate = %d", status)
	}

	req, _ := http.NewRequest("GET", f.srv.URL+"/api/v1/stations/1/epg?from=2026-03-02&to=2026-03-02", nil)
	req.Header.Set("Authorization", "Bearer "+f.tokens["t1"])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	xml, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(xml), `<programme start="20260302090000 +0500" stop="20260302092500 +0500" channel="station-1.relais">`) {
		t.Errorf("epg = %d, want the 25-minute lesson's own times\n%s", resp.StatusCode, xml)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestPlanTakesTheConfiguredRates: the plan a request does not tune assumes the rates Relais is
// configured with (RELAIS_SMS_RATE, RELAIS_EMAIL_RATE, passed in Config.Plan), not the package defaults.
func TestPlanTakesTheConfiguredRates(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, func(c *Config) { c.Plan.SMSRate, c.Plan.EmailRate = 2, 4 })
	l := relais.Lesson{Title: "Les fractions", Subject: "maths", Grade: 5, Language: "fr", TeacherID: "t1", SegmentBudget: 3}
	if err := f.store.CreateLesson(ctx, &l); err != nil {
		t.Fatal(err)
	}
	var hs []relais.Household
	for i := range 4 {
		hs = append(hs, relais.Household{ExternalRef: "S" + itoa(int64(i)), Language: "fr", Grades: []int{5},
			Profile: relais.ProfileSMSOnly, Phone: "+3361200010" + itoa(int64(i)), Consent: true},
			relais.Household{ExternalRef: "E" + itoa(int64(i)), Language: "fr", Grades: []int{5},
				Profile: relais.ProfileBroadband, Email: "e" + itoa(int64(i)) + "@example.org", Consent: true})
	}
	if err := f.store.UpsertHouseholds(ctx, hs); err != nil {
		t.Fatal(err)
	}
	seconds := func(query string) map[string]float64 {
		t.Helper()
		status, body := f.do("GET", "/api/v1/lessons/"+itoa(l.ID)+"/plan?at=2026-03-01T00:00:00Z"+query, "m", nil, "")
		if status != 200 {
			t.Fatalf("plan = %d %v", status, body)
		}
		out := map[string]float64{}
		for ch, e := range body["estimates"].(map[string]any) {
			e := e.(map[string]any)
			out[ch+" messages"], out[ch+" segments"], out[ch+" seconds"] = e["messages"].(float64), 0, e["seconds"].(float64)
			if segs, ok := e["segments"].(float64); ok {
				out[ch+" segments"] = segs
			}
		}
		return out
	}
	got := seconds("")
	// 4 SMS of 3 segments at 2 segments/s; 4 emails at 4 emails/s.
	want := map[string]float64{"sms messages": 4, "sms segments": 12, "sms seconds": 6, "email messages": 4, "email segments": 0, "email seconds": 1}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("plan with the configured rates (-want +got):\n%s", diff)
	}
	// A rate in the request still wins.
	if got := seconds("&sms_rate=12"); got["sms seconds"] != 1 {
		t.Errorf("sms_rate=12: %v seconds, want 1", got["sms seconds"])
	}
}
