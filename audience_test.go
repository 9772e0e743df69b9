package relais_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	relais "github.com/relais-edu/relais"
)

func TestLessonReach(t *testing.T) {
	for _, tc := range []struct {
		name string
		l    relais.Lesson
		want relais.Audience
	}{
		{"defaults", relais.Lesson{Grade: 5, Language: "kk"}, relais.Audience{Grades: []int{5}, Languages: []string{"kk"}}},
		{"a region", relais.Lesson{Grade: 5, Language: "kk", Region: "ALA"},
			relais.Audience{Grades: []int{5}, Languages: []string{"kk"}, Regions: []string{"ALA"}}},
		{"regions named", relais.Lesson{Grade: 5, Language: "kk", Region: "ALA", Audience: relais.Audience{Regions: []string{"AST"}}},
			relais.Audience{Grades: []int{5}, Languages: []string{"kk"}, Regions: []string{"AST"}}},
		{"all named", relais.Lesson{Grade: 5, Language: "kk", Audience: relais.Audience{Grades: []int{6, 7}, Languages: []string{"ru"},
			Classes: []string{"C"}}}, relais.Audience{Grades: []int{6, 7}, Languages: []string{"ru"}, Classes: []string{"C"}}},
	} {
		if diff := cmp.Diff(tc.want, tc.l.Reach()); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
	}
}

// TestAudienceReaches: grade x language of instruction x school x class x region, on households of one
// or several pupils, and households imported with grades only (pupils in the household's language).
func TestAudienceReaches(t *testing.T) {
	kkRu := relais.Household{Region: "ALA", Language: "ru", Pupils: []relais.Pupil{
		{Grade: 5, Language: "kk", School: "S1", Class: "S1-5A"}, {Grade: 7, Language: "ru", School: "S2", Class: "S2-7B"}}}
	ruOnly := relais.Household{Region: "ALA", Language: "kk", Pupils: []relais.Pupil{{Grade: 5, Language: "ru"}, {Grade: 6, Language: "ru"}}}
	grades := relais.Household{Region: "IDF", Language: "fr", Grades: []int{5, 6}}
	for _, tc := range []struct {
		name string
		a    relais.Audience
		want [3]bool // kkRu, ruOnly, grades
	}{
		{"grade 5 in Kazakh", relais.Audience{Grades: []int{5}, Languages: []string{"kk"}}, [3]bool{true, false, false}},
		{"grade 5 in French", relais.Audience{Grades: []int{5}, Languages: []string{"fr"}}, [3]bool{false, false, true}},
		{"grade 7 in Russian", relais.Audience{Grades: []int{7}, Languages: []string{"ru"}}, [3]bool{true, false, false}},
		{"grade 5 in Russian: the pupil, not the home", relais.Audience{Grades: []int{5}, Languages: []string{"ru"}}, [3]bool{false, true, false}},
		{"grades 6 and 7 in any of them", relais.Audience{Grades: []int{6, 7}, Languages: []string{"fr", "kk", "ru"}}, [3]bool{true, true, true}},
		{"a class: grade and language of the same pupil", relais.Audience{Grades: []int{7}, Languages: []string{"ru"}, Classes: []string{"S1-5A"}},
			[3]bool{false, false, false}},
		{"a class", relais.Audience{Grades: []int{5, 7}, Languages: []string{"kk", "ru"}, Classes: []string{"S2-7B"}}, [3]bool{true, false, false}},
		{"a school", relais.Audience{Grades: []int{5}, Languages: []string{"kk"}, Schools: []string{"S1"}}, [3]bool{true, false, false}},
		{"a region", relais.Audience{Grades: []int{5}, Languages: []string{"kk", "ru", "fr"}, Regions: []string{"IDF"}}, [3]bool{false, false, true}},
		{"no language", relais.Audience{Grades: []int{5}}, [3]bool{false, false, false}},
	} {
		got := [3]bool{tc.a.Reaches(kkRu), tc.a.Reaches(ruOnly), tc.a.Reaches(grades)}
		if got != tc.want {
			t.Errorf("%s: reaches %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestAudienceCheck(t *testing.T) {
	for _, tc := range []struct {
		a    relais.Audience
		want string
	}{
		{relais.Audience{Grades: []int{5}, Languages: []string{"kk"}, Classes: []string{"S1-5A"}}, ""},
		{relais.Audience{Grades: []int{14}}, "Audience grade 14 is not a school grade from 0 to 13."},
		{relais.Audience{Languages: []string{"de"}}, `Audience language "de" is not one of fr, kk, ru, en.`},
		{relais.Audience{Classes: []string{"a;b"}}, `Audience code "a;b" must be 1 to 80 characters without , ; : or line breaks.`},
		{relais.Audience{Regions: []string{""}}, `Audience code "" must be 1 to 80 characters without , ; : or line breaks.`},
	} {
		if got := relais.ErrorMessage(tc.a.Check()); got != tc.want {
			t.Errorf("Check(%+v) = %q, want %q", tc.a, got, tc.want)
		}
	}
}
