package storetest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	relais "github.com/relais-edu/relais"
)

// timelineFixture records, at known times, deliveries of two lessons on SMS and email:
//
//	t0-1m  lesson B: SMS to h0 planned (before every range below)
//	t0     lesson A: SMS to h0, h1, h2 planned; SMS to h3 skipped, opted out; email to h0 and h1 planned
//	t0+1m  lesson B: SMS to h0 skipped, no consent (not an opt-out)
//	t0+2m  A SMS h0 queued;  t0+4m A SMS h1 failed
//	t0+5m  A SMS h0 sent;    t0+6m A email h0 sent, A email h1 skipped (opted out);  t0+7m A SMS h0 delivered
//	t0+8m  a note on A email h0 (sent again);  t0+9m a bounce report on it: notes, not status changes
//	t0+10m A SMS h2 failed
type timelineFixture struct {
	db   relais.Store
	t0   time.Time
	a, b int64
}

func newTimelineFixture(t *testing.T, open Open) timelineFixture {
	t.Helper()
	ctx := context.Background()
	t0 := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	now := t0
	db := open(t, func() time.Time { return now })
	at := func(d time.Duration) { now = t0.Add(d) }
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	var lessons []int64
	for _, title := range []string{"A", "B"} {
		l := relais.Lesson{Title: title, Subject: "maths", Grade: 5, Language: "fr", TeacherID: "t1", SegmentBudget: 3}
		must(db.CreateLesson(ctx, &l))
		lessons = append(lessons, l.ID)
	}
	a, b := lessons[0], lessons[1]
	hs := make([]relais.Household, 4)
	for i := range hs {
		hs[i] = relais.Household{ExternalRef: string(rune('a' + i)), Language: "fr", Grades: []int{5},
			Profile: relais.ProfileMobileData, Consent: true}
	}
	must(db.UpsertHouseholds(ctx, hs))
	plan := func(ds ...relais.Delivery) []int64 {
		t.Helper()
		ids, err := db.PlanDeliveries(ctx, ds)
		must(err)
		return ids
	}
	advance := func(id int64, st relais.DeliveryStatus, detail string) {
		t.Helper()
		changed, err := db.AdvanceDelivery(ctx, id, st, detail, "")
		must(err)
		if !changed {
			t.Fatalf("delivery %d did not move to %s", id, st)
		}
	}

	at(-time.Minute)
	bSMS := plan(relais.Delivery{LessonID: b, HouseholdID: hs[0].ID, Channel: relais.ChannelSMS})
	at(0)
	sms := plan(
		relais.Delivery{LessonID: a, HouseholdID: hs[0].ID, Channel: relais.ChannelSMS},
		relais.Delivery{LessonID: a, HouseholdID: hs[1].ID, Channel: relais.ChannelSMS},
		relais.Delivery{LessonID: a, HouseholdID: hs[2].ID, Channel: relais.ChannelSMS},
		relais.Delivery{LessonID: a, HouseholdID: hs[3].ID, Channel: relais.ChannelSMS, Status: relais.DeliverySkipped,
			Reason: relais.OptedOutReason(relais.ChannelSMS)})
	email := plan(
		relais.Delivery{LessonID: a, HouseholdID: hs[0].ID, Channel: relais.ChannelEmail},
		relais.Delivery{LessonID: a, HouseholdID: hs[1].ID, Channel: relais.ChannelEmail})
	if len(sms) != 3 || len(email) != 2 {
		t.Fatalf("planned %d SMS and %d emails, want 3 and 2 pending", len(sms), len(email))
	}
	at(time.Minute)
	advance(bSMS[0], relais.DeliverySkipped, "no consent to be contacted")
	at(2 * time.Minute)
	advance(sms[0], relais.DeliveryQueued, "accepted by provider")
	at(4 * time.Minute)
	advance(sms[1], relais.DeliveryFailed, "invalid number (21211)")
	at(5 * time.Minute)
	advance(sms[0], relais.DeliverySent, "twilio: sent")
	at(6 * time.Minute)
	advance(email[0], relais.DeliverySent, "accepted by provider")
	advance(email[1], relais.DeliverySkipped, relais.OptedOutReason(relais.ChannelEmail))
	at(7 * time.Minute)
	advance(sms[0], relais.DeliveryDelivered, "twilio: delivered")
	at(8 * time.Minute)
	must(db.AddDeliveryEvent(ctx, relais.DeliveryEvent{DeliveryID: email[0], Status: relais.DeliverySent, Detail: "sent again after a soft bounce"}))
	at(9 * time.Minute)
	_, err := db.RecordBounce(ctx, relais.EmailBounce{Recipient: "x@example.org", DeliveryID: email[0], MessageID: "<m1>",
		Action: "delayed", Status: "4.2.2"})
	must(err)
	at(10 * time.Minute)
	advance(sms[2], relais.DeliveryFailed, "invalid number (21211)")
	return timelineFixture{db: db, t0: t0, a: a, b: b}
}

