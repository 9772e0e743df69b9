package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	relais "github.com/relais-edu/relais"
)

// TestRemindDeliveriesRearmsOncePerAiring: a family's one reminder delivery of a lesson is planned for
// the first airing, re-armed for each later one once its reminder has left, and never twice for one
// airing; a reminder still pending for an earlier airing is left to its send task.
func testRemindDeliveriesRearmsOncePerAiring(t *testing.T, open Open) {
	ctx := context.Background()
	db := open(t, nil)
	l := relais.Lesson{Title: "T", Subject: "s", Grade: 1, Language: "fr", TeacherID: "t"}
	if err := db.CreateLesson(ctx, &l); err != nil {
		t.Fatal(err)
	}
	var hs []relais.Household
	for i := 0; i < 5; i++ {
		hs = append(hs, relais.Household{ExternalRef: fmt.Sprint("H", i), Language: "fr", Profile: relais.ProfileSMSOnly,
			Phone: fmt.Sprintf("+3361200000%d", i)})
	}
	if err := db.UpsertHouseholds(ctx, hs); err != nil {
		t.Fatal(err)
	}
	t1 := time.Date(2027, 5, 4, 10, 0, 0, 0, time.UTC).Unix()
	t2 := t1 + 7*24*3600
	remind := func(at int64, of ...int) ([]int64, int) {
		t.Helper()
		var ds []relais.Delivery
		for _, i := range of {
			ds = append(ds, relais.Delivery{LessonID: l.ID, HouseholdID: hs[i].ID, Channel: relais.ChannelReminder, Occurrence: at})
		}
		ids, held, err := db.RemindDeliveries(ctx, ds)
		if err != nil {
			t.Fatal(err)
		}
		return ids, held
	}
	advance := func(id int64, steps ...relais.DeliveryStatus) {
		t.Helper()
		for _, s := range steps {
			if _, err := db.AdvanceDelivery(ctx, id, s, "", fmt.Sprint("SM", id)); err != nil {
				t.Fatal(err)
			}
		}
	}

	// Absent: inserted, pending for the first airing. Households 1 to 4.
	first, held := remind(t1, 1, 2, 3, 4)
	if len(first) != 4 || held != 0 {
		t.Fatalf("first airing: ids %v, held %d; want 4 ids, 0 held", first, held)
	}
	advance(first[0], relais.DeliveryQueued, relais.DeliverySent, relais.DeliveryDelivered) // 1: delivered
	// 2: still pending (deferred by quiet hours, or in a send task right now)
	advance(first[2], relais.DeliveryQueued)  // 3: with the provider, no receipt yet
	advance(first[3], relais.DeliverySkipped) // 4: skipped (a shared phone)

	// The second airing: household 0 is new, 1, 3 and 4 are re-armed, 2 is held.
	second, held := remind(t2, 0, 1, 2, 3, 4)
	ds, err := db.Deliveries(ctx, relais.DeliveryFilter{LessonID: l.ID, Channel: relais.ChannelReminder})
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		Household  int64
		Status     relais.DeliveryStatus
		Occurrence int64
		ProviderID string
		Reason     string
	}
	var got []row
	pending := map[int64]bool{}
	for _, d := range ds {
		got = append(got, row{d.HouseholdID, d.Status, d.Occurrence, d.ProviderID, d.Reason})
		if d.Status == relais.DeliveryPending && d.Occurrence == t2 {
			pending[d.ID] = true
		}
	}
	want := []row{
		{hs[1].ID, relais.DeliveryPending, t2, "", ""},
		{hs[2].ID, relais.DeliveryPending, t1, "", ""},
		{hs[3].ID, relais.DeliveryPending, t2, "", ""},
		{hs[4].ID, relais.DeliveryPending, t2, "", ""},
		{hs[0].ID, relais.DeliveryPending, t2, "", ""},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("after the second airing's reminders (-want +got):\n%s", diff)
	}
	if len(second) != 4 || held != 1 {
		t.Errorf("second airing: ids %v, held %d; want 4 ids, 1 held", second, held)
	}
	for _, id := range second {
		if !pending[id] {
			t.Errorf("id %d returned but not pending for the second airing", id)
		}
	}

	// The same airing again (the task ran twice): the same rows, no new history.
	before, _ := db.DeliveryEvents(ctx, first[0])
	again, held := remind(t2, 0, 1, 2, 3, 4)
	if diff := cmp.Diff(second, again); diff != "" || held != 1 {
		t.Errorf("second run of the second airing: held %d, ids (-want +got):\n%s", held, diff)
	}
	if after, _ := db.DeliveryEvents(ctx, first[0]); len(after) != len(before) {
		t.Errorf("a second run added %d events", len(after)-len(before))
	}

	// Once sent, a second run plans nothing; nor does a late task of the earlier airing.
	advance(first[0], relais.DeliveryQueued, relais.DeliverySent, relais.DeliveryDelivered)
	if ids, _ := remind(t2, 1); len(ids) != 0 {
		t.Errorf("delivered reminder of the same airing handed on again: %v", ids)
	}
	if ids, _ := remind(t1, 1); len(ids) != 0 {
		t.Errorf("reminder of a later airing re-armed for an earlier one: %v", ids)
	}
	evs, err := db.DeliveryEvents(ctx, first[0])
	if err != nil {
		t.Fatal(err)
	}
	var history []string
	for _, e := range evs {
		history = append(history, string(e.Status)+" "+e.Detail)
	}
	wantHistory := []string{"pending reminder of the broadcast at 2027-05-04 10:00 UTC", "queued ", "sent ", "delivered ",
		"pending reminder again, of the broadcast at 2027-05-11 10:00 UTC", "queued ", "sent ", "delivered "}
	if diff := cmp.Diff(wantHistory, history); diff != "" {
		t.Errorf("history of a reminder of two airings (-want +got):\n%s", diff)
	}
	// The dashboard counts the delivery once, in its latest state.
	counts, err := db.DeliveryCounts(ctx, l.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantCounts := []relais.DeliveryCount{{Channel: relais.ChannelReminder, Status: relais.DeliveryDelivered, Count: 1},
		{Channel: relais.ChannelReminder, Status: relais.DeliveryPending, Count: 4}}
	if diff := cmp.Diff(wantCounts, counts); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}

	if _, _, err := db.RemindDeliveries(ctx, []relais.Delivery{{LessonID: l.ID, HouseholdID: hs[0].ID, Channel: relais.ChannelSMS, Occurrence: t1}}); err == nil {
		t.Error("an SMS delivery was planned as a reminder")
	}

	// A page naming one family twice, for two later airings, as one by one: the first airing re-arms
	// the reminder, which the second then finds pending for an earlier airing (held).
	t3, t4 := t2+7*24*3600, t2+14*24*3600
	twice, held, err := db.RemindDeliveries(ctx, []relais.Delivery{
		{LessonID: l.ID, HouseholdID: hs[1].ID, Channel: relais.ChannelReminder, Occurrence: t3},
		{LessonID: l.ID, HouseholdID: hs[1].ID, Channel: relais.ChannelReminder, Occurrence: t4}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int64{first[0]}, twice); diff != "" || held != 1 {
		t.Errorf("a page naming a family twice: held %d, ids (-want +got):\n%s", held, diff)
	}
	if ds, _ := db.DeliveriesByIDs(ctx, first[:1]); len(ds) != 1 || ds[0].Occurrence != t3 {
		t.Errorf("re-armed for %+v, want the airing at %d", ds, t3)
	}
}
