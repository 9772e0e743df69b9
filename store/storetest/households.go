package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	relais "github.com/relais-edu/relais"
)

// testUpsertHouseholdsRepeatsAndRaces: one batch that creates households, updates one, lists a new one
// twice (the second listing wins, as one by one) and has one without pupils; then two writers importing
// the same new households at once, as two clerks uploading one file: both succeed, each household is
// stored once with its pupils once.
func testUpsertHouseholdsRepeatsAndRaces(t *testing.T, open Open) {
	ctx := context.Background()
	db := open(t, nil)
	must(t, db.UpsertHouseholds(ctx, []relais.Household{{ExternalRef: "A", Language: "fr", Grades: []int{3}, Profile: relais.ProfileOffline,
		PostalAddress: "1 rue A"}}))
	hs := []relais.Household{
		{ExternalRef: "X", Language: "fr", Profile: relais.ProfileSMSOnly, Phone: "+33612345601",
			Pupils: []relais.Pupil{{Grade: 4, Language: "fr"}, {Grade: 6, Language: "kk", School: "S1", Class: "S1-6A"}}},
		{ExternalRef: "A", Language: "fr", Grades: []int{5}, Profile: relais.ProfileOffline, PostalAddress: "2 rue A"},
		{ExternalRef: "X", Language: "ru", Profile: relais.ProfileSMSOnly, Phone: "+33612345602",
			Pupils: []relais.Pupil{{Grade: 7, Language: "ru"}}},
		{ExternalRef: "Y", Language: "kk", Profile: relais.ProfileBroadband, Email: "y@example.org"},
	}
	must(t, db.UpsertHouseholds(ctx, hs))
	if hs[0].ID == 0 || hs[0].ID != hs[2].ID || hs[1].ID == 0 || hs[3].ID == 0 || hs[3].ID == hs[0].ID {
		t.Errorf("ids %d %d %d %d: want X's twice and all set", hs[0].ID, hs[1].ID, hs[2].ID, hs[3].ID)
	}
	got := map[string]relais.Household{}
	for _, h := range hs {
		stored, err := db.Household(ctx, h.ID)
		if err != nil {
			t.Fatal(err)
		}
		got[stored.ExternalRef] = stored
	}
	if x := got["X"]; x.Language != "ru" || x.Phone != "+33612345602" ||
		!cmp.Equal([]relais.Pupil{{Grade: 7, Language: "ru"}}, x.Pupils) {
		t.Errorf("X = %+v, want its second listing", x)
	}
	if a := got["A"]; a.PostalAddress != "2 rue A" || !cmp.Equal([]int{5}, a.Grades) {
		t.Errorf("A = %+v, want updated", a)
	}
	if y := got["Y"]; len(y.Pupils) != 0 || y.Email != "y@example.org" {
		t.Errorf("Y = %+v", y)
	}
	for grade, want := range map[int][]string{4: nil, 5: {"A"}, 6: nil, 7: {"X"}} {
		if diff := cmp.Diff(want, householdRefs(t, db, relais.HouseholdFilter{Grade: grade})); diff != "" {
			t.Errorf("grade %d (-want +got):\n%s", grade, diff)
		}
	}

	const n = 3000
	batch := func() []relais.Household {
		hs := make([]relais.Household, n)
		for i := range hs {
			hs[i] = relais.Household{ExternalRef: fmt.Sprint("R", i), Language: "fr", Profile: relais.ProfileSMSOnly,
				Phone: fmt.Sprintf("+336%08d", i), Pupils: []relais.Pupil{{Grade: 9, Language: "fr"}}}
		}
		return hs
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for w := range errs {
		wg.Go(func() { errs[w] = db.UpsertHouseholds(ctx, batch()) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("concurrent import: %v", err)
		}
	}
	if count, err := db.CountHouseholds(ctx); err != nil || count != n+3 {
		t.Errorf("%d households (%v), want %d", count, err, n+3)
	}
	seen := map[string]int{}
	for after := int64(0); ; {
		page, err := db.Households(ctx, relais.HouseholdFilter{Grade: 9, Page: relais.Page{After: after, Limit: 1000}})
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range page {
			seen[h.ExternalRef]++
			if len(h.Pupils) != 1 {
				t.Fatalf("%s has pupils %+v", h.ExternalRef, h.Pupils)
			}
		}
		if len(page) < 1000 {
			break
		}
		after = page[len(page)-1].ID
	}
	if len(seen) != n {
		t.Errorf("grade 9 reaches %d households, want %d", len(seen), n)
	}
}

func householdRefs(t testing.TB, db relais.Store, f relais.HouseholdFilter) []string {
	t.Helper()
	hs, err := db.Households(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	var refs []string
	for _, h := range hs {
		refs = append(refs, h.ExternalRef)
	}
	return refs
}
