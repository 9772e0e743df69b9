package api

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/scheduler"
)

// readBody decodes a JSON body of at most 64 KiB into v, refusing unknown fields.
func readBody(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return relais.Errorf(relais.EINVALID, "The body must be a JSON object: %s.", jsonProblem(err))
	}
	return nil
}

func jsonProblem(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF):
		return "it is empty"
	case errors.As(err, &se):
		return "it is not valid JSON"
	case errors.As(err, &te):
		return "field " + te.Field + " has the wrong type"
	}
	return "unexpected content"
}

// SlotJSON is a slot as the API shows it.
type SlotJSON struct {
	relais.Slot
	Minutes int `json:"minutes"`
}

func (s *Server) listStations(w http.ResponseWriter, r *http.Request) error {
	st := s.store
	sts, err := st.Stations(r.Context())
	if err != nil {
		return err
	}
	if sts == nil {
		sts = []relais.Station{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": sts})
	return nil
}

func (s *Server) createStation(w http.ResponseWriter, r *http.Request) error {
	svc := s.sched
	var st relais.Station
	if err := readBody(r, &st); err != nil {
		return err
	}
	st.ID = 0
	if err := svc.CreateStation(r.Context(), &st); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, st)
	return nil
}

// updateStation changes some of a station's fields. When the name families know or the region changed,
// the reminders of the lessons airing on it from today on are queued again, to say where they air.
func (s *Server) updateStation(w http.ResponseWriter, r *http.Request) error {
	svc := s.sched
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var p scheduler.StationPatch
	if err := readBody(r, &p); err != nil {
		return err
	}
	st, remind, err := svc.UpdateStation(r.Context(), id, p)
	if err != nil {
		return err
	}
	for _, lessonID := range remind {
		if err := s.queue.RescheduleReminders(r.Context(), lessonID); err != nil {
			return err
		}
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

// deleteStation removes a station with its grid, unless a lesson airs on it from today on (409).
func (s *Server) deleteStation(w http.ResponseWriter, r *http.Request) error {
	svc := s.sched
	id, err := pathID(r)
	if err != nil {
		return err
	}
	n, err := svc.DeleteStation(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": id, "slots_removed": n})
	return nil
}

func (s *Server) addTemplate(w http.ResponseWriter, r *http.Request) error {
	svc := s.sched
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var t relais.Template
	if err := readBody(r, &t); err != nil {
		return err
	}
	t.ID, t.StationID = 0, id
	res, err := svc.AddTemplate(r.Context(), t)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, res)
	return nil
}

func (s *Server) addSlot(w http.ResponseWriter, r *http.Request) error {
	svc := s.sched
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var in SlotJSON
	if err := readBody(r, &in); err != nil {
		return err
	}
	sl := in.Slot
	sl.StationID, sl.Duration = id, time.Duration(in.Minutes)*time.Minute
	if sl, err = svc.AddSlot(r.Context(), sl); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, SlotJSON{Slot: sl, Minutes: in.Minutes})
	return nil
}

func (s *Server) listSlots(w http.ResponseWriter, r *http.Request) error {
	st := s.store
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if _, err := st.Station(r.Context(), id); err != nil {
		return err
	}
	q := r.URL.Query()
	from, to, err := dayRange(q.Get("from"), q.Get("to"), 93)
	if err != nil {
		return err
	}
	slots, err := st.Slots(r.Context(), relais.SlotFilter{StationID: id, From: from, To: to})
	if err != nil {
		return err
	}
	items := make([]SlotJSON, 0, len(slots))
	for _, sl := range slots {
		items = append(items, SlotJSON{Slot: sl, Minutes: int(sl.Duration / time.Minute)})
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
	return nil
}

// dayRange checks from and to are days, to not before from, at most maxDays apart.
func dayRange(from, to string, maxDays int) (string, string, error) {
	f, err1 := time.Parse(time.DateOnly, from)
	t, err2 := time.Parse(time.DateOnly, to)
	if err1 != nil || err2 != nil {
		return "", "", relais.Errorf(relais.EINVALID, "Give from and to as days (YYYY-MM-DD).")
	}
	if t.Before(f) || t.Sub(f) >= time.Duration(maxDays)*24*time.Hour {
		return "", "", relais.Errorf(relais.EINVALID, "to must be on or after from, at most %d days later.", maxDays-1)
	}
	return from, to, nil
}

func (s *Server) addException(w http.ResponseWriter, r *http.Request) error {
	svc := s.sched
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var e relais.Exception
	if err := readBody(r, &e); err != nil {
		return err
	}
	e.StationID = id
	removed, err := svc.AddException(r.Context(), e)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"exception": e, "slots_removed": len(removed)})
	return nil
}

func (s *Server) getEPG(w http.ResponseWriter, r *http.Request) error {
	svc := s.sched
	id, err := pathID(r)
	if err != nil {
		return err
	}
	st, ps, err := svc.Programmes(r.Context(), id, r.URL.Query().Get("from"), r.URL.Query().Get("to"))
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	return scheduler.WriteXMLTV(w, st, ps)
}

func (s *Server) getPlaylist(w http.ResponseWriter, r *http.Request) error {
	svc := s.sched
	id, err := pathID(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	format := relais.PlayoutFormat(q.Get("format"))
	if format == "" {
		format = relais.FormatFFplayout
	}
	if format != relais.FormatFFplayout && format != relais.FormatM3U {
		return relais.Errorf(relais.EINVALID, "format must be ffplayout or m3u.")
	}
	filler := q.Get("filler")
	if filler == "" {
		filler = "filler.ts"
	}
	pl, err := svc.Playlist(r.Context(), id, q.Get("date"), filler)
	if err != nil {
		return err
	}
	if format == relais.FormatM3U {
		w.Header().Set("Content-Type", "audio/x-mpegurl; charset=utf-8")
		return scheduler.WriteM3U(w, pl)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	return scheduler.WriteFFplayout(w, pl)
}

func (s *Server) assignSlot(w http.ResponseWriter, r *http.Request) error {
	svc, st := s.sched, s.store
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var in struct {
		LessonID int64 `json:"lesson_id"`
		Rerun    bool  `json:"rerun"`
	}
	if err := readBody(r, &in); err != nil {
		return err
	}
	if err := svc.Assign(r.Context(), id, in.LessonID, in.Rerun); err != nil {
		return err
	}
	// A published lesson's families are reminded of the new airing (a cancelled one reminds nobody).
	if err := s.queue.RescheduleReminders(r.Context(), in.LessonID); err != nil {
		return err
	}
	sl, err := st.Slot(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, SlotJSON{Slot: sl, Minutes: int(sl.Duration / time.Minute)})
	return nil
}

func (s *Server) unassignSlot(w http.ResponseWriter, r *http.Request) error {
	st := s.store
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if err := st.Unassign(r.Context(), id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) autoFill(w http.ResponseWriter, r *http.Request) error {
	svc := s.sched
	var in struct {
		From       string  `json:"from"`
		To         string  `json:"to"`
		StationIDs []int64 `json:"station_ids"`
		Reruns     bool    `json:"reruns"`
	}
	if err := readBody(r, &in); err != nil {
		return err
	}
	if _, _, err := dayRange(in.From, in.To, 93); err != nil {
		return err
	}
	rep, err := svc.AutoFill(r.Context(), in.StationIDs, in.From, in.To, in.Reruns)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}

func (s *Server) submitLesson(w http.ResponseWriter, r *http.Request) error {
	svc := s.sched
	id, err := pathID(r)
	if err != nil {
		return err
	}
	a, err := svc.Submit(r.Context(), userFrom(r.Context()), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, a)
	return nil
}

func (s *Server) approveLesson(w http.ResponseWriter, r *http.Request) error {
	return s.decide(w, r, true)
}

func (s *Server) rejectLesson(w http.ResponseWriter, r *http.Request) error {
	return s.decide(w, r, false)
}

func (s *Server) decide(w http.ResponseWriter, r *http.Request, approve bool) error {
	svc := s.sched
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var in struct {
		Reason string `json:"reason"`
	}
	if !approve {
		if err := readBody(r, &in); err != nil {
			return err
		}
	}
	a, err := svc.Decide(r.Context(), userFrom(r.Context()), id, approve, in.Reason)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, a)
	return nil
}

func (s *Server) getApproval(w http.ResponseWriter, r *http.Request) error {
	st := s.store
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if _, err := s.visibleLesson(r.Context(), id); err != nil {
		return err
	}
	a, err := st.Approval(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, a)
	return nil
}

// getPlan computes the publishing plan of a lesson: counts per channel, when each goes out, and whether
// the channels' rates let it finish before the first broadcast. Query: at (RFC 3339, default now),
// sms_rate (segments/s), email_rate (emails/s), postal_lead_days.
func (s *Server) getPlan(w http.ResponseWriter, r *http.Request) error {
	st := s.store
	id, err := pathID(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	cfg := scheduler.DefaultPlanConfig()
	at := s.now()
	if v := q.Get("at"); v != "" {
		if at, err = time.Parse(time.RFC3339, v); err != nil {
			return relais.Errorf(relais.EINVALID, "at must be a time such as 2026-03-02T18:00:00Z.")
		}
	}
	for name, dst := range map[string]*float64{"sms_rate": &cfg.SMSRate, "email_rate": &cfg.EmailRate} {
		if v := q.Get(name); v != "" {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f <= 0 {
				return relais.Errorf(relais.EINVALID, "%s must be a positive number.", name)
			}
			*dst = f
		}
	}
	if v := q.Get("postal_lead_days"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return relais.Errorf(relais.EINVALID, "postal_lead_days must be a number of days.")
		}
		cfg.PostalLead = time.Duration(n) * 24 * time.Hour
	}
	p := &scheduler.Planner{Store: st, Lessons: s.store, Households: s.store, Channels: s.cfg.Channels, Config: cfg}
	sum, err := p.Plan(r.Context(), id, at, nil)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, sum)
	return nil
}
