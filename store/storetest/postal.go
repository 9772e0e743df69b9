package storetest

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	relais "github.com/relais-edu/relais"
)

// postalLesson plans a postal delivery per household (regions as given) and queues them as the postal
// channel does; it returns the lesson and the delivery ids.
func postalLesson(t *testing.T, db relais.Store, regions ...string) (relais.Lesson, []int64) {
	t.Helper()
	ctx := context.Background()
	l := relais.Lesson{Title: "Fractions", Subject: "maths", Grade: 5, Language: "fr", TeacherID: "t1"}
	if err := db.CreateLesson(ctx, &l); err != nil {
		t.Fatal(err)
	}
	var hs []relais.Household
	for i, r := range regions {
		hs = append(hs, relais.Household{ExternalRef: fmt.Sprintf("L%d-H%d", l.ID, i), Region: r, Language: "fr",
			Grades: []int{5}, Profile: relais.ProfileOffline, PostalAddress: "Famille " + fmt.Sprint(i) + "\n1 rue X"})
	}
	if err := db.UpsertHouseholds(ctx, hs); err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, h := range hs {
		got, err := db.PlanDeliveries(ctx, []relais.Delivery{{LessonID: l.ID, HouseholdID: h.ID, Channel: relais.ChannelPostal}})
		if err != nil {
			t.Fatal(err)
		}
		key := fmt.Sprintf("batch:%s:lesson-%d", h.Region, l.ID)
		if _, err := db.AdvanceDelivery(ctx, got[0], relais.DeliveryQueued, "", key); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, got[0])
	}
	return l, ids
}

