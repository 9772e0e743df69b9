package ui

import (
	"context"
	"encoding/csv"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	relais "github.com/relais-edu/relais"
)

// TestHouseholdsPageAndExports: the media unit pages through the households and finds one by its
// reference or phone; the roster exports as a CSV that imports again unchanged, and a lesson's
// deliveries export with each family's reference.
func TestHouseholdsPageAndExports(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	var hs []relais.Household
	for i := range householdsPerPage + 5 {
		hs = append(hs, relais.Household{ExternalRef: fmt.Sprintf("H%03d", i), Region: "IDF", Language: "fr",
			Pupils:  []relais.Pupil{{Grade: 5, Language: "fr", School: "0751234A", Class: "0751234A-5B"}, {Grade: 3, Language: "kk"}},
			Profile: relais.ProfileMobileData, Phone: fmt.Sprintf("+336120%05d", i), Email: fmt.Sprintf("f%d@example.org", i),
			PostalAddress: "Famille " + fmt.Sprint(i) + "\n1 rue de la Paix\n75002 Paris", Consent: true})
	}
	hs[3].Profile, hs[3].Email = relais.ProfileSMSOnly, ""
	if err := f.store.UpsertHouseholds(ctx, hs); err != nil {
		t.Fatal(err)
	}
	if err := f.store.CreateStation(ctx, &relais.Station{Name: "Balapan", Kind: relais.StationTV, Region: "Almaty", TimeZone: "Asia/Almaty"}); err != nil {
		t.Fatal(err)
	}
	m := f.browser("m")

	status, page := m.get("/ui/households")
	// The region filter suggests the stations' regions (and the configured ones).
	if !strings.Contains(page, `list="hh-region-list"`) || !strings.Contains(page, `<option value="Almaty">`) {
		t.Errorf("the region filter suggests no region:\n%.2000s", page)
	}
	if status != 200 || !strings.Contains(page, "<td>H000</td>") || strings.Contains(page, fmt.Sprintf("<td>H%03d</td>", householdsPerPage)) ||
		!strings.Contains(page, "3:kk;5:fr:0751234A:0751234A-5B") && !strings.Contains(page, "5:fr:0751234A:0751234A-5B;3:kk") {
		t.Fatalf("first page = %d:\n%.2000s", status, page)
	}
	i := strings.Index(page, `id="hh-next" `)
	if i < 0 {
		i = strings.Index(page, `href="/ui/households?after=`)
	}
	if i < 0 {
		t.Fatalf("no link to the next page:\n%.3000s", page)
	}
	next := page[strings.Index(page, `href="/ui/households?after=`)+len(`href="`):]
	next = strings.ReplaceAll(next[:strings.Index(next, `"`)], "&amp;", "&")
	if status, page := m.get(next); status != 200 || !strings.Contains(page, fmt.Sprintf("<td>H%03d</td>", householdsPerPage)) || strings.Contains(page, "<td>H000</td>") {
		t.Errorf("second page %s = %d:\n%.1500s", next, status, page)
	}
	// A family's SMS sender shows once a fan-out gave it one.
	first := relais.Lesson{Title: "T", Subject: "s", Grade: 5, Language: "fr", TeacherID: "t1"}
	if err := f.store.CreateLesson(ctx, &first); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.PlanPage(ctx, []relais.Delivery{{LessonID: first.ID, HouseholdID: hs[7].ID, Channel: relais.ChannelSMS}},
		[]relais.SenderChoice{{HouseholdID: hs[7].ID, Sender: "Ecole-IDF"}}); err != nil {
		t.Fatal(err)
	}
	if _, page := m.get("/ui/households?q=H007"); !strings.Contains(page, "&#43;33612000007 (SMS sender: Ecole-IDF)") {
		t.Errorf("H007's SMS sender is not shown:\n%.1500s", page[max(strings.Index(page, "<tbody>"), 0):])
	}
	if _, page := m.get("/ui/households?q=H008"); strings.Contains(page, "SMS sender") {
		t.Errorf("a family without a sender shows one:\n%.1500s", page)
	}
	for _, q := range []string{"H007", "%2B33612000007", "f7%40example.org"} {
		if status, page := m.get("/ui/households?q=" + q); status != 200 || strings.Count(page, "<tr><td>") != 1 || !strings.Contains(page, "<td>H007</td>") {
			t.Errorf("search %s = %d:\n%.1500s", q, status, page)
		}
	}
	if _, page := m.get("/ui/households?q=nobody"); !strings.Contains(page, `id="hh-none"`) {
		t.Errorf("a search that finds nothing does not say so")
	}

	status, body := m.get("/ui/households.csv?profile=mobile_data")
	if status != 200 || !strings.HasSuffix(body, "\r\n") || strings.Count(body, "\n") != strings.Count(body, "\r\n") {
		t.Fatalf("roster export = %d, lines not CRLF:\n%.500q", status, body)
	}
	rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(rosterHeader, rows[0]); diff != "" {
		t.Errorf("header (-want +got):\n%s", diff)
	}
	if len(rows) != len(hs) { // every household but the SMS-only one, and the header
		t.Errorf("%d rows, want %d households of the profile", len(rows)-1, len(hs)-1)
	}
	// The export imports again: nothing refused, nothing changed.
	status, out := m.postMultipart("/ui/households/import", nil, map[string][]byte{"file": []byte(body)})
	if status != 200 || !strings.Contains(out, fmt.Sprintf(`<span id="imported">Imported: %d</span>`, len(hs)-1)) || !strings.Contains(out, `<span id="rejected">Rejected: 0</span>`) {
		t.Errorf("import of the export = %d:\n%.1500s", status, out)
	}
	again, err := f.store.Household(ctx, hs[7].ID)
	if err != nil {
		t.Fatal(err)
	}
	if again.PostalAddress != hs[7].PostalAddress || len(again.Pupils) != 2 || again.Phone != hs[7].Phone {
		t.Errorf("household after the round trip = %+v", again)
	}

	// A lesson's deliveries, with each family's reference.
	l := relais.Lesson{Title: "Les fractions", Subject: "maths", Grade: 5, Language: "fr", TeacherID: "t1", Markdown: "- un\n", SegmentBudget: 3}
	if err := f.store.CreateLesson(ctx, &l); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.PlanDeliveries(ctx, []relais.Delivery{{LessonID: l.ID, HouseholdID: hs[0].ID, Channel: relais.ChannelSMS},
		{LessonID: l.ID, HouseholdID: hs[1].ID, Channel: relais.ChannelEmail, Status: relais.DeliverySkipped, Reason: "no consent"}}); err != nil {
		t.Fatal(err)
	}
	status, body = m.get(fmt.Sprintf("/ui/lessons/%d/deliveries.csv", l.ID))
	rows, err = csv.NewReader(strings.NewReader(body)).ReadAll()
	if status != 200 || err != nil || len(rows) != 3 || rows[1][1] != "H000" || rows[1][3] != "sms" || rows[1][4] != "pending" ||
		rows[2][1] != "H001" || rows[2][4] != "skipped" || rows[2][5] != "no consent" {
		t.Errorf("deliveries export = %d %v: %q", status, err, rows)
	}
	if strings.Contains(body, "+336") || strings.Contains(body, "@example.org") {
		t.Errorf("the deliveries export carries contacts: %q", body)
	}
}
