package ui

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/api"
	"github.com/relais-edu/relais/channels/postal"
)

// PostalBatch gives the fake queue the postal capability; tests make a batch's files by hand.
func (q *fakeQueue) PostalBatch(context.Context, int64) error { return nil }

var _ api.PostalQueue = (*fakeQueue)(nil)

// seedPostalPackets queues postal packets of lesson 2 (published) for offline households, two in IDF
// and one in Nord, and returns their delivery ids.
func (f *fixture) seedPostalPackets() []int64 {
	f.t.Helper()
	ctx := context.Background()
	var ids []int64
	for i, region := range []string{"IDF", "IDF", "Nord"} {
		h := relais.Household{ExternalRef: fmt.Sprint("P", i), Region: region, Language: "fr", Grades: []int{5},
			Profile: relais.ProfileOffline, PostalAddress: fmt.Sprintf("Famille %d\n1 rue de l’Église", i), Consent: true}
		hs := []relais.Household{h}
		if err := f.store.UpsertHouseholds(ctx, hs); err != nil {
			f.t.Fatal(err)
		}
		got, err := f.store.PlanDeliveries(ctx, []relais.Delivery{{LessonID: 2, HouseholdID: hs[0].ID, Channel: relais.ChannelPostal}})
		if err != nil {
			f.t.Fatal(err)
		}
		if _, err := f.store.AdvanceDelivery(ctx, got[0], relais.DeliveryQueued, "", postal.BatchKey(region, 2)); err != nil {
			f.t.Fatal(err)
		}
		ids = append(ids, got[0])
	}
	return ids
}

// makeBatchFiles does the postal task's work by hand: a PDF and a CSV, and the batch marked ready.
func (f *fixture) makeBatchFiles(id int64) {
	f.t.Helper()
	dir := f.t.TempDir()
	pdf, csv := filepath.Join(dir, "b.pdf"), filepath.Join(dir, "b.csv")
	os.WriteFile(pdf, []byte("%PDF-1.4 fake batch"), 0o600)
	os.WriteFile(csv, []byte("packet,address\n1,\"Famille 0\n1 rue de l’Église\"\n"), 0o600)
	if err := f.store.SetPostalBatchReady(context.Background(), id, pdf, 19, csv); err != nil {
		f.t.Fatal(err)
	}
}

// seedPostal gives the fixture, once, batch 1: lesson 2's IDF packets, files made.
func (f *fixture) seedPostal() {
	f.t.Helper()
	ctx := context.Background()
	if bs, err := f.store.PostalBatches(ctx, relais.PostalBatchFilter{}); err != nil || len(bs) > 0 {
		return
	}
	f.seedPostalPackets()
	b := relais.PostalBatch{LessonID: 2, Region: "IDF", CreatedBy: "m"}
	if err := f.store.CreatePostalBatch(ctx, &b, postal.BatchKey("IDF", 2), api.MaxBatchHouseholds); err != nil {
		f.t.Fatal(err)
	}
	f.makeBatchFiles(b.ID)
}

