package ui

// A station's week grid: days as columns, start times as rows, in the station's zone. The grid is
// read from the store; its forms are handled in ui/slots.go.

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
	"github.com/relais-edu/relais/scheduler"
)

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
	Subjects   []choice // the subjects the template and slot forms offer
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
	Items    []slotItem // the slot's lessons in playing order
	Length   string     // how long the lessons play together on this station
	Left     string     // the time the lessons leave in the slot; "" when none
	Overrun  string     // why the lessons are longer than the slot; "" when they fit
	Underrun string     // how much of the slot the lessons leave to filler, when that is much; "" otherwise
	Problems []string   // other conflicts of the slot and its lessons
	Options  []slotOption
}

// slotItem is one lesson of a slot's sequence as the grid shows it.
type slotItem struct {
	Lesson      relais.Lesson
	Start       string // its own start within the slot, "15:04:05" in the station's zone
	Length      string // its length on this station
	Rerun       bool
	First, Last bool // for the move buttons
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
	d := gridData{Languages: relais.Languages, TplForm: map[string]string{}, SlotForm: map[string]string{},
		Subjects: h.subjectChoices(c, "")}
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
