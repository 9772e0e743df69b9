package ui

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/lessons"
)

// The delivery dashboards: one lesson's (GET /ui/lessons/{id}/deliveries) and every lesson's
// (GET /ui/dashboard). Each shows the current counts per channel and status, a chart per channel of
// the deliveries sent, delivered, failed and opted out over time (inline SVG drawn in charts.go, with its
// numbers in a table for screen readers and keyboards), and the failure reasons, grouped in SQL.

// dashboardData is a delivery dashboard: one lesson's when Lesson is set, else every lesson's.
type dashboardData struct {
	Lesson     *lessons.Detail
	Deliveries []channelCounts
	Totals     []int64
	Statuses   []relais.DeliveryStatus
	Failures   []relais.FailureCount
	Moving     bool
	Every      int // seconds between refreshes while Moving
	Ranges     []rangeLink
	Timeline   *timelineView // nil: nothing was ever planned
	// Unknown counts the deliveries whose outcome is unknown: a lesson's dashboard offers to resend them.
	Unknown int64
}

func (d dashboardData) refresh() int {
	if d.Moving {
		return d.Every
	}
	return 0
}

// maxFailureReasons bounds the failure table.
const maxFailureReasons = 50

func (h *Handler) dashboard(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	ctx := r.Context()
	l, err := h.lessonDetail(r, c)
	if err != nil {
		h.fail(w, r, c, err)
		return
	}
	d := newDashboard(tabulate(l.Deliveries))
	d.Lesson, d.Every = &l, 3
	d.Moving = l.Status == relais.LessonPublished && (len(d.Deliveries) == 0 || inFlight(d.Deliveries))
	started, err := h.store.DeliveriesStarted(ctx, l.ID)
	if err != nil {
		h.fail(w, r, c, err)
		return
	}
	rng, err := pickRange(c, r, lessonRanges, "all")
	if err != nil {
		h.fail(w, r, c, err)
		return
	}
	d.Ranges = rangeLinks(c, r, lessonRanges, rng)
	if !started.IsZero() {
		if d.Timeline, err = h.timeline(ctx, c, h.period(rng, started), l.ID); err != nil {
			h.fail(w, r, c, err)
			return
		}
	}
	if d.Failures, err = h.store.FailureCounts(ctx, relais.FailureFilter{LessonID: l.ID, Limit: maxFailureReasons}); err != nil {
		h.fail(w, r, c, err)
		return
	}
	h.render(w, r, c, http.StatusOK, "ui_dashboard", "dashboard", d)
}

// overview is the dashboard of every lesson; its failure reasons are those of the period charted.
func (h *Handler) overview(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	ctx := r.Context()
	counts, err := h.store.DeliveryCounts(ctx, 0)
	if err != nil {
		h.fail(w, r, c, err)
		return
	}
	d := newDashboard(tabulate(lessons.CountsByChannel(counts)))
	d.Every = 10
	d.Moving = inFlight(d.Deliveries)
	rng, err := pickRange(c, r, overviewRanges, "24h")
	if err != nil {
		h.fail(w, r, c, err)
		return
	}
	d.Ranges = rangeLinks(c, r, overviewRanges, rng)
	f := h.period(rng, time.Time{})
	if d.Timeline, err = h.timeline(ctx, c, f, 0); err != nil {
		h.fail(w, r, c, err)
		return
	}
	if d.Failures, err = h.store.FailureCounts(ctx, relais.FailureFilter{From: f.From, To: f.To, Limit: maxFailureReasons}); err != nil {
		h.fail(w, r, c, err)
		return
	}
	h.render(w, r, c, http.StatusOK, "ui_dashboard", "db_overview", d)
}

func newDashboard(rows []channelCounts) dashboardData {
	d := dashboardData{Deliveries: rows, Statuses: relais.DeliveryStatuses, Totals: make([]int64, len(relais.DeliveryStatuses))}
	for _, row := range rows {
		for i, n := range row.Counts {
			d.Totals[i] += n
			if relais.DeliveryStatuses[i] == relais.DeliveryUnknown {
				d.Unknown += n
			}
		}
	}
	return d
}

