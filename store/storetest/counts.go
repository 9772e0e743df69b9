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

// testDeliveryCountsFollowEveryWriter writes deliveries through every writer of their status (planning,
// advances one by one and in pages, claims and their release, reservations and their reclaim, a postal
// batch posted, unknown outcomes sent again), some of them from several goroutines at once on the same
// deliveries, and checks after each step that DeliveryCounts, which reads counters the store maintains,
// equals a count of the deliveries themselves, per lesson and for every lesson.
func testDeliveryCountsFollowEveryWriter(t *testing.T, open Open) {
	ctx := context.Background()
	db := open(t, nil)
	check := func(step string, lessons ...int64) {
		t.Helper()
		all, allFailures := map[string]int64{}, map[string]int64{}
		for _, id := range lessons {
			want, failures := countListed(t, db, id)
			for k, n := range failures {
				allFailures[k] += n
			}
			gotFailures, err := db.FailureCounts(ctx, relais.FailureFilter{LessonID: id})
			must(t, err)
			if diff := cmp.Diff(failures, failureMap(gotFailures)); diff != "" {
				t.Errorf("%s: failure reasons of lesson %d (-counted +kept):\n%s", step, id, diff)
			}
			// The same over a period of whole minutes that holds every change: the failures kept per
			// minute answer it.
			gotFailures, err = db.FailureCounts(ctx, relais.FailureFilter{LessonID: id, From: time.Unix(0, 0), To: time.Now().Add(24 * time.Hour).Truncate(time.Minute)})
			must(t, err)
			if diff := cmp.Diff(failures, failureMap(gotFailures)); diff != "" {
				t.Errorf("%s: failure reasons of lesson %d over a period (-counted +kept per minute):\n%s", step, id, diff)
			}
			for k, n := range want {
				all[k] += n
			}
			got, err := db.DeliveryCounts(ctx, id)
			must(t, err)
			if diff := cmp.Diff(want, countMap(got)); diff != "" {
				t.Errorf("%s: counts of lesson %d (-counted +kept):\n%s", step, id, diff)
			}
		}
		got, err := db.DeliveryCounts(ctx, 0)
		must(t, err)
		if diff := cmp.Diff(all, countMap(got)); diff != "" {
			t.Errorf("%s: counts of every lesson (-counted +kept):\n%s", step, diff)
		}
		gotFailures, err := db.FailureCounts(ctx, relais.FailureFilter{})
		must(t, err)
		if diff := cmp.Diff(allFailures, failureMap(gotFailures)); diff != "" {
			t.Errorf("%s: failure reasons of every lesson (-counted +kept):\n%s", step, diff)
		}
	}

	a := WriteEveryKind(t, db)
	check("every kind of writer", a.ID)

	b := relais.Lesson{Title: "B", Subject: "maths", Grade: 4, Language: "fr", TeacherID: "t1"}
	must(t, db.CreateLesson(ctx, &b))
	hs := make([]relais.Household, 40)
	for i := range hs {
		hs[i] = relais.Household{ExternalRef: fmt.Sprint("count", i), Language: "fr", Grades: []int{4},
			Profile: relais.ProfileMobileData, Phone: "+33612345678", Email: "a@example.org", Consent: true}
	}
	must(t, db.UpsertHouseholds(ctx, hs))
	var plan []relais.Delivery
	for i, h := range hs {
		plan = append(plan, relais.Delivery{LessonID: b.ID, HouseholdID: h.ID, Channel: relais.ChannelSMS})
		d := relais.Delivery{LessonID: b.ID, HouseholdID: h.ID, Channel: relais.ChannelEmail}
		if i%5 == 0 {
			d.Status, d.Reason = relais.DeliverySkipped, relais.OptedOutReason(relais.ChannelEmail)
		}
		plan = append(plan, d)
	}
	ids, err := db.PlanDeliveries(ctx, plan)
	must(t, err)
	_, err = db.PlanDeliveries(ctx, plan) // planned twice: nothing new
	must(t, err)
	check("planned", a.ID, b.ID)

	now := time.Now()
	claimed, err := db.ClaimDeliveries(ctx, ids[:20], "attempt-1", now)
	must(t, err)
	_, err = db.ReleaseClaims(ctx, claimed[:5], "attempt-1")
	must(t, err)
	must(t, db.ReserveDeliveries(ctx, ids[20:40], "attempt-2", now))
	_, err = db.ReclaimReserved(ctx, relais.ChannelSMS, now.Add(time.Hour), "attempt-3", now, 4)
	must(t, err)
	_, err = db.ReclaimDeliveries(ctx, relais.ChannelSMS, now.Add(time.Hour), "attempt-4", now, 3)
	must(t, err)
	check("claimed, released, reserved, reclaimed", a.ID, b.ID)

	// Four writers advance the same deliveries at once, in pages and one by one, through different
	// orders of statuses: the counters must end where the rows end, whichever change won.
	steps := [][]relais.DeliveryStatus{
		{relais.DeliveryQueued, relais.DeliverySent, relais.DeliveryDelivered},
		{relais.DeliverySent, relais.DeliveryFailed},
		{relais.DeliveryUnknown, relais.DeliveryQueued}, // claims become unknown, then answered
		{relais.DeliverySending, relais.DeliverySent, relais.DeliveryUndelivered},
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(steps))
	for w, statuses := range steps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, st := range statuses {
				if w%2 == 0 {
					var page []relais.DeliveryAdvance
					for _, id := range ids[w*10:] {
						page = append(page, relais.DeliveryAdvance{ID: id, Status: st, Detail: fmt.Sprint("writer ", w, " id ", id%3)})
					}
					if _, err := db.AdvanceDeliveries(ctx, page); err != nil {
						errs <- err
						return
					}
					continue
				}
				for _, id := range ids[w*10:] {
					if _, err := db.AdvanceDelivery(ctx, id, st, fmt.Sprint("writer ", w, " id ", id%3), ""); err != nil {
						errs <- err
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	check("advanced by four writers at once", a.ID, b.ID)

	_, err = db.ResendUnknown(ctx, b.ID)
	must(t, err)
	check("unknown outcomes sent again", a.ID, b.ID)
	if got, err := db.DeliveryCounts(ctx, 9999); err != nil || len(got) != 0 {
		t.Errorf("counts of a lesson without deliveries = %v, %v; want none", got, err)
	}
}

// countListed counts a lesson's deliveries by channel and status, and its failed and undelivered ones
// by reason too, from the rows themselves.
func countListed(t *testing.T, db relais.Store, lessonID int64) (counts, failures map[string]int64) {
	t.Helper()
	counts, failures = map[string]int64{}, map[string]int64{}
	p := relais.Page{Limit: relais.MaxPageLimit}
	for {
		ds, err := db.Deliveries(context.Background(), relais.DeliveryFilter{LessonID: lessonID, Page: p})
		must(t, err)
		for _, d := range ds {
			counts[fmt.Sprint(d.Channel, " ", d.Status)]++
			if d.Status == relais.DeliveryFailed || d.Status == relais.DeliveryUndelivered {
				failures[fmt.Sprint(d.Channel, " ", d.Status, " ", d.Reason)]++
			}
		}
		if len(ds) < p.Limit {
			return counts, failures
		}
		p.After = ds[len(ds)-1].ID
	}
}

func countMap(cs []relais.DeliveryCount) map[string]int64 {
	m := map[string]int64{}
	for _, c := range cs {
		m[fmt.Sprint(c.Channel, " ", c.Status)] += c.Count
	}
	return m
}

func failureMap(cs []relais.FailureCount) map[string]int64 {
	m := map[string]int64{}
	for _, c := range cs {
		m[fmt.Sprint(c.Channel, " ", c.Status, " ", c.Reason)] += c.Count
	}
	return m
}
