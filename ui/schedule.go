package ui

// The broadcast pages of the media unit: stations, a station's week grid with slot assignment and
// auto-fill, adding slots, and the EPG and playlist downloads. Pages read the grids from the store;
// every change goes through scheduler.Service, as the JSON API's do, so its validation applies.

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/lessons"
	"github.com/relais-edu/relais/locale"
	"github.com/relais-edu/relais/scheduler"
)

// pathNumber reads the route's {id} as a positive number; kind is the UI key naming what the id is
// of, for the message.
func pathNumber(r *http.Request, c *reqCtx, kind string) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, relais.Errorf(relais.ENOTFOUND, "%s %q not found.", c.t(kind), r.PathValue("id"))
	}
	return id, nil
}

// formNumber reads a whole number from a form field; empty is 0.
func formNumber(r *http.Request, c *reqCtx, name, label string) (int, error) {
	v := strings.TrimSpace(r.PostFormValue(name))
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, relais.Errorf(relais.EINVALID, c.t("grid_err_number"), label, v)
	}
	return n, nil
}

// stationsData is the stations page.
type stationsData struct {
	Stations []relais.Station
	Form     relais.Station // the add-station form's values
	Zones    []string
	Notice   string // what the last change did
}

// commonZones are suggested in the time zone field; any IANA name is accepted.
var commonZones = []string{"Europe/Paris", "Asia/Almaty", "Asia/Aqtobe", "Asia/Oral", "Africa/Dakar", "Africa/Abidjan",
	"America/Port-au-Prince", "Indian/Reunion", "UTC"}

func (h *Handler) stations(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	h.showStations(w, r, c, http.StatusOK, "", relais.Station{Kind: relais.StationTV, Playout: relais.FormatFFplayout})
}

func (h *Handler) showStations(w http.ResponseWriter, r *http.Request, c *reqCtx, status int, msg string, form relais.Station) {
	gs := h.store
	d := stationsData{Form: form, Zones: commonZones}
	var err error
	q := r.URL.Query()
	if q.Has("saved") {
		d.Notice = c.t("station_saved")
	} else if n, err := strconv.Atoi(q.Get("deleted")); err == nil {
		d.Notice = fmt.Sprintf(c.t("station_deleted"), n)
	}
	if d.Stations, err = gs.Stations(r.Context()); err != nil {
		h.fail(w, r, c, err)
		return
	}
	var data any = d
	if msg != "" {
		data = pageError{msg: msg, data: d}
	}
	h.render(w, r, c, status, "ui_stations", "grid_stations", data)
}

