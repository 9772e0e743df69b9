package ui

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/scheduler"
)

// TestStationEditAndDelete edits a station through its form, with the API's refusals shown on the form,
// then deletes it through the confirmation page: refused (in French) while a lesson still airs on it,
// done once the slot is emptied.
func TestStationEditAndDelete(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	f.seedGrid() // station 1, Balapan, with 10 slots in March 2026
	media := f.browser("m")
	if _, body := media.get("/ui/stations"); !strings.Contains(body, `<a href="/ui/stations/1/edit">Edit<span class="visually-hidden"> Balapan</span></a>`) ||
		!strings.Contains(body, `<a href="/ui/stations/1/delete">Delete<span class="visually-hidden"> Balapan</span></a>`) {
		t.Errorf("no edit and delete links on the stations page:\n%s", body)
	}
	_, body := media.get("/ui/stations/1/edit")
	if !strings.Contains(body, `<form id="edit-station" method="post" action="/ui/stations/1"`) || !strings.Contains(body, `name="csrf"`) ||
		!strings.Contains(body, `name="name" required maxlength="100" value="Balapan"`) || !strings.Contains(body, `value="Asia/Almaty"`) {
		t.Errorf("edit form:\n%s", body)
	}

	form := url.Values{"name": {"Balapan TV"}, "time_zone": {"Asia/Almaty"}, "region": {"Almaty"}, "service_name": {""},
		"playout_format": {"m3u"}, "provider": {"Kazteleradio"}}
	status, loc, _ := media.postRedirect("/ui/stations/1", form)
	body = media.follow(status, loc)
	if !strings.Contains(body, `id="stations-notice"`) || !strings.Contains(body, "The station is saved.") ||
		!strings.Contains(body, `<th scope="row">Balapan TV</th><td>tv</td><td>Almaty</td><td>Asia/Almaty</td><td>m3u</td>`) {
		t.Errorf("stations after the edit:\n%s", body)
	}
	st, err := f.store.Station(ctx, 1)
	if err != nil || st.Name != "Balapan TV" || st.ServiceName != "Balapan TV" || st.Provider != "Kazteleradio" || st.Playout != relais.FormatM3U {
		t.Errorf("stored station = %+v, %v", st, err)
	}
	// Its slots keep their local time, so another zone would move them: refused, the form keeps the typing.
	form.Set("time_zone", "Europe/Paris")
	status, _, body = media.postRedirect("/ui/stations/1", form)
	if status != 409 || !strings.Contains(body, `role="alert"`) || !strings.Contains(body, "10 of its slots would air at another time (the first: 2026-03-02 09:00)") ||
		!strings.Contains(body, `value="Europe/Paris"`) {
		t.Errorf("zone change with slots: %d\n%s", status, body)
	}
	form.Set("time_zone", "Nowhere/City")
	if status, _, body = media.postRedirect("/ui/stations/1", form); status != 400 || !strings.Contains(body, "Nowhere/City") {
		t.Errorf("bad zone: %d\n%s", status, body)
	}

	// A lesson airing in a month keeps the station.
	day := time.Now().AddDate(0, 0, 30).Format(time.DateOnly)
	sl, err := scheduler.New(f.store, f.store, nil).AddSlot(ctx, relais.Slot{StationID: 1, Day: day, Start: "10:00", Duration: 30 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	l := f.approvedLesson("Les fractions", 20*time.Minute)
	if err := f.store.Assign(ctx, []relais.Assignment{{SlotID: sl.ID, LessonID: l.ID}}); err != nil {
		t.Fatal(err)
	}
	_, body = media.get("/ui/stations/1/delete")
	if !strings.Contains(body, "Delete station Balapan TV? 11 slots will be removed.") ||
		!strings.Contains(body, `<form id="delete-station" method="post" action="/ui/stations/1/delete">`) || !strings.Contains(body, `name="csrf"`) {
		t.Errorf("confirmation page:\n%s", body)
	}
	if _, err := f.store.Station(ctx, 1); err != nil {
		t.Errorf("the confirmation page deleted the station: %v", err)
	}
	media.lang = "fr"
	status, _, body = media.postRedirect("/ui/stations/1/delete", url.Values{})
	if status != 409 || !strings.Contains(body, `role="alert"`) ||
		!strings.Contains(body, `La station &#34;Balapan TV&#34; diffuse encore des leçons à partir d&#39;aujourd&#39;hui ; créneaux concernés : 1 (le premier : `+day+` 10:00`) ||
		!strings.Contains(body, "Supprimer la station Balapan TV ? 11 créneaux seront retirés.") {
		t.Errorf("refused deletion: %d\n%s", status, body)
	}
	media.lang = "en"

	if err := f.store.Unassign(ctx, sl.ID); err != nil {
		t.Fatal(err)
	}
	status, loc, _ = media.postRedirect("/ui/stations/1/delete", url.Values{})
	body = media.follow(status, loc)
	if !strings.Contains(body, "The station is deleted, with its 11 slots.") || !strings.Contains(body, `id="no-stations"`) {
		t.Errorf("stations after the deletion:\n%s", body)
	}
	if left, _ := f.store.Slots(ctx, relais.SlotFilter{StationID: 1}); len(left) != 0 {
		t.Errorf("%d slots left", len(left))
	}
	if status, _ := media.get("/ui/stations/1/edit"); status != 404 {
		t.Errorf("edit a deleted station = %d", status)
	}
}
