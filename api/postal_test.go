package api

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/channels/postal"
	"github.com/relais-edu/relais/templates"
)

// postalQueue is the fake queue with the postal capability.
type postalQueue struct {
	fakeQueue
	mu      sync.Mutex
	batches []int64
}

var _ PostalQueue = (*postalQueue)(nil)

func (q *postalQueue) PostalBatch(_ context.Context, id int64) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.batches = append(q.batches, id)
	return nil
}

// newPostalFixture is the API fixture served with a postal-capable queue, a lesson and its queued
// postal deliveries in two regions.
func newPostalFixture(t *testing.T) (*fixture, *postalQueue, relais.Lesson, []int64) {
	t.Helper()
	ctx := context.Background()
	f := newFixture(t, nil)
	q := &postalQueue{}
	tmpl, err := templates.Load()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(New(f.store, q, f.signer, tmpl, f.cfg, slog.New(slog.DiscardHandler), nil))
	t.Cleanup(srv.Close)
	f.srv = srv
	l := relais.Lesson{Title: "Les fractions", Subject: "maths", Grade: 5, Language: "fr", TeacherID: "t1"}
	if err := f.store.CreateLesson(ctx, &l); err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for i, region := range []string{"IDF", "IDF", "Nord"} {
		h := relais.Household{ExternalRef: fmt.Sprint("P", i), Region: region, Language: "fr", Grades: []int{5},
			Profile: relais.ProfileOffline, PostalAddress: "Famille " + strconv.Itoa(i) + "\n1 rue de l’Église"}
		if err := f.store.UpsertHouseholds(ctx, []relais.Household{h}); err != nil {
			t.Fatal(err)
		}
		hs, _ := f.store.Households(ctx, relais.HouseholdFilter{Region: region, Page: relais.Page{Limit: 100}})
		got, err := f.store.PlanDeliveries(ctx, []relais.Delivery{{LessonID: l.ID, HouseholdID: hs[len(hs)-1].ID, Channel: relais.ChannelPostal}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.store.AdvanceDelivery(ctx, got[0], relais.DeliveryQueued, "", postal.BatchKey(region, l.ID)); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, got[0])
	}
	return f, q, l, ids
}

func (f *fixture) raw(method, path, user string, body io.Reader) (*http.Response, []byte) {
	f.t.Helper()
	req, _ := http.NewRequest(method, f.srv.URL+path, body)
	if user != "" {
		req.Header.Set("Authorization", "Bearer "+f.tokens[user])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func TestPostalBatchRoutesNeedStaff(t *testing.T) {
	f, _, _, _ := newPostalFixture(t)
	for _, r := range []struct{ method, path string }{
		{"POST", "/api/v1/postal-batches"}, {"GET", "/api/v1/postal-batches"}, {"GET", "/api/v1/postal-batches/1"},
		{"GET", "/api/v1/postal-batches/1/pdf"}, {"GET", "/api/v1/postal-batches/1/csv"},
		{"POST", "/api/v1/postal-batches/1/printed"}, {"POST", "/api/v1/postal-batches/1/posted"}, {"POST", "/api/v1/bounces"},
	} {
		if code, _ := f.do(r.method, r.path, "t1", strings.NewReader("{}"), "application/json"); code != 403 {
			t.Errorf("teacher %s %s: %d, want 403", r.method, r.path, code)
		}
		if code, _ := f.do(r.method, r.path, "", nil, ""); code != 401 {
			t.Errorf("no token %s %s: %d, want 401", r.method, r.path, code)
		}
	}
}

func TestPostalBatchFlow(t *testing.T) {
	ctx := context.Background()
	f, q, l, ids := newPostalFixture(t)

	code, body := f.do("POST", "/api/v1/postal-batches", "m", strings.NewReader(`{"lesson_id": 0, "region": ""}`), "application/json")
	if code != 400 {
		t.Errorf("empty request: %d %v", code, body)
	}
	code, body = f.do("POST", "/api/v1/postal-batches", "m", strings.NewReader(fmt.Sprintf(`{"lesson_id": %d, "region": "Bretagne"}`, l.ID)), "application/json")
	if code != 400 || !strings.Contains(errMessage(body), "No postal packet") {
		t.Errorf("region without packets: %d %v", code, body)
	}
	code, body = f.do("POST", "/api/v1/postal-batches", "m", strings.NewReader(fmt.Sprintf(`{"lesson_id": %d, "region": "IDF"}`, l.ID)), "application/json")
	if code != 202 || body["status"] != "pending" || body["households"] != float64(2) || body["created_by"] != "m" {
		t.Fatalf("create: %d %v", code, body)
	}
	id := int64(body["id"].(float64))
	// Asking again while it is pending queues the same batch again.
	code, body = f.do("POST", "/api/v1/postal-batches", "a", strings.NewReader(fmt.Sprintf(`{"lesson_id": %d, "region": "IDF"}`, l.ID)), "application/json")
	if code != 200 || int64(body["id"].(float64)) != id {
		t.Errorf("create again: %d %v", code, body)
	}
	if len(q.batches) != 2 || q.batches[0] != id || q.batches[1] != id {
		t.Errorf("queued %v, want [%d %d]", q.batches, id, id)
	}

	// Before the task made the files: no download, no printing.
	path := fmt.Sprintf("/api/v1/postal-batches/%d", id)
	if code, _ := f.do("GET", path+"/pdf", "m", nil, ""); code != 409 {
		t.Errorf("pdf while pending: %d, want 409", code)
	}
	if code, _ := f.do("POST", path+"/printed", "m", nil, ""); code != 409 {
		t.Errorf("printed while pending: %d, want 409", code)
	}

	// The task's work, done by hand.
	dir := t.TempDir()
	pdfPath, csvPath := filepath.Join(dir, "b.pdf"), filepath.Join(dir, "b.csv")
	os.WriteFile(pdfPath, []byte("%PDF-1.4 fake"), 0o600)
	os.WriteFile(csvPath, []byte("packet,address\n1,\"Famille 0\n1 rue de l’Église\"\n"), 0o600)
	if err := f.store.SetPostalBatchReady(ctx, id, pdfPath, 13, csvPath); err != nil {
		t.Fatal(err)
	}
	resp, b := f.raw("GET", path+"/pdf", "a", nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/pdf" || string(b) != "%PDF-1.4 fake" ||
		!strings.Contains(resp.Header.Get("Content-Disposition"), fmt.Sprintf("postal-batch-%d.pdf", id)) {
		t.Errorf("pdf: %d %v %q", resp.StatusCode, resp.Header, b)
	}
	resp, b = f.raw("GET", path+"/csv", "m", nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/csv; charset=utf-8" || !strings.Contains(string(b), "rue de l’Église") {
		t.Errorf("csv: %d %v %q", resp.StatusCode, resp.Header, b)
	}

	code, body = f.do("GET", fmt.Sprintf("/api/v1/postal-batches?lesson_id=%d&status=ready", l.ID), "m", nil, "")
	items, _ := body["items"].([]any)
	if code != 200 || len(items) != 1 || items[0].(map[string]any)["pdf_url"] != path+"/pdf" {
		t.Errorf("list: %d %v", code, body)
	}

	code, body = f.do("POST", path+"/printed", "m", nil, "")
	if code != 200 || body["status"] != "printed" || body["printed_at"] == nil {
		t.Errorf("printed: %d %v", code, body)
	}
	code, body = f.do("POST", path+"/posted", "a", nil, "")
	if code != 200 || body["status"] != "posted" || body["posted_at"] == nil {
		t.Errorf("posted: %d %v", code, body)
	}
	if code, _ := f.do("POST", path+"/printed", "m", nil, ""); code != 409 {
		t.Errorf("printed after posted: %d, want 409", code)
	}
	ds, _ := f.store.DeliveriesByIDs(ctx, ids)
	got := []relais.DeliveryStatus{ds[0].Status, ds[1].Status, ds[2].Status}
	if got[0] != relais.DeliverySent || got[1] != relais.DeliverySent || got[2] != relais.DeliveryQueued {
		t.Errorf("delivery statuses %v, want sent, sent, queued (other region)", got)
	}
	if code, _ := f.do("GET", "/api/v1/postal-batches/999", "m", nil, ""); code != 404 {
		t.Errorf("missing batch: %d", code)
	}
}

func TestBounceEndpoint(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	l := relais.Lesson{Title: "T", Subject: "s", Grade: 5, Language: "fr", TeacherID: "t1"}
	f.store.CreateLesson(ctx, &l)
	h := relais.Household{ExternalRef: "E1", Language: "fr", Grades: []int{5}, Profile: relais.ProfileBroadband, Email: "nobody@example.org"}
	if err := f.store.UpsertHouseholds(ctx, []relais.Household{h}); err != nil {
		t.Fatal(err)
	}
	hs, _ := f.store.Households(ctx, relais.HouseholdFilter{})
	ids, _ := f.store.PlanDeliveries(ctx, []relais.Delivery{{LessonID: l.ID, HouseholdID: hs[0].ID, Channel: relais.ChannelEmail}})
	f.store.AdvanceDelivery(ctx, ids[0], relais.DeliverySent, "", "")

	raw, err := os.ReadFile("../channels/email/testdata/dsn/postfix-hard.eml")
	if err != nil {
		t.Fatal(err)
	}
	msg := strings.ReplaceAll(string(raw), "<relais.1234.", fmt.Sprintf("<relais.%d.", ids[0]))
	code, body := f.do("POST", "/api/v1/bounces", "m", strings.NewReader(msg), "message/rfc822")
	if code != 200 || body["hard"] != float64(1) || fmt.Sprint(body["failed"]) != fmt.Sprintf("[%d]", ids[0]) {
		t.Errorf("hard bounce: %d %v", code, body)
	}
	if got, _ := f.store.Household(ctx, hs[0].ID); got.EmailStatus != relais.ContactInvalid {
		t.Errorf("email status %q, want invalid", got.EmailStatus)
	}
	if ds, _ := f.store.DeliveriesByIDs(ctx, ids); ds[0].Status != relais.DeliveryFailed {
		t.Errorf("delivery %s, want failed", ds[0].Status)
	}
	code, body = f.do("POST", "/api/v1/bounces", "a", strings.NewReader(msg), "message/rfc822")
	if code != 200 || body["ignored"] != float64(1) || body["hard"] != float64(0) {
		t.Errorf("same report again: %d %v", code, body)
	}
	notDSN, _ := os.ReadFile("../channels/email/testdata/dsn/not-a-dsn.eml")
	if code, body := f.do("POST", "/api/v1/bounces", "m", strings.NewReader(string(notDSN)), "message/rfc822"); code != 400 {
		t.Errorf("plain mail: %d %v", code, body)
	}
	if code, _ := f.do("POST", "/api/v1/bounces", "m", strings.NewReader("garbage without headers"), ""); code != 400 {
		t.Errorf("garbage: %d", code)
	}

	// A relay that gave up on a temporary failure: the delivery is queued to be sent again.
	delayed, err := os.ReadFile("../channels/email/testdata/dsn/delayed.eml")
	if err != nil {
		t.Fatal(err)
	}
	l2 := relais.Lesson{Title: "T2", Subject: "s", Grade: 5, Language: "fr", TeacherID: "t1"}
	f.store.CreateLesson(ctx, &l2)
	h2 := []relais.Household{{ExternalRef: "E2", Language: "fr", Grades: []int{5}, Profile: relais.ProfileBroadband, Email: "full@example.net"}}
	if err := f.store.UpsertHouseholds(ctx, h2); err != nil {
		t.Fatal(err)
	}
	soft, _ := f.store.PlanDeliveries(ctx, []relais.Delivery{{LessonID: l2.ID, HouseholdID: h2[0].ID, Channel: relais.ChannelEmail}})
	f.store.AdvanceDelivery(ctx, soft[0], relais.DeliverySent, "", "")
	failed := strings.Replace(strings.ReplaceAll(string(delayed), "<relais.77.", fmt.Sprintf("<relais.%d.", soft[0])), "Action: delayed", "Action: failed", 1)
	code, body = f.do("POST", "/api/v1/bounces", "m", strings.NewReader(failed), "message/rfc822")
	if code != 200 || body["soft"] != float64(1) || fmt.Sprint(body["resend"]) != fmt.Sprintf("[%d]", soft[0]) {
		t.Errorf("soft bounce: %d %v", code, body)
	}
	if diff := cmp.Diff([]int64{soft[0]}, f.queue.resent); diff != "" {
		t.Errorf("queued for resending (-want +got):\n%s", diff)
	}
}
