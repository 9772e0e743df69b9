package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	relais "github.com/relais-edu/relais"
)

// TestPlanImpliesFirstEvent checks that a fan-out's pending deliveries write no row of delivery_events
// (migration 00017) while their history, their timeline and a skip planned with its reason read as
// when every first event was a row, and that the events written later follow the implied one.
func TestPlanImpliesFirstEvent(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	at := time.Date(2026, 3, 2, 8, 30, 12, 345e6, time.UTC)
	db.SetClock(func() time.Time { return at })
	var lesson int64
	if err := db.Pool().QueryRow(ctx, `INSERT INTO lessons (title, subject, grade, language, teacher_id, status, created_at, updated_at)
		VALUES ('L', 'maths', 5, 'fr', 't1', 'published', now(), now()) RETURNING id`).Scan(&lesson); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool().Exec(ctx, `INSERT INTO households (external_ref, language, profile, phone, email, created_at)
		SELECT 'h' || i, 'fr', 'mobile_data', '+336' || lpad(i::text, 8, '0'), 'h' || i || '@example.org', now()
		FROM generate_series(1, 2) i`); err != nil {
		t.Fatal(err)
	}
	plan := []relais.Delivery{
		{LessonID: lesson, HouseholdID: 1, Channel: relais.ChannelSMS},
		{LessonID: lesson, HouseholdID: 1, Channel: relais.ChannelEmail},
		{LessonID: lesson, HouseholdID: 2, Channel: relais.ChannelSMS, Status: relais.DeliverySkipped, Reason: relais.OptedOutReason(relais.ChannelSMS)},
	}
	ids, err := db.PlanDeliveries(ctx, plan)
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 2 {
		t.Fatalf("pending ids = %v, want 2", ids)
	}
	var rows int
	if err := db.Pool().QueryRow(ctx, `SELECT count(*) FROM delivery_events`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != 1 {
		t.Errorf("%d rows of delivery_events after planning two pending deliveries and a skip, want 1 (the skip's)", rows)
	}
	// Planning again writes nothing and keeps the history.
	if _, err := db.PlanDeliveries(ctx, plan[:1]); err != nil {
		t.Fatal(err)
	}
	later := at.Add(90 * time.Second)
	db.SetClock(func() time.Time { return later })
	if _, err := db.AdvanceDelivery(ctx, plan[0].ID, relais.DeliveryQueued, "", ""); err != nil {
		t.Fatal(err)
	}
	if err := db.AddDeliveryEvent(ctx, relais.DeliveryEvent{DeliveryID: plan[0].ID, Status: relais.DeliveryQueued, Detail: "a note"}); err != nil {
		t.Fatal(err)
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
	rec, err := db.HouseholdRecord(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Deliveries) != 2 || len(rec.Deliveries[0].Events) != 3 || rec.Deliveries[0].Events[0] != (relais.EventRecord{Status: string(relais.DeliveryPending), At: at}) {
		t.Errorf("the export's deliveries = %+v", rec.Deliveries)
	}
	minute := at.Truncate(time.Minute)
	got, err := db.DeliveryTimeline(ctx, relais.TimelineFilter{LessonID: lesson, From: minute, To: minute.Add(time.Hour), Bucket: time.Minute})
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

func ev(id int64, status relais.DeliveryStatus, detail string, at time.Time) relais.DeliveryEvent {
	return relais.DeliveryEvent{DeliveryID: id, Status: status, Detail: detail, At: at}
}
