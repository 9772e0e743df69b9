package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	relais "github.com/relais-edu/relais"
)

// testDeliveryClaims: a claim moves pending deliveries only, once; a release gives back only the
// attempt's own claims; a refresh keeps them young; a reclaim hands only stale claims of the channel
// to one sweeper among many; unknowns go back to pending in one call, with an event.
func testDeliveryClaims(t *testing.T, open Open) {
	ctx := context.Background()
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	setClock := func(t time.Time) { mu.Lock(); now = t; mu.Unlock() }
	db := open(t, clock)
	l, ids := emailsPlanned(t, db, "C", 6)

	t0 := clock()
	_, err := db.AdvanceDeliveries(ctx, []relais.DeliveryAdvance{{ID: ids[5], Status: relais.DeliveryQueued}})
	must(t, err)
	got, err := db.ClaimDeliveries(ctx, []int64{ids[2], ids[0], ids[1], ids[5]}, "a1", t0)
	must(t, err)
	if diff := cmp.Diff([]int64{ids[0], ids[1], ids[2]}, got); diff != "" {
		t.Errorf("claimed (-want +got):\n%s", diff)
	}
	again, err := db.ClaimDeliveries(ctx, []int64{ids[0], ids[1], ids[3]}, "a2", t0)
	must(t, err)
	if diff := cmp.Diff([]int64{ids[3]}, again); diff != "" {
		t.Errorf("claimed again (-want +got):\n%s", diff)
	}
	ds, err := db.DeliveriesByIDs(ctx, ids[:1])
	must(t, err)
	if d := ds[0]; d.Status != relais.DeliveryClaimed || d.ClaimedBy != "a1" || !d.ClaimedAt.Equal(t0) {
		t.Errorf("claimed delivery: %s by %q at %v", d.Status, d.ClaimedBy, d.ClaimedAt)
	}
	// Only a1's own claims go back.
	rel, err := db.ReleaseClaims(ctx, []int64{ids[1], ids[3]}, "a1")
	must(t, err)
	if diff := cmp.Diff([]int64{ids[1]}, rel); diff != "" {
		t.Errorf("released (-want +got):\n%s", diff)
	}
	// A claim advances like pending; a claimed delivery that is not released stays claimed.
	ch, err := db.AdvanceDeliveries(ctx, []relais.DeliveryAdvance{{ID: ids[0], Status: relais.DeliveryQueued, ProviderID: "m0"},
		{ID: ids[2], Status: relais.DeliveryPending}})
	must(t, err)
	if diff := cmp.Diff([]bool{true, false}, ch); diff != "" {
		t.Errorf("advanced (-want +got):\n%s", diff)
	}

	// a2 refreshes its claim (ids[3]); a1's (ids[2]) goes stale.
	setClock(t0.Add(20 * time.Second))
	must(t, db.RefreshClaims(ctx, "a2", ids, clock()))
	before := clock().Add(-10 * time.Second)
	none, err := db.ReclaimDeliveries(ctx, relais.ChannelSMS, before, "s0", clock(), 10)
	must(t, err)
	if len(none) != 0 {
		t.Errorf("reclaimed on another channel: %v", none)
	}
	var wg sync.WaitGroup
	taken := make([][]relais.Delivery, 4)
	for i := range taken {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			taken[i], err = db.ReclaimDeliveries(ctx, relais.ChannelEmail, before, fmt.Sprint("s", i+1), clock(), 10)
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	var all []int64
	var by string
	for i, ds := range taken {
		for _, d := range ds {
			all = append(all, d.ID)
			by = fmt.Sprint("s", i+1)
			if d.ClaimedBy != "a1" {
				t.Errorf("reclaimed from %q, want the dead attempt a1", d.ClaimedBy)
			}
			if d.Status != relais.DeliveryClaimed || !d.ClaimedAt.Equal(clock()) || !d.CreatedAt.Equal(t0) {
				t.Errorf("reclaimed: %+v", d)
			}
		}
	}
	if diff := cmp.Diff([]int64{ids[2]}, all); diff != "" {
		t.Fatalf("reclaimed by four sweepers (-want +got):\n%s", diff)
	}
	// The sweeper now owns it: the dead attempt can no longer release it; the sweeper can.
	if rel, err := db.ReleaseClaims(ctx, []int64{ids[2]}, "a1"); err != nil || len(rel) != 0 {
		t.Errorf("released by the dead attempt: %v, %v", rel, err)
	}
	_, err = db.AdvanceDeliveries(ctx, []relais.DeliveryAdvance{{ID: ids[2], Status: relais.DeliveryUnknown, Detail: "attempt " + by + " died"},
		{ID: ids[3], Status: relais.DeliveryUnknown, Detail: "x"}})
	must(t, err)
	// An unknown keeps its reason, and nothing makes it pending or claimed again but ResendUnknown.
	if ds, err := db.DeliveriesByIDs(ctx, ids[2:3]); err != nil || ds[0].Reason != "attempt "+by+" died" {
		t.Errorf("unknown's reason: %+v, %v", ds, err)
	}
	if ch, err := db.AdvanceDeliveries(ctx, []relais.DeliveryAdvance{{ID: ids[2], Status: relais.DeliveryPending},
		{ID: ids[3], Status: relais.DeliveryClaimed}}); err != nil || ch[0] || ch[1] {
		t.Errorf("unknown moved back: %v, %v", ch, err)
	}
	back, err := db.ResendUnknown(ctx, l.ID)
	must(t, err)
	if diff := cmp.Diff([]int64{ids[2], ids[3]}, back); diff != "" {
		t.Errorf("resent unknowns (-want +got):\n%s", diff)
	}
	ds, err = db.DeliveriesByIDs(ctx, ids)
	must(t, err)
	var statuses []relais.DeliveryStatus
	for _, d := range ds {
		statuses = append(statuses, d.Status)
	}
	want := []relais.DeliveryStatus{relais.DeliveryQueued, relais.DeliveryPending, relais.DeliveryPending,
		relais.DeliveryPending, relais.DeliveryPending, relais.DeliveryQueued}
	if diff := cmp.Diff(want, statuses); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
	evs, err := db.DeliveryEvents(ctx, ids[2])
	must(t, err)
	var steps []relais.DeliveryStatus
	for _, e := range evs {
		steps = append(steps, e.Status)
	}
	if diff := cmp.Diff([]relais.DeliveryStatus{relais.DeliveryPending, relais.DeliveryUnknown, relais.DeliveryPending}, steps); diff != "" {
		t.Errorf("history of a resent unknown (-want +got):\n%s", diff)
	}
	// The deliveries left at queued since before a time: ids[0] (queued at t0); ids[5] too.
	old, err := db.Deliveries(ctx, relais.DeliveryFilter{Channel: relais.ChannelEmail, Status: relais.DeliveryQueued,
		UpdatedBefore: t0.Add(time.Second), UpdatedAfter: t0.Add(-time.Hour)})
	must(t, err)
	if len(old) != 2 || old[0].ID != ids[0] || old[1].ID != ids[5] {
		t.Errorf("queued before t0+1s: %v", old)
	}
	if none, err := db.Deliveries(ctx, relais.DeliveryFilter{Status: relais.DeliveryQueued, UpdatedBefore: t0}); err != nil || len(none) != 0 {
		t.Errorf("queued before t0: %v, %v", none, err)
	}
	if again, err := db.ResendUnknown(ctx, l.ID); err != nil || len(again) != 0 {
		t.Errorf("resent twice: %v, %v", again, err)
	}
}

// testRemindLeavesClaimedReminders: a reminder claimed by a send attempt is in flight, as a pending
// one: the next airing does not re-arm it (that would let a second task send it) but holds it.
func testRemindLeavesClaimedReminders(t *testing.T, open Open) {
	ctx := context.Background()
	db := open(t, nil)
	l := relais.Lesson{Title: "T", Subject: "s", Grade: 1, Language: "fr", TeacherID: "t"}
	must(t, db.CreateLesson(ctx, &l))
	hs := []relais.Household{{ExternalRef: "R", Language: "fr", Profile: relais.ProfileSMSOnly, Phone: "+33612000009"}}
	must(t, db.UpsertHouseholds(ctx, hs))
	t1 := time.Date(2027, 5, 4, 10, 0, 0, 0, time.UTC).Unix()
	ids, _, err := db.RemindDeliveries(ctx, []relais.Delivery{{LessonID: l.ID, HouseholdID: hs[0].ID, Channel: relais.ChannelReminder, Occurrence: t1}})
	must(t, err)
	if got, err := db.ClaimDeliveries(ctx, ids, "a1", time.Now()); err != nil || len(got) != 1 {
		t.Fatalf("claim: %v, %v", got, err)
	}
	again, held, err := db.RemindDeliveries(ctx, []relais.Delivery{{LessonID: l.ID, HouseholdID: hs[0].ID, Channel: relais.ChannelReminder, Occurrence: t1 + 3600}})
	must(t, err)
	ds, _ := db.DeliveriesByIDs(ctx, ids)
	if len(again) != 0 || held != 1 || ds[0].Status != relais.DeliveryClaimed || ds[0].Occurrence != t1 {
		t.Errorf("next airing of a claimed reminder: ids %v, held %d, %s for %d", again, held, ds[0].Status, ds[0].Occurrence)
	}
}

// testDeliveryReservations: a send attempt reserves its page (the deliveries stay pending); its
// heartbeat keeps the reservation young; a stale one goes to one sweeper; cleared ones to none.
func testDeliveryReservations(t *testing.T, open Open) {
	ctx := context.Background()
	db := open(t, nil)
	_, ids := emailsPlanned(t, db, "V", 4)
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	must(t, db.ReserveDeliveries(ctx, ids[:2], "dead", t0))
	must(t, db.ReserveDeliveries(ctx, ids[2:], "alive", t0))
	if _, err := db.ClaimDeliveries(ctx, ids[1:2], "dead", t0); err != nil {
		t.Fatal(err)
	}
	later := t0.Add(time.Minute)
	must(t, db.RefreshClaims(ctx, "alive", ids, later)) // the ids of another attempt are left alone
	got, err := db.ReclaimReserved(ctx, relais.ChannelEmail, later.Add(-10*time.Second), "s1", later, 10)
	must(t, err)
	if diff := cmp.Diff([]int64{ids[0]}, got); diff != "" {
		t.Errorf("reclaimed reservations (-want +got):\n%s", diff)
	}
	if again, err := db.ReclaimReserved(ctx, relais.ChannelEmail, later.Add(-10*time.Second), "s2", later, 10); err != nil || len(again) != 0 {
		t.Errorf("reclaimed twice: %v, %v", again, err)
	}
	must(t, db.ClearReservations(ctx, "s1", got))
	// Only the ids given are cleared: the attempt's other reservation stays.
	must(t, db.ClearReservations(ctx, "alive", ids[2:3]))
	if ds, err := db.DeliveriesByIDs(ctx, ids[3:]); err != nil || ds[0].ClaimedBy != "alive" {
		t.Errorf("a reservation not among the ids cleared: %v, %v", ds, err)
	}
	must(t, db.ClearReservations(ctx, "alive", ids))
	ds, err := db.DeliveriesByIDs(ctx, ids)
	must(t, err)
	for i, d := range ds {
		wantBy, wantStatus := "", relais.DeliveryPending
		if i == 1 {
			wantBy, wantStatus = "dead", relais.DeliveryClaimed
		}
		if d.ClaimedBy != wantBy || d.Status != wantStatus {
			t.Errorf("delivery %d: %s by %q, want %s by %q", i, d.Status, d.ClaimedBy, wantStatus, wantBy)
		}
	}
	if none, err := db.ReclaimReserved(ctx, relais.ChannelEmail, later.Add(time.Hour), "s3", later, 10); err != nil || len(none) != 0 {
		t.Errorf("cleared reservations reclaimed: %v, %v", none, err)
	}
}

// testCommitSends: the steps of send attempts apply in one transaction, in order, each step's outcomes
// before its claims; a delivery that two steps claim goes to the first; claims move pending deliveries
// only; a step that fails leaves everything as it was, claims of other steps included.
func testCommitSends(t *testing.T, open Open) {
	ctx := context.Background()
	db := open(t, nil)
	l, ids := emailsPlanned(t, db, "S", 6)
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

	none, err := db.CommitSends(ctx, []relais.SendStep{{Attempt: "a1"}, {Attempt: "a2"}})
	must(t, err)
	if diff := cmp.Diff([][]int64{nil, nil}, none); diff != "" {
		t.Errorf("empty steps (-want +got):\n%s", diff)
	}
	got, err := db.CommitSends(ctx, []relais.SendStep{
		{Claims: []int64{ids[1], ids[0]}, Attempt: "a1", At: t0},
		{Claims: []int64{ids[1], ids[2]}, Attempt: "a2", At: t0},
	})
	must(t, err)
	if diff := cmp.Diff([][]int64{{ids[0], ids[1]}, {ids[2]}}, got); diff != "" {
		t.Errorf("claimed per step (-want +got):\n%s", diff)
	}
	// a1's outcome of ids[0] and its claim of ids[3] in one commit; a2's outcome of ids[2] beside it.
	got, err = db.CommitSends(ctx, []relais.SendStep{
		{Advances: []relais.DeliveryAdvance{{ID: ids[0], Status: relais.DeliverySent, Detail: "accepted by provider", ProviderID: "m0"}},
			Claims: []int64{ids[3], ids[2]}, Attempt: "a1", At: t0.Add(time.Second)},
		{Advances: []relais.DeliveryAdvance{{ID: ids[2], Status: relais.DeliveryFailed, Detail: "550 no such user"}}, Attempt: "a2"},
	})
	must(t, err)
	if diff := cmp.Diff([][]int64{{ids[3]}, nil}, got); diff != "" {
		t.Errorf("claimed with outcomes (-want +got):\n%s", diff)
	}
	// A step naming a delivery that does not exist fails the whole commit: ids[4] is not claimed, ids[1]
	// not advanced.
	if _, err := db.CommitSends(ctx, []relais.SendStep{
		{Advances: []relais.DeliveryAdvance{{ID: ids[1], Status: relais.DeliverySent}}, Claims: []int64{ids[4]}, Attempt: "a1", At: t0},
		{Advances: []relais.DeliveryAdvance{{ID: 1 << 40, Status: relais.DeliverySent}}, Attempt: "a3"},
	}); relais.ErrorCode(err) != relais.ENOTFOUND {
		t.Errorf("commit with a missing delivery: %v, want not found", err)
	}

	ds, err := db.DeliveriesByIDs(ctx, ids)
	must(t, err)
	type row struct {
		Status     relais.DeliveryStatus
		By         string
		At         time.Time
		ProviderID string
		Reason     string
	}
	var rows []row
	for _, d := range ds {
		r := row{Status: d.Status, ProviderID: d.ProviderID, Reason: d.Reason}
		if d.Status == relais.DeliveryClaimed {
			r.By, r.At = d.ClaimedBy, d.ClaimedAt
		}
		rows = append(rows, r)
	}
	want := []row{
		{Status: relais.DeliverySent, ProviderID: "m0"},
		{Status: relais.DeliveryClaimed, By: "a1", At: t0},
		{Status: relais.DeliveryFailed, Reason: "550 no such user"},
		{Status: relais.DeliveryClaimed, By: "a1", At: t0.Add(time.Second)},
		{Status: relais.DeliveryPending},
		{Status: relais.DeliveryPending},
	}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("deliveries (-want +got):\n%s", diff)
	}
	evs, err := db.DeliveryEvents(ctx, ids[0])
	must(t, err)
	var steps []string
	for _, e := range evs {
		steps = append(steps, string(e.Status)+" "+e.Detail)
	}
	if diff := cmp.Diff([]string{"pending ", "sent accepted by provider"}, steps); diff != "" {
		t.Errorf("history of the sent delivery (-want +got):\n%s", diff)
	}
	counts, err := db.DeliveryCounts(ctx, l.ID)
	must(t, err)
	byStatus := map[relais.DeliveryStatus]int64{}
	for _, c := range counts {
		byStatus[c.Status] += c.Count
	}
	if diff := cmp.Diff(map[relais.DeliveryStatus]int64{"sent": 1, "claimed": 2, "failed": 1, "pending": 2}, byStatus); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}
}

