package storetest

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	relais "github.com/relais-edu/relais"
)

// audiencePopulation is a population where grades, languages of instruction, schools, classes and
// regions cross, and several households have more than one pupil.
var audiencePopulation = []relais.Household{
	// Kazakh-medium in grade 5, contact language Russian.
	{ExternalRef: "kk5", Region: "ALA", Language: "ru", Profile: relais.ProfileSMSOnly, Phone: "+77010000001",
		Pupils: []relais.Pupil{{Grade: 5, Language: "kk", School: "S1", Class: "S1-5A"}}},
	// Russian-medium only, grades 5 and 7.
	{ExternalRef: "ru57", Region: "ALA", Language: "ru", Profile: relais.ProfileSMSOnly, Phone: "+77010000002",
		Pupils: []relais.Pupil{{Grade: 5, Language: "ru", School: "S2", Class: "S2-5B"}, {Grade: 7, Language: "ru", School: "S2"}}},
	// Two pupils of grade 5, one Kazakh-medium and one Russian-medium: reached once by either.
	{ExternalRef: "mix5", Region: "AST", Language: "kk", Profile: relais.ProfileSMSOnly, Phone: "+77010000003",
		Pupils: []relais.Pupil{{Grade: 5, Language: "kk", School: "S3", Class: "S3-5A"}, {Grade: 5, Language: "ru", School: "S3", Class: "S3-5B"}}},
	// Twins in the same class: two pupils, one household.
	{ExternalRef: "twins", Region: "AST", Language: "kk", Profile: relais.ProfileSMSOnly, Phone: "+77010000004",
		Pupils: []relais.Pupil{{Grade: 5, Language: "kk", School: "S1", Class: "S1-5A"}, {Grade: 5, Language: "kk", School: "S1", Class: "S1-5A"}}},
	// French-medium in Paris, grades 5 and 6, contact language English.
	{ExternalRef: "fr56", Region: "IDF", Language: "en", Profile: relais.ProfileSMSOnly, Phone: "+33600000005",
		Pupils: []relais.Pupil{{Grade: 6, Language: "fr", School: "P1", Class: "P1-6B"}, {Grade: 5, Language: "fr", School: "P1", Class: "P1-5C"}}},
	// A roster from before pupils: grades only, taught in the household's language.
	{ExternalRef: "old", Region: "IDF", Language: "fr", Grades: []int{5, 5, 8}, Profile: relais.ProfileSMSOnly, Phone: "+33600000006"},
	// After the twins: a page that met them is full, and the pages go on to this one.
	{ExternalRef: "kk5b", Region: "ALA", Language: "kk", Profile: relais.ProfileSMSOnly, Phone: "+77010000008",
		Pupils: []relais.Pupil{{Grade: 5, Language: "kk", School: "S1", Class: "S1-5C"}}},
	// No pupil at all.
	{ExternalRef: "none", Region: "IDF", Language: "fr", Profile: relais.ProfileSMSOnly, Phone: "+33600000007"},
}

