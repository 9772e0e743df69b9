package relais

import (
	"fmt"
	"slices"
	"strings"
)

// Audience is who a lesson is for: the households with at least one pupil in one of Grades, taught in
// one of Languages, and, when they are given, in one of Schools and one of Classes, living in one of
// Regions. A household is reached once however many of its pupils are in the audience.
//
// A media unit targets grades, regions or the nation (no regions); a teacher's lesson targets the
// teacher's classes by default (lessons.Service).
type Audience struct {
	Grades    []int    `json:"grades,omitempty"`    // empty: the lesson's grade
	Languages []string `json:"languages,omitempty"` // languages of instruction; empty: the lesson's language
	Regions   []string `json:"regions,omitempty"`   // the households' regions; empty: the lesson's region, or the nation
	Schools   []string `json:"schools,omitempty"`   // empty: any school
	Classes   []string `json:"classes,omitempty"`   // empty: any class
}

// Reach returns the lesson's audience with its defaults filled in: the lesson's grade, its language
// of instruction and its region, when the audience names none.
func (l Lesson) Reach() Audience {
	a := l.Audience
	if len(a.Grades) == 0 {
		a.Grades = []int{l.Grade}
	}
	if len(a.Languages) == 0 {
		a.Languages = []string{l.Language}
	}
	if len(a.Regions) == 0 && l.Region != "" {
		a.Regions = []string{l.Region}
	}
	return a
}

// Reaches reports whether the audience reaches h: the rule the stores' audience query implements (an
// audience with no grade or no language reaches nobody; use Lesson.Reach for the defaults).
func (a Audience) Reaches(h Household) bool {
	if len(a.Regions) > 0 && !slices.Contains(a.Regions, h.Region) {
		return false
	}
	return slices.ContainsFunc(h.Roll(), a.Admits)
}

// Admits reports whether pupil p is in the audience (regions aside: they are the household's).
func (a Audience) Admits(p Pupil) bool {
	return slices.Contains(a.Grades, p.Grade) && slices.Contains(a.Languages, p.Language) &&
		(len(a.Schools) == 0 || slices.Contains(a.Schools, p.School)) &&
		(len(a.Classes) == 0 || slices.Contains(a.Classes, p.Class))
}

// IsZero reports whether the audience names nothing (the lesson's defaults apply).
func (a Audience) IsZero() bool {
	return len(a.Grades)+len(a.Languages)+len(a.Regions)+len(a.Schools)+len(a.Classes) == 0
}

// Check refuses an audience a clerk could not have meant: unknown languages, grades out of range, empty
// or overlong names.
func (a Audience) Check() error {
	for _, g := range a.Grades {
		if g < 0 || g > 13 {
			return Errorf(EINVALID, "Audience grade %d is not a school grade from 0 to 13.", g)
		}
	}
	for _, l := range a.Languages {
		if !ValidLanguage(l) {
			return Errorf(EINVALID, "Audience language %q is not one of %s.", l, strings.Join(Languages, ", "))
		}
	}
	for _, vs := range [][]string{a.Regions, a.Schools, a.Classes} {
		for _, v := range vs {
			if v == "" || len(v) > 80 || strings.ContainsAny(v, ",;:\n\r\t") {
				return Errorf(EINVALID, "Audience code %q must be 1 to 80 characters without , ; : or line breaks.", v)
			}
		}
	}
	return nil
}

// String is the audience as a clerk reads it, e.g. "grades 5 · fr · classes 6B".
func (a Audience) String() string {
	var parts []string
	if len(a.Grades) > 0 {
		gs := make([]string, len(a.Grades))
		for i, g := range a.Grades {
			gs[i] = fmt.Sprint(g)
		}
		parts = append(parts, "grades "+strings.Join(gs, ","))
	}
	if len(a.Languages) > 0 {
		parts = append(parts, strings.Join(a.Languages, ","))
	}
	for _, f := range []struct {
		name string
		vs   []string
	}{{"regions", a.Regions}, {"schools", a.Schools}, {"classes", a.Classes}} {
		if len(f.vs) > 0 {
			parts = append(parts, f.name+" "+strings.Join(f.vs, ","))
		}
	}
	return strings.Join(parts, " · ")
}

// AudienceFilter selects the households the lesson reaches: the fan-out, the publishing plan and the
// reminders page through it, so that all three count one population.
func (l Lesson) AudienceFilter() HouseholdFilter {
	a := l.Reach()
	return HouseholdFilter{Audience: &a}
}