// testCommitSendsOutcomes: the send path's usual steps, the outcomes of an attempt's own claims (sent,
// queued, failed) with the claims of the next messages, apply with their events and counts; an outcome
// of a delivery another attempt holds applies too (as AdvanceDeliveries would); a step naming a
// delivery that does not exist applies nothing, its claims included.
func testCommitSendsOutcomes(t *testing.T, open Open) {
	ctx := context.Background()
	db := open(t, nil)
	l, ids := emailsPlanned(t, db, "O", 8)
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	claim := func(attempt string, ids ...int64) {
		t.Helper()
		got, err := db.CommitSends(ctx, []relais.SendStep{{Claims: ids, Attempt: attempt, At: t0}})
		must(t, err)
		if len(got[0]) != len(ids) {
			t.Fatalf("%s claimed %v of %v", attempt, got[0], ids)
		}
	}
	claim("a1", ids[0], ids[1])
	claim("a2", ids[2])

	// Two attempts' outcomes of their own claims, and their next claims, in one commit.
	got, err := db.CommitSends(ctx, []relais.SendStep{
		{Advances: []relais.DeliveryAdvance{{ID: ids[0], Status: relais.DeliverySent, Detail: "accepted by provider", ProviderID: "<m0@relais>"},
			{ID: ids[1], Status: relais.DeliveryFailed, Detail: "550 no such user"}},
			Claims: []int64{ids[3]}, Attempt: "a1", At: t0.Add(time.Second)},
		{Advances: []relais.DeliveryAdvance{{ID: ids[2], Status: relais.DeliveryQueued, Detail: "accepted by provider", ProviderID: "SM2"}},
			Claims: []int64{ids[4]}, Attempt: "a2", At: t0.Add(time.Second)},
	})
	must(t, err)
	if diff := cmp.Diff([][]int64{{ids[3]}, {ids[4]}}, got); diff != "" {
		t.Errorf("claimed with the outcomes (-want +got):\n%s", diff)
	}
	// a1 records the outcome of ids[4], which a2 holds: it applies all the same.
	got, err = db.CommitSends(ctx, []relais.SendStep{{Advances: []relais.DeliveryAdvance{{ID: ids[4], Status: relais.DeliverySent,
		Detail: "accepted by provider", ProviderID: "<m4@relais>"}}, Claims: []int64{ids[5]}, Attempt: "a1", At: t0.Add(2 * time.Second)}})
	must(t, err)
	if diff := cmp.Diff([][]int64{{ids[5]}}, got); diff != "" {
		t.Errorf("claimed beside another attempt's outcome (-want +got):\n%s", diff)
	}
	// A delivery that does not exist: nothing applies, the outcome of ids[3] and the claim of ids[6]
	// neither.
	if _, err := db.CommitSends(ctx, []relais.SendStep{{Advances: []relais.DeliveryAdvance{
		{ID: ids[3], Status: relais.DeliverySent, ProviderID: "<m3@relais>"}, {ID: 1 << 40, Status: relais.DeliverySent}},
		Claims: []int64{ids[6]}, Attempt: "a1", At: t0}}); relais.ErrorCode(err) != relais.ENOTFOUND {
		t.Errorf("commit with a missing delivery: %v, want not found", err)
	}

	ds, err := db.DeliveriesByIDs(ctx, ids)
	must(t, err)
	var rows []string
	for _, d := range ds {
		rows = append(rows, fmt.Sprintf("%s %s %q %q", d.Status, d.ClaimedBy, d.ProviderID, d.Reason))
	}
	want := []string{
		`sent a1 "<m0@relais>" ""`,
		`failed a1 "" "550 no such user"`,
		`queued a2 "SM2" ""`,
		`claimed a1 "" ""`,
		`sent a2 "<m4@relais>" ""`,
		`claimed a1 "" ""`,
		`pending  "" ""`,
		`pending  "" ""`,
	}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("deliveries (-want +got):\n%s", diff)
	}
	for i, want := range map[int][]string{0: {"pending ", "sent accepted by provider"}, 1: {"pending ", "failed 550 no such user"},
		3: {"pending "}} {
		evs, err := db.DeliveryEvents(ctx, ids[i])
		must(t, err)
		var steps []string
		for _, e := range evs {
			steps = append(steps, string(e.Status)+" "+e.Detail)
		}
		if diff := cmp.Diff(want, steps); diff != "" {
			t.Errorf("history of delivery %d (-want +got):\n%s", i, diff)
		}
	}
	counts, err := db.DeliveryCounts(ctx, l.ID)
	must(t, err)
	byStatus := map[relais.DeliveryStatus]int64{}
	for _, c := range counts {
		byStatus[c.Status] += c.Count
	}
	if diff := cmp.Diff(map[relais.DeliveryStatus]int64{"sent": 2, "failed": 1, "queued": 1, "claimed": 2, "pending": 2}, byStatus); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}
}

