package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	relais "github.com/relais-edu/relais"
)

// ImpliedStart plans, for two households at at, two pending deliveries of the first (SMS and email)
// and an opted-out skip of the second, as a fan-out does, then plans the first again; it returns the
// three deliveries. Both engines write no event row for the pending ones (their row implies it:
// PostgreSQL 00017, SQLite 00024); their own tests count the rows after it.
func ImpliedStart(t *testing.T, db relais.Store) []relais.Delivery {
	t.Helper()
	ctx := context.Background()
	l := relais.Lesson{Title: "L", Subject: "maths", Grade: 5, Language: "fr", TeacherID: "t1"}
	must(t, db.CreateLesson(ctx, &l))
	must(t, db.UpsertHouseholds(ctx, []relais.Household{
		{ExternalRef: "h1", Language: "fr", Grades: []int{5}, Profile: relais.ProfileMobileData, Phone: "+33612345678", Email: "h1@example.org", Consent: true},
		{ExternalRef: "h2", Language: "fr", Grades: []int{5}, Profile: relais.ProfileMobileData, Phone: "+33612345679", Email: "h2@example.org", Consent: true},
	}))
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
	return plan
}

// testPlannedHistories: a fan-out's pending deliveries, whose first event the engines keep in their
// row, read as when every first event was a row of its own: their histories (and the events that
// follow), the household's export and the per-minute timeline; a skip planned with its reason too.
func testPlannedHistories(t *testing.T, open Open) {
	ctx := context.Background()
	at := time.Date(2026, 3, 2, 8, 30, 12, 345e6, time.UTC)
	now := at
	db := open(t, func() time.Time { return now })
	plan := ImpliedStart(t, db)
	later := at.Add(90 * time.Second)
	now = later
	if _, err := db.AdvanceDelivery(ctx, plan[0].ID, relais.DeliveryQueued, "", ""); err != nil {
		t.Fatal(err)
	}
	must(t, db.AddDeliveryEvent(ctx, relais.DeliveryEvent{DeliveryID: plan[0].ID, Status: relais.DeliveryQueued, Detail: "a note"}))
	ev := func(id int64, s relais.DeliveryStatus, detail string, at time.Time) relais.DeliveryEvent {
		return relais.DeliveryEvent{DeliveryID: id, Status: s, Detail: detail, At: at}
	}
	for _, tc := range []struct {
		d    relais.Delivery
		want []relais.DeliveryEvent
	}{
		{plan[0], []relais.DeliveryEvent{ev(plan[0].ID, relais.DeliveryPending, "", at), ev(plan[0].ID, relais.DeliveryQueued, "", later),
			ev(plan[0].ID, relais.DeliveryQueued, "a note", later)}},
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
	rec, err := db.HouseholdRecord(ctx, plan[0].HouseholdID)
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Deliveries) != 2 || len(rec.Deliveries[0].Events) != 3 || rec.Deliveries[0].Events[0] != (relais.EventRecord{Status: string(relais.DeliveryPending), At: at}) {
		t.Errorf("the export's deliveries = %+v", rec.Deliveries)
	}
	minute := at.Truncate(time.Minute)
	got, err := db.DeliveryTimeline(ctx, relais.TimelineFilter{LessonID: plan[0].LessonID, From: minute, To: minute.Add(time.Hour), Bucket: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	want := []relais.TimelineCount{
		{Start: minute, Channel: relais.ChannelEmail, Status: relais.DeliveryPending, Count: 1},
		{Start: minute, Channel: relais.ChannelSMS, Status: relais.DeliveryPending, Count: 1},
		{Start: minute, Channel: relais.ChannelSMS, Status: relais.DeliverySkipped, Count: 1, OptedOut: 1},
		{Start: minute.Add(time.Minute), Channel: relais.ChannelSMS, Status: relais.DeliveryQueued, Count: 1},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("timeline (-want +got):\n%s", diff)
	}
}