func testDeliveryTimeline(t *testing.T, open Open) {
	f := newTimelineFixture(t, open)
	t0, min := f.t0, time.Minute
	c := func(start time.Time, ch relais.ChannelName, st relais.DeliveryStatus, n, optedOut int64) relais.TimelineCount {
		return relais.TimelineCount{Start: start, Channel: ch, Status: st, Count: n, OptedOut: optedOut}
	}
	cases := []struct {
		name   string
		filter relais.TimelineFilter
		want   []relais.TimelineCount
	}{
		{"every lesson, two 5-minute buckets", relais.TimelineFilter{From: t0, To: t0.Add(10 * min), Bucket: 5 * min}, []relais.TimelineCount{
			c(t0, relais.ChannelEmail, relais.DeliveryPending, 2, 0),
			c(t0, relais.ChannelSMS, relais.DeliveryFailed, 1, 0),
			c(t0, relais.ChannelSMS, relais.DeliveryPending, 3, 0),
			c(t0, relais.ChannelSMS, relais.DeliveryQueued, 1, 0),
			c(t0, relais.ChannelSMS, relais.DeliverySkipped, 2, 1),           // A's opt-out and B's missing consent
			c(t0.Add(5*min), relais.ChannelEmail, relais.DeliverySent, 1, 0), // the note and the bounce are not counted
			c(t0.Add(5*min), relais.ChannelEmail, relais.DeliverySkipped, 1, 1),
			c(t0.Add(5*min), relais.ChannelSMS, relais.DeliveryDelivered, 1, 0),
			c(t0.Add(5*min), relais.ChannelSMS, relais.DeliverySent, 1, 0),
		}},
		{"lesson A", relais.TimelineFilter{LessonID: f.a, From: t0, To: t0.Add(10 * min), Bucket: 5 * min}, []relais.TimelineCount{
			c(t0, relais.ChannelEmail, relais.DeliveryPending, 2, 0),
			c(t0, relais.ChannelSMS, relais.DeliveryFailed, 1, 0),
			c(t0, relais.ChannelSMS, relais.DeliveryPending, 3, 0),
			c(t0, relais.ChannelSMS, relais.DeliveryQueued, 1, 0),
			c(t0, relais.ChannelSMS, relais.DeliverySkipped, 1, 1),
			c(t0.Add(5*min), relais.ChannelEmail, relais.DeliverySent, 1, 0),
			c(t0.Add(5*min), relais.ChannelEmail, relais.DeliverySkipped, 1, 1),
			c(t0.Add(5*min), relais.ChannelSMS, relais.DeliveryDelivered, 1, 0),
			c(t0.Add(5*min), relais.ChannelSMS, relais.DeliverySent, 1, 0),
		}},
		{"lesson B: its planning before the range is left out", relais.TimelineFilter{LessonID: f.b, From: t0, To: t0.Add(10 * min), Bucket: 5 * min}, []relais.TimelineCount{
			c(t0, relais.ChannelSMS, relais.DeliverySkipped, 1, 0),
		}},
		{"minutes of the second half", relais.TimelineFilter{From: t0.Add(5 * min), To: t0.Add(10 * min), Bucket: min}, []relais.TimelineCount{
			c(t0.Add(5*min), relais.ChannelSMS, relais.DeliverySent, 1, 0),
			c(t0.Add(6*min), relais.ChannelEmail, relais.DeliverySent, 1, 0),
			c(t0.Add(6*min), relais.ChannelEmail, relais.DeliverySkipped, 1, 1),
			c(t0.Add(7*min), relais.ChannelSMS, relais.DeliveryDelivered, 1, 0),
		}},
		{"buckets from the start, the last one cut by the end", relais.TimelineFilter{From: t0.Add(4 * min), To: t0.Add(11 * min), Bucket: 3 * min}, []relais.TimelineCount{
			c(t0.Add(4*min), relais.ChannelEmail, relais.DeliverySent, 1, 0),
			c(t0.Add(4*min), relais.ChannelEmail, relais.DeliverySkipped, 1, 1),
			c(t0.Add(4*min), relais.ChannelSMS, relais.DeliveryFailed, 1, 0),
			c(t0.Add(4*min), relais.ChannelSMS, relais.DeliverySent, 1, 0),
			c(t0.Add(7*min), relais.ChannelSMS, relais.DeliveryDelivered, 1, 0),
			c(t0.Add(10*min), relais.ChannelSMS, relais.DeliveryFailed, 1, 0),
		}},
		{"an empty period", relais.TimelineFilter{From: t0.Add(time.Hour), To: t0.Add(2 * time.Hour), Bucket: time.Hour}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := f.db.DeliveryTimeline(context.Background(), tc.filter)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("timeline (-want +got):\n%s", diff)
			}
		})
	}
	for _, bad := range []relais.TimelineFilter{
		{From: t0, To: t0, Bucket: min},                                // empty
		{From: t0, To: t0.Add(min)},                                    // no bucket
		{From: t0, To: t0.Add(10 * min), Bucket: 90 * time.Second},     // not whole minutes
		{From: t0.Add(time.Second), To: t0.Add(10 * min), Bucket: min}, // start within a minute
		{From: t0, To: t0.Add(10*min + time.Millisecond), Bucket: min}, // end within a minute
	} {
		if _, err := f.db.DeliveryTimeline(context.Background(), bad); relais.ErrorCode(err) != relais.EINVALID {
			t.Errorf("timeline %+v: err = %v, want invalid", bad, err)
		}
	}
}

