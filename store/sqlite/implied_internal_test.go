package sqlite

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	relais "github.com/relais-edu/relais"
)

// TestPlanImpliesFirstEvent checks that a fan-out's pending deliveries write no row of delivery_events
// (migration 00024) while their histories and the per-minute timeline read as when every first event
// was a row, that a skip planned with its reason keeps its row, and that the history's query finds a
// delivery's implied event by its key (SQLite pushes delivery_id into both halves of the union).
func TestPlanImpliesFirstEvent(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "relais.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	at := time.Date(2026, 3, 2, 8, 30, 12, 345e6, time.UTC)
	db.now = func() time.Time { return at }
	l := relais.Lesson{Title: "L", Subject: "maths", Grade: 5, Language: "fr", TeacherID: "t1"}
	if err := db.CreateLesson(ctx, &l); err != nil {
		t.Fatal(err)
	}
	if err := db.UpsertHouseholds(ctx, []relais.Household{
		{ExternalRef: "h1", Language: "fr", Grades: []int{5}, Profile: relais.ProfileMobileData, Phone: "+33612345678", Email: "h1@example.org", Consent: true},
		{ExternalRef: "h2", Language: "fr", Grades: []int{5}, Profile: relais.ProfileMobileData, Phone: "+33612345679", Email: "h2@example.org", Consent: true},
	}); err != nil {
		t.Fatal(err)
	}
	hs, err := db.Households(ctx, relais.HouseholdFilter{Page: relais.Page{Limit: 10}})
	if err != nil || len(hs) != 2 {
		t.Fatalf("households %v, %v", hs, err)
	}
	plan := []relais.Delivery{
		{LessonID: l.ID, HouseholdID: hs[0].ID, Channel: relais.ChannelSMS},
		{LessonID: l.ID, HouseholdID: hs[0].ID, Channel: relais.ChannelEmail},
		{LessonID: l.ID, HouseholdID: hs[1].ID, Channel: relais.ChannelSMS, Status: relais.DeliverySkipped, Reason: relais.OptedOutReason(relais.ChannelSMS)},
	}
	if ids, err := db.PlanDeliveries(ctx, plan); err != nil || len(ids) != 2 {
		t.Fatalf("pending ids = %v, %v; want 2", ids, err)
	}
	if _, err := db.PlanDeliveries(ctx, plan[:1]); err != nil { // again: nothing new
		t.Fatal(err)
	}
	var rows int
	if err := db.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM delivery_events`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != 1 {
		t.Errorf("%d rows of delivery_events after planning two pending deliveries and a skip, want 1 (the skip's)", rows)
	}
	later := at.Add(90 * time.Second)
	db.now = func() time.Time { return later }
	if _, err := db.AdvanceDelivery(ctx, plan[0].ID, relais.DeliveryQueued, "", ""); err != nil {
		t.Fatal(err)
	}
	ev := func(id int64, s relais.DeliveryStatus, detail string, at time.Time) relais.DeliveryEvent {
		return relais.DeliveryEvent{DeliveryID: id, Status: s, Detail: detail, At: at}
	}
	for _, tc := range []struct {
		d    relais.Delivery
		want []relais.DeliveryEvent
	}{
		{plan[0], []relais.DeliveryEvent{ev(plan[0].ID, relais.DeliveryPending, "", at), ev(plan[0].ID, relais.DeliveryQueued, "", later)}},
		{plan[1], []relais.DeliveryEvent{ev(plan[1].ID, relais.DeliveryPending, "", at)}},
		{plan[2], []relais.DeliveryEvent{ev(plan[2].ID, relais.DeliverySkipped, relais.OptedOutReason(relais.ChannelSMS), at)}},
	} {
		got, err := db.DeliveryEvents(ctx, tc.d.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("history of the %s delivery to household %d (-want +got):\n%s", tc.d.Channel, tc.d.HouseholdID, diff)
		}
	}
	if diff := cmp.Diff(minutesFromEvents(t, db), minutes(t, db)); diff != "" {
		t.Errorf("delivery_minutes (-from events +kept):\n%s", diff)
	}
	var plan0 strings.Builder
	qrows, err := db.read.QueryContext(ctx, `EXPLAIN QUERY PLAN SELECT delivery_id, status, detail, at FROM `+dialect.DeliveryEvents+
		` WHERE delivery_id = ? ORDER BY id`, plan[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	defer qrows.Close()
	for qrows.Next() {
		var id, parent, unused int
		var detail string
		if err := qrows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan0.WriteString(detail + "\n")
	}
	if p := plan0.String(); !strings.Contains(p, "SEARCH deliveries USING INTEGER PRIMARY KEY") ||
		!strings.Contains(p, "SEARCH delivery_events USING") || strings.Contains(p, "SCAN deliveries") {
		t.Errorf("a delivery's history reads\n%s\nwant both halves searched by its id", p)
	}
}
