package api

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	relais "github.com/relais-edu/relais"
)

// TestEditAndDeleteStation changes and deletes stations through the API: staff only, validated as on
// creation, a zone change refused once slots would move, and a deletion refused while a lesson still
// airs, with a reason naming the first such slot.
func TestEditAndDeleteStation(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	js := "application/json"
	if status, body := f.do("POST", "/api/v1/stations", "m", strings.NewReader(`{"name":"Balapan","kind":"tv","time_zone":"Asia/Almaty"}`), js); status != 201 {
		t.Fatalf("create station = %d %v", status, body)
	}

	if status, _ := f.do("PATCH", "/api/v1/stations/1", "t1", strings.NewReader(`{"name":"Mine"}`), js); status != 403 {
		t.Errorf("teacher edits = %d", status)
	}
	if status, _ := f.do("DELETE", "/api/v1/stations/1", "t1", nil, ""); status != 403 {
		t.Errorf("teacher deletes = %d", status)
	}
	status, body := f.do("PATCH", "/api/v1/stations/1", "m", strings.NewReader(
		`{"name":"Balapan TV","region":"Almaty","provider":"Kazteleradio","playout_format":"m3u","service_name":"","filler":"/srv/playout/balapan-filler.ts","day_start":"06:00"}`), js)
	want := map[string]any{"id": float64(1), "name": "Balapan TV", "kind": "tv", "region": "Almaty", "time_zone": "Asia/Almaty",
		"service_name": "Balapan TV", "playout_format": "m3u", "provider": "Kazteleradio", "filler": "/srv/playout/balapan-filler.ts", "day_start": "06:00"}
	if diff := cmp.Diff(want, body); status != 200 || diff != "" {
		t.Errorf("edit = %d (-want +got):\n%s", status, diff)
	}
	refusals := []struct {
		body   string
		status int
		says   string
	}{
		{`{"time_zone":"Nowhere/City"}`, 400, "Nowhere/City"},
		{`{"playout_format":"xspf"}`, 400, "xspf"},
		{`{"kind":"radio"}`, 400, "cannot become radio"},
		{`{"filler":"filler.ts"}`, 400, "must be an absolute path"},
		{`{"day_start":"6am"}`, 400, "a time such as 06:00"},
		{`{"name":3}`, 400, "field name has the wrong type"},
		{`{"colour":"red"}`, 400, "The body must be a JSON object"},
	}
	for _, tt := range refusals {
		status, body := f.do("PATCH", "/api/v1/stations/1", "a", strings.NewReader(tt.body), js)
		if status != tt.status || !strings.Contains(errMessage(body), tt.says) {
			t.Errorf("PATCH %s = %d %v", tt.body, status, body)
		}
	}
	if status, _ := f.do("PATCH", "/api/v1/stations/9", "m", strings.NewReader(`{"name":"X"}`), js); status != 404 {
		t.Errorf("edit a missing station = %d", status)
	}

	// A lesson airing in a month keeps the station; its zone cannot change and it cannot be deleted.
	day := time.Now().AddDate(0, 0, 30).Format(time.DateOnly)
	if status, body := f.do("POST", "/api/v1/stations/1/slots", "m", strings.NewReader(`{"day":"`+day+`","start":"10:00","minutes":30}`), js); status != 201 {
		t.Fatalf("add slot = %d %v", status, body)
	}
	l := relais.Lesson{Title: "Les fractions", Subject: "maths", Grade: 5, Language: "fr", TeacherID: "t1"}
	if err := f.store.CreateLesson(ctx, &l); err != nil {
		t.Fatal(err)
	}
	if err := f.store.Assign(ctx, []relais.Assignment{{SlotID: 1, LessonID: l.ID}}); err != nil {
		t.Fatal(err)
	}
	status, body = f.do("PATCH", "/api/v1/stations/1", "m", strings.NewReader(`{"time_zone":"Europe/Paris"}`), js)
	if status != 409 || !strings.Contains(errMessage(body), "1 of its slots would air at another time (the first: "+day+" 10:00)") {
		t.Errorf("zone change with a slot = %d %v", status, body)
	}
	// The name families know changes: the coming lesson's reminders are queued again.
	if status, body := f.do("PATCH", "/api/v1/stations/1", "m", strings.NewReader(`{"service_name":"Balapan Sabaq"}`), js); status != 200 {
		t.Errorf("service name = %d %v", status, body)
	}
	if diff := cmp.Diff([]int64{l.ID}, f.queue.rescheduled); diff != "" {
		t.Errorf("reminders rescheduled (-want +got):\n%s", diff)
	}
	status, body = f.do("DELETE", "/api/v1/stations/1", "m", nil, "")
	wantMsg := `Station "Balapan TV" still airs lessons from today on; slots holding one: 1 (the first: ` + day + ` 10:00, lesson ` + itoa(l.ID) + `)`
	if status != 409 || !strings.Contains(errMessage(body), wantMsg) {
		t.Errorf("delete with a coming lesson = %d %v", status, body)
	}

	if status, _ := f.do("DELETE", "/api/v1/slots/1/lesson", "m", nil, ""); status != 204 {
		t.Fatalf("unassign = %d", status)
	}
	status, body = f.do("DELETE", "/api/v1/stations/1", "a", nil, "")
	if status != 200 || body["slots_removed"] != float64(1) {
		t.Errorf("delete = %d %v", status, body)
	}
	if status, _ := f.do("DELETE", "/api/v1/stations/1", "a", nil, ""); status != 404 {
		t.Errorf("delete again = %d", status)
	}
	if status, body := f.do("GET", "/api/v1/stations", "t1", nil, ""); status != 200 || len(body["items"].([]any)) != 0 {
		t.Errorf("stations after deletion = %d %v", status, body)
	}
}