// createStation adds a station and opens its (empty) grid.
func (h *Handler) createStation(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	in := relais.Station{
		Name: strings.TrimSpace(r.PostFormValue("name")), Kind: relais.StationKind(r.PostFormValue("kind")),
		Region: strings.TrimSpace(r.PostFormValue("region")), TimeZone: strings.TrimSpace(r.PostFormValue("time_zone")),
		ServiceName: strings.TrimSpace(r.PostFormValue("service_name")), Playout: relais.PlayoutFormat(r.PostFormValue("playout_format")),
		Provider: strings.TrimSpace(r.PostFormValue("provider")),
	}
	out := in
	if err := h.sched.CreateStation(r.Context(), &out); err != nil {
		h.refuse(w, r, c, err, func(status int, msg string) { h.showStations(w, r, c, status, msg, in) })
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/ui/grid?station=%d", out.ID), http.StatusSeeOther)
}

// stationFormData is the page editing a station.
type stationFormData struct {
	Station relais.Station // as stored: the heading and the fixed kind
	Form    relais.Station // the form's values
	Zones   []string
}

// editStation shows a station's fields in a form.
func (h *Handler) editStation(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	st, err := h.pathStation(r, c)
	if err != nil {
		h.fail(w, r, c, err)
		return
	}
	h.render(w, r, c, http.StatusOK, "ui_station_edit", "station_edit_title", stationFormData{Station: st, Form: st, Zones: commonZones})
}

// updateStation applies the edit form as a partial update (the scheduler queues again the reminders of
// lessons airing there when families would read another name or region) and goes back to the
// stations; a refusal shows the form again with what was typed.
func (h *Handler) updateStation(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	st, err := h.pathStation(r, c)
	if err != nil {
		h.fail(w, r, c, err)
		return
	}
	field := func(name string) *string { v := strings.TrimSpace(r.PostFormValue(name)); return &v }
	playout := relais.PlayoutFormat(r.PostFormValue("playout_format"))
	p := scheduler.StationPatch{Name: field("name"), Region: field("region"), TimeZone: field("time_zone"),
		ServiceName: field("service_name"), Playout: &playout, Provider: field("provider")}
	if _, _, err := h.sched.UpdateStation(r.Context(), st.ID, p); err != nil {
		form := relais.Station{ID: st.ID, Kind: st.Kind, Name: *p.Name, Region: *p.Region, TimeZone: *p.TimeZone,
			ServiceName: *p.ServiceName, Playout: playout, Provider: *p.Provider}
		h.refuse(w, r, c, err, func(status int, msg string) {
			h.render(w, r, c, status, "ui_station_edit", "station_edit_title",
				pageError{msg: msg, data: stationFormData{Station: st, Form: form, Zones: commonZones}})
		})
		return
	}
	http.Redirect(w, r, "/ui/stations?saved=1", http.StatusSeeOther)
}

// stationDeleteData is the page confirming a station's deletion.
type stationDeleteData struct {
	Station  relais.Station
	Question string // "Delete station X? N slots will be removed."
}

// confirmDeleteStation asks before a station and its slots are deleted; the deletion is the form's POST.
func (h *Handler) confirmDeleteStation(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	h.showDeleteStation(w, r, c, http.StatusOK, "")
}

func (h *Handler) showDeleteStation(w http.ResponseWriter, r *http.Request, c *reqCtx, status int, msg string) {
	st, err := h.pathStation(r, c)
	if err != nil {
		h.fail(w, r, c, err)
		return
	}
	gs := h.store
	slots, err := gs.Slots(r.Context(), relais.SlotFilter{StationID: st.ID})
	if err != nil {
		h.fail(w, r, c, err)
		return
	}
	var data any = stationDeleteData{Station: st, Question: fmt.Sprintf(c.t("station_delete_question"), st.Name, len(slots))}
	if msg != "" {
		data = pageError{msg: msg, data: data}
	}
	h.render(w, r, c, status, "ui_station_delete", "station_delete_title", data)
}

// deleteStation deletes a station; its refusal (a lesson still airs there) is shown on
// the confirmation page.
func (h *Handler) deleteStation(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	id, err := pathNumber(r, c, "grid_station")
	if err != nil {
		h.fail(w, r, c, err)
		return
	}
	removed, err := h.sched.DeleteStation(r.Context(), id)
	if relais.ErrorCode(err) == relais.ENOTFOUND {
		h.fail(w, r, c, err)
		return
	} else if err != nil {
		h.refuse(w, r, c, err, func(status int, msg string) { h.showDeleteStation(w, r, c, status, msg) })
		return
	}
	http.Redirect(w, r, "/ui/stations?deleted="+strconv.Itoa(removed), http.StatusSeeOther)
}

// pathStation reads the station named by the route's {id}.
func (h *Handler) pathStation(r *http.Request, c *reqCtx) (relais.Station, error) {
	id, err := pathNumber(r, c, "grid_station")
	if err != nil {
		return relais.Station{}, err
	}
	return h.store.Station(r.Context(), id)
}

// gridData is a station's week: days as columns, start times as rows, in the station's zone.
type gridData struct {
	Stations   []relais.Station
	Station    relais.Station // zero when there is no station yet
	Zone       string         // the zone and its offset at the start of the week
	ZoneChange bool           // the offset changes during the week (daylight saving)
	Week       string         // Monday, YYYY-MM-DD
	Sunday     string
	Prev, Next string // the neighbouring weeks' Mondays
	Days       []gridDay
	Rows       []gridRow
	Slots      int // slots this week
	Notice     string
	Fill       *scheduler.FillReport
	FillFrom   string
	FillTo     string
	FillAll    bool   // the auto-fill form covers every station
	Open       string // the add form shown open: template, slot or exception
	TplForm    map[string]string
	SlotForm   map[string]string
	Weekdays   []weekdayBox
	Languages  []string
}

// gridDay is a column of the grid.
type gridDay struct {
	Date      string
	Name      string
	Offset    string // "UTC+05:00"
	Today     bool
	Cancelled string // the reason of a cancelled day; "" otherwise
	Playlist  string // the day's playlist download
}

// gridRow is one start time of the week.
type gridRow struct {
	Start string
	Cells []*slotView // one per day; nil: no slot then
}

// slotView is a slot as the grid shows it.
type slotView struct {
	ID       int64
	Day      string
	Start    string
	End      string
	Minutes  int
	Grade    int
	Subject  string
	Language string
	Rerun    bool
	Lesson   *relais.Lesson
	Length   string   // the lesson's length on this station
	Overrun  string   // why the lesson is longer than the slot; "" when it fits
	Problems []string // other conflicts of the assignment
	Options  []slotOption
}

// slotOption is an approved lesson offered for an empty slot.
type slotOption struct {
	Value    string // the lesson id, with ":rerun" for a lesson already scheduled
	Label    string
	Disabled bool
}

// weekdayBox is a weekday checkbox of the template form.
type weekdayBox struct {
	Value   int
	Name    string
	Checked bool
}

func (h *Handler) grid(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	q := r.URL.Query()
	h.showGrid(w, r, c, http.StatusOK, q.Get("station"), q.Get("week"), "", func(d *gridData) {
		d.Notice = gridNotice(c, q)
	})
}

// gridNotice says what the last change did, from the redirect's query.
func gridNotice(c *reqCtx, q url.Values) string {
	var parts []string
	if n, err := strconv.Atoi(q.Get("added")); err == nil {
		parts = append(parts, fmt.Sprintf(c.t("grid_added"), n))
	}
	if n, err := strconv.Atoi(q.Get("skipped")); err == nil && n > 0 {
		parts = append(parts, fmt.Sprintf(c.t("grid_skipped"), n))
	}
	if n, err := strconv.Atoi(q.Get("removed")); err == nil {
		parts = append(parts, fmt.Sprintf(c.t("grid_removed"), n))
	}
	return strings.Join(parts, " ")
}

// showGrid renders the grid of a station (empty: the first) and week (empty: this week in the station's
// zone), with msg as the page's error when not empty; edit adds to the data.
func (h *Handler) showGrid(w http.ResponseWriter, r *http.Request, c *reqCtx, status int, station, week, msg string, edit func(*gridData)) {
	d, err := h.gridData(r.Context(), c, station, week)
	if err != nil {
		h.fail(w, r, c, err)
		return
	}
	if edit != nil {
		edit(&d)
	}
	var data any = d
	if msg != "" {
		data = pageError{msg: msg, data: d}
	}
	h.render(w, r, c, status, "ui_grid", "grid_title", data)
}

// refuseOnGrid shows a refusal on the grid (internal errors get the error page).
func (h *Handler) refuseOnGrid(w http.ResponseWriter, r *http.Request, c *reqCtx, err error, station int64, week, prefix string, edit func(*gridData)) {
	h.refuse(w, r, c, err, func(status int, msg string) {
		h.showGrid(w, r, c, status, strconv.FormatInt(station, 10), week, prefix+msg, edit)
	})
}

// mondayOf returns the Monday of the week of day (a civil date at UTC midnight).
func mondayOf(day time.Time) time.Time {
	return day.AddDate(0, 0, -((int(day.Weekday()) + 6) % 7))
}

// civilDate is the date of t on its own clock, at UTC midnight.
func civilDate(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

func utcOffset(t time.Time) string { return "UTC" + t.Format("-07:00") }

func (h *Handler) gridData(ctx context.Context, c *reqCtx, station, week string) (gridData, error) {
	d := gridData{Languages: relais.Languages, TplForm: map[string]string{}, SlotForm: map[string]string{}}
	gs := h.store
	var err error
	if d.Stations, err = gs.Stations(ctx); err != nil {
		return d, err
	}
	if len(d.Stations) == 0 {
		if station != "" {
			return d, relais.Errorf(relais.ENOTFOUND, "Station %q not found.", station)
		}
		return d, nil
	}
	d.Station = d.Stations[0]
	if station != "" {
		id, _ := strconv.ParseInt(station, 10, 64)
		i := slices.IndexFunc(d.Stations, func(s relais.Station) bool { return s.ID == id })
		if i < 0 {
			return d, relais.Errorf(relais.ENOTFOUND, "Station %q not found.", station)
		}
		d.Station = d.Stations[i]
	}
	loc, err := d.Station.Location()
	if err != nil {
		return d, err
	}
	now := h.now().In(loc)
	day := civilDate(now)
	if week != "" {
		if day, err = time.Parse(time.DateOnly, week); err != nil {
			return d, relais.Errorf(relais.EINVALID, c.t("grid_err_week"), week)
		}
	}
	monday := mondayOf(day)
	sunday := monday.AddDate(0, 0, 6)
	d.Week, d.Sunday = monday.Format(time.DateOnly), sunday.Format(time.DateOnly)
	d.Prev, d.Next = monday.AddDate(0, 0, -7).Format(time.DateOnly), monday.AddDate(0, 0, 7).Format(time.DateOnly)
	d.FillFrom, d.FillTo = d.Week, d.Sunday

	exc, err := gs.Exceptions(ctx, d.Station.ID)
	if err != nil {
		return d, err
	}
	cancelled := map[string]string{}
	for _, e := range exc {
		cancelled[e.Day] = e.Reason
		if e.Reason == "" {
			cancelled[e.Day] = "—"
		}
	}
	col := map[string]int{}
	for i := range 7 {
		dt := monday.AddDate(0, 0, i)
		noon := time.Date(dt.Year(), dt.Month(), dt.Day(), 12, 0, 0, 0, loc)
		gd := gridDay{Date: dt.Format(time.DateOnly), Name: c.t(fmt.Sprintf("grid_wd%d", dt.Weekday())), Offset: utcOffset(noon),
			Today: dt.Equal(civilDate(now)), Cancelled: cancelled[dt.Format(time.DateOnly)]}
		gd.Playlist = fmt.Sprintf("/ui/stations/%d/playlist?date=%s", d.Station.ID, gd.Date)
		if i == 0 {
			d.Zone = d.Station.TimeZone + " (" + gd.Offset + ")"
		} else if gd.Offset != d.Days[0].Offset {
			d.ZoneChange = true
		}
		col[gd.Date] = i
		d.Days = append(d.Days, gd)
	}

	slots, err := gs.Slots(ctx, relais.SlotFilter{StationID: d.Station.ID, From: d.Week, To: d.Sunday})
	if err != nil {
		return d, err
	}
	d.Slots = len(slots)
	views, err := h.slotViews(ctx, c, gs, d.Station, loc, slots)
	if err != nil {
		return d, err
	}
	rows := map[string]*gridRow{}
	var starts []string
	for _, v := range views {
		row, ok := rows[v.Start]
		if !ok {
			row = &gridRow{Start: v.Start, Cells: make([]*slotView, 7)}
			rows[v.Start] = row
			starts = append(starts, v.Start)
		}
		row.Cells[col[v.Day]] = v
	}
	slices.Sort(starts)
	for _, s := range starts {
		d.Rows = append(d.Rows, *rows[s])
	}
	for _, wd := range []int{1, 2, 3, 4, 5, 6, 0} {
		d.Weekdays = append(d.Weekdays, weekdayBox{Value: wd, Name: c.t(fmt.Sprintf("grid_wd%d", wd)), Checked: wd >= 1 && wd <= 5})
	}
	d.TplForm = map[string]string{"start": "09:00", "end": "12:00", "slot_minutes": "30", "from": d.Week, "to": d.Sunday}
	d.SlotForm = map[string]string{"day": d.Week, "start": "09:00", "minutes": "30"}
	return d, nil
}

// slotViews describes the week's slots: each assignment with its conflicts (overrun, mismatch, not
// approved or not ready, no rendition for the station, overlap), each empty slot with the approved
// lessons it may take.
func (h *Handler) slotViews(ctx context.Context, c *reqCtx, gs relais.ScheduleStore, st relais.Station, loc *time.Location,
	slots []relais.Slot) ([]*slotView, error) {
	approved, err := gs.ApprovedLessons(ctx)
	if err != nil {
		return nil, err
	}
	aired, err := gs.AiredLessons(ctx)
	if err != nil {
		return nil, err
	}
	lessons := map[int64]relais.Lesson{}
	isApproved := map[int64]bool{}
	for _, l := range approved {
		lessons[l.ID], isApproved[l.ID] = l, true
	}
	kind := relais.RenditionTV
	if st.Kind == relais.StationRadio {
		kind = relais.RenditionRadio
	}
	media := map[int64]time.Duration{} // the length of the station's rendition; absent: none
	looked := map[int64]bool{}         // lessons whose renditions were read
	type interval struct {
		start, end time.Time
		view       *slotView
	}
	var ivs []interval
	var out []*slotView
	for _, sl := range slots {
		v := &slotView{ID: sl.ID, Day: sl.Day, Start: sl.Start, Minutes: int(sl.Duration / time.Minute), Grade: sl.Grade,
			Subject: sl.Subject, Language: sl.Language, Rerun: sl.Rerun}
		start, end, err := sl.Interval(loc)
		if err == nil {
			v.End = end.In(loc).Format("15:04")
			ivs = append(ivs, interval{start, end, v})
		} else {
			v.Problems = append(v.Problems, locale.Message(err, c.lang))
		}
		out = append(out, v)
		if sl.LessonID == 0 {
			v.Options = lessonOptions(c, sl, approved, aired)
			continue
		}
		l, ok := lessons[sl.LessonID]
		if !ok {
			if l, err = h.store.Lesson(ctx, sl.LessonID); relais.ErrorCode(err) == relais.ENOTFOUND {
				v.Problems = append(v.Problems, fmt.Sprintf(c.t("grid_p_gone"), sl.LessonID))
				continue
			} else if err != nil {
				return nil, err
			}
			lessons[l.ID] = l
		}
		v.Lesson = &l
		if !looked[l.ID] {
			looked[l.ID] = true
			rs, err := h.store.Renditions(ctx, l.ID)
			if err != nil {
				return nil, err
			}
			for _, r := range rs {
				if r.Kind == kind {
					media[l.ID] = max(time.Duration(r.DurationMS)*time.Millisecond, 0)
				}
			}
		}
		length := time.Duration(l.DurationMS) * time.Millisecond
		m, hasMedia := media[l.ID]
		if m > 0 {
			length = m
		}
		v.Length = lengthText(length)
		if length > sl.Duration {
			v.Overrun = fmt.Sprintf(c.t("grid_p_overrun"), lengthText(length), lengthText(length-sl.Duration), lengthText(sl.Duration))
		}
		switch {
		case l.Status != relais.LessonReady && l.Status != relais.LessonPublished:
			v.Problems = append(v.Problems, fmt.Sprintf(c.t("grid_p_status"), c.t("st_"+string(l.Status))))
		case !isApproved[l.ID]:
			v.Problems = append(v.Problems, c.t("grid_p_unapproved"))
		}
		if why := slotMismatch(c, sl, l); why != "" {
			v.Problems = append(v.Problems, why)
		}
		if !hasMedia && (l.Status == relais.LessonReady || l.Status == relais.LessonPublished) {
			v.Problems = append(v.Problems, fmt.Sprintf(c.t("grid_p_media"), kind))
		}
	}
	// Slots are kept apart when added; an overlap shows a grid changed behind the scheduler's back.
	// last is the slot seen so far that ends last: a later start before its end overlaps it.
	slices.SortFunc(ivs, func(a, b interval) int { return a.start.Compare(b.start) })
	var last *interval
	for i := range ivs {
		if last != nil && ivs[i].start.Before(last.end) {
			ivs[i].view.Problems = append(ivs[i].view.Problems, fmt.Sprintf(c.t("grid_p_overlap"), last.view.Day, last.view.Start))
		}
		if last == nil || ivs[i].end.After(last.end) {
			last = &ivs[i]
		}
	}
	return out, nil
}

// slotMismatch says why lesson l does not match slot sl's grade, subject or language, or "".
func slotMismatch(c *reqCtx, sl relais.Slot, l relais.Lesson) string {
	switch {
	case sl.Grade != 0 && sl.Grade != l.Grade:
		return fmt.Sprintf(c.t("grid_p_grade"), l.Grade, sl.Grade)
	case sl.Subject != "" && sl.Subject != l.Subject:
		return fmt.Sprintf(c.t("grid_p_subject"), l.Subject, sl.Subject)
	case sl.Language != "" && sl.Language != l.Language:
		return fmt.Sprintf(c.t("grid_p_language"), l.Language, sl.Language)
	}
	return ""
}

// lessonOptions lists the approved lessons matching an empty slot: the ones not yet scheduled first, then
// re-runs; a lesson longer than the slot is shown but cannot be picked.
func lessonOptions(c *reqCtx, sl relais.Slot, approved []relais.Lesson, aired map[int64]bool) []slotOption {
	var fresh, again []slotOption
	for _, l := range approved {
		if (sl.Grade != 0 && sl.Grade != l.Grade) || (sl.Subject != "" && sl.Subject != l.Subject) ||
			(sl.Language != "" && sl.Language != l.Language) {
			continue
		}
		d := time.Duration(l.DurationMS) * time.Millisecond
		o := slotOption{Value: strconv.FormatInt(l.ID, 10),
			Label: fmt.Sprintf("#%d %s · %d · %s · %s · %s", l.ID, l.Title, l.Grade, l.Subject, l.Language, lengthText(d))}
		if d > sl.Duration {
			o.Label += " — " + c.t("grid_too_long")
			o.Disabled = true
		}
		if aired[l.ID] {
			o.Value += ":rerun"
			o.Label += " — " + c.t("grid_rerun")
			again = append(again, o)
			continue
		}
		fresh = append(fresh, o)
	}
	return append(fresh, again...)
}

// lengthText writes a length as minutes, with seconds when there are some.
func lengthText(d time.Duration) string {
	d = d.Round(time.Second)
	if s := int(d/time.Second) % 60; s != 0 {
		return fmt.Sprintf("%d min %02d s", int(d/time.Minute), s)
	}
	return fmt.Sprintf("%d min", int(d/time.Minute))
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

// weekOfDay returns the Monday of a slot's day, for going back to its week.
func weekOfDay(day string) string {
	d, err := time.Parse(time.DateOnly, day)
	if err != nil {
		return ""
	}
	return mondayOf(d).Format(time.DateOnly)
}

func gridURL(station int64, week string, extra url.Values, anchor string) string {
	q := url.Values{"station": {strconv.FormatInt(station, 10)}}
	if week != "" {
		q.Set("week", week)
	}
	for k, v := range extra {
		q[k] = v
	}
	u := "/ui/grid?" + q.Encode()
	if anchor != "" {
		u += "#" + anchor
	}
	return u
}

// assignSlot puts the lesson picked in a slot's form there; the scheduler reminds a published lesson's
// families of the airing.
func (h *Handler) assignSlot(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	sl, ok := h.formSlot(w, r, c)
	if !ok {
		return
	}
	week := weekOfDay(sl.Day)
	v := r.PostFormValue("lesson")
	idText, flag, _ := strings.Cut(v, ":")
	lessonID, err := strconv.ParseInt(idText, 10, 64)
	if err != nil || lessonID <= 0 || (flag != "" && flag != "rerun") {
		h.refuseOnGrid(w, r, c, relais.Errorf(relais.EINVALID, "%s", c.t("grid_err_pick")), sl.StationID, week, slotPrefix(sl), nil)
		return
	}
	if err := h.sched.Assign(r.Context(), sl.ID, lessonID, flag == "rerun"); err != nil {
		h.refuseOnGrid(w, r, c, err, sl.StationID, week, slotPrefix(sl), nil)
		return
	}
	http.Redirect(w, r, gridURL(sl.StationID, week, nil, fmt.Sprintf("slot-%d", sl.ID)), http.StatusSeeOther)
}

// unassignSlot empties a slot.
func (h *Handler) unassignSlot(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	sl, ok := h.formSlot(w, r, c)
	if !ok {
		return
	}
	week := weekOfDay(sl.Day)
	if err := h.store.Unassign(r.Context(), sl.ID); err != nil {
		h.refuseOnGrid(w, r, c, err, sl.StationID, week, slotPrefix(sl), nil)
		return
	}
	http.Redirect(w, r, gridURL(sl.StationID, week, nil, fmt.Sprintf("slot-%d", sl.ID)), http.StatusSeeOther)
}

func slotPrefix(sl relais.Slot) string { return sl.Day + " " + sl.Start + ": " }

// formSlot reads the route's slot; on failure it has answered.
func (h *Handler) formSlot(w http.ResponseWriter, r *http.Request, c *reqCtx) (relais.Slot, bool) {
	gs := h.store
	id, err := pathNumber(r, c, "kind_slot")
	if err != nil {
		h.fail(w, r, c, err)
		return relais.Slot{}, false
	}
	sl, err := gs.Slot(r.Context(), id)
	if err != nil {
		h.fail(w, r, c, err)
		return sl, false
	}
	return sl, true
}

// autoFill fills the empty slots of the chosen stations (none: every station) between two days through
// and shows what it did above the grid it came from.
func (h *Handler) autoFill(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	r.ParseForm()
	var ids []int64
	for _, v := range r.PostForm["station_ids"] {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			h.fail(w, r, c, relais.Errorf(relais.EINVALID, "Station %q not found.", v))
			return
		}
		ids = append(ids, id)
	}
	from, to := r.PostFormValue("from"), r.PostFormValue("to")
	station, week := r.PostFormValue("station"), r.PostFormValue("week")
	keep := func(d *gridData) {
		d.FillFrom, d.FillTo, d.FillAll = from, to, len(ids) == 0
	}
	rep, err := h.sched.AutoFill(r.Context(), ids, from, to, r.PostFormValue("reruns") != "")
	if err != nil {
		h.refuse(w, r, c, err, func(status int, msg string) { h.showGrid(w, r, c, status, station, week, msg, keep) })
		return
	}
	h.showGrid(w, r, c, http.StatusOK, station, week, "", func(d *gridData) {
		keep(d)
		d.Fill = &rep
	})
}

// addTemplate adds a weekly block of slots to a station.
func (h *Handler) addTemplate(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	id, err := pathNumber(r, c, "kind_station")
	if err != nil {
		h.fail(w, r, c, err)
		return
	}
	r.ParseForm()
	t := relais.Template{Weekdays: []int{}, Start: strings.TrimSpace(r.PostFormValue("start")),
		End: strings.TrimSpace(r.PostFormValue("end")), Subject: strings.TrimSpace(r.PostFormValue("subject")),
		Language: r.PostFormValue("language"), From: r.PostFormValue("from"), To: r.PostFormValue("to")}
	form := map[string]string{"start": t.Start, "end": t.End, "subject": t.Subject, "language": t.Language, "from": t.From,
		"to": t.To, "slot_minutes": r.PostFormValue("slot_minutes"), "grade": r.PostFormValue("grade")}
	keep := func(d *gridData) {
		d.TplForm, d.Open = form, "template"
		for i := range d.Weekdays {
			d.Weekdays[i].Checked = slices.Contains(t.Weekdays, d.Weekdays[i].Value)
		}
	}
	err = func() error {
		for _, v := range r.PostForm["weekdays"] {
			n, err := strconv.Atoi(v)
			if err != nil {
				return relais.Errorf(relais.EINVALID, c.t("grid_err_number"), c.t("grid_weekdays"), v)
			}
			t.Weekdays = append(t.Weekdays, n)
		}
		if t.SlotMin, err = formNumber(r, c, "slot_minutes", c.t("grid_slot_minutes")); err != nil {
			return err
		}
		if t.Grade, err = formNumber(r, c, "grade", c.t("grade")); err != nil {
			return err
		}
		t.StationID = id
		res, err := h.sched.AddTemplate(r.Context(), t)
		if err != nil {
			return err
		}
		http.Redirect(w, r, gridURL(id, weekOfDay(t.From), url.Values{"added": {strconv.Itoa(res.Slots)},
			"skipped": {strconv.Itoa(len(res.Skipped))}}, "grid"), http.StatusSeeOther)
		return nil
	}()
	if err != nil {
		h.refuseOnGrid(w, r, c, err, id, weekOfDay(t.From), "", keep)
	}
}

// addSlot adds a one-off slot to a station.
func (h *Handler) addSlot(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	id, err := pathNumber(r, c, "kind_station")
	if err != nil {
		h.fail(w, r, c, err)
		return
	}
	in := relais.Slot{StationID: id, Day: r.PostFormValue("day"), Start: strings.TrimSpace(r.PostFormValue("start")),
		Subject: strings.TrimSpace(r.PostFormValue("subject")), Language: r.PostFormValue("language")}
	form := map[string]string{"day": in.Day, "start": in.Start, "subject": in.Subject, "language": in.Language,
		"minutes": r.PostFormValue("minutes"), "grade": r.PostFormValue("grade")}
	keep := func(d *gridData) { d.SlotForm, d.Open = form, "slot" }
	err = func() error {
		minutes, err := formNumber(r, c, "minutes", c.t("grid_minutes"))
		if err != nil {
			return err
		}
		in.Duration = time.Duration(minutes) * time.Minute
		if in.Grade, err = formNumber(r, c, "grade", c.t("grade")); err != nil {
			return err
		}
		out, err := h.sched.AddSlot(r.Context(), in)
		if err != nil {
			return err
		}
		http.Redirect(w, r, gridURL(id, weekOfDay(out.Day), url.Values{"added": {"1"}}, fmt.Sprintf("slot-%d", out.ID)), http.StatusSeeOther)
		return nil
	}()
	if err != nil {
		h.refuseOnGrid(w, r, c, err, id, weekOfDay(in.Day), "", keep)
	}
}

// addException cancels a station's day (its slots are removed).
func (h *Handler) addException(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	id, err := pathNumber(r, c, "kind_station")
	if err != nil {
		h.fail(w, r, c, err)
		return
	}
	in := relais.Exception{StationID: id, Day: r.PostFormValue("day"), Reason: strings.TrimSpace(r.PostFormValue("reason"))}
	removed, err := h.sched.AddException(r.Context(), in)
	if err != nil {
		h.refuseOnGrid(w, r, c, err, id, weekOfDay(in.Day), "", func(d *gridData) { d.Open = "exception" })
		return
	}
	http.Redirect(w, r, gridURL(id, weekOfDay(in.Day), url.Values{"removed": {strconv.Itoa(len(removed))}}, "grid"), http.StatusSeeOther)
}

// stationEPG downloads a station's XMLTV guide from one day to another.
func (h *Handler) stationEPG(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	id, err := pathNumber(r, c, "kind_station")
	if err != nil {
		h.fail(w, r, c, err)
		return
	}
	q := r.URL.Query()
	from, to := q.Get("from"), q.Get("to")
	b, err := h.sched.XMLTVFile(r.Context(), id, from, to)
	h.download(w, r, c, err, scheduler.XMLTVType, b, fmt.Sprintf("station-%d-epg-%s-%s.xml", id, safeFileName(from), safeFileName(to)))
}

// stationPlaylist downloads a station's playout list of a day, in its playout format unless asked.
func (h *Handler) stationPlaylist(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	id, err := pathNumber(r, c, "kind_station")
	if err != nil {
		h.fail(w, r, c, err)
		return
	}
	gs := h.store
	st, err := gs.Station(r.Context(), id)
	if err != nil {
		h.fail(w, r, c, err)
		return
	}
	q := r.URL.Query()
	format := q.Get("format")
	if format == "" {
		format = string(st.Playout)
	}
	ext := "json"
	if format == string(relais.FormatM3U) {
		ext = "m3u"
	}
	ct, b, err := h.sched.PlaylistFile(r.Context(), id, q.Get("date"), relais.PlayoutFormat(format), q.Get("filler"))
	h.download(w, r, c, err, ct, b, fmt.Sprintf("station-%d-playlist-%s.%s", id, safeFileName(q.Get("date")), ext))
}

// download answers a generated file b of content type ct as an attachment named filename, or err's
// error page.
func (h *Handler) download(w http.ResponseWriter, r *http.Request, c *reqCtx, err error, ct string, b []byte, filename string) {
	if err != nil {
		h.fail(w, r, c, err)
		return
	}
	w.Header().Set("Content-Type", ct)
	lessons.Attachment(w.Header(), filename)
	w.Write(b)
}

// safeFileName keeps the digits, letters and dashes of a file name part.
func safeFileName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			return r
		}
		return -1
	}, s)
}
