package storetest

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	relais "github.com/relais-edu/relais"
)

// testPlanPageRemembersSenders: PlanPage writes the page's sender choices with its deliveries, every
// read of a household returns what it remembers (the fan-out's page read included), a choice made
// on a stale read gives way to what the household remembers now, an import leaves the sender, and a
// page refused writes no sender.
func testPlanPageRemembersSenders(t *testing.T, open Open) {
	ctx := context.Background()
	db := open(t, nil)
	l1 := relais.Lesson{Title: "T", Subject: "s", Grade: 5, Language: "fr", TeacherID: "t"}
	l2 := l1
	must(t, db.CreateLesson(ctx, &l1))
	must(t, db.CreateLesson(ctx, &l2))
	hs := []relais.Household{
		{ExternalRef: "A", Language: "fr", Grades: []int{5}, Profile: relais.ProfileSMSOnly, Phone: "+33612345601"},
		{ExternalRef: "B", Language: "fr", Grades: []int{5}, Profile: relais.ProfileSMSOnly, Phone: "+33612345602"},
		{ExternalRef: "C", Language: "fr", Grades: []int{5}, Profile: relais.ProfileSMSOnly, Phone: "+33612345603"},
	}
	must(t, db.UpsertHouseholds(ctx, hs))
	a, b, c := hs[0].ID, hs[1].ID, hs[2].ID
	remembered := func(when string, want map[int64]string) {
		t.Helper()
		page, err := db.Households(ctx, relais.HouseholdFilter{Audience: &relais.Audience{Grades: []int{5}, Languages: []string{"fr"}}})
		must(t, err)
		byIDs, err := db.HouseholdsByIDs(ctx, []int64{a, b, c})
		must(t, err)
		got := map[int64]string{}
		for _, h := range page {
			got[h.ID] = h.SMSSender
			if byIDs[h.ID].SMSSender != h.SMSSender {
				t.Errorf("%s: household %d remembers %q read by id, %q read in a page", when, h.ID, byIDs[h.ID].SMSSender, h.SMSSender)
			}
			if one, err := db.Household(ctx, h.ID); err != nil || one.SMSSender != h.SMSSender {
				t.Errorf("%s: household %d alone remembers %q, %v; in a page %q", when, h.ID, one.SMSSender, err, h.SMSSender)
			}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: senders remembered (-want +got):\n%s", when, diff)
		}
	}
	plan := func(l relais.Lesson, ids ...int64) []relais.Delivery {
		var ds []relais.Delivery
		for _, id := range ids {
			ds = append(ds, relais.Delivery{LessonID: l.ID, HouseholdID: id, Channel: relais.ChannelSMS})
		}
		return ds
	}
	remembered("before any fan-out", map[int64]string{a: "", b: "", c: ""})

	// The first lesson: A and B get their senders, C none (a household with no SMS sender).
	choices := []relais.SenderChoice{{HouseholdID: b, Sender: "s2"}, {HouseholdID: a, Sender: "s1"}}
	ids, err := db.PlanPage(ctx, plan(l1, a, b, c), choices)
	if err != nil || len(ids) != 3 {
		t.Fatalf("plan page: %v, %v; want 3 pending", ids, err)
	}
	if diff := cmp.Diff([]relais.SenderChoice{{HouseholdID: b, Sender: "s2"}, {HouseholdID: a, Sender: "s1"}}, choices); diff != "" {
		t.Errorf("choices written as made (-want +got):\n%s", diff)
	}
	remembered("after the first lesson", map[int64]string{a: "s1", b: "s2", c: ""})

	// An import changes the households' rows and leaves their senders.
	hs[0].Region = "IDF"
	must(t, db.UpsertHouseholds(ctx, hs))
	remembered("after an import", map[int64]string{a: "s1", b: "s2", c: ""})

	// The second lesson, planned on a stale read of A (it did not know s1): A keeps s1 and the choice
	// says so; B moves (its sender left the pool); C gets its first.
	choices = []relais.SenderChoice{{HouseholdID: c, Sender: "s1"}, {HouseholdID: a, Sender: "s3"}, {HouseholdID: b, Was: "s2", Sender: "s3"}}
	if ids, err := db.PlanPage(ctx, plan(l2, a, b, c), choices); err != nil || len(ids) != 3 {
		t.Fatalf("plan the second page: %v, %v", ids, err)
	}
	want := []relais.SenderChoice{{HouseholdID: c, Sender: "s1"}, {HouseholdID: a, Sender: "s1"}, {HouseholdID: b, Was: "s2", Sender: "s3"}}
	if diff := cmp.Diff(want, choices); diff != "" {
		t.Errorf("choices after a stale read (-want +got):\n%s", diff)
	}
	remembered("after the second lesson", map[int64]string{a: "s1", b: "s3", c: "s1"})

	// A page refused (a household gone) is refused whole: no sender is written either.
	if _, err := db.PlanPage(ctx, plan(l2, a, 1<<40), []relais.SenderChoice{{HouseholdID: a, Was: "s1", Sender: "s9"}}); err == nil {
		t.Error("a page with a household that does not exist: no error")
	}
	remembered("after a refused page", map[int64]string{a: "s1", b: "s3", c: "s1"})
	// Choices without deliveries are written all the same.
	if ids, err := db.PlanPage(ctx, nil, []relais.SenderChoice{{HouseholdID: c, Was: "s1", Sender: "s2"}}); err != nil || len(ids) != 0 {
		t.Errorf("choices without deliveries: %v, %v", ids, err)
	}
	remembered("after choices without deliveries", map[int64]string{a: "s1", b: "s3", c: "s2"})
	// A page with no choices writes none (PlanDeliveries is that).
	if _, err := db.PlanPage(ctx, plan(l1, a, b), nil); err != nil {
		t.Fatal(err)
	}
	remembered("after a page without choices", map[int64]string{a: "s1", b: "s3", c: "s2"})
}