// testAudience checks the store's audience predicate against the rule (Audience.Reaches) and against the
// households a clerk expects, page by page: grade x language x school x class x region, several pupils
// per household, each household once.
func testAudience(t *testing.T, open Open) {
	ctx := context.Background()
	db := open(t, nil)
	hs := append([]relais.Household(nil), audiencePopulation...)
	must(t, db.UpsertHouseholds(ctx, hs))
	for _, tc := range []struct {
		name string
		a    relais.Audience
		want []string
	}{
		{"grade 5 in Kazakh", relais.Audience{Grades: []int{5}, Languages: []string{"kk"}}, []string{"kk5", "mix5", "twins", "kk5b"}},
		{"grade 5 in Russian", relais.Audience{Grades: []int{5}, Languages: []string{"ru"}}, []string{"ru57", "mix5"}},
		{"grade 5 in French", relais.Audience{Grades: []int{5}, Languages: []string{"fr"}}, []string{"fr56", "old"}},
		{"grade 5 in either language", relais.Audience{Grades: []int{5}, Languages: []string{"kk", "ru"}}, []string{"kk5", "ru57", "mix5", "twins", "kk5b"}},
		{"grades 5 and 7 in Russian", relais.Audience{Grades: []int{5, 7}, Languages: []string{"ru"}}, []string{"ru57", "mix5"}},
		{"grade 7 in French", relais.Audience{Grades: []int{7}, Languages: []string{"fr"}}, nil},
		{"grade 8, a roster's grade", relais.Audience{Grades: []int{8}, Languages: []string{"fr"}}, []string{"old"}},
		{"one class", relais.Audience{Grades: []int{5}, Languages: []string{"kk"}, Classes: []string{"S1-5A"}}, []string{"kk5", "twins"}},
		{"a class of another language", relais.Audience{Grades: []int{5}, Languages: []string{"kk"}, Classes: []string{"S3-5B"}}, nil},
		{"two classes", relais.Audience{Grades: []int{5}, Languages: []string{"kk", "ru"}, Classes: []string{"S2-5B", "S3-5A"}}, []string{"ru57", "mix5"}},
		{"one school", relais.Audience{Grades: []int{5, 7}, Languages: []string{"ru"}, Schools: []string{"S2"}}, []string{"ru57"}},
		{"one region", relais.Audience{Grades: []int{5}, Languages: []string{"kk"}, Regions: []string{"AST"}}, []string{"mix5", "twins"}},
		{"two regions", relais.Audience{Grades: []int{5}, Languages: []string{"kk", "fr"}, Regions: []string{"ALA", "IDF"}}, []string{"kk5", "fr56", "old", "kk5b"}},
		{"region and class", relais.Audience{Grades: []int{5}, Languages: []string{"kk"}, Regions: []string{"ALA"}, Classes: []string{"S1-5A"}}, []string{"kk5"}},
		{"no grade", relais.Audience{Languages: []string{"kk"}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var rule []string
			for _, h := range hs {
				if tc.a.Reaches(h) {
					rule = append(rule, h.ExternalRef)
				}
			}
			if diff := cmp.Diff(tc.want, rule); diff != "" {
				t.Errorf("Audience.Reaches (-want +got):\n%s", diff)
			}
			for _, limit := range []int{1, 2, 100} {
				a := tc.a
				got := audienceRefs(t, db, relais.HouseholdFilter{Audience: &a}, limit)
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("store, pages of %d (-want +got):\n%s", limit, diff)
				}
			}
		})
	}

	// A lesson's defaults: its grade, its language of instruction, its region.
	for _, tc := range []struct {
		l    relais.Lesson
		want []string
	}{
		{relais.Lesson{Grade: 5, Language: "fr"}, []string{"fr56", "old"}},
		{relais.Lesson{Grade: 5, Language: "kk", Region: "ALA"}, []string{"kk5", "kk5b"}},
		{relais.Lesson{Grade: 5, Language: "kk", Audience: relais.Audience{Languages: []string{"ru"}}}, []string{"ru57", "mix5"}},
		{relais.Lesson{Grade: 5, Language: "ru", Audience: relais.Audience{Grades: []int{7}}}, []string{"ru57"}},
	} {
		if diff := cmp.Diff(tc.want, audienceRefs(t, db, tc.l.AudienceFilter(), 2)); diff != "" {
			t.Errorf("lesson grade %d in %s, region %q, audience %v (-want +got):\n%s", tc.l.Grade, tc.l.Language, tc.l.Region, tc.l.Audience, diff)
		}
	}

	// The pupils are kept as given; a roster's grades become pupils in the household's language.
	byRef := map[string]relais.Household{}
	for _, h := range audienceRefsHouseholds(t, db) {
		byRef[h.ExternalRef] = h
	}
	if diff := cmp.Diff(audiencePopulation[4].Pupils, byRef["fr56"].Pupils); diff != "" {
		t.Errorf("pupils of fr56 (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int{6, 5}, byRef["fr56"].Grades); diff != "" {
		t.Errorf("grades of fr56 (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]relais.Pupil{{Grade: 5, Language: "fr"}, {Grade: 8, Language: "fr"}}, byRef["old"].Pupils); diff != "" {
		t.Errorf("pupils of a roster's grades (-want +got):\n%s", diff)
	}
	if len(byRef["none"].Pupils) != 0 || len(byRef["none"].Grades) != 0 {
		t.Errorf("a household without pupils reads as %+v", byRef["none"])
	}

	// Re-importing a household replaces its pupils: the Kazakh-medium pupil of mix5 left.
	again := []relais.Household{{ExternalRef: "mix5", Region: "AST", Language: "kk", Profile: relais.ProfileSMSOnly,
		Phone: "+77010000003", Pupils: []relais.Pupil{{Grade: 5, Language: "ru", School: "S3", Class: "S3-5B"}}}}
	must(t, db.UpsertHouseholds(ctx, again))
	a := relais.Audience{Grades: []int{5}, Languages: []string{"kk"}}
	if diff := cmp.Diff([]string{"kk5", "twins", "kk5b"}, audienceRefs(t, db, relais.HouseholdFilter{Audience: &a}, 1)); diff != "" {
		t.Errorf("after a re-import (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"kk5", "ru57", "mix5", "twins", "fr56", "old", "kk5b"}, audienceRefs(t, db, relais.HouseholdFilter{Grade: 5}, 2)); diff != "" {
		t.Errorf("grade 5 in any language (-want +got):\n%s", diff)
	}
}

// testFrenchLessonNeverReachesRussianMedium: a French lesson of every grade, in every region, never
// reaches a household whose pupils are all taught in Russian, whatever its contact language.
func testFrenchLessonNeverReachesRussianMedium(t *testing.T, open Open) {
	ctx := context.Background()
	db := open(t, nil)
	var hs []relais.Household
	for i, lang := range []string{"fr", "ru", "kk", "en"} {
		hs = append(hs, relais.Household{ExternalRef: "ru-" + lang, Region: "R", Language: lang, Profile: relais.ProfileSMSOnly,
			Phone: "+3360000001" + string(rune('0'+i)), Pupils: []relais.Pupil{{Grade: 5, Language: "ru"}, {Grade: 9, Language: "ru"}}})
	}
	hs = append(hs, relais.Household{ExternalRef: "fr", Region: "R", Language: "ru", Profile: relais.ProfileSMSOnly,
		Phone: "+33600000020", Pupils: []relais.Pupil{{Grade: 5, Language: "fr"}}})
	must(t, db.UpsertHouseholds(ctx, hs))
	var grades []int
	for g := 0; g <= 13; g++ {
		grades = append(grades, g)
	}
	l := relais.Lesson{Grade: 5, Language: "fr", Audience: relais.Audience{Grades: grades}}
	if diff := cmp.Diff([]string{"fr"}, audienceRefs(t, db, l.AudienceFilter(), 2)); diff != "" {
		t.Errorf("French lesson (-want +got):\n%s", diff)
	}
}

// testUserClasses: an admin sets the classes a teacher teaches; a new set replaces the old one.
func testUserClasses(t *testing.T, open Open) {
	ctx := context.Background()
	db := open(t, nil)
	got, err := db.UserClasses(ctx, "t1")
	must(t, err)
	if len(got) != 0 {
		t.Errorf("classes of a new teacher = %v", got)
	}
	must(t, db.SetUserClasses(ctx, "t1", []string{"S1-5B", "S1-5A", "S1-5A"}))
	must(t, db.SetUserClasses(ctx, "t2", []string{"S2-6A"}))
	got, err = db.UserClasses(ctx, "t1")
	must(t, err)
	if diff := cmp.Diff([]string{"S1-5A", "S1-5B"}, got); diff != "" {
		t.Errorf("classes of t1 (-want +got):\n%s", diff)
	}
	must(t, db.SetUserClasses(ctx, "t1", []string{"S1-6C"}))
	got, err = db.UserClasses(ctx, "t1")
	must(t, err)
	if diff := cmp.Diff([]string{"S1-6C"}, got); diff != "" {
		t.Errorf("classes of t1 after a new set (-want +got):\n%s", diff)
	}
	must(t, db.SetUserClasses(ctx, "t1", nil))
	got, err = db.UserClasses(ctx, "t1")
	must(t, err)
	if len(got) != 0 {
		t.Errorf("classes of t1 after an empty set = %v", got)
	}

	// A lesson keeps its audience.
	l := relais.Lesson{Title: "T", Subject: "s", Grade: 5, Language: "kk", TeacherID: "t2",
		Audience: relais.Audience{Grades: []int{5, 6}, Languages: []string{"kk", "ru"}, Classes: []string{"S2-6A"}}}
	must(t, db.CreateLesson(ctx, &l))
	back, err := db.Lesson(ctx, l.ID)
	must(t, err)
	if diff := cmp.Diff(l.Audience, back.Audience); diff != "" {
		t.Errorf("lesson audience (-want +got):\n%s", diff)
	}
}

// audienceRefs pages through the households of f, limit at a time, and returns their references.
func audienceRefs(t *testing.T, db relais.Store, f relais.HouseholdFilter, limit int) []string {
	t.Helper()
	var refs []string
	seen := map[int64]bool{}
	for after := int64(0); ; {
		f.Page = relais.Page{After: after, Limit: limit}
		hs, err := db.Households(context.Background(), f)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range hs {
			if seen[h.ID] {
				t.Errorf("household %s listed twice", h.ExternalRef)
			}
			seen[h.ID] = true
			refs = append(refs, h.ExternalRef)
		}
		if len(hs) < limit {
			return refs
		}
		after = hs[len(hs)-1].ID
	}
}

func audienceRefsHouseholds(t *testing.T, db relais.Store) []relais.Household {
	t.Helper()
	hs, err := db.Households(context.Background(), relais.HouseholdFilter{Page: relais.Page{Limit: 1000}})
	if err != nil {
		t.Fatal(err)
	}
	return hs
}
