package ui

// Pick lists: the subjects, regions and time zones the staff forms offer, from the configured lists
// (RELAIS_SUBJECTS, RELAIS_REGIONS), the values in use and the IANA zone list. The services check the
// same lists, so a value typed around a page is refused as the API refuses it.

import (
	"context"
	"slices"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/scheduler"
)

// choice is one option of a pick list.
type choice struct {
	Value, Label string
	Selected     bool
}

// choices makes options of values, selecting current; a current value not among them (stored before
// the list was configured, or an alias of a zone) is offered too, so that an edit keeps it.
func choices(values []string, current string, label func(string) string) []choice {
	if current != "" && !slices.Contains(values, current) {
		values = append(slices.Clone(values), current)
	}
	out := make([]choice, len(values))
	for i, v := range values {
		out[i] = choice{Value: v, Label: label(v), Selected: v == current}
	}
	return out
}

func sameLabel(v string) string { return v }

// subjectChoices offers the configured subjects (the usual eight when none are), named in the page's
// language, with current kept.
func (h *Handler) subjectChoices(c *reqCtx, current string) []choice {
	return choices(h.sched.PickLists().SubjectChoices(), current, func(v string) string {
		if n := scheduler.SubjectName(c.lang, v); n != v {
			return n + " (" + v + ")"
		}
		return v
	})
}

// regionChoices offers the configured regions and the stations' regions, with current kept.
func (h *Handler) regionChoices(ctx context.Context, current string) ([]choice, error) {
	sts, err := h.store.Stations(ctx)
	if err != nil {
		return nil, err
	}
	var inUse []string
	for _, st := range sts {
		inUse = append(inUse, st.Region)
	}
	return choices(h.sched.PickLists().RegionChoices(inUse...), current, sameLabel), nil
}

// zoneChoices offers every IANA zone of the tz database's zone tables, with current kept.
func zoneChoices(current string) []choice {
	return choices(relais.TimeZones, current, sameLabel)
}