func testFailureCountsAndStart(t *testing.T, open Open) {
	f := newTimelineFixture(t, open)
	ctx := context.Background()
	fail := func(n int64) []relais.FailureCount {
		return []relais.FailureCount{{Channel: relais.ChannelSMS, Status: relais.DeliveryFailed, Reason: "invalid number (21211)", Count: n}}
	}
	for _, tc := range []struct {
		name   string
		filter relais.FailureFilter
		want   []relais.FailureCount
	}{
		{"every lesson", relais.FailureFilter{}, fail(2)},
		{"lesson A", relais.FailureFilter{LessonID: f.a}, fail(2)},
		{"lesson B", relais.FailureFilter{LessonID: f.b}, nil},
		{"failed from t0+5m", relais.FailureFilter{From: f.t0.Add(5 * time.Minute)}, fail(1)},
		{"failed before t0+5m", relais.FailureFilter{To: f.t0.Add(5 * time.Minute)}, fail(1)},
		{"lesson A in a period", relais.FailureFilter{LessonID: f.a, From: f.t0, To: f.t0.Add(time.Minute)}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := f.db.FailureCounts(ctx, tc.filter)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("failure counts (-want +got):\n%s", diff)
			}
		})
	}

	for id, want := range map[int64]time.Time{f.a: f.t0, f.b: f.t0.Add(-time.Minute), 999: {}} {
		got, err := f.db.DeliveriesStarted(ctx, id)
		if err != nil || !got.Equal(want) {
			t.Errorf("DeliveriesStarted(%d) = %v, %v; want %v", id, got, err, want)
		}
	}

	all, err := f.db.DeliveryCounts(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []relais.DeliveryCount{
		{Channel: relais.ChannelEmail, Status: relais.DeliverySent, Count: 1},
		{Channel: relais.ChannelEmail, Status: relais.DeliverySkipped, Count: 1},
		{Channel: relais.ChannelSMS, Status: relais.DeliveryDelivered, Count: 1},
		{Channel: relais.ChannelSMS, Status: relais.DeliveryFailed, Count: 2},
		{Channel: relais.ChannelSMS, Status: relais.DeliverySkipped, Count: 2},
	}
	if diff := cmp.Diff(want, all); diff != "" {
		t.Errorf("counts of every lesson (-want +got):\n%s", diff)
	}
}

// testTimelineFollowsEveryWriter records history through every writer of a delivery's events
// (planning, advances one by one and in a page, a posted postal batch, notes and bounce reports) across
// minutes, and checks the timeline counts every status change and no note.
func testTimelineFollowsEveryWriter(t *testing.T, open Open) {
	ctx := context.Background()
	start := time.Date(2025, 3, 1, 10, 0, 30, 0, time.UTC)
	now := start
	db := open(t, func() time.Time { now = now.Add(20 * time.Second); return now })
	l := WriteEveryKind(t, db)

	hour := start.Truncate(time.Hour)
	counts, err := db.DeliveryTimeline(ctx, relais.TimelineFilter{LessonID: l.ID, From: hour, To: hour.Add(time.Hour), Bucket: time.Hour})
	must(t, err)
	var changes, optedOut, posted int64
	for _, c := range counts {
		changes += c.Count
		optedOut += c.OptedOut
		if c.Channel == relais.ChannelPostal && c.Status == relais.DeliverySent {
			posted += c.Count
		}
	}
	// 6 planned (one skipped, opted out), 2 postal queued, 3 advanced (one skipped, opted out), 2 posted,
	// 1 delivered straight from queued, with its implied "sent"; no note.
	if changes != 15 || optedOut != 2 || posted != 2 {
		t.Errorf("counted %d changes, %d opt-outs, %d posted; want 15, 2, 2\n%+v", changes, optedOut, posted, counts)
	}
	// Minute by minute, the timeline holds what the histories say (notes apart, which the writers above
	// add only as the last two events).
	perMinute, err := db.DeliveryTimeline(ctx, relais.TimelineFilter{LessonID: l.ID, From: hour, To: hour.Add(time.Hour), Bucket: time.Minute})
	must(t, err)
	want := map[string]int64{}
	ds, err := db.Deliveries(ctx, relais.DeliveryFilter{LessonID: l.ID})
	must(t, err)
	for _, d := range ds {
		evs, err := db.DeliveryEvents(ctx, d.ID)
		must(t, err)
		for _, e := range evs {
			if e.Detail == "a note" || strings.HasSuffix(e.Detail, "bounce: delayed 4.2.2") {
				continue
			}
			want[fmt.Sprint(e.At.Truncate(time.Minute).Format("15:04"), " ", d.Channel, " ", e.Status)]++
		}
	}
	got := map[string]int64{}
	for _, c := range perMinute {
		got[fmt.Sprint(c.Start.Format("15:04"), " ", c.Channel, " ", c.Status)] += c.Count
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("per minute (-from histories +timeline):\n%s", diff)
	}
}

