package ui

import (
	"net/url"
	"strings"
	"testing"
	"time"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/api"
)

// TestPickListsInForms: with subjects and regions configured, the station, grid and upload forms offer
// them as pick lists (subjects named in the page's language), the time zone is picked from the IANA list,
// a value from before the list is kept in an edit form, and a value posted around the list is refused
// with the list, in the page's language frame.
func TestPickListsInForms(t *testing.T) {
	f := newFixtureWith(t, func(c *api.Config) {
		c.PickLists = relais.PickLists{Subjects: []string{"maths", "physics"}, Regions: []string{"Almaty", "Aktobe"}}
	}, nil)
	media := f.browser("m")
	_, body := media.get("/ui/stations")
	for _, want := range []string{
		`<select id="station-zone" name="time_zone" required aria-describedby="station-zone-help"><option value="">Choose a time zone</option>`,
		`<option value="Asia/Almaty">Asia/Almaty</option>`, `<option value="America/Argentina/Buenos_Aires">`, `<option value="Pacific/Kiritimati">`,
		`<select id="station-region" name="region"><option value="">Every region</option><option value="Almaty">Almaty</option><option value="Aktobe">Aktobe</option></select>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("stations page lacks %s", want)
		}
	}
	if n := strings.Count(body, `<option value="`) - 3; n < len(relais.TimeZones) {
		t.Errorf("%d zones offered, want the %d of the IANA list", n, len(relais.TimeZones))
	}
	status, _, body := media.postRedirect("/ui/stations", url.Values{"name": {"Balapan"}, "kind": {"tv"}, "time_zone": {"Asia/Almaty"},
		"region": {"Astana"}})
	if status != 400 || !strings.Contains(body, `Region &#34;Astana&#34; is not in the configured list: pick one of Almaty, Aktobe`) {
		t.Errorf("a region outside the list: %d\n%s", status, body)
	}
	status, _, _ = media.postRedirect("/ui/stations", url.Values{"name": {"Balapan"}, "kind": {"tv"}, "time_zone": {"Asia/Almaty"},
		"region": {"Aktobe"}, "playout_format": {"ffplayout"}})
	if status != 303 {
		t.Fatalf("a station in a listed region: %d", status)
	}

	_, body = media.get("/ui/grid?station=1&week=2026-03-02")
	if !strings.Contains(body, `<select id="tpl-subject" name="subject"><option value="">any</option><option value="maths">Mathematics (maths)</option><option value="physics">physics</option></select>`) {
		t.Errorf("template form's subjects:\n%s", body)
	}
	status, _, body = media.postRedirect("/ui/stations/1/slots", url.Values{"day": {"2026-03-07"}, "start": {"10:00"}, "minutes": {"30"},
		"subject": {"astrology"}})
	if status != 400 || !strings.Contains(body, `Subject &#34;astrology&#34; is not in the configured list: pick one of maths, physics`) {
		t.Errorf("a slot of a subject outside the list: %d", status)
	}

	// In Russian, the subjects are named in Russian.
	ru := f.browser("t1")
	ru.lang = "ru"
	_, body = ru.get("/ui/lessons/new")
	if !strings.Contains(body, `<option value="maths">Математика (maths)</option>`) ||
		!strings.Contains(body, `<select id="region" name="region"><option value="">Все регионы</option><option value="Almaty">Almaty</option>`) {
		t.Errorf("upload form in Russian:\n%s", body)
	}
}

// TestZonedTimes: staff pages write instants in the configured zone, with its abbreviation, or its
// offset where the zone has none, never a bare UTC time.
func TestZonedTimes(t *testing.T) {
	at := time.Date(2026, 3, 2, 4, 0, 0, 0, time.UTC)
	for _, tc := range []struct{ zone, want string }{
		{"Asia/Almaty", "2026-03-02 09:00 UTC+05:00"},
		{"Europe/Paris", "2026-03-02 05:00 CET"},
		{"UTC", "2026-03-02 04:00 UTC"},
	} {
		loc, err := time.LoadLocation(tc.zone)
		if err != nil {
			t.Fatal(err)
		}
		h := &Handler{cfg: Config{Location: loc}}
		if got := h.zoned(at); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.zone, got, tc.want)
		}
	}
}
