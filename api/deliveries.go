package api

import (
	"net/http"
	"time"

	relais "github.com/relais-edu/relais"
)

// Delivery is the JSON form of a delivery.
type Delivery struct {
	ID          int64                 `json:"id"`
	LessonID    int64                 `json:"lesson_id"`
	HouseholdID int64                 `json:"household_id"`
	Channel     relais.ChannelName    `json:"channel"`
	Status      relais.DeliveryStatus `json:"status"`
	Reason      string                `json:"reason,omitempty"`
	ProviderID  string                `json:"provider_id,omitempty"`
	Attempts    int                   `json:"attempts"`
	CreatedAt   time.Time             `json:"created_at"`
	UpdatedAt   time.Time             `json:"updated_at"`
	History     []DeliveryEvent       `json:"history,omitempty"`
}

// DeliveryEvent is one step of a delivery's history.
type DeliveryEvent struct {
	Status relais.DeliveryStatus `json:"status"`
	Detail string                `json:"detail,omitempty"`
	At     time.Time             `json:"at"`
}

func deliveryJSON(d relais.Delivery) Delivery {
	return Delivery{ID: d.ID, LessonID: d.LessonID, HouseholdID: d.HouseholdID, Channel: d.Channel, Status: d.Status,
		Reason: d.Reason, ProviderID: d.ProviderID, Attempts: d.Attempts, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt}
}

func (s *Server) listDeliveries(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	p, err := page(r)
	if err != nil {
		return err
	}
	lessonID, err := queryInt(r, "lesson_id")
	if err != nil {
		return err
	}
	householdID, err := queryInt(r, "household_id")
	if err != nil {
		return err
	}
	f := relais.DeliveryFilter{LessonID: lessonID, HouseholdID: householdID,
		Channel: relais.ChannelName(r.URL.Query().Get("channel")), Status: relais.DeliveryStatus(r.URL.Query().Get("status")), Page: p}
	if u := userFrom(ctx); !u.CanSeeAllLessons() {
		if lessonID == 0 {
			return relais.Errorf(relais.EINVALID, "Teachers list the deliveries of one lesson: add lesson_id.")
		}
		if _, err := s.visibleLesson(ctx, lessonID); err != nil {
			return err
		}
	}
	ds, err := s.store.Deliveries(ctx, f)
	if err != nil {
		return err
	}
	items := make([]Delivery, len(ds))
	for i, d := range ds {
		items[i] = deliveryJSON(d)
	}
	resp := map[string]any{"items": items}
	if len(ds) == p.Limit {
		resp["next_after"] = ds[len(ds)-1].ID
	}
	writeJSON(w, 200, resp)
	return nil
}

func (s *Server) getDelivery(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id, err := pathID(r)
	if err != nil {
		return err
	}
	ds, err := s.store.DeliveriesByIDs(ctx, []int64{id})
	if err != nil {
		return err
	}
	if len(ds) == 0 {
		return relais.Errorf(relais.ENOTFOUND, "Delivery %d not found.", id)
	}
	if _, err := s.visibleLesson(ctx, ds[0].LessonID); err != nil {
		return relais.Errorf(relais.ENOTFOUND, "Delivery %d not found.", id)
	}
	out := deliveryJSON(ds[0])
	evs, err := s.store.DeliveryEvents(ctx, id)
	if err != nil {
		return err
	}
	for _, e := range evs {
		out.History = append(out.History, DeliveryEvent{Status: e.Status, Detail: e.Detail, At: e.At})
	}
	writeJSON(w, 200, out)
	return nil
}