// TestPostalBatches makes a batch from the page, waits for its files, downloads them, and records it
// printed then posted; refusals are shown on the page, and the list pages.
func TestPostalBatches(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	ids := f.seedPostalPackets()
	if err := f.store.CreateStation(ctx, &relais.Station{Name: "Télé IDF", Kind: relais.StationTV, Region: "IDF", TimeZone: "Europe/Paris"}); err != nil {
		t.Fatal(err)
	}
	media := f.browser("m")

	status, body := media.get("/ui/postal")
	if !strings.Contains(body, `list="postal-region-list"`) || !strings.Contains(body, `<option value="IDF">`) {
		t.Errorf("the batch's region suggests no region:\n%s", body)
	}
	if status != 200 || !strings.Contains(body, `<option value="2">#2 Published lesson · Grade 5</option>`) ||
		strings.Contains(body, `<option value="1">`) || !strings.Contains(body, `id="postal-empty"`) ||
		!strings.Contains(body, `Households without a region are in region &#34;unassigned&#34;.`) {
		t.Fatalf("postal page: %d\n%s", status, body)
	}
	status, _, body = media.postRedirect("/ui/postal", url.Values{"lesson_id": {"2"}, "region": {"Bretagne"}})
	if status != 400 || !strings.Contains(body, `role="alert"`) || !strings.Contains(body, "No postal packet") ||
		!strings.Contains(body, `<option value="2" selected>`) || !strings.Contains(body, `value="Bretagne"`) {
		t.Errorf("batch of a region without packets: %d\n%s", status, body)
	}
	status, loc, _ := media.postRedirect("/ui/postal", url.Values{"lesson_id": {"2"}, "region": {"IDF"}})
	if status != 303 || loc != "/ui/postal?created=1#batch-1" {
		t.Fatalf("create: %d %q", status, loc)
	}
	body = media.follow(status, loc)
	row := regexp.MustCompile(`(?s)<tr id="batch-1" .*?</tr>`).FindString(body)
	if !strings.Contains(body, "Batch 1 is being made") || !strings.Contains(body, `<meta http-equiv="refresh" content="5">`) ||
		!strings.Contains(row, `data-status="pending"`) || !strings.Contains(row, "<td>IDF</td><td>2</td>") ||
		!strings.Contains(row, "not made yet") || strings.Contains(row, "<form") {
		t.Errorf("pending batch: %s\n%s", row, body)
	}
	resp, body := media.fetch("/ui/postal/1/pdf")
	if resp.StatusCode != 409 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(body, "its files are not made yet") {
		t.Errorf("PDF of a pending batch: %d\n%s", resp.StatusCode, body)
	}

	f.makeBatchFiles(1)
	_, body = media.get("/ui/postal")
	row = regexp.MustCompile(`(?s)<tr id="batch-1" .*?</tr>`).FindString(body)
	if strings.Contains(body, `http-equiv="refresh"`) || !strings.Contains(row, `href="/ui/postal/1/pdf"`) || !strings.Contains(row, `href="/ui/postal/1/csv"`) ||
		!strings.Contains(row, `action="/ui/postal/1/printed"`) || !strings.Contains(row, `action="/ui/postal/1/posted"`) ||
		!strings.Contains(row, "ready to print") {
		t.Errorf("ready batch: %s", row)
	}
	for _, tc := range []struct{ path, ctype, file, body string }{
		{"/ui/postal/1/pdf", "application/pdf", "postal-batch-1.pdf", "%PDF-1.4 fake batch"},
		{"/ui/postal/1/csv", "text/csv; charset=utf-8", "postal-batch-1.csv", "packet,address\n1,\"Famille 0\n1 rue de l’Église\"\n"},
	} {
		resp, body := media.fetch(tc.path)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != tc.ctype || body != tc.body ||
			resp.Header.Get("Content-Disposition") != fmt.Sprintf(`attachment; filename="%s"`, tc.file) {
			t.Errorf("GET %s: %d %v %q", tc.path, resp.StatusCode, resp.Header, body)
		}
	}

	status, loc, _ = media.postRedirect("/ui/postal/1/printed", url.Values{"status": {""}, "lesson": {""}, "after": {"0"}})
	if status != 303 || loc != "/ui/postal#batch-1" {
		t.Fatalf("printed: %d %q", status, loc)
	}
	body = media.follow(status, "/ui/postal")
	row = regexp.MustCompile(`(?s)<tr id="batch-1" .*?</tr>`).FindString(body)
	if !strings.Contains(row, `data-status="printed"`) || strings.Contains(row, `action="/ui/postal/1/printed"`) ||
		!strings.Contains(row, `action="/ui/postal/1/posted"`) || !regexp.MustCompile(`<td>\d{4}-\d\d-\d\d \d\d:\d\d UTC</td><td></td>`).MatchString(row) {
		t.Errorf("printed batch: %s", row)
	}
	status, loc, _ = media.postRedirect("/ui/postal/1/posted", url.Values{})
	if status != 303 {
		t.Fatalf("posted: %d", status)
	}
	row = regexp.MustCompile(`(?s)<tr id="batch-1" .*?</tr>`).FindString(media.follow(status, "/ui/postal"))
	if !strings.Contains(row, `data-status="posted"`) || strings.Contains(row, "<form") {
		t.Errorf("posted batch: %s", row)
	}
	// The API refuses going back; the page says why.
	status, _, body = media.postRedirect("/ui/postal/1/printed", url.Values{})
	if status != 409 || !strings.Contains(body, "Batch 1: Postal batch 1 is posted; it cannot be marked printed.") ||
		!strings.Contains(body, `id="postal"`) {
		t.Errorf("printed after posted: %d\n%s", status, body)
	}
	ds, _ := f.store.DeliveriesByIDs(ctx, ids)
	if ds[0].Status != relais.DeliverySent || ds[1].Status != relais.DeliverySent || ds[2].Status != relais.DeliveryQueued {
		t.Errorf("deliveries after posting: %s %s %s, want sent, sent, queued", ds[0].Status, ds[1].Status, ds[2].Status)
	}

	// One batch a page: the pager walks the list, the filter narrows it.
	media.postRedirect("/ui/postal", url.Values{"lesson_id": {"2"}, "region": {"Nord"}})
	saved := postalPageSize
	postalPageSize = 1
	defer func() { postalPageSize = saved }()
	_, body = media.get("/ui/postal")
	if !strings.Contains(body, `id="batch-1"`) || strings.Contains(body, `id="batch-2"`) ||
		!strings.Contains(body, `<a id="postal-next" rel="next" href="/ui/postal?after=1">`) || strings.Contains(body, "postal-first") {
		t.Errorf("first page:\n%s", body)
	}
	_, body = media.get("/ui/postal?after=1")
	if strings.Contains(body, `id="batch-1"`) || !strings.Contains(body, `id="batch-2"`) || !strings.Contains(body, `<a id="postal-first" href="/ui/postal">`) {
		t.Errorf("second page:\n%s", body)
	}
	postalPageSize = saved
	_, body = media.get("/ui/postal?status=pending")
	if strings.Contains(body, `id="batch-1"`) || !strings.Contains(body, `id="batch-2"`) || !strings.Contains(body, `<option value="pending" selected>`) {
		t.Errorf("pending filter:\n%s", body)
	}
	if status, _ := f.browser("t1").get("/ui/postal"); status != 403 {
		t.Errorf("teacher opens postal batches: %d", status)
	}
}