// emailsPlanned plans a new lesson's email to n new households whose references start with ref.
func emailsPlanned(t *testing.T, db relais.Store, ref string, n int) (relais.Lesson, []int64) {
	t.Helper()
	ctx := context.Background()
	l := relais.Lesson{Title: "T", Subject: "s", Grade: 1, Language: "fr", TeacherID: "t"}
	must(t, db.CreateLesson(ctx, &l))
	hs := make([]relais.Household, n)
	for i := range hs {
		hs[i] = relais.Household{ExternalRef: fmt.Sprint(ref, i), Language: "fr", Profile: relais.ProfileBroadband}
	}
	must(t, db.UpsertHouseholds(ctx, hs))
	plan := make([]relais.Delivery, len(hs))
	for i, h := range hs {
		plan[i] = relais.Delivery{LessonID: l.ID, HouseholdID: h.ID, Channel: relais.ChannelEmail}
	}
	ids, err := db.PlanDeliveries(ctx, plan)
	must(t, err)
	return l, ids
}

// testUnknownReplacedByAnswer: the sweep's unknown, on a claim whose attempt was only silent (a
// database outage), gives way to the attempt's outcome committed after it, provider id and all, in the
// row, the history and the counts; the sweep's unknown after the outcome changes nothing.
func testUnknownReplacedByAnswer(t *testing.T, open Open) {
	ctx := context.Background()
	db := open(t, nil)
	l, ids := emailsPlanned(t, db, "U", 2)
	t0 := time.Now().UTC().Truncate(time.Millisecond)
	_, err := db.ClaimDeliveries(ctx, ids, "a1", t0)
	must(t, err)
	taken, err := db.ReclaimDeliveries(ctx, relais.ChannelEmail, t0.Add(time.Second), "sweep", t0.Add(time.Minute), 10)
	must(t, err)
	if len(taken) != 2 {
		t.Fatalf("reclaimed %d claims, want 2", len(taken))
	}
	// ids[0]: the sweep's unknown, then a1's outcome; ids[1]: a1's outcome, then the sweep's unknown.
	for _, step := range [][]relais.DeliveryAdvance{
		{{ID: ids[0], Status: relais.DeliveryUnknown, Detail: "its send attempt stopped"}},
		{{ID: ids[0], Status: relais.DeliveryQueued, Detail: "accepted", ProviderID: "<m0@relais>"},
			{ID: ids[1], Status: relais.DeliveryQueued, Detail: "accepted", ProviderID: "<m1@relais>"}},
		{{ID: ids[1], Status: relais.DeliveryUnknown, Detail: "its send attempt stopped"}},
	} {
		_, err := db.AdvanceDeliveries(ctx, step)
		must(t, err)
	}
	ds, err := db.DeliveriesByIDs(ctx, ids)
	must(t, err)
	for i, d := range ds {
		if d.Status != relais.DeliveryQueued || d.ProviderID != fmt.Sprintf("<m%d@relais>", i) || d.Reason != "" {
			t.Errorf("delivery %d: %s (%q), provider id %q; want queued by the attempt's answer", i, d.Status, d.Reason, d.ProviderID)
		}
	}
	for i, want := range [][]relais.DeliveryStatus{
		{relais.DeliveryPending, relais.DeliveryUnknown, relais.DeliveryQueued},
		{relais.DeliveryPending, relais.DeliveryQueued},
	} {
		evs, err := db.DeliveryEvents(ctx, ids[i])
		must(t, err)
		var steps []relais.DeliveryStatus
		for _, e := range evs {
			steps = append(steps, e.Status)
		}
		if diff := cmp.Diff(want, steps); diff != "" {
			t.Errorf("history of delivery %d (-want +got):\n%s", i, diff)
		}
	}
	counts, err := db.DeliveryCounts(ctx, l.ID)
	must(t, err)
	if diff := cmp.Diff([]relais.DeliveryCount{{Channel: relais.ChannelEmail, Status: relais.DeliveryQueued, Count: 2}}, counts); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}
}
