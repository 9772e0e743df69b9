package api

// The broadcast scheduler's routes: thin adapters over scheduler.Service, which the UI calls too.

import (
	"net/http"
	"time"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/scheduler"
)

// SlotJSON is a slot as the API shows it.
type SlotJSON struct {
	relais.Slot
	Minutes int `json:"minutes"`
}

func slotJSON(sl relais.Slot) SlotJSON {
	if sl.Lessons == nil {
		sl.Lessons = []relais.SlotLesson{} // "lessons": [] for an empty slot
	}
	return SlotJSON{Slot: sl, Minutes: int(sl.Duration / time.Minute)}
}

func (s *Server) listStations(w http.ResponseWriter, r *http.Request) error {
	sts, err := s.store.Stations(r.Context())
	if err != nil {
		return err
	}
	return writeItems(w, sts, func(st relais.Station) relais.Station { return st })
}

func (s *Server) createStation(w http.ResponseWriter, r *http.Request) error {
	var st relais.Station
	if err := readBody(r, &st); err != nil {
		return err
	}
	st.ID = 0
	if err := s.sched.CreateStation(r.Context(), &st); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, st)
	return nil
}

// updateStation changes some of a station's fields. When the name families know or the region changed,
// the service queues again the reminders of the lessons airing on it from today on.
func (s *Server) updateStation(w http.ResponseWriter, r *http.Request, id int64) error {
	var p scheduler.StationPatch
	if err := readBody(r, &p); err != nil {
		return err
	}
	st, _, err := s.sched.UpdateStation(r.Context(), id, p)
	return reply(w, http.StatusOK, st, err)
}

// deleteStation removes a station with its grid, unless a lesson airs on it from today on (409).
func (s *Server) deleteStation(w http.ResponseWriter, r *http.Request, id int64) error {
	n, err := s.sched.DeleteStation(r.Context(), id)
	return reply(w, http.StatusOK, map[string]any{"id": id, "slots_removed": n}, err)
}

func (s *Server) addTemplate(w http.ResponseWriter, r *http.Request, id int64) error {
	var t relais.Template
	if err := readBody(r, &t); err != nil {
		return err
	}
	t.ID, t.StationID = 0, id
	res, err := s.sched.AddTemplate(r.Context(), t)
	return reply(w, http.StatusCreated, res, err)
}

func (s *Server) addSlot(w http.ResponseWriter, r *http.Request, id int64) error {
	var in SlotJSON
	if err := readBody(r, &in); err != nil {
		return err
	}
	sl := in.Slot
	sl.StationID, sl.Duration = id, time.Duration(in.Minutes)*time.Minute
	sl, err := s.sched.AddSlot(r.Context(), sl)
	return reply(w, http.StatusCreated, slotJSON(sl), err)
}

func (s *Server) listSlots(w http.ResponseWriter, r *http.Request, id int64) error {
	if _, err := s.store.Station(r.Context(), id); err != nil {
		return err
	}
	q := r.URL.Query()
	from, to := q.Get("from"), q.Get("to")
	if err := scheduler.CheckDays(from, to, scheduler.MaxFillDays); err != nil {
		return err
	}
	slots, err := s.store.Slots(r.Context(), relais.SlotFilter{StationID: id, From: from, To: to})
	if err != nil {
		return err
	}
	return writeItems(w, slots, slotJSON)
}

func (s *Server) addException(w http.ResponseWriter, r *http.Request, id int64) error {
	var e relais.Exception
	if err := readBody(r, &e); err != nil {
		return err
	}
	e.StationID = id
	removed, err := s.sched.AddException(r.Context(), e)
	return reply(w, http.StatusCreated, map[string]any{"exception": e, "slots_removed": len(removed)}, err)
}

func (s *Server) getEPG(w http.ResponseWriter, r *http.Request, id int64) error {
	b, err := s.sched.XMLTVFile(r.Context(), id, r.URL.Query().Get("from"), r.URL.Query().Get("to"))
	if err != nil {
		return err
	}
	return writeFile(w, scheduler.XMLTVType, b)
}

func (s *Server) getPlaylist(w http.ResponseWriter, r *http.Request, id int64) error {
	q := r.URL.Query()
	ct, b, err := s.sched.PlaylistFile(r.Context(), id, q.Get("date"), relais.PlayoutFormat(q.Get("format")), q.Get("filler"))
	if err != nil {
		return err
	}
	return writeFile(w, ct, b)
}

// assignSlot appends a lesson to a slot's sequence; the service reminds a published lesson's families of
// the airing.
func (s *Server) assignSlot(w http.ResponseWriter, r *http.Request, id int64) error {
	var in struct {
		LessonID int64 `json:"lesson_id"`
		Rerun    bool  `json:"rerun"`
	}
	if err := readBody(r, &in); err != nil {
		return err
	}
	if err := s.sched.Assign(r.Context(), id, in.LessonID, in.Rerun); err != nil {
		return err
	}
	sl, err := s.store.Slot(r.Context(), id)
	return reply(w, http.StatusOK, slotJSON(sl), err)
}

// unassignSlot empties a slot; the families of its lessons are reminded of where they air now.
func (s *Server) unassignSlot(w http.ResponseWriter, r *http.Request, id int64) error {
	if _, err := s.sched.SetSequence(r.Context(), id, nil); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// setSlotLessons reorders a slot's sequence and removes the lessons left out of it.
func (s *Server) setSlotLessons(w http.ResponseWriter, r *http.Request, id int64) error {
	var in struct {
		LessonIDs *[]int64 `json:"lesson_ids"`
	}
	if err := readBody(r, &in); err != nil {
		return err
	}
	if in.LessonIDs == nil {
		return relais.Errorf(relais.EINVALID, "Give lesson_ids: the slot's lessons in their new playing order ([] empties the slot).")
	}
	sl, err := s.sched.SetSequence(r.Context(), id, *in.LessonIDs)
	return reply(w, http.StatusOK, slotJSON(sl), err)
}

func (s *Server) autoFill(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		From       string  `json:"from"`
		To         string  `json:"to"`
		StationIDs []int64 `json:"station_ids"`
		Reruns     bool    `json:"reruns"`
	}
	if err := readBody(r, &in); err != nil {
		return err
	}
	rep, err := s.sched.FillDays(r.Context(), in.StationIDs, in.From, in.To, in.Reruns)
	return reply(w, http.StatusOK, rep, err)
}

func (s *Server) submitLesson(w http.ResponseWriter, r *http.Request, id int64) error {
	a, err := s.sched.Submit(r.Context(), userFrom(r.Context()), id)
	return reply(w, http.StatusOK, a, err)
}

func (s *Server) approveLesson(w http.ResponseWriter, r *http.Request, id int64) error {
	return s.decide(w, r, id, true)
}

func (s *Server) rejectLesson(w http.ResponseWriter, r *http.Request, id int64) error {
	return s.decide(w, r, id, false)
}

func (s *Server) decide(w http.ResponseWriter, r *http.Request, id int64, approve bool) error {
	var in struct {
		Reason string `json:"reason"`
	}
	if !approve {
		if err := readBody(r, &in); err != nil {
			return err
		}
	}
	a, err := s.sched.Decide(r.Context(), userFrom(r.Context()), id, approve, in.Reason)
	return reply(w, http.StatusOK, a, err)
}