// resendUnknown sends again, in one action, the lesson's deliveries whose outcome is unknown.
func (h *Handler) resendUnknown(w http.ResponseWriter, r *http.Request, c *reqCtx, id int64) {
	if _, err := h.lessons.ResendUnknown(r.Context(), c.user, id, c.lang); err != nil {
		h.fail(w, r, c, err)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/ui/lessons/%d/deliveries", id), http.StatusSeeOther)
}

// The periods a dashboard offers. "all" is a lesson's whole life, from its first delivery.
var (
	lessonRanges   = []string{"all", "1h", "24h", "7d", "30d"}
	overviewRanges = []string{"1h", "24h", "7d", "30d"}
	rangeSpans     = map[string]time.Duration{"1h": time.Hour, "24h": 24 * time.Hour, "7d": 7 * 24 * time.Hour, "30d": 30 * 24 * time.Hour}
)

// rangeLink is a link to the same dashboard over another period.
type rangeLink struct {
	URL, Label string
	Current    bool
}

// pickRange reads ?range=, def when absent.
func pickRange(c *reqCtx, r *http.Request, offered []string, def string) (string, error) {
	v := r.URL.Query().Get("range")
	if v == "" {
		return def, nil
	}
	for _, o := range offered {
		if o == v {
			return v, nil
		}
	}
	var labels []string
	for _, o := range offered {
		labels = append(labels, c.t("db_range_"+o))
	}
	return "", relais.Errorf(relais.EINVALID, c.t("db_err_range"), v, strings.Join(labels, ", "))
}

func rangeLinks(c *reqCtx, r *http.Request, offered []string, current string) []rangeLink {
	out := make([]rangeLink, len(offered))
	for i, o := range offered {
		out[i] = rangeLink{URL: r.URL.Path + "?range=" + url.QueryEscape(o), Label: c.t("db_range_" + o), Current: o == current}
	}
	return out
}

// period is what a dashboard charts for a range: whole buckets (in the UI's time zone) ending with
// the one that holds now, at most 60 of them for the fixed ranges; "all" starts with the bucket of
// the lesson's first delivery and spans an hour at least.
func (h *Handler) period(rng string, started time.Time) relais.TimelineFilter {
	now := h.now()
	span := rangeSpans[rng]
	if rng == "all" {
		span = max(now.Sub(started), time.Hour)
	}
	bucket := relais.TimelineBucket(span)
	end := h.alignDown(now, bucket).Add(bucket)
	from := h.alignDown(end.Add(-span), bucket)
	if rng == "all" && started.Before(from) {
		from = h.alignDown(started, bucket)
	}
	if n := end.Sub(from) / bucket; n > relais.MaxTimelineBuckets {
		from = end.Add(-relais.MaxTimelineBuckets * bucket)
	}
	return relais.TimelineFilter{From: from, To: end, Bucket: bucket}
}

// alignDown is the start of the bucket of width b that holds t, buckets starting at local midnight.
func (h *Handler) alignDown(t time.Time, b time.Duration) time.Time {
	t = t.In(h.loc())
	midnight := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, t.Location())
	if b >= 24*time.Hour {
		return midnight
	}
	return midnight.Add(t.Sub(midnight) / b * b).Truncate(time.Minute)
}

// zoned writes an instant for staff pages: in the configured zone (RELAIS_TIMEZONE), with the zone's
// abbreviation or offset, so that nobody reads a UTC time as local.
func (h *Handler) zoned(t time.Time) string {
	t = t.In(h.loc())
	name := t.Format("MST")
	if strings.ContainsAny(name, "+-0123456789") { // a zone without an abbreviation: "+05"
		name = "UTC" + t.Format("-07:00")
	}
	return t.Format("2006-01-02 15:04") + " " + name
}

func (h *Handler) loc() *time.Location {
	if h.cfg.Location == nil {
		return time.Local
	}
	return h.cfg.Location
}

// channelName is a channel as people call it.
func channelName(c *reqCtx, ch relais.ChannelName) string {
	if s, ok := messages[c.lang]["db_ch_"+string(ch)]; ok {
		return s
	}
	return string(ch)
}
