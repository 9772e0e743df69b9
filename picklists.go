package relais

import (
	"fmt"
	"slices"
	"strings"
)

// DefaultSubjects are the subject codes staff pick from when the operator configures none
// (RELAIS_SUBJECTS); their names in each language are in the scheduler's guide.
var DefaultSubjects = []string{"maths", "french", "science", "history", "geography", "english", "kazakh", "russian"}

// PickLists are the values staff choose subjects and regions from, as the operator configures them
// (RELAIS_SUBJECTS, RELAIS_REGIONS). A list left empty is not enforced: any value is accepted, and the
// pages offer the defaults (subjects) or the regions in use (stations, households). A configured list
// is enforced wherever a subject or region is written (uploads, templates, slots, stations), in the API
// as in the pages; values already stored stay as they are and are shown where they are in use.
type PickLists struct {
	Subjects []string
	Regions  []string
}

// ParseList reads a configured list: values separated by commas, trimmed, without empties; a value
// given twice is refused, as is one longer than 80 characters.
func ParseList(name, s string) ([]string, error) {
	var out []string
	for _, v := range strings.Split(s, ",") {
		v = strings.TrimSpace(v)
		if v == "" {
			continue
		}
		if len(v) > 80 {
			return nil, fmt.Errorf("%s: %q is longer than 80 characters", name, v)
		}
		if slices.Contains(out, v) {
			return nil, fmt.Errorf("%s: %q is given twice", name, v)
		}
		out = append(out, v)
	}
	return out, nil
}

// CheckSubject refuses a subject outside the configured list; "" (any subject, where a field allows it)
// passes.
func (p PickLists) CheckSubject(subject string) error {
	if subject == "" || len(p.Subjects) == 0 || slices.Contains(p.Subjects, subject) {
		return nil
	}
	return Errorf(EINVALID, "Subject %q is not in the configured list: pick one of %s (an operator adds subjects with RELAIS_SUBJECTS).",
		subject, strings.Join(p.Subjects, ", "))
}

// CheckRegion refuses a region outside the configured list; "" (every region) passes.
func (p PickLists) CheckRegion(region string) error {
	if region == "" || len(p.Regions) == 0 || slices.Contains(p.Regions, region) {
		return nil
	}
	return Errorf(EINVALID, "Region %q is not in the configured list: pick one of %s (an operator adds regions with RELAIS_REGIONS).",
		region, strings.Join(p.Regions, ", "))
}

// SubjectChoices lists the subjects a page offers: the configured ones (the defaults when none are),
// then those of inUse not among them, so that a stored value is still shown and kept.
func (p PickLists) SubjectChoices(inUse ...string) []string {
	base := p.Subjects
	if len(base) == 0 {
		base = DefaultSubjects
	}
	return withInUse(base, inUse)
}

// RegionChoices lists the regions a page offers: the configured ones, then those of inUse (the
// stations' and households' regions, a stored value) not among them, sorted.
func (p PickLists) RegionChoices(inUse ...string) []string {
	return withInUse(p.Regions, inUse)
}

func withInUse(base, inUse []string) []string {
	out := slices.Clone(base)
	var extra []string
	for _, v := range inUse {
		if v != "" && !slices.Contains(out, v) && !slices.Contains(extra, v) {
			extra = append(extra, v)
		}
	}
	slices.Sort(extra)
	return append(out, extra...)
}