func testPostalBatchLifecycle(t *testing.T, open Open) {
	ctx := context.Background()
	db := open(t, nil)
	l, ids := postalLesson(t, db, "IDF", "IDF", "Almaty", "IDF")

	b := relais.PostalBatch{LessonID: l.ID, Region: "IDF", CreatedBy: "m"}
	if err := db.CreatePostalBatch(ctx, &b, fmt.Sprintf("batch:IDF:lesson-%d", l.ID), 0); err != nil {
		t.Fatal(err)
	}
	if b.ID == 0 || b.Households != 3 || b.Status != relais.PostalBatchPending {
		t.Fatalf("created %+v", b)
	}
	// The same deliveries cannot go in a second batch.
	again := relais.PostalBatch{LessonID: l.ID, Region: "IDF"}
	if err := db.CreatePostalBatch(ctx, &again, fmt.Sprintf("batch:IDF:lesson-%d", l.ID), 0); relais.ErrorCode(err) != relais.EINVALID {
		t.Errorf("second batch: err = %v, want invalid", err)
	}
	if bs, _ := db.PostalBatches(ctx, relais.PostalBatchFilter{LessonID: l.ID}); len(bs) != 1 {
		t.Errorf("%d batches after a refused one, want 1", len(bs))
	}

	// Packets page in delivery order.
	var got []int64
	for after := int64(0); ; {
		page, err := db.PostalPackets(ctx, b.ID, relais.Page{After: after, Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range page {
			got = append(got, p.DeliveryID)
			if p.Household.Region != "IDF" || p.Household.PostalAddress == "" {
				t.Errorf("packet %+v", p)
			}
		}
		if len(page) < 2 {
			break
		}
		after = page[len(page)-1].DeliveryID
	}
	if diff := cmp.Diff([]int64{ids[0], ids[1], ids[3]}, got); diff != "" {
		t.Errorf("packets (-want +got):\n%s", diff)
	}

	// Not printable before its files exist.
	if _, err := db.MarkPostalBatch(ctx, b.ID, relais.PostalBatchPrinted); relais.ErrorCode(err) != relais.ECONFLICT {
		t.Errorf("printed while pending: err = %v, want conflict", err)
	}
	if err := db.SetPostalBatchReady(ctx, b.ID, "/m/b.pdf", 1234, "/m/b.csv"); err != nil {
		t.Fatal(err)
	}
	printed, err := db.MarkPostalBatch(ctx, b.ID, relais.PostalBatchPrinted)
	if err != nil {
		t.Fatal(err)
	}
	if printed.Status != relais.PostalBatchPrinted || printed.PrintedAt.IsZero() || !printed.PostedAt.IsZero() {
		t.Errorf("printed batch %+v", printed)
	}
	// Files made again after printing would be a mistake.
	if err := db.SetPostalBatchReady(ctx, b.ID, "/m/b.pdf", 1, "/m/b.csv"); relais.ErrorCode(err) != relais.ECONFLICT {
		t.Errorf("ready after printed: err = %v, want conflict", err)
	}
	if ds, _ := db.DeliveriesByIDs(ctx, ids); ds[0].Status != relais.DeliveryQueued {
		t.Errorf("printing moved delivery to %s", ds[0].Status)
	}
	posted, err := db.MarkPostalBatch(ctx, b.ID, relais.PostalBatchPosted)
	if err != nil {
		t.Fatal(err)
	}
	if posted.Status != relais.PostalBatchPosted || posted.PostedAt.IsZero() || posted.PDFBytes != 1234 {
		t.Errorf("posted batch %+v", posted)
	}
	ds, err := db.DeliveriesByIDs(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	want := []relais.DeliveryStatus{relais.DeliverySent, relais.DeliverySent, relais.DeliveryQueued, relais.DeliverySent}
	for i, d := range ds {
		if d.Status != want[i] {
			t.Errorf("delivery %d (%s): %s, want %s", d.ID, d.ProviderID, d.Status, want[i])
		}
	}
	evs, _ := db.DeliveryEvents(ctx, ids[0])
	if last := evs[len(evs)-1]; last.Status != relais.DeliverySent || last.Detail != fmt.Sprintf("posted in postal batch %d", b.ID) {
		t.Errorf("last event %+v", last)
	}
	// Posting twice is harmless; going back is not allowed.
	if _, err := db.MarkPostalBatch(ctx, b.ID, relais.PostalBatchPosted); err != nil {
		t.Errorf("posted twice: %v", err)
	}
	if _, err := db.MarkPostalBatch(ctx, b.ID, relais.PostalBatchPrinted); relais.ErrorCode(err) != relais.ECONFLICT {
		t.Errorf("printed after posted: err = %v, want conflict", err)
	}
	if _, err := db.MarkPostalBatch(ctx, 999, relais.PostalBatchPosted); relais.ErrorCode(err) != relais.ENOTFOUND {
		t.Errorf("missing batch: err = %v, want not_found", err)
	}
}

func testPostalBatchFailedAndFilters(t *testing.T, open Open) {
	ctx := context.Background()
	db := open(t, nil)
	l, _ := postalLesson(t, db, "IDF", "Almaty")
	var made []relais.PostalBatch
	for _, r := range []string{"IDF", "Almaty"} {
		b := relais.PostalBatch{LessonID: l.ID, Region: r}
		if err := db.CreatePostalBatch(ctx, &b, fmt.Sprintf("batch:%s:lesson-%d", r, l.ID), 0); err != nil {
			t.Fatal(err)
		}
		made = append(made, b)
	}
	if err := db.SetPostalBatchFailed(ctx, made[1].ID, "Lesson 1 has no worksheet yet."); err != nil {
		t.Fatal(err)
	}
	failed, err := db.PostalBatches(ctx, relais.PostalBatchFilter{Status: relais.PostalBatchFailed})
	if err != nil {
		t.Fatal(err)
	}
	if len(failed) != 1 || failed[0].Region != "Almaty" || failed[0].Reason != "Lesson 1 has no worksheet yet." {
		t.Errorf("failed batches %+v", failed)
	}
	if _, err := db.MarkPostalBatch(ctx, made[1].ID, relais.PostalBatchPosted); relais.ErrorCode(err) != relais.ECONFLICT {
		t.Errorf("posting a failed batch: err = %v, want conflict", err)
	}
	// The failed batch's packet can go in a new batch once the cause is fixed.
	retry := relais.PostalBatch{LessonID: l.ID, Region: "Almaty"}
	if err := db.CreatePostalBatch(ctx, &retry, fmt.Sprintf("batch:Almaty:lesson-%d", l.ID), 0); err != nil || retry.Households != 1 {
		t.Errorf("batch after a failed one: %+v, %v", retry, err)
	}
	idf, _ := db.PostalBatches(ctx, relais.PostalBatchFilter{Region: "IDF"})
	if len(idf) != 1 || idf[0].ID != made[0].ID {
		t.Errorf("IDF batches %+v", idf)
	}
}

func testRecordBounceOnce(t *testing.T, open Open) {
	ctx := context.Background()
	db := open(t, nil)
	_, ids := postalLesson(t, db, "IDF")
	b := relais.EmailBounce{Recipient: "a@example.org", DeliveryID: ids[0], MessageID: "<relais.1.x@d>", Action: "delayed", Status: "4.2.2"}
	for i, want := range []bool{true, false} {
		got, err := db.RecordBounce(ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("record %d: %v, want %v", i, got, want)
		}
	}
	evs, _ := db.DeliveryEvents(ctx, ids[0])
	if n := len(evs); n != 3 || evs[2].Detail != "soft bounce: delayed 4.2.2" || evs[2].Status != relais.DeliveryQueued {
		t.Errorf("history %+v", evs)
	}
}

func testPostalBatchSizeCap(t *testing.T, open Open) {
	ctx := context.Background()
	db := open(t, nil)
	l, ids := postalLesson(t, db, "IDF", "IDF", "IDF")
	key := fmt.Sprintf("batch:IDF:lesson-%d", l.ID)
	var sizes []int
	for i := 0; i < 2; i++ {
		b := relais.PostalBatch{LessonID: l.ID, Region: "IDF"}
		if err := db.CreatePostalBatch(ctx, &b, key, 2); err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, b.Households)
		if i == 1 {
			page, _ := db.PostalPackets(ctx, b.ID, relais.Page{})
			if len(page) != 1 || page[0].DeliveryID != ids[2] {
				t.Errorf("second batch holds %+v, want delivery %d", page, ids[2])
			}
		}
	}
	if diff := cmp.Diff([]int{2, 1}, sizes); diff != "" {
		t.Errorf("batch sizes (-want +got):\n%s", diff)
	}
}
