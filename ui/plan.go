package ui

// The publishing plan: before publishing a lesson, the media unit reads how many families each channel
// reaches, and whether the channels can carry it before the broadcast.

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/lessons"
	"github.com/relais-edu/relais/phone"
	"github.com/relais-edu/relais/scheduler"
)

// planData is a lesson's publishing plan with the form that sets its assumptions.
type planData struct {
	Lesson     lessons.Detail
	StatusText string
	Form       planForm
	Assumed    scheduler.PlanConfig // what an empty field takes: the configured rates
	Plan       *planView            // nil when the assumptions were refused
	CanPublish bool
	Zone       string // the zone the start time is typed in (RELAIS_TIMEZONE)
}

// planForm holds the plan's assumptions as typed; empty fields take the defaults.
type planForm struct {
	At             string // datetime-local, in the UI's zone (RELAIS_TIMEZONE)
	SMSRate        string
	EmailRate      string
	PostalLeadDays string
}

type planView struct {
	At             string
	Households     int64
	FirstBroadcast string
	Channels       []planChannel
	Airings        []planAiring
	Warnings       []string
	Simulation     *simView
}

type planChannel struct {
	Name     string
	Label    string
	Count    int64
	Skipped  int64
	Estimate bool
	Messages int64
	Segments int64
	Duration string
	Finishes string
	Deadline string
	Late     bool
}

type planAiring struct {
	Station string
	Region  string
	Kind    string
	At      string
}

// planChannels is the order channels are shown in; others follow by name.
var planChannels = []string{"sms", "sms_reminder", "email", "postal", "tv", "radio"}

const planTime = "2006-01-02 15:04 -07:00"

func (h *Handler) plan(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	l, err := h.lessonDetail(r, c)
	if err != nil {
		h.fail(w, r, c, err)
		return
	}
	q := r.URL.Query()
	d := planData{Lesson: l, StatusText: c.t("st_" + string(l.Status)), CanPublish: l.Status == relais.LessonReady, Zone: h.loc().String(),
		Assumed: h.lessons.PlanDefaults(),
		Form:    planForm{At: q.Get("at"), SMSRate: q.Get("sms_rate"), EmailRate: q.Get("email_rate"), PostalLeadDays: q.Get("postal_lead_days")}}
	o := lessons.PlanOptions{At: strings.TrimSpace(d.Form.At), SMSRate: strings.TrimSpace(d.Form.SMSRate),
		EmailRate: strings.TrimSpace(d.Form.EmailRate), PostalLeadDays: strings.TrimSpace(d.Form.PostalLeadDays)}
	// A datetime-local field gives minutes without a zone: they are the UI's zone's (the form says which).
	if t, err := time.ParseInLocation("2006-01-02T15:04", o.At, h.loc()); err == nil {
		o.At = t.Format(time.RFC3339)
	}
	sum, err := h.lessons.Plan(r.Context(), l.ID, o)
	if err != nil {
		h.refuse(w, r, c, err, func(status int, msg string) {
			h.render(w, r, c, status, "ui_plan", "plan_title", pageError{msg: msg, data: d})
		})
		return
	}
	d.Plan = planFor(c, sum, l.Audience, h.loc())
	// The same morning in simulated time: each SMS through its sender of the pool (as plan simulate).
	sim, err := h.lessons.Simulate(r.Context(), l.ID, o, phoneCountry)
	if err != nil {
		h.fail(w, r, c, err)
		return
	}
	d.Plan.Simulation = simulationFor(c, sim)
	if sim.SMSStart.After(sum.At) { // quiet hours hold the SMS back
		d.Plan.Simulation.SMSFrom = sim.SMSStart.In(h.loc()).Format(planTime)
	}
	h.render(w, r, c, http.StatusOK, "ui_plan", "plan_title", d)
}

// phoneCountry is the country of a household's phone (E.164), which picks its senders, as the SMS
// channel reads it (phone.Region).
func phoneCountry(h relais.Household) string { return phone.Region(h.Phone) }

// simView is a simulated send as the plan page shows it.
type simView struct {
	Rows    []simRow
	Senders []simSender
	// SMSFrom is when the first SMS goes, when quiet hours hold them back after the publication.
	SMSFrom string
}

type simRow struct {
	Profile, Channel               string
	Households, Messages, Segments int64
	Finish, Coverage, Utilisation  string
}

type simSender struct {
	Name, Country      string
	Rate               float64
	Messages, Segments int64
	Throughput         string
}

func simulationFor(c *reqCtx, sim scheduler.Simulation) *simView {
	v := &simView{}
	for _, r := range sim.Rows {
		row := simRow{Profile: c.t("plan_prof_" + string(r.Profile)), Channel: r.Channel, Households: r.Households, Messages: r.Messages,
			Segments: r.Segments, Finish: lengthText(r.Finish), Coverage: fmt.Sprintf("%.1f %%", r.Coverage()*100)}
		if l := c.t("plan_ch_" + r.Channel); l != "plan_ch_"+r.Channel {
			row.Channel = l
		}
		if r.Utilisation > 0 {
			row.Utilisation = fmt.Sprintf("%.1f %%", r.Utilisation*100)
		}
		v.Rows = append(v.Rows, row)
	}
	for _, s := range sim.Senders {
		v.Senders = append(v.Senders, simSender{Name: s.Lane.Name, Country: s.Lane.Country, Rate: s.Lane.Rate, Messages: s.Messages,
			Segments: s.Segments, Throughput: fmt.Sprintf("%.2f", s.Throughput())})
	}
	return v
}