// WriteEveryKind writes a lesson's deliveries through every writer of the store that changes a
// delivery's status or history (planning, skipped plans, single and paged advances, a postal batch
// printed and posted, a note, a bounce report), for tests that check what the store derives from the
// history. It returns the lesson.
func WriteEveryKind(t testing.TB, db relais.Store) relais.Lesson {
	t.Helper()
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	l := relais.Lesson{Title: "L", Subject: "maths", Grade: 5, Language: "fr", TeacherID: "t1"}
	must(db.CreateLesson(ctx, &l))
	hs := make([]relais.Household, 6)
	for i := range hs {
		hs[i] = relais.Household{ExternalRef: fmt.Sprint("h", i), Region: "IDF", Language: "fr", Grades: []int{5},
			Profile: relais.ProfileOffline, PostalAddress: "1 rue X", Consent: true}
	}
	must(db.UpsertHouseholds(ctx, hs))
	post, err := db.PlanDeliveries(ctx, []relais.Delivery{{LessonID: l.ID, HouseholdID: hs[0].ID, Channel: relais.ChannelPostal},
		{LessonID: l.ID, HouseholdID: hs[1].ID, Channel: relais.ChannelPostal}})
	must(err)
	// sms holds the pending ones: h2 and h3 by SMS, h5 by email.
	sms, err := db.PlanDeliveries(ctx, []relais.Delivery{{LessonID: l.ID, HouseholdID: hs[2].ID, Channel: relais.ChannelSMS},
		{LessonID: l.ID, HouseholdID: hs[3].ID, Channel: relais.ChannelSMS},
		{LessonID: l.ID, HouseholdID: hs[4].ID, Channel: relais.ChannelSMS, Status: relais.DeliverySkipped, Reason: relais.OptedOutReason(relais.ChannelSMS)},
		{LessonID: l.ID, HouseholdID: hs[5].ID, Channel: relais.ChannelEmail}})
	must(err)
	for _, id := range post {
		_, err := db.AdvanceDelivery(ctx, id, relais.DeliveryQueued, "", "batch:IDF")
		must(err)
	}
	_, err = db.AdvanceDeliveries(ctx, []relais.DeliveryAdvance{{ID: sms[0], Status: relais.DeliveryQueued},
		{ID: sms[1], Status: relais.DeliveryFailed, Detail: "invalid number"},
		{ID: sms[2], Status: relais.DeliverySkipped, Detail: relais.OptedOutReason(relais.ChannelEmail)}})
	must(err)
	b := relais.PostalBatch{LessonID: l.ID, Region: "IDF"}
	must(db.CreatePostalBatch(ctx, &b, "batch:IDF", 0))
	must(db.SetPostalBatchReady(ctx, b.ID, "x.pdf", 1, "x.csv"))
	_, err = db.MarkPostalBatch(ctx, b.ID, relais.PostalBatchPrinted)
	must(err)
	_, err = db.MarkPostalBatch(ctx, b.ID, relais.PostalBatchPosted)
	must(err)
	_, err = db.AdvanceDelivery(ctx, sms[0], relais.DeliveryDelivered, "", "")
	must(err)
	must(db.AddDeliveryEvent(ctx, relais.DeliveryEvent{DeliveryID: sms[0], Status: relais.DeliveryDelivered, Detail: "a note"}))
	_, err = db.RecordBounce(ctx, relais.EmailBounce{Recipient: "x@example.org", DeliveryID: sms[2], Action: "delayed", Status: "4.2.2"})
	must(err)
	return l
}
