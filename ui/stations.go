package ui

// The stations page of the media unit: list, add, edit and delete broadcast stations. Every change goes
// through scheduler.Service, as the JSON API's do, so its validation applies.

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/scheduler"
)

// stationsData is the stations page.
type stationsData struct {
	Stations []relais.Station
	Form     relais.Station // the add-station form's values
	Zones    []choice
	Regions  []choice
	Notice   string // what the last change did
}

func (h *Handler) stations(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	h.showStations(w, r, c, http.StatusOK, "", relais.Station{Kind: relais.StationTV, Playout: relais.FormatFFplayout})
}

func (h *Handler) showStations(w http.ResponseWriter, r *http.Request, c *reqCtx, status int, msg string, form relais.Station) {
	gs := h.store
	d := stationsData{Form: form, Zones: zoneChoices(form.TimeZone)}
	var err error
	if d.Regions, err = h.regionChoices(r.Context(), form.Region); err != nil {
		h.fail(w, r, c, err)
		return
	}
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
		Provider: strings.TrimSpace(r.PostFormValue("provider")), Filler: strings.TrimSpace(r.PostFormValue("filler")),
		DayStart: strings.TrimSpace(r.PostFormValue("day_start")),
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
	Zones   []choice
	Regions []choice
}

// stationForm is the edit page's data for form, with its pick lists.
func (h *Handler) stationForm(ctx context.Context, st, form relais.Station) (stationFormData, error) {
	regions, err := h.regionChoices(ctx, form.Region)
	return stationFormData{Station: st, Form: form, Zones: zoneChoices(form.TimeZone), Regions: regions}, err
}

// editStation shows a station's fields in a form.
func (h *Handler) editStation(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	st, err := h.pathStation(r, c)
	if err != nil {
		h.fail(w, r, c, err)
		return
	}
	d, err := h.stationForm(r.Context(), st, st)
	if err != nil {
		h.fail(w, r, c, err)
		return
	}
	h.render(w, r, c, http.StatusOK, "ui_station_edit", "station_edit_title", d)
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
		ServiceName: field("service_name"), Playout: &playout, Provider: field("provider"), Filler: field("filler"), DayStart: field("day_start")}
	if _, _, err := h.sched.UpdateStation(r.Context(), st.ID, p); err != nil {
		form := relais.Station{ID: st.ID, Kind: st.Kind, Name: *p.Name, Region: *p.Region, TimeZone: *p.TimeZone,
			ServiceName: *p.ServiceName, Playout: playout, Provider: *p.Provider, Filler: *p.Filler, DayStart: *p.DayStart}
		h.refuse(w, r, c, err, func(status int, msg string) {
			d, err := h.stationForm(r.Context(), st, form)
			if err != nil {
				h.fail(w, r, c, err)
				return
			}
			h.render(w, r, c, status, "ui_station_edit", "station_edit_title", pageError{msg: msg, data: d})
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
func (h *Handler) deleteStation(w http.ResponseWriter, r *http.Request, c *reqCtx, id int64) {
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