// planFor arranges a plan summary for the page.
func planFor(c *reqCtx, sum scheduler.PlanSummary, audience relais.Audience, loc *time.Location) *planView {
	// The warnings are written here from the figures, in the UI language; the scheduler's own English
	// sentences (sum.Warnings) serve the API and the CLI.
	v := &planView{At: sum.At.In(loc).Format(planTime), Households: sum.Households}
	if sum.Households == 0 {
		v.Warnings = append(v.Warnings, fmt.Sprintf(c.t("plan_warn_no_household"), audienceText(c, audience)))
	}
	if !sum.FirstBroadcast.IsZero() {
		v.FirstBroadcast = sum.FirstBroadcast.Format(planTime)
	} else {
		v.Warnings = append(v.Warnings, c.t("plan_warn_unscheduled"))
	}
	for _, u := range sum.Underruns {
		key := "plan_warn_underrun"
		if u.Lessons > 1 {
			key = "plan_warn_underrun_seq"
		}
		if !u.Filler {
			key += "_dead"
		}
		if u.Lessons > 1 { // the whole sequence of the slot leaves the gap
			v.Warnings = append(v.Warnings, fmt.Sprintf(c.t(key), u.Station, u.Lessons, lengthText(u.Lesson), lengthText(u.Slot-u.Lesson), lengthText(u.Slot), u.Airings))
			continue
		}
		v.Warnings = append(v.Warnings, fmt.Sprintf(c.t(key), u.Station, lengthText(u.Lesson), lengthText(u.Slot-u.Lesson), lengthText(u.Slot), u.Airings))
	}
	names := slices.Clone(planChannels)
	for _, m := range []map[string]int64{sum.Counts, sum.Skipped} {
		for k := range m {
			if !slices.Contains(names, k) {
				names = append(names, k)
			}
		}
	}
	slices.Sort(names[len(planChannels):])
	for _, name := range names {
		e, hasEstimate := sum.Estimates[name]
		if sum.Counts[name] == 0 && sum.Skipped[name] == 0 && !hasEstimate {
			continue
		}
		ch := planChannel{Name: name, Label: name, Count: sum.Counts[name], Skipped: sum.Skipped[name], Estimate: hasEstimate}
		if s := c.t("plan_ch_" + name); s != "plan_ch_"+name {
			ch.Label = s
		}
		if hasEstimate {
			ch.Messages, ch.Segments = e.Messages, e.Segments
			ch.Duration = spanText(time.Duration(e.Seconds * float64(time.Second)))
			ch.Finishes = e.Finishes.Format(planTime)
			if !e.Deadline.IsZero() {
				ch.Deadline = e.Deadline.Format(planTime)
				ch.Late = e.Finishes.After(e.Deadline)
			}
			if ch.Late {
				v.Warnings = append(v.Warnings, fmt.Sprintf(c.t("plan_warn_late"), ch.Label, e.Messages, ch.Duration, ch.Finishes, ch.Deadline))
			}
		}
		v.Channels = append(v.Channels, ch)
	}
	for _, a := range sum.Airings {
		v.Airings = append(v.Airings, planAiring{Station: a.Station, Region: a.Region, Kind: a.Kind, At: a.At.Format(planTime)})
	}
	return v
}

// audienceText is a in the page's language, as the lesson page and the plan's warning show it:
// "Niveaux 5 · Langues d'enseignement kk".
func audienceText(c *reqCtx, a relais.Audience) string {
	grades := make([]string, len(a.Grades))
	for i, g := range a.Grades {
		grades[i] = strconv.Itoa(g)
	}
	parts := []string{c.t("audience_grades") + " " + strings.Join(grades, ", "), c.t("audience_languages") + " " + strings.Join(a.Languages, ", ")}
	for _, f := range []struct {
		key string
		vs  []string
	}{{"audience_regions", a.Regions}, {"audience_schools", a.Schools}, {"audience_classes", a.Classes}} {
		if len(f.vs) > 0 {
			parts = append(parts, c.t(f.key)+" "+strings.Join(f.vs, ", "))
		}
	}
	return strings.Join(parts, " · ")
}

// spanText prints how long a send takes: "45 s", "12 min", "3 h 20 min", "5 d 2 h".
func spanText(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d.Round(time.Minute)/time.Minute))
	case d < 24*time.Hour:
		d = d.Round(time.Minute)
		return strings.TrimSuffix(fmt.Sprintf("%d h %d min", int(d/time.Hour), int(d%time.Hour/time.Minute)), " 0 min")
	}
	d = d.Round(time.Hour)
	return strings.TrimSuffix(fmt.Sprintf("%d d %d h", int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour)), " 0 h")
}
