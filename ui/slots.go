package ui

// The grid's forms: assigning lessons to slots, ordering and removing them, emptying slots, auto-fill, and adding templates, slots and cancelled
// days. Every change goes through scheduler.Service, as the JSON API's do, so its validation applies.

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	relais "github.com/relais-edu/relais"
)

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
	h.changeSlot(w, r, c, func(sl relais.Slot) error {
		idText, flag, _ := strings.Cut(r.PostFormValue("lesson"), ":")
		lessonID, err := strconv.ParseInt(idText, 10, 64)
		if err != nil || lessonID <= 0 || (flag != "" && flag != "rerun") {
			return relais.Errorf(relais.EINVALID, "%s", c.t("grid_err_pick"))
		}
		return h.sched.Assign(r.Context(), sl.ID, lessonID, flag == "rerun")
	})
}

// unassignSlot empties a slot; the scheduler reminds the families of its lessons of where they air now.
func (h *Handler) unassignSlot(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	h.changeSlot(w, r, c, func(sl relais.Slot) error {
		_, err := h.sched.SetSequence(r.Context(), sl.ID, nil)
		return err
	})
}

// editSequence moves one lesson of a slot's sequence a place earlier (up) or later (down), or removes
// it (remove); the lessons after it then start at other times, and their families are reminded.
func (h *Handler) editSequence(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	h.changeSlot(w, r, c, func(sl relais.Slot) error {
		lessonID, err := strconv.ParseInt(r.PostFormValue("lesson"), 10, 64)
		if err != nil || !sl.Holds(lessonID) {
			return relais.Errorf(relais.EINVALID, "%s", c.t("grid_err_pick"))
		}
		switch r.PostFormValue("action") {
		case "up", "down":
			_, err = h.sched.MoveInSlot(r.Context(), sl.ID, lessonID, r.PostFormValue("action") == "up")
		case "remove":
			_, err = h.sched.RemoveFromSlot(r.Context(), sl.ID, lessonID)
		default:
			err = relais.Errorf(relais.EINVALID, "%s", c.t("grid_err_action"))
		}
		return err
	})
}

// changeSlot makes change to the route's slot, then goes back to the slot on its week's grid; a
// refused change is shown above that grid, after the slot's day and time.
func (h *Handler) changeSlot(w http.ResponseWriter, r *http.Request, c *reqCtx, change func(relais.Slot) error) {
	sl, ok := h.formSlot(w, r, c)
	if !ok {
		return
	}
	week := weekOfDay(sl.Day)
	if err := change(sl); err != nil {
		h.refuseOnGrid(w, r, c, err, sl.StationID, week, slotPrefix(sl), nil)
		return
	}
	http.Redirect(w, r, gridURL(sl.StationID, week, nil, fmt.Sprintf("slot-%d", sl.ID)), http.StatusSeeOther)
}

func slotPrefix(sl relais.Slot) string { return sl.Day + " " + sl.Start + ": " }

// formSlot reads the route's slot; on failure it has answered.
func (h *Handler) formSlot(w http.ResponseWriter, r *http.Request, c *reqCtx) (relais.Slot, bool) {
	id, err := pathNumber(r, c, "kind_slot")
	if err != nil {
		h.fail(w, r, c, err)
		return relais.Slot{}, false
	}
	sl, err := h.store.Slot(r.Context(), id)
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
	rep, err := h.sched.FillDays(r.Context(), ids, from, to, r.PostFormValue("reruns") != "")
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
func (h *Handler) addTemplate(w http.ResponseWriter, r *http.Request, c *reqCtx, id int64) {
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
	err := func() error {
		var err error
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
func (h *Handler) addSlot(w http.ResponseWriter, r *http.Request, c *reqCtx, id int64) {
	in := relais.Slot{StationID: id, Day: r.PostFormValue("day"), Start: strings.TrimSpace(r.PostFormValue("start")),
		Subject: strings.TrimSpace(r.PostFormValue("subject")), Language: r.PostFormValue("language")}
	form := map[string]string{"day": in.Day, "start": in.Start, "subject": in.Subject, "language": in.Language,
		"minutes": r.PostFormValue("minutes"), "grade": r.PostFormValue("grade")}
	keep := func(d *gridData) { d.SlotForm, d.Open = form, "slot" }
	err := func() error {
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
func (h *Handler) addException(w http.ResponseWriter, r *http.Request, c *reqCtx, id int64) {
	in := relais.Exception{StationID: id, Day: r.PostFormValue("day"), Reason: strings.TrimSpace(r.PostFormValue("reason"))}
	removed, err := h.sched.AddException(r.Context(), in)
	if err != nil {
		h.refuseOnGrid(w, r, c, err, id, weekOfDay(in.Day), "", func(d *gridData) { d.Open = "exception" })
		return
	}
	http.Redirect(w, r, gridURL(id, weekOfDay(in.Day), url.Values{"removed": {strconv.Itoa(len(removed))}}, "grid"), http.StatusSeeOther)
}
